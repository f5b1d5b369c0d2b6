# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The escrow promise, phase by phase, against a fake service that keeps live passwords.

`run_role` performs the role's steps in the role's order (check, reconcile, read back, plan, settle,
escrow, apply, commit/discard, record) with a store that follows the store contract, so every
schedule below ends by comparing what each account holds with what the store holds.
Each test is a named finding of the escrow issue and fails on the engine before that issue.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import random
import time

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, lease, planning, report as report_mod, rotation
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import FakeClock

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
POLICIES = ['passwordMinLength is 12', 'passwordMinUpper is 1', 'passwordMinNumeric is 1']


class World(object):
    """A service: identities with accounts on sources, sync groups that fan out, and fault switches."""

    def __init__(self):
        self.accounts = {}  # (identity name, source name) -> [account ids]
        self.source_ids = {}
        self.live = {}  # (identity, source name, account id) -> password
        self.sync = []  # lists of source names
        self.changes = {}
        self.sent = []
        self.faults = {}
        self.status_error = None
        self.queried = []
        self.runs = 0  # role runs so far: each run draws its passwords from its own seed

    def add(self, user, source, *account_ids):
        self.source_ids.setdefault(source, 'sid-' + source)
        ids = list(account_ids) or ['%s@%s' % (user, source)]
        self.accounts[(user, source)] = ids
        for account_id in ids:
            self.live[(user, source, account_id)] = 'seed-' + account_id

    def source_name(self, source_id):
        return next(n for n, i in self.source_ids.items() if i == source_id)

    def sync_groups(self):
        return [{'id': 'grp-%d' % n, 'name': 'group %d' % n, 'sourceIds': [self.source_ids[s] for s in members]}
                for n, members in enumerate(self.sync)]

    # -- the client's interface ---------------------------------------------------------------
    stats = {'requests': {}}

    def map(self, fn, items, workers=4):
        out = []
        for item in items:
            try:
                out.append(fn(item))
            except IscError as exc:
                out.append(exc)
        return out

    def query_password_info(self, user, source):
        self.queried.append((user, source))
        if (user, source) in self.faults.get('query_error', ()):
            raise IscError('query-password-info failed: HTTP 503', status=503)
        if (user, source) not in self.accounts:
            raise IscError('query-password-info failed: HTTP 400 (400.1.404 Referenced object not found): no account',
                           status=400, detail_code='400.1.404 Referenced object not found')
        return {'identityId': 'id-' + user, 'sourceId': self.source_ids[source], 'publicKeyId': 'kid',
                'publicKey': PUBLIC, 'policies': POLICIES,
                'accounts': [{'accountId': a, 'accountName': a.split('@')[0].replace('CN=', '')} for a in self.accounts[(user, source)]]}

    def list_sources(self, ids):
        return dict((i, self.source_name(i)) for i in ids if i in self.source_ids.values())

    def _targets(self, user, source, account_id):
        targets = [(user, source, account_id)]
        for members in self.sync:
            if source in members:
                for other in members:
                    if other != source:
                        targets += [(user, other, a) for a in self.accounts.get((user, other), [])]
        return targets

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted):
        user, source = identity_id[len('id-'):], self.source_name(source_id)
        password = KEY.decrypt(base64.b64decode(encrypted), padding.PKCS1v15()).decode()
        self.sent.append((user, source, account_id, password))
        mode = self.faults.get('set_password')
        if mode == 'reject':
            raise IscError('set-password failed: HTTP 400: password history', status=400)
        targets = self._targets(user, source, account_id)
        sources = sorted(set(self.source_ids[t[1]] for t in targets) | set(
            self.source_ids[s] for members in self.sync if source in members for s in members))
        rid = 'req-%d' % len(self.changes)
        change = {'state': 'FINISHED', 'sources': sources, 'targets': targets, 'password': password}
        if mode == 'fail':
            change['state'] = 'FAILED'
            change['targets'] = []
        elif mode == 'fail_partial':
            change['state'] = 'FAILED'
            change['targets'] = targets[1:]
        self.changes[rid] = change
        for target in change['targets']:
            self.live[target] = password
        if mode == 'drop_after_accept':
            raise IscOutcomeUnknown('set-password: connection dropped after the request was sent', operation='set-password')
        return {'requestId': rid, 'state': 'IN_PROGRESS'}

    def password_change_status(self, rid):
        if self.status_error:
            raise IscError('password-change-status failed: HTTP %d' % self.status_error, status=self.status_error)
        change = self.changes.get(rid)
        if change is None:
            raise IscError('password-change-status failed: HTTP 404', status=404)
        return {'requestId': rid, 'state': change['state'], 'sourceIds': change['sources'],
                'errors': [] if change['state'] == 'FINISHED' else ['Connector error']}


