# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of the rotation run lease (see module_utils/lease.py)."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import lease

ARGUMENT_SPEC = {
    'ledger_path': {'type': 'path', 'required': True},
    'state': {'type': 'str', 'required': True, 'choices': ['acquired', 'released']},
    'run_id': {'type': 'str'},
    'stale_after': {'type': 'int', 'default': lease.DEFAULT_STALE_AFTER},
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
                    return result
                holder, replaced = lease.acquire(args['ledger_path'], stale_after=args['stale_after'])
                result.update(changed=False, run_id=holder['run_id'], holder=holder, replaced=replaced or '', taken=True)
                if replaced:
                    result['warnings'] = ['took over the lease of run %s, which ended without releasing it (killed or '
                                          'crashed); this run first settles what it left' % replaced]
            else:
                if not args.get('run_id'):
                    result.update(failed=True, msg='run_id is required with state=released')
                    return result
                if self._task.check_mode:
                    result.update(changed=False, released=False)  # a check run took no lease: none to give back
                    return result
                result.update(changed=False, released=lease.release(args['ledger_path'], args['run_id']))
        except lease.LeaseError as exc:
            result.update(failed=True, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, msg='the rotation lease beside %s could not be read or written (%s: %s); fix the '
                          'path or its permissions' % (args['ledger_path'], type(exc).__name__, exc.strerror or exc))
        return result
