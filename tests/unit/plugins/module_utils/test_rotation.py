# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation pipeline against an in-memory fake of the client: ledger, reconcile, plan, apply, reports."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os
import random
import stat

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import (
    accounts as accounts_mod, ledger as ledger_mod, planning, report as report_mod, rotation)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy import validate, parse_policies
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import FakeClock

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
POLICIES = ['passwordMinLength is 12', 'passwordMinUpper is 1', 'passwordMinNumeric is 2', 'passwordRepeatedChar is 2']


class FakeClient:
    """Just enough of IscClient: accounts by (user, source), changes that finish after N polls."""

    def __init__(self, accounts, polls_to_finish=1, fail_sources=(), unknown_on=()):
        self.accounts = accounts  # (user, source) -> (identityId, sourceId, [accounts])
        self.polls_to_finish = polls_to_finish
        self.fail_sources = set(fail_sources)
        self.unknown_on = set(unknown_on)
        self.sent = []  # (identity, source, account, password)
        self.changes = {}
        self.status_calls = 0
        self.stats = {'requests': {}}
        self.runs = 0  # run_all calls so far: each run draws its passwords from its own seed

    def map(self, fn, items, workers=4):
        out = []
        for item in items:
            try:
                out.append(fn(item))
            except IscError as exc:
                out.append(exc)
        return out

    def query_password_info(self, user_name, source_name):
        if (user_name, source_name) not in self.accounts:
            raise IscError('query-password-info failed: HTTP 400: unknown user', status=400,
                           detail_code='400.1.404 Referenced object not found')
        identity, source, accts = self.accounts[(user_name, source_name)]
        return {'identityId': identity, 'sourceId': source, 'publicKeyId': 'kid', 'publicKey': PUBLIC,
                'accounts': accts, 'policies': POLICIES}

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted_password):
        password = KEY.decrypt(base64.b64decode(encrypted_password), padding.PKCS1v15()).decode()
        if account_id in self.unknown_on:
            self.sent.append((identity_id, source_id, account_id, password))
            raise IscOutcomeUnknown('set-password: outcome unknown', operation='set-password')
        rid = '%032x' % (len(self.changes) + 1)
        self.sent.append((identity_id, source_id, account_id, password))
        self.changes[rid] = {'polls': 0, 'fail': source_id in self.fail_sources}
        return {'requestId': rid, 'state': 'IN_PROGRESS'}

    def password_change_status(self, request_id):
        self.status_calls += 1
        change = self.changes.get(request_id)
        if change is None:
            raise IscError('password-change-status failed: HTTP 404', status=404)
        change['polls'] += 1
        if change['polls'] < self.polls_to_finish:
            return {'requestId': request_id, 'state': 'IN_PROGRESS', 'errors': [], 'sourceIds': []}
        if change['fail']:
            return {'requestId': request_id, 'state': 'FAILED', 'errors': ['Connector error'], 'sourceIds': []}
        return {'requestId': request_id, 'state': 'FINISHED', 'errors': [], 'sourceIds': []}


def fleet(n, sources=('src-a', 'src-b')):
    out = {}
    for i in range(n):
        source = sources[i % len(sources)]
        out[('svc-%03d' % i, source)] = ('id%03d' % i, source, [{'accountId': 'CN=svc-%03d' % i, 'accountName': 'svc-%03d' % i}])
    return out


def accounts_for(client, max_age_days=30):
    return planning.with_defaults([{'user_name': u, 'source_name': s} for (u, s) in client.accounts], max_age_days, 0, '')


@pytest.fixture
def ledger(tmp_path):
    return ledger_mod.Ledger(str(tmp_path / 'state' / 'ledger.json')).load()


def run_all(client, ledger, accounts, **kw):
    client.runs += 1  # a seed per run: a password dropped by mistake must not be drawn again by the next run
    reconciled = rotation.reconcile(client, ledger, kw.pop('store_pending', {}))
    decisions, groups = planning.plan(client, accounts, ledger, reconciled, rng=random.Random(client.runs), **kw)
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=30, poll_interval=0.0, workers=2)
    rotation.record(ledger, reconciled, outcomes)
    return decisions, groups, outcomes


