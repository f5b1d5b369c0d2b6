#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_policy
short_description: Create, update or delete a password policy on SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Manages one password policy (ISC C(PasswordPolicyV3Dto)), matched by O(name).
  - Only the options you set are compared and sent; an option left unset is not managed and the
    tenant's value is kept. ISC's update replaces the whole policy, so the module reads the policy,
    lays the options you set over it and writes the result.
  - Every option has the same name as the key of RV(policy) and of the items of
    M(sailpoint_isc.passwords.isc_password_policy_info), so that module's output can be applied again.
  - Writing policies needs a user-context token, the personal access token (PAT) of an ORG_ADMIN
    user given as O(client_id)/O(client_secret); ISC answers 403 to an API client's token.
  - The module sends the C(X-SailPoint-Experimental) header where the API version requires it
    (V(v2024), V(v2025), V(v1)).
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reads the policies and sources and reports what would change; it sends no write.
  diff_mode:
    support: full
    details:
      - The diff holds only the options that change. A new policy shows the options given; a deleted
        one shows the whole policy before.
options:
  name:
    description:
      - The name of the policy (case-sensitive). It identifies the policy; two policies of one name
        make the task fail until one is renamed.
      - The id of an existing policy is accepted too; that policy then keeps its name.
    type: str
    required: true
  state:
    description:
      - V(present) creates the policy when no policy has O(name), or updates the options given.
      - V(absent) deletes it; nothing happens when there is none. ISC refuses to delete its default
        policy and a policy a password sync group uses.
    type: str
    choices: [present, absent]
    default: present
  sources:
    description:
      - The sources this policy governs, by name (as ISC spells it, case-sensitive) or id. Compared
        as a set.
      - Unset, the policy's sources are not managed. V([]) removes every source from the policy.
      - In ISC a source follows one policy; adding it here takes it from the policy it had.
    type: list
    elements: str
  description:
    description: A free text describing the policy. Unset, not managed, the tenant's value is kept.
    type: str
  min_length:
    description:
      - The fewest characters a password may have. ISC's default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  max_length:
    description:
      - The most characters a password may have; 0 means no maximum (as in SailPoint's examples).
        Must not be smaller than O(min_length) (or the tenant's value of it when O(min_length) is unset).
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_alpha:
    description:
      - The fewest letters a password must contain. ISC's default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_numeric:
    description:
      - The fewest digits a password must contain. ISC's default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_upper:
    description:
      - The fewest upper-case letters a password must contain. ISC's default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_lower:
    description:
      - The fewest lower-case letters a password must contain. ISC's default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_special:
    description:
      - The fewest special characters (neither letters nor digits) a password must contain. ISC's
        default is 0.
      - Unset, not managed, the tenant's value is kept.
    type: int
  min_character_types:
    description:
      - How many kinds of characters (for example upper case, lower case, digits, special) a password
        must mix, from 1 to 4. V(-1), ISC's default, means the rule is off.
      - Unset, not managed, the tenant's value is kept.
    type: int
  max_repeated_chars:
    description:
      - How often one character may repeat in a password. V(-1), ISC's default, means no limit.
      - Unset, not managed, the tenant's value is kept.
    type: int
  account_id_min_word_length:
    description:
      - The shortest part of the account id that counts when a password is checked against the
        account id (see O(validate_against_account_id)). V(-1), ISC's default, means not set.
      - Unset, not managed, the tenant's value is kept.
    type: int
  account_name_min_word_length:
    description:
      - The shortest part of the account name that counts when a password is checked against the
        account name (see O(validate_against_account_name)). V(-1), ISC's default, means not set.
      - Unset, not managed, the tenant's value is kept.
    type: int
  first_expiration_reminder:
    description:
      - How many days before a password expires ISC starts reminding its owner.
      - Unset, not managed, the tenant's value is kept.
    type: int
  password_expiration:
    description:
      - How many days a password stays valid (with O(enable_passwd_expiration)). ISC's default is 90.
      - Unset, not managed, the tenant's value is kept.
    type: int
  enable_passwd_expiration:
    description:
      - Whether passwords under this policy expire. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  default_policy:
    description:
      - Whether this is the tenant's default policy. ISC creates that policy with the tenant and sets
        this itself (V(false) on every other policy); leave it unset unless you restate the value ISC has.
      - Unset, not managed, the tenant's value is kept.
    type: bool
  require_strong_authn:
    description:
      - Whether changing a password under this policy requires strong authentication. ISC's default
        is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  require_strong_auth_off_network:
    description:
      - Whether strong authentication is required off the trusted network. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  require_strong_auth_untrusted_geographies:
    description:
      - Whether strong authentication is required from untrusted geographies. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  use_account_attributes:
    description:
      - Whether a password must not contain the account's attributes. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  use_dictionary:
    description:
      - Whether a password must not contain a word of the tenant's password dictionary (see
        M(sailpoint_isc.passwords.isc_password_dictionary)). ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  use_identity_attributes:
    description:
      - Whether a password must not contain the identity's attributes. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  validate_against_account_id:
    description:
      - Whether a password must not contain the account id. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  validate_against_account_name:
    description:
      - Whether a password must not contain the account name. ISC's default is V(false).
      - Unset, not managed, the tenant's value is kept.
    type: bool
  id:
    description:
      - Ignored. Read-only keys of M(sailpoint_isc.passwords.isc_password_policy_info)'s output, accepted
        so that output applies as it is. The policy is matched by O(name), never by this id (ids
        differ between tenants).
    type: str
  date_created:
    description: Ignored (read-only, see O(id)).
    type: raw
  last_updated:
    description: Ignored (read-only, see O(id)).
    type: raw
  created:
    description: Ignored (read-only, see O(id)).
    type: raw
  modified:
    description: Ignored (read-only, see O(id)).
    type: raw
seealso:
  - module: sailpoint_isc.passwords.isc_password_policy_info
  - module: sailpoint_isc.passwords.isc_password_sync_group
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: A strict policy for service accounts (writes need an ORG_ADMIN's personal access token)
  sailpoint_isc.passwords.isc_password_policy:
    base_url: https://acme.api.identitynow.com
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
    name: Service accounts
    description: Long random passwords, rotated by Ansible
    min_length: 24
    max_length: 64
    min_upper: 1
    min_lower: 1
    min_numeric: 1
    min_special: 1
    max_repeated_chars: 3
    use_dictionary: true
    sources:
      - Active Directory
      - 2c91808382ffee0b01830de154f14034
  delegate_to: localhost

- name: Raise only the minimum length, keep everything else as the tenant has it
  sailpoint_isc.passwords.isc_password_policy:
    name: Service accounts
    min_length: 32
  delegate_to: localhost

- name: Delete a policy
  sailpoint_isc.passwords.isc_password_policy:
    name: Old policy
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
changed:
  description: Whether the policy was (or, in check mode, would be) created, changed or deleted.
  returned: always
  type: bool
policy:
  description:
    - The policy as the tenant has it after the task (in check mode, as it would be), in the form of
      this module's options, plus C(id) and the timestamps ISC returned. Empty after O(state=absent).
    - A new policy in check mode has no C(id) and holds only the options given.
  returned: always
  type: dict
  sample:
    id: 2c91808e7d976f3b017d9f5ceae440c8
    name: Service accounts
    description: Long random passwords, rotated by Ansible
    min_length: 24
    max_length: 64
    use_dictionary: true
    sources: [Active Directory]
    date_created: 1639056206564
    last_updated: 1662385430753
diff:
  description: Before and after, only the options that change (returned with C(--diff)).
  returned: when diff mode is on
  type: dict
  sample:
    before: {min_length: 24}
    after: {min_length: 32}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_POLICIES, OP_POLICY
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource, execute


class Policy(Resource):
    """A PasswordPolicyV3Dto, matched by name (or id), replaced whole on PUT."""

    kind, result_key, collection_op, item_op = 'password policy', 'policy', OP_POLICIES, OP_POLICY

    def find(self):
        return pc.find(pc.list_all(self.client, OP_POLICIES), self.params['name'], 'password policy')

    def wanted(self, current):
        wanted = pc.declared(self.params, pc.POLICY_FIELDS)
        if self.params['sources'] is not None:
            wanted['sourceIds'] = pc.source_ids(self.client, self.params['sources'], 'sources')
        problem = pc.length_problem(wanted, current)
        if problem:
            self.module.fail_json(msg=problem)
        return wanted

    def new_body(self, wanted):
        return dict(wanted, name=self.params['name'])  # the order ISC has always been sent

    def gone(self, current):
        out = {'policy': {}}
        if current is not None and self.module._diff:
            before = pc.policy_options(current, pc.source_names(self.client, current.get('sourceIds') or []))
            out['diff'] = pc.whole_diff(before, {}, self.header(current))
        return out

    def result(self, current, after, changed):
        if current is None:  # created: the diff shows the body sent
            names = pc.source_names(self.client, after.get('sourceIds') or [])
            body = dict((field, value) for field, (_before, value) in changed.items())
            diff = pc.whole_diff({}, pc.policy_options(body, names), self.header(current))
        else:
            ids = set(after.get('sourceIds') or []) | set(current.get('sourceIds') or [])
            names = pc.source_names(self.client, sorted(ids))
            diff = pc.diff(pc.named_changes(changed, names), self.header(current))
        out = {'policy': pc.policy_options(after, names)}
        if self.module._diff:
            out['diff'] = diff
        return out


def main():
    options = dict(name=dict(type='str', required=True), state=dict(type='str', default='present', choices=['present', 'absent']),
                   sources=dict(type='list', elements='str'), id=dict(type='str'))
    options.update((key, dict(type='raw')) for key, _field in pc.POLICY_PASSTHROUGH)  # read-only: accepted, ignored
    options.update(pc.argument_spec(pc.POLICY_FIELDS))
    # settings of a policy, not secrets, although Ansible's no_log heuristic flags their names
    options['password_expiration'] = dict(type='int', no_log=False)
    options['enable_passwd_expiration'] = dict(type='bool', no_log=False)
    module = AnsibleModule(argument_spec=isc_argument_spec(**options), supports_check_mode=True)
    problem = pc.policy_problem(module.params)
    if problem:
        module.fail_json(msg=problem)
    execute(module, Policy)


if __name__ == '__main__':
    main()
