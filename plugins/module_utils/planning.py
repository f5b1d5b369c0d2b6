# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan phase of the rotation: which accounts are due, and which share one password change.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import uuid

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, referenced_object_missing
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as policy_mod, resend, settlement
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import accounts as accounts_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key, isc_accounts, parse_key, pick_account
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import parse_iso, utcnow

# the accounts list's settings and name checks live in accounts.py
with_defaults = accounts_mod.with_defaults
check_names = accounts_mod.check_names


def _due(entry, max_age_days, force, now, drift=False):
    if force:
        return 'forced'
    if drift:  # discovery (isc_accounts): the escrowed password is stale, whatever its age
        return 'drift: ISC saw a password change after the last rotation by this ledger'
    last = entry.get('last_rotated')
    if not last:
        return 'never rotated by this ledger'
    age = now - parse_iso(last)
    if age >= datetime.timedelta(days=max_age_days):
        return 'last rotated %d days ago (max_age_days %d)' % (age.days, max_age_days)
    return None


def _no_account(error):
    """A query answer that says the identity simply has no account on that source (any other 4xx is a problem)."""
    return referenced_object_missing(error)


# Order in which one member's state decides the action of its whole group (first wins).
GROUP_PRECEDENCE = ('error', 'retire', 'waiting', 'resubmit', 'parked', 'rotate', 'skip')


def plan(client, accounts, ledger, reconciled, force=False, now=None, sync_groups=None, rng=None,
         pending_passwords=None, pending_attempts=None, store_pending=None, workers=4):
    """Decide, per account, what this run does; one group per password change.

    accounts: dicts with source_name, user_name, account_id (optional), max_age_days,
    password_length (optional), exclude_chars. Returns (decisions, groups).

    A group is what one set-password changes: one account, or, when its source is in a password sync
    group, every account of the identity on the group's sources (listed or not: ISC changes them all).
    Two accounts of one identity on one source are two groups. A group carries the new password to send with
    the attempt id that names it in the store; for orphans, only the attempt whose escrowed password is sent
    again (pending_passwords / pending_attempts, read from the store, decide it; the apply phase reads that
    password itself, resend.py). Decisions carry no secret.
    """
    now = now or utcnow()
    accounts = settlement.with_unlisted_orphans(accounts, ledger, reconciled)
    to_query, quiet = split_by_need(accounts, ledger, reconciled, store_pending, force, now)
    if not to_query:
        return [_not_due(acct, ledger) for acct in quiet], []
    if callable(sync_groups):
        sync_groups = sync_groups()  # read only when some account is queried
    members, group_of, group_meta = group_accounts(client, to_query, sync_groups, workers)
    accounts_mod.flag_old_spellings(members, ledger, store_pending or ())  # one account, one key
    decide_members(members, ledger, reconciled, force, now)
    settled_now = set()  # store pendings this run commits or discards before it escrows anything
    for record in reconciled.get('commit_records', []) + reconciled.get('discard_records', []):
        settled_now.update(record['keys'])
    decisions, groups = decide_groups(members, group_of, group_meta, pending_passwords or {}, pending_attempts or {},
                                      dict(store_pending or {}), settled_now, rng)
    if quiet:
        decisions = _in_account_order(decisions + [_not_due(acct, ledger) for acct in quiet], accounts)
    return decisions, groups


def only_users(accounts, reconciled, ledger, users, exclude=()):
    """(accounts, reconciled) restricted to the identities ``users``, without the keys ``exclude`` (changes already
    sent this run): planning them again leaves the others alone."""
    users, exclude = set(users), set(exclude)
    orphans = [k for k in reconciled.get('orphans', ()) if (ledger.entry(k).get('names') or parse_key(k))[1] in users
               and k not in exclude]
    return [a for a in accounts if a['user_name'] in users and _key_of(a) not in exclude], dict(reconciled, orphans=orphans)


def _key_of(acct):
    return account_key(acct['source_name'], acct['user_name'], acct.get('account_id'))


