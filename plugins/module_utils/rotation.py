# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk rotation pipeline behind the service_account_rotation role.

Internal to the sailpoint_isc.passwords collection; may change without notice.

The role drives four phases, each one module run:
  reconcile  poll what an earlier run left pending (request ids in the ledger)
  plan       query every account, decide what is due, group shared passwords, generate passwords
  apply      submit set-password for every group under one limiter, poll until terminal
  record     fold outcomes into the ledger and write the JSON and JUnit reports
The secret store is written by the role between the phases (escrow before apply, commit after).
The ledger never holds a password: only states, request ids, timestamps and errors.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import heapq
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
from xml.sax.saxutils import quoteattr, escape

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as policy_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import encrypt_password
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import write_atomic

TERMINAL = ('FINISHED', 'FAILED')
LEDGER_VERSION = 1
HISTORY_LIMIT = 20  # settled changes kept per account in the ledger (the audit trail)


class RotationError(Exception):
    """A problem that stops the phase before anything is changed."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def account_key(source_name, user_name, account_id=None):
    """The one name of an account in the ledger, the store and the reports."""
    key = '%s/%s' % (source_name, user_name)
    return key + '#' + account_id if account_id else key


class Ledger:
    """Per-account rotation state: a JSON snapshot plus an append-only journal.

    Events are journalled (one fsynced line each) the moment they happen, so a process killed
    right after set-password answered still leaves its request id on disk. `save()` folds the
    journal into a new snapshot.
    """

    def __init__(self, path):
        self.path = path
        self.journal_path = path + '.journal'
        self.accounts = {}
        self._lock = threading.Lock()
        self._journal = None

    def load(self):
        if os.path.exists(self.path):
            try:
                with open(self.path) as handle:
                    data = json.load(handle)
                if not isinstance(data, dict) or not isinstance(data.get('accounts'), dict):
                    raise ValueError('no "accounts" mapping')
            except ValueError as exc:
                raise RotationError(
                    'rotation ledger %s is corrupt (%s); restore it from backup or move it aside '
                    '(the secret store still holds every password) and re-run' % (self.path, exc))
            self.accounts = data['accounts']
        if os.path.exists(self.journal_path):
            with open(self.journal_path) as handle:
                for line in handle:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash: the event never completed
                    self._apply(event)
        return self

    def entry(self, key):
        return self.accounts.get(key, {})

    def _apply(self, event):
        kind = event['event']
        for key in event['keys']:
            entry = self.accounts.setdefault(key, {'attempts': 0})
            if event.get('run_id') and kind in ('finished', 'failed', 'unknown'):
                # the audit trail: when, which request, how it ended, which run (never a secret)
                history = entry.setdefault('history', [])
                history.append({'at': event['at'], 'outcome': {'finished': 'rotated'}.get(kind, kind),
                                'request_id': event.get('request_id'), 'run_id': event['run_id']})
                del history[:-HISTORY_LIMIT]
            if kind == 'submitting':
                # which attempt (store pending) this request carries, whether its password may already be
                # live (a re-send), and which sources the plan expected it to reach
                entry.update(state='pending', request_id=None, group=event.get('group'), submitted_at=event['at'],
                             attempt=event.get('attempt'), resend=bool(event.get('resend')),
                             sources=event.get('sources') or [])
                if (event.get('names') or {}).get(key):
                    entry['names'] = event['names'][key]
            elif kind == 'submitted':
                entry.update(state='pending', request_id=event['request_id'], submitted_at=event['at'])
            elif kind == 'unknown':
                entry.update(state='pending', request_id=event.get('request_id'), last_error=event.get('reason'))
            elif kind == 'finished':
                entry.update(state='current', request_id=None, last_rotated=event['at'], attempts=0, last_error=None,
                             last_request_id=event.get('request_id'))
            elif kind == 'failed':
                entry['attempts'] = entry.get('attempts', 0) + 1
                parked = entry['attempts'] >= event.get('max_attempts', 3)
                entry.update(state='parked' if parked else 'failed', request_id=None, last_error=event.get('reason'))
            elif kind == 'abandoned':
                entry.update(state='current' if entry.get('last_rotated') else 'unmanaged', request_id=None)
            elif kind == 'unpark':
                entry.update(state='failed', attempts=0)

    def append(self, kind, keys, **fields):
        event = dict(fields, event=kind, keys=list(keys))
        event.setdefault('at', iso(utcnow()))
        line = json.dumps(event, sort_keys=True) + '\n'
        with self._lock:
            self._apply(event)
            if self._journal is None:
                directory = os.path.dirname(os.path.abspath(self.journal_path))
                if not os.path.isdir(directory):
                    os.makedirs(directory, 0o700)
                fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._journal = os.fdopen(fd, 'a')
            self._journal.write(line)
            self._journal.flush()
            os.fsync(self._journal.fileno())

    def save(self):
        with self._lock:
            write_atomic(self.path, json.dumps({'version': LEDGER_VERSION, 'accounts': self.accounts},
                                               indent=1, sort_keys=True) + '\n')
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if os.path.exists(self.journal_path):
                os.unlink(self.journal_path)


# --------------------------------------------------------------------------- reconcile

# A status read that answers one of these means the run itself is misconfigured (credentials, scope,
# request): waiting would hide it for ever, so the run stops before it changes anything.
FATAL_STATUS_READ = (400, 401, 403)


def _entry_attempt(entry):
    return entry.get('attempt') or 'legacy'


def reconcile(client, ledger, store_pending, workers=4):
    """Settle what an earlier run left pending, before anything new is planned.

    store_pending: {key: attempt} for every key whose store holds a pending password.
    Returns request outcomes to commit or discard (with the attempt they belong to), changes still
    running, and orphans: keys escrowed as pending whose outcome is unknown or may be live. Orphans are
    re-sent with the same escrowed password by the next apply (never a new one), so store and service
    converge whatever happened to the lost request. A pending password is discarded only when ISC says
    its change FAILED and it can never have reached any source.
    """
    if isinstance(store_pending, (list, tuple)):
        store_pending = dict((k, 'legacy') for k in store_pending)
    by_request = collections.OrderedDict()
    orphans, abandoned = set(), []
    keys = sorted(set(store_pending) | set(k for k, e in ledger.accounts.items() if e.get('state') == 'pending'))
    for key in keys:
        entry = ledger.entry(key)
        rid = entry.get('request_id') if entry.get('state') == 'pending' else None
        if rid and (key not in store_pending or store_pending[key] == _entry_attempt(entry)):
            by_request.setdefault(rid, []).append(key)
        elif key in store_pending:
            orphans.add(key)  # escrowed, and no request of this attempt is known: settle by re-sending
        else:
            abandoned.append(key)  # ledger says pending, store holds nothing: the attempt never escrowed
    rids = list(by_request)
    results = client.map(client.password_change_status, rids, workers=workers)
    finished, failed, waiting = [], [], []
    for rid, result in zip(rids, results):
        members = by_request[rid]
        entry = ledger.entry(members[0])
        attempt = _entry_attempt(entry)
        if isinstance(result, IscError):
            if result.status == 404:  # ISC no longer knows the request: settle it by re-sending
                orphans.update(k for k in members if k in store_pending)
                abandoned.extend(k for k in members if k not in store_pending)
            elif result.status in FATAL_STATUS_READ:
                raise RotationError('reading the status of an earlier change failed: %s. Nothing was changed; fix the '
                                    'credentials or their rights (password-change-status needs ORG_ADMIN) and run '
                                    'again' % result)
            else:
                waiting.append({'request_id': rid, 'keys': members, 'attempt': attempt, 'state': 'UNREADABLE',
                                'reason': 'status of %s could not be read: %s' % (rid, result)})
            continue
        state = result.get('state')
        item = {'request_id': rid, 'keys': members, 'attempt': attempt, 'state': state,
                'errors': result.get('errors') or [], 'source_ids': result.get('sourceIds') or []}
        beyond = reached_beyond(item['source_ids'], entry.get('sources'))
        if beyond:
            item['beyond'] = beyond
        if state == 'FINISHED':
            finished.append(item)
        elif state == 'FAILED' and may_be_live(item['source_ids'], entry.get('sources'), entry.get('resend')):
            # the password may already be on a source: keep it and send the same one again
            orphans.update(k for k in members if k in store_pending)
        elif state == 'FAILED':
            failed.append(item)
        else:
            waiting.append(item)
    return {'finished': finished, 'failed': failed, 'waiting': waiting,
            'orphans': sorted(orphans), 'abandoned': sorted(abandoned),
            'commit_records': store_records(finished, store_pending),
            'discard_records': store_records(failed, store_pending)}


def store_records(items, store_pending=None):
    """The store operations that settle items: [{attempt, keys}], only keys whose pending is that attempt."""
    out = []
    for item in items:
        keys = [k for k in item['keys'] if store_pending is None or store_pending.get(k) == item['attempt']]
        if keys:
            out.append({'attempt': item['attempt'], 'keys': keys})
    return out


def may_be_live(source_ids, planned_sources=None, resend=False):
    """Whether a FAILED change's password may nevertheless be held by some account.

    A re-send of a password whose first sending had an unknown outcome may already be live, whatever the
    re-send did; a change that fanned out over several sources (a password sync group) may have set it on
    the healthy members, which ISC does not undo.
    """
    return bool(resend) or len(set(source_ids or ()) | set(planned_sources or ())) > 1


def reached_beyond(source_ids, planned_sources):
    """Source ids a change reached that the plan did not count on (their accounts hold a password no key stores)."""
    if not planned_sources:
        return []
    return sorted(set(source_ids or ()) - set(planned_sources))


# --------------------------------------------------------------------------- plan

def merge_policies(policies):
    """The strictest combination of several parsed policies (members of one shared password)."""
    merged = {}
    for parsed in policies:
        for name, value in parsed.items():
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if name.startswith('max_'):
                if value > 0:
                    merged[name] = min(merged.get(name, value), value)
            else:
                merged[name] = max(merged.get(name, value), value)
    return merged


def _setting(acct, name, default):
    value = acct.get(name)
    return default if value is None else value


def with_defaults(accounts, max_age_days, password_length, exclude_chars):
    """Fill per-account settings from the defaults; refuse an account listed twice."""
    seen, out, dupes = set(), [], []
    for index, acct in enumerate(accounts):
        for field in ('source_name', 'user_name'):
            if not (acct.get(field) or '').strip():
                raise RotationError('accounts[%d]: %s is empty; give the %s as ISC spells it'
                                    % (index, field, 'source display name' if field == 'source_name' else 'user name'))
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


def parse_key(key):
    """(source_name, user_name, account_id) back from an account key, for keys no longer listed."""
    source, _sep, rest = key.partition('/')
    user, _sep, account_id = rest.partition('#')
    return source, user, account_id or None


def _due(entry, max_age_days, force, now):
    if force:
        return 'forced'
    last = entry.get('last_rotated')
    if not last:
        return 'never rotated by this ledger'
    age = now - parse_iso(last)
    if age >= datetime.timedelta(days=max_age_days):
        return 'last rotated %d days ago (max_age_days %d)' % (age.days, max_age_days)
    return None


def _no_account(error):
    """A query answer that says the identity simply has no account on that source."""
    return isinstance(error, IscError) and error.status in (400, 404)


# Order in which one member's state decides the action of its whole group (first wins).
GROUP_PRECEDENCE = ('error', 'waiting', 'resubmit', 'parked', 'rotate', 'skip')


def plan(client, accounts, ledger, reconciled, force=False, now=None, sync_groups=None, rng=None,
         pending_passwords=None, pending_attempts=None, store_pending=None, workers=4):
    """Decide, per account, what this run does; one group per password change.

    accounts: dicts with source_name, user_name, account_id (optional), max_age_days,
    password_length (optional), exclude_chars. Returns (decisions, groups).

    A group is what one set-password changes: one account, or, when its source is in a password sync
    group, every account of the identity on the group's sources (listed or not: ISC changes them all).
    Two accounts of one identity on one source are two groups. A group carries the password to send:
    a new one, or for orphans the one already escrowed (pending_passwords / pending_attempts, read
    from the store), with the attempt id that names it in the store. Decisions carry no secret.
    """
    now = now or utcnow()
    pending_passwords = pending_passwords or {}
    pending_attempts = pending_attempts or {}
    store_pending = dict(store_pending or {})
    orphans = set(reconciled.get('orphans', ()))
    in_flight = {}
    for item in reconciled.get('waiting', ()):
        for key in item['keys']:
            in_flight[key] = item
    just_finished = set()  # an earlier change confirmed FINISHED by this run's reconcile: rotated just now
    for item in reconciled.get('finished', ()):
        just_finished.update(item['keys'])
    settled_now = set()  # store pendings this run commits or discards before it escrows anything
    for record in reconciled.get('commit_records', []) + reconciled.get('discard_records', []):
        settled_now.update(record['keys'])

    # Orphans no longer listed are still settled (with their escrowed password), never forgotten.
    accounts = list(accounts)
    listed = set(account_key(a['source_name'], a['user_name'], a.get('account_id')) for a in accounts)
    for key in sorted(orphans - listed):
        names = ledger.entry(key).get('names') or parse_key(key)
        accounts.append({'source_name': names[0], 'user_name': names[1], 'account_id': names[2],
                         'max_age_days': 0, 'password_length': None, 'exclude_chars': '', 'unlisted': True})

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
        member['account_id'], problem = _pick_account(info.get('accounts') or [], acct.get('account_id'))
        if problem:
            member['error'] = problem
    by_account = {}
    for member in members.values():
        if 'error' not in member:
            by_account.setdefault((member['info'].get('identityId'), member['info'].get('sourceId'),
                                   member['account_id']), []).append(member)

    group_of = {}  # key -> group id
    group_meta = {}  # group id -> {'sync': sync group or None, 'sources': planned source ids, 'problem': str}
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
                group_meta[gid] = meta = {'sync': sync, 'sources': list(sync.get('sourceIds') or []), 'problem': None}
                for sid in meta['sources']:
                    name = source_names.get(sid)
                    if name is None:
                        meta['problem'] = ('source %s of password sync group %r could not be named%s; the change would '
                                           'reach its accounts unrecorded' % (sid, sync.get('name'),
                                                                              ' (%s)' % naming_error if naming_error else ''))
                        continue
                    found = infos.get((acct['user_name'], name))
                    if found is None or _no_account(found) and (acct['user_name'], name) not in [
                            (a['user_name'], a['source_name']) for a in accounts]:
                        continue  # the identity has no account there
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
        group_of[member['key']] = gid

    # Each member's own state, then one action per group.
    for member in members.values():
        key, entry = member['key'], ledger.entry(member['key'])
        if 'error' in member:
            member['state'], member['reason'] = 'error', member['error']
        elif key in in_flight:
            item = in_flight[key]
            member['state'] = 'waiting'
            member['reason'] = item.get('reason') or 'change still in progress at ISC; settled by a later run'
        elif key in orphans:
            member['state'], member['reason'] = 'resubmit', 'escrowed password whose outcome was never recorded'
        elif entry.get('state') == 'parked' and not force:
            member['state'] = 'parked'
            member['reason'] = 'parked after %s failed attempts: %s' % (entry.get('attempts'), entry.get('last_error'))
        elif member['acct'].get('unlisted') and not member.get('discovered'):
            member['state'], member['reason'] = 'skip', 'not listed'
        elif key in just_finished and not force:
            member['state'], member['reason'] = 'skip', 'not due (the earlier change was just confirmed FINISHED)'
        else:
            why = _due(entry, member['acct']['max_age_days'], force, now)
            member['state'], member['reason'] = ('rotate', why) if why else (
                'skip', 'not due (rotated %s)' % entry.get('last_rotated'))

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
        for member in group_members:
            acct = member['acct']
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
            if action == 'skip' and acct.get('unlisted') and not member.get('discovered'):
                continue  # an unlisted key with nothing to settle: not part of this run
            decisions.append(decision)
        if group is not None:
            out.append(group)
    return decisions, out


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
                           for m in members)}
    unsettled = [k for k in keys if k in store_pending and k not in settled_now]
    if action == 'resubmit':
        holders = [k for k in keys if k in pending_passwords or k in unsettled]
        escrowed = set((pending_passwords.get(k), pending_attempts.get(k, store_pending.get(k, 'legacy')))
                       for k in holders)
        if len(escrowed) != 1 or not next(iter(escrowed))[0]:
            return None, ('the store lists a pending password for %s but it could not be read back, or the members '
                          'hold different ones; check the store' % ', '.join(holders or keys))
        group['password'], group['attempt'] = next(iter(escrowed))
        return group, None
    if unsettled:
        return None, ('%s already holds an unsettled pending password in the store; it is settled before a new one '
                      'is made' % ', '.join(unsettled))
    rules = merge_policies(policy_mod.parse_policies(m['info'].get('policies') or []) for m in members)
    lengths = [m['acct']['password_length'] for m in members if m['acct'].get('password_length')]
    exclude = ''.join(sorted(set(''.join(m['acct'].get('exclude_chars') or '' for m in members))))
    try:
        group['password'] = policy_mod.generate(rules, length=max(lengths) if lengths else None,
                                                exclude_chars=exclude, rng=rng)
    except policy_mod.PolicyError as exc:
        return None, 'password_length/exclude_chars cannot be met: %s; change them for this account' % exc
    group['attempt'] = uuid.uuid4().hex
    return group, None


def _pick_account(accounts, wanted):
    if wanted:
        for acct in accounts:
            if wanted in (acct.get('accountId'), acct.get('accountName')):
                return acct.get('accountId'), None
        return None, 'account_id %r is not among the identity\'s accounts on this source (%s)' % (
            wanted, ', '.join(a.get('accountName') or a.get('accountId') for a in accounts) or 'none')
    if len(accounts) == 1:
        return accounts[0].get('accountId'), None
    if not accounts:
        return None, 'the identity has no account on this source'
    return None, 'the identity has %d accounts on this source (%s); set account_id on this entry' % (
        len(accounts), ', '.join(a.get('accountName') or a.get('accountId') for a in accounts))


# --------------------------------------------------------------------------- apply

def apply(client, groups, ledger, wait_timeout=300, poll_interval=2.0, first_poll=None, workers=4,
          batch_size=100, progress=None, clock=time.monotonic):
    """Submit every group's change and poll them all until terminal or wait_timeout.

    One scheduler feeds a small thread pool: a status poll that is due goes first, otherwise the
    next submission; the client's limiter paces both, so the run is bound by the API budget.
    At most batch_size changes are submitted and not yet settled at any time.
    Each request id is journalled the moment it is known. set-password is never re-sent here.
    """
    first_poll = poll_interval if first_poll is None else first_poll
    outcomes = {}
    to_submit = collections.deque(groups)
    polls = []  # heap of (due, seq, group, request_id, deadline)
    seq = [0]
    inflight = {}
    done_count = [0]

    submitted_at = {}

    def submit(group):
        submitted_at[group['group']] = clock()
        ledger.append('submitting', group['keys'], group=group['group'], attempt=group.get('attempt'),
                      resend=bool(group.get('reuse_pending')), sources=group.get('sources') or [],
                      names=group.get('names') or {})
        encrypted = encrypt_password(group['public_key'], group['password'])
        return client.set_password(group['identity_id'], group['source_id'], group['account_id'],
                                   group['public_key_id'], encrypted)

    def settle(group, **outcome):
        outcomes[group['group']] = dict(outcome, group=group['group'], keys=group['keys'],
                                        attempt=group.get('attempt'), resend=bool(group.get('reuse_pending')),
                                        sources=group.get('sources') or [],
                                        seconds=round(clock() - submitted_at.get(group['group'], clock()), 3))
        done_count[0] += 1
        if progress and (done_count[0] % batch_size == 0 or done_count[0] == len(groups)):
            progress('%d/%d changes settled' % (done_count[0], len(groups)))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        while to_submit or polls or inflight:
            now = clock()
            while len(inflight) < workers:
                if polls and polls[0][0] <= now:
                    _due, _seq, group, rid, deadline = heapq.heappop(polls)
                    inflight[pool.submit(client.password_change_status, rid)] = ('poll', group, rid, deadline)
                elif to_submit and len(polls) + len(inflight) < batch_size:
                    group = to_submit.popleft()
                    inflight[pool.submit(submit, group)] = ('submit', group, None, None)
                else:
                    break
            if not inflight:
                time.sleep(max(0.0, min(polls[0][0] - clock(), 1.0)) if polls else 0)
                continue
            timeout = max(0.0, polls[0][0] - clock()) if polls and len(inflight) < workers else None
            finished, _pending = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                kind, group, rid, deadline = inflight.pop(future)
                error = future.exception()
                now = clock()
                if kind == 'submit':
                    if isinstance(error, IscOutcomeUnknown):
                        ledger.append('unknown', group['keys'], reason=str(error))
                        settle(group, state='UNKNOWN', request_id=None, errors=[str(error)])
                    elif error is not None:
                        # ISC answered and refused this request: it changed nothing
                        settle(group, state='REJECTED', request_id=None, errors=[str(error)])
                    else:
                        response = future.result()
                        rid = response.get('requestId')
                        ledger.append('submitted', group['keys'], request_id=rid)
                        if response.get('state') in TERMINAL or not rid:
                            settle(group, state=response.get('state') or 'UNKNOWN', request_id=rid, errors=[])
                        else:
                            seq[0] += 1
                            heapq.heappush(polls, (now + first_poll, seq[0], group, rid, now + wait_timeout))
                    continue
                status = None if error else future.result()
                state = (status or {}).get('state')
                if state in TERMINAL:
                    settle(group, state=state, request_id=rid, errors=status.get('errors') or [],
                           source_ids=status.get('sourceIds') or [])
                elif now >= deadline and error is not None:
                    # the last read failed: the change may be anywhere; the next run reads it again
                    settle(group, state='STATUS_UNKNOWN', request_id=rid,
                           errors=['status could not be read: %s' % error])
                elif now >= deadline:
                    settle(group, state='IN_PROGRESS', request_id=rid, errors=[])
                else:
                    seq[0] += 1
                    heapq.heappush(polls, (min(now + poll_interval, deadline), seq[0], group, rid, deadline))
    return settle_outcomes([outcomes[g['group']] for g in groups])


# --------------------------------------------------------------------------- record and report

FAILING = ('failed', 'unknown', 'unverified')  # report statuses that are JUnit failures
COMMIT_STATES = ('FINISHED',)
DISCARD_STATES = ('FAILED', 'REJECTED')


def settle_outcomes(outcomes):
    """Decide per outcome what the store does, keeping every password that may be live.

    A refused or FAILED change is discarded only when its password can never have reached a source:
    not a re-send of a password whose first sending had an unknown outcome, not a change that fanned
    out over several sources. Those become UNKNOWN: the password stays pending, the run reports it
    (and fails), and the next run sends the same password again.
    """
    for outcome in outcomes:
        state = outcome.get('state')
        if state == 'REJECTED' and outcome.get('resend'):
            outcome['state'] = 'UNKNOWN'
            outcome['errors'] = list(outcome.get('errors') or []) + [
                'this was a re-send of a password whose first sending had an unknown outcome, so the account may '
                'already hold it: it stays pending and the next run sends it again']
        elif state == 'FAILED' and may_be_live(outcome.get('source_ids'), outcome.get('sources'), outcome.get('resend')):
            outcome['state'] = 'UNKNOWN'
            why = ('this was a re-send of a password whose first sending had an unknown outcome, so the account may '
                   'already hold it' if outcome.get('resend') else
                   'the change reached %d sources of a password sync group and may have set the new password on some '
                   'of them' % len(set(outcome.get('source_ids') or ()) | set(outcome.get('sources') or ())))
            outcome['errors'] = list(outcome.get('errors') or []) + [
                why + ': it stays pending and the next run sends the same password again']
        beyond = reached_beyond(outcome.get('source_ids'), outcome.get('sources'))
        if beyond:
            outcome['beyond'] = beyond
    return outcomes


def outcome_records(outcomes):
    """Store operations for apply's outcomes: commit FINISHED, discard what can never be live."""
    return (store_records([o for o in outcomes if o['state'] in COMMIT_STATES and o.get('attempt')]),
            store_records([o for o in outcomes if o['state'] in DISCARD_STATES and o.get('attempt')]))


