"""Helpers shared by the rotation end-to-end tests: accounts files, the store, hashes."""

import collections
import hashlib
import json
import os

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from conftest import REPO

ROTATE = 'sailpoint_isc.passwords.rotate_service_accounts'
VAULT_PASSWORD = b'e2e-vault-password-not-a-secret-of-the-service'


def fleet(simulator, prefix='svc-', limit=None):
    """Accounts of the simulator's fleet as role input; account_id where an identity has several."""
    rows = [a for a in simulator.accounts() if a['userName'].startswith(prefix)]
    per_pair = collections.Counter((a['userName'], a['sourceName']) for a in rows)
    out = []
    for row in rows:
        item = {'source_name': row['sourceName'], 'user_name': row['userName']}
        if per_pair[(row['userName'], row['sourceName'])] > 1:
            item['account_id'] = row['accountId']
        out.append(item)
    return out[:limit] if limit else out


def key_of(item):
    key = '%s/%s' % (item['source_name'], item['user_name'])
    return key + '#' + item['account_id'] if item.get('account_id') else key


def write_accounts(workdir, accounts, name='accounts.yml'):
    path = os.path.join(workdir, name)
    with open(path, 'w') as handle:
        yaml.safe_dump({'service_account_rotation_accounts': accounts}, handle)
    return path


def rotate_vars(workdir, accounts_file, **extra):
    values = {'rotation_accounts_file': accounts_file, 'rotation_state_dir': os.path.join(workdir, 'rotation'),
              'service_account_rotation_poll_interval': 1, 'service_account_rotation_wait_timeout': 60}
    values.update(extra)
    return values


def read_store(workdir):
    path = os.path.join(workdir, 'rotation', 'store.vault')
    if not os.path.exists(path):
        return {}
    vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD))])
    with open(path, 'rb') as handle:
        return json.loads(vault.decrypt(handle.read()))['accounts']


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def sim_hashes(simulator):
    out = {}
    for row in simulator.accounts():
        out[(row['sourceName'], row['userName'], row['accountId'])] = row['passwordSha256']
    return out


def unaccounted(simulator, accounts, store, allow_pending=True, baseline=None):
    """Accounts whose password at the simulator is in the store neither as current nor (if allowed) pending.

    With baseline (key -> hash before any rotation), an account still holding that first password is
    not counted: it was never changed, so nothing about it can be lost.
    """
    by_pair = collections.defaultdict(list)
    for row in simulator.accounts():
        by_pair[(row['sourceName'], row['userName'])].append(row)
    lost = []
    for item in accounts:
        rows = by_pair[(item['source_name'], item['user_name'])]
        if item.get('account_id'):
            rows = [r for r in rows if r['accountId'] == item['account_id']]
        held = store.get(key_of(item), {})
        known = [held.get('current')] + ([held.get('pending')] if allow_pending else [])
        live = rows[0]['passwordSha256']
        if baseline and baseline.get(key_of(item)) == live:
            continue
        if not any(p and sha(p) == live for p in known):
            lost.append(key_of(item))
    return lost


def baseline_hashes(simulator, accounts):
    rows = {(r['sourceName'], r['userName'], r['accountId']): r['passwordSha256'] for r in simulator.accounts()}
    out = {}
    for item in accounts:
        for (source, user, account_id), digest in rows.items():
            if source == item['source_name'] and user == item['user_name'] and item.get('account_id') in (None, account_id):
                out[key_of(item)] = digest
    return out


def repo_path(*parts):
    return os.path.join(REPO, *parts)


# A play that leaves service_account_rotation_state_dir to the role, so its per-shard default is used.
DEFAULT_DIR_PLAY = """
- name: Rotate with the role's default state directory
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - "{{ rotation_accounts_file }}"
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      rate_limit: "{{ isc_rate_limit | default(omit) }}"
      rate_window: "{{ isc_rate_window | default(omit) }}"
  roles:
    - role: sailpoint_isc.passwords.service_account_rotation
"""
