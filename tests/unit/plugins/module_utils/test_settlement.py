# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 22, the settlement side: a pending password is settled in a bounded number of runs whatever the
world does. The role's steps in the role's order (test_escrow.run_role) against a fake service that keeps
live passwords and a store that follows the store contract."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import random

import pytest

from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, planning, policy as policy_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import report as report_mod, rotation
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, referenced_object_missing
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_escrow import KEY, World, Store, run_role, with_escrowed

MISSING = '400.1.404 Referenced object not found'
ACCOUNTS = [{'source_name': 'AD', 'user_name': 'svc'}]


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'state' / 'ledger.json')


class StatusWorld(World):
    """A World whose status reads answer what the test says, per request id, or that stay IN_PROGRESS."""

    def __init__(self):
        super(StatusWorld, self).__init__()
        self.status_errors = {}  # request id -> IscError
        self.in_flight = set()  # request ids still IN_PROGRESS

    def password_change_status(self, rid):
        if rid in self.status_errors:
            raise self.status_errors[rid]
        if rid in self.in_flight:
            return {'requestId': rid, 'state': 'IN_PROGRESS', 'sourceIds': [], 'errors': []}
        return super(StatusWorld, self).password_change_status(rid)


def _in_flight(world, store, ledger_path, accounts):
    """A first run whose change is still IN_PROGRESS when it ends (the live password is already the new one)."""
    real, apply = world.password_change_status, rotation.apply
    world.password_change_status = lambda rid: {'requestId': rid, 'state': 'IN_PROGRESS', 'sourceIds': [], 'errors': []}
    rotation.apply = lambda *args, **kwargs: apply(*args, **dict(kwargs, wait_timeout=0))
    try:
        outcomes = run_role(world, store, ledger_path, accounts)[2]
    finally:
        world.password_change_status, rotation.apply = real, apply
    assert [o['state'] for o in outcomes] == ['IN_PROGRESS'] * len(outcomes)
    return [o['request_id'] for o in outcomes]


# --------------------------------------------------------------------------- item 7 and 11: which 4xx mean "not there"

def test_only_a_404_or_400_1_404_means_the_object_is_not_there():
    assert referenced_object_missing(IscError('x', status=404))
    assert referenced_object_missing(IscError('x', status=400, detail_code=MISSING))
    assert not referenced_object_missing(IscError('x', status=400, detail_code='400.1 Bad Request Content'))
    assert not referenced_object_missing(IscError('x', status=400))
    assert not referenced_object_missing(IscError('x', status=403, detail_code='403 Forbidden'))
    assert not referenced_object_missing(ValueError('400.1.404'))


def test_status_read_of_an_expired_request_id_re_sends_the_escrowed_password(ledger_path):
    """Item 7: ISC answers 400 400.1.404 for a request id it no longer keeps: like a 404, the escrowed
    password is re-sent (never a new one), and the run goes on instead of stopping about credentials."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('other', 'AD')
    accounts = ACCOUNTS + [{'source_name': 'AD', 'user_name': 'other'}]
    rids = _in_flight(world, store, ledger_path, accounts)
    p1 = store.entries['AD/svc']['pending']
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP 400 (%s)' % MISSING, status=400,
                                            detail_code=MISSING)
    _d, groups, outcomes, rows = run_role(world, store, ledger_path, accounts)
    assert [(g.get('password'), g['reuse_pending']) for g in groups if 'AD/svc' in g['keys']] == [(None, True)]
    assert rows['AD/svc']['status'] == 'rotated' and rows['AD/other']['status'] == 'rotated'
    assert store.entries['AD/svc'] == {'current': p1} and world.live[('svc', 'AD', 'svc@AD')] == p1


@pytest.mark.parametrize('status', [401, 403])
def test_status_read_stops_the_run_only_when_the_credentials_are_refused(ledger_path, status):
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    rids = _in_flight(world, store, ledger_path, ACCOUNTS)
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP %d' % status, status=status)
    with pytest.raises(ledger_mod.RotationError, match='credentials'):
        run_role(world, store, ledger_path, ACCOUNTS)


def test_status_read_answering_another_400_is_unreadable_for_that_change_only(ledger_path):
    """Any other 400 on a status read neither stops every rotation nor re-sends: that change stays pending."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('other', 'AD')
    accounts = ACCOUNTS + [{'source_name': 'AD', 'user_name': 'other'}]
    rids = _in_flight(world, store, ledger_path, accounts)
    p1 = store.entries['AD/svc']['pending']
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP 400', status=400,
                                            detail_code='400.1 Bad Request Content')
    _d, groups, _o, rows = run_role(world, store, ledger_path, accounts)
    assert all('AD/svc' not in g['keys'] for g in groups)
    assert rows['AD/svc']['status'] == 'unknown' and store.entries['AD/svc']['pending'] == p1
    assert rows['AD/other']['status'] == 'rotated'


