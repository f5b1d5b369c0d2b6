#!/usr/bin/env bash
# Every check the project has; called by `make test` (and so by .ci/run).
# Runs from the repository root with the project virtualenv first on PATH.
# Ends with a plain "N passed, N failed" line.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
PYV=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

PASS=0; FAIL=0; FAILED=()
step() {  # step NAME CMD...
  local name=$1; shift
  local t0=$SECONDS
  echo "::: $name: $*"
  if "$@"; then PASS=$((PASS+1)); echo "::: $name ok ($((SECONDS-t0))s)"
  else FAIL=$((FAIL+1)); FAILED+=("$name"); echo "::: $name FAILED ($((SECONDS-t0))s)"; return 1; fi
}

find_python() {  # a real interpreter for X.Y (pyenv shims fail inside ansible-test)
  local v=$1 p
  for p in "$PYENV_ROOT"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" || true)"; do
    [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import ssl, venv' >/dev/null 2>&1 && { echo "$p"; return 0; }
  done
  return 1
}

# --- 1. Fast checks straight from the working tree -------------------------------------------
step changelog-lint antsibull-changelog lint
step pytest python -m pytest -q -p no:cacheprovider tests/simulator tests/unit
# A separate process: the end-to-end helpers import Ansible's controller side (Vault), which changes
# how in-process module runs report warnings in the unit tests.
step pytest-e2e python -m pytest -q -p no:cacheprovider tests/e2e
# The execution environment definition: build context, offline galaxy install, dependency introspection.
step ee-definition bash tools/check_ee.sh

# --- 2. ansible-test needs a real .../ansible_collections/NS/NAME tree: test a copy ----------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/isc-ci.XXXXXX")
COLL="$WORK/ansible_collections/sailpoint_isc/passwords"
mkdir -p "$COLL"
cp -a "$REPO/." "$COLL/"
rm -rf "$COLL/tests/output" "$COLL/.venv" "$COLL/build"

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
  cp "$REPO/.ci/get_pip_shim.py" "$HOME/.ansible/test/cache/get_pip_${pipv//./_}.py"
}
install_pip_shim python

EXTRA=()
for v in ${CI_EXTRA_PYTHONS-3.12 3.13}; do
  if p=$(find_python "$v"); then PATH="$PATH:$(dirname "$p")"; EXTRA+=("$v"); fi
done
export PATH

# The integration targets start their own simulator (target setup_isc_simulator) from tools/.

(
  cd "$COLL" || exit 1
  export ANSIBLE_COLLECTIONS_PATH="$WORK"
  AT=(--venv --python "$PYV" --color no)
  step sanity ansible-test sanity "${AT[@]}"
  for v in "${EXTRA[@]}"; do
    step "sanity-py$v" ansible-test sanity --venv --python "$v" --color no --test compile --test import
  done
  step units ansible-test units "${AT[@]}"
  # The oldest ansible-core the collection supports and the newest this machine runs: sanity and
  # units with each, from its own virtualenv (CI_CORE_MATRIX="" skips them).
  for spec in ${CI_CORE_MATRIX-2.16.19@3.11 2.21.5@3.13}; do
    core=${spec%@*}; pyv=${spec#*@}
    if ! p=$(find_python "$pyv"); then
      echo "::: no Python $pyv here: ansible-core $core not tested"; FAIL=$((FAIL+1)); FAILED+=("core-$core"); continue
    fi
    venv="$WORK/venv-core-$core"
    # shellcheck disable=SC2016
    step "install-core-$core" bash -c '"$1" -m venv "$2" && "$2/bin/pip" install -q --disable-pip-version-check "ansible-core==$3"' \
      _ "$p" "$venv" "$core" || continue
    install_pip_shim "$venv/bin/python"
    step "sanity-core-$core" env PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$pyv" --color no
    step "units-core-$core" env PATH="$venv/bin:$PATH" ansible-test units --venv --python "$pyv" --color no
  done
  # ansible-test exits 0 when every target is skipped: insist on at least one target.
  # shellcheck disable=SC2016
  step integration-targets bash -c '[ -n "$(ansible-test integration --list-targets 2>/dev/null)" ]'
  step integration ansible-test integration --local --python "$PYV" --color no
  step ansible-lint ansible-lint --nocolor
  step docs-lint antsibull-docs lint-collection-docs --plugin-docs \
    --validate-collection-refs dependent --disallow-unknown-collection-refs .
  step build ansible-galaxy collection build --output-path "$WORK/dist" --force
  # shellcheck disable=SC2016
  step galaxy-importer bash -c 'cd "$1" && python -m galaxy_importer.main "$2"' _ "$WORK" "$WORK/dist/sailpoint_isc-passwords-"*.tar.gz
  echo "$PASS $FAIL ${FAILED[*]}" >"$WORK/.subtotals"
)
read -r PASS FAIL REST <"$WORK/.subtotals" || true
FAILED=("${REST:-}")

[ -n "${CI_KEEP_WORK:-}" ] || rm -rf "$WORK"
[ "$FAIL" -eq 0 ] || echo "failed steps: ${FAILED[*]}"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
