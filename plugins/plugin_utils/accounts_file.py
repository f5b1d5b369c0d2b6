# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check an accounts file (the YAML file that sets service_account_rotation_accounts) row by row.

Every mistake is named by the file, the row number, the row's line and content, the field and the fix, in one
message, before Ansible's own checks would answer with the role's whole argument specification.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import annotations

import difflib

import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.dependents import POLICIES as dependents_policies
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.dependents import problems_of as dependents_problems
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.alternate import is_alternate, problems_of as alternate_problems

VAR = 'service_account_rotation_accounts'
# field -> (the types it takes, what a row gives there)
FIELDS = {
    'source_name': ('str', '<source display name in ISC>'),
    'user_name': ('str', "<the identity's user name>"),
    'account_id': ('str', '<native account id>'),
    'max_age_days': ('int', '<days, for example 90>'),
    'password_length': ('int', '<characters, 0 for the policy minimum>'),
    'exclude_chars': ('str', '<characters never used>'),
    'dependents': ('list', '<a list of dependents, see docs/dependents.md>'),
    'alternate': ('dict', '<name and two accounts, see docs/alternating.md>'),
    'dependents_policy': ('str', 'roll_forward or rollback'),
    'password_history_forbids_reuse': ('bool', 'true or false'),
}
REQUIRED = ('source_name', 'user_name')
MAX_PROBLEMS = 10


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """PyYAML's safe loader that also reads Ansible's tags (!vault, !unsafe) as plain scalars."""


def _tagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor('!', _tagged)


def nearest(name, known):
    """The known name closest to a misspelled one, or None."""
    found = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def _row_text(text, node):
    """The row as written, on one line (comments dropped) and short enough for a message."""
    lines = text[node.start_mark.index:node.end_mark.index].splitlines()
    row = ' '.join(line.strip() for line in lines if line.strip() and not line.strip().startswith('#'))
    return row if len(row) <= 100 else row[:97] + '...'


def _is_int(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().lstrip('+-').isdigit()


def row_problems(row):
    """What is wrong with one row (a mapping), each with its fix; [] when nothing is."""
    if not isinstance(row, dict):
        return ['a %s, not a mapping of fields; write the row as "- source_name: %s" with "user_name: %s" below it'
                % ('list' if isinstance(row, list) else 'string' if isinstance(row, str) else type(row).__name__,
                   FIELDS['source_name'][1], FIELDS['user_name'][1])]
    if is_alternate(row):  # issue 27 §2: a logical credential with two accounts (docs/alternating.md)
        return alternate_problems(row)
    problems = []
    for field in row:
        if field not in FIELDS:
            guess = nearest(field, FIELDS)
            fix = ('did you mean %r?' % guess) if guess else 'not one of ' + ', '.join(FIELDS)
            problems.append('unknown field %r, %s' % (field, fix))
    for field in REQUIRED:
        if field not in row:
            problems.append('%s is missing; add "%s: %s"' % (field, field, FIELDS[field][1]))
    for field, value in row.items():
        if field not in FIELDS or (field not in REQUIRED and value is None):
            continue
        kind, hint = FIELDS[field]
        if field in REQUIRED and (value is None or (isinstance(value, str) and not value.strip())):
            problems.append('%s is empty; give %s' % (field, hint))
        elif kind == 'int' and not _is_int(value):
            problems.append('%s %r is not a whole number; give %s' % (field, value, hint))
        elif kind == 'list':
            problems.extend(dependents_problems(value))
        elif kind == 'bool' and not isinstance(value, bool):
            problems.append('%s %r is not true or false; give %s' % (field, value, hint))
        elif field == 'dependents_policy' and value not in dependents_policies:
            problems.append('%s %r is not one of %s; give %s' % (field, value, ', '.join(dependents_policies), hint))
        elif kind == 'str' and isinstance(value, (dict, list, bool)):
            problems.append('%s is a %s; give %s as text' % (field, type(value).__name__, hint))
    return problems


def check_text(text, name):
    """The problems of an accounts file's text (one line each, the file named): [] when it is a good one."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # nosec B506 - a SafeLoader that also reads Ansible's tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
        where = 'line %d, column %d' % (mark.line + 1, mark.column + 1) if mark else 'somewhere'
        cause = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        context = getattr(exc, 'context', None)
        return ['%s is not valid YAML at %s: %s%s; fix that line (indentation, a missing ":" or quote)'
                % (name, where, cause, (' (%s)' % context) if context else '')]
    example = 'see playbooks/accounts.example.yml'
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        return ['%s holds %s, not a mapping; it must set %s: a list of rows, one per account (%s)'
                % (name, 'nothing' if data is None else 'a ' + type(data).__name__, VAR, example)]
    if VAR not in data:
        guess = nearest(VAR, [k for k in data if isinstance(k, str)]) if data else None
        return ['%s does not set %s%s; %s' % (name, VAR, (' (it sets %r: a misspelling?)' % guess) if guess else '', example)]
    node = [value for key, value in root.value if key.value == VAR][-1]
    rows = data[VAR]
    if not isinstance(rows, list) or not isinstance(node, yaml.SequenceNode):
        return ['%s: %s (line %d) is %s, not a list; write one row per account, "- source_name: ..." with "user_name: '
                '..." below it (%s)' % (name, VAR, node.start_mark.line + 1,
                                        'empty' if rows is None else 'a ' + type(rows).__name__, example)]
    problems = []
    for index, (row, row_node) in enumerate(zip(rows, node.value)):
        found = row_problems(row)
        if found:
            problems.append('row %d (%s[%d], line %d: %s): %s' % (
                index + 1, VAR, index, row_node.start_mark.line + 1, _row_text(text, row_node), '; '.join(found)))
    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + ['and %d more rows' % (len(problems) - MAX_PROBLEMS)]
    return ['%s: %s' % (name, ' | '.join(problems))] if problems else []
