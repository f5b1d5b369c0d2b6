#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_org_config
short_description: Manage the password org config of SailPoint Identity Security Cloud (digit tokens, custom instructions)
version_added: 0.2.0
description:
  - Declares the tenant-wide password settings of ISC (C(PasswordOrgConfig)), that is whether digit tokens
    are allowed, how long they are valid and how many digits they have, and whether custom password
    instructions are enabled.
  - Only the options you set are compared and sent; an option left unset is not managed and the tenant's
    value is kept. A run with no option set only reads the config.
  - The module reads the config first (C(GET /password-org-config)). When the tenant has none yet (ISC
    answers 404 or an empty object), it creates one with C(POST) from the options you set, and ISC gives the
    others their defaults. Otherwise it sends C(PUT) with only the fields that differ; ISC documents this
    C(PUT) as a partial update (the fields not sent keep their value), so nothing else is touched.
  - There is no O(ignore:state) option, because a tenant always has one org config; it cannot be deleted,
    only changed. To go back to ISC's defaults, set them (V(false), V(false), V(5), V(6)).
  - The digit-token settings bound what M(sailpoint_isc.passwords.isc_digit_token) may ask for. When
    O(digit_token_enabled=false) that module gets no token, and its C(length) and C(duration_minutes)
    have to stay within what the tenant allows here.
  - Reading and writing work with an API client (client credentials, scopes
    C(idn:password-org-config:read) and C(idn:password-org-config:manage)) or with a personal access token
    of an C(ORG_ADMIN).
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reads the config and reports what would change (and RV(org_config) as it would be), but sends no write.
  diff_mode:
    support: full
    details: The diff holds only the settings that change, under the names of the options (for example C(digit_token_length)).
options:
  custom_instructions_enabled:
    description:
      - Whether custom password instructions are enabled (ISC C(customInstructionsEnabled)). They must be
        enabled before custom password instructions can be used.
      - Not set means not managed, the tenant's value is kept (ISC's default is V(false)).
    type: bool
  digit_token_enabled:
    description:
      - Whether digit tokens may be generated (ISC C(digitTokenEnabled)), as M(sailpoint_isc.passwords.isc_digit_token) does.
      - Not set means not managed, the tenant's value is kept (ISC's default is V(false)).
    type: bool
  digit_token_duration_minutes:
    description:
      - How many minutes a digit token stays valid, from 1 to 60 (ISC C(digitTokenDurationMinutes)).
      - Not set means not managed, the tenant's value is kept (ISC's default is V(5)).
    type: int
  digit_token_length:
    description:
      - How many digits a digit token has, from 6 to 18 (ISC C(digitTokenLength)).
      - Not set means not managed, the tenant's value is kept (ISC's default is V(6)).
    type: int
notes:
  - A value outside the range ISC accepts fails before anything is sent, with the range in the message.
seealso:
  - module: sailpoint_isc.passwords.isc_digit_token
  - name: ISC password org config (API)
    description: SailPoint's reference of the operations this module calls.
    link: https://developer.sailpoint.com/docs/api/v2025/get-password-org-config/
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Allow 8-digit tokens valid for 10 minutes
  sailpoint_isc.passwords.isc_password_org_config:
    tenant: acme
    client_id: "{{ isc_client_id }}"
    client_secret: "{{ isc_client_secret }}"
    digit_token_enabled: true
    digit_token_length: 8
    digit_token_duration_minutes: 10
  delegate_to: localhost

- name: Enable custom password instructions with a PAT from the environment (review with --check --diff)
  sailpoint_isc.passwords.isc_password_org_config:
    tenant: acme
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
    custom_instructions_enabled: true
  delegate_to: localhost

- name: Read the org config without changing it (no option set)
  sailpoint_isc.passwords.isc_password_org_config:
    tenant: acme
  delegate_to: localhost
  register: org

- name: Show how long digit tokens are valid
  ansible.builtin.debug:
    msg: "Digit tokens last {{ org.org_config.digit_token_duration_minutes }} minutes"