def test_a_sync_group_member_whose_query_is_refused_is_a_problem_not_a_missing_account(ledger_path):
    """Item 11: only "Referenced object not found" means the identity has no account on a member source; any
    other 4xx there holds the group (its password would reach an account the store does not record)."""
    world, store = World(), Store()
    world.add('svc', 'LDAP')
    world.add('svc', 'KRB')
    world.sync = [['LDAP', 'KRB']]
    real = world.query_password_info

    def query(user, source):
        if source == 'KRB':
            raise IscError('query-password-info failed: HTTP 400 (400.1 Bad Request Content)', status=400,
                           detail_code='400.1 Bad Request Content')
        return real(user, source)
    world.query_password_info = query
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert groups == [] and world.sent == []
    assert rows['LDAP/svc']['status'] == 'failed' and 'could not be read' in rows['LDAP/svc']['detail']
    world.query_password_info = real
    del world.accounts[('svc', 'KRB')]  # now truly no account there: 400.1.404, the group is the LDAP account
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert [g['keys'] for g in groups] == [['LDAP/svc']] and rows['LDAP/svc']['status'] == 'rotated'


# --------------------------------------------------------------------------- item 9: every pending key has a row

def test_an_unlisted_account_still_in_flight_gets_a_report_row(ledger_path):
    """Item 9: the account left the accounts list while its change is IN_PROGRESS: it is reported pending."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('kept', 'AD')
    rids = _in_flight(world, store, ledger_path, ACCOUNTS)
    world.in_flight.update(rids)
    _d, _g, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'kept'}])
    assert rows['AD/svc']['status'] == 'pending', rows
    assert rids[0] in rows['AD/svc']['detail'] and 'not in the accounts list' in rows['AD/svc']['detail']
    assert 'pending' in store.entries['AD/svc']


def test_every_key_pending_in_the_store_gets_a_row():
    """Whatever the phases decided, a key the store held pending when the run began is never left out."""
    rows, totals = report_mod.summarize([], {}, [], store_pending={'AD/a': 'att-1'})
    assert [(r['account'], r['status']) for r in rows] == [('AD/a', 'pending')] and totals == {'pending': 1}
    rows, _t = report_mod.summarize([{'key': 'AD/a', 'action': 'skip', 'reason': 'x', 'group': 'g'}], {}, [],
                                    store_pending={'AD/a': 'att-1'})
    assert [(r['account'], r['status']) for r in rows] == [('AD/a', 'skipped')]


# --------------------------------------------------------------------------- the role's steps with supersede and retire

class SettleWorld(StatusWorld):
    """Its policy can be tightened (query-password-info answers it; a change breaking it ends FAILED, as ISC's
    asynchronous check does), and its identities deleted or accounts renamed."""

    def __init__(self):
        super(SettleWorld, self).__init__()
        self.policies = None

    def query_password_info(self, user, source):
        info = super(SettleWorld, self).query_password_info(user, source)
        if self.policies is not None:
            info['policies'] = self.policies
        return info

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted):
        password = KEY.decrypt(base64.b64decode(encrypted), padding.PKCS1v15()).decode()
        saved = dict(self.faults)
        if self.policies is not None and policy_mod.validate(password, policy_mod.parse_policies(self.policies)):
            self.faults['set_password'] = 'fail'
        try:
            return super(SettleWorld, self).set_password(identity_id, source_id, account_id, public_key_id, encrypted)
        finally:
            self.faults = saved


class ArchivingStore(Store):
    """The test store plus the contract's retire: a key's whole entry moves to the archive."""

    def __init__(self):
        super(ArchivingStore, self).__init__()
        self.archive = {}

    def retire(self, keys):
        done = [k for k in keys if self.entries.get(k)]
        for key in done:
            self.archive.setdefault(key, []).append(self.entries.pop(key))
        return done


def settle_run(world, store, ledger_path, accounts, seed, stop_after=None):
    """The role's steps in the role's order, retire included (run.yml), with its own random seed per run."""
    ledger = ledger_mod.Ledger(ledger_path).load()
    pending = store.check()
    reconciled = rotation.reconcile(world, ledger, pending)
    passwords, attempts = store.read_pending(reconciled['orphans'])
    decisions, groups = planning.plan(world, planning.with_defaults(accounts, 90, 0, ''), ledger, reconciled,
                                      sync_groups=world.sync_groups(), rng=random.Random(seed),
                                      pending_passwords=passwords, pending_attempts=attempts, store_pending=pending)
    store.settle(reconciled['commit_records'], True)
    store.settle(reconciled['discard_records'], False)
    retired = store.retire([d['key'] for d in decisions if d['action'] == 'retire'])
    store.pending(with_escrowed(groups, passwords, attempts))
    if stop_after == 'escrow':
        return decisions, groups, None, None
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=5, poll_interval=0.0, workers=1,
                              pending_passwords=passwords, pending_attempts=attempts)
    commits, discards = rotation.outcome_records(outcomes)
    store.settle(commits, True)
    store.settle(discards, False)
    rotation.record(ledger, reconciled, outcomes, retired=retired)
    rows, _totals = report_mod.summarize(decisions, reconciled, outcomes, store_pending=pending, retired=retired)
    return decisions, groups, outcomes, dict((r['account'], r) for r in rows)


def _applied_then_lost(world, store, ledger_path, accounts):
    """A first run whose change ISC applied but whose answer was lost: P1 escrowed pending and live."""
    world.faults['set_password'] = 'drop_after_accept'
    settle_run(world, store, ledger_path, accounts, seed=1)
    world.faults = {}
    p1 = store.entries[account_key(accounts[0]['source_name'], accounts[0]['user_name'], accounts[0].get('account_id'))]['pending']
    return p1


TIGHT = ['passwordMinLength is 60', 'passwordMinUpper is 1', 'passwordMinNumeric is 1']


def test_a_pending_password_isc_now_refuses_is_superseded_and_kept_until_finished(ledger_path):
    """Item 4: ISC applied P1 (outcome unknown), then the policy was tightened: the next run sends a fresh compliant
    password under a new attempt instead of P1 for ever, keeps P1 until that change is FINISHED, then as previous."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD')
    p1 = _applied_then_lost(world, store, ledger_path, ACCOUNTS)
    assert world.live[('svc', 'AD', 'svc@AD')] == p1
    world.policies = TIGHT
    decisions, groups, _o, _r = settle_run(world, store, ledger_path, ACCOUNTS, seed=2, stop_after='escrow')
    assert decisions[0]['action'] == 'supersede' and 'passwordMinLength' not in decisions[0]['reason']
    assert 'no longer satisfies' in decisions[0]['reason'] and groups[0]['supersedes'] != groups[0]['attempt']
    p2 = groups[0]['password']
    assert len(p2) >= 60 and not groups[0]['reuse_pending']
    assert store.entries['AD/svc']['pending'] == p2 and store.entries['AD/svc']['superseded'][-1][0] == p1, \
        'escrowed before it is sent, the refused one kept'
    _d, groups, outcomes, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=3)
    assert [(g.get('password'), g['reuse_pending']) for g in groups] == [(None, True)], \
        'the crashed escrow is settled with the same fresh password (its attempt; apply reads it from the store)'
    assert outcomes[0]['state'] == 'FINISHED' and rows['AD/svc']['status'] == 'rotated'
    assert store.entries['AD/svc'] == {'current': p2, 'previous': p1} and world.live[('svc', 'AD', 'svc@AD')] == p2
    sent = len(world.sent)
    _d, groups, _o, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=4)
    assert groups == [] and len(world.sent) == sent and rows['AD/svc']['status'] == 'skipped', 'settled for good'


