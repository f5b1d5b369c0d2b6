# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which accounts a change reaches: the sync groups re-read right before it is sent, and what ISC applied.

Internal to the sailpoint_isc.passwords collection; may change without notice.

An admin may change a password sync group while a rotation runs (the UI, a configuration job). The plan
counted on the members it read; a change reaches the members the group has when ISC processes it. So:
  before sending  ReachCheck re-reads the groups (at most max_age seconds old) and holds back a change whose
                  reach is no longer the planned one: nothing is sent for it, the role plans it again
  after sending   settle_reach compares the status's sourceIds with the plan: accounts on a source the change
                  no longer reached are not committed; accounts on a source it reached beyond the plan are
                  found (reached) so that the role escrows the change's password for them too
"""

from __future__ import annotations

import threading
import time

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key, unkeyable_source
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import overlap

HELD_BACK = 'REPLAN'  # the outcome state of a change not sent because its sync group changed since the plan


class ReachCheck:
    """The sync groups as ISC has them now, for the changes about to be sent."""

    def __init__(self, read_groups, max_age=2.0, clock=time.monotonic):
        self.read_groups = read_groups
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._at = None
        self._group_of = {}
        self._error = None

    def _fresh(self):
        with self._lock:
            if self._at is None or self.clock() - self._at > self.max_age:
                try:
                    groups = self.read_groups()
                    self._error = None
                except IscError as exc:
                    groups, self._error = [], exc
                self._group_of = {}
                for group in groups or ():
                    for source_id in group.get('sourceIds') or ():
                        self._group_of[source_id] = group
                self._at = self.clock()
            return self._group_of, self._error

    def held_back(self, group):
        """None when the change reaches what the plan counted on; otherwise why it must be planned again."""
        group_of, error = self._fresh()
        if error is not None:
            return 'the password sync groups could not be read again right before sending: %s' % error
        planned = set(group.get('sources') or [group['source_id']])
        sync = group_of.get(group['source_id'])
        now = set(sync.get('sourceIds') or ()) if sync else set([group['source_id']])
        if now == planned:
            return None
        parts = []
        if now - planned:
            parts.append('gained source(s) %s' % ', '.join(sorted(now - planned)))
        if planned - now:
            parts.append('lost source(s) %s' % ', '.join(sorted(planned - now)))
        return ('its password sync group changed after the plan (%s): not sent, planned again with the accounts the '
                'change reaches now' % '; '.join(parts))


def settle_reach(client, outcome, group):
    """Fold what ISC applied (the status's sourceIds) into a terminal outcome of ``group``.

    missed: keys on a planned source the change did not reach (their account keeps its password: never
    committed). reached: {key: [source, user, account_id]} of accounts on a source beyond the plan, which
    hold this change's password now (or may): the role escrows it for them, and commits it with the others.
    Sources beyond the plan whose accounts cannot be found stay in ``beyond`` (the run reports them unknown).
    """
    applied = set(outcome.get('source_ids') or ())
    planned = set(group.get('sources') or ())
    if not applied or not planned or applied == planned:
        return outcome
    key_sources = group.get('key_sources') or {}
    missed = [k for k in outcome['keys'] if key_sources.get(k) in planned - applied]
    if missed:
        outcome['keys'] = [k for k in outcome['keys'] if k not in missed]
        outcome['missed'] = missed
    beyond = sorted(applied - planned)
    if not beyond:
        outcome.pop('beyond', None)
        return outcome
    users = sorted(set(names[1] for names in (group.get('names') or {}).values()))
    reached, unresolved = {}, []
    try:
        source_names = client.list_sources(beyond)
    except IscError:
        source_names = {}
    for source_id in beyond:
        name = source_names.get(source_id)
        if name is None or len(users) != 1 or unkeyable_source(name):
            unresolved.append(source_id)
            continue
        try:
            info = client.query_password_info(users[0], name)
        except IscError as exc:
            if exc.status not in (400, 404):  # 400.1.404 / 404: the identity has no account there
                unresolved.append(source_id)
            continue
        accounts = [a for a in info.get('accounts') or [] if isinstance(a, dict)]
        for account in accounts:
            account_id = account.get('accountId') if len(accounts) > 1 else None
            reached[account_key(name, users[0], account_id)] = [name, users[0], account_id]
    if reached:
        outcome['reached'] = reached
        outcome['keys'] = outcome['keys'] + [k for k in reached if k not in outcome['keys']]
    if unresolved:
        outcome['beyond'] = unresolved
    else:
        outcome.pop('beyond', None)
    return outcome


def reach_records(outcomes):
    """Store operations for what the changes reached off the plan: (escrow [{group, attempt, keys}], discard
    [{attempt, keys}]). A missed key's pending is discarded unless the change re-sent a password whose first
    sending may have set it (then it stays pending and is settled on its own by a later run)."""
    escrow, discard = [], []
    for outcome in outcomes:
        if outcome.get('reached') and outcome.get('attempt'):
            # a key holding an earlier change's pending that may be live: superseded, kept (overlap.settle_overlaps)
            supersede = outcome.get('supersede') or {}
            plain = sorted(k for k in outcome['reached'] if k not in supersede)
            if plain:
                escrow.append({'group': outcome['group'], 'attempt': outcome['attempt'], 'keys': plain})
            for old in sorted(set(supersede.values())):
                escrow.append({'group': outcome['group'], 'attempt': outcome['attempt'], 'supersedes': old,
                               'keys': sorted(k for k, a in supersede.items() if a == old)})
        if outcome.get('missed') and outcome.get('attempt') and not outcome.get('resend'):
            discard.append({'attempt': outcome['attempt'], 'keys': list(outcome['missed'])})
    return escrow, discard


def held_back_records(outcomes):
    """Store discards for the changes held back (never sent); a re-send's pending stays: it may be live."""
    return [{'attempt': o['attempt'], 'keys': list(o['keys'])} for o in outcomes
            if o.get('state') == HELD_BACK and o.get('attempt') and o['keys'] and not o.get('resend')]


class HeldBack(Exception):
    """A change not sent: its sync group changed since the plan."""


def split_finished(item, ledger, store_pending):
    """An earlier run's change that FINISHED, against what ISC applied (its sourceIds).

    Returns (resend_all, left_out). resend_all: it reached a source beyond the plan, whose accounts hold a
    password only the escrow of the planned keys holds: keep it pending and send it again, so that the plan
    escrows it for the whole group as it is now. left_out: planned keys on a source it did not reach (removed
    from item['keys']: never committed)."""
    if item.get('beyond') and any(k in (store_pending or {}) for k in item['keys']):
        return True, []
    applied = set(item.get('source_ids') or ())
    if not applied:
        return False, []
    left_out = [k for k in item['keys'] if ledger.entry(k).get('source_id') not in applied.union([None])]
    if left_out:
        item['keys'] = [k for k in item['keys'] if k not in left_out]
        item['missed'] = left_out
    return False, left_out


UNSEEN = ('UNKNOWN', 'STATUS_UNKNOWN', 'IN_PROGRESS')  # outcomes without a status that names what the change reached


def may_reach(outcomes, by_group, read_groups):
    """A change whose status is not known (answer lost, still running) reaches its source's sync group as ISC has it
    when the change completes: take the group as it is now as the sources it may reach (source_ids), so that the
    accounts on sources beyond the plan get its password as pending too (never committed: the outcome is unknown)."""
    unseen = [o for o in outcomes if o['state'] in UNSEEN and not o.get('source_ids') and o.get('attempt')]
    if not unseen or read_groups is None:
        return
    try:
        now = read_groups() or []
    except IscError:
        return  # the accounts beyond stay unknown: the next run's status read or re-send settles them
    group_of = dict((sid, g) for g in now for sid in g.get('sourceIds') or ())
    for outcome in unseen:
        group = by_group.get(outcome['group']) or {}
        sync = group_of.get(group.get('source_id'))
        if sync:
            outcome['source_ids'] = sorted(set(sync.get('sourceIds') or ()) | set(group.get('sources') or ()))


def settle_applied(client, outcomes, groups, ledger, read_groups=None, held_pending=None):
    """Settle the apply phase's outcomes against what ISC applied (in place); the store operations this adds.

    Returns {discard_records, reach_escrow, replan_users, replan_records}: discard_records for the keys a change
    missed (to add to the phase's own); reach_escrow [{group, attempt, keys}] names accounts a change reached
    beyond the plan, whose store entry the role sets pending with that group's password before it commits;
    replan_users the identities whose change was held back; replan_records the discards of those changes.
    read_groups: reads the sync groups now (for the changes whose status is not known: may_reach). held_pending:
    {key: attempt} of the changes an earlier apply phase of the run sent (overlap.settle_overlaps)."""
    by_group = dict((g['group'], g) for g in groups)
    may_reach(outcomes, by_group, read_groups)

    def users_of(outcome):
        return set(names[1] for names in ((by_group.get(outcome['group']) or {}).get('names') or {}).values())
    overlap.defer_blocked(outcomes, users_of)  # never planned again while another change of the identity may run
    replan = set()
    for outcome in outcomes:
        group = by_group.get(outcome['group']) or {}
        if outcome['state'] == HELD_BACK:
            replan.update(names[1] for names in (group.get('names') or {}).values())
            continue
        settle_reach(client, outcome, group)
        missed = outcome.get('missed') or []
        if missed and outcome.get('resend'):
            ledger.append('unknown', missed, reason='its source left the password sync group before the re-sent change '
                          'was applied; its escrowed password stays pending and is sent to it alone')
        elif missed:
            ledger.append('abandoned', missed)  # ISC did not change it: back to its current password
    overtaken = overlap.settle_overlaps(outcomes, held_pending)  # an account two changes reached holds the later one's password
    escrow, discards = reach_records(outcomes)
    return {'discard_records': overtaken + discards, 'reach_escrow': escrow, 'replan_users': sorted(replan),
            'replan_records': held_back_records(outcomes)}
