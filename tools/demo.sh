#!/usr/bin/env bash
# `make demo`: start the ISC simulator, change one password module by module, rotate the demo
# fleet with the role, run the rotation again to show that nothing changes, stop the simulator.
# Everything it writes (store, ledger, reports, the modules' token cache, Ansible's temporary
# files) goes into one temporary directory, removed at the end (kept with DEMO_KEEP=1).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/isc-demo.XXXXXX")
SIMPID=
cleanup() {
  if [ -n "$SIMPID" ]; then
    kill "$SIMPID" 2>/dev/null || true
    wait "$SIMPID" 2>/dev/null || true
    SIMPID=
  fi
  if [ "${DEMO_KEEP:-}" = 1 ]; then
    echo "== kept $DEMO (DEMO_KEEP=1): remove it yourself"
  else
    rm -rf "$DEMO"
  fi
}
trap cleanup EXIT

python -m tools.isc_simulator --port 0 --port-file "$DEMO/port" --completion-delay 1 >"$DEMO/simulator.log" 2>&1 &
SIMPID=$!
for _ in $(seq 1 100); do [ -s "$DEMO/port" ] && break; sleep 0.1; done
[ -s "$DEMO/port" ] || { echo "the simulator did not start:"; cat "$DEMO/simulator.log"; exit 1; }
SIM="http://127.0.0.1:$(cat "$DEMO/port")"

export SAIL_BASE_URL=$SIM SAIL_CLIENT_ID=demo-client-id SAIL_CLIENT_SECRET=demo-client-secret
export ANSIBLE_COLLECTIONS_PATH=$REPO/build/collections XDG_CACHE_HOME=$DEMO/cache
# The modules cache OAuth tokens under XDG_CACHE_HOME (above), and Ansible keeps its temporary files
# under ~/.ansible: point both into the demo's directory so that nothing is left in the real home directory.
export HOME=$DEMO/home ANSIBLE_HOME=$DEMO/home/.ansible
export ANSIBLE_LOCAL_TEMP=$DEMO/home/.ansible/tmp ANSIBLE_REMOTE_TEMP=$DEMO/home/.ansible/tmp
mkdir -p "$HOME"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_PYTHON_INTERPRETER
ANSIBLE_PYTHON_INTERPRETER=$(command -v python)
# The secret store is encrypted with Ansible Vault: a throw-away vault password for the demo.
python -c 'import secrets; print(secrets.token_urlsafe(24))' >"$DEMO/vault-pass"
chmod 600 "$DEMO/vault-pass"
PLAY=(ansible-playbook -i "localhost," --vault-password-file "$DEMO/vault-pass")
ROTATE=("${PLAY[@]}" -e "rotation_accounts_file=$PWD/playbooks/accounts.example.yml" -e "rotation_state_dir=$DEMO/rotation"
        sailpoint_isc.passwords.rotate_service_accounts)

sets() { python -c 'import json,sys,urllib.request; c=json.load(urllib.request.urlopen(sys.argv[1]+"/__sim/counters")); print(sum(c["requests"].get("set_password",{}).values()), c["tokensIssued"])' "$SIM"; }

echo "== ISC simulator running at $SIM"
echo
echo "== 1. One password change, module by module (token, query, encrypted set, status)"
"${PLAY[@]}" playbooks/demo.yml

echo "== 2. Rotate the demo fleet (plan -> escrow -> apply -> confirm -> commit -> report)"
(cd "$DEMO" && "${ROTATE[@]}")
read -r SETS1 TOKENS1 <<<"$(sets)"
echo "== set-password requests so far: $SETS1; tokens issued: $TOKENS1"
echo "== reports (JSON for tools, JUnit XML for CI; removed with the demo's directory at the end):"
printf '   %s\n' "$DEMO"/rotation/report.*

echo
echo "== 3. Run the rotation again: nothing is due, so nothing is sent"
(cd "$DEMO" && "${ROTATE[@]}")
read -r SETS2 TOKENS2 <<<"$(sets)"
echo "== set-password requests sent by the second run: $((SETS2 - SETS1)); tokens issued in all: $TOKENS2"
python - "$SIM" "$DEMO/rotation/report.json" <<'PYEOF'
import json, sys, urllib.request
sim, report = sys.argv[1], json.load(open(sys.argv[2]))
print('== second run report totals: %s' % report['totals'])
PYEOF
cleanup
trap - EXIT
if [ "${DEMO_KEEP:-}" = 1 ]; then
  echo "== demo finished; the simulator is stopped"
else
  echo "== demo finished; the simulator is stopped and $DEMO is removed (store, ledger, reports, token cache)"
fi
