# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk rotation pipeline behind the service_account_rotation role: settle, send, record.

Internal to the sailpoint_isc.passwords collection; may change without notice.

The role drives four phases, each one module run:
  reconcile  poll what an earlier run left pending (request ids in the ledger)         (here)
  plan       query the accounts, decide what is due, group shared passwords            (planning.py)
  apply      submit set-password for every group under one limiter, poll until terminal (here)
  record     fold outcomes into the ledger (recording.py) and write the reports        (report.py)
The secret store is written by the role between the phases (escrow before apply, commit after).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import heapq
import itertools
import time
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import TERMINAL_STATES
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client_pool import Assignment, as_pool, is_auth_failure
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown, referenced_object_missing
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.reach import HELD_BACK, HeldBack, split_finished
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.recording import COMMIT_STATES, DISCARD_STATES
# the record phase's step lives in recording.py (that phase need not compile this file); rotation.record is the same
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.recording import record  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import overlap, resend

# --------------------------------------------------------------------------- reconcile

# A status read that answers one of these means the credentials are refused (no token, no right to read
# statuses): waiting would hide it for ever, so the run stops before it changes anything. A request id ISC
# no longer knows (404, or 400 400.1.404 for an expired id) is settled by re-sending; any other answer
# leaves that change unreadable for this run only.
FATAL_STATUS_READ = (401, 403)


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
    finished, failed, waiting, missed_records = [], [], [], []
    for rid, result in zip(rids, results):
        members = by_request[rid]
        entry = ledger.entry(members[0])
        attempt = _entry_attempt(entry)
        if isinstance(result, IscError):
            if referenced_object_missing(result):  # ISC no longer knows the request: settle it by re-sending
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
            # settled against what ISC applied (reach.py): a key the change missed is not committed, and a change
            # that reached accounts beyond the plan is sent again with its escrowed password to its group as it is
            resend_all, left_out = split_finished(item, ledger, store_pending)
            if resend_all:
                orphans.update(k for k in members if k in store_pending)
                continue
            for key in left_out:
                if ledger.entry(key).get('resend') and key in store_pending:
                    orphans.add(key)  # its first sending may have set it: settled on its own, by sending it again
                else:
                    abandoned.append(key)  # ISC did not change it: it keeps its current password
            missed_records.append({'attempt': attempt, 'keys': [k for k in left_out if k not in orphans
                                                                and store_pending.get(k) == attempt]})
            finished.append(item)
        elif state == 'FAILED' and may_be_live(item['source_ids'], entry.get('sources'), entry.get('resend')):
            # the password may already be on a source: keep it and send the same one again
            orphans.update(k for k in members if k in store_pending)
            abandoned.extend(k for k in members if k not in store_pending)
        elif state == 'FAILED':
            failed.append(item)
        else:
            waiting.append(item)
    return {'finished': finished, 'failed': failed, 'waiting': waiting,
            'orphans': sorted(orphans), 'abandoned': sorted(abandoned),
            'commit_records': store_records(finished, store_pending),
            'discard_records': store_records(failed, store_pending) + [r for r in missed_records if r['keys']]}


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


# --------------------------------------------------------------------------- apply

def apply(client, groups, ledger, wait_timeout=300, poll_interval=2.0, first_poll=None, workers=4,
          batch_size=100, progress=None, clock=time.monotonic, progress_every=5.0, reach=None, run_id=None,
          sleep=time.sleep, pending_passwords=None, pending_attempts=None):
    """Submit every group's change and poll them all until terminal or wait_timeout: ``Apply(...).run()``."""
    return Apply(client, groups, ledger, wait_timeout=wait_timeout, poll_interval=poll_interval, first_poll=first_poll,
                 workers=workers, batch_size=batch_size, progress=progress, clock=clock, progress_every=progress_every,
                 reach=reach, run_id=run_id, sleep=sleep, pending_passwords=pending_passwords,
                 pending_attempts=pending_attempts).run()


