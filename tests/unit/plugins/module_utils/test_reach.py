# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A password sync group changes while a rotation runs (issue 22 item 1): reach.py and its place in the run.

`run_role` performs the role's steps in the role's order, with the apply phase's re-read of the sync groups,
the re-plan of the identities it held back, and the escrow of the accounts a change reached beyond the plan.
The world here completes a change when its status is read, with the sync group as it is then (the simulator's
``sync_fanout: completion``), so a group can change between the plan and the send, or between the send and the
completion. Each test ends by comparing every account's live password with the store's current one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import random

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import (
    ledger as ledger_mod, planning, reach as reach_mod, report as report_mod, rotation)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_escrow import Store, World, with_escrowed

THREE = ['LDAP', 'KRB', 'CORP']
SEEDS = itertools.count(3)  # every plan its own passwords


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'state' / 'ledger.json')


class LateWorld(World):
    """A change reaches the members of its source's group as they are when it completes (when its status is read)."""

    def __init__(self):
        super(LateWorld, self).__init__()
        self.on_send = None  # called after each accepted set-password: the admin's edit in between

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted):
        before = dict(self.live)
        answer = super(LateWorld, self).set_password(identity_id, source_id, account_id, public_key_id, encrypted)
        self.live = before  # it applies at completion
        change = self.changes[answer['requestId']]
        change['origin'] = (identity_id[len('id-'):], self.source_name(source_id), account_id)
        change['state'] = 'IN_PROGRESS'
        if self.on_send:
            self.on_send()
        return answer

    def complete(self, rid):
        change = self.changes[rid]
        if change['state'] == 'IN_PROGRESS' and not self.faults.get('stuck'):
            user, source, account_id = change['origin']
            change['targets'] = self._targets(user, source, account_id)
            members = next((m for m in self.sync if source in m), [source])
            change['sources'] = sorted(self.source_ids[s] for s in members)
            for target in change['targets']:
                self.live[target] = change['password']
            change['state'] = 'FINISHED'

    def password_change_status(self, rid):
        if rid in self.changes:
            self.complete(rid)
        return super(LateWorld, self).password_change_status(rid)


def world_with(group):
    world = LateWorld()
    for source in THREE:
        world.add('svc', source)
    world.sync = [list(group)]
    return world


def accounts(due_ldap=False):
    return [{'source_name': s, 'user_name': 'svc', 'max_age_days': 0 if (s == 'LDAP' and due_ldap) else 90} for s in THREE]


