# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault file store internals: the contract rules on the document, format versions, vault keys, lease file.

The contract itself, through ansible-playbook and for every store, is tests/e2e/test_store_contract.py.
These tests import the action plugin, and so Ansible's controller side, which changes how in-process
module runs report warnings: they run in the end-to-end pytest process, not with the unit tests.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from unittest import mock

import pytest

from conftest import COLLECTIONS, ensure_collection_link

ensure_collection_link()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible.errors import AnsibleError  # noqa: E402 pylint: disable=wrong-import-position
from ansible.module_utils.common.text.converters import to_bytes  # noqa: E402 pylint: disable=wrong-import-position
from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: E402 pylint: disable=wrong-import-position

from ansible_collections.sailpoint_isc.passwords.plugins.action import vault_file_store as store  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.sailpoint_isc.passwords.plugins.action.vault_file_store import (  # noqa: E402 pylint: disable=wrong-import-position
    ActionModule, StoreError, apply_change, apply_import, drop_old_previous, pending_attempts)

NOW = '2026-01-01T00:00:00Z'
SECRET_A = ('team-a', VaultSecret(b'password-of-vault-id-a'))
SECRET_B = ('team-b', VaultSecret(b'password-of-vault-id-b'))


def vault(*secrets):
    return VaultLib(list(secrets)), secrets[0]


def write_store(path, document, secret):
    blob = VaultLib([secret]).encrypt(to_bytes(json.dumps(document)), secret=secret[1], vault_id=secret[0])
    with open(path, 'wb') as handle:
        handle.write(blob)


def test_pending_refuses_another_attempt_and_writes_nothing():
    accounts = {'AD/held': {'current': 'P0', 'pending': 'P1', 'pending_attempt': 'a1', 'pending_since': NOW}}
    records = [{'attempt': 'a2', 'keys': ['AD/new'], 'password': 'P2'},
               {'attempt': 'a2', 'keys': ['AD/held'], 'password': 'P2'}]
    before = json.dumps(accounts, sort_keys=True)
    with pytest.raises(StoreError) as err:
        apply_change(accounts, 'pending', records, NOW)
    assert 'key AD/held already holds an unsettled pending password of attempt a1' in str(err.value)
    assert '(attempt a2)' in str(err.value) and 'P2' not in str(err.value)
    assert json.dumps(accounts, sort_keys=True) == before


def test_pending_same_attempt_is_idempotent_and_other_password_refused():
    accounts = {}
    record = {'attempt': 'a1', 'keys': ['AD/x'], 'password': 'P1'}
    assert apply_change(accounts, 'pending', [record], NOW) == ({'AD/x'}, set())
    assert apply_change(accounts, 'pending', [record], 'later') == (set(), {'AD/x'})
    assert accounts['AD/x']['pending_since'] == NOW
    with pytest.raises(StoreError, match='same attempt a1'):
        apply_change(accounts, 'pending', [dict(record, password='other')], NOW)
    with pytest.raises(StoreError, match='attempt a1'):  # two records of one call disagree
        apply_change({}, 'pending', [record, dict(record, attempt='a2')], NOW)


@pytest.mark.parametrize('op', ['commit', 'discard'])
def test_settle_only_the_named_attempt(op):
    accounts = {'AD/x': {'current': 'P0', 'current_since': 'old', 'pending': 'P1', 'pending_attempt': 'a1',
                         'pending_since': NOW}}
    assert apply_change(accounts, op, [{'attempt': 'a2', 'keys': ['AD/x', 'AD/none']}], NOW) == \
        (set(), {'AD/x', 'AD/none'})
    assert accounts['AD/x']['pending'] == 'P1'
    assert apply_change(accounts, op, [{'attempt': 'a1', 'keys': ['AD/x']}], 'now') == ({'AD/x'}, set())
    expected = {'current': 'P1', 'current_since': 'now', 'previous': 'P0', 'previous_since': 'now'} if op == 'commit' \
        else {'current': 'P0', 'current_since': 'old'}
    assert accounts['AD/x'] == expected


def test_retention_drops_a_previous_once_it_is_keep_days_old():
    def entry(since):
        return {'current': 'C', 'previous': 'P', 'previous_since': since}
    accounts = {'AD/day-old': entry('2026-01-01T00:00:00Z'), 'AD/younger': entry('2026-01-01T00:00:01Z'),
                'AD/unreadable': entry('yesterday'), 'AD/none': {'current': 'C'}}
    assert drop_old_previous(accounts, '2026-01-02T00:00:00Z', 1) == {'AD/day-old', 'AD/unreadable'}
    assert accounts['AD/day-old'] == {'current': 'C'} and accounts['AD/younger']['previous'] == 'P'
    assert drop_old_previous(accounts, '2026-01-02T00:00:00Z', 0) == {'AD/younger'}  # 0 keeps none