def test_first_run_rotates_everything_with_policy_compliant_passwords(ledger):
    client = FakeClient(fleet(6))
    decisions, groups, outcomes = run_all(client, ledger, accounts_for(client))
    assert [d['action'] for d in decisions] == ['rotate'] * 6
    assert len(client.sent) == 6 and all(o['state'] == 'FINISHED' for o in outcomes)
    for _i, _s, _a, password in client.sent:
        assert validate(password, parse_policies(POLICIES)) == []
    assert all(e['state'] == 'current' and e['last_rotated'] for e in ledger.accounts.values())


def test_second_run_sends_nothing_and_forced_run_rotates(ledger):
    client = FakeClient(fleet(4))
    run_all(client, ledger, accounts_for(client))
    client.sent = []
    decisions, groups, dummy = run_all(client, ledger, accounts_for(client))
    assert groups == [] and client.sent == []
    assert {d['action'] for d in decisions} == {'skip'}
    run_all(client, ledger, accounts_for(client), force=True)
    assert len(client.sent) == 4


def test_due_by_age(ledger):
    client = FakeClient(fleet(2))
    run_all(client, ledger, accounts_for(client))
    later = ledger_mod.utcnow() + datetime.timedelta(days=31)
    decisions, groups = planning.plan(client, accounts_for(client), ledger, {}, now=later)
    assert [d['action'] for d in decisions] == ['rotate', 'rotate']
    assert 'last rotated 31 days ago' in decisions[0]['reason']


def test_shared_password_groups_are_rotated_once(ledger):
    accounts = {('svc-x', 'AD-1'): ('idx', 'AD-1', [{'accountId': 'x1', 'accountName': 'svc-x'}]),
                ('svc-x', 'AD-2'): ('idx', 'AD-2', [{'accountId': 'x2', 'accountName': 'svc-x'}])}
    client = FakeClient(accounts)
    sync = [{'id': 'grp-1', 'sourceIds': ['AD-1', 'AD-2']}]
    decisions, groups, outcomes = run_all(client, ledger, accounts_for(client), sync_groups=sync)
    assert len(groups) == 1 and len(client.sent) == 1
    assert sorted(groups[0]['keys']) == ['AD-1/svc-x', 'AD-2/svc-x']
    assert ledger.entry('AD-2/svc-x')['state'] == 'current'


class CountingClient(FakeClient):
    """A FakeClient that counts query-password-info and sync-group reads per user name."""

    def __init__(self, accounts):
        FakeClient.__init__(self, accounts)
        self.queried, self.sync_reads = [], 0

    def query_password_info(self, user_name, source_name):
        self.queried.append((user_name, source_name))
        return FakeClient.query_password_info(self, user_name, source_name)

    def sync_groups(self):
        self.sync_reads += 1
        return [{'id': 'grp-1', 'sourceIds': ['AD-1', 'AD-2']}]


def test_a_run_with_nothing_due_sends_no_request_and_decides_from_the_ledger(ledger):
    client = CountingClient(fleet(6))
    run_all(client, ledger, accounts_for(client), sync_groups=client.sync_groups)
    assert len(client.queried) == 6 and client.sync_reads == 1
    client.queried, client.sync_reads = [], 0
    decisions, groups = planning.plan(client, accounts_for(client), ledger, {}, sync_groups=client.sync_groups)
    assert groups == [] and client.queried == [] and client.sync_reads == 0
    assert [d['key'] for d in decisions] == [d['key'] for d in planning.plan(
        client, accounts_for(client), ledger, {}, force=True, sync_groups=client.sync_groups)[0]]
    assert {d['action'] for d in decisions} == {'skip'} and all('not due (rotated ' in d['reason'] for d in decisions)


