# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side secret store: one JSON document encrypted with Ansible Vault (store contract v2).

Per account key the document holds ``current``/``current_since`` and, while a change is in flight,
``pending``/``pending_attempt``/``pending_since``. A pending password belongs to the attempt that
escrowed it: ``pending`` never replaces the pending of another attempt, ``commit`` and ``discard``
settle only the attempt they name. The run lease lives beside the store in ``<path>.lease``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, is_encrypted
from ansible.plugins.action import ActionBase
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import FileLock, write_atomic

STORE_VERSION = 2
READABLE_VERSIONS = (1, 2)
# A pending written by a store of version 1 carries no attempt id; it is settled under this name.
LEGACY_ATTEMPT = 'legacy'
READ_OPS = ('check', 'read_pending', 'read_current')
WRITE_OPS = ('pending', 'commit', 'discard')
LEASE_OPS = ('lease_acquire', 'lease_release')
PENDING_FIELDS = ('pending', 'pending_attempt', 'pending_since')

ARGUMENT_SPEC = {
    'path': {'type': 'path', 'required': True},
    'op': {'type': 'str', 'required': True, 'choices': list(READ_OPS + WRITE_OPS + LEASE_OPS)},
    'records': {'type': 'list', 'elements': 'dict', 'default': []},
    'keys': {'type': 'list', 'elements': 'str', 'default': []},
    'vault_id': {'type': 'str'},
    'run_id': {'type': 'str'},
    'holder': {'type': 'dict'},
    'replaces': {'type': 'str', 'default': ''},
}


class StoreError(Exception):
    pass


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _text(value):
    return value if isinstance(value, str) else ''


def _records(args, with_password):
    """The records of a pending/commit/discard, checked: every one names an attempt and its keys."""
    op = args['op']
    if args['keys']:
        raise StoreError('store contract v2: %s settles only the attempt it names; pass records '
                         '[{attempt, keys}] instead of keys' % op)
    records = []
    for number, record in enumerate(args['records'], 1):
        attempt, keys = record.get('attempt'), record.get('keys')
        if not _text(attempt):
            raise StoreError('%s record %d has no attempt id; every record names the attempt it belongs to'
                             % (op, number))
        if not isinstance(keys, list) or not keys or not all(_text(k) for k in keys):
            raise StoreError('%s record %d (attempt %s) needs a non-empty list of keys' % (op, number, attempt))
        if with_password and not _text(record.get('password')):
            raise StoreError('pending record %d (attempt %s) has no password' % (number, attempt))
        records.append(record)
    return records


def pending_conflicts(accounts, records):
    """Messages for every key whose unsettled pending belongs to another attempt (or the same attempt with
    another password), including two records of one call that disagree. Empty when the escrow may proceed."""
    seen, problems = {}, []
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key, {})
            held = seen.get(key)
            if held is None and 'pending' in entry:
                held = (entry.get('pending_attempt') or LEGACY_ATTEMPT, entry['pending'])
            if held is None:
                seen[key] = (record['attempt'], record['password'])
            elif held[0] != record['attempt']:
                problems.append('key %s already holds an unsettled pending password of attempt %s; it must be '
                                'settled (commit or discard) before a new one is escrowed (attempt %s)'
                                % (key, held[0], record['attempt']))
            elif held[1] != record['password']:
                problems.append('key %s already holds a different pending password of the same attempt %s; '
                                'an attempt has exactly one password' % (key, held[0]))
    return problems


def apply_change(accounts, op, records, now):
    """Apply pending/commit/discard to the accounts mapping. Returns (updated, unchanged_or_skipped)."""
    updated, other = set(), set()
    if op == 'pending':
        problems = pending_conflicts(accounts, records)
        if problems:
            raise StoreError('; '.join(problems) + '. Nothing was escrowed')
        for record in records:
            for key in record['keys']:
                entry = accounts.setdefault(key, {})
                if 'pending' in entry:
                    other.add(key)  # same attempt, same password: idempotent re-escrow
                    continue
                entry.update(pending=record['password'], pending_attempt=record['attempt'], pending_since=now)
                updated.add(key)
        return updated, other - updated
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key)
            if not entry or 'pending' not in entry or \
                    (entry.get('pending_attempt') or LEGACY_ATTEMPT) != record['attempt']:
                other.add(key)
                continue
            if op == 'commit':
                entry.update(current=entry['pending'], current_since=now)
            for field in PENDING_FIELDS:
                entry.pop(field, None)
            updated.add(key)
    return updated, other - updated


