"""Helpers for the hostile-condition tests (faults, bad input, leak canaries, TLS).

Everything here reads the collection's files (store, ledger, reports) the way an operator would and
checks the service only through the simulator's /__sim/ API.
"""

import json
import os
import threading
import time

from ansible.parsing.vault import VaultLib, VaultSecret

from rotation_helpers import VAULT_PASSWORD, key_of, sha

# The shipped playbook only forwards base_url, credentials and the rate limit to the modules; a few
# fault tests also need the request timeout and the retry count, so they run the role from this
# wrapper, which is otherwise the same play.
ROLE_PLAY = """
- name: Rotate service-account passwords (test wrapper with connection tuning)
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    service_account_rotation_state_dir: "{{ rotation_state_dir }}"
  vars_files:
    - "{{ rotation_accounts_file }}"
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      timeout: "{{ isc_timeout | default(omit) }}"
      max_retries: "{{ isc_max_retries | default(omit) }}"
      rate_limit: "{{ isc_rate_limit | default(omit) }}"
      rate_window: "{{ isc_rate_window | default(omit) }}"
  roles:
    - role: sailpoint_isc.passwords.service_account_rotation
"""


def role_play(workdir):
    path = os.path.join(workdir, 'rotate-tuned.yml')
    with open(path, 'w') as handle:
        handle.write(ROLE_PLAY)
    return path


def state_path(workdir, name):
    return os.path.join(workdir, 'rotation', name)


def report(workdir):
    with open(state_path(workdir, 'report.json')) as handle:
        return json.load(handle)


def rows(workdir):
    return {row['account']: row for row in report(workdir)['accounts']}


def ledger(workdir):
    with open(state_path(workdir, 'ledger.json')) as handle:
        return json.load(handle)['accounts']


def file_bytes(path):
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as handle:
        return handle.read()


def sim_requests(simulator):
    return simulator.call('GET', '/__sim/requests')['requests']


def status_count(simulator, operation, status):
    return simulator.counters()['requests'].get(operation, {}).get(str(status), 0)


def count_5xx(simulator):
    return sum(n for per_op in simulator.counters()['requests'].values() for code, n in per_op.items()
               if code.isdigit() and 500 <= int(code) <= 599)


def wait_until(predicate, timeout, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def live_hash(simulator, item):
    found = [r for r in simulator.accounts(userName=item['user_name'], sourceName=item['source_name'])
             if not item.get('account_id') or r['accountId'] == item['account_id']]
    assert len(found) == 1, found
    return found[0]['passwordSha256']


def change_count(simulator, item):
    found = [r for r in simulator.accounts(userName=item['user_name'], sourceName=item['source_name'])
             if not item.get('account_id') or r['accountId'] == item['account_id']]
    return found[0]['changeCount']


def store_matches_service(simulator, accounts, store, field='current'):
    """Keys whose stored `field` password is not the one the simulator holds."""
    wrong = []
    for item in accounts:
        held = store.get(key_of(item), {}).get(field)
        if not held or sha(held) != live_hash(simulator, item):
            wrong.append(key_of(item))
    return wrong


class StoreWatcher(threading.Thread):
    """Decrypts every version of the store file while a run is going on.

    The store is replaced atomically, and a new password stays pending in it at least for the whole
    apply phase, so polling every few milliseconds sees every password the role ever escrowed,
    including the ones a failed change discards again.
    """

    def __init__(self, workdir, interval=0.03):
        super().__init__(daemon=True)
        self.path = state_path(workdir, 'store.vault')
        self.interval = interval
        self.history = {}  # key -> list of distinct pending passwords, in order of appearance
        self.versions = 0
        self._halt = threading.Event()
        self._vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD))])

    def _read(self):
        with open(self.path, 'rb') as handle:
            blob = handle.read()
        accounts = json.loads(self._vault.decrypt(blob))['accounts']
        for key, entry in accounts.items():
            seen = self.history.setdefault(key, [])
            for field in ('pending', 'current'):
                if entry.get(field) and entry[field] not in seen:
                    seen.append(entry[field])

    def run(self):
        last = None
        while not self._halt.is_set():
            try:
                info = os.stat(self.path)
                signature = (info.st_ino, info.st_mtime_ns, info.st_size)
                if signature != last:
                    self._read()
                    self.versions += 1
                    last = signature
            except (OSError, ValueError):
                pass
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(5)
        if os.path.exists(self.path):
            self._read()  # the final version, in case the last change came right at the end
        return self

    def passwords(self):
        return sorted(set(p for seen in self.history.values() for p in seen))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def write_vault_file(workdir, plaintext, name='store.vault'):
    """Encrypt plaintext (bytes) with the tests' vault password into the state directory."""
    path = state_path(workdir, name)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    blob = VaultLib([('default', VaultSecret(VAULT_PASSWORD))]).encrypt(plaintext, secret=VaultSecret(VAULT_PASSWORD))
    with open(path, 'wb') as handle:
        handle.write(blob)
    os.chmod(path, 0o600)
    return path


def write_store(workdir, accounts):
    """An Ansible Vault store as the role writes it, holding `accounts` (key -> entry)."""
    return write_vault_file(workdir, json.dumps({'version': 1, 'accounts': accounts}, sort_keys=True).encode())


def write_ledger(workdir, accounts):
    """A ledger in the exact layout the engine saves, so an untouched save keeps its bytes."""
    path = state_path(workdir, 'ledger.json')
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(json.dumps({'version': 1, 'accounts': accounts}, indent=1, sort_keys=True) + '\n')
    return path


def fresh_store_and_ledger(workdir, simulator, accounts, seed_passwords):
    """Store and ledger that say: these accounts hold their seed password, last rotated long ago (due)."""
    store, entries = {}, {}
    for item in accounts:
        key = key_of(item)
        password = seed_passwords[key]
        assert sha(password) == live_hash(simulator, item), 'seed password of %s is not what the simulator holds' % key
        store[key] = {'current': password, 'current_since': '2020-01-01T00:00:00Z'}
        entries[key] = {'attempts': 0, 'last_error': None, 'last_rotated': '2020-01-01T00:00:00Z',
                        'request_id': None, 'state': 'current'}
    return write_store(workdir, store), write_ledger(workdir, entries)