class Store(object):
    """An in-memory store that follows the store contract (attempt ids; a record that supersedes an attempt keeps
    its pending, made previous by the commit or brought back by the discard of the superseding attempt)."""

    def __init__(self):
        self.entries = {}

    def check(self):
        return dict((k, e['pending_attempt']) for k, e in self.entries.items() if 'pending' in e)

    def read_pending(self, keys):
        return (dict((k, self.entries[k]['pending']) for k in keys if 'pending' in self.entries.get(k, {})),
                dict((k, self.entries[k]['pending_attempt']) for k in keys if 'pending' in self.entries.get(k, {})))

    def pending(self, groups):
        for group in groups:
            for key in group['keys']:
                held = self.entries.get(key, {})
                if 'pending' in held and held['pending_attempt'] not in (group['attempt'], group.get('supersedes')):
                    raise AssertionError('store refuses: %s holds attempt %s' % (key, held['pending_attempt']))
        for group in groups:
            for key in group['keys']:
                entry = self.entries.setdefault(key, {})
                if 'pending' in entry and entry['pending_attempt'] != group['attempt']:
                    entry.setdefault('superseded', []).append((entry['pending'], entry['pending_attempt']))
                entry.update(pending=group['password'], pending_attempt=group['attempt'])

    def settle(self, records, commit):
        for record in records:
            for key in record['keys']:
                entry = self.entries.get(key, {})
                if entry.get('pending_attempt') == record['attempt']:
                    password = entry.pop('pending')
                    entry.pop('pending_attempt')
                    superseded = entry.pop('superseded', [])
                    if commit:
                        entry['current'] = password
                        if superseded:
                            entry['previous'] = superseded[-1][0]
                    elif superseded:
                        entry['pending'], entry['pending_attempt'] = superseded.pop()
                        if superseded:
                            entry['superseded'] = superseded


def with_escrowed(groups, passwords, attempts):
    """The role's escrow records (changes.yml): a re-send's group names its attempt only, and its password is the one
    read back from the store under that attempt."""
    by_attempt = dict((attempts[k], p) for k, p in passwords.items() if p and k in attempts)
    return [g if 'password' in g else dict(g, password=by_attempt[g['attempt']]) for g in groups]


def run_role(world, store, ledger_path, accounts, force=False, stop_after=None):
    """The role's steps in the role's order. stop_after='escrow'|'apply' models a crash there.

    Each run draws its passwords from a seed of its own (its number): with one seed for every run, a
    password discarded by mistake would be drawn again by the next run, escrowed and sent, and the loss hidden.
    """
    world.runs += 1
    ledger = ledger_mod.Ledger(ledger_path).load()
    pending = store.check()
    reconciled = rotation.reconcile(world, ledger, pending)
    passwords, attempts = store.read_pending(reconciled['orphans'])
    decisions, groups = planning.plan(world, planning.with_defaults(accounts, 90, 0, ''), ledger, reconciled,
                                      force=force, sync_groups=world.sync_groups(), rng=random.Random(world.runs),
                                      pending_passwords=passwords, pending_attempts=attempts, store_pending=pending)
    store.settle(reconciled['commit_records'], True)
    store.settle(reconciled['discard_records'], False)
    store.pending(with_escrowed(groups, passwords, attempts))
    if stop_after == 'escrow':
        return decisions, groups, None, None
    # on a clock of its own: a status that cannot be read is polled until wait_timeout in milliseconds, not 5 s
    clock = FakeClock(tick=0.01)
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=5, poll_interval=0.0, workers=1, clock=clock,
                              sleep=clock.sleep, pending_passwords=passwords, pending_attempts=attempts)
    if stop_after == 'apply':
        return decisions, groups, outcomes, None
    commits, discards = rotation.outcome_records(outcomes)
    store.settle(commits, True)
    store.settle(discards, False)
    rotation.record(ledger, reconciled, outcomes)
    rows, _totals = report_mod.summarize(decisions, reconciled, outcomes)
    return decisions, groups, outcomes, dict((r['account'], r) for r in rows)


