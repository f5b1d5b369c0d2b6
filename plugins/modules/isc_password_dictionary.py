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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import (
    DICTIONARY_MAX_LINE_LENGTH, dictionary_problems, dictionary_text, dictionary_words, read_dictionary,
    write_dictionary,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import EXPORT_JOB, preflight

LISTED = 50  # the most words RV(added_words) and RV(removed_words) list


def content_lines(text):
    """(line number, stripped line) of the lines of a dictionary file that are not blank or comments (#)."""
    return [(number, line.strip()) for number, line in enumerate((text or '').splitlines(), 1)
            if line.strip() and not line.strip().startswith('#')]


def parse(text):
    """(locale or None, [words]) of a dictionary file: comment and blank lines skipped, then a first
    ``locale=`` line taken as the locale (password_config.dictionary_words)."""
    return dictionary_words('\n'.join(line for _number, line in content_lines(text)))


def word_problem(word, where):
    """Why ``word`` (stripped) cannot be one line of ISC's file, or None."""
    if any(c.isspace() for c in word):
        return '%s (%r) contains a space or tab: ISC takes one word per line, give each word on its own' % (where, word)
    if word.startswith('#'):
        return '%s (%r) starts with "#", which ISC reads as a comment: drop the "#"' % (where, word)
    if word.lower().startswith('locale='):
        return ('%s (%r) starts with "locale=", which ISC may read as the locale line: set the locale with the '
                'locale option' % (where, word))
    return None


def read_src(module, path):
    """(locale or None, [(where, word)]) of the src file, read on the host the module runs on."""
    if not os.path.isfile(path):
        module.fail_json(msg='src: there is no file %s on the host the module runs on; the file is read there, '
                         'so run the task with delegate_to: localhost for a file on the controller' % path)
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except UnicodeDecodeError:
        module.fail_json(msg='src: %s is not UTF-8 text; ISC takes UTF-8 only: convert it (iconv -t UTF-8)' % path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='src: %s cannot be read: %s' % (path, exc))
    lines = content_lines(text.lstrip(u'\ufeff'))
    locale = None
    if lines and lines[0][1].lower().startswith('locale='):
        locale = lines[0][1].split('=', 1)[1].strip() or None
        lines = lines[1:]
    return locale, [('src line %d' % number, line) for number, line in lines]


def declared_words(module):
    """(locale or None when not declared, [words]) of the words or src option; fails on bad input."""
    p = module.params
    locale = None
    if p['src'] is not None:
        locale, entries = read_src(module, p['src'])
    else:
        entries = []
        for index, word in enumerate(p['words']):
            if '\n' in word or '\r' in word:
                module.fail_json(msg='words[%d] contains a line break: give one word per entry' % index)
            entries.append(('words[%d]' % index, word.strip()))
    for where, word in entries:
        problem = word and word_problem(word, where)
        if problem:
            module.fail_json(msg=problem)
    if p['locale'] is not None:
        locale = p['locale'].strip()
        if any(c.isspace() for c in locale) or len('locale=' + locale) > DICTIONARY_MAX_LINE_LENGTH:
            module.fail_json(msg='locale %r is not a locale: give a code without spaces such as en_US, or "" for none'
                             % p['locale'])
    return locale, list(dict.fromkeys(word for _where, word in entries if word))


def dictionary_diff(locale_before, locale_after, removed, added):
    """--diff of only what differs: the removed words before, the added ones after (sorted, a word per line),
    each preceded by its locale line when the locale changes (none on the side without a locale)."""
    def text(locale, words):
        lines = (['locale=%s' % locale] if locale and locale_before != locale_after else []) + list(words)
        return ''.join(line + '\n' for line in lines)
    return {'before': text(locale_before, removed), 'after': text(locale_after, added),
            'before_header': 'password dictionary: the words removed', 'after_header': 'password dictionary: the words added'}


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
    p = module.params
    if p['state'] == 'absent':
        given = [o for o in ('words', 'src', 'locale') if p[o] is not None]
        if given:
            module.fail_json(msg='%s: not used with state=absent, which empties the dictionary; drop %s'
                             % (', '.join(given), 'them' if len(given) > 1 else 'it'))
        locale, words, manage_locale = None, [], True
    else:
        locale, words = declared_words(module)
        if not words:
            module.fail_json(msg='%s holds no word: give at least one, or use state=absent to empty the dictionary'
                             % ('words' if p['words'] is not None else 'src'))
        manage_locale = p['locale'] is not None or locale is not None
        problem = dictionary_problems(locale if manage_locale else None, words)
        if problem:
            module.fail_json(msg=problem)
    client = IscClient.from_module(module)
    preflight(module, client, EXPORT_JOB if module.check_mode else 'password-config')  # rights.py: before any request but the token's
    try:
        current_locale, current = parse(read_dictionary(client))
        if not manage_locale:
            locale = current_locale
        locale = locale or None
        have, want = set(current), set(words)
        added = sorted(want - have)
        removed = sorted(have - want)
        changed = bool(added or removed or locale != current_locale)
        if changed and not module.check_mode:
            write_dictionary(client, dictionary_text(locale, words))
    except IscError as exc:
        fail_isc(module, exc)
    result = dict(changed=changed, words_count=len(words), locale=locale, added=len(added), removed=len(removed),
                  added_words=added[:LISTED], removed_words=removed[:LISTED])
    if module._diff and changed:
        result['diff'] = dictionary_diff(current_locale, locale, removed, added)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