def pending_attempts(accounts):
    return dict((k, v.get('pending_attempt') or LEGACY_ATTEMPT) for k, v in accounts.items() if 'pending' in v)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        op = args['op']
        if op.startswith('read_'):
            result['_ansible_no_log'] = True  # the answer holds passwords, whatever the task says
        try:
            if op in LEASE_OPS:
                result.update(self._run_lease(args))
            else:
                result.update(self._run_op(self._vault(args.get('vault_id')), args))
        except StoreError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            # disk full, permissions, no locking: the store was not changed (writes are atomic)
            why = '%s: %s' % (type(exc).__name__, exc.strerror or exc)
            result.update(failed=True, msg='secret store %s could not be read or written (%s); it was left as it was. '
                          'Fix the path or its permissions and run again' % (args['path'], why))
        return result

    def _vault(self, vault_id):
        secrets = list(self._loader._vault.secrets or [])
        if vault_id:
            secrets = [s for s in secrets if s[0] == vault_id]
        if not secrets:
            raise StoreError(
                'the secret store needs a vault password%s: run with --vault-password-file FILE or --vault-id ID@FILE '
                '(or set ANSIBLE_VAULT_PASSWORD_FILE); in AWX/AAP attach a Vault credential'
                % (' for vault id %r' % vault_id if vault_id else ''))
        return VaultLib(secrets), secrets[0]

    @staticmethod
    def _load(vault, path):
        """(document, (vault_id, secret) that opened it). A new store is written with the first secret."""
        vault_lib, first = vault
        if not os.path.exists(path):
            return {'version': STORE_VERSION, 'accounts': {}}, first
        with open(path, 'rb') as handle:
            blob = handle.read()
        if not is_encrypted(blob):
            raise StoreError('secret store %s is not Ansible Vault encrypted; refusing to read or overwrite it. '
                             'Restore it from backup or point store_path elsewhere' % path)
        try:
            plain, vault_id, secret = vault_lib.decrypt_and_get_vault_id(blob)
        except AnsibleError as exc:
            raise StoreError('secret store %s could not be decrypted (%s). Check the vault password / vault id; '
                             'the file was left untouched' % (path, to_text(exc).splitlines()[0]))
        try:
            data = json.loads(to_text(plain))
            if not isinstance(data.get('accounts'), dict):
                raise ValueError('no "accounts" mapping')
        except (ValueError, AttributeError) as exc:
            raise StoreError('secret store %s decrypted but its content is corrupt (%s); it was left untouched. '
                             'Restore it from backup' % (path, exc))
        if data.get('version', 1) not in READABLE_VERSIONS:
            raise StoreError('secret store %s has format version %s, newer than this collection reads (%s); it was '
                             'left untouched. Upgrade sailpoint_isc.passwords' % (path, data.get('version'), STORE_VERSION))
        for entry in data['accounts'].values():
            if 'pending' in entry and not entry.get('pending_attempt'):
                entry['pending_attempt'] = LEGACY_ATTEMPT
        # Re-encrypt with the very secret that opened the file: another vault id of the run must not re-key it.
        return data, (vault_id, secret)

    @staticmethod
    def _save(vault, key, path, data):
        vault_id, secret = key
        data['version'] = STORE_VERSION
        blob = vault[0].encrypt(to_bytes(json.dumps(data, sort_keys=True)), secret=secret, vault_id=vault_id)
        write_atomic(path, blob, 0o600)

    def _run_op(self, vault, args):
        path, op = args['path'], args['op']
        records = _records(args, op == 'pending') if op in WRITE_OPS else []
        directory = os.path.dirname(path) or '.'
        if not os.path.isdir(directory):
            if self._task.check_mode or op in READ_OPS:
                return {'changed': False, 'pending': {}, 'pending_keys': [], 'accounts': 0, 'passwords': {},
                        'attempts': {}}
            os.makedirs(directory, 0o700)
        # One writer at a time: read-merge-write under a lock, so parallel runs never clobber each other.
        with FileLock(path + '.lock', required=True):
            data, key = self._load(vault, path)
            accounts = data['accounts']
            if op == 'check':
                pending = pending_attempts(accounts)
                return {'changed': False, 'accounts': len(accounts), 'pending': pending,
                        'pending_keys': sorted(pending)}
            if op == 'read_pending':
                wanted = [k for k in args['keys'] if 'pending' in accounts.get(k, {})]
                return {'changed': False, 'passwords': dict((k, accounts[k]['pending']) for k in wanted),
                        'attempts': dict((k, accounts[k]['pending_attempt']) for k in wanted)}
            if op == 'read_current':
                return {'changed': False, 'passwords': dict(
                    (k, accounts[k]['current']) for k in args['keys'] if 'current' in accounts.get(k, {}))}
            updated, other = apply_change(accounts, op, records, _now())
            if updated and not self._task.check_mode:
                self._save(vault, key, path, data)  # fsynced before the task returns
            result = {'changed': bool(updated), 'updated': sorted(updated)}
            result['unchanged' if op == 'pending' else 'skipped'] = sorted(other)
            return result

    def _run_lease(self, args):
        path, op = args['path'], args['op']
        run_id = args.get('run_id') or (args.get('holder') or {}).get('run_id')
        if not _text(run_id):
            raise StoreError('%s needs run_id (the id of this run)' % op)
        lease_path = path + '.lease'
        directory = os.path.dirname(path) or '.'
        if not os.path.isdir(directory):
            if op == 'lease_release':
                return {'changed': False, 'released': False, 'lease': {}}  # no store, no lease
            if self._task.check_mode:
                return {'changed': True, 'lease': dict(args.get('holder') or {}, run_id=run_id)}
            os.makedirs(directory, 0o700)
        with FileLock(path + '.lock', required=True):
            held = self._read_lease(lease_path)
            if op == 'lease_release':
                if not held or held.get('run_id') != run_id:
                    return {'changed': False, 'released': False, 'lease': held or {}}
                if not self._task.check_mode:
                    os.unlink(lease_path)
                    _fsync_dir(directory)
                return {'changed': True, 'released': True, 'lease': {}}
            holder = dict(args.get('holder') or {})
            holder['run_id'] = run_id
            replaces = args.get('replaces') or ''
            if held and held.get('run_id') not in (run_id, replaces or None):
                raise StoreError(
                    'the secret store %s is leased by run %s (host %s, pid %s, started %s): another rotation run is '
                    'in progress, so this one changed nothing. If that run is truly gone (host rebooted, process '
                    'killed), delete %s and run again' % (
                        path, held.get('run_id'), held.get('host', '?'), held.get('pid', '?'),
                        held.get('started', '?'), lease_path))
            result = {'changed': held != holder, 'lease': holder}
            if held and held.get('run_id') != run_id:
                result['replaced'] = held
            if result['changed'] and not self._task.check_mode:
                write_atomic(lease_path, json.dumps(holder, sort_keys=True), 0o600)
            return result

    @staticmethod
    def _read_lease(lease_path):
        if not os.path.exists(lease_path):
            return None
        with open(lease_path) as handle:
            text = handle.read()
        try:
            held = json.loads(text)
            if not isinstance(held, dict) or not _text(held.get('run_id')):
                raise ValueError('no run_id')
        except ValueError as exc:
            raise StoreError('lease file %s is unreadable (%s); it was left untouched. If no rotation run is in '
                             'progress, delete it and run again' % (lease_path, exc))
        return held


def _fsync_dir(directory):
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