def key_of(user, source, account_id=None):
    return ledger_mod.account_key(source, user, account_id)


def lost(world, store, keys_by_target):
    """Targets whose live password is neither current nor pending in the store."""
    out = []
    for target, key in keys_by_target.items():
        entry = store.entries.get(key, {})
        if world.live[target] not in (entry.get('current'), entry.get('pending')) and not world.live[target].startswith('seed-'):
            out.append(key)
    return out


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'state' / 'ledger.json')


def test_failed_resend_of_an_orphan_keeps_the_password_that_may_be_live(ledger_path):
    """Finding 1: accepted then dropped, and the re-send fails: the store must keep P1 (ISC applied it)."""
    world, store = World(), Store()
    world.add('svc', 'AD')
    accounts = [{'source_name': 'AD', 'user_name': 'svc'}]
    world.faults['set_password'] = 'drop_after_accept'
    run_role(world, store, ledger_path, accounts)
    p1 = world.live[('svc', 'AD', 'svc@AD')]
    assert store.entries['AD/svc']['pending'] == p1
    for fault in ('fail', 'reject'):
        world.faults['set_password'] = fault
        _d, groups, outcomes, rows = run_role(world, store, ledger_path, accounts)
        assert 'password' not in groups[0] and groups[0]['reuse_pending'] and world.sent[-1][3] == p1
        assert outcomes[0]['state'] == 'UNKNOWN', outcomes
        assert store.entries['AD/svc'].get('pending') == p1, 'the only copy of the live password was discarded'
        assert rows['AD/svc']['status'] == 'unknown'
    world.faults = {}
    # ISC refused the re-send outright: the next run supersedes P1 with a fresh password, keeping P1 (issue 22)
    _d, groups, _o, rows = run_role(world, store, ledger_path, accounts)
    assert groups[0]['supersedes'] and not groups[0]['reuse_pending'] and rows['AD/svc']['status'] == 'superseded'
    assert store.entries['AD/svc'] == {'current': world.live[('svc', 'AD', 'svc@AD')], 'previous': p1}


def test_fresh_change_that_fails_is_discarded(ledger_path):
    """The other side of finding 1: a password never sent before and refused or FAILED is discarded."""
    world, store = World(), Store()
    world.add('svc', 'AD')
    accounts = [{'source_name': 'AD', 'user_name': 'svc'}]
    for fault in ('reject', 'fail'):
        world.faults['set_password'] = fault
        _d, _g, outcomes, rows = run_role(world, store, ledger_path, accounts, force=True)
        assert outcomes[0]['state'] in ('REJECTED', 'FAILED') and rows['AD/svc']['status'] == 'failed'
        assert 'pending' not in store.entries['AD/svc']


def test_two_accounts_of_one_identity_on_one_source_are_two_changes(ledger_path):
    """Finding 2: each account of the identity is its own set-password, naming its own accountId."""
    world, store = World(), Store()
    world.add('carl', 'AD', 'CN=carl', 'CN=carl-adm')
    accounts = [{'source_name': 'AD', 'user_name': 'carl', 'account_id': 'CN=carl'},
                {'source_name': 'AD', 'user_name': 'carl', 'account_id': 'carl-adm'}]  # by accountName
    _d, groups, _o, rows = run_role(world, store, ledger_path, accounts)
    assert len(groups) == 2 and sorted(s[2] for s in world.sent) == ['CN=carl', 'CN=carl-adm']
    assert store.entries['AD/carl#CN=carl']['current'] == world.live[('carl', 'AD', 'CN=carl')]
    assert store.entries['AD/carl#carl-adm']['current'] == world.live[('carl', 'AD', 'CN=carl-adm')]
    assert world.live[('carl', 'AD', 'CN=carl')] != world.live[('carl', 'AD', 'CN=carl-adm')]


def test_sync_group_reaches_unlisted_members_and_they_are_stored(ledger_path):
    """Finding 5: rotating one listed member of a sync group stores the password of every member it reaches."""
    world, store = World(), Store()
    for source in ('LDAP', 'KRB', 'NIS'):
        world.add('svc', source)
    world.sync = [['LDAP', 'KRB', 'NIS']]
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert len(world.sent) == 1 and sorted(groups[0]['keys']) == ['KRB/svc', 'LDAP/svc', 'NIS/svc']
    for source in ('LDAP', 'KRB', 'NIS'):
        assert store.entries['%s/svc' % source]['current'] == world.live[('svc', source, 'svc@%s' % source)]
    assert 'not in the accounts list' in rows['KRB/svc']['detail'] and rows['KRB/svc']['status'] == 'rotated'


