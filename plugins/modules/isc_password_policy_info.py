#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_policy_info
short_description: Read the password policies of SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Lists the tenant's password policies, or one policy by name or id.
  - Each policy is returned in the form of the options of M(sailpoint_isc.passwords.isc_password_policy)
    (snake_case, sources by name), so an item applies again as it is, for example to copy a policy
    from a sandbox tenant to production.
  - Reading policies works with an API client (client credentials) or a personal access token.
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.read_only
options:
  name:
    description:
      - The name (case-sensitive) or id of one policy. RV(policies) is empty when none matches.
      - Unset, every policy is returned.
    type: str
seealso:
  - module: sailpoint_isc.passwords.isc_password_policy
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Every password policy of the tenant
  sailpoint_isc.passwords.isc_password_policy_info:
    base_url: https://acme.api.identitynow.com
    client_id: "{{ lookup('ansible.builtin.env', 'SAIL_CLIENT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'SAIL_CLIENT_SECRET') }}"
  delegate_to: localhost
  register: all_policies

- name: One policy by name
  sailpoint_isc.passwords.isc_password_policy_info:
    name: Service accounts
  delegate_to: localhost
  register: service_policy

- name: Apply the policies read from a sandbox tenant to this one
  sailpoint_isc.passwords.isc_password_policy: "{{ item }}"
  loop: "{{ sandbox_policies.policies }}"
  loop_control:
    label: "{{ item.name }}"
  delegate_to: localhost
"""

RETURN = r"""
policies:
  description:
    - The policies in ISC's order (one or none with O(name)), each with the options of
      M(sailpoint_isc.passwords.isc_password_policy) that ISC returned, plus C(id) and the timestamps.
    - C(id), C(date_created), C(last_updated), C(created) and C(modified) are read-only;
      M(sailpoint_isc.passwords.isc_password_policy) accepts and ignores them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The policy's id.
      type: str
    name:
      description: The policy's name.
      type: str
    description:
      description: The policy's description (null when it has none).
      type: str
    sources:
      description: The sources the policy governs, by name (by id where ISC does not show the name).
      type: list
      elements: str
    min_length:
      description: >-
        The integer settings, each under its option name of M(sailpoint_isc.passwords.isc_password_policy):
        min_length, max_length, min_alpha, min_numeric, min_upper, min_lower, min_special,
        min_character_types, max_repeated_chars, account_id_min_word_length, account_name_min_word_length,
        first_expiration_reminder, password_expiration.
      type: int
    use_dictionary:
      description: >-
        The true/false settings, each under its option name: enable_passwd_expiration, default_policy,
        require_strong_authn, require_strong_auth_off_network, require_strong_auth_untrusted_geographies,
        use_account_attributes, use_dictionary, use_identity_attributes, validate_against_account_id,
        validate_against_account_name.
      type: bool
    date_created:
      description:
        - When the policy was created, as ISC returns it. V(v2024), V(v2025) and V(v1) give milliseconds
          since 1970 (an integer), V(v3) and V(beta) a date-time string.
      type: raw
      returned: when ISC returns it
    last_updated:
      description: When the policy was last changed, in the form of RV(policies[].date_created).
      type: raw
      returned: when ISC returns it
    created:
      description: ISC's C(created) field, as returned.
      type: str
      returned: when ISC returns it
    modified:
      description: ISC's C(modified) field, as returned.
      type: str
      returned: when ISC returns it
  sample:
    - id: 2c91808e7d976f3b017d9f5ceae440c8
      name: Service accounts
      description: Long random passwords, rotated by Ansible
      min_length: 24
      max_length: 64
      min_character_types: -1
      use_dictionary: true
      default_policy: false
      sources: [Active Directory]
      date_created: 1639056206564
      last_updated: 1662385430753
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_POLICIES
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import report


def read(client, name):
    policies = pc.list_all(client, OP_POLICIES)
    if name is not None:
        found = pc.find(policies, name, 'password policy')
        policies = [found] if found is not None else []
    names = pc.source_names(client, sorted(set(i for p in policies for i in p.get('sourceIds') or [])))
    return {'policies': [pc.policy_options(p, names) for p in policies]}


def main():
    module = AnsibleModule(argument_spec=isc_argument_spec(name=dict(type='str')), supports_check_mode=True)
    name = module.params['name']
    if name is not None and not name.strip():
        module.fail_json(msg='name is empty: give the name or id of a password policy, or leave name out for all')
    report(module, lambda client: read(client, name))


if __name__ == '__main__':
    main()
