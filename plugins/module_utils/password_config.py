# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Password configuration as code: the field tables, the comparison and merge of declared fields with
what the tenant has, and the lookups of policies and sources by name or id.

The modules isc_password_policy, isc_password_sync_group, isc_source_password_policies,
isc_password_org_config and isc_password_dictionary (and their _info twins) build on this file; the
HTTP calls themselves go through IscClient.call / call_json.
"""

from __future__ import annotations

import uuid

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_DICTIONARY, OP_POLICIES, OP_SOURCES, PAGE_LIMIT, SOURCE_FILTER_CHUNK, SOURCE_PAGE_LIMIT, filter_string,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

PAGE_SIZE = PAGE_LIMIT
NOT_YET_CREATED = '(not yet created) '  # check mode's stand-in for the id of a policy an earlier task creates

# PasswordPolicyV3Dto: (module option, API field, option type). name and sources are handled apart.
POLICY_FIELDS = (
    ('description', 'description', 'str'),
    ('min_length', 'minLength', 'int'),
    ('max_length', 'maxLength', 'int'),
    ('min_alpha', 'minAlpha', 'int'),
    ('min_numeric', 'minNumeric', 'int'),
    ('min_upper', 'minUpper', 'int'),
    ('min_lower', 'minLower', 'int'),
    ('min_special', 'minSpecial', 'int'),
    ('min_character_types', 'minCharacterTypes', 'int'),
    ('max_repeated_chars', 'maxRepeatedChars', 'int'),
    ('account_id_min_word_length', 'accountIdMinWordLength', 'int'),
    ('account_name_min_word_length', 'accountNameMinWordLength', 'int'),
    ('first_expiration_reminder', 'firstExpirationReminder', 'int'),
    ('password_expiration', 'passwordExpiration', 'int'),
    ('enable_passwd_expiration', 'enablePasswdExpiration', 'bool'),
    ('default_policy', 'defaultPolicy', 'bool'),
    ('require_strong_authn', 'requireStrongAuthn', 'bool'),
    ('require_strong_auth_off_network', 'requireStrongAuthOffNetwork', 'bool'),
    ('require_strong_auth_untrusted_geographies', 'requireStrongAuthUntrustedGeographies', 'bool'),
    ('use_account_attributes', 'useAccountAttributes', 'bool'),
    ('use_dictionary', 'useDictionary', 'bool'),
    ('use_identity_attributes', 'useIdentityAttributes', 'bool'),
    ('validate_against_account_id', 'validateAgainstAccountId', 'bool'),
    ('validate_against_account_name', 'validateAgainstAccountName', 'bool'),
)
# The fields ISC sets itself: never compared, never sent back.
POLICY_READ_ONLY = ('id', 'dateCreated', 'lastUpdated', 'created', 'modified')

# Read-only fields passed through to results as (result key, API field), when ISC returns them.
POLICY_PASSTHROUGH = (('date_created', 'dateCreated'), ('last_updated', 'lastUpdated'), ('created', 'created'),
                      ('modified', 'modified'))

# Options whose -1 means "not set" (the DTO's default); every other number must not be negative.
POLICY_MINUS_ONE_ALLOWED = ('min_character_types', 'max_repeated_chars', 'account_id_min_word_length',
                            'account_name_min_word_length')
POLICY_OPTION_OF = dict([(field, option) for option, field, _kind in POLICY_FIELDS] + [('sourceIds', 'sources')])


def policy_problem(params):
    """What ISC would refuse in isc_password_policy's options, as a message naming the fix; None when nothing."""
    if not (params['name'] or '').strip():
        return 'name is empty: give the name of the password policy'
    for option, _field, kind in POLICY_FIELDS:
        value = params[option]
        if kind != 'int' or value is None:
            continue
        if option == 'min_character_types' and not -1 <= value <= 4:
            return 'min_character_types is %d: give 1 to 4 kinds of characters, or -1 to turn the rule off' % value
        low = -1 if option in POLICY_MINUS_ONE_ALLOWED else 0
        if value < low:
            return '%s is %d: it must not be negative%s' % (option, value, ' (-1 means not set)' if low == -1 else '')
    if any(s is None or not str(s).strip() for s in params['sources'] or ()):
        return 'sources has an empty entry: give source names or ids (or [] for no sources)'
    return None