def test_sync_group_with_an_unreadable_member_is_not_sent(ledger_path):
    """Finding 5: a member that cannot be read would be changed blind: the whole group waits."""
    world, store = World(), Store()
    for source in ('LDAP', 'KRB'):
        world.add('svc', source)
    world.sync = [['LDAP', 'KRB']]
    world.faults['query_error'] = [('svc', 'KRB')]
    accounts = [{'source_name': 'LDAP', 'user_name': 'svc'}, {'source_name': 'KRB', 'user_name': 'svc'}]
    decisions, groups, _o, rows = run_role(world, store, ledger_path, accounts)
    assert groups == [] and world.sent == []
    assert rows['LDAP/svc']['status'] == 'failed' and 'could not be read' in rows['LDAP/svc']['detail']


def test_sync_group_member_still_in_flight_holds_the_group(ledger_path):
    """Finding 5: a member with a change in flight keeps its whole group waiting (no second password)."""
    world, store = World(), Store()
    for source in ('LDAP', 'KRB'):
        world.add('svc', source)
    world.sync = [['LDAP', 'KRB']]
    accounts = [{'source_name': 'LDAP', 'user_name': 'svc'}, {'source_name': 'KRB', 'user_name': 'svc'}]
    run_role(world, store, ledger_path, accounts, stop_after='apply')  # crash before commit and record
    for change in world.changes.values():
        change['state'] = 'IN_PROGRESS'
    sent = len(world.sent)
    decisions, groups, _o, _rows = run_role(world, store, ledger_path, accounts, force=True)
    assert groups == [] and len(world.sent) == sent
    assert set(d['action'] for d in decisions) == {'waiting'}


def test_partial_sync_group_failure_keeps_the_password(ledger_path):
    world, store = World(), Store()
    for source in ('LDAP', 'KRB'):
        world.add('svc', source)
    world.sync = [['LDAP', 'KRB']]
    world.faults['set_password'] = 'fail_partial'
    accounts = [{'source_name': 'LDAP', 'user_name': 'svc'}, {'source_name': 'KRB', 'user_name': 'svc'}]
    _d, groups, outcomes, _rows = run_role(world, store, ledger_path, accounts)
    assert outcomes[0]['state'] == 'UNKNOWN'
    assert store.entries['KRB/svc']['pending'] == world.live[('svc', 'KRB', 'svc@KRB')]


def _failed_after_a_crash_sync_group(world, store, ledger_path):
    """A sync group's change FAILED after it set the password on KRB; the run crashed before it settled it."""
    for source in ('LDAP', 'KRB'):
        world.add('svc', source)
    world.sync = [['LDAP', 'KRB']]
    accounts = [{'source_name': 'LDAP', 'user_name': 'svc'}, {'source_name': 'KRB', 'user_name': 'svc'}]
    world.faults['set_password'] = 'fail_partial'
    _d, groups, _o, _r = run_role(world, store, ledger_path, accounts, stop_after='apply')
    targets = {('svc', 'LDAP', 'svc@LDAP'): 'LDAP/svc', ('svc', 'KRB', 'svc@KRB'): 'KRB/svc'}
    assert world.live[('svc', 'KRB', 'svc@KRB')] == groups[0]['password']
    return accounts, targets, groups[0]


def _failed_after_a_crash_resend(world, store, ledger_path):
    """The re-send of a password whose first sending had an unknown outcome (it reached AD) FAILED; the run
    crashed before it settled it."""
    world.add('svc', 'AD')
    accounts = [{'source_name': 'AD', 'user_name': 'svc'}]
    world.faults['set_password'] = 'drop_after_accept'
    _d, first, _o, _r = run_role(world, store, ledger_path, accounts)
    world.faults['set_password'] = 'fail'
    _d, groups, _o, _r = run_role(world, store, ledger_path, accounts, stop_after='apply')
    assert groups[0]['reuse_pending'] and 'password' not in groups[0] and groups[0]['attempt'] == first[0]['attempt']
    assert world.live[('svc', 'AD', 'svc@AD')] == first[0]['password']
    return accounts, {('svc', 'AD', 'svc@AD'): 'AD/svc'}, dict(groups[0], password=first[0]['password'])