def split_by_need(accounts, ledger, reconciled, store_pending, force, now):
    """(accounts to query, accounts the ledger alone decides): a scheduled run costs what is due.

    An account is queried when it is due, new, forced, not plainly current in the ledger, escrowed or in
    flight, and so is every account of its identity: ISC shares a password (sync groups) only between the
    accounts of one identity, so the groups stay whole."""
    busy = set(store_pending or ()) | set(reconciled.get('orphans', ()))
    for part in ('waiting', 'finished', 'failed'):
        for item in reconciled.get(part) or ():
            busy.update(item['keys'])
    needy_identities = set()
    for acct in accounts:
        key, entry = _key_of(acct), ledger.entry(_key_of(acct))
        if (force or key in busy or acct.get('unlisted') or entry.get('state') != 'current'
                or _due(entry, acct['max_age_days'], force, now, acct.get('rotate_reason') == 'drift')):
            needy_identities.add(acct['user_name'])
    to_query = [a for a in accounts if a['user_name'] in needy_identities]
    return to_query, [a for a in accounts if a['user_name'] not in needy_identities]


def _not_due(acct, ledger):
    """The decision for an account the ledger shows current and not due (no request made for it)."""
    key = _key_of(acct)
    return {'key': key, 'source_name': acct['source_name'], 'user_name': acct['user_name'],
            'account_id': acct.get('account_id'), 'group': 'ledger|' + key, 'action': 'skip',
            'reason': 'not due (rotated %s)' % ledger.entry(key).get('last_rotated')}


def _in_account_order(decisions, accounts):
    """Decisions ordered as the accounts are listed, each group where its first listed member is."""
    position = dict((_key_of(acct), index) for index, acct in enumerate(accounts))
    first = {}
    for decision in decisions:
        if decision['key'] in position:
            first[decision['group']] = min(first.get(decision['group'], len(position)), position[decision['key']])
    return sorted(decisions, key=lambda d: first.get(d['group'], len(position)))


# --------------------------------------------------------------------------- grouping

def group_accounts(client, accounts, sync_groups, workers=4):
    """Query the accounts and group them by password change (one account, or a sync group's members).

    Returns (members {key: member}, group_of {key: group id}, group_meta {group id: meta}). A member
    whose query failed, or whose account cannot be picked, carries 'error'. The members of a sync
    group include the identity's accounts on the group's sources that nobody listed ('discovered').
    """
    infos = {}

    def query(pairs):
        pairs = [p for p in collections.OrderedDict.fromkeys(pairs) if p not in infos]
        infos.update(zip(pairs, client.map(lambda p: client.query_password_info(p[0], p[1]), pairs, workers=workers)))

    query((a['user_name'], a['source_name']) for a in accounts)
    sync_of_source = {}
    for group in sync_groups or ():
        for source_id in group.get('sourceIds') or ():
            sync_of_source[source_id] = group

    # Members of a sync group: the identity's accounts on every source of the group, so name those sources.
    source_names = {}
    for (user, source_name), info in infos.items():
        if not isinstance(info, IscError) and info.get('sourceId'):
            source_names[info['sourceId']] = source_name
    touched = collections.OrderedDict()  # (user_name, sync group id) -> sync group
    for (user, source_name), info in list(infos.items()):
        if not isinstance(info, IscError) and info.get('sourceId') in sync_of_source:
            touched[(user, sync_of_source[info['sourceId']]['id'])] = sync_of_source[info['sourceId']]
    unnamed = sorted(set(sid for g in touched.values() for sid in g.get('sourceIds') or ()) - set(source_names))
    naming_error = None
    if unnamed:
        try:
            source_names.update(client.list_sources(unnamed))
        except IscError as exc:
            naming_error = exc
    query((user, source_names[sid]) for (user, _gid), g in touched.items()
          for sid in g.get('sourceIds') or () if sid in source_names)

    # One member per account: listed accounts first, then the sync-group members nobody listed.
    members = collections.OrderedDict()  # key -> member dict
    for acct in accounts:
        key = account_key(acct['source_name'], acct['user_name'], acct.get('account_id'))
        member = {'key': key, 'acct': acct, 'info': infos[(acct['user_name'], acct['source_name'])]}
        members[key] = member
        info = member['info']
        if isinstance(info, IscError):
            member['error'] = str(info)
            continue
        try:
            member['account_id'] = pick_account(isc_accounts(info), acct.get('account_id'),
                                                'user %s on source %s' % (acct['user_name'], acct['source_name']),
                                                trust_unlisted=False)[0]
        except IscError as exc:
            member['error'] = str(exc)
    by_account = {}
    for member in members.values():
        if 'error' not in member:
            by_account.setdefault((member['info'].get('identityId'), member['info'].get('sourceId'),
                                   member['account_id']), []).append(member)

    group_of = {}  # key -> group id
    group_meta = {}  # group id -> {'sync': sync group or None, 'sources': planned source ids, 'problem': str}
    listed_pairs = set((a['user_name'], a['source_name']) for a in accounts)
    for member in list(members.values()):
        info, acct = member['info'], member['acct']
        if 'error' in member and isinstance(info, IscError):
            # which group it would belong to is unknown; a listed sync-group account that cannot be read is
            # found again below as an unreadable member of its identity's group
            group_of[member['key']] = 'error|' + member['key']
            continue
        sync = sync_of_source.get(info.get('sourceId'))
        if sync is None:
            gid = '%s|%s|%s' % (info.get('identityId'), info.get('sourceId'), member.get('account_id'))
            group_meta.setdefault(gid, {'sync': None, 'sources': [info.get('sourceId')], 'problem': None})
        else:
            gid = '%s|sync:%s' % (info.get('identityId'), sync.get('id'))
            if gid not in group_meta:
                group_meta[gid] = _sync_group_members(gid, sync, acct, infos, source_names, naming_error, listed_pairs,
                                                      members, by_account, group_of)
        group_of[member['key']] = gid
    return members, group_of, group_meta


