#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_source_password_policies_info
short_description: Read which password policies apply to which identities on ISC sources
version_added: 0.2.0
description:
  - Reads the password-policy holders of sources of SailPoint Identity Security Cloud (which policy
    applies to which identities, by identity attribute selectors) and returns them in the form
    M(sailpoint_isc.passwords.isc_source_password_policies) takes, one item per source, so they can be
    exported to a file and applied to another tenant.
  - Needs O(api_version=v2025) or O(api_version=v1), the only versions that can read the holders, and a
    user-context token (the personal access token, PAT, of an ORG_ADMIN or a source admin), because
    SailPoint's documents allow that read for user tokens only.
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.read_only
options:
  sources:
    description:
      - The sources to read, by display name or id. Unset reads every source of the tenant (one request
        per source).
    type: list
    elements: str
  selectors_only:
    description:
      - Return only the sources where at least one policy is chosen by identity attributes.
      - A source without selectors is held by one policy for all its identities, the link that
        O(sailpoint_isc.passwords.isc_password_policy#module:sources) already declares (or the default
        policy), so an export needs only the sources with selectors.
    type: bool
    default: false
seealso:
  - module: sailpoint_isc.passwords.isc_source_password_policies
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Read the holders of two sources
  sailpoint_isc.passwords.isc_source_password_policies_info:
    api_version: v2025
    sources: [Corp-AD, My-AD]
  register: holders
  delegate_to: localhost

- name: Every source whose policies depend on identity attributes
  sailpoint_isc.passwords.isc_source_password_policies_info:
    api_version: v1
    selectors_only: true
  register: by_attribute
  delegate_to: localhost
"""

RETURN = r"""
source_password_policies:
  description:
    - One item per source, in the option form of M(sailpoint_isc.passwords.isc_source_password_policies)
      (O(sources) order, or the tenant's order of sources).
  returned: success
  type: list
  elements: dict
  contains:
    source:
      description: The source's display name.
      type: str
    holders:
      description: The holders, each with C(policy) (its name) and C(selectors) (null for every identity).
      type: list
      elements: dict
  sample:
    - source: Corp-AD
      holders:
        - policy: Strict policy
          selectors: {identity_attr: [{name: country, value: Canada}]}
        - policy: Standard policy
          selectors: null
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_POLICIES, OP_SOURCE_POLICIES, OP_SOURCES,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy_holders import version_problem, views
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import report


def read(client, refs, selectors_only):
    if refs is None:
        sources = [(s['id'], s.get('name') or s['id']) for s in pc.list_all(client, OP_SOURCES)
                   if isinstance(s, dict) and s.get('id')]
    else:
        ids = pc.source_ids(client, refs)
        names = pc.source_names(client, ids)
        sources = [(i, names.get(i, i)) for i in ids]
    policies = pc.list_all(client, OP_POLICIES)
    items = []
    for source_id, name in sources:
        holders = [h for h in pc.list_all(client, OP_SOURCE_POLICIES, source_id) if isinstance(h, dict)]
        view = views(holders, policies, with_ids=False)
        if selectors_only and not any(h['selectors'] for h in view):
            continue
        items.append({'source': name, 'holders': view})
    return items


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(sources=dict(type='list', elements='str'),
                                        selectors_only=dict(type='bool', default=False)),
        supports_check_mode=True,
    )
    problem = version_problem('isc_source_password_policies_info', module.params['api_version'], compares=False)
    if problem:
        module.fail_json(msg=problem)
    refs = module.params['sources']
    if refs is not None and any(not (r or '').strip() for r in refs):
        module.fail_json(msg='sources has an empty entry: give each source by display name or id')
    report(module, lambda client: {'source_password_policies': read(client, refs, module.params['selectors_only'])})


if __name__ == '__main__':
    main()