@pytest.mark.parametrize('schedule', [_failed_after_a_crash_sync_group, _failed_after_a_crash_resend],
                         ids=['sync-group', 'resend'])
def test_reconcile_keeps_a_failed_password_that_may_be_live(ledger_path, schedule):
    """The reconcile side of finding 1: a change the next run's reconcile reads as FAILED, whose password may be on
    an account (it fanned out over a sync group, or it re-sent a password that may already be live), is kept
    pending and sent again; discarding it loses the only copy of a live password."""
    world, store = World(), Store()
    accounts, targets, sent = schedule(world, store, ledger_path)
    world.faults = {}
    _d, groups, _o, _r = run_role(world, store, ledger_path, accounts, stop_after='escrow')
    assert lost(world, store, targets) == [], 'a password an account holds was discarded from the store'
    assert [(g.get('password'), g['attempt'], g['reuse_pending']) for g in groups] == [(None, sent['attempt'], True)]
    _d, _g, outcomes, rows = run_role(world, store, ledger_path, accounts)
    assert [o['state'] for o in outcomes] == ['FINISHED'] and set(r['status'] for r in rows.values()) == {'rotated'}
    for target, key in targets.items():
        assert world.live[target] == sent['password'] and store.entries[key] == {'current': sent['password']}


def test_status_beyond_the_planned_sources_is_reported(ledger_path):
    """A change whose sourceIds reach a source the plan did not count on is never silently committed."""
    world, store = World(), Store()
    world.add('svc', 'AD')
    world.add('svc', 'EXTRA')
    world.sync = [['AD', 'EXTRA']]
    real_groups = world.sync_groups
    world.sync_groups = lambda: []  # the plan did not see the group (created meanwhile)
    _d, _g, outcomes, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'svc'}])
    assert outcomes[0]['beyond'] == ['sid-EXTRA'] and rows['AD/svc']['status'] == 'unknown'
    assert 'sid-EXTRA' in rows['AD/svc']['detail']
    world.sync_groups = real_groups


def test_pending_of_an_account_removed_from_the_list_is_settled(ledger_path):
    """Finding 8: the account left the accounts file while its password was pending: still settled and reported."""
    world, store = World(), Store()
    world.add('a', 'AD')
    world.add('b', 'AD')
    world.faults['set_password'] = 'drop_after_accept'
    run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'a'}, {'source_name': 'AD', 'user_name': 'b'}])
    world.faults = {}
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'a'}])
    assert sorted(k for g in groups for k in g['keys']) == ['AD/a', 'AD/b']
    assert store.entries['AD/b'] == {'current': world.live[('b', 'AD', 'b@AD')]}
    assert 'not in the accounts list' in rows['AD/b']['detail']


def test_status_that_cannot_be_read_is_unknown_not_pending(ledger_path):
    """Finding 9: a status answering 503 throughout is reported unknown (fails the play), kept pending."""
    world, store = World(), Store()
    world.add('svc', 'AD')
    world.status_error = 503
    _d, _g, outcomes, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'svc'}])
    assert outcomes[0]['state'] == 'STATUS_UNKNOWN' and rows['AD/svc']['status'] == 'unknown'
    assert 'pending' in store.entries['AD/svc']
    _d, _g, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'svc'}])
    assert rows['AD/svc']['status'] == 'unknown' and 'could not be read' in rows['AD/svc']['detail']
    world.status_error = 403
    with pytest.raises(ledger_mod.RotationError, match='ORG_ADMIN'):
        run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'svc'}])
    world.status_error = None
    run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'svc'}])
    assert store.entries['AD/svc'] == {'current': world.live[('svc', 'AD', 'svc@AD')]}


def test_unknown_request_not_pending_in_the_store_is_abandoned(ledger_path):
    """Finding 14: a request id answering 404 with nothing escrowed stops being polled."""
    ledger = ledger_mod.Ledger(ledger_path).load()
    ledger.append('submitting', ['AD/svc'], group='g', attempt='a1')
    ledger.append('submitted', ['AD/svc'], request_id='req-gone')
    ledger.save()
    world, store = World(), Store()
    world.add('svc', 'AD')
    reconciled = rotation.reconcile(world, ledger_mod.Ledger(ledger_path).load(), store.check())
    assert reconciled['abandoned'] == ['AD/svc'] and reconciled['orphans'] == []
    rotation.record(ledger_mod.Ledger(ledger_path).load(), reconciled, [])
    assert ledger_mod.Ledger(ledger_path).load().entry('AD/svc')['state'] != 'pending'


