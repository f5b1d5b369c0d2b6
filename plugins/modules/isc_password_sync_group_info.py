#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_sync_group_info
short_description: Read the password sync groups of SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Lists the password sync groups of the tenant, or one of them.
  - Each group comes back in the option form of M(sailpoint_isc.passwords.isc_password_sync_group)
    (the policy and the sources by name), plus its id, so the output can be written to a file and
    applied again, to the same tenant or to another one.
  - Reading sync groups works with an API client or a personal access token. The policy names are
    read from the password policies and the source names from the sources.
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.read_only
options:
  name:
    description:
      - The name or the id of one group. Unset means every group.
      - A name no group has gives an empty list, not an error.
    type: str
seealso:
  - module: sailpoint_isc.passwords.isc_password_sync_group
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Export the sync groups of the sandbox
  sailpoint_isc.passwords.isc_password_sync_group_info:
    tenant: acme-sb
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
  delegate_to: localhost
  register: groups

- name: Apply them to production
  sailpoint_isc.passwords.isc_password_sync_group:
    tenant: acme
    name: "{{ item.name }}"
    password_policy: "{{ item.password_policy }}"
    sources: "{{ item.sources }}"
  loop: "{{ groups.sync_groups }}"
  delegate_to: localhost

- name: Read one group
  sailpoint_isc.passwords.isc_password_sync_group_info:
    name: Unix Password Sync
  delegate_to: localhost
  register: unix
"""

RETURN = r"""
sync_groups:
  description: The groups, in ISC's order; empty when O(name) matches none.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The id of the group (not an option of the module; leave it out when applying).
      type: str
    name:
      description: The name of the group.
      type: str
    password_policy:
      description: The name of the group's password policy (its id when the policy is not found).
      type: str
    sources:
      description: The member sources by name (the id where ISC does not show the name).
      type: list
      elements: str
  sample:
    - id: 6881f631-3bd5-4213-9c75-8e05cc3e35dd
      name: Unix Password Sync
      password_policy: Unix policy
      sources: [Unix-LDAP, Unix-Kerberos]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_SYNC_GROUPS
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import report

OPTION_FORM = ('id', 'name', 'password_policy', 'sources')


def read(client, ref):
    groups = pc.list_all(client, OP_SYNC_GROUPS)
    if ref is not None:
        found = pc.find(groups, ref, 'password sync group')
        groups = [found] if found else []
    views = pc.sync_group_views(client, groups) if groups else []
    return {'sync_groups': [dict((k, v[k]) for k in OPTION_FORM) for v in views]}


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(name=dict(type='str')),
        supports_check_mode=True,
    )
    ref = module.params['name']
    if ref is not None and not ref.strip():
        module.fail_json(msg='name must not be empty: give a group name or id, or leave it unset for every group')
    report(module, lambda client: read(client, ref))


if __name__ == '__main__':
    main()