def test_only_due_identities_are_queried_and_their_sync_groups_stay_whole(ledger):
    accounts = dict(fleet(4))
    accounts.update({('svc-x', 'AD-1'): ('idx', 'AD-1', [{'accountId': 'x1', 'accountName': 'svc-x'}]),
                     ('svc-x', 'AD-2'): ('idx', 'AD-2', [{'accountId': 'x2', 'accountName': 'svc-x'}])})
    client = CountingClient(accounts)
    run_all(client, ledger, accounts_for(client), sync_groups=client.sync_groups)
    # svc-x's AD-1 account is due again (its age), its AD-2 twin is not: both are queried and changed as one
    entry = ledger.accounts['AD-1/svc-x']
    entry['last_rotated'] = ledger_mod.iso(ledger_mod.utcnow() - datetime.timedelta(days=40))
    client.queried, client.sent = [], []
    decisions, groups = planning.plan(client, accounts_for(client), ledger, {}, sync_groups=client.sync_groups,
                                      rng=random.Random(2))
    assert sorted(client.queried) == [('svc-x', 'AD-1'), ('svc-x', 'AD-2')]
    assert len(groups) == 1 and sorted(groups[0]['keys']) == ['AD-1/svc-x', 'AD-2/svc-x']
    assert [d['action'] for d in decisions].count('rotate') == 2
    # a new account, and an account whose state is not plainly current, are queried too
    ledger.accounts['src-a/svc-000']['state'] = 'failed'
    client.queried = []
    planning.plan(client, accounts_for(client) + planning.with_defaults(
        [{'user_name': 'svc-new', 'source_name': 'src-b'}], 30, 0, ''), ledger, {}, sync_groups=client.sync_groups)
    assert ('svc-000', 'src-a') in client.queried and ('svc-new', 'src-b') in client.queried
    assert ('svc-001', 'src-b') not in client.queried


def test_duplicate_accounts_are_refused():
    with pytest.raises(ledger_mod.RotationError, match='listed more than once: src/u'):
        planning.with_defaults([{'source_name': 'src', 'user_name': 'u'}] * 2, 90, 0, '')


# ---- names that make keys ambiguous or the JUnit report invalid (issue 22 item 8) ----------------------

@pytest.mark.parametrize('rows, needle', [
    ([{'source_name': 'Unix-LDAP', 'user_name': 'svc'}, {'source_name': 'Unix-Kerberos', 'user_name': 'SVC'}],
     "accounts[1]: user_name 'SVC' and accounts[0] 'svc' differ only in case"),
    ([{'source_name': 'AD', 'user_name': 'a'}, {'source_name': 'ad', 'user_name': 'b'}],
     "accounts[1]: source_name 'ad' and accounts[0] 'AD' differ only in case"),
    ([{'source_name': 'AD', 'user_name': 'ok'}, {'source_name': 'Corp/AD', 'user_name': 'svc'}],
     "accounts[1]: source_name 'Corp/AD' holds '/'"),
    ([{'source_name': 'AD', 'user_name': 'svc#2'}], "accounts[0]: user_name 'svc#2' holds '#'"),
    ([{'source_name': 'AD', 'user_name': 'svc\x07'}], "accounts[0]: user_name 'svc\\x07' holds the control character U+0007"),
    ([{'source_name': 'AD\u2028x', 'user_name': 'svc'}], "accounts[0]: source_name 'AD\\u2028x' holds the control character U+2028"),
    ([{'source_name': 'AD', 'user_name': 'svc', 'account_id': 'CN=svc\n'}], "accounts[0]: account_id 'CN=svc\\n' holds the control"),
])
def test_names_that_make_keys_ambiguous_are_refused_naming_the_row(rows, needle):
    with pytest.raises(ledger_mod.RotationError) as caught:
        planning.with_defaults(rows, 90, 0, '')
    assert needle in str(caught.value)