def length_problem(wanted, current):
    """min_length must not exceed max_length (0 = no maximum), with the tenant's value for the one not given."""
    if 'minLength' not in wanted and 'maxLength' not in wanted:
        return None
    low = wanted.get('minLength', (current or {}).get('minLength'))
    high = wanted.get('maxLength', (current or {}).get('maxLength'))
    if isinstance(low, int) and isinstance(high, int) and high > 0 and low > high:
        given = [o for o, f in (('min_length', 'minLength'), ('max_length', 'maxLength')) if f in wanted]
        return ('min_length (%d) is greater than max_length (%d)%s: raise max_length, lower min_length, '
                'or set max_length to 0 for no maximum'
                % (low, high, '' if len(given) == 2 else " (the tenant's value of %s)"
                   % ('max_length' if given == ['min_length'] else 'min_length')))
    return None


def named_changes(changed, names):
    """``{option: (before, after)}`` of a policy's changes() result, sources as names."""
    out = {}
    for field, (before, after) in changed.items():
        if field == 'sourceIds':
            before = [names.get(i, i) for i in before or []]
            after = [names.get(i, i) for i in after or []]
        out[POLICY_OPTION_OF.get(field, field)] = (before, after)
    return out


# PasswordOrgConfig
ORG_CONFIG_FIELDS = (
    ('custom_instructions_enabled', 'customInstructionsEnabled', 'bool'),
    ('digit_token_enabled', 'digitTokenEnabled', 'bool'),
    ('digit_token_duration_minutes', 'digitTokenDurationMinutes', 'int'),
    ('digit_token_length', 'digitTokenLength', 'int'),
)
ORG_CONFIG_RANGES = {'digit_token_duration_minutes': (1, 60), 'digit_token_length': (6, 18)}

# The password dictionary's limits (ISC_FACTS §10)
DICTIONARY_MAX_LINES = 2500
DICTIONARY_MAX_LINE_LENGTH = 128

# Fields whose order means nothing: compared as sets.
UNORDERED = ('sourceIds',)


def argument_spec(fields):
    """The module options of a field table, none with a default (an unset option is not managed)."""
    return dict((option, dict(type=kind)) for option, _field, kind in fields)


def declared(params, fields):
    """``{api_field: value}`` of the options the user set (None means: keep the tenant's value)."""
    return dict((field, params[option]) for option, field, _kind in fields if params.get(option) is not None)


def to_options(obj, fields):
    """An API object as module options (snake_case), for _info results and exports."""
    return dict((option, obj.get(field)) for option, field, _kind in fields if field in obj)


def policy_options(policy, names=None):
    """A PasswordPolicyV3Dto in the options' form of isc_password_policy (what its result and
    isc_password_policy_info return): name, id, the POLICY_FIELDS present, ``sources`` as names (the id where
    ``names`` has none) and the read-only timestamps ISC returned."""
    names = names or {}
    out = {'name': policy.get('name')}
    if policy.get('id') is not None:
        out['id'] = policy['id']
    out.update(to_options(policy, POLICY_FIELDS))
    if 'sourceIds' in policy:
        out['sources'] = [names.get(i, i) for i in policy.get('sourceIds') or []]
    for key, field in POLICY_PASSTHROUGH:
        if policy.get(field) is not None:
            out[key] = policy[field]
    return out


def _same(field, before, after):
    if field in UNORDERED:
        return sorted(before or []) == sorted(after or [])
    return before == after


def changes(wanted, current):
    """``{field: (before, after)}`` for each declared field whose value differs from the tenant's."""
    current = current or {}
    return dict((field, (current.get(field), value)) for field, value in wanted.items()
                if not _same(field, current.get(field), value))


def diff(changed, header):
    """Ansible's --diff for a field-level change: before/after hold only the fields that change."""
    return {'before': dict((f, b) for f, (b, _a) in sorted(changed.items())),
            'after': dict((f, a) for f, (_b, a) in sorted(changed.items())),
            'before_header': header, 'after_header': header}