def run_role(world, store, ledger_path, rows, between=None, wait_timeout=5, reach_age=0):
    """The role's steps; between() runs after the escrow and before the apply (an edit while the run planned).
    reach_age: how old the apply's re-read of the sync groups may be (0: read before every send)."""
    ledger = ledger_mod.Ledger(ledger_path).load()
    pending = store.check()
    reconciled = rotation.reconcile(world, ledger, pending)
    passwords, attempts = store.read_pending(reconciled['orphans'])
    settings = dict(sync_groups=world.sync_groups(), rng=random.Random(next(SEEDS)), pending_passwords=passwords,
                    pending_attempts=attempts, store_pending=pending)
    listed = planning.with_defaults(rows, 90, 0, '')
    decisions, groups = planning.plan(world, listed, ledger, reconciled, **settings)
    store.settle(reconciled['commit_records'], True)
    store.settle(reconciled['discard_records'], False)
    store.pending(with_escrowed(groups, passwords, attempts))
    if between:
        between()
    check = reach_mod.ReachCheck(world.sync_groups, max_age=reach_age)
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=wait_timeout, poll_interval=0.0, workers=1, reach=check,
                              pending_passwords=passwords, pending_attempts=attempts)
    found = reach_mod.settle_applied(world, outcomes, groups, ledger)
    commits, discards = rotation.outcome_records(outcomes)
    discards += found['discard_records']
    escrow = list(found['reach_escrow'])
    every_group = list(groups)
    if found['replan_users']:  # replan.yml
        store.settle(found['replan_records'], False)
        sent = [k for o in outcomes if o['state'] != reach_mod.HELD_BACK for k in o['keys']]
        mine, rec = planning.only_users(listed, reconciled, ledger, found['replan_users'], sent)
        again = dict(settings)
        again['sync_groups'] = world.sync_groups()  # the groups as they are now
        decisions2, groups2 = planning.plan(world, mine, ledger, rec, **again)
        store.pending(with_escrowed(groups2, passwords, attempts))
        outcomes2 = rotation.apply(world, groups2, ledger, wait_timeout=wait_timeout, poll_interval=0.0, workers=1,
                                   pending_passwords=passwords, pending_attempts=attempts,
                                   reach=reach_mod.ReachCheck(world.sync_groups, max_age=reach_age))
        held = dict((k, o['attempt']) for o in outcomes if o.get('attempt') and o['state'] in ('FINISHED', 'UNKNOWN')
                    for k in o['keys'])  # replan.yml: held_pending
        found2 = reach_mod.settle_applied(world, outcomes2, groups2, ledger, held_pending=held)
        commits2, discards2 = rotation.outcome_records(outcomes2)
        replanned = set(d['key'] for d in decisions2)
        decisions = [d for d in decisions if d['key'] not in replanned] + decisions2
        outcomes = [o for o in outcomes if o['state'] != reach_mod.HELD_BACK] + outcomes2
        commits += commits2
        discards += discards2 + found2['discard_records'] + found2['replan_records']
        escrow += found2['reach_escrow']
        every_group += groups2
    store.settle(discards, False)  # changes.yml: first, an account a change reached may hold a never-sent pending
    for record in escrow:  # changes.yml: the change's password for the accounts it reached beyond the plan
        group = next(g for g in every_group if g['group'] == record['group'] and g['attempt'] == record['attempt'])
        group = with_escrowed([group], passwords, attempts)[0]  # a re-send's password: the one read back
        store.pending([{'keys': record['keys'], 'attempt': group['attempt'], 'password': group['password'],
                        'supersedes': record.get('supersedes')}])
    store.settle(commits, True)
    rotation.record(ledger, reconciled, outcomes)
    rows_out, _totals = report_mod.summarize(decisions, reconciled, outcomes)
    return outcomes, dict((r['account'], r) for r in rows_out)


def differs(world, store):
    """Accounts whose live password is not the store's current one, or that hold a pending."""
    out = []
    for source in THREE:
        entry = store.entries.get('%s/svc' % source, {})
        if 'pending' in entry or entry.get('current') != world.live[('svc', source, 'svc@' + source)]:
            out.append('%s/svc' % source)
    return out


def first_run(world, store, ledger_path):
    outcomes, rows = run_role(world, store, ledger_path, accounts())
    assert differs(world, store) == [] and all(r['status'] == 'rotated' for r in rows.values())
    world.sent = []


@pytest.mark.parametrize('before, after', [(['LDAP', 'KRB'], THREE), (THREE, ['LDAP', 'KRB'])],
                         ids=['gains', 'loses'])
def test_a_group_changed_between_plan_and_send_is_planned_again(ledger_path, before, after):
    world, store = world_with(before), Store()
    first_run(world, store, ledger_path)

    def edit():
        world.sync = [list(after)]
    outcomes, rows = run_role(world, store, ledger_path, accounts(due_ldap=True), between=edit)
    assert differs(world, store) == []
    # nothing was sent to the group as planned: one change, planned with the group as it is now
    assert len(world.sent) == 1 and not any(o.get('reached') or o.get('missed') for o in outcomes)
    assert [o['state'] for o in outcomes] == ['FINISHED']
    corp = rows['CORP/svc']['status']
    assert corp == ('rotated' if after == THREE else 'skipped')
    assert not any(r['status'] in ('unknown', 'failed', 'pending') for r in rows.values()), rows


def test_a_source_joining_before_completion_gets_the_password_in_the_store(ledger_path):
    world, store = world_with(['LDAP', 'KRB']), Store()
    first_run(world, store, ledger_path)
    world.on_send = lambda: setattr(world, 'sync', [list(THREE)])
    outcomes, rows = run_role(world, store, ledger_path, accounts(due_ldap=True))
    assert differs(world, store) == [], store.entries
    assert outcomes[0]['reached'] == {'CORP/svc': ['CORP', 'svc', None]} and 'beyond' not in outcomes[0]
    assert rows['CORP/svc']['status'] == 'rotated' and 'joined the password sync group' in rows['CORP/svc']['detail']
    ledger = ledger_mod.Ledger(ledger_path).load()
    assert ledger.entry('CORP/svc')['state'] == 'current'


