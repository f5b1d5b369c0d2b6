# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection names an account (its key) and picks it from query-password-info's answer.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import annotations

import unicodedata

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.dependents import check as check_dependents
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError

# A key is source/user#account_id: a '/' in the source name or a '#' in the user name would make two accounts
# one key (or a key parse back wrong), so such names are refused rather than guessed at.
RESERVED = {'source_name': '/', 'user_name': '#'}


def account_key(source_name, user_name, account_id=None):
    """The one name of an account in the ledger, the store and the reports."""
    key = '%s/%s' % (source_name, user_name)
    return key + '#' + account_id if account_id else key


def parse_key(key):
    """(source_name, user_name, account_id) back from an account key, for keys no longer listed."""
    source, _sep, rest = key.partition('/')
    user, _sep, account_id = rest.partition('#')
    return source, user, account_id or None


def isc_accounts(info):
    """The accounts of a query-password-info answer as [{account_id, account_name}]."""
    return [{'account_id': a.get('accountId'), 'account_name': a.get('accountName')}
            for a in info.get('accounts') or [] if isinstance(a, dict)]


def pick_account(accounts, wanted=None, where='the identity', trust_unlisted=True):
    """The account a change is for: (account_id, account_name), or IscError saying how to choose.

    accounts: [{account_id, account_name}] (see isc_accounts); wanted: an account id or name, or None
    when the identity must have exactly one account there. trust_unlisted: an explicit id is taken
    as given when ISC lists no account to check it against.
    """
    listing = ', '.join('%s (%s)' % (a.get('account_name'), a.get('account_id')) for a in accounts)
    if wanted:
        for acc in accounts:
            if wanted in (acc.get('account_id'), acc.get('account_name')):
                return acc.get('account_id'), acc.get('account_name')
        if not accounts and trust_unlisted:
            return wanted, None
        raise IscError('account_id %r is not one of the accounts of %s: %s'
                       % (wanted, where, listing or 'it has none on that source'))
    if not accounts:
        raise IscError('%s has no account on that source that ISC can set a password for' % where)
    if len(accounts) > 1:
        raise IscError('%s has %d accounts on the source: %s; set account_id to choose one'
                       % (where, len(accounts), listing))
    return accounts[0].get('account_id'), accounts[0].get('account_name')


def _control(text):
    """The first character of text that no report, log line or XML file can carry as it is, or None."""
    for char in text or '':
        if unicodedata.category(char) in ('Cc', 'Cs', 'Zl', 'Zp') or char in u'\ufffe\uffff':
            return char
    return None


def unkeyable_source(name):
    """Whether a source name ISC reports (a sync group's member nobody listed) cannot be part of a key."""
    return RESERVED['source_name'] in name or _control(name) is not None


def check_names(accounts):
    """Refuse names that would make keys ambiguous or reports invalid, naming the row (accounts[i]).

    A control character in any name; a '/' in a source name or a '#' in a user name (the key separators);
    two spellings of one name that differ only in case (ISC's names do not tell 'svc' from 'SVC', the
    ledger and the store would keep two keys for one account)."""
    problems, spelled = [], {}
    for index, acct in enumerate(accounts):
        for field in ('source_name', 'user_name', 'account_id'):
            value = acct.get(field)
            if not isinstance(value, str):
                continue
            bad = _control(value)
            if bad is not None:
                problems.append('accounts[%d]: %s %s holds the control character U+%04X; give the name as ISC spells it'
                                % (index, field, ascii(value), ord(bad)))
            elif RESERVED.get(field, '') and RESERVED[field] in value:
                problems.append("accounts[%d]: %s %r holds '%s', which separates the parts of an account key "
                                "(source/user#account_id); such accounts cannot be rotated by the role: use "
                                "sailpoint_isc.passwords.isc_set_password for them" % (index, field, value, RESERVED[field]))
            elif field != 'account_id':
                first = spelled.setdefault((field, value.casefold()), (index, value))
                if first[1] != value:
                    problems.append('accounts[%d]: %s %r and accounts[%d] %r differ only in case; ISC treats them as one, '
                                    'so spell it one way in every row' % (index, field, value, first[0], first[1]))
    problems += check_dependents(accounts)  # issue 27: the dependents of each account, row named
    if problems:
        raise RotationError('; '.join(problems[:10]) + ('; and %d more' % (len(problems) - 10) if len(problems) > 10 else ''))


def _setting(acct, name, default):
    value = acct.get(name)
    return default if value is None else value


def with_defaults(accounts, max_age_days, password_length, exclude_chars):
    """Fill per-account settings from the defaults; refuse an account listed twice or a name check_names refuses."""
    seen, out, dupes = set(), [], []
    for index, acct in enumerate(accounts):
        for field in ('source_name', 'user_name'):
            if not (acct.get(field) or '').strip():
                raise RotationError('accounts[%d]: %s is empty; give the %s as ISC spells it'
                                    % (index, field, 'source display name' if field == 'source_name' else 'user name'))
    check_names(accounts)
    for acct in accounts:
        key = account_key(acct['source_name'], acct['user_name'], acct.get('account_id'))
        if key in seen:
            dupes.append(key)
        seen.add(key)
        # an explicit 0 is a setting (rotate at every run / the policy's own length), not "unset"
        out.append(dict(acct, max_age_days=_setting(acct, 'max_age_days', max_age_days),
                        password_length=_setting(acct, 'password_length', password_length) or None,
                        exclude_chars=(exclude_chars or '') + (acct.get('exclude_chars') or '')))
    if dupes:
        raise RotationError('accounts: listed more than once: %s; remove the duplicates (each account is rotated '
                            'once per run)' % ', '.join(sorted(set(dupes))))
    return out


def flag_old_spellings(members, ledger, store_pending=()):
    """Mark each listed member whose ISC account a ledger key of another spelling names (an account_id added or
    dropped, given as the account name instead of its id, or the other way) with an 'error' saying what to do.

    The ledger and the store keep that old key, and no run rotates a key no longer listed: rotating the account
    under its new key would leave the old entry 'current' with a password the account no longer holds. Keys this
    run settles (members too, which share the change), retired or never rotated ('unmanaged') keys, and members
    with a change of their own pending are left alone."""
    old = {}
    for key, entry in ledger.accounts.items():
        if key not in members and entry.get('state') not in (None, 'retired', 'unmanaged'):
            old.setdefault(parse_key(key)[:2], []).append(key)
    for member in members.values():
        acct, key = member['acct'], member['key']
        if ('error' in member or acct.get('unlisted') or key in store_pending
                or ledger.entry(key).get('state') == 'pending'):
            continue
        for other in sorted(old.get((acct['source_name'], acct['user_name']), ())):
            try:
                same = pick_account(isc_accounts(member['info']), parse_key(other)[2], trust_unlisted=False)[0]
            except IscError:
                continue
            if same == member['account_id']:
                member['error'] = ('%s names the same ISC account (%s) as %s, which the ledger and the store keep (%s) '
                                   'and the accounts list no longer names: rotated under its new name, that entry would '
                                   'keep a password the account no longer holds. List it as %s again, or retire %s '
                                   '(playbooks/retire_accounts.yml archives its passwords) and run again'
                                   % (key, same, other, ledger.entry(other).get('state'), other, other))
                break
