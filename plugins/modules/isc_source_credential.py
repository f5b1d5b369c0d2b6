#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_source_credential
short_description: Rotate the credential a SailPoint ISC source uses to log on to its system
version_added: 0.1.0
description:
  - Rotates the service account credential of one ISC source (the user name and password in its connector
    configuration), proves the source still connects with C(check-connection), and rolls back when it does
    not. See C(docs/connector-credentials.md).
  - It works in two stages so that the new password is escrowed in between, before anything is sent.
    O(stage=plan) only reads; O(stage=apply) writes. The playbook C(sailpoint_isc.passwords.rotate_source_credential)
    runs store, plan, escrow, apply and commit in that order; use it rather than this module alone.
  - O(stage=plan) refuses a source whose password attribute holds a Credential Provider reference
    (C(secrets://...)) and a source whose check-connection does not answer C(SUCCESS), changing nothing.
  - The source operations use the per-resource C(v1) paths whatever O(api_version) says.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: O(stage=plan) reads and reports what would change, without a new password; O(stage=apply) changes nothing.
  diff_mode:
    support: full
    details: The user name before and after; a password is never shown.
options:
  stage:
    description: C(plan) reads and decides; C(apply) changes the account and the source.
    type: str
    choices: [plan, apply]
    default: plan
  source_id:
    description: The source's ID. One of O(source_id) and O(source_name) is required.
    type: str
  source_name:
    description: The source's display name (looked up when O(source_id) is not given).
    type: str
  user_pointer:
    description:
      - The JSON Pointer of the attribute that holds the user name the source logs on with, for example
        C(/connectorAttributes/user). It depends on the connector and is never guessed.
    type: str
    required: true
  password_pointer:
    description: The JSON Pointer of the attribute that holds its password, for example C(/connectorAttributes/password).
    type: str
    required: true
  strategy:
    description:
      - C(alternate) - two bind accounts; the one the source does not use gets the new password and becomes
        active. A failed check sets the source back to the other account, whose password was not touched.
      - C(same_account) - one account; its password changes and the source follows. A failed check is rolled
        back only when the old password is accepted again.
    type: str
    choices: [alternate, same_account]
    default: alternate
  accounts:
    description: The bind accounts, two for C(alternate), one for C(same_account).
    type: list
    elements: dict
    required: true
    suboptions:
      user:
        description: The value of O(user_pointer) when the source uses this account.
        type: str
        required: true
      key:
        description: The account's key in the secret store (returned as RV(target_key) and RV(active_key)).
        type: str
      user_name:
        description: With O(set_via=isc), the ISC identity name of the account (as for set-password).
        type: str
      source_name:
        description: With O(set_via=isc), the ISC source the account is on.
        type: str
      account_id:
        description: With O(set_via=isc), the account ID when the identity has several accounts there.
        type: str
      password:
        description: The account's current password (from the store); needed for the account a rollback returns to.
        type: str
  set_via:
    description:
      - C(isc) - the target account's password is changed through ISC set-password (the account is correlated
        to an identity in ISC), and the new password follows that source's policy.
      - C(caller) - the caller changed it already (the playbook's O(set_via) task file) before O(stage=apply).
    type: str
    choices: [isc, caller]
    default: isc
  password:
    description: O(stage=apply) - the new password, as escrowed.
    type: str
  attempt:
    description: O(stage=apply) - the escrow attempt id the plan returned.
    type: str
  target_user:
    description: O(stage=apply) - RV(target_user) of the plan.
    type: str
  resume_user:
    description:
      - O(stage=plan) - the account that holds an escrowed (pending) password of an earlier run; the run then
        settles it instead of making a new one, and does not refuse on a failed preflight (the earlier run may
        have stopped half-way).
    type: str
  ledger_path:
    description: A JSON file recording per source the last rotation, its outcome and the active account.
    type: path
  max_age_days:
    description: A source rotated (by this ledger) fewer days ago is not due.
    type: float
    default: 30
  force:
    description: Rotate even when not due.
    type: bool
    default: false
  password_length:
    description: The length of a new password (0 - the policy's minimum length, at least 20; within the policy's limits).
    type: int
    default: 0
  check_retries:
    description: How many check-connection attempts after a change before it counts as failed.
    type: int
    default: 3
  check_delay:
    description: Seconds between check-connection attempts.
    type: float
    default: 5
  wait_timeout:
    description: Seconds to wait for the set-password of the target account.
    type: int
    default: 300
  poll_interval:
    description: Seconds between status reads of that set-password; the first reads come sooner (after 1 s, then twice as long each time, up to this).
    type: int
    default: 5
seealso:
  - module: sailpoint_isc.passwords.isc_set_password
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Plan the rotation of Corp-LDAP's bind credential
  sailpoint_isc.passwords.isc_source_credential:
    source_name: Corp-LDAP
    user_pointer: /connectorAttributes/user
    password_pointer: /connectorAttributes/password
    accounts:
      - {user: "uid=svc-isc-a,ou=services,dc=corp", user_name: svc-isc-a, source_name: Corp-LDAP, key: Corp-LDAP/svc-isc-a,
         password: "{{ current_a }}"}
      - {user: "uid=svc-isc-b,ou=services,dc=corp", user_name: svc-isc-b, source_name: Corp-LDAP, key: Corp-LDAP/svc-isc-b}
    ledger_path: /var/lib/isc/source-credentials.json
  register: plan
  no_log: true

# Then escrow plan.new_password for plan.target_key (playbooks/rotate_source_credential.yml does all of this)
- name: Apply it
  sailpoint_isc.passwords.isc_source_credential:
    stage: apply
    source_id: "{{ plan.source_id }}"
    user_pointer: /connectorAttributes/user
    password_pointer: /connectorAttributes/password
    accounts: "{{ accounts }}"
    target_user: "{{ plan.target_user }}"
    password: "{{ plan.new_password }}"
    attempt: "{{ plan.attempt }}"
  no_log: true
"""

RETURN = r"""
source_id:
  description: The source's ID.
  returned: success
  type: str
source_name:
  description: The source's name.
  returned: success
  type: str
due:
  description: O(stage=plan) - whether a rotation is due.
  returned: stage plan
  type: bool
reason:
  description: Why it is (not) due.
  returned: stage plan
  type: str
preflight:
  description: What the preflight check-connection answered.
  returned: stage plan
  type: str
active_user:
  description: The account the source logs on with (after O(stage=apply), the one it uses now).
  returned: success
  type: str
active_key:
  description: O(stage=plan) - its store key.
  returned: stage plan
  type: str
target_user:
  description: The account that gets the new password.
  returned: success
  type: str
target_key:
  description: O(stage=plan) - its store key (escrow the new password under it).
  returned: stage plan
  type: str
attempt:
  description: The escrow attempt id.
  returned: when due
  type: str
new_password:
  description: O(stage=plan), when due and not in check mode - the new password, to escrow. Register with C(no_log).
  returned: when due
  type: str
outcome:
  description: O(stage=apply) - C(rotated), C(rolled_back) or C(failed).
  returned: stage apply
  type: str
store_action:
  description: O(stage=apply) - what to do with the escrowed password - C(commit), C(discard) or C(keep).
  returned: stage apply
  type: str
check:
  description: O(stage=apply) - what check-connection answered after the change.
  returned: stage apply
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_SOURCE, serves
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.source_credential import SourceCredential


def main():
    account_spec = dict(user=dict(type='str', required=True), key=dict(type='str', no_log=False),
                        user_name=dict(type='str'), source_name=dict(type='str'), account_id=dict(type='str'),
                        password=dict(type='str', no_log=True))
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            stage=dict(type='str', choices=['plan', 'apply'], default='plan'),
            source_id=dict(type='str'), source_name=dict(type='str'),
            user_pointer=dict(type='str', required=True), password_pointer=dict(type='str', required=True, no_log=False),
            strategy=dict(type='str', choices=['alternate', 'same_account'], default='alternate'),
            accounts=dict(type='list', elements='dict', required=True, options=account_spec),
            set_via=dict(type='str', choices=['isc', 'caller'], default='isc'),
            password=dict(type='str', no_log=True), attempt=dict(type='str'), target_user=dict(type='str'),
            resume_user=dict(type='str'), ledger_path=dict(type='path'),
            max_age_days=dict(type='float', default=30), force=dict(type='bool', default=False),
            password_length=dict(type='int', default=0, no_log=False),
            check_retries=dict(type='int', default=3), check_delay=dict(type='float', default=5),
            wait_timeout=dict(type='int', default=300), poll_interval=dict(type='int', default=5),
        ),
        required_one_of=[('source_id', 'source_name')],
        required_if=[('stage', 'apply', ('password', 'attempt', 'target_user'))],
        supports_check_mode=True,
    )
    p = module.params
    want = 2 if p['strategy'] == 'alternate' else 1
    if len(p['accounts']) != want:
        module.fail_json(msg='accounts: strategy %s needs %d account(s), got %d' % (p['strategy'], want, len(p['accounts'])))
    users = [a['user'] for a in p['accounts']]
    if len(set(users)) != len(users) or not all(u.strip() for u in users):
        module.fail_json(msg='accounts[].user must be non-empty and different from each other')
    if p['set_via'] == 'isc':
        for n, account in enumerate(p['accounts']):
            if not (account.get('user_name') and account.get('source_name')):
                module.fail_json(msg='accounts[%d]: set_via=isc needs user_name and source_name (the ISC account '
                                     'whose password set-password changes); or use set_via=caller' % n)
    if p['check_retries'] < 1 or p['check_delay'] < 0 or p['max_age_days'] < 0:
        module.fail_json(msg='check_retries must be >= 1, check_delay and max_age_days >= 0')
    overrides = {} if serves(p['api_version'], OP_SOURCE) else {'api_version': 'v1'}
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module, **overrides)
    preflight(module, client, 'source-credential')  # rights.py: before any request but the token's
    rotation = SourceCredential(client, p, check_mode=module.check_mode)
    try:
        if p['stage'] == 'plan':
            result = rotation.plan()
            diff = result.pop('diff')
            module.exit_json(diff=diff, **result)
        if module.check_mode:
            module.exit_json(changed=True, outcome='check_mode', target_user=p['target_user'])
        module.exit_json(**rotation.apply(p['password'], p['attempt']))
    except IscError as exc:
        fail_isc(module, exc, changed=p['stage'] == 'apply')


if __name__ == '__main__':
    main()