def record(ledger, reconciled, outcomes, max_attempts=3, run_id=None):
    """Fold settled outcomes into the ledger (after the store has committed or discarded)."""
    for item in reconciled.get('finished', []) + [o for o in outcomes if o['state'] in COMMIT_STATES]:
        ledger.append('finished', item['keys'], request_id=item.get('request_id'), run_id=run_id)
    for item in reconciled.get('failed', []) + [o for o in outcomes if o['state'] in DISCARD_STATES]:
        reason = '; '.join(item.get('errors') or []) or item.get('state', 'FAILED')
        ledger.append('failed', item['keys'], reason=reason, max_attempts=max_attempts,
                      request_id=item.get('request_id'), run_id=run_id)
    for outcome in outcomes:
        if outcome['state'] == 'UNKNOWN':
            # no request to poll: the next run re-sends the escrowed password
            ledger.append('unknown', outcome['keys'], reason='; '.join(outcome.get('errors') or []),
                          request_id=outcome.get('request_id'), run_id=run_id)
    if reconciled.get('abandoned'):
        ledger.append('abandoned', reconciled['abandoned'])
    ledger.save()


def summarize(decisions, reconciled, outcomes, check_mode=False, verify_failures=()):
    """One row per account: what happened to it in this run. Never a secret."""
    by_key, audit = {}, {}  # key -> (status, detail); key -> request id and seconds of its change
    for item in reconciled.get('finished', []) + reconciled.get('failed', []) + list(outcomes):
        for key in item['keys']:
            audit[key] = {'request_id': item.get('request_id'), 'seconds': item.get('seconds')}
    for item in reconciled.get('finished', []):
        for key in item['keys']:
            by_key[key] = ('rotated', 'earlier change confirmed FINISHED (%s)' % item['request_id'])
            if item.get('beyond'):
                by_key[key] = ('unknown', 'earlier change %s FINISHED but also reached source(s) %s, whose accounts '
                               'now hold a password the store does not record' % (item['request_id'],
                                                                                  ', '.join(item['beyond'])))
    for item in reconciled.get('failed', []):
        for key in item['keys']:
            by_key[key] = ('failed', 'earlier change FAILED: %s' % '; '.join(item['errors']))
    for item in reconciled.get('waiting', []):
        if item.get('state') == 'UNREADABLE':
            for key in item['keys']:
                by_key[key] = ('unknown', item['reason'] + '; its password stays pending and the next run reads it again')
    for outcome in outcomes:
        status = {'FINISHED': 'rotated', 'FAILED': 'failed', 'REJECTED': 'failed',
                  'IN_PROGRESS': 'pending', 'UNKNOWN': 'unknown', 'STATUS_UNKNOWN': 'unknown'}.get(outcome['state'], 'unknown')
        detail = outcome['state'] + (' ' + outcome['request_id'] if outcome.get('request_id') else '')
        if outcome.get('errors'):
            detail += ': ' + '; '.join(outcome['errors'])
        if outcome.get('beyond'):
            status = 'unknown'
            detail += ('; the change also reached source(s) %s, whose accounts now hold a password the store does not '
                       'record' % ', '.join(outcome['beyond']))
        for key in outcome['keys']:
            by_key[key] = (status, detail)
    for failure in verify_failures or ():
        # ISC set the password (it is current in the store) but the target did not accept it.
        by_key[failure['key']] = ('unverified', 'ISC reports FINISHED but verification failed: %s'
                                  % failure.get('reason', 'the verify task failed'))
    rows, seen = [], set()
    for decision in decisions:
        action = decision.get('action')
        seen.add(decision['key'])
        if decision['key'] in by_key:
            status, detail = by_key[decision['key']]
        elif action in ('rotate', 'resubmit'):
            status, detail = ('would rotate', decision['reason']) if check_mode else ('pending', decision['reason'])
        elif action == 'skip':
            status, detail = 'skipped', decision['reason']
        elif action == 'waiting':
            status, detail = 'pending', decision['reason']
        elif action == 'parked':
            status, detail = 'parked', decision['reason']
        else:
            status, detail = 'failed', decision.get('reason', '')
        if decision.get('unlisted') and 'not in the accounts list' not in detail:
            detail += ' (not in the accounts list: settling what an earlier run left)'
        rows.append(dict({'account': decision['key'], 'status': status, 'detail': detail},
                         **_audit_fields(audit.get(decision['key']))))
    for key in sorted(set(by_key) - seen):  # settled this run, no longer listed
        status, detail = by_key[key]
        rows.append(dict({'account': key, 'status': status, 'detail': detail + ' (not in the accounts list)'},
                         **_audit_fields(audit.get(key))))
    counts = collections.Counter(r['status'] for r in rows)
    return rows, dict(counts)