def _sync_group_members(gid, sync, acct, infos, source_names, naming_error, listed_pairs, members, by_account,
                        group_of):
    """The meta of one identity's sync group; adds its members nobody listed to members/by_account/group_of."""
    meta = {'sync': sync, 'sources': list(sync.get('sourceIds') or []), 'problem': None}
    for sid in meta['sources']:
        name = source_names.get(sid)
        if name is None:
            meta['problem'] = ('source %s of password sync group %r could not be named%s; the change would '
                               'reach its accounts unrecorded' % (sid, sync.get('name'),
                                                                  ' (%s)' % naming_error if naming_error else ''))
            continue
        found = infos.get((acct['user_name'], name))
        if found is None or _no_account(found):
            continue  # the identity has no account there (listed, it has its own row: failed, or retired)
        if accounts_mod.unkeyable_source(name):
            meta['problem'] = ('source %s of password sync group %r is named %s, which no account key can name '
                               '(a \'/\' or a control character); rotate this identity by hand' % (sid, sync.get('name'), ascii(name)))
            continue
        if isinstance(found, IscError):
            meta['problem'] = ('%s/%s shares this password (sync group %r) and could not be read: %s'
                               % (name, acct['user_name'], sync.get('name'), found))
            continue
        for account in found.get('accounts') or []:
            ident = (found.get('identityId'), sid, account.get('accountId'))
            if ident in by_account:
                continue
            several = len(found.get('accounts') or []) > 1
            key = account_key(name, acct['user_name'], account.get('accountId') if several else None)
            extra = {'key': key, 'info': found, 'account_id': account.get('accountId'), 'discovered': True,
                     'acct': {'source_name': name, 'user_name': acct['user_name'],
                              'account_id': account.get('accountId') if several else None,
                              'max_age_days': acct['max_age_days'], 'password_length': None,
                              'exclude_chars': '', 'unlisted': True}}
            members[key] = extra
            by_account[ident] = [extra]
            group_of[key] = gid
    return meta


# --------------------------------------------------------------------------- deciding

