# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""isc_password_dictionary's input: the words or the src file as the user declares them, checked against what
ISC's one-word-per-line file can hold before anything is sent; and the module's --diff."""

from __future__ import annotations

import os

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.password_config import (
    DICTIONARY_MAX_LINE_LENGTH, dictionary_problems, dictionary_words,
)

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


def declared(module):
    """(locale, [words], whether the locale is managed) of the module's options; fails on bad input."""
    p = module.params
    if p['state'] == 'absent':
        given = [o for o in ('words', 'src', 'locale') if p[o] is not None]
        if given:
            module.fail_json(msg='%s: not used with state=absent, which empties the dictionary; drop %s'
                             % (', '.join(given), 'them' if len(given) > 1 else 'it'))
        return None, [], True
    locale, words = declared_words(module)
    if not words:
        module.fail_json(msg='%s holds no word: give at least one, or use state=absent to empty the dictionary'
                         % ('words' if p['words'] is not None else 'src'))
    manage_locale = p['locale'] is not None or locale is not None
    problem = dictionary_problems(locale if manage_locale else None, words)
    if problem:
        module.fail_json(msg=problem)
    return locale, words, manage_locale