"""

RETURN = r"""
org_config:
  description:
    - The four settings as the tenant has them after the run (in check mode, as it would have them).
    - When the tenant has no org config and no option is set, ISC's defaults, which are what the tenant applies.
  returned: success
  type: dict
  contains:
    custom_instructions_enabled:
      description: Whether custom password instructions are enabled.
      type: bool
      sample: false
    digit_token_enabled:
      description: Whether digit tokens may be generated.
      type: bool
      sample: true
    digit_token_duration_minutes:
      description: Minutes a digit token stays valid.
      type: int
      sample: 10
    digit_token_length:
      description: Digits of a digit token.
      type: int
      sample: 8
created:
  description: Whether the tenant had no org config, so it was created (in check mode, would be) with C(POST).
  returned: success
  type: bool
  sample: false
changed_fields:
  description: The options whose value changed (or would change in check mode), in snake_case.
  returned: success
  type: list
  elements: str
  sample: [digit_token_length]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_ORG_CONFIG
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import (
    ORG_CONFIG_FIELDS, ORG_CONFIG_RANGES, argument_spec, check_ranges, declared, diff, to_options,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource, execute

# The defaults SailPoint's documents give for PasswordOrgConfig: what a tenant without a config applies.
ISC_DEFAULTS = {'customInstructionsEnabled': False, 'digitTokenEnabled': False, 'digitTokenDurationMinutes': 5,
                'digitTokenLength': 6}
OPTION_OF = dict((field, option) for option, field, _kind in ORG_CONFIG_FIELDS)


class OrgConfig(Resource):
    """The tenant's one password org config: created (POST) when it has none, else PUT with the changed fields."""

    absent, fail_fields = False, {}  # no state option; a failure reports no changed key, as it always has

    def find(self):
        """The tenant's org config, or None when it has none (404, or an empty answer or object)."""
        try:
            current = self.client.call_json(OP_ORG_CONFIG, 'GET', shape=dict)
        except IscError as exc:
            if exc.status == 404:
                return None
            raise
        return current or None

    def wanted(self, current):
        self.wanted_fields = declared(self.params, ORG_CONFIG_FIELDS)
        self.created = current is None and bool(self.wanted_fields)
        return self.wanted_fields

    def new_body(self, wanted):
        return dict(wanted)

    def write(self, method, body, fallback):
        answer = self.client.call_json(OP_ORG_CONFIG, method, json_body=body, shape=object)
        return answer if isinstance(answer, dict) and answer else fallback

    def create(self, body, fallback):
        return self.write('POST', body, fallback)

    def update_body(self, current, wanted, changed):
        return dict((f, a) for f, (_b, a) in changed.items())

    def update(self, current, body, fallback):
        try:
            return self.write('PUT', body, fallback)
        except IscError as exc:
            if exc.status != 404:  # a tenant without a config may refuse PUT: create it instead
                raise
            self.created = True
            return self.write('POST', self.wanted_fields, fallback)

    def result(self, current, after, changed):
        config = dict(ISC_DEFAULTS, **(current or {}))
        config.update((field, value) for field, (_before, value) in changed.items())
        config.update(after)  # ISC's answer when it gave one (else what is already there)
        out = dict(created=self.created, org_config=to_options(config, ORG_CONFIG_FIELDS),
                   changed_fields=sorted(OPTION_OF[field] for field in changed))
        if self.module._diff and changed:
            out['diff'] = diff(dict((OPTION_OF[field], change) for field, change in changed.items()), 'password org config')
        return out


def main():
    options = argument_spec(ORG_CONFIG_FIELDS)
    for option in ('digit_token_duration_minutes', 'digit_token_length'):
        options[option]['no_log'] = False  # settings of digit tokens, not a token
    module = AnsibleModule(argument_spec=isc_argument_spec(**options), supports_check_mode=True)
    check_ranges(module, module.params, ORG_CONFIG_RANGES)
    execute(module, OrgConfig)


if __name__ == '__main__':
    main()
