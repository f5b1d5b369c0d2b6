# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection names an account (its key) and picks it from query-password-info's answer.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError


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
