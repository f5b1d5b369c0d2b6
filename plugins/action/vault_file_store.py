# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side secret store: one JSON document encrypted with Ansible Vault (store contract v2).

Per account key the document holds ``current``/``current_since``, while a change is in flight
``pending``/``pending_attempt``/``pending_since``, and after a commit the password that was current as
``previous``/``previous_since`` (for rollback, kept ``keep_previous_days``). A pending password belongs to
the attempt that escrowed it: ``pending`` never replaces the pending of another attempt (unless the record
``supersedes`` it: the replaced pending is kept under ``superseded`` until a commit makes it ``previous``, and a
discard brings it back), ``commit`` and ``discard`` settle only the attempt they name. ``import`` bootstraps
current passwords where a key has none. ``retire`` moves a key's passwords to ``archive`` (read by no op).
The run lease lives beside the store in ``<path>.lease``.
"""

from __future__ import annotations

import datetime
import json
import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, is_encrypted
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils import store_lease
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import TIME_FORMAT, FileLock, write_atomic

STORE_VERSION = 2
READABLE_VERSIONS = (1, 2)
# A pending written by a store of version 1 carries no attempt id; it is settled under this name.
LEGACY_ATTEMPT = 'legacy'
READ_OPS = ('check', 'read_pending', 'read_current', 'read_previous')
WRITE_OPS = ('pending', 'commit', 'discard', 'import', 'retire')
LEASE_OPS = ('lease_acquire', 'lease_release')
PENDING_FIELDS = ('pending', 'pending_attempt', 'pending_since')
PREVIOUS_FIELDS = ('previous', 'previous_since')

ARGUMENT_SPEC = {
    'path': {'type': 'path', 'required': True},
    'op': {'type': 'str', 'required': True, 'choices': list(READ_OPS + WRITE_OPS + LEASE_OPS)},
    'records': {'type': 'list', 'elements': 'dict', 'default': []},
    'keys': {'type': 'list', 'elements': 'str', 'default': []},
    'vault_id': {'type': 'str'},
    'run_id': {'type': 'str'},
    'holder': {'type': 'dict'},
    'replaces': {'type': 'str', 'default': ''},
    'passwords': {'type': 'dict', 'no_log': True},
    'overwrite': {'type': 'bool', 'default': False},
    'keep_previous_days': {'type': 'float', 'default': 30},
}


class StoreError(Exception):
    pass


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)


def _text(value):
    return value if isinstance(value, str) else ''


def _import_records(args):
    """The records of an import, checked: ``records`` of {keys, password} and/or ``passwords`` {key: password}."""
    if args['keys']:
        raise StoreError('import takes records [{keys, password}] or passwords {key: password}, not keys')
    records = []
    for number, record in enumerate(args['records'], 1):
        keys = record.get('keys')
        if not isinstance(keys, list) or not keys or not all(_text(k) for k in keys):
            raise StoreError('import record %d needs a non-empty list of keys' % number)
        if not _text(record.get('password')):
            raise StoreError('import record %d (keys %s) has no password' % (number, ', '.join(keys)))
        records.append(record)
    for key, password in sorted((args.get('passwords') or {}).items()):
        if not _text(key) or not _text(password):
            raise StoreError('import: key %r has no password (passwords maps each key to a non-empty string)' % key)
        records.append({'keys': [key], 'password': password})
    return records


def _retire_records(args):
    """The records of a retire: [{keys}] (an attempt is not needed: a key's whole entry is archived)."""
    if args['keys'] or args.get('passwords'):
        raise StoreError('retire takes records [{keys}], not keys or passwords')
    for number, record in enumerate(args['records'], 1):
        keys = record.get('keys')
        if not isinstance(keys, list) or not keys or not all(_text(k) for k in keys):
            raise StoreError('retire record %d needs a non-empty list of keys' % number)
    return args['records']


def _records(args, with_password):
    """The records of a pending/commit/discard, checked: every one names an attempt and its keys."""
    op = args['op']
    if op == 'import':
        return _import_records(args)
    if op == 'retire':
        return _retire_records(args)
    if args.get('passwords'):
        raise StoreError('passwords is for import only; %s takes records' % op)
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
                if record.get('supersedes') and held[0] == record['supersedes']:
                    held = None  # the record replaces that attempt's pending and keeps it (apply_change)
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


def set_current(entry, password, now, keep_previous_days):
    """Make password current; the password it replaces becomes previous, unless retention keeps none."""
    if keep_previous_days > 0 and _text(entry.get('current')) and entry['current'] != password:
        entry.update(previous=entry['current'], previous_since=now)
    elif keep_previous_days <= 0:
        for field in PREVIOUS_FIELDS:
            entry.pop(field, None)
    entry.update(current=password, current_since=now)


def _age_seconds(since, now):
    try:
        then = datetime.datetime.strptime(since, TIME_FORMAT)
        return (datetime.datetime.strptime(now, TIME_FORMAT) - then).total_seconds()
    except (TypeError, ValueError):
        return float('inf')  # no readable time: as old as can be


def drop_old_previous(accounts, now, keep_previous_days):
    """Retention: drop every previous password at least keep_previous_days old (all of them for 0). Returns the keys."""
    dropped = set()
    for key, entry in accounts.items():
        if 'previous' in entry and _age_seconds(entry.get('previous_since'), now) >= keep_previous_days * 86400:
            for field in PREVIOUS_FIELDS:
                entry.pop(field, None)
            dropped.add(key)
    return dropped


def import_conflicts(accounts, records, overwrite):
    """Messages for every key an import must refuse: a different current (unless overwrite), or two passwords
    for one key in one call. Keys holding a pending are never imported, so they conflict with nothing."""
    seen, problems = {}, []
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key, {})
            if key in seen and seen[key] != record['password']:
                problems.append('key %s is given two different passwords; import one password per key' % key)
                continue
            seen[key] = record['password']
            if 'pending' in entry or overwrite:
                continue
            if _text(entry.get('current')) and entry['current'] != record['password']:
                problems.append('key %s already holds a different current password; import replaces it only with '
                                'overwrite: true (the replaced password is then kept as previous)' % key)
    return sorted(set(problems), key=problems.index)