def test_commit_with_retention_zero_keeps_no_previous():
    accounts = {'AD/x': {'current': 'P0', 'previous': 'older', 'previous_since': NOW, 'pending': 'P1',
                         'pending_attempt': 'a1', 'pending_since': NOW}}
    apply_change(accounts, 'commit', [{'attempt': 'a1', 'keys': ['AD/x']}], 'now', keep_previous_days=0)
    assert accounts['AD/x'] == {'current': 'P1', 'current_since': 'now'}


def test_import_rules_on_the_document():
    accounts = {'AD/cur': {'current': 'C'}, 'AD/pend': {'current': 'C', 'pending': 'P', 'pending_attempt': 'a1',
                                                        'pending_since': NOW}}
    records = [{'keys': ['AD/new', 'AD/cur'], 'password': 'C'}, {'keys': ['AD/pend'], 'password': 'X'}]
    assert apply_import(accounts, records, NOW) == ({'AD/new'}, {'AD/cur'}, {'AD/pend'})
    with pytest.raises(StoreError, match='key AD/cur already holds a different current password') as err:
        apply_import(accounts, [{'keys': ['AD/cur', 'AD/other'], 'password': 'X'}], NOW)
    assert 'AD/other' not in accounts and "'X'" not in str(err.value)
    # overwrite replaces a current (kept as previous) but still never touches a pending
    assert apply_import(accounts, [{'keys': ['AD/cur', 'AD/pend'], 'password': 'X'}], 'now', overwrite=True) == \
        ({'AD/cur'}, set(), {'AD/pend'})
    assert accounts['AD/cur'] == {'current': 'X', 'current_since': 'now', 'previous': 'C', 'previous_since': 'now'}
    assert accounts['AD/pend']['pending'] == 'P' and accounts['AD/pend']['current'] == 'C'


def test_import_takes_records_and_a_mapping():
    args = {'op': 'import', 'keys': [], 'records': [{'keys': ['AD/a'], 'password': 'A'}],
            'passwords': {'AD/b': 'B'}}
    assert store._records(args, False) == [{'keys': ['AD/a'], 'password': 'A'}, {'keys': ['AD/b'], 'password': 'B'}]
    with pytest.raises(StoreError, match='no password'):
        store._records(dict(args, passwords={'AD/b': ''}), False)
    with pytest.raises(StoreError, match='not keys'):
        store._records(dict(args, keys=['AD/a']), False)
    with pytest.raises(StoreError, match='import only'):
        store._records({'op': 'commit', 'keys': [], 'records': [], 'passwords': {'AD/b': 'B'}}, False)


def test_negative_retention_is_refused(tmp_path):
    args = {'path': str(tmp_path / 'store.vault'), 'op': 'commit', 'keys': [], 'records': [],
            'keep_previous_days': -1, 'overwrite': False}
    with pytest.raises(StoreError, match='keep_previous_days must be 0'):
        lease_action()._run_op(vault(SECRET_A), args)


def test_check_mode_import_into_a_new_store_writes_nothing(tmp_path):
    path = str(tmp_path / 'new-dir' / 'store.vault')
    args = {'path': path, 'op': 'import', 'keys': [], 'records': [], 'passwords': {'AD/a': 'A'},
            'keep_previous_days': 30, 'overwrite': False}
    answer = lease_action(check_mode=True)._run_op(vault(SECRET_A), args)
    assert answer['changed'] is True and answer['updated'] == ['AD/a']
    assert not os.path.exists(os.path.dirname(path))


def test_records_name_their_attempt():
    with pytest.raises(StoreError, match='no attempt id'):
        store._records({'op': 'pending', 'keys': [], 'records': [{'keys': ['k'], 'password': 'p'}]}, True)
    with pytest.raises(StoreError, match='instead of keys'):
        store._records({'op': 'commit', 'keys': ['k'], 'records': []}, False)
    with pytest.raises(StoreError, match='no password'):
        store._records({'op': 'pending', 'keys': [], 'records': [{'attempt': 'a', 'keys': ['k']}]}, True)