def whole_diff(before, after, header):
    """Ansible's --diff of a whole object created (before {}) or deleted (after {})."""
    return {'before': before, 'after': after, 'before_header': header, 'after_header': header}


def merged(current, wanted, read_only=POLICY_READ_ONLY):
    """The whole object to PUT: the tenant's object (minus what ISC sets itself) with the declared fields
    laid over it, because PUT replaces the whole object and an undeclared field must keep its value."""
    body = dict((k, v) for k, v in (current or {}).items() if k not in read_only)
    body.update(wanted)
    return body


def check_ranges(module, params, ranges):
    """Fail before sending when an option is outside the range ISC accepts."""
    for option, (low, high) in ranges.items():
        value = params.get(option)
        if value is not None and not low <= value <= high:
            module.fail_json(msg='%s is %s: ISC accepts %d to %d' % (option, value, low, high))


# ---- lookups --------------------------------------------------------------------------------------------
def list_all(client, operation, item_id=None):
    """Every item of a paged list (limit/offset) of the configuration API."""
    items = []
    offset = 0
    while True:
        page = client.call_json(operation, 'GET', item_id, query={'limit': PAGE_SIZE, 'offset': offset}, shape=list)
        page = page or []
        items.extend(page)
        if len(page) < PAGE_SIZE:
            return items
        offset += PAGE_SIZE


def find(items, ref, kind):
    """The item whose id or name is ``ref``; None when there is none. Two items of one name are an error:
    name-matching could pick either, so the user has to give the id."""
    for item in items:
        if item.get('id') == ref:
            return item
    named = [item for item in items if item.get('name') == ref]
    if len(named) > 1:
        raise IscError('%d %ss are named %r (ids %s): give the id instead, or rename all but one'
                       % (len(named), kind, ref, ', '.join(str(i.get('id')) for i in named)))
    return named[0] if named else None


def policy_id(client, ref, policies=None, module=None):
    """The id of the password policy named ``ref`` or with the id ``ref``; IscError with the fix when none.

    In check mode (``module`` given and checking) a policy that does not exist yet is assumed to be created
    by an earlier task of the play, as a reviewed configuration file does: a warning says so, and a
    placeholder id makes the comparison report a change.
    """
    policies = list_all(client, OP_POLICIES) if policies is None else policies
    found = find(policies, ref, 'password policy')
    if found is not None:
        return found['id']
    if module is not None and module.check_mode:
        module.warn('password policy %r does not exist yet: check mode assumes an earlier task creates it (as '
                    'playbooks/password_config.yml does); otherwise the real run fails here' % ref)
        return NOT_YET_CREATED + ref
    raise IscError('no password policy is named or has the id %r: create it first (isc_password_policy) '
                   'or check the spelling (names are case-sensitive)' % ref)


def _sources_where(client, field, values):
    found = []
    for start in range(0, len(values), SOURCE_FILTER_CHUNK):
        chunk = values[start:start + SOURCE_FILTER_CHUNK]
        filters = '%s in (%s)' % (field, ','.join(filter_string(v) for v in chunk))
        page = client.call_json(OP_SOURCES, 'GET', query={'filters': filters, 'limit': SOURCE_PAGE_LIMIT}, shape=list)
        found.extend(s for s in page or [] if isinstance(s, dict) and s.get(field) in chunk)
    return found


def source_ids(client, refs, option='sources'):
    """The ids of the sources named (or with the ids) in ``refs``, in order and without repeats.

    A name wins over an id that happens to spell the same; an unknown reference fails with the fix.
    """
    refs = [str(r) for r in dict.fromkeys(refs or ()) if r is not None and str(r).strip()]
    if not refs:
        return []
    by_name = {}
    for source in _sources_where(client, 'name', refs):
        by_name.setdefault(source['name'], source['id'])
    rest = [r for r in refs if r not in by_name]
    by_id = set(s['id'] for s in _sources_where(client, 'id', rest)) if rest else set()
    missing = [r for r in rest if r not in by_id]
    if missing:
        raise IscError('%s: no source is named or has the id %s: check the source display name as ISC spells it '
                       '(case-sensitive), or give its id' % (option, ', '.join(repr(m) for m in missing)))
    return list(dict.fromkeys(by_name.get(r, r) for r in refs))


