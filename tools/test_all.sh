#!/usr/bin/env bash
# Every check the project has; called by `make test` (and so by .ci/run).
# Runs from the repository root with the project virtualenv first on PATH.
# Ends with a plain "N passed, N failed" line; exits non-zero when a step failed or a stage did not
# run to its end. pytest steps also print how many tests they skipped; with CI=true a skip fails the step.
#
# Two stages run at the same time: the pytest stage (simulator and end-to-end tests, mostly waiting on
# subprocesses and the network, under pytest-xdist) and, niced so that the timing-sensitive tests keep
# their share of the cores, the ansible-test stage (sanity, units per core, integration, lint, build), itself
# two streams (the edge cores beside the rest).
# The unit tests run once per core and Python, in the ansible-test stage; the virtualenvs of the edge
# cores are built once (tests/e2e/cores.py) and used by both stages. Every step prints its wall time;
# pytest steps print their 10 slowest tests; the end lists the steps by time.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
PYV=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

case "${CI:-}" in true | TRUE | True | 1 | yes) IN_CI=1 ;; *) IN_CI=0 ;; esac

# Every step's outcome goes to a file, one line each, also from the subshell of stage 2: the totals
# count what ran even when a stage dies, and a stage that dies is a failure of its own (see the end).
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/isc-test-all.XXXXXX")
RESULTS="$SCRATCH/results"
: >"$RESULTS"
record() {  # record ok|FAILED NAME SECONDS [CPU-SECONDS]
  echo "$1 $2 ${3:-0} ${4:-0}" >>"$RESULTS"
}

# A step's CPU seconds (user + system of its processes): unlike its wall time, they do not grow when the other stage
# keeps the cores busy. The command runs in a subshell of its own, which writes `times` to a file as it ends: this
# shell's own count would take in a stream of stage 2 that happened to end (and be reaped) during the step.
cpu_timed() {  # cpu_timed FILE CMD... : runs CMD, writes its CPU seconds to FILE, returns its exit status
  local file=$1; shift
  ( "$@"; rc=$?; times >"$file.times"; exit "$rc" )
  local rc=$?
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } } END { printf "%d\n", n }' \
    "$file.times" >"$file" 2>/dev/null || echo 0 >"$file"
  return $rc
}

step() {  # step NAME CMD...
  local name=$1; shift
  local t0=$SECONDS cpu
  echo "::: $name: $*"
  if cpu_timed "$SCRATCH/$name.cpu" "$@"; then
    cpu=$(cat "$SCRATCH/$name.cpu"); record ok "$name" $((SECONDS-t0)) "$cpu"; echo "::: $name ok ($((SECONDS-t0))s, $cpu CPU-s)"
  else
    cpu=$(cat "$SCRATCH/$name.cpu"); record FAILED "$name" $((SECONDS-t0)) "$cpu"
    echo "::: $name FAILED ($((SECONDS-t0))s, $cpu CPU-s)"; return 1
  fi
}

# pytest's summary lines ("12 passed, 2 skipped in 3.40s"; ansible-test units prints one per session):
# print "<sessions> <passed> <skipped>" summed over them.
pytest_counts() {  # pytest_counts LOGFILE
  grep -E '^(=+ )?([0-9]+ [a-z]+(, )?)+ in [0-9.]+s' "$1" | awk '
    { sessions++
      for (i = 1; i < NF; i++) {
        word = $(i + 1); sub(/,$/, "", word)
        if ($i ~ /^[0-9]+$/ && word == "passed") passed += $i
        if ($i ~ /^[0-9]+$/ && word == "skipped") skipped += $i
      } }
    END { printf "%d %d %d\n", sessions, passed, skipped }'
}