def test_a_source_leaving_before_completion_keeps_its_current(ledger_path):
    world, store = world_with(THREE), Store()
    first_run(world, store, ledger_path)
    old = store.entries['CORP/svc']['current']
    world.on_send = lambda: setattr(world, 'sync', [['LDAP', 'KRB']])
    outcomes, rows = run_role(world, store, ledger_path, accounts(due_ldap=True))
    assert differs(world, store) == [] and store.entries['CORP/svc'] == {'current': old}
    assert outcomes[0]['missed'] == ['CORP/svc'] and 'CORP/svc' not in outcomes[0]['keys']
    assert rows['CORP/svc']['status'] == 'skipped' and 'left the password sync group' in rows['CORP/svc']['detail']
    ledger = ledger_mod.Ledger(ledger_path).load()
    assert ledger.entry('CORP/svc')['state'] == 'current' and ledger.entry('LDAP/svc')['state'] == 'current'


@pytest.mark.parametrize('after', [THREE, ['LDAP', 'KRB']], ids=['gains', 'loses'])
def test_a_change_finished_by_a_later_run_is_settled_against_what_isc_applied(ledger_path, after):
    """The change is still IN_PROGRESS when the run ends; the group changes; the next run reconciles it."""
    world, store = world_with(['LDAP', 'KRB'] if after == THREE else THREE), Store()
    first_run(world, store, ledger_path)
    world.faults['stuck'] = True
    outcomes, rows = run_role(world, store, ledger_path, accounts(due_ldap=True), wait_timeout=0)
    assert outcomes[0]['state'] == 'IN_PROGRESS'
    world.faults = {}
    world.sync = [list(after)]
    outcomes, rows = run_role(world, store, ledger_path, accounts())
    if after == THREE:  # the escrowed password is sent again to the group as it is now, and stored for all three
        assert len(world.sent) == 2 and outcomes and outcomes[0]['keys'] == ['LDAP/svc', 'KRB/svc', 'CORP/svc']
    assert differs(world, store) == [], (store.entries, rows)
    assert not any(r['status'] in ('unknown', 'failed', 'pending') for r in rows.values()), rows


def test_reach_check_reads_again_only_when_stale_and_holds_back_when_unreadable():
    reads = []
    now = [0.0]

    def read():
        reads.append(now[0])
        if now[0] >= 10:
            raise reach_mod.IscError('HTTP 503', status=503)
        return [{'id': 'g', 'sourceIds': ['a', 'b']}]
    check = reach_mod.ReachCheck(read, max_age=2.0, clock=lambda: now[0])
    group = {'source_id': 'a', 'sources': ['b', 'a']}
    assert check.held_back(group) is None and check.held_back(dict(group, sources=['a'])) is not None
    now[0] = 1.5
    assert check.held_back(group) is None and len(reads) == 1
    now[0] = 10
    assert 'could not be read again' in check.held_back(group)
    now[0] = 0
    assert 'gained source(s) b' in reach_mod.ReachCheck(read, clock=lambda: 0).held_back({'source_id': 'a', 'sources': ['a']})


@pytest.mark.parametrize('name', ['Unix/NIS', 'NIS\x07'])
def test_a_member_nobody_listed_whose_source_name_cannot_be_keyed_stops_the_change(ledger_path, name):
    """Issue 22 item 8 for names ISC reports: a sync-group member's source name with '/' (or a control character)
    would make its key ambiguous; the change that would reach it is not sent, and the run fails naming it."""
    world, store = LateWorld(), Store()
    for source in ('LDAP', name):
        world.add('svc', source)
    world.sync = [['LDAP', name]]
    outcomes, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert world.sent == [] and outcomes == []
    assert rows['LDAP/svc']['status'] == 'failed' and 'no account key can name' in rows['LDAP/svc']['detail']
    # joined after the plan: the change reached it, its key cannot be written, so the run reports it unknown
    world.sync = [['LDAP']]
    world.on_send = lambda: setattr(world, 'sync', [['LDAP', name]])
    outcomes, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert outcomes[0].get('beyond') and rows['LDAP/svc']['status'] == 'unknown'