def test_names_that_are_fine_pass():
    rows = [{'source_name': 'AD #1', 'user_name': 'dom/svc', 'account_id': 'CN=svc/#,OU=x'},
            {'source_name': 'AD #1', 'user_name': 'Svc-\u00e9'}, {'source_name': 'LDAP', 'user_name': 'dom/svc'}]
    assert len(planning.with_defaults(rows, 90, 0, '')) == 3
    for row in rows:  # every key parses back to its names
        key = accounts_mod.account_key(row['source_name'], row['user_name'], row.get('account_id'))
        assert accounts_mod.parse_key(key) == (row['source_name'], row['user_name'], row.get('account_id'))


def test_junit_report_is_valid_xml_whatever_the_details_hold(tmp_path):
    import xml.etree.ElementTree as ET
    nasty = 'bell\x07 esc\x1b nul\x00 lone\udc80 nonchar\ufffe <&>"\' tab\tend'
    rows = [{'account': 'AD/svc\x01', 'status': 'failed', 'detail': nasty, 'request_id': 'r\x02'},
            {'account': 'AD/ok', 'status': 'skipped', 'detail': nasty},
            {'account': 'AD/p', 'status': 'pending', 'detail': 'fine', 'request_id': 'r1'}]
    report_mod.write_reports(rows, {'failed': 1, 'skipped': 1, 'pending': 1}, None, str(tmp_path / 'r.xml'))
    tree = ET.parse(str(tmp_path / 'r.xml'))
    cases = tree.getroot().findall('.//testcase')
    assert [c.get('name') for c in cases] == ['AD/svc\\x01', 'AD/ok', 'AD/p']
    failure = cases[0].find('failure').text
    assert '\\x07' in failure and '\\x00' in failure and '\\udc80' in failure and '<&>"\'' in failure and '\t' in failure


def test_failed_changes_count_attempts_and_park(ledger):
    client = FakeClient(fleet(2), fail_sources=['src-a'])
    for dummy in range(3):
        _d, _g, outcomes = run_all(client, ledger, accounts_for(client), force=False)
        client.sent = []
    entry = ledger.entry('src-a/svc-000')
    assert entry['state'] == 'parked' and entry['attempts'] == 3 and 'Connector error' in entry['last_error']
    decisions, groups = planning.plan(client, accounts_for(client), ledger, {})
    assert decisions[0]['action'] == 'parked' and 'Connector error' in decisions[0]['reason']


def test_in_progress_at_timeout_stays_pending_and_is_reconciled(ledger):
    client = FakeClient(fleet(1), polls_to_finish=10 ** 6)
    reconciled = rotation.reconcile(client, ledger, [])
    _decisions, groups = planning.plan(client, accounts_for(client), ledger, reconciled)
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=0, poll_interval=0.0)
    assert outcomes[0]['state'] == 'IN_PROGRESS' and outcomes[0]['request_id']
    rotation.record(ledger, reconciled, outcomes)
    key = groups[0]['keys'][0]
    pending = {key: groups[0]['attempt']}
    assert ledger.entry(key)['state'] == 'pending'
    # next run: still running -> waiting, not re-planned; then it finishes -> committed
    reconciled = rotation.reconcile(client, ledger, pending)
    assert reconciled['waiting'][0]['keys'] == [key]
    decisions, groups = planning.plan(client, accounts_for(client), ledger, reconciled)
    assert decisions[0]['action'] == 'waiting' and groups == []
    client.polls_to_finish = 0
    reconciled = rotation.reconcile(client, ledger, pending)
    assert reconciled['finished'][0]['keys'] == [key]
    assert reconciled['commit_records'] == [{'attempt': pending[key], 'keys': [key]}]
    rotation.record(ledger, reconciled, [])
    assert ledger.entry(key)['state'] == 'current'


class WatchedClock(FakeClock):
    """A FakeClock that stops a test after ``reads`` reads, rather than letting a schedule that waits on another clock
    run for ever."""

    def __init__(self, reads=100):  # this schedule reads it about 40 times
        super(WatchedClock, self).__init__(start=0.0)
        self.reads = reads

    def __call__(self):
        self.reads -= 1
        assert self.reads >= 0, 'apply still running: does it wait on a clock or a sleep other than the ones it was given?'
        return super(WatchedClock, self).__call__()