def apply_import(accounts, records, now, overwrite=False, keep_previous_days=30):
    """Import current passwords. Returns (updated, unchanged, skipped): skipped keys hold a pending, never touched."""
    problems = import_conflicts(accounts, records, overwrite)
    if problems:
        raise StoreError('; '.join(problems) + '. Nothing was imported')
    updated, unchanged, skipped = set(), set(), set()
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key, {})
            if 'pending' in entry:
                skipped.add(key)
            elif entry.get('current') == record['password']:
                unchanged.add(key)
            else:
                set_current(accounts.setdefault(key, entry), record['password'], now, keep_previous_days)
                updated.add(key)
    return updated, unchanged - updated, skipped


def apply_change(accounts, op, records, now, keep_previous_days=30, archive=None):
    """Apply pending/commit/discard to the accounts mapping. Returns (updated, unchanged_or_skipped)."""
    updated, other = set(), set()
    if op == 'pending':
        problems = pending_conflicts(accounts, records)
        if problems:
            raise StoreError('; '.join(problems) + '. Nothing was escrowed')
        for record in records:
            for key in record['keys']:
                entry = accounts.setdefault(key, {})
                if 'pending' in entry and entry.get('pending_attempt') == record['attempt']:
                    other.add(key)  # same attempt, same password: idempotent re-escrow
                    continue
                if 'pending' in entry:  # superseded (pending_conflicts allowed only that): kept, never dropped
                    entry.setdefault('superseded', []).append({
                        'password': entry['pending'], 'attempt': entry.get('pending_attempt') or LEGACY_ATTEMPT,
                        'since': entry.get('pending_since'), 'superseded_at': now})
                entry.update(pending=record['password'], pending_attempt=record['attempt'], pending_since=now)
                updated.add(key)
        return updated, other - updated
    if op == 'retire':
        return retire(accounts, records, now, {} if archive is None else archive)
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key)
            if not entry or 'pending' not in entry or \
                    (entry.get('pending_attempt') or LEGACY_ATTEMPT) != record['attempt']:
                other.add(key)
                continue
            superseded = entry.pop('superseded', None) or []
            if op == 'commit':
                set_current(entry, entry['pending'], now, keep_previous_days)
                if superseded and keep_previous_days > 0:
                    # the account held the superseded password (ISC may have applied it) right before this one
                    entry.update(previous=superseded[-1]['password'], previous_since=now)
            for field in PENDING_FIELDS:
                entry.pop(field, None)
            if op == 'discard' and superseded:  # this attempt never reached a source: the one it superseded is back
                last = superseded.pop()
                entry.update(pending=last['password'], pending_attempt=last['attempt'], pending_since=last['since'] or now)
                if superseded:
                    entry['superseded'] = superseded
            updated.add(key)
    return updated, other - updated