def test_planning_again_leaves_the_changes_already_sent_alone(ledger_path):
    """The identity also has an account outside the group, due and sent in the first pass: it is not planned twice."""
    world, store = world_with(['LDAP', 'KRB']), Store()
    world.add('svc', 'AD')
    rows = accounts() + [{'source_name': 'AD', 'user_name': 'svc', 'max_age_days': 0}]
    run_role(world, store, ledger_path, rows)
    world.sent = []
    due = [dict(r, max_age_days=0) if r['source_name'] in ('LDAP', 'AD') else r for r in rows]

    def edit():
        world.sync = [list(THREE)]
    outcomes, report = run_role(world, store, ledger_path, due, between=edit)
    assert sorted(s[1] for s in world.sent) == ['AD', 'LDAP'] and len(outcomes) == 2
    assert store.entries['AD/svc'] == {'current': world.live[('svc', 'AD', 'svc@AD')]}
    assert differs(world, store) == [] and all(r['status'] == 'rotated' for r in report.values()), report


def all_due():
    return [dict(row, max_age_days=0) for row in accounts()]


@pytest.mark.parametrize('reread', [True, False], ids=['held-back-again', 'sent-on-a-stale-read'])
def test_a_source_rejoining_while_another_change_of_its_identity_runs(ledger_path, reread):
    """CORP leaves the group while the run plans: the group's change is held back and planned again as two changes,
    LDAP+KRB and CORP alone. CORP rejoins once the first is sent, so it reaches CORP too. The changes of one identity
    go out one after another: the second is held back again (its reach moved: CORP's account already holds the first
    one's password), or, sent on a stale read of the groups, reaches all three after the first. Either way every
    account ends with what ISC applied last as its current password, nothing pending, nothing failed."""
    world, store = world_with(THREE), Store()
    first_run(world, store, ledger_path)
    rejoined = []

    def rejoin():
        if not rejoined:
            rejoined.append(True)
            world.sync = [list(THREE)]
    world.on_send = rejoin
    outcomes, rows = run_role(world, store, ledger_path, all_due(), between=lambda: setattr(world, 'sync', [['LDAP', 'KRB']]),
                              reach_age=0 if reread else 3600)
    assert differs(world, store) == [], (store.entries, rows)
    assert not any(r['status'] in ('unknown', 'failed', 'pending') for r in rows.values()), rows
    sent = [(source, password) for _user, source, _account, password in world.sent]
    assert [source for source, _p in sent] == (['LDAP'] if reread else ['LDAP', 'CORP'])
    # what ISC applied last is current; the password an account held before it is previous
    assert set(world.live.values()) == set([sent[-1][1]])
    if not reread:  # LDAP held the first change's password (superseded in the store), then the second's
        assert store.entries['LDAP/svc']['previous'] == sent[0][1] and 'previous' not in store.entries['CORP/svc']
    ledger = ledger_mod.Ledger(ledger_path).load()
    assert all(ledger.entry('%s/svc' % s)['state'] == 'current' for s in THREE)


def test_the_changes_of_one_identity_go_out_one_at_a_time(ledger_path):
    """Three accounts of one identity, no sync group: while the first change is still running at ISC the others are
    not sent (DEFERRED, their escrow discarded), nor by the next run while it still runs (waiting); once it finished,
    they go out one after another and every account ends current."""
    world, store = world_with([]), Store()
    world.sync = []
    first_run(world, store, ledger_path)
    world.faults['stuck'] = True
    outcomes, rows = run_role(world, store, ledger_path, all_due(), wait_timeout=0)
    assert [o['state'] for o in outcomes] == ['IN_PROGRESS', 'DEFERRED', 'DEFERRED'] and len(world.sent) == 1
    assert sorted(store.check()) == ['LDAP/svc'], store.entries
    assert rows['KRB/svc']['status'] == rows['CORP/svc']['status'] == 'pending', rows
    outcomes, rows = run_role(world, store, ledger_path, all_due(), wait_timeout=0)
    assert outcomes == [] and len(world.sent) == 1, outcomes
    assert 'still running at ISC' in rows['KRB/svc']['detail'], rows
    world.faults = {}
    outcomes, rows = run_role(world, store, ledger_path, all_due())
    assert [o['state'] for o in outcomes] == ['FINISHED', 'FINISHED'] and len(world.sent) == 3
    assert differs(world, store) == [] and all(r['status'] == 'rotated' for r in rows.values()), rows