def test_a_superseding_change_that_fails_brings_the_refused_password_back_and_loses_nothing(ledger_path):
    """Item 4, other moments: the fresh password's change FAILED (never live): the store holds P1 pending again and
    the next run supersedes it anew; lost after sending, it is kept with P1 until its re-send FINISHES."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD')
    p1 = _applied_then_lost(world, store, ledger_path, ACCOUNTS)
    world.policies = TIGHT
    world.faults['set_password'] = 'fail'
    _d, groups, outcomes, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=2)
    assert groups[0]['supersedes'] and outcomes[0]['state'] == 'FAILED' and rows['AD/svc']['status'] == 'failed'
    assert store.entries['AD/svc']['pending'] == p1 and world.live[('svc', 'AD', 'svc@AD')] == p1
    world.faults['set_password'] = 'drop_after_accept'
    _d, groups, outcomes, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=3)
    p3 = groups[0]['password']
    assert groups[0]['supersedes'] and outcomes[0]['state'] == 'UNKNOWN' and world.live[('svc', 'AD', 'svc@AD')] == p3
    assert store.entries['AD/svc']['pending'] == p3 and store.entries['AD/svc']['superseded'][-1][0] == p1
    world.faults = {}
    _d, groups, outcomes, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=4)
    assert [g.get('password') for g in groups] == [None] and groups[0]['reuse_pending'], 'P3 complies: sent again as it is'
    assert world.live[('svc', 'AD', 'svc@AD')] == p3
    assert store.entries['AD/svc'] == {'current': p3, 'previous': p1}


def test_a_compliant_pending_password_is_re_sent_as_it_is(ledger_path):
    """The other side: while ISC may still accept the escrowed password, it is never superseded."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD')
    p1 = _applied_then_lost(world, store, ledger_path, ACCOUNTS)
    world.policies = ['passwordMinLength is 8']
    _d, groups, _o, rows = settle_run(world, store, ledger_path, ACCOUNTS, seed=2)
    assert [g.get('password') for g in groups] == [None] and not groups[0].get('supersedes')
    assert world.live[('svc', 'AD', 'svc@AD')] == p1
    assert store.entries['AD/svc'] == {'current': p1} and rows['AD/svc']['status'] == 'rotated'


