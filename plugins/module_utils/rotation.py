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
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
from xml.sax.saxutils import quoteattr, escape

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as policy_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import encrypt_password
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import write_atomic

TERMINAL = ('FINISHED', 'FAILED')
LEDGER_VERSION = 1


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
            if kind == 'submitting':
                entry.update(state='pending', request_id=None, group=event.get('group'), submitted_at=event['at'])
            elif kind == 'submitted':
                entry.update(state='pending', request_id=event['request_id'], submitted_at=event['at'])
            elif kind == 'unknown':
                entry.update(state='pending', request_id=event.get('request_id'), last_error=event.get('reason'))
            elif kind == 'finished':
                entry.update(state='current', request_id=None, last_rotated=event['at'], attempts=0, last_error=None)
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

def reconcile(client, ledger, store_pending_keys, workers=4):
    """Settle what an earlier run left pending, before anything new is planned.

    Returns request outcomes to commit or discard, changes still running, and orphans: keys
    escrowed as pending whose set-password result was never recorded. Orphans are re-sent with
    the same escrowed password by the next apply (never with a new one), so store and service
    converge whatever happened to the lost request.
    """
    store_pending = set(store_pending_keys)
    by_request = collections.OrderedDict()
    orphans, abandoned = [], []
    keys = sorted(store_pending | set(k for k, e in ledger.accounts.items() if e.get('state') == 'pending'))
    for key in keys:
        entry = ledger.entry(key)
        rid = entry.get('request_id') if entry.get('state') == 'pending' else None
        if rid:
            by_request.setdefault(rid, []).append(key)
        elif key in store_pending:
            orphans.append(key)
        else:
            abandoned.append(key)  # ledger says pending, store holds nothing: the attempt never escrowed
    rids = list(by_request)
    results = client.map(client.password_change_status, rids, workers=workers)
    finished, failed, waiting = [], [], []
    for rid, result in zip(rids, results):
        members = by_request[rid]
        if isinstance(result, IscError):
            if result.status == 404:  # ISC no longer knows the request: settle it by re-sending
                orphans.extend(k for k in members if k in store_pending)
            else:
                waiting.append({'request_id': rid, 'keys': members, 'reason': str(result)})
            continue
        state = result.get('state')
        item = {'request_id': rid, 'keys': members, 'state': state, 'errors': result.get('errors') or []}
        if state == 'FINISHED':
            finished.append(item)
        elif state == 'FAILED' and reached_several_sources(result.get('sourceIds')):
            # some members may hold the new password: keep it and send the same one again
            orphans.extend(k for k in members if k in store_pending)
        elif state == 'FAILED':
            failed.append(item)
        else:
            waiting.append(item)
    return {'finished': finished, 'failed': failed, 'waiting': waiting,
            'orphans': sorted(orphans), 'abandoned': abandoned}


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
        out.append(dict(acct, max_age_days=acct.get('max_age_days') or max_age_days,
                        password_length=acct.get('password_length') or password_length or None,
                        exclude_chars=(exclude_chars or '') + (acct.get('exclude_chars') or '')))
    if dupes:
        raise RotationError('accounts: listed more than once: %s; remove the duplicates (each account is rotated '
                            'once per run)' % ', '.join(sorted(set(dupes))))
    return out


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


