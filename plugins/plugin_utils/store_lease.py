# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The namespace lease of the built-in store (vault_file_store's lease ops), also taken and given back by rotation_lease
with the run lease, so that a rotation opens and closes its leases in one task each (a short log).

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import annotations

import json
import os

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import FileLock, fsync_dir, write_atomic


class StoreLeaseError(Exception):
    pass


def _text(value):
    return value if isinstance(value, str) else ''


def run(args, check_mode):
    """lease_acquire or lease_release of the store at args['path'] (its namespace lease, beside it)."""
    path, op = args['path'], args['op']
    run_id = args.get('run_id') or (args.get('holder') or {}).get('run_id')
    if not _text(run_id):
        raise StoreLeaseError('%s needs run_id (the id of this run)' % op)
    lease_path = path + '.lease'
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        if op == 'lease_release':
            return {'changed': False, 'released': False, 'lease': {}}  # no store, no lease
        if check_mode:
            return {'changed': True, 'lease': dict(args.get('holder') or {}, run_id=run_id)}
        os.makedirs(directory, 0o700)
    with FileLock(path + '.lock', required=True):
        held = _read_lease(lease_path)
        if op == 'lease_release':
            if not held or held.get('run_id') != run_id:
                return {'changed': False, 'released': False, 'lease': held or {}}
            if not check_mode:
                os.unlink(lease_path)
                fsync_dir(directory)
            return {'changed': True, 'released': True, 'lease': {}}
        holder = dict(args.get('holder') or {})
        holder['run_id'] = run_id
        replaces = args.get('replaces') or ''
        if held and held.get('run_id') not in (run_id, replaces or None):
            raise StoreLeaseError(
                'the secret store %s is leased by run %s (host %s, pid %s, started %s): another rotation run is '
                'in progress, so this one changed nothing. If that run is truly gone (host rebooted, process '
                'killed), delete %s and run again' % (
                    path, held.get('run_id'), held.get('host', '?'), held.get('pid', '?'),
                    held.get('started', '?'), lease_path))
        result = {'changed': held != holder, 'lease': holder}
        if held and held.get('run_id') != run_id:
            result['replaced'] = held
        if result['changed'] and not check_mode:
            write_atomic(lease_path, json.dumps(holder, sort_keys=True), 0o600)
        return result


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
        raise StoreLeaseError('lease file %s is unreadable (%s); it was left untouched. If no rotation run is in '
                              'progress, delete it and run again' % (lease_path, exc))
    return held