@pytest.mark.parametrize('how', ['identity deleted', 'account renamed'])
def test_a_pending_account_isc_no_longer_knows_is_retired_once_and_its_passwords_archived(ledger_path, how):
    """Item 5: ISC no longer knows the account while its password is pending: it is reported retired once, its
    passwords go to the archive (never current), the run does not fail for it, then or later."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD', 'CN=svc', 'CN=svc-adm')
    world.add('other', 'AD')
    accounts = [{'source_name': 'AD', 'user_name': 'svc', 'account_id': 'CN=svc'},
                {'source_name': 'AD', 'user_name': 'other'}]
    p1 = _applied_then_lost(world, store, ledger_path, accounts)
    key = 'AD/svc#CN=svc'
    if how == 'identity deleted':
        del world.accounts[('svc', 'AD')]
    else:
        world.accounts[('svc', 'AD')] = ['CN=svc-renamed', 'CN=svc-adm']
    decisions, groups, _o, rows = settle_run(world, store, ledger_path, accounts, seed=2)
    assert all(key not in g['keys'] for g in groups)
    assert rows[key]['status'] == 'retired' and 'no longer knows' in rows[key]['detail']
    assert 'renamed or moved to another identity rather than deleted' in rows[key]['detail'], 'the way out when it moved'
    assert set(r['status'] for k, r in rows.items() if k != key) <= {'rotated', 'skipped'}
    assert key not in store.entries and store.archive[key][-1]['pending'] == p1, 'kept, never current'
    assert ledger_mod.Ledger(ledger_path).load().entry(key)['state'] == 'retired'
    for listed in (accounts, accounts[1:]):
        _d, groups, _o, rows = settle_run(world, store, ledger_path, listed, seed=3)
        assert all(key not in g['keys'] for g in groups) and len(store.archive[key]) == 1
        assert rows.get(key, {}).get('status') in ((None,) if listed is not accounts else ('skipped',)), rows.get(key)
        assert not [r for r in rows.values() if r['status'] in report_mod.FAILING]


def test_only_a_settled_key_is_retired(ledger_path):
    """A listed account ISC does not know with nothing pending is still a failure (a typo in the list), and a
    pending change still in flight is waited for, never retired under it."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD')
    rids = _in_flight(world, store, ledger_path, ACCOUNTS)
    world.in_flight.update(rids)
    del world.accounts[('svc', 'AD')]
    decisions, _g, _o, rows = settle_run(world, store, ledger_path, ACCOUNTS + [{'source_name': 'AD', 'user_name': 'typo'}],
                                         seed=2)
    assert rows['AD/svc']['status'] == 'pending' and 'pending' in store.entries['AD/svc'] and not store.archive
    assert rows['AD/typo']['status'] == 'failed'