def _audit_fields(found):
    out = {}
    if found and found.get('request_id'):
        out['request_id'] = found['request_id']
    if found and found.get('seconds') is not None:
        out['seconds'] = found['seconds']
    return out


def render_table(rows, counts):
    width = max([len('account')] + [len(r['account']) for r in rows])
    lines = ['%-*s  %-12s  %s' % (width, 'account', 'status', 'detail')]
    lines += ['%-*s  %-12s  %s' % (width, r['account'], r['status'], r['detail'][:320]) for r in rows]
    lines.append('totals: ' + ', '.join('%s=%d' % kv for kv in sorted(counts.items())))
    return lines


def _run_copy(path, stamp):
    """runs/<name>-<stamp><ext> beside path: every run's report is kept, path itself is the latest."""
    directory, name = os.path.split(path)
    base, ext = os.path.splitext(name)
    return os.path.join(directory, 'runs', '%s-%s%s' % (base, stamp, ext))


def _prune(path, keep):
    """Keep the newest `keep` run copies of the report at path (names sort by time)."""
    directory = os.path.dirname(_run_copy(path, 'x'))
    base, ext = os.path.splitext(os.path.basename(path))
    if not os.path.isdir(directory):
        return
    mine = sorted(n for n in os.listdir(directory) if n.startswith(base + '-') and n.endswith(ext))
    for name in mine[:max(0, len(mine) - keep)]:
        os.unlink(os.path.join(directory, name))