def decide_members(members, ledger, reconciled, force, now):
    """Each member's own state (error, waiting, resubmit, parked, rotate, skip) and the reason for it."""
    orphans = set(reconciled.get('orphans', ()))
    in_flight = {}
    for item in reconciled.get('waiting', ()):
        for key in item['keys']:
            in_flight[key] = item
    just_finished = set()  # an earlier change confirmed FINISHED by this run's reconcile: rotated just now
    for item in reconciled.get('finished', ()):
        just_finished.update(item['keys'])
    for member in members.values():
        key, entry = member['key'], ledger.entry(member['key'])
        if 'error' in member:  # an account ISC no longer knows may settle it (settlement.py)
            member['state'], member['reason'] = settlement.state_when_gone(member, key in orphans, entry, key in in_flight) or ('error', member['error'])
        elif key in in_flight:
            item = in_flight[key]
            member['state'] = 'waiting'
            member['reason'] = item.get('reason') or 'change still in progress at ISC; settled by a later run'
        elif key in orphans:
            member['state'], member['reason'] = 'resubmit', 'escrowed password whose outcome was never recorded'
            member['refused'] = entry.get('refused')  # an attempt ISC refused a re-send of (settlement.refusal)
        elif entry.get('state') == 'parked' and not force:
            member['state'] = 'parked'
            member['reason'] = 'parked after %s failed attempts: %s' % (entry.get('attempts'), entry.get('last_error'))
        elif member['acct'].get('unlisted') and not member.get('discovered'):
            member['state'], member['reason'] = 'skip', 'not listed'
        elif key in just_finished and not force:
            member['state'], member['reason'] = 'skip', 'not due (the earlier change was just confirmed FINISHED)'
        else:
            why = _due(entry, member['acct']['max_age_days'], force, now, member['acct'].get('rotate_reason') == 'drift')
            member['state'], member['reason'] = ('rotate', why) if why else (
                'skip', 'not due (rotated %s)' % entry.get('last_rotated'))
    # one change of an identity at a time (overlap.py): none while another of its changes is still running at ISC
    running = dict((m['acct']['user_name'], m['key']) for m in members.values() if m['state'] == 'waiting')
    for member in members.values():
        if member['state'] in ('rotate', 'resubmit') and member['acct']['user_name'] in running:
            member['state'] = 'waiting'
            member['reason'] = ('not sent while the change of %s, of the same identity, is still running at ISC (a sync '
                                'group joining in between would make both reach the same accounts); a later run sends it'
                                % running[member['acct']['user_name']])


def decide_groups(members, group_of, group_meta, pending_passwords, pending_attempts, store_pending, settled_now, rng):
    """One action per group (its members' states by GROUP_PRECEDENCE); the change of each group to send."""
    by_group = collections.OrderedDict()
    for member in members.values():
        by_group.setdefault(group_of[member['key']], []).append(member)

    decisions, out = [], []
    for gid, group_members in by_group.items():
        meta = group_meta.get(gid) or {'sync': None, 'sources': [], 'problem': None}
        action = next(a for a in GROUP_PRECEDENCE if any(m['state'] == a for m in group_members) or a == 'skip')
        lead = next(m for m in group_members if m['state'] == action)
        if action != 'error' and meta['problem'] and action in ('rotate', 'resubmit'):
            action, lead = 'error', dict(lead, reason=meta['problem'])
        group = None
        if action in ('rotate', 'resubmit'):
            group, problem = _build_group(gid, group_members, meta, action, pending_passwords, pending_attempts,
                                          store_pending, settled_now, rng)
            if problem:
                action, lead, group = 'error', dict(lead, reason=problem), None
            elif group.get('supersedes'):
                action, lead = 'supersede', dict(lead, reason=group.pop('superseded_because'))
        for member in group_members:
            decision = _decision(member, gid, action, lead)
            if decision is not None:
                decisions.append(decision)
        if group is not None:
            # why it is sent, for the ledger's history: due, forced, drift, or resend (an escrowed password again)
            reason = str(lead.get('reason'))
            group['why'] = 'resend' if action in ('resubmit', 'supersede') else (
                'forced' if reason == 'forced' else 'drift' if reason.startswith('drift') else 'due')
            out.append(group)
    return decisions, out