def test_superseded_and_retired_rows_in_the_json_and_junit_reports(tmp_path):
    """The new statuses reach both reports: superseded passes (with why), retired is skipped, neither fails."""
    decisions = [{'key': 'AD/a', 'action': 'supersede', 'reason': 'r', 'group': 'g1'},
                 {'key': 'AD/b', 'action': 'retire', 'reason': 'ISC no longer knows this account', 'group': 'g2'},
                 {'key': 'AD/c', 'action': 'retire', 'reason': 'ISC no longer knows this account', 'group': 'g3'}]
    outcomes = [{'state': 'FINISHED', 'request_id': 'req-1', 'keys': ['AD/a'], 'supersedes': 'att-1', 'errors': []}]
    rows, totals = report_mod.summarize(decisions, {}, outcomes, retired=['AD/b'])
    assert totals == {'superseded': 1, 'retired': 1, 'failed': 1}, 'AD/c: the store did not archive it'
    assert 'att-1' in rows[0]['detail'] and 'did not archive' in rows[2]['detail']
    report_mod.write_reports(rows, totals, str(tmp_path / 'r.json'), str(tmp_path / 'r.xml'), keep_runs=0)
    junit = (tmp_path / 'r.xml').read_text()
    assert 'tests="3" failures="1" skipped="1"' in junit and '<skipped message="retired: ISC no longer knows' in junit
    assert '"superseded": 1' in (tmp_path / 'r.json').read_text()
    check_rows, _t = report_mod.summarize(decisions[1:2], {}, [], check_mode=True)
    assert check_rows[0]['status'] == 'would retire'


def test_a_deleted_sync_group_member_is_retired_and_the_others_are_settled(ledger_path):
    """Item 5 in a password sync group: one member's account is deleted while the group's password is pending. That
    member is retired; the others are settled with the escrowed password, not held by a member that is gone."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'LDAP')
    world.add('svc', 'KRB')
    world.sync = [['LDAP', 'KRB']]
    accounts = [{'source_name': 'LDAP', 'user_name': 'svc'}, {'source_name': 'KRB', 'user_name': 'svc'}]
    p1 = _applied_then_lost(world, store, ledger_path, accounts)
    assert store.entries['KRB/svc']['pending'] == p1
    del world.accounts[('svc', 'KRB')]
    _d, groups, _o, rows = settle_run(world, store, ledger_path, accounts, seed=2)
    assert rows['KRB/svc']['status'] == 'retired' and store.archive['KRB/svc'][-1]['pending'] == p1
    assert [(g['keys'], g.get('password')) for g in groups] == [(['LDAP/svc'], None)]
    assert world.live[('svc', 'LDAP', 'svc@LDAP')] == p1
    assert rows['LDAP/svc']['status'] == 'rotated' and store.entries['LDAP/svc'] == {'current': p1}


@pytest.mark.parametrize('when', ['its change FINISHED unconfirmed', 'rotated long ago'])
def test_an_account_deleted_after_its_change_settled_is_retired_not_committed(ledger_path, when):
    """Issue 22: the identity of an account whose last change ISC applied is deleted (the change FINISHED, and the run
    that sent it ended before it knew; or long ago). The next run that meets it settles that change, then retires it:
    its passwords archived (the one ISC applied last among them), no current left for consumers, the ledger stops
    rotating it, and neither that run nor a later one fails for it."""
    world, store = SettleWorld(), ArchivingStore()
    world.add('svc', 'AD')
    world.add('other', 'AD')
    accounts = [{'source_name': 'AD', 'user_name': 'svc', 'max_age_days': 0}, {'source_name': 'AD', 'user_name': 'other'}]
    if when == 'rotated long ago':
        settle_run(world, store, ledger_path, accounts, seed=1)
        assert 'current' in store.entries['AD/svc'] and not store.check()
    else:
        _in_flight(world, store, ledger_path, accounts)
        assert 'pending' in store.entries['AD/svc']
    applied = world.live[('svc', 'AD', 'svc@AD')]
    del world.accounts[('svc', 'AD')]
    sent = len(world.sent)
    _d, groups, _o, rows = settle_run(world, store, ledger_path, accounts, seed=2)
    assert rows['AD/svc']['status'] == 'retired' and 'no longer knows' in rows['AD/svc']['detail'], rows['AD/svc']
    assert 'AD/svc' not in store.entries and store.archive['AD/svc'][-1].get('current') == applied
    assert 'pending' not in store.archive['AD/svc'][-1]
    assert ledger_mod.Ledger(ledger_path).load().entry('AD/svc')['state'] == 'retired'
    _d, groups, _o, rows = settle_run(world, store, ledger_path, accounts, seed=3)
    assert rows['AD/svc']['status'] == 'skipped' and len(store.archive['AD/svc']) == 1
    assert not [r for r in rows.values() if r['status'] in report_mod.FAILING] and len(world.sent) == sent
    assert all('AD/svc' not in g['keys'] for g in groups)