pytest_step() {  # pytest_step NAME CMD... : a step that runs pytest; reports its skipped tests
  local name=$1; shift
  local t0=$SECONDS log rc sessions passed skipped why='' cpu
  log="$SCRATCH/$name.log"
  echo "::: $name: $*"
  cpu_timed "$SCRATCH/$name.cpu" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  cpu=$(cat "$SCRATCH/$name.cpu")
  read -r sessions passed skipped < <(pytest_counts "$log")
  if [ "$rc" -eq 0 ] && [ "$sessions" -eq 0 ]; then rc=1; why='; no pytest summary line: did any test run?'; fi
  if [ "$rc" -eq 0 ] && [ "$passed" -eq 0 ]; then rc=1; why='; no test passed'; fi
  if [ "$rc" -eq 0 ] && [ "$skipped" -gt 0 ] && [ "$IN_CI" -eq 1 ]; then
    rc=1; why="; CI=true and $skipped test(s) skipped (see the SKIPPED lines above)"
  fi
  if [ "$rc" -eq 0 ]; then
    record ok "$name" $((SECONDS-t0)) "$cpu"; echo "::: $name ok ($((SECONDS-t0))s, $cpu CPU-s, $passed passed, $skipped skipped)"
  else
    record FAILED "$name" $((SECONDS-t0)) "$cpu"
    echo "::: $name FAILED ($((SECONDS-t0))s, $cpu CPU-s, $passed passed, $skipped skipped$why)"; return 1
  fi
}