def _decision(member, gid, action, lead):
    """The report row of one member of a group whose action is decided (None: not part of this run)."""
    acct = member['acct']
    if action == 'skip' and acct.get('unlisted') and not member.get('discovered'):
        return None  # an unlisted key with nothing to settle: not part of this run
    decision = {'key': member['key'], 'source_name': acct['source_name'], 'user_name': acct['user_name'],
                'account_id': acct.get('account_id'), 'group': gid, 'action': action}
    if acct.get('unlisted'):
        decision['unlisted'] = True
    if member['key'] == lead['key']:
        decision['reason'] = lead['reason']
    elif member['state'] == action:
        decision['reason'] = member['reason']
    elif action == 'rotate':
        decision['reason'] = 'shares its password with a due account (%s)' % lead['key']
    else:
        decision['reason'] = 'shares its password with %s: %s' % (lead['key'], lead['reason'])
    if member.get('discovered'):
        decision['reason'] += '; not in the accounts list, but its sync group changes it too'
    return decision


def _build_group(gid, members, meta, action, pending_passwords, pending_attempts, store_pending, settled_now, rng):
    """The password change of one group, or (None, why it cannot be made)."""
    keys = [m['key'] for m in members]
    # the account set-password names: one whose source holds no other account of the identity, since
    # the fan-out over a sync group reaches the other sources' accounts, not a twin on the named source
    counts = collections.Counter(m['info'].get('sourceId') for m in members)
    named = [m for m in members if counts[m['info'].get('sourceId')] == 1 or meta['sync'] is None]
    if not named:
        return None, ('the identity has several accounts on every source of its password sync group; a change '
                      'names one account and would reach the others unpredictably: rotate these by hand')
    lead = next((m for m in named if not m['acct'].get('unlisted')), named[0])
    info = lead['info']
    group = {'group': gid, 'keys': keys, 'identity_id': info.get('identityId'), 'source_id': info.get('sourceId'),
             'account_id': lead['account_id'], 'public_key_id': info.get('publicKeyId'),
             'public_key': info.get('publicKey'), 'reuse_pending': action == 'resubmit',
             'sources': sorted(set(meta['sources'] or [info.get('sourceId')])),
             'names': dict((m['key'], [m['acct']['source_name'], m['acct']['user_name'], m['acct'].get('account_id')])
                           for m in members),
             'key_sources': dict((m['key'], m['info'].get('sourceId')) for m in members)}
    unsettled = [k for k in keys if k in store_pending and k not in settled_now]
    if action == 'resubmit':
        holders = [k for k in keys if k in pending_passwords or k in unsettled]
        found = resend.escrowed(holders, pending_passwords, lambda k: pending_attempts.get(k, store_pending.get(k, 'legacy')))
        if found is None:
            return None, resend.unreadable(holders or keys)
        group['attempt'] = found[1]
        # ISC may still accept it: the same attempt again, its password joined by apply (resend.py), never carried here
        if not settlement.supersede(group, members, found[0]):
            return group, None
    elif unsettled:
        return None, ('%s already holds an unsettled pending password in the store; it is settled before a new one '
                      'is made' % ', '.join(unsettled))
    rules = policy_mod.merge_policies(policy_mod.parse_policies(m['info'].get('policies') or []) for m in members)
    lengths = [m['acct']['password_length'] for m in members if m['acct'].get('password_length')]
    exclude = ''.join(sorted(set(''.join(m['acct'].get('exclude_chars') or '' for m in members))))
    try:
        group['password'] = policy_mod.generate(rules, length=max(lengths) if lengths else None,
                                                exclude_chars=exclude, rng=rng)
    except policy_mod.PolicyError as exc:
        return None, 'password_length/exclude_chars cannot be met: %s; change them for this account' % exc
    group['attempt'] = uuid.uuid4().hex
    return group, None
