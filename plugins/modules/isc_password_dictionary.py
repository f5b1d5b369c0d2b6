#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_dictionary
short_description: Manage the password dictionary of SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Declares the words of the tenant's password dictionary, the words a password may not contain when a
    password policy has C(use_dictionary) set (see M(sailpoint_isc.passwords.isc_password_policy)).
  - ISC keeps the dictionary as one text file, a word per line with an optional C(locale=xx) line first.
    The module reads that file, compares it by content with the declared words, and replaces it
    (C(PUT), multipart) only when the words or the locale differ.
  - "Compared by content: ISC checks whether a password contains a word, so the order of the words and
    repeated words mean nothing. The words are compared as sets after surrounding spaces are stripped;
    comment lines (C(#)) and blank lines of the tenant's file are not words. Words are compared
    case-sensitively, as written. When the module writes, it keeps your order and drops repeats."
  - ISC's limits are checked before anything is sent, at most 2,500 word lines (the locale line does not
    count) of at most 128 characters each.
  - Reading and writing the dictionary need a user-context token, the personal access token (PAT) of an
    C(ORG_ADMIN) given as O(client_id) and O(client_secret). ISC answers an API client's token with 403,
    and the task then fails saying so.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reads the dictionary and reports the words that would be added and removed, but sends no write.
  diff_mode:
    support: full
    details:
      - The diff shows only what differs, so it stays readable for a 2,500-word dictionary. Before, the
        words that are removed; after, the words that are added (each sorted, one per line), preceded
        by the C(locale=) line when the locale changes.
options:
  words:
    description:
      - The words of the dictionary, in the order they are written.
      - Each word is one line in ISC's file, so it may not contain spaces, tabs or line breaks, and it may
        not start with C(#) (a comment) or with C(locale=). Empty entries are skipped and repeats dropped.
      - Mutually exclusive with O(src). With O(state=present), one of O(words) and O(src) is required.
    type: list
    elements: str
  src:
    description:
      - A dictionary file in ISC's format, one word per line; blank lines and lines starting with C(#)
        are skipped, and a first line C(locale=xx) gives the locale (O(locale) overrides it).
      - The file is read on the host the module runs on, not copied from the controller. Run the task
        with C(delegate_to=localhost) (or in a play on C(localhost)), as configuration tasks usually
        are, to read a file on the controller.
      - The file must be UTF-8 text. Mutually exclusive with O(words).
    type: path
  locale:
    description:
      - The locale of the dictionary, written as the first line C(locale=xx) (for example V(en_US)).
      - V('') means no locale line.
      - Not set means not managed, the tenant's locale is kept (or the one of the O(src) file, when it has one).
    type: str
  state:
    description:
      - V(present) makes the dictionary hold exactly the declared words (and locale).
      - V(absent) empties the dictionary by uploading an empty file (ISC has no operation that deletes it).
        O(words), O(src) and O(locale) are not used with V(absent).
    type: str
    choices: [present, absent]
    default: present
notes:
  - The comment lines of the tenant's file are not kept when the module replaces it.
seealso:
  - module: sailpoint_isc.passwords.isc_password_policy
  - name: ISC password dictionary (API)
    description: The file format and limits, in SailPoint's reference.
    link: https://developer.sailpoint.com/docs/api/v2025/get-password-dictionary/
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Forbid a few words, with the PAT of an ORG_ADMIN from the environment
  sailpoint_isc.passwords.isc_password_dictionary:
    tenant: acme
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
    locale: en_US
    words:
      - acme
      - password
      - qwerty
      - summer2025
  delegate_to: localhost

- name: Upload the dictionary kept next to the playbook (read on the controller)
  sailpoint_isc.passwords.isc_password_dictionary:
    tenant: acme
    src: "{{ playbook_dir }}/files/password-dictionary.txt"
  delegate_to: localhost
  register: dictionary

- name: Say what changed
  ansible.builtin.debug:
    msg: "{{ dictionary.added }} words added, {{ dictionary.removed }} removed, {{ dictionary.words_count }} in all"

- name: Empty the dictionary
  sailpoint_isc.passwords.isc_password_dictionary:
    tenant: acme
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
words_count:
  description: How many words the dictionary holds after the run (in check mode, would hold).
  returned: success
  type: int
  sample: 4
locale:
  description: The locale of the dictionary after the run (in check mode, would have); null when it has none.
  returned: success
  type: str
  sample: en_US
added:
  description: How many words were added (or would be in check mode).
  returned: success
  type: int
  sample: 1
removed:
  description: How many words were removed (or would be in check mode).
  returned: success
  type: int
  sample: 0
added_words:
  description: The words added, sorted; at most the first 50 (RV(added) gives the count).
  returned: success
  type: list
  elements: str
  sample: [summer2025]
removed_words:
  description: The words removed, sorted; at most the first 50 (RV(removed) gives the count).
  returned: success
  type: list
  elements: str
  sample: []
"""

import functools

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dictionary
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import (
    dictionary_text, read_dictionary, write_dictionary,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource, execute


class Dictionary(Resource):
    """The tenant's one password dictionary: always there (empty when ISC has none), compared as a set of
    words and a locale, replaced whole."""

    absent, fail_fields = False, {}  # state=absent is the empty list; a failure reports no changed key

    def __init__(self, module, client, declared=None):
        Resource.__init__(self, module, client)
        self.locale, self.words, self.manage_locale = declared

    def find(self):
        locale, words = dictionary.parse(read_dictionary(self.client))
        return {'locale': locale, 'words': words}

    def wanted(self, current):
        return {'locale': (self.locale if self.manage_locale else current['locale']) or None, 'words': self.words}

    def changes(self, wanted, current):
        same = set(wanted['words']) == set(current['words']) and wanted['locale'] == current['locale']
        return {} if same else {'dictionary': (current, wanted)}

    def update_body(self, current, wanted, changed):
        return dictionary_text(wanted['locale'], wanted['words'])

    def update(self, current, body, fallback):
        write_dictionary(self.client, body)
        return fallback

    def result(self, current, after, changed):
        added = sorted(set(self.words) - set(current['words']))
        removed = sorted(set(current['words']) - set(self.words))
        out = dict(words_count=len(self.words), locale=after['locale'], added=len(added), removed=len(removed),
                   added_words=added[:dictionary.LISTED], removed_words=removed[:dictionary.LISTED])
        if self.module._diff and changed:
            out['diff'] = dictionary.dictionary_diff(current['locale'], after['locale'], removed, added)
        return out


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            words=dict(type='list', elements='str'),
            src=dict(type='path'),
            locale=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        mutually_exclusive=[('words', 'src')],
        required_if=[('state', 'present', ('words', 'src'), True)],
        supports_check_mode=True,
    )
    execute(module, functools.partial(Dictionary, declared=dictionary.declared(module)))


if __name__ == '__main__':
    main()