def plan(client, accounts, ledger, reconciled, force=False, now=None, sync_groups=None, rng=None,
         pending_passwords=None, workers=4):
    """Decide, per account, what this run does; one group per shared password.

    accounts: dicts with source_name, user_name, account_id (optional), max_age_days,
    password_length (optional), exclude_chars. Returns (decisions, groups); groups carry a
    password to send: a new one, or for orphans the one already escrowed (from pending_passwords,
    read from the store), so a lost request is settled by sending the same password again.
    Decisions carry no secret.
    """
    now = now or utcnow()
    orphans = set(reconciled.get('orphans', ()))
    in_flight = set()
    for item in reconciled.get('waiting', ()):
        in_flight.update(item['keys'])
    just_finished = set()  # an earlier change confirmed FINISHED by this run's reconcile: rotated just now
    for item in reconciled.get('finished', ()):
        just_finished.update(item['keys'])

    pairs = list(collections.OrderedDict(((a['user_name'], a['source_name']), None) for a in accounts))
    infos = dict(zip(pairs, client.map(lambda p: client.query_password_info(p[0], p[1]), pairs, workers=workers)))
    source_group = {}
    for group in sync_groups or ():
        for source_id in group.get('sourceIds') or ():
            source_group[source_id] = group.get('id')

    decisions, groups = [], collections.OrderedDict()
    for acct in accounts:
        info = infos[(acct['user_name'], acct['source_name'])]
        key = account_key(acct['source_name'], acct['user_name'], acct.get('account_id'))
        decision = {'key': key, 'source_name': acct['source_name'], 'user_name': acct['user_name'],
                    'account_id': acct.get('account_id')}
        decisions.append(decision)
        if isinstance(info, IscError):
            decision.update(action='error', reason=str(info))
            continue
        account_id, problem = _pick_account(info.get('accounts') or [], acct.get('account_id'))
        if problem:
            decision.update(action='error', reason=problem)
            continue
        entry = ledger.entry(key)
        gid = '%s|%s' % (info.get('identityId'), source_group.get(info.get('sourceId'), info.get('sourceId')))
        decision['group'] = gid
        if key in in_flight:
            decision.update(action='waiting', reason='change still in progress at ISC; settled by a later run')
            continue
        if entry.get('state') == 'parked' and not force:
            decision.update(action='parked', reason='parked after %s failed attempts: %s'
                            % (entry.get('attempts'), entry.get('last_error')))
            continue
        if key in orphans:
            decision.update(action='resubmit', reason='escrowed password whose outcome was never recorded')
        elif key in just_finished and not force:
            decision.update(action='skip', reason='not due (the earlier change was just confirmed FINISHED)')
            continue
        else:
            why = _due(entry, acct['max_age_days'], force, now)
            decision.update(action='rotate' if why else 'skip', reason=why or 'not due (rotated %s)' % entry.get('last_rotated'))
            if not why:
                continue
        group = groups.get(gid)
        if group is None:
            group = groups[gid] = {
                'group': gid, 'keys': [], 'identity_id': info.get('identityId'), 'source_id': info.get('sourceId'),
                'account_id': account_id, 'public_key_id': info.get('publicKeyId'), 'public_key': info.get('publicKey'),
                'reuse_pending': False, '_policies': [], '_lengths': [], '_exclude': set()}
        group['keys'].append(key)
        group['reuse_pending'] = group['reuse_pending'] or decision['action'] == 'resubmit'
        group['_policies'].append(policy_mod.parse_policies(info.get('policies') or []))
        if acct.get('password_length'):
            group['_lengths'].append(acct['password_length'])
        group['_exclude'].update(acct.get('exclude_chars') or '')

    # A group is rotated once: members that were not due still follow the shared password.
    for decision in decisions:
        gid = decision.get('group')
        if decision.get('action') == 'skip' and gid in groups:
            groups[gid]['keys'].append(decision['key'])
            decision.update(action='rotate', reason='shares its password with a due account (%s)' % groups[gid]['keys'][0])
    out = []
    for group in groups.values():
        rules = merge_policies(group.pop('_policies'))
        lengths, exclude = group.pop('_lengths'), ''.join(sorted(group.pop('_exclude')))
        if group['reuse_pending']:
            escrowed = [(pending_passwords or {}).get(k) for k in group['keys']]
            group['password'] = next((p for p in escrowed if p), None)
            if not group['password']:
                for decision in decisions:
                    if decision.get('group') == group['group']:
                        decision.update(action='error', reason='the store lists a pending password for this account '
                                                               'but it could not be read back; check the store')
                continue
        else:
            try:
                group['password'] = policy_mod.generate(rules, length=max(lengths) if lengths else None,
                                                        exclude_chars=exclude, rng=rng)
            except policy_mod.PolicyError as exc:
                # this account's settings cannot be met: report it, rotate the others
                for decision in decisions:
                    if decision.get('group') == group['group'] and decision.get('action') in ('rotate', 'resubmit'):
                        decision.update(action='error', reason='password_length/exclude_chars cannot be met: %s; change '
                                        'them for this account' % exc)
                continue
        out.append(group)
    return decisions, out


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

    def submit(group):
        ledger.append('submitting', group['keys'], group=group['group'])
        encrypted = encrypt_password(group['public_key'], group['password'])
        return client.set_password(group['identity_id'], group['source_id'], group['account_id'],
                                   group['public_key_id'], encrypted)

    def settle(group, **outcome):
        outcomes[group['group']] = dict(outcome, group=group['group'], keys=group['keys'])
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
                        # ISC answered and refused: nothing changed, the escrowed password is discarded.
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
                elif now >= deadline:
                    settle(group, state='IN_PROGRESS', request_id=rid,
                           errors=[str(error)] if error else [])
                else:
                    seq[0] += 1
                    heapq.heappush(polls, (min(now + poll_interval, deadline), seq[0], group, rid, deadline))
    return [outcomes[g['group']] for g in groups]


# --------------------------------------------------------------------------- record and report

COMMIT_STATES = ('FINISHED',)


def reached_several_sources(source_ids):
    """A change that fans out over a password sync group; when it FAILED, the healthy members may still
    have taken the new password (ISC does not undo them), so its password must not be discarded."""
    return len(set(source_ids or ())) > 1


