#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rotation_dependents
short_description: Bookkeeping of the dependents of rotated passwords (the rotation ledger's side)
version_added: 0.3.0
description:
  - Used by the P(sailpoint_isc.passwords.service_account_rotation#role) role's dependents phase
    (C(docs/dependents.md)); it never sees a password.
  - O(op=due) says which dependents a run applies, in their declared order - all of an account whose new password the
    store committed in this run, and the ones the ledger still marks as due for an account whose password is current
    (a failed dependent under the C(roll_forward) policy) - none of an account whose change is unsettled.
  - O(op=record) turns the outcomes of a run's dependents into report rows (C(dependents_degraded), C(rolled_back)),
    writes them to the ledger's history and marks the failed ones as due for the next run. Under the C(rollback)
    policy the role calls it once more before it sends the previous password again (C(rolling_back), with
    O(finished)), so that the history keeps the change that is rolled back and says why.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  op:
    description: What to do.
    type: str
    required: true
    choices: [due, record]
  ledger_path:
    description: The rotation ledger.
    type: path
    required: true
  run_id:
    description: The run id that holds the lease (O(op=record)); the module checks that it still does.
    type: str
    default: ''
  accounts:
    description: The role's accounts list (O(op=due)); only the rows with C(dependents) count.
    type: list
    elements: dict
    default: []
  committed:
    description: Keys whose new password the store committed in this run (O(op=due)).
    type: list
    elements: str
    default: []
  held:
    description: Keys whose change is still unsettled after this run (O(op=due)); their dependents wait.
    type: list
    elements: str
    default: []
  policy:
    description:
      - The run's dependents policy (O(op=due)); an account's own C(dependents_policy) wins. V(rollback) sets the
        previous password again through ISC when a dependent fails on the new one (C(docs/dependents.md)).
    type: str
    choices: [roll_forward, rollback]
    default: roll_forward
  finished:
    description:
      - Changes that FINISHED in this run, as C(keys) and C(request_id), to write to the ledger as rotated before a
        change back is sent for them (O(op=record), policy V(rollback)); the record phase leaves them out then.
    type: list
    elements: dict
    default: []
  results:
    description:
      - Per account, C(key), C(why) (from O(op=due)), and C(dependents) as C(id) and C(outcome) (V(updated),
        V(restarted), V(healthy), or V(failed) followed by the name of the task that failed) (O(op=record)).
      - Policy V(rollback) adds C(rollback) (V(started), V(done), or why it could not be done) and C(failed_before)
        (the dependents that failed on the new password, as C(id) and C(outcome)).
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    description: O(op=due) only reads; O(op=record) writes nothing in check mode.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Runs where the ledger is, the controller.
'''

EXAMPLES = r'''
- name: Which dependents this run applies
  sailpoint_isc.passwords.rotation_dependents:
    op: due
    ledger_path: /var/lib/rotation/ledger.json
    accounts:
      - source_name: Corp-AD
        user_name: svc-app
        dependents:
          - {type: file, host: app1, path: /etc/app.conf, regexp: '^password=', line: 'password={password}'}
    committed: [Corp-AD/svc-app]
  register: due
'''

RETURN = r'''
dependents:
  description: The dependents of RV(due) in one list, by C(order) across accounts (O(op=due)).
  returned: when O(op=due)
  type: list
  elements: dict
rows:
  description: Per account, C(key), C(status) (V(dependents_degraded), V(rolled_back), V(rolling_back) or null), C(detail), C(due) and
    C(dependents); the role hands them to the record phase for the reports.
  returned: when O(op=record)
  type: list
  elements: dict
due:
  description: Per account, C(key), C(why) (V(rotated) or V(again)), C(policy) and the C(dependents) to apply, in order.
  returned: when O(op=due)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dependents, lease
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger, RotationError


def main():
    module = AnsibleModule(argument_spec=dict(
        op=dict(type='str', required=True, choices=['due', 'record']),
        ledger_path=dict(type='path', required=True),
        run_id=dict(type='str', default=''),
        accounts=dict(type='list', elements='dict', default=[]),
        committed=dict(type='list', elements='str', default=[], no_log=False),
        held=dict(type='list', elements='str', default=[], no_log=False),
        results=dict(type='list', elements='dict', default=[]),
        policy=dict(type='str', default='roll_forward', choices=list(dependents.POLICIES)),
        finished=dict(type='list', elements='dict', default=[]),
    ), supports_check_mode=True)
    params = module.params
    try:
        if params['op'] == 'due':
            ledger = Ledger(params['ledger_path']).load()
            listed = [{'key': account_key(a['source_name'], a['user_name'], a.get('account_id')),
                       'dependents': a.get('dependents'), 'policy': dependents.policy_of(a, params['policy'])}
                      for a in params['accounts'] if a.get('dependents')]
            due = dependents.due(listed, ledger.accounts, params['committed'], params['held'])
            # one list for the role's steps: by order across accounts, then as listed (sorted() is stable)
            flat = sorted([d for acct in due for d in acct['dependents']], key=lambda d: d.get('order') or 0)
            module.exit_json(changed=False, due=due, dependents=flat)
        rows = dependents.rows(params['results'])
        if not module.check_mode and rows:
            lease.WorkLock(params['ledger_path'], params['run_id'], 'dependents').take()
            ledger = Ledger(params['ledger_path']).load()
            for change in params['finished']:  # before the change back is sent: the history keeps both, in order
                ledger.append('finished', change['keys'], request_id=change.get('request_id'),
                              run_id=params['run_id'] or None)
            for row in rows:
                ledger.append('dependents', [row['key']], due=row['due'], outcomes=row['dependents'],
                              status=row['status'] or 'dependents', run_id=params['run_id'] or None)
        module.exit_json(changed=False, rows=rows)
    except (RotationError, lease.LeaseError, OSError, ValueError) as exc:
        module.fail_json(msg='rotation_dependents %s failed: %s' % (params['op'], exc))


if __name__ == '__main__':
    main()