def test_apply_keeps_time_on_the_clock_it_is_given(ledger):
    """rotation.Apply reads only its clock and waits only through its sleep: a change still IN_PROGRESS is polled
    every poll_interval until wait_timeout, all of it on the test's clock (no real second passes)."""
    client = FakeClient(fleet(1), polls_to_finish=10 ** 6)
    _d, groups = planning.plan(client, accounts_for(client), ledger, rotation.reconcile(client, ledger, {}))
    clock = WatchedClock()
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=10, poll_interval=2.0, workers=1, clock=clock,
                              sleep=clock.sleep)
    assert [o['state'] for o in outcomes] == ['IN_PROGRESS'] and outcomes[0]['seconds'] == 10.0
    assert client.status_calls == 5  # 2, 4, 6, 8 and 10 s after the submission
    assert sum(clock.sleeps) == 10.0 and max(clock.sleeps) <= 1.0  # woken at least once a second


def test_lost_outcome_is_resent_with_the_escrowed_password(ledger):
    client = FakeClient(fleet(1), unknown_on=['CN=svc-000'])
    reconciled = rotation.reconcile(client, ledger, [])
    _d, groups = planning.plan(client, accounts_for(client), ledger, reconciled, rng=random.Random(3))
    escrowed = groups[0]['password']
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0)
    assert outcomes[0]['state'] == 'UNKNOWN'
    rotation.record(ledger, reconciled, outcomes)
    client.unknown_on = set()
    key, attempt = groups[0]['keys'][0], groups[0]['attempt']
    reconciled = rotation.reconcile(client, ledger, {key: attempt})
    assert reconciled['orphans'] == [key]
    decisions, groups = planning.plan(client, accounts_for(client), ledger, reconciled,
                                      pending_passwords={key: escrowed}, pending_attempts={key: attempt})
    assert decisions[0]['action'] == 'resubmit' and 'password' not in groups[0]  # the plan decides on the attempt
    assert groups[0]['attempt'] == attempt and groups[0]['reuse_pending']
    rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0,
                   pending_passwords={key: escrowed}, pending_attempts={key: attempt})  # apply joins it by attempt
    assert client.sent[-1][3] == escrowed


def test_ledger_survives_a_crash_mid_journal(tmp_path):
    path = str(tmp_path / 'ledger.json')
    ledger = ledger_mod.Ledger(path).load()
    ledger.append('submitting', ['s/u'], group='g')
    ledger.append('submitted', ['s/u'], request_id='r1')
    with open(path + '.journal', 'a') as handle:
        handle.write('{"event": "finished", "keys": ["s/u"')  # killed mid-write
    again = ledger_mod.Ledger(path).load()
    assert again.entry('s/u')['request_id'] == 'r1' and again.entry('s/u')['state'] == 'pending'
    again.save()
    assert not os.path.exists(path + '.journal')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_corrupt_ledger_stops_with_a_clear_error(tmp_path):
    path = tmp_path / 'ledger.json'
    path.write_text('{not json')
    with pytest.raises(ledger_mod.RotationError, match='ledger .* is corrupt'):
        ledger_mod.Ledger(str(path)).load()
    assert path.read_text() == '{not json'


def test_reports_hold_no_password(tmp_path, ledger):
    client = FakeClient(fleet(3), fail_sources=['src-b'])
    decisions, groups, outcomes = run_all(client, ledger, accounts_for(client))
    rows, totals = report_mod.summarize(decisions, {}, outcomes)
    assert totals == {'rotated': 2, 'failed': 1}
    report_mod.write_reports(rows, totals, str(tmp_path / 'r.json'), str(tmp_path / 'r.xml'))
    blobs = [(tmp_path / 'r.json').read_text(), (tmp_path / 'r.xml').read_text(), open(ledger.path).read()]
    for _i, _s, _a, password in client.sent:
        assert not any(password in blob for blob in blobs)
    report = json.loads(blobs[0])
    assert report['totals'] == totals
    assert 'failures="1"' in blobs[1] and 'Connector error' in blobs[1]


