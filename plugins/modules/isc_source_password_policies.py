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
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_POLICIES, OP_SOURCE_POLICIES, OP_SOURCE_POLICIES_UPDATE,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy_holders import (
    comparable, version_problem, views,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import EXPORT_JOB, preflight


def check_input(module):
    """Bad input fails before anything is sent."""
    p = module.params
    if not (p['source'] or '').strip():
        module.fail_json(msg='source must not be empty: give the source by display name or id')
    if p['state'] == 'absent' and p['holders'] is not None:
        module.fail_json(msg='state=absent removes every holder: leave holders unset (or use holders: [] with state=present)')
    seen, whole = {}, None
    for n, holder in enumerate(p['holders'] or ()):
        if not (holder['policy'] or '').strip():
            module.fail_json(msg='holders[%d].policy must not be empty: give a policy name or id' % n)
        pairs = [(a['name'], a['value']) for a in ((holder.get('selectors') or {}).get('identity_attr') or ())]
        if any(not (name or '').strip() for name, _v in pairs):
            module.fail_json(msg='holders[%d].selectors.identity_attr has an attribute without a name' % n)
        ident = (holder['policy'], tuple(sorted(pairs)))
        if ident in seen:
            module.fail_json(msg='holders[%d] repeats holders[%d] (same policy, same selectors): drop one' % (n, seen[ident]))
        seen[ident] = n
        if not pairs:
            if whole is not None:
                module.fail_json(msg='holders[%d] and holders[%d] both lack selectors: only one policy can hold the '
                                 'whole source; give the other one selectors (selectors.identity_attr)' % (whole, n))
            whole = n


def wanted_holders(module, client, holders, policies):
    """The holders as ISC takes them: policy id and name, and selectors when the policy applies to some
    identities only. A holder of every identity has no selectors key: the documents' schema types
    selectors as an object (their example shows null, which the schema does not allow)."""
    names = pc.policy_names(policies)
    body = []
    for holder in holders:
        pid = pc.policy_id(client, holder['policy'], policies, module)
        identity_attr = [{'name': a['name'], 'value': a['value']}
                         for a in ((holder.get('selectors') or {}).get('identity_attr') or ())]
        entry = {'policyId': pid, 'policyName': names.get(pid)}
        if identity_attr:
            entry['selectors'] = {'identityAttr': identity_attr}
        body.append(entry)
    return body


def run(module, client):
    p = module.params
    source_id = pc.source_ids(client, [p['source']], 'source')[0]
    source = pc.source_names(client, [source_id]).get(source_id, source_id)
    current = [h for h in pc.list_all(client, OP_SOURCE_POLICIES, source_id) if isinstance(h, dict)]
    policies = pc.list_all(client, OP_POLICIES)
    wanted = wanted_holders(module, client, p['holders'] or [], policies)
    default_id = ([pol.get('id') for pol in policies if pol.get('defaultPolicy')] or [None])[0]
    changed = comparable(current, default_id) != comparable(wanted, default_id)
    result = current
    if changed:
        result = wanted
        if not module.check_mode:
            answer = client.call_json(OP_SOURCE_POLICIES_UPDATE, 'PATCH', source_id, json_body=wanted, shape=list)
            result = [h for h in answer if isinstance(h, dict)] if answer is not None else wanted
    out = dict(changed=changed, source=source, source_id=source_id, holders=views(result, policies))
    if changed:
        out['diff'] = pc.diff({'holders': (current, wanted)}, 'password-policy holders of %s' % source)
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
    problem = version_problem('isc_source_password_policies', module.params['api_version'])
    if problem:
        module.fail_json(msg=problem)
    check_input(module)
    client = IscClient.from_module(module)
    preflight(module, client, EXPORT_JOB if module.check_mode else 'password-config')  # rights.py: before any request but the token's
    try:
        result = run(module, client)
    except IscError as exc:
        fail_isc(module, exc, changed=False)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
