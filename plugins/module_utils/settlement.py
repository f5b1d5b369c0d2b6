# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settling a pending password in a bounded number of runs whatever the world does (used by planning.py).

Internal to the sailpoint_isc.passwords collection; may change without notice.

An escrowed password whose outcome was never recorded is re-sent as it is, so store and account converge. Two
answers of the world end that loop:
  supersede  ISC now refuses the escrowed password (its policy was tightened, or it refused a re-send outright):
             a fresh compliant password is sent under a new attempt; the store keeps the refused one until the
             new change is FINISHED, then as previous (the record's ``supersedes``, docs/store-contract.md).
  retire     ISC no longer knows the account (the identity was deleted, the account renamed): its passwords go
             to the store's archive, which consumers never read, and the account is no longer rotated.
"""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as policy_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key, parse_key
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, referenced_object_missing
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError


# ISC's query-password-info cannot tell an account deleted from one renamed or moved to another identity.
MOVED_HINT = ('. If it was renamed or moved to another identity rather than deleted, its live password is the last one '
              'archived under this key: list the account under its new user_name/account_id and run the rotation, which '
              'gives it a new password (until then read the archive for it)')


def with_unlisted_orphans(accounts, ledger, reconciled):
    """The accounts, plus orphans no longer listed: still settled (with their escrowed password), never forgotten."""
    accounts = list(accounts)
    listed = set(account_key(a['source_name'], a['user_name'], a.get('account_id')) for a in accounts)
    for key in sorted(set(reconciled.get('orphans', ())) - listed):
        names = ledger.entry(key).get('names') or parse_key(key)
        accounts.append({'source_name': names[0], 'user_name': names[1], 'account_id': names[2],
                         'max_age_days': 0, 'password_length': None, 'exclude_chars': '', 'unlisted': True})
    return accounts


def gone(member):
    """Whether ISC no longer knows a member's account: its query answered "Referenced object not found" (404 or
    400.1.404), or the account id its key names is no longer one of the identity's accounts on the source."""
    info = member.get('info')
    if isinstance(info, IscError):
        return referenced_object_missing(info)
    wanted = member['acct'].get('account_id')
    listed = [(a.get('accountId'), a.get('accountName')) for a in (info or {}).get('accounts') or [] if isinstance(a, dict)]
    return bool(wanted) and 'error' in member and not any(wanted in ids for ids in listed)


def state_when_gone(member, orphan, entry, in_flight=False):
    """(state, reason) of a member whose query failed, when that failure settles it; None when it is a problem.

    An account this ledger rotated (an orphan, or any entry: its change FINISHED or FAILED before the account went,
    or long ago) whose account ISC no longer knows is retired once no request of it is open at ISC: the role first
    settles what its last change did, then archives every password of it; an account retired by an earlier run and
    still unknown to ISC is skipped (the run does not fail for it again). One the ledger never knew stays a problem
    (a typo in the accounts list)."""
    if not gone(member):
        return None
    if entry.get('state') == 'retired':
        return 'skip', ('retired %s: ISC no longer knows this account; remove it from the accounts list'
                        % entry.get('retired_at', ''))
    if orphan or (entry and not in_flight):
        return 'retire', ('ISC no longer knows this account (%s): its passwords are archived in the store, never read '
                          'as current, and it is no longer rotated%s' % (member['error'], MOVED_HINT))
    return None


def refusal(group, members, password):
    """Why ISC now refuses a group's escrowed password (None when it may still be accepted): it breaks the policy
    ISC answers for a member today, or ISC refused a re-send of this very attempt outright (the ledger's
    ``refused``, recorded by recording.record). Never names the password."""
    for member in members:
        refused = member.get('refused') or {}
        if refused.get('attempt') == group['attempt']:
            return 'ISC refused its re-send: %s' % refused.get('reason', 'refused')
    rules = policy_mod.merge_policies(policy_mod.parse_policies(m['info'].get('policies') or []) for m in members)
    problems = policy_mod.validate(password, rules)
    if problems:
        return 'it no longer satisfies the password policy ISC answers today (%s)' % '; '.join(problems)
    return None


def supersede(group, members, password):
    """Turn a re-send group into a supersede when ISC now refuses its escrowed password; returns the reason or None.
    The caller then generates a fresh password and a new attempt for the group, as for a rotation."""
    why = refusal(group, members, password)
    if why:
        group.update(supersedes=group['attempt'], reuse_pending=False)
        group['superseded_because'] = ('escrowed password of attempt %s superseded: %s; a fresh one is sent under a '
                                       'new attempt and the store keeps the old one until it is FINISHED'
                                       % (group['attempt'], why))
    return why


def retire_by_hand(ledger, keys, run_id=None, check_mode=False):
    """Mark keys retired in the ledger (the role's retire_accounts playbook archives their passwords in the store).
    Refused, changing nothing, while any of them has a change request open at ISC: retiring it then could leave a
    password ISC applies later recorded nowhere the rotation looks."""
    keys = sorted(set(keys or ()))
    if not keys:
        raise RotationError('retire_keys is empty: name the account keys to retire (<source>/<user>[#<account_id>])')
    bad = [k for k in keys if not k or '/' not in k or not k.partition('/')[0].strip()
           or not k.partition('/')[2].partition('#')[0].strip()]
    if bad:
        raise RotationError('not account keys: %s; write <source>/<user> or <source>/<user>#<account_id>. Nothing was '
                            'retired' % ', '.join(repr(k) for k in bad))
    open_requests = ['%s (request %s)' % (k, ledger.entry(k)['request_id']) for k in keys
                     if ledger.entry(k).get('state') == 'pending' and ledger.entry(k).get('request_id')]
    if open_requests:
        raise RotationError('a password change request is open at ISC for %s: run the rotation until it is settled, '
                            'then retire. Nothing was retired' % ', '.join(open_requests))
    if not check_mode:
        ledger.append('retired', keys, run_id=run_id, reason='retired by hand')
        ledger.save()
    return keys