find_python() {  # a real interpreter for X.Y (pyenv shims fail inside ansible-test)
  local v=$1 p
  for p in "$PYENV_ROOT"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" || true)"; do
    [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import ssl, venv' >/dev/null 2>&1 && { echo "$p"; return 0; }
  done
  return 1
}

# --- 1. What both stages need -----------------------------------------------------------------
step changelog-lint antsibull-changelog lint
# The edge cores' virtualenvs (build/core-venvs/<version>): "<version> <python X.Y> <venv>" per line; built by
# stream B of stage 2 (below), while stream A and the pytest stage start.
CORE_VENVS="$SCRATCH/core-venvs"

# --- 2. ansible-test needs a real .../ansible_collections/NS/NAME tree: test a copy ----------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/isc-ci.XXXXXX")
COLL="$WORK/ansible_collections/sailpoint_isc/passwords"
mkdir -p "$COLL"
# (without the virtualenvs and build/, which hold the core virtualenvs and the e2e tests' caches)
tar -C "$REPO" --exclude=./.venv --exclude=./build --exclude=./tests/output -cf - . | tar -C "$COLL" -xf -

# ansible-test --venv downloads get-pip.py from a host this machine cannot reach: use the stand-in,
# under the name the given Python's ansible-test looks for (it embeds the pip version).
install_pip_shim() {
  local pipv
  pipv=$("$1" - <<'PYEOF'
import os, re, ansible_test
p = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
print(re.search(r"pip='([0-9.]+)'", open(p).read()).group(1))
PYEOF
)
  mkdir -p "$HOME/.ansible/test/cache"
  # under a temporary name, then moved: a stream already running may be reading the file of the same name
  cp "$REPO/.ci/get_pip_shim.py" "$HOME/.ansible/test/cache/.get_pip.$$" &&
    mv -f "$HOME/.ansible/test/cache/.get_pip.$$" "$HOME/.ansible/test/cache/get_pip_${pipv//./_}.py"
}
install_pip_shim python

# The extra interpreters are part of the test matrix: one that is missing is a failure, not a skip
# (CI_EXTRA_PYTHONS="" asks for none).
EXTRA=()
for v in ${CI_EXTRA_PYTHONS-3.12 3.13}; do
  if p=$(find_python "$v"); then PATH="$PATH:$(dirname "$p")"; EXTRA+=("$v")
  else echo "::: python$v FAILED: no usable Python $v here (CI_EXTRA_PYTHONS); sanity on $v not run"; record FAILED "python$v"; fi
done
export PATH

# The integration targets share one simulator started by stage 2 from tools/ (setup_isc_simulator starts one per
# target when none is given).

# Stage 2 runs as two streams, each in its own copy of the collection (two ansible-test runs must not share a
# tests/output): A, the project's core (sanity, units, integration, lint, docs, build, importer); B, the edge
# cores (sanity and units with each). One stream alone left a core idle once the pytest stage had ended.
COLL_B="$WORK/b/ansible_collections/sailpoint_isc/passwords"
mkdir -p "$COLL_B"
tar -C "$COLL" -cf - . | tar -C "$COLL_B" -xf -

STAGE2_LOG="$SCRATCH/stage2.log"
(
  cd "$COLL" || exit 1
  # each stream its own collection tree, in its own subshell
  # shellcheck disable=SC2030
  export ANSIBLE_COLLECTIONS_PATH="$WORK"
  renice -n 10 -p "$BASHPID" >/dev/null || true
  AT=(--venv --python "$PYV" --color no)
  step sanity ansible-test sanity "${AT[@]}"
  pytest_step units ansible-test units "${AT[@]}"
  # ansible-test exits 0 when every target is skipped: insist on exactly the targets we have (a new
  # target is added here too; setup_* targets run as dependencies and are not listed).
  # shellcheck disable=SC2016
  step integration-targets bash -c 'got=$(ansible-test integration --list-targets 2>/dev/null | sort | tr "\n" " ")
    [ "$got" = "$1" ] || { echo "integration targets: expected [$1], ansible-test lists [$got]"; exit 1; }' \
    _ "isc_account_info isc_digit_token isc_password_dictionary isc_password_dictionary_info isc_password_info isc_password_org_config isc_password_policy isc_password_policy_info isc_password_status isc_password_sync_group isc_password_sync_group_info isc_set_password isc_source_credential isc_source_password_policies isc_source_password_policies_info "
  # One simulator for every target (each target resets it to the seed first, setup_isc_simulator), given to them
  # in integration_config.yml: a simulator started per target cost about 13 s of this step each. Should it not
  # start, the targets start their own.
  python -m tools.isc_simulator --port 0 --port-file "$WORK/sim-port" --completion-delay 0.3 --idle-exit 900 \
    >"$WORK/sim.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 150); do [ -s "$WORK/sim-port" ] && break; sleep 0.2; done
  if [ -s "$WORK/sim-port" ]; then
    echo "isc_base_url: http://127.0.0.1:$(cat "$WORK/sim-port")" >tests/integration/integration_config.yml
  else
    echo "::: the shared simulator did not start (its log: $(tail -n 3 "$WORK/sim.log")); every target starts its own"
  fi
  step integration ansible-test integration --local --python "$PYV" --color no
  kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null
  rm -f tests/integration/integration_config.yml
  step ansible-lint ansible-lint --nocolor
  step docs-lint antsibull-docs lint-collection-docs --plugin-docs \
    --validate-collection-refs dependent --disallow-unknown-collection-refs .
  step build ansible-galaxy collection build --output-path "$WORK/dist" --force
  # shellcheck disable=SC2016
  step galaxy-importer bash -c 'cd "$1" && python -m galaxy_importer.main "$2"' _ "$WORK" "$WORK/dist/sailpoint_isc-passwords-"*.tar.gz
  # The last command of the stream: proof that it ran to its end.
  : >"$WORK/.stage2-done"
) >"$STAGE2_LOG" 2>&1 &
STAGE2_PID=$!
STAGE2B_LOG="$SCRATCH/stage2b.log"
(
  cd "$COLL_B" || exit 1
  # shellcheck disable=SC2030,SC2031
  export ANSIBLE_COLLECTIONS_PATH="$WORK/b"
  # First, not niced: the end-to-end tests of the edge cores wait for these virtualenvs (tests/e2e/cores.py builds
  # each under a lock), which are built in the repository's build/, where the end-to-end tests look for them
  # shellcheck disable=SC2016
  step core-venvs bash -c 'python "$1" >"$2"' _ "$REPO/tests/e2e/cores.py" "$CORE_VENVS" && cat "$CORE_VENVS"
  for core in ${CI_CORE_MATRIX-2.16.19 2.21.5}; do  # the pip stand-in of each core
    read -r _ _ venv < <(grep "^$core " "$CORE_VENVS" || true)
    [ -z "${venv:-}" ] || install_pip_shim "$venv/bin/python"
    venv=''
  done
  renice -n 10 -p "$BASHPID" >/dev/null || true
  for v in "${EXTRA[@]}"; do
    # a core below that runs every sanity test on this Python (the test harness aside, see below) covers compile and import
    covered=$(awk -v v="$v" '$2 == v { print $1; exit }' "$CORE_VENVS")
    if [ -n "$covered" ] && [[ " ${CI_CORE_MATRIX-2.16.19 2.21.5} " == *" $covered "* ]]; then
      echo "::: sanity-py$v: covered by sanity-core-$covered (every sanity test on Python $v but of the test harness)"; continue
    fi
    step "sanity-py$v" ansible-test sanity --venv --python "$v" --color no --test compile --test import
  done
  # The oldest ansible-core the collection supports and the newest this machine runs: sanity and
  # units with each, from the virtualenvs the end-to-end tests use too (step core-venvs).
  for core in ${CI_CORE_MATRIX-2.16.19 2.21.5}; do
    read -r _ pyv venv < <(grep "^$core " "$CORE_VENVS" || true)
    if [ -z "${venv:-}" ]; then
      echo "::: core-$core FAILED: no virtualenv of ansible-core $core (step core-venvs)"; record FAILED "core-$core"; continue
    fi
    # The test harness (the end-to-end and simulator tests, the benchmark) runs on the project's Python and core
    # only, and stream A's sanity checks it there; the edge cores check what they run: the collection and tools/
    step "sanity-core-$core" env PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$pyv" --color no \
      --exclude tests/e2e/ --exclude tests/simulator/ --exclude benchmarks/
    pytest_step "units-core-$core" env PATH="$venv/bin:$PATH" ansible-test units --venv --python "$pyv" --color no
    venv=''
  done
  : >"$WORK/.stage2b-done"
) >"$STAGE2B_LOG" 2>&1 &
STAGE2B_PID=$!
echo "::: the ansible-test stage runs in the background (streams A pid $STAGE2_PID, B pid $STAGE2B_PID); its logs follow the pytest stage"

# --- 3. pytest, straight from the working tree, while stage 2 runs ---------------------------
# -rs lists every skipped test with its reason; --timeout fails a hung test by name (pytest-timeout).
PYTEST=(python -m pytest -q -rs -p no:cacheprovider --durations=10 --durations-min=1)
pytest_step pytest-simulator "${PYTEST[@]}" -n 2 --timeout 300 tests/simulator
# The end-to-end tests mostly wait (on ansible-playbook, the simulator, sleeps the scenarios need):
# four workers on two cores (tests that need a moment to hold, e.g. a change still IN_PROGRESS, leave room
# for a loaded machine).
pytest_step pytest-e2e "${PYTEST[@]}" -n "${E2E_WORKERS:-4}" --dist loadgroup --timeout 1500 tests/e2e
# The execution environment definition: build context, offline galaxy install, dependency introspection.
step ee-definition bash tools/check_ee.sh

# A stream that died early (killed, `exit`, an unset variable under set -u) is a failure, whatever its
# steps said before it died.
for stream in "A $STAGE2_PID $STAGE2_LOG .stage2-done" "B $STAGE2B_PID $STAGE2B_LOG .stage2b-done"; do
  read -r name pid log marker <<<"$stream"
  wait "$pid"
  rc=$?
  echo "::: ---- the ansible-test stage, stream $name ----"
  cat "$log"
  if [ "$rc" -ne 0 ] || [ ! -f "$WORK/$marker" ]; then
    echo "::: stage-2$name FAILED: stream $name of the ansible-test stage did not run to its end (exit status $rc$(
      [ -f "$WORK/$marker" ] || echo ', no end marker'))"
    record FAILED "stage-2$name"
  fi
done

PASS=$(grep -c '^ok ' "$RESULTS")
FAIL=$(grep -c '^FAILED ' "$RESULTS")
FAILED=$(awk '$1 == "FAILED" { print $2 }' "$RESULTS" | tr '\n' ' ')
echo "::: steps by wall time (the stages overlap), with the CPU seconds of each:"
sort -k3,3nr "$RESULTS" | awk '{ printf "  %6ds %6d CPU-s  %-6s %s\n", $3, $4, $1, $2 }'
echo "::: CPU seconds of every step: $(awk '{ n += $4 } END { print n }' "$RESULTS")"
[ -n "${CI_KEEP_WORK:-}" ] || rm -rf "$WORK"
rm -rf "$SCRATCH"
[ "$FAIL" -eq 0 ] || echo "failed steps: ${FAILED% }"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
