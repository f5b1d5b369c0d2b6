#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_dictionary_info
short_description: Read the password dictionary of SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Reads the tenant's password dictionary, the words a password policy with C(use_dictionary) refuses,
    and returns them in the form M(sailpoint_isc.passwords.isc_password_dictionary) takes, so a tenant's
    dictionary can be exported to a file and applied to another tenant.
  - Comment lines (C(#)) and blank lines of the tenant's file are not words and are not returned.
  - Reading the dictionary needs a user-context token, the personal access token (PAT) of an C(ORG_ADMIN)
    given as O(client_id) and O(client_secret); ISC answers an API client's token with 403.
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.read_only
seealso:
  - module: sailpoint_isc.passwords.isc_password_dictionary
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Read the dictionary with an ORG_ADMIN's personal access token from the environment
  sailpoint_isc.passwords.isc_password_dictionary_info:
    tenant: acme
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
  register: dictionary
  delegate_to: localhost

- name: Apply the same words to another tenant
  sailpoint_isc.passwords.isc_password_dictionary:
    tenant: acme-sandbox
    words: "{{ dictionary.words }}"
    locale: "{{ dictionary.locale | default('', true) }}"
  delegate_to: localhost
"""

RETURN = r"""
words:
  description: The words of the dictionary, in the tenant's order. Empty when the tenant has none.
  returned: success
  type: list
  elements: str
  sample: [password, welcome, acme]
locale:
  description: The locale of the first C(locale=) line of the tenant's file; null when there is none.
  returned: success
  type: str
  sample: en_US
words_count:
  description: How many words the dictionary holds.
  returned: success
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import (
    dictionary_words, read_dictionary,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import report


def read(client):
    locale, words = dictionary_words(read_dictionary(client))
    return dict(words=words, locale=locale, words_count=len(words))


def main():
    module = AnsibleModule(argument_spec=isc_argument_spec(), supports_check_mode=True)
    report(module, read)


if __name__ == '__main__':
    main()
