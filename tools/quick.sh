#!/usr/bin/env bash
# The developer's inner loop (`make quick`, a few minutes): lint of what changed, the unit and simulator
# tests, and the fastest end-to-end smoke (the four modules and one role run through ansible-playbook
# against the simulator). It proves far less than `make test`, which CI runs: see CONTRIBUTING's
# "what to run for what". Runs from the repository root with the project virtualenv first on PATH.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
FAILED=()
step() {  # step NAME CMD...
  local name=$1 t0=$SECONDS; shift
  echo "::: $name"
  if "$@"; then echo "::: $name ok ($((SECONDS-t0))s)"; else FAILED+=("$name"); echo "::: $name FAILED ($((SECONDS-t0))s)"; fi
}

# What changed: against main's merge base on a branch, against HEAD on main; untracked files too.
BASE=$(git merge-base HEAD main 2>/dev/null || echo HEAD)
[ "$(git rev-parse HEAD)" = "$(git rev-parse "$BASE")" ] && BASE=HEAD
mapfile -t CHANGED < <({ git diff --name-only "$BASE"; git ls-files --others --exclude-standard; } | sort -u)
PY=() YAML=0
for f in "${CHANGED[@]}"; do
  [ -f "$f" ] || continue
  case "$f" in
    *.py) PY+=("$f") ;;
    roles/*.yml | playbooks/*.yml | extensions/*.yml | tests/integration/*.yml) YAML=1 ;;
  esac
done
echo "::: changed since $(git rev-parse --short "$BASE"): ${#CHANGED[@]} file(s)"
# ansible-test's pep8 settings (max line 160); pyflakes catches unused imports and names.
[ ${#PY[@]} -eq 0 ] || step pep8 python -m flake8 --max-line-length 160 --extend-ignore E402,W503,W504 "${PY[@]}"
[ "$YAML" -eq 0 ] || step ansible-lint ansible-lint --nocolor -q
step units-and-simulator python -m pytest -q -p no:cacheprovider -n 2 --timeout 120 --durations=5 tests/unit tests/simulator
step e2e-smoke python -m pytest -q -p no:cacheprovider -n 2 --timeout 300 \
  tests/e2e/test_modules.py::test_all_four_modules_one_token_and_on_change \
  tests/e2e/test_rotation_role.py::test_fleet_rotates_then_rerun_and_check_mode_send_nothing

[ ${#FAILED[@]} -eq 0 ] && { echo "quick: ok (make test is the gate)"; exit 0; }
echo "quick: FAILED ${FAILED[*]}"
exit 1
