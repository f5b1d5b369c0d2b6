# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side secret store: one JSON document encrypted with Ansible Vault."""

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

STORE_VERSION = 1
ARGUMENT_SPEC = {
    'path': {'type': 'path', 'required': True},
    'op': {'type': 'str', 'required': True,
           'choices': ['check', 'pending', 'commit', 'discard', 'read_pending', 'read_current']},
    'records': {'type': 'list', 'elements': 'dict', 'default': []},
    'keys': {'type': 'list', 'elements': 'str', 'default': []},
    'vault_id': {'type': 'str'},
}


class StoreError(Exception):
    pass


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


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
            vault = self._vault(args.get('vault_id'))
            result.update(self._run_op(vault, args))
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

    def _load(self, vault, path):
        if not os.path.exists(path):
            return {'version': STORE_VERSION, 'accounts': {}}
        with open(path, 'rb') as handle:
            blob = handle.read()
        if not is_encrypted(blob):
            raise StoreError('secret store %s is not Ansible Vault encrypted; refusing to read or overwrite it. '
                             'Restore it from backup or point store_path elsewhere' % path)
        try:
            plain = vault[0].decrypt(blob)
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
        return data

    def _save(self, vault, path, data):
        vault_lib, (vault_id, secret) = vault
        blob = vault_lib.encrypt(to_bytes(json.dumps(data, sort_keys=True)), secret=secret, vault_id=vault_id)
        write_atomic(path, blob, 0o600)

    def _run_op(self, vault, args):
        path, op = args['path'], args['op']
        directory = os.path.dirname(path) or '.'
        if not os.path.isdir(directory):
            if self._task.check_mode or op in ('check', 'read_pending', 'read_current'):
                return {'changed': False, 'pending_keys': [], 'accounts': 0, 'passwords': {}}
            os.makedirs(directory, 0o700)
        # One writer at a time: read-merge-write under a lock, so parallel runs never clobber each other.
        with FileLock(path + '.lock', required=True):
            data = self._load(vault, path)
            accounts = data['accounts']
            if op == 'check':
                return {'changed': False, 'accounts': len(accounts),
                        'pending_keys': sorted(k for k, v in accounts.items() if 'pending' in v)}
            if op in ('read_pending', 'read_current'):
                field = op[len('read_'):]
                return {'changed': False,
                        'passwords': dict((k, accounts[k][field]) for k in args['keys'] if field in accounts.get(k, {}))}
            changed = self._change(accounts, op, args)
            if changed and not self._task.check_mode:
                self._save(vault, path, data)
            return {'changed': bool(changed), 'updated': sorted(changed)}

    @staticmethod
    def _change(accounts, op, args):
        now, changed = _now(), set()
        if op == 'pending':
            for record in args['records']:
                password = record.get('password')
                if not password or not record.get('keys'):
                    raise StoreError('each pending record needs keys and a password')
                for key in record['keys']:
                    entry = accounts.setdefault(key, {})
                    if entry.get('pending') != password:
                        entry.update(pending=password, pending_since=now)
                        changed.add(key)
        elif op == 'commit':
            for key in args['keys']:
                entry = accounts.get(key, {})
                if 'pending' in entry:
                    entry.update(current=entry.pop('pending'), current_since=now)
                    entry.pop('pending_since', None)
                    changed.add(key)
        elif op == 'discard':
            for key in args['keys']:
                entry = accounts.get(key, {})
                if 'pending' in entry:
                    entry.pop('pending')
                    entry.pop('pending_since', None)
                    changed.add(key)
        return changed
