#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rotation_alternate
short_description: Alternating accounts of the rotation role - which account to rotate and when to flip
version_added: 0.3.0
description:
  - Used by the P(sailpoint_isc.passwords.service_account_rotation#role) role (C(docs/alternating.md)); it never
    sees a password.
  - O(op=expand) turns each C(alternate) row of the accounts list into the row of its inactive account (the row's
    C(dependents) and settings with it), from the records of the secret store's logical keys; the active account is
    not rotated.
  - O(op=flip) says which logical credentials switch to their other account now - the inactive account's new password
    was committed in this run (or by an earlier run, and no flip has confirmed it yet), its change is settled, and its
    dependents were applied with it in this run and all passed. Everything else leaves the active account active,
    and RV(decisions) says why.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  op:
    description: What to do.
    type: str
    required: true
    choices: [expand, flip]
  ledger_path:
    description: The rotation ledger.
    type: path
    required: true
  accounts:
    description: The role's accounts list (O(op=expand)).
    type: list
    elements: dict
    default: []
  records:
    description:
      - O(op=expand) - logical key to the store record's C(active) and C(confirmed) (the role leaves the password out).
    type: dict
    default: {}
  alternates:
    description: What O(op=expand) returned as RV(alternates) (O(op=flip)).
    type: list
    elements: dict
    default: []
  committed:
    description: Keys whose new password the store committed in this run (O(op=flip)).
    type: list
    elements: str
    default: []
  held:
    description: Keys whose change is unsettled after this run (O(op=flip)); never flipped to.
    type: list
    elements: str
    default: []
  rows:
    description: This run's dependents rows (C(key), C(status), C(dependents)) (O(op=flip)).
    type: list
    elements: dict
    default: []
  failed:
    description: Keys whose change failed in this run or an earlier one settled now (O(op=flip)); the reason V(failed).
    type: list
    elements: str
    default: []
  unverified:
    description: Keys whose change a verification did not prove (O(op=flip)); the reason V(unverified).
    type: list
    elements: str
    default: []
  run_id:
    description: The run id, kept with each switch (O(op=flip)).
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Runs where the ledger is, the controller.
'''

EXAMPLES = r'''
- name: Which account of each logical credential this run rotates
  sailpoint_isc.passwords.rotation_alternate:
    op: expand
    ledger_path: /var/lib/rotation/ledger.json
    accounts:
      - alternate:
          name: app-db
          accounts:
            - {source_name: Oracle-DB, user_name: app_db_a}
            - {source_name: Oracle-DB, user_name: app_db_b}
    records:
      alternate:app-db: {active: Oracle-DB/app_db_a, confirmed: {Oracle-DB/app_db_a: 7f3c2a9e}}
  register: expanded
'''

RETURN = r'''
accounts:
  description: The accounts list with each C(alternate) row replaced by its inactive account's row (O(op=expand)).
  returned: when O(op=expand)
  type: list
  elements: dict
alternates:
  description:
    - Per logical credential C(name), C(key) (its store key, C(alternate:<name>)), C(accounts), C(active),
      C(inactive), C(user_name) (of the inactive account), C(confirmed), C(dependents) and C(again) (the inactive
      account's current password came from a change no flip has confirmed yet; its dependents are applied again).
  returned: when O(op=expand)
  type: list
  elements: dict
again:
  description: The inactive account keys whose dependents are applied again (O(op=expand)).
  returned: when O(op=expand)
  type: list
  elements: str
flips:
  description: The logical credentials that switch now, C(key), C(name), C(active) (the new one), C(previous),
    C(user_name), C(confirmed), C(attempt) (of the password switched to), C(run_id) and C(at) (O(op=flip)).
  returned: when O(op=flip)
  type: list
  elements: dict
decisions:
  description:
    - Per logical credential C(name), C(key), C(from) (the active account), C(to) (the inactive one), C(switched),
      C(reason) (why not - V(failed), V(unverified), V(unsettled), V(not due), V(rolled_back) or V(degraded) - or
      null), C(flip) (what RV(flips) holds for it, or null) and C(earlier) (a switch an earlier run made and no
      ledger recorded, C(from), C(to), C(attempt), C(run_id) and C(at), or null) (O(op=flip)). The role hands them
      to the record phase (the report and the ledger).
  returned: when O(op=flip)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import alternate
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger, RotationError, iso, utcnow


def main():
    module = AnsibleModule(argument_spec=dict(
        op=dict(type='str', required=True, choices=['expand', 'flip']),
        ledger_path=dict(type='path', required=True),
        accounts=dict(type='list', elements='dict', default=[]),
        records=dict(type='dict', default={}),
        alternates=dict(type='list', elements='dict', default=[]),
        committed=dict(type='list', elements='str', default=[], no_log=False),
        held=dict(type='list', elements='str', default=[], no_log=False),
        rows=dict(type='list', elements='dict', default=[]),
        failed=dict(type='list', elements='str', default=[], no_log=False),
        unverified=dict(type='list', elements='str', default=[], no_log=False),
        run_id=dict(type='str', default=''),
    ), supports_check_mode=True)
    params = module.params
    try:
        entries = Ledger(params['ledger_path']).load().accounts
        if params['op'] == 'expand':
            problems = alternate.check(params['accounts'])
            if problems:
                raise RotationError('; '.join(problems[:10]))
            rows, alternates = alternate.expand(params['accounts'], params['records'], entries)
            module.exit_json(changed=False, accounts=rows, alternates=alternates,
                             again=[a['inactive'] for a in alternates if a['again']])
        decisions = alternate.decide(params['alternates'], entries, params['committed'], params['held'], params['rows'],
                                     failed=params['failed'], unverified=params['unverified'],
                                     run_id=params['run_id'] or None, at=iso(utcnow()))
        module.exit_json(changed=False, decisions=decisions, flips=[d['flip'] for d in decisions if d['switched']])
    except (RotationError, OSError, ValueError) as exc:
        module.fail_json(msg='rotation_alternate %s failed: %s' % (params['op'], exc))


if __name__ == '__main__':
    main()