def keep_partial_failures(outcomes):
    """Turn FAILED changes that reached several sources into UNKNOWN: the role then keeps their password
    pending (instead of discarding a password some accounts may hold) and the next run re-sends it."""
    for outcome in outcomes:
        if outcome.get('state') == 'FAILED' and reached_several_sources(outcome.get('source_ids')):
            outcome['state'] = 'UNKNOWN'
            outcome['errors'] = list(outcome.get('errors') or []) + [
                'the change reached %d sources of a password sync group and may have set the new password on some '
                'of them: it stays pending and the next run sends the same password again'
                % len(set(outcome['source_ids']))]
    return outcomes


FAILING = ('failed', 'unknown', 'unverified')  # report statuses that are JUnit failures
DISCARD_STATES = ('FAILED', 'REJECTED')


def record(ledger, reconciled, outcomes, max_attempts=3):
    """Fold settled outcomes into the ledger (after the store has committed or discarded)."""
    for item in reconciled.get('finished', []) + [o for o in outcomes if o['state'] in COMMIT_STATES]:
        ledger.append('finished', item['keys'], request_id=item.get('request_id'))
    for item in reconciled.get('failed', []) + [o for o in outcomes if o['state'] in DISCARD_STATES]:
        reason = '; '.join(item.get('errors') or []) or item.get('state', 'FAILED')
        ledger.append('failed', item['keys'], reason=reason, max_attempts=max_attempts)
    if reconciled.get('abandoned'):
        ledger.append('abandoned', reconciled['abandoned'])
    ledger.save()


def summarize(decisions, reconciled, outcomes, check_mode=False, verify_failures=()):
    """One row per account: what happened to it in this run. Never a secret."""
    by_key = {}
    for item in reconciled.get('finished', []):
        for key in item['keys']:
            by_key[key] = ('rotated', 'earlier change confirmed FINISHED (%s)' % item['request_id'])
    for item in reconciled.get('failed', []):
        for key in item['keys']:
            by_key[key] = ('failed', 'earlier change FAILED: %s' % '; '.join(item['errors']))
    for outcome in outcomes:
        status = {'FINISHED': 'rotated', 'FAILED': 'failed', 'REJECTED': 'failed',
                  'IN_PROGRESS': 'pending', 'UNKNOWN': 'unknown'}.get(outcome['state'], 'unknown')
        detail = outcome['state'] + (' ' + outcome['request_id'] if outcome.get('request_id') else '')
        if outcome.get('errors'):
            detail += ': ' + '; '.join(outcome['errors'])
        for key in outcome['keys']:
            by_key[key] = (status, detail)
    for failure in verify_failures or ():
        # ISC set the password (it is current in the store) but the target did not accept it.
        by_key[failure['key']] = ('unverified', 'ISC reports FINISHED but verification failed: %s'
                                  % failure.get('reason', 'the verify task failed'))
    rows = []
    for decision in decisions:
        action = decision.get('action')
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
        rows.append({'account': decision['key'], 'status': status, 'detail': detail})
    counts = collections.Counter(r['status'] for r in rows)
    return rows, dict(counts)


def render_table(rows, counts):
    width = max([len('account')] + [len(r['account']) for r in rows])
    lines = ['%-*s  %-12s  %s' % (width, 'account', 'status', 'detail')]
    lines += ['%-*s  %-12s  %s' % (width, r['account'], r['status'], r['detail'][:320]) for r in rows]
    lines.append('totals: ' + ', '.join('%s=%d' % kv for kv in sorted(counts.items())))
    return lines


def write_reports(rows, counts, json_path=None, junit_path=None, started=None):
    if json_path:
        write_atomic(json_path, json.dumps({'generated': iso(utcnow()), 'started': started,
                                            'totals': counts, 'accounts': rows}, indent=1) + '\n', 0o644)
    if junit_path:
        failures = sum(1 for r in rows if r['status'] in FAILING)
        skipped = sum(1 for r in rows if r['status'] in ('skipped', 'parked', 'pending', 'would rotate'))
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<testsuites name="service_account_rotation" tests="%d" failures="%d" skipped="%d" time="0">'
               % (len(rows), failures, skipped),
               '  <testsuite name="service_account_rotation" tests="%d" failures="%d" errors="0" skipped="%d" time="0">'
               % (len(rows), failures, skipped)]
        for row in rows:
            # classname = the source, so CI report viewers group accounts by source
            out.append('    <testcase classname=%s name=%s time="0">'
                       % (quoteattr(row['account'].split('/', 1)[0]), quoteattr(row['account'])))
            if row['status'] in FAILING:
                out.append('      <failure message=%s>%s</failure>' % (quoteattr(row['status']), escape(row['detail'])))
            elif row['status'] in ('skipped', 'parked', 'pending', 'would rotate'):
                out.append('      <skipped message=%s/>' % quoteattr('%s: %s' % (row['status'], row['detail'])))
            out.append('    </testcase>')
        out += ['  </testsuite>', '</testsuites>']
        write_atomic(junit_path, '\n'.join(out) + '\n', 0o644)