def test_explicit_zero_settings_are_kept():
    """Finding 13: max_age_days 0 means rotate every run; it is not replaced by the default."""
    out = planning.with_defaults([{'source_name': 's', 'user_name': 'u', 'max_age_days': 0, 'password_length': 0}],
                                 90, 24, '')
    assert out[0]['max_age_days'] == 0 and out[0]['password_length'] is None


def test_store_pending_of_another_attempt_is_never_replaced(ledger_path):
    """A key with an unsettled pending of another attempt gets no new password: the plan refuses it."""
    world, store = World(), Store()
    world.add('svc', 'AD')
    store.entries['AD/svc'] = {'pending': 'Other-Run-Pw1', 'pending_attempt': 'other'}
    ledger = ledger_mod.Ledger(ledger_path).load()
    decisions, groups = planning.plan(world, planning.with_defaults([{'source_name': 'AD', 'user_name': 'svc'}], 90, 0, ''),
                                      ledger, {'orphans': []}, force=True, store_pending=store.check())
    assert groups == [] and decisions[0]['action'] == 'error' and 'unsettled pending' in decisions[0]['reason']


# --------------------------------------------------------------------------- the run lease

def test_second_run_is_refused_while_the_first_holds_the_lease(ledger_path):
    holder, replaced = lease.acquire(ledger_path, pid=os.getpid())
    assert replaced is None
    with pytest.raises(lease.LeaseError, match='another rotation is running.*pid %d' % os.getpid()):
        lease.acquire(ledger_path, pid=os.getpid())
    assert lease.release(ledger_path, holder['run_id'])
    assert lease.acquire(ledger_path, pid=os.getpid())[1] is None


def test_stale_lease_is_taken_over_only_when_no_module_still_works(ledger_path, tmp_path):
    dead = _dead_pid()
    holder, _r = lease.acquire(ledger_path, pid=dead)
    # the controller is gone but its module still holds the work lock (Ansible workers survive the kill)
    work = lease.WorkLock(ledger_path, holder['run_id'], 'apply').take()
    with pytest.raises(lease.LeaseError, match='still running in module process %d' % os.getpid()):
        lease.acquire(ledger_path, pid=os.getpid())
    os.close(work._fd)  # the module ends
    mine, replaced = lease.acquire(ledger_path, pid=os.getpid())
    assert replaced == holder['run_id']
    with pytest.raises(lease.LeaseError, match='no longer holds the lease'):
        lease.WorkLock(ledger_path, holder['run_id'], 'record').take()
    lease.WorkLock(ledger_path, mine['run_id'], 'record').take()


def _dead_pid():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.01)
    return pid


def test_lease_from_another_host_is_taken_over_only_after_its_heartbeat_stops(ledger_path, monkeypatch):
    """AWX runs each job in a new pod (a new host name): a killed job's lease ends when its heartbeat stops."""
    start = 1000000.0
    holder, _r = lease.acquire(ledger_path, hostname='automation-job-1-abcde', pid=12345, stale_after=600, now=start)
    with pytest.raises(lease.LeaseError, match='another host, last sign of life 300 s ago'):
        lease.acquire(ledger_path, hostname='automation-job-2-fghij', now=start + 300)
    assert lease.beat(ledger_path, holder['run_id'], now=start + 500)  # a module of that run still works
    with pytest.raises(lease.LeaseError, match='last sign of life 400 s ago'):
        lease.acquire(ledger_path, hostname='automation-job-2-fghij', now=start + 900)
    mine, replaced = lease.acquire(ledger_path, hostname='automation-job-2-fghij', now=start + 1101)
    assert replaced == holder['run_id']
    assert not lease.beat(ledger_path, holder['run_id']), 'the old run no longer holds it'


def test_working_module_keeps_the_heartbeat_going(ledger_path, monkeypatch):
    monkeypatch.setattr(lease, 'HEARTBEAT_EVERY', 0.05)
    holder, _r = lease.acquire(ledger_path, pid=os.getpid(), now=1.0)
    work = lease.WorkLock(ledger_path, holder['run_id'], 'apply').take()
    first = lease.read(lease.lease_path(ledger_path))['heartbeat']
    time.sleep(0.4)
    assert lease.read(lease.lease_path(ledger_path))['heartbeat'] > first, 'renewed while the module works'
    os.close(work._fd)