def test_a_change_planned_again_reaching_an_account_an_earlier_change_of_the_run_set(ledger_path):
    """CORP is alone, LDAP and KRB a group. While the run plans the group shrinks to LDAP: the group's change is held
    back, CORP's goes out and FINISHES. Planned again, LDAP's change is sent and, before it completes, the group grows
    to all three: it reaches KRB (whose own change is then held back again) and CORP, which holds the pending of the
    change of the first apply. CORP ends with LDAP's password current and its first one previous; nothing fails."""
    world, store = world_with(['LDAP', 'KRB']), Store()
    first_run(world, store, ledger_path)

    def grow():
        if len(world.sent) == 2:
            world.sync = [list(THREE)]
    world.on_send = grow
    outcomes, rows = run_role(world, store, ledger_path, all_due(), between=lambda: setattr(world, 'sync', [['LDAP']]))
    sent = [(source, password) for _user, source, _account, password in world.sent]
    assert [source for source, _p in sent] == ['CORP', 'LDAP'], sent
    assert differs(world, store) == [], (store.entries, rows)
    assert store.entries['CORP/svc']['previous'] == sent[0][1] and set(world.live.values()) == set([sent[1][1]])
    assert not any(r['status'] in ('unknown', 'failed', 'pending') for r in rows.values()), rows


def test_a_change_whose_outcome_is_unknown_escrows_its_password_for_the_sources_its_group_gained(ledger_path):
    """CORP joins the group after the plan and the change's answer is lost (no status names what it reached): the
    group as it is now stands for what it may have reached, so CORP's account gets the change's password as pending
    (never committed: the outcome is unknown) and the store holds what it may hold."""
    world, store = world_with(['LDAP', 'KRB']), Store()
    first_run(world, store, ledger_path)
    ledger = ledger_mod.Ledger(ledger_path).load()
    reconciled = rotation.reconcile(world, ledger, store.check())
    _decisions, groups = planning.plan(world, planning.with_defaults(accounts(due_ldap=True), 90, 0, ''), ledger, reconciled,
                                       sync_groups=world.sync_groups(), rng=random.Random(next(SEEDS)))
    store.pending(groups)
    world.sync = [list(THREE)]
    world.faults['set_password'] = 'drop_after_accept'  # applied to the group as it is now, the answer lost
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=5, poll_interval=0.0, workers=1)
    assert [o['state'] for o in outcomes] == ['UNKNOWN']
    found = reach_mod.settle_applied(world, outcomes, groups, ledger, read_groups=world.sync_groups)
    assert [r['keys'] for r in found['reach_escrow']] == [['CORP/svc']]
    store.pending([dict(groups[0], keys=found['reach_escrow'][0]['keys'])])
    commits, _discards = rotation.outcome_records(outcomes)
    assert commits == []
    assert all(store.entries['%s/svc' % s]['pending'] == world.live[('svc', s, 'svc@' + s)] for s in THREE), store.entries


def test_a_change_held_back_is_not_planned_again_while_another_change_of_its_identity_runs(ledger_path):
    """The group shrinks while the run plans: its change is held back; CORP's change goes out and is still running at
    the timeout. Planning the group again now would send a second change of the identity while that one runs: it is
    DEFERRED instead (its escrow discarded, reported pending), and the next run, once CORP's change finished, sends it."""
    world, store = world_with(['LDAP', 'KRB']), Store()
    first_run(world, store, ledger_path)
    world.faults['stuck'] = True
    outcomes, rows = run_role(world, store, ledger_path, all_due(), between=lambda: setattr(world, 'sync', [['LDAP']]),
                              wait_timeout=0)
    assert sorted(o['state'] for o in outcomes) == ['DEFERRED', 'IN_PROGRESS'] and len(world.sent) == 1, outcomes
    assert sorted(store.check()) == ['CORP/svc'] and rows['LDAP/svc']['status'] == rows['KRB/svc']['status'] == 'pending'
    world.faults = {}
    outcomes, rows = run_role(world, store, ledger_path, all_due())
    assert differs(world, store) == [] and not any(r['status'] in ('unknown', 'failed', 'pending') for r in rows.values()), rows
