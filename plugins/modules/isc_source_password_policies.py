#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_source_password_policies
short_description: Manage which password policies apply to which identities on one ISC source
version_added: 0.2.0
description:
  - Sets the password-policy holders of one source of SailPoint Identity Security Cloud, the list
    that says which password policy applies to which identities of the source, chosen by identity
    attribute selectors (for example country C(Canada) gets one policy, everyone else another).
  - Exact list semantics. O(holders) is the whole list the source gets; a holder the tenant has and
    the list lacks is removed. The list is compared without regard to order (the order of the holders
    and of the attributes in a selector), because SailPoint's documents give the order no meaning; when
    something differs the list is sent in the order given.
  - Needs O(api_version=v2025) or O(api_version=v1). Only these versions can read the holders of a
    source; V(v2024) can only write them, so the module could not compare and every run would be a
    change; V(v3) and V(beta) have neither operation. The module fails before sending anything on
    the other versions.
  - Reading the holders needs a user-context token (the personal access token, PAT, of an ORG_ADMIN
    or a source admin), because SailPoint's documents allow that read for user tokens only; an API
    client gets 403 there. Writing them needs the C(idn:sources:manage) scope.
  - A holder without selectors holds the whole source, so at most one holder may lack selectors. When
    O(holders) has none, the identities no selector matches follow the tenant's default policy; ISC
    lists that policy as the source's holder without selectors, and the module counts it as the same
    list (no change).
  - Members of a password sync group follow the group's policy, whatever their holders say, and ISC
    shows the group's policy as their holder without selectors; manage their policy with
    M(sailpoint_isc.passwords.isc_password_sync_group).
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reads the holders and reports what would change; it sends no write.
  diff_mode:
    support: full
    details: The diff shows the holders before and after, as ISC stores them (policy id and name, selectors).
options:
  source:
    description: The source, by display name or id.
    type: str
    required: true
  holders:
    description:
      - The whole list of policy holders of the source. V([]) removes every holder.
      - Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      policy:
        description: The password policy, by name or id.
        type: str
        required: true
      selectors:
        description:
          - Which identities of the source the policy applies to. Unset (or no attribute) means every
            identity of the source.
        type: dict
        suboptions:
          identity_attr:
            description:
              - Identity attributes an identity must have; compared without regard to order.
            type: list
            elements: dict
            default: []
            suboptions:
              name:
                description: The name of the identity attribute, for example C(country).
                type: str
                required: true
              value:
                description: Its value, for example C(Canada).
                type: str
                required: true
  state:
    description:
      - V(present) makes the source's holders exactly O(holders).
      - V(absent) removes every holder of the source, the same as O(holders=[]); O(holders) must then
        be unset. Every identity of the source then follows the tenant's default policy, which ISC lists
        as the source's only holder.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: sailpoint_isc.passwords.isc_password_sync_group
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Canadian staff get the strict policy on Corp-AD, everyone else the standard one
  sailpoint_isc.passwords.isc_source_password_policies:
    tenant: acme
    api_version: v2025
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
    source: Corp-AD
    holders:
      - policy: Strict policy
        selectors:
          identity_attr:
            - {name: country, value: Canada}
      - policy: Standard policy
  delegate_to: localhost

- name: Remove every holder of a retired source
  sailpoint_isc.passwords.isc_source_password_policies:
    api_version: v1
    source: Old-LDAP
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
source:
  description: The source's display name (its id when ISC does not show the name).
  returned: always
  type: str
  sample: Corp-AD
source_id:
  description: The source's id.
  returned: always
  type: str
  sample: 2c918084660f45d6016617daa9210584
holders:
  description: The holders of the source after the task (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
  contains:
    policy:
      description: The name of the policy (its id when the policy is not found).
      type: str
    policy_id:
      description: The id of the policy.
      type: str
    selectors:
      description: The identities the policy applies to; null means every identity of the source.
      type: dict
      contains:
        identity_attr:
          description: The identity attributes, each C({name, value}).
          type: list
          elements: dict
  sample:
    - policy: Strict policy
      policy_id: 2c91808e7d976f3b017d9f5ceae440c8
      selectors: {identity_attr: [{name: country, value: Canada}]}
    - policy: Standard policy
      policy_id: 2c91808e7d976f3b017d9f5ceae44111
      selectors: null
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy_holders as ph
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_POLICIES, OP_SOURCE_POLICIES, OP_SOURCE_POLICIES_UPDATE,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource, execute


class Holders(Resource):
    """The password-policy holders of one source: always there (state=absent is the empty list), compared
    without regard to order, replaced whole by a PATCH."""

    absent = False

    def find(self):
        self.source_id = pc.source_ids(self.client, [self.params['source']], 'source')[0]
        self.source = pc.source_names(self.client, [self.source_id]).get(self.source_id, self.source_id)
        current = [h for h in pc.list_all(self.client, OP_SOURCE_POLICIES, self.source_id) if isinstance(h, dict)]
        self.policies = pc.list_all(self.client, OP_POLICIES)
        return current

    def wanted(self, current):
        return ph.wanted(self.params['holders'] or [], self.policies,
                         lambda ref: pc.policy_id(self.client, ref, self.policies, self.module))

    def changes(self, wanted, current):
        default_id = ([pol.get('id') for pol in self.policies if pol.get('defaultPolicy')] or [None])[0]
        return {} if ph.comparable(current, default_id) == ph.comparable(wanted, default_id) else {'holders': (current, wanted)}

    def expected(self, current, wanted):
        return wanted

    def update_body(self, current, wanted, changed):
        return wanted

    def update(self, current, body, fallback):
        answer = self.client.call_json(OP_SOURCE_POLICIES_UPDATE, 'PATCH', self.source_id, json_body=body, shape=list)
        return [h for h in answer if isinstance(h, dict)] if answer is not None else fallback

    def result(self, current, after, changed):
        out = dict(source=self.source, source_id=self.source_id, holders=ph.views(after, self.policies))
        if changed:
            out['diff'] = pc.diff(changed, 'password-policy holders of %s' % self.source)
        return out


def main():
    attr_spec = dict(name=dict(type='str', required=True), value=dict(type='str', required=True))
    selectors_spec = dict(identity_attr=dict(type='list', elements='dict', default=[], options=attr_spec))
    holder_spec = dict(policy=dict(type='str', required=True),
                       selectors=dict(type='dict', options=selectors_spec))
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            source=dict(type='str', required=True),
            holders=dict(type='list', elements='dict', options=holder_spec),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        required_if=[('state', 'present', ('holders',))],
        supports_check_mode=True,
    )
    problem = ph.version_problem('isc_source_password_policies', module.params['api_version']) or ph.input_problem(module.params)
    if problem:
        module.fail_json(msg=problem)
    execute(module, Holders)


if __name__ == '__main__':
    main()