class Apply(object):
    """Submit every group's change and poll them all until terminal or wait_timeout.

    One scheduler feeds a small thread pool: a status poll that is due goes first, otherwise the
    next submission; the client's limiter paces both, so the run is bound by the API budget.
    At most batch_size changes are submitted and not yet settled at any time.
    Each request id is journalled the moment it is known. set-password is never re-sent here.
    progress(line) gets a line (settled, in flight, rate, ETA) every progress_every seconds and at the end.

    ``client`` may be a ClientPool (client_pool.py): then every client has its own ``workers`` and
    ``batch_size``, the changes of one identity go through one client (Assignment), a change is polled
    through the client that submitted it, and a client that fails authentication is taken out: what it had
    not sent goes to the others (a refused request changed nothing); with none left, it is REJECTED.
    ``reach`` (reach.ReachCheck) re-reads the sync groups right before a change is sent; a change whose reach is
    no longer the planned one is not sent (state reach.HELD_BACK) and is planned again by the role.
    The changes of one identity go out one after another (overlap.Turns): the next once the one before is terminal;
    after one that may still be running, the others are not sent (state overlap.DEFERRED).
    ``clock`` and ``sleep`` are injected (time.monotonic and time.sleep by default), so a test can run the
    schedule on a clock of its own.
    A re-send group (``reuse_pending``) carries its attempt and no password: ``pending_passwords`` and
    ``pending_attempts`` (by account key, as the store's read_pending answers) give it, joined by attempt id
    (resend.py); a re-send without its password there is REJECTED, unsent, and stays pending for the next run.

    The steps: ``submit`` (in a worker thread), ``poll`` (schedule a status read), ``settle`` (an outcome, and the
    next change of its identity), ``take_out`` (a client that failed authentication); ``run`` drives them.
    """

    def __init__(self, client, groups, ledger, wait_timeout=300, poll_interval=2.0, first_poll=None, workers=4,
                 batch_size=100, progress=None, clock=time.monotonic, progress_every=5.0, reach=None, run_id=None,
                 sleep=time.sleep, pending_passwords=None, pending_attempts=None):
        self.pool = as_pool(client)
        self.pending_passwords, self.pending_attempts = pending_passwords or {}, pending_attempts or {}
        self.groups, self.ledger, self.reach, self.run_id = groups, ledger, reach, run_id
        self.wait_timeout, self.poll_interval, self.workers, self.batch_size = wait_timeout, poll_interval, workers, batch_size
        self.first_poll = poll_interval if first_poll is None else first_poll
        self.progress, self.progress_every, self.clock, self.sleep = progress, progress_every, clock, sleep
        self.outcomes = {}
        self.turns = overlap.Turns(groups)
        self.lane_of, self.sent_order, self.counter = {}, {}, itertools.count()
        # a change costs a set-password and (about) one status read: 2 requests of a client's budget
        self.work = Assignment(self.turns.firsts(), self.pool.alive(), cost=self.turns.cost,
                               spent=self.pool.spent(per_item=2))
        lanes = range(len(self.pool.clients))
        self.polls = dict((lane, []) for lane in lanes)  # per client, heap of (due, seq, group, rid, deadline)
        self.busy = dict((lane, 0) for lane in lanes)
        self.seq = 0
        self.inflight = {}  # future -> (kind, group, rid, deadline, lane)
        self.done_count = 0
        self.submitted_at = {}
        self.started, self.last_line = clock(), clock()

    def tell(self):
        elapsed = max(self.clock() - self.started, 0.001)
        done, total = self.done_count, len(self.groups)
        unsettled = sum(1 for o in self.outcomes.values() if o['state'] != 'FINISHED')
        rate = done / elapsed
        eta = ', ETA %ds' % ((total - done) / rate) if rate and done < total else ''
        self.progress('%d/%d changes settled (%d not FINISHED), %d in flight, %.1f changes/s%s'
                      % (done, total, unsettled, len(self.inflight) + sum(len(h) for h in self.polls.values()),
                         rate, eta))
        self.last_line = self.clock()

    def submit(self, lane, group):
        """Send one change (in a worker thread), journalled before it goes out."""
        self.submitted_at[group['group']] = self.clock()
        self.lane_of[group['group']] = lane
        why = self.reach.held_back(group) if self.reach is not None else None
        if why:
            raise HeldBack(why)  # nothing sent, nothing journalled: the role plans it again
        password = (resend.password_of(group, self.pending_passwords, self.pending_attempts)  # or nothing sent
                    if group.get('reuse_pending') else group['password'])
        self.sent_order[group['group']] = next(self.counter)
        self.ledger.append('submitting', group['keys'], group=group['group'], attempt=group.get('attempt'),
                           resend=bool(group.get('reuse_pending')), sources=group.get('sources') or [],
                           names=group.get('names') or {}, key_sources=group.get('key_sources') or {},
                           run_id=self.run_id, why=group.get('why'))
        # imported when a change is sent, so the reconcile and record phases never import cryptography
        from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import encrypt_password
        encrypted = encrypt_password(group['public_key'], password)
        return self.pool.clients[lane].set_password(group['identity_id'], group['source_id'], group['account_id'],
                                                    group['public_key_id'], encrypted)

    def settle(self, group, **outcome):
        """A change's outcome; the next change of its identity goes out, or the others are DEFERRED."""
        name = group['group']
        self.outcomes[name] = dict(outcome, group=name, keys=group['keys'],
                                   attempt=group.get('attempt'), resend=bool(group.get('reuse_pending')),
                                   sources=group.get('sources') or [], supersedes=group.get('supersedes'),
                                   sent=self.sent_order.get(name),
                                   seconds=round(self.clock() - self.submitted_at.get(name, self.clock()), 3))
        self.done_count += 1
        if self.progress and self.done_count == len(self.groups):
            self.tell()
        follower, held = self.turns.after(group, outcome['state'])  # the next change of its identity, or none this run
        for other in held:
            self.settle(other, state=overlap.DEFERRED, request_id=None, errors=[overlap.deferred_because(group)])
        if follower is not None:
            self.work.give_back(self.lane_of.get(name), follower)

    def poll(self, lane, due, group, rid, deadline):
        """Poll through the client that submitted the change, or another one if it was taken out."""
        alive = self.pool.alive()
        if not alive:
            self.settle(group, state='STATUS_UNKNOWN', request_id=rid,
                        errors=['status could not be read: %s' % self.pool.all_failed_error()])
            return
        if lane not in alive:
            lane = min(alive, key=lambda other: len(self.polls[other]))
        self.seq += 1
        heapq.heappush(self.polls[lane], (due, self.seq, group, rid, deadline))

    def take_out(self, lane, error):
        if self.pool.fail_lane(lane, error) and self.progress:
            self.progress('API client %s failed authentication and was taken out of the run: %s'
                          % (self.pool.name(lane), error))
        self.work.fail(lane)
        moved, self.polls[lane] = self.polls[lane], []
        for _due, _seq, group, rid, deadline in moved:
            self.poll(lane, self.clock(), group, rid, deadline)

    def run(self):
        with ThreadPoolExecutor(max_workers=self.workers * len(self.pool.clients)) as threads:
            while self.work.pending() or any(self.polls.values()) or self.inflight:
                now = self.clock()
                if self.progress and now - self.last_line >= self.progress_every:
                    self.tell()
                self._start(threads, now)
                if not self.inflight:
                    if not self.pool.alive():
                        break
                    dues = [h[0][0] for h in self.polls.values() if h]
                    self.sleep(max(0.0, min(min(dues) - self.clock(), 1.0)) if dues else 0)
                    continue
                self._collect()
        unsent = self.work.unsent()
        while unsent:
            for group in unsent:
                # never sent: every client failed authentication before it went out
                self.settle(group, state='REJECTED', request_id=None,
                            errors=['not sent: %s' % self.pool.all_failed_error()])
            unsent = [g for g in self.work.unsent() if g['group'] not in self.outcomes]  # the ones that followed them
        return settle_outcomes([self.outcomes[g['group']] for g in self.groups])

    def _start(self, threads, now):
        """Per client, fill its free workers: a status poll that is due first, otherwise the next submission."""
        for lane in self.pool.alive():
            heap = self.polls[lane]
            while self.busy[lane] < self.workers:
                if heap and heap[0][0] <= now:
                    _due, _seq, group, rid, deadline = heapq.heappop(heap)
                    future = threads.submit(self.pool.clients[lane].password_change_status, rid)
                    self.inflight[future] = ('poll', group, rid, deadline, lane)
                else:
                    group = (self.work.next(lane, steal=self.pool.has_room(lane))
                             if len(heap) + self.busy[lane] < self.batch_size else None)
                    if group is None:
                        break
                    self.inflight[threads.submit(self.submit, lane, group)] = ('submit', group, None, None, lane)
                self.busy[lane] += 1

    def _collect(self):
        # wake at least once a second, so that a progress line is never late
        dues = [self.polls[other][0][0] for other in self.pool.alive()
                if self.polls[other] and self.busy[other] < self.workers]
        timeout = min(max(0.0, min(dues) - self.clock()), 1.0) if dues else 1.0
        finished, _pending = wait(list(self.inflight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in finished:
            kind, group, rid, deadline, lane = self.inflight.pop(future)
            self.busy[lane] -= 1
            error = future.exception()
            now = self.clock()
            if kind == 'submit':
                self._submitted(future, error, group, lane, now)
            else:
                self._polled(future, error, group, rid, deadline, lane, now)

    def _submitted(self, future, error, group, lane, now):
        if isinstance(error, HeldBack):
            self.settle(group, state=HELD_BACK, request_id=None, errors=[str(error)])
        elif is_auth_failure(error):
            # refused before it could change anything: another client sends it
            self.work.give_back(lane, group)
            self.take_out(lane, error)
        elif isinstance(error, IscOutcomeUnknown):
            self.ledger.append('unknown', group['keys'], reason=str(error))
            self.settle(group, state='UNKNOWN', request_id=None, errors=[str(error)])
        elif error is not None:
            # ISC answered and refused this request: it changed nothing. A refused re-send (not an account
            # ISC no longer knows) is superseded by the next run's plan (settlement.py)
            self.settle(group, state='REJECTED', request_id=None, errors=[str(error)],
                        refused=isinstance(error, IscError) and error.status == 400 and not referenced_object_missing(error))
        else:
            response = future.result()
            rid = response.get('requestId')
            self.ledger.append('submitted', group['keys'], request_id=rid)
            if response.get('state') in TERMINAL_STATES or not rid:
                self.settle(group, state=response.get('state') or 'UNKNOWN', request_id=rid, errors=[])
            else:
                self.poll(lane, now + self.first_poll, group, rid, now + self.wait_timeout)

    def _polled(self, future, error, group, rid, deadline, lane, now):
        if is_auth_failure(error):
            self.take_out(lane, error)
            self.poll(lane, now, group, rid, deadline)
            return
        status = None if error else future.result()
        state = (status or {}).get('state')
        if state in TERMINAL_STATES:
            self.settle(group, state=state, request_id=rid, errors=status.get('errors') or [],
                        source_ids=status.get('sourceIds') or [])
        elif now >= deadline and error is not None:
            # the last read failed: the change may be anywhere; the next run reads it again
            self.settle(group, state='STATUS_UNKNOWN', request_id=rid,
                        errors=['status could not be read: %s' % error])
        elif now >= deadline:
            self.settle(group, state='IN_PROGRESS', request_id=rid, errors=[])
        else:
            self.poll(lane, min(now + self.poll_interval, deadline), group, rid, deadline)


# --------------------------------------------------------------------------- record

NOT_SENT_STATES = (overlap.DEFERRED,)  # discarded too, unless a re-send (its password may be live from before)


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
            store_records([o for o in outcomes if o.get('attempt') and (o['state'] in DISCARD_STATES or (
                o['state'] in NOT_SENT_STATES and not o.get('resend')))]))
