#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_info
short_description: Query password information for an account on SailPoint Identity Security Cloud
version_added: 0.1.0
description:
  - Calls ISC's query-password-info operation for a user on a source and returns the identity,
    source, encryption key, accounts and password policy.
  - The policy strings ISC returns (C(passwordMinLength is 8) and so on) are also returned parsed
    into a dictionary.
  - Several queries can be run in one task with O(queries); they are pipelined under one rate
    limiter.
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.batch
  - sailpoint_isc.passwords.isc.read_only
options:
  user_name:
    description:
      - Login name of the user (ISC C(userName)), for example V(Abby.Smith).
      - Required with O(source_name) unless O(queries) is used.
    type: str
  source_name:
    description:
      - Display name of the source (ISC C(sourceName)), for example V(My-AD).
    type: str
  queries:
    description:
      - Batch form. A list of queries, answered in RV(results) in the same order.
      - Mutually exclusive with O(user_name) and O(source_name).
    type: list
    elements: dict
    suboptions:
      user_name:
        description: Login name of the user.
        type: str
        required: true
      source_name:
        description: Display name of the source.
        type: str
        required: true
notes:
  - The public key and key id are not secrets; they are what a client needs to encrypt a password
    for O(sailpoint_isc.passwords.isc_set_password#module:encrypted_password).
seealso:
  - module: sailpoint_isc.passwords.isc_set_password
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Query password info for one account
  sailpoint_isc.passwords.isc_password_info:
    base_url: https://acme.api.identitynow.com
    client_id: "{{ isc_client_id }}"
    client_secret: "{{ isc_client_secret }}"
    user_name: Abby.Smith
    source_name: My-AD
  delegate_to: localhost
  register: info

- name: Show the minimum length of the source's policy
  ansible.builtin.debug:
    msg: "{{ info.policy.min_length | default('not set') }}"

- name: Query many accounts in one task (connection set once for the group)
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      tenant: acme
      client_id: "{{ isc_client_id }}"
      client_secret: "{{ isc_client_secret }}"
  sailpoint_isc.passwords.isc_password_info:
    queries:
      - {user_name: svc-backup, source_name: Corp AD}
      - {user_name: svc-report, source_name: Corp AD}
    fail_on_item_error: false
  delegate_to: localhost
  register: infos
"""

RETURN = r"""
identity_id:
  description: ISC identity ID of the user (single form).
  returned: success, single form
  type: str
  sample: 2c9180835d2e5168015d32f890ca1581
source_id:
  description: ISC source ID (single form).
  returned: success, single form
  type: str
  sample: 2c918083670df373016835a78a9ed2e0
public_key_id:
  description: ID of the key to encrypt passwords with (single form).
  returned: success, single form
  type: str
public_key:
  description: Base64 DER RSA public key to encrypt passwords with (single form).
  returned: success, single form
  type: str
accounts:
  description: Accounts of the identity on the source (single form).
  returned: success, single form
  type: list
  elements: dict
  contains:
    account_id:
      description: Native account ID, to pass as O(sailpoint_isc.passwords.isc_set_password#module:account_id).
      type: str
    account_name:
      description: Account display name.
      type: str
policies:
  description: The policy strings exactly as ISC returned them (single form).
  returned: success, single form
  type: list
  elements: str
  sample: ["passwordRepeatedChar is 3", "passwordMinAlpha is 1", "passwordMinLength is 5"]
policy:
  description:
    - The policy strings parsed (single form). Keys are present only for rules ISC reported.
    - C(unknown) lists the policy strings this collection did not understand, and is empty (V([])) when it understood
      every one. Those rules are not checked when a password is validated or generated here, so ISC may still refuse
      a password for them; a non-empty list is worth reporting.
  returned: success, single form
  type: dict
  sample: {min_length: 5, min_alpha: 1, min_numeric: 1, max_repeated_chars: 3, unknown: []}
results:
  description:
    - Batch form; one entry per query in input order, with the single-form fields plus
      C(user_name) and C(source_name), or C(failed) true and C(msg) for a query that failed.
  returned: batch form
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import (
    check_not_empty, error_result, exit_batch, fail_isc, isc_argument_spec,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operations import password_info
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            user_name=dict(type='str'),
            source_name=dict(type='str'),
            queries=dict(type='list', elements='dict', options=dict(
                user_name=dict(type='str', required=True),
                source_name=dict(type='str', required=True),
            )),
            workers=dict(type='int', default=4),
            fail_on_item_error=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('queries', 'user_name'), ('queries', 'source_name')],
        required_one_of=[('user_name', 'queries')],
        required_together=[('user_name', 'source_name')],
        supports_check_mode=True,
    )
    p = module.params
    check_not_empty(module, {'user_name': p['user_name'], 'source_name': p['source_name']})
    for n, query in enumerate(p['queries'] or []):
        check_not_empty(module, query, prefix='queries[%d]: ' % n)
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module)
    preflight(module, client, 'password-info')  # rights.py: before any request but the token's
    if p['queries'] is None:
        try:
            result = password_info(client, p['user_name'], p['source_name'])
        except IscError as exc:
            fail_isc(module, exc)
        module.exit_json(changed=False, **result)

    answers = client.map(lambda q: password_info(client, q['user_name'], q['source_name']),
                         p['queries'], workers=p['workers'])
    results = []
    for query, ans in zip(p['queries'], answers):
        failure = isinstance(ans, Exception)
        results.append(dict(user_name=query['user_name'], source_name=query['source_name'], **error_result(ans)) if failure else ans)
    exit_batch(module, results, 'queries failed')


if __name__ == '__main__':
    main()