def write_reports(rows, counts, json_path=None, junit_path=None, started=None, run_id=None, keep_runs=30,
                  now=None):
    """The JSON and JUnit reports: at their paths (the latest run) and, when keep_runs, one copy per run
    under runs/ beside them, with a UTC timestamp in the name; older copies beyond keep_runs are removed."""
    now = now or utcnow()
    stamp = now.strftime('%Y%m%dT%H%M%SZ') + ('-' + run_id[:8] if run_id else '')
    elapsed = max(0.0, (now - parse_iso(started)).total_seconds()) if started else 0.0
    outputs = []
    if json_path:
        outputs.append((json_path, json.dumps({'generated': iso(now), 'started': started, 'run_id': run_id,
                                               'totals': counts, 'accounts': rows}, indent=1) + '\n'))
    if junit_path:
        outputs.append((junit_path, _junit(rows, elapsed)))
    for path, text in outputs:
        write_atomic(path, text, 0o644)
        if keep_runs:
            write_atomic(_run_copy(path, stamp), text, 0o644)
            _prune(path, keep_runs)


def _junit(rows, elapsed):
    failures = sum(1 for r in rows if r['status'] in FAILING)
    skipped = sum(1 for r in rows if r['status'] in ('skipped', 'parked', 'pending', 'would rotate'))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="service_account_rotation" tests="%d" failures="%d" skipped="%d" time="%.3f">'
           % (len(rows), failures, skipped, elapsed),
           '  <testsuite name="service_account_rotation" tests="%d" failures="%d" errors="0" skipped="%d" time="%.3f">'
           % (len(rows), failures, skipped, elapsed)]
    for row in rows:
        # classname = the source, so CI report viewers group accounts by source; time = the change's own
        out.append('    <testcase classname=%s name=%s time="%.3f">'
                   % (quoteattr(row['account'].split('/', 1)[0]), quoteattr(row['account']), row.get('seconds') or 0))
        if row.get('request_id'):
            out.append('      <properties><property name="request_id" value=%s/></properties>'
                       % quoteattr(row['request_id']))
        if row['status'] in FAILING:
            out.append('      <failure message=%s>%s</failure>' % (quoteattr(row['status']), escape(row['detail'])))
        elif row['status'] in ('skipped', 'parked', 'pending', 'would rotate'):
            out.append('      <skipped message=%s/>' % quoteattr('%s: %s' % (row['status'], row['detail'])))
        if row.get('request_id'):
            out.append('      <system-out>%s</system-out>' % escape('%s: %s (request %s)' % (
                row['status'], row['detail'], row['request_id'])))
        out.append('    </testcase>')
    out += ['  </testsuite>', '</testsuites>']
    return '\n'.join(out) + '\n'