RETIRED_FIELDS = ('current', 'current_since', 'previous', 'previous_since', 'superseded') + PENDING_FIELDS


def retire(accounts, records, now, archive):
    """Move each key's entry out of ``accounts`` into ``archive[key]`` (a list, newest last), where no read op
    and no consumer looks: the account is gone, but every password it may hold is kept. Returns (updated, skipped)."""
    updated, other = set(), set()
    for record in records:
        for key in record['keys']:
            entry = accounts.get(key)
            if not isinstance(entry, dict) or not any(f in entry for f in RETIRED_FIELDS):
                other.add(key)
                continue
            archive.setdefault(key, []).append(dict(entry, retired_at=now))
            del accounts[key]
            updated.add(key)
    return updated, other - updated


def pending_attempts(accounts):
    return dict((k, v.get('pending_attempt') or LEGACY_ATTEMPT) for k, v in accounts.items() if 'pending' in v)


class ActionModule(ControllerAction):
    def run(self, tmp=None, task_vars=None):
        del tmp
        result, args = self.start(task_vars, ARGUMENT_SPEC)
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
        if args['keep_previous_days'] < 0:
            raise StoreError('keep_previous_days must be 0 (keep no previous password) or more, not %s'
                             % args['keep_previous_days'])
        directory = os.path.dirname(path) or '.'
        if not os.path.isdir(directory):
            if op in READ_OPS:
                return {'changed': False, 'pending': {}, 'pending_keys': [], 'accounts': 0, 'passwords': {},
                        'attempts': {}, 'since': {}}
            if self._task.check_mode:  # what a real run would do to a new store, written nowhere
                return self._change(op, {}, records, args)
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
            if op == 'read_previous':
                wanted = [k for k in args['keys'] if 'previous' in accounts.get(k, {})]
                return {'changed': False, 'passwords': dict((k, accounts[k]['previous']) for k in wanted),
                        'since': dict((k, accounts[k].get('previous_since')) for k in wanted)}
            result = self._change(op, accounts, records, args, data.setdefault('archive', {}) if op == 'retire' else None)
            if result['changed'] and not self._task.check_mode:
                self._save(vault, key, path, data)  # fsynced before the task returns
            return result

    def _run_lease(self, args):
        """The store's namespace lease (plugin_utils/store_lease.py, which rotation_lease takes with the run lease)."""
        try:
            return store_lease.run(args, self._task.check_mode)
        except store_lease.StoreLeaseError as exc:
            raise StoreError(str(exc)) from exc

    @staticmethod
    def _change(op, accounts, records, args, archive=None):
        """A write op on the accounts mapping, after the retention drops old previous passwords (every write)."""
        now, keep = _now(), args['keep_previous_days']
        dropped = drop_old_previous(accounts, now, keep)
        result = {}
        if op == 'import':
            updated, unchanged, other = apply_import(accounts, records, now, args['overwrite'], keep)
            result['unchanged'] = sorted(unchanged)
        else:
            updated, other = apply_change(accounts, op, records, now, keep, archive)
        result['unchanged' if op == 'pending' else 'skipped'] = sorted(other)
        result.update(changed=bool(updated or dropped), updated=sorted(updated), previous_dropped=sorted(dropped))
        return result