def test_version_1_store_is_read_and_its_pending_is_legacy(tmp_path):
    path = str(tmp_path / 'store.vault')
    write_store(path, {'version': 1, 'accounts': {'AD/x': {'current': 'P0', 'pending': 'P1', 'pending_since': NOW}}},
                SECRET_A)
    data, _key = ActionModule._load(vault(SECRET_A), path)
    assert pending_attempts(data['accounts']) == {'AD/x': 'legacy'}
    assert apply_change(data['accounts'], 'commit', [{'attempt': 'legacy', 'keys': ['AD/x']}], NOW)[0] == {'AD/x'}


def test_newer_format_is_refused(tmp_path):
    path = str(tmp_path / 'store.vault')
    write_store(path, {'version': 3, 'accounts': {}}, SECRET_A)
    with pytest.raises(StoreError, match='format version 3'):
        ActionModule._load(vault(SECRET_A), path)


def test_store_is_re_encrypted_with_the_vault_id_that_opened_it(tmp_path):
    """Finding 12: with --vault-id A --vault-id B, a store of B stays a store of B."""
    path = str(tmp_path / 'store.vault')
    write_store(path, {'version': 2, 'accounts': {}}, SECRET_B)
    both = vault(SECRET_A, SECRET_B)
    data, key = ActionModule._load(both, path)
    assert key[0] == 'team-b'
    ActionModule._save(both, key, path, data)
    with open(path, 'rb') as handle:
        blob = handle.read()
    assert VaultLib([SECRET_B]).decrypt(blob)
    with pytest.raises(AnsibleError):
        VaultLib([SECRET_A]).decrypt(blob)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_new_store_uses_the_first_secret(tmp_path):
    path = str(tmp_path / 'store.vault')
    both = vault(SECRET_A, SECRET_B)
    data, key = ActionModule._load(both, path)
    assert key == SECRET_A
    ActionModule._save(both, key, path, data)
    with open(path, 'rb') as handle:
        assert VaultLib([SECRET_A]).decrypt(handle.read())


def lease_action(check_mode=False):
    action = ActionModule.__new__(ActionModule)
    action._task = mock.Mock(check_mode=check_mode)
    return action


def lease_args(path, op, run_id, replaces=''):
    return {'path': path, 'op': op, 'run_id': run_id, 'replaces': replaces,
            'holder': {'run_id': run_id, 'host': 'h-' + run_id, 'pid': 7, 'started': NOW}}


def test_lease_file(tmp_path):
    path = str(tmp_path / 'state' / 'store.vault')
    action = lease_action()
    assert action._run_lease(lease_args(path, 'lease_acquire', 'r1'))['changed'] is True
    assert stat.S_IMODE(os.stat(path + '.lease').st_mode) == 0o600
    with open(path + '.lease') as handle:
        assert json.load(handle)['host'] == 'h-r1'
    with pytest.raises(StoreError, match='leased by run r1 \\(host h-r1, pid 7, started %s\\)' % NOW):
        action._run_lease(lease_args(path, 'lease_acquire', 'r2'))
    assert action._run_lease(lease_args(path, 'lease_release', 'r2'))['released'] is False
    taken = action._run_lease(lease_args(path, 'lease_acquire', 'r2', replaces='r1'))
    assert taken['replaced']['run_id'] == 'r1'
    assert action._run_lease(lease_args(path, 'lease_release', 'r2'))['released'] is True
    assert not os.path.exists(path + '.lease')


def test_lease_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'store.vault')
    assert lease_action(check_mode=True)._run_lease(lease_args(path, 'lease_acquire', 'r1'))['changed'] is True
    assert not os.path.exists(path + '.lease')
    missing = str(tmp_path / 'no-such-dir' / 'store.vault')
    assert lease_action(check_mode=True)._run_lease(lease_args(missing, 'lease_acquire', 'r1'))['lease']['run_id'] == 'r1'
    assert lease_action()._run_lease(lease_args(missing, 'lease_release', 'r1')) == \
        {'changed': False, 'released': False, 'lease': {}}
    assert not os.path.exists(os.path.dirname(missing))


def test_unreadable_lease_is_left_alone(tmp_path):
    path = str(tmp_path / 'store.vault')
    with open(path + '.lease', 'w') as handle:
        handle.write('{"cut sh')
    with pytest.raises(StoreError, match='unreadable'):
        lease_action()._run_lease(lease_args(path, 'lease_acquire', 'r1'))
    with open(path + '.lease') as handle:
        assert handle.read() == '{"cut sh'
