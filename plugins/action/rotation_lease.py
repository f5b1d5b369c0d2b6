# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of the rotation run lease (see module_utils/lease.py)."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import lease
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils import store_lease

ARGUMENT_SPEC = {
    'ledger_path': {'type': 'path', 'required': True},
    'state': {'type': 'str', 'required': True, 'choices': ['acquired', 'released']},
    'run_id': {'type': 'str'},
    'stale_after': {'type': 'int', 'default': lease.DEFAULT_STALE_AFTER},
    # the built-in store's namespace lease, taken after the run lease and given back before it (one task each)
    'store_path': {'type': 'path'},
    'stats': {'type': 'dict'},
}


class ActionModule(ControllerAction):
    def run(self, tmp=None, task_vars=None):
        del tmp
        result, args = self.start(task_vars, ARGUMENT_SPEC)
        try:
            if args['state'] == 'acquired':
                if args['stale_after'] < lease.MIN_STALE_AFTER:
                    result.update(failed=True, msg='stale_after must be at least %d seconds, three heartbeats of %d s '
                                  '(got %d): a live run renews its lease only every %d s. With the role, set '
                                  'service_account_rotation_lease_stale_after to %d or more; nothing was read or written'
                                  % (lease.MIN_STALE_AFTER, lease.HEARTBEAT_EVERY, args['stale_after'],
                                     lease.HEARTBEAT_EVERY, lease.MIN_STALE_AFTER))
                    return result
                if self._task.check_mode:
                    # a check run reads: it is refused as a real run would be, and takes over or writes nothing
                    holder, replaced = lease.probe(args['ledger_path'], stale_after=args['stale_after'])
                    result.update(changed=False, run_id=holder['run_id'], holder=holder, replaced=replaced or '',
                                  taken=False)
                    if replaced:
                        result['warnings'] = ['run %s ended without releasing the lease of %s (killed or crashed); this '
                                              'check run takes over nothing and settles nothing: the next real run takes '
                                              'the lease over and settles what that run left'
                                              % (replaced, args['ledger_path'])]
                    return self._store(args, result, 'lease_acquire')
                holder, replaced = lease.acquire(args['ledger_path'], stale_after=args['stale_after'])
                result.update(changed=False, run_id=holder['run_id'], holder=holder, replaced=replaced or '', taken=True)
                if replaced:
                    result['warnings'] = ['took over the lease of run %s, which ended without releasing it (killed or '
                                          'crashed); this run first settles what it left' % replaced]
                result = self._store(args, result, 'lease_acquire')
                if result.get('failed'):  # the store refused: this run gives its run lease back and changes nothing
                    lease.release(args['ledger_path'], holder['run_id'])
            else:
                if not args.get('run_id'):
                    result.update(failed=True, msg='run_id is required with state=released')
                    return result
                if args['stats']:
                    # as ansible.builtin.set_stats (per_host false, aggregate true), failed releases included
                    result['ansible_stats'] = {'data': args['stats'], 'per_host': False, 'aggregate': True}
                result = self._store(args, result, 'lease_release')
                if self._task.check_mode:
                    result.update(changed=False, released=False)  # a check run took no lease: none to give back
                    return result
                # the run lease goes back even when the store's could not
                result.update(changed=False, released=lease.release(args['ledger_path'], args['run_id']))
        except lease.LeaseError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, msg='the rotation lease beside %s could not be read or written (%s: %s); fix the '
                          'path or its permissions' % (args['ledger_path'], type(exc).__name__, exc.strerror or exc))
        return result

    def _store(self, args, result, op):
        """The built-in store's namespace lease (store_path) for this run, as vault_file_store's op would take it."""
        if not args['store_path'] or result.get('failed'):
            return result
        try:
            store_lease.run({'path': args['store_path'], 'op': op, 'run_id': result.get('run_id') or args['run_id'],
                             'holder': result.get('holder'), 'replaces': result.get('replaced') or ''},
                            self._task.check_mode)
        except store_lease.StoreLeaseError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, msg='secret store %s could not be read or written (%s: %s); it was left as it '
                          'was. Fix the path or its permissions and run again'
                          % (args['store_path'], type(exc).__name__, exc.strerror or exc))
        return result