def test_ledger_keeps_a_bounded_history_of_changes(ledger):
    """The audit trail: per account, when, which request, how it ended and which run; never a secret."""
    client = FakeClient(fleet(1))
    for number in range(ledger_mod.HISTORY_LIMIT + 3):
        reconciled = rotation.reconcile(client, ledger, {})
        decisions, groups = planning.plan(client, accounts_for(client), ledger, reconciled, force=True)
        outcomes = rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0)
        rotation.record(ledger, reconciled, outcomes, run_id='run-%02d' % number)
    again = ledger_mod.Ledger(ledger.path).load()
    history = again.entry('src-a/svc-000')['history']
    assert len(history) == ledger_mod.HISTORY_LIMIT
    assert history[-1]['run_id'] == 'run-%02d' % (ledger_mod.HISTORY_LIMIT + 2) and history[-1]['outcome'] == 'rotated'
    assert history[-1]['request_id'] == sorted(client.changes)[-1]
    assert again.entry('src-a/svc-000')['last_request_id'] == history[-1]['request_id']
    assert not any(password in open(ledger.path).read() for _i, _s, _a, password in client.sent)


def test_reports_are_kept_per_run_with_real_times_and_request_ids(tmp_path, ledger):
    client = FakeClient(fleet(2))
    decisions, groups, outcomes = run_all(client, ledger, accounts_for(client))
    rows, totals = report_mod.summarize(decisions, {}, outcomes)
    assert all(r['request_id'] and r['seconds'] >= 0 for r in rows)
    started = ledger_mod.iso(ledger_mod.utcnow() - datetime.timedelta(seconds=42))
    json_path, junit_path = str(tmp_path / 'r' / 'report.json'), str(tmp_path / 'r' / 'report.xml')
    for minute in range(4):
        now = ledger_mod.utcnow() + datetime.timedelta(minutes=minute)
        report_mod.write_reports(rows, totals, json_path, junit_path, started=started, run_id='abcdef0123456789',
                                 keep_runs=3, now=now)
    kept = sorted(os.listdir(str(tmp_path / 'r' / 'runs')))
    assert len(kept) == 6 and all('-abcdef01.' in name for name in kept)
    rows[0]['seconds'] = 1.5
    report_mod.write_reports(rows, totals, json_path, junit_path, started=started, run_id='abcdef0123456789',
                             keep_runs=3, now=ledger_mod.parse_iso(started) + datetime.timedelta(seconds=42))
    junit = open(junit_path).read()
    suites = [line for line in junit.split('\n') if '<testsuite' in line]
    assert len(suites) == 2 and all('time="42.000"' in line for line in suites)
    assert 'name="%s" time="1.500"' % rows[0]['account'] in junit
    assert all('<property name="request_id" value="%s"/>' % r['request_id'] in junit for r in rows)
    assert json.load(open(json_path))['run_id'] == 'abcdef0123456789'


def test_the_log_summary_lists_only_rows_that_need_a_look_capped():
    rows = ([{'account': 'AD/ok-%04d' % i, 'status': 'rotated', 'detail': 'FINISHED'} for i in range(5000)]
            + [{'account': 'AD/idle-%04d' % i, 'status': 'skipped', 'detail': 'not due'} for i in range(5000)]
            + [{'account': 'AD/bad-%03d' % i, 'status': 'failed', 'detail': 'FAILED: Connector error'} for i in range(70)])
    counts = {'rotated': 5000, 'skipped': 5000, 'failed': 70}
    lines = report_mod.render_table(rows, counts)
    assert len(lines) == 1 + 50 + 1 + 1
    assert lines[-1] == 'totals: failed=70, rotated=5000, skipped=5000'
    assert all('AD/bad-' in line for line in lines[1:51]) and 'AD/bad-049' in lines[50]
    assert '20 more accounts' in lines[51] and 'JSON and JUnit reports' in lines[51]
    quiet = report_mod.render_table(rows[:10000], {'rotated': 5000, 'skipped': 5000})
    assert quiet == ['totals: rotated=5000, skipped=5000']
