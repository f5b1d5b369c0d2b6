#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_digit_token
short_description: Generate a password-reset digit token on SailPoint Identity Security Cloud
version_added: 0.1.0
description:
  - Asks ISC for a one-time digit token that a user can use to reset their password, for example
    when a help desk verifies a locked-out user.
  - The operation is experimental in ISC; the module sends the C(X-SailPoint-Experimental) header
    itself (for O(api_version=v2024) and O(api_version=v1); V(beta) needs none and V(v3) does not
    have the operation).
  - The token is returned in RV(digit_token) for the caller to deliver. It never appears in the
    task's message or warnings, but Ansible shows module results unless the task has
    C(no_log=true); register the result on a task with C(no_log=true), as in the examples.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode validates the options and the credentials but generates no token (RV(digit_token) is null).
  diff_mode:
    support: none
options:
  user_id:
    description:
      - The user to generate the token for (ISC C(userId), the user's login name, for example V(Abby.Smith)).
    type: str
    required: true
  length:
    description:
      - Number of digits, from 6 to 18.
    type: int
    default: 6
  duration_minutes:
    description:
      - How long the token stays valid, from 1 to 60 minutes.
    type: int
    default: 5
notes:
  - Each run generates a new token, so C(changed) is true whenever a token was generated.
  - The tenant's password configuration must allow digit tokens (C(digitTokenEnabled)).
seealso:
  - name: ISC password org config
    description: Where digit tokens are enabled for the tenant.
    link: https://developer.sailpoint.com/docs/api/v2024/get-password-org-config/
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Generate an 8-digit token for a locked-out user
  sailpoint_isc.passwords.isc_digit_token:
    tenant: acme
    client_id: "{{ isc_client_id }}"
    client_secret: "{{ isc_client_secret }}"
    user_id: Abby.Smith
    length: 8
    duration_minutes: 10
  delegate_to: localhost
  no_log: true
  register: token

- name: Hand the token to the help-desk ticket (not printed)
  ansible.builtin.uri:
    url: https://helpdesk.example.com/api/tickets/42/secret
    method: POST
    body_format: json
    body:
      token: "{{ token.digit_token }}"
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
digit_token:
  description:
    - The token, as a string of digits (leading zeros kept). Null in check mode.
    - Register the task with C(no_log=true) so that it is not shown in the output.
  returned: success
  type: str
  sample: "09087713"
request_id:
  description: ISC's ID of the token request.
  returned: success, not in check mode
  type: str
  sample: e1267ecd-fcd9-4c73-9c55-12555efad136
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_DIGIT, operation_path
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import check_not_empty, fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import ORG_CONFIG_RANGES
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            user_id=dict(type='str', required=True),
            length=dict(type='int', default=6),
            duration_minutes=dict(type='int', default=5),
        ),
        supports_check_mode=True,
    )
    p = module.params
    check_not_empty(module, {'user_id': p['user_id']})
    low, high = ORG_CONFIG_RANGES['digit_token_length']  # ISC's limits, one home, checked against its documents
    if not low <= p['length'] <= high:
        module.fail_json(msg='length must be between %d and %d digits (got %d)' % (low, high, p['length']))
    low, high = ORG_CONFIG_RANGES['digit_token_duration_minutes']
    if not low <= p['duration_minutes'] <= high:
        module.fail_json(msg='duration_minutes must be between %d and %d (got %d)' % (low, high, p['duration_minutes']))
    try:
        operation_path(p['api_version'], OP_DIGIT)
    except IscError as exc:
        fail_isc(module, exc)
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module)
    preflight(module, client, 'digit-token')  # rights.py: before any request but the token's
    if module.check_mode:
        try:
            client.authenticate()
        except IscError as exc:
            fail_isc(module, exc)
        module.exit_json(changed=True, digit_token=None, request_id=None)
    try:
        answer = client.generate_digit_token(p['user_id'], p['length'], p['duration_minutes'])
    except IscError as exc:
        fail_isc(module, exc)
    token = answer.get('digitToken')
    if not token:
        module.fail_json(msg='generate-digit-token: ISC answered without a token')
    module.exit_json(changed=True, digit_token=token, request_id=answer.get('requestId'))


if __name__ == '__main__':
    main()