def source_names(client, ids):
    """``{source_id: name}`` for ids (ids ISC does not show are left out: callers keep the id)."""
    return client.list_sources(ids) if ids else {}


def dictionary_words(text):
    """(locale or None, [words]) of a dictionary file as ISC serves it: a word per line, an optional
    first ``locale=xx`` line; blank lines, comment lines (``#``) and surrounding spaces mean nothing."""
    lines = [line.strip() for line in (text or '').splitlines()]
    lines = [line for line in lines if line and not line.startswith('#')]
    locale = None
    if lines and lines[0].lower().startswith('locale='):
        locale = lines[0].split('=', 1)[1].strip() or None
        lines = lines[1:]
    return locale, [line for line in lines if line]


def dictionary_text(locale, words):
    """The file ISC takes: the optional locale line, then a word per line."""
    lines = (['locale=%s' % locale] if locale else []) + list(words)
    return '\n'.join(lines) + ('\n' if lines else '')


def dictionary_problems(locale, words):
    """What breaks ISC's dictionary limits, as one message naming the fix; None when it fits. The limit
    counts word lines only: the locale line (like comment and blank lines) does not count."""
    if len(words) > DICTIONARY_MAX_LINES:
        return ('the dictionary has %d words; ISC takes at most %d word lines (the locale line does not count): '
                'shorten the list' % (len(words), DICTIONARY_MAX_LINES))
    long_words = [i + 1 for i, w in enumerate(words) if len(w) > DICTIONARY_MAX_LINE_LENGTH]
    if long_words:
        return ('word%s %s of the dictionary %s longer than %d characters, the most ISC takes per line: '
                'shorten or drop %s' % ('s' if len(long_words) > 1 else '', ', '.join(map(str, long_words[:10])),
                                        'are' if len(long_words) > 1 else 'is', DICTIONARY_MAX_LINE_LENGTH,
                                        'them' if len(long_words) > 1 else 'it'))
    return None


def read_dictionary(client):
    """The tenant's dictionary file as text ('' when it has none: ISC answers 404)."""
    try:
        resp = client.call(OP_DICTIONARY, 'GET', headers={'Accept': 'text/plain'})
    except IscError as exc:
        if exc.status == 404:
            return ''
        raise
    return resp.content.decode('utf-8', 'replace')


def write_dictionary(client, text):
    """Replace the tenant's dictionary: PUT multipart/form-data with the file in the part ``file``."""
    boundary = 'isc-dictionary-%s' % uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="dictionary.txt"\r\n'
            'Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--%s--\r\n' % (boundary, text, boundary))
    client.call(OP_DICTIONARY, 'PUT', data=body.encode('utf-8'),
                headers={'Content-Type': 'multipart/form-data; boundary=%s' % boundary})


# ---- sync groups (isc_password_sync_group and its _info twin) -------------------------------------------
SYNC_GROUP_READ_ONLY = ('id', 'created', 'modified')


def policy_names(policies):
    """``{policy_id: name}`` of a policy list."""
    return dict((p.get('id'), p.get('name')) for p in policies or () if p.get('id'))


def sync_group_views(client, groups, policies=None):
    """Sync groups as module results (snake_case): the policy and the sources by name where ISC shows
    them, the id otherwise; one sources request for all the groups."""
    names = policy_names(list_all(client, OP_POLICIES) if policies is None else policies)
    ids = [i for g in groups for i in g.get('sourceIds') or ()]
    sources = source_names(client, ids)
    views = []
    for group in groups:
        pid = group.get('passwordPolicyId')
        sids = list(group.get('sourceIds') or ())
        views.append({'id': group.get('id'), 'name': group.get('name'),
                      'password_policy': names.get(pid) or pid, 'password_policy_id': pid,
                      'sources': [sources.get(i, i) for i in sids], 'source_ids': sids,
                      'created': group.get('created'), 'modified': group.get('modified')})
    return views
