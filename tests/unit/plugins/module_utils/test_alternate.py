# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alternating accounts (issue 27 §2): the row's rules, which account a run rotates, and when a credential flips."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import alternate, report as report_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.accounts_file import check_text

A, B = 'Corp-AD/app-a', 'Corp-AD/app-b'
HEALTH = {'type': 'http_health', 'host': 'app1', 'url': 'http://app1/health'}
ROW = {'alternate': {'name': 'app-db', 'accounts': [{'source_name': 'Corp-AD', 'user_name': 'app-a'},
                                                    {'source_name': 'Corp-AD', 'user_name': 'app-b'}]},
       'dependents': [HEALTH], 'max_age_days': 0}


def with_alt(**changes):
    return dict(ROW, alternate=dict(ROW['alternate'], **changes))


@pytest.mark.parametrize('row, expected', [
    (with_alt(accounts=[{'source_name': 'Corp-AD', 'user_name': 'app-a'}]), 'must list exactly two accounts (got 1)'),
    (with_alt(name=''), 'alternate.name is missing; add "name: '),
    (with_alt(name='a/b'), "alternate.name 'a/b' holds '/'"),
    (with_alt(accounts=[{'source_name': 'Corp-AD'}, {'source_name': 'Corp-AD', 'user_name': 'b'}]),
     'alternate.accounts[0]: user_name is missing; add "user_name: <user name>"'),
    (with_alt(accounts=[{'source_name': 'S', 'user_name': 'a'}, {'source_name': 'S', 'user_name': 'a'}]),
     'lists S/a twice'),
    (dict(ROW, user_name='app-a'), "unknown field 'user_name' beside alternate"),
    (dict(ROW, dependents=[{'type': 'ftp', 'host': 'h'}]), "dependents[0]: type 'ftp' is not one of"),
    (with_alt(colour=1), "alternate: unknown field 'colour'"),
])
def test_a_bad_row_is_refused_naming_the_field_and_the_fix(row, expected):
    found = alternate.check([row])
    assert any(expected in p for p in found), found
    assert all(p.startswith('accounts[0]: ') for p in found)


def test_the_accounts_file_check_names_the_row_of_an_alternate():
    text = ('service_account_rotation_accounts:\n  - source_name: S\n    user_name: u\n'
            '  - alternate: {name: app-db, accounts: [{source_name: S, user_name: a}]}\n')
    [problem] = check_text(text, 'accounts.yml')
    assert 'row 2' in problem and 'line 4' in problem and 'exactly two accounts' in problem
    assert check_text('service_account_rotation_accounts:\n  - alternate: {name: x, accounts: [{source_name: S, '
                      'user_name: a}, {source_name: S, user_name: b}]}\n', 'f') == []


def test_an_account_in_two_rows_and_a_name_used_twice_are_refused():
    found = alternate.check([{'source_name': 'Corp-AD', 'user_name': 'app-b'}, ROW, ROW])
    assert 'accounts[1]: Corp-AD/app-b is also accounts[0]' in '; '.join(found)
    assert "accounts[2]: alternate 'app-db' is also accounts[1]" in '; '.join(found)


def test_expand_plans_the_inactive_account_with_the_rows_dependents():
    rows, [alt] = alternate.expand([ROW], {}, {})
    assert rows == [{'source_name': 'Corp-AD', 'user_name': 'app-b', 'dependents': [HEALTH], 'max_age_days': 0}]
    assert (alt['key'], alt['active'], alt['inactive'], alt['again']) == ('alternate:app-db', A, B, False)
    rows, [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': B, 'confirmed': {B: 't1'}}}, {})
    assert rows[0]['user_name'] == 'app-a' and alt['inactive'] == A and alt['user_name'] == 'app-a'
    # a record naming an account the row no longer lists: the first is active
    assert alternate.expand([ROW], {'alternate:app-db': {'active': 'X/y'}}, {})[1][0]['active'] == A


def test_a_rotated_password_no_flip_confirmed_is_applied_again():
    records = {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1', B: 'b0'}}}
    assert alternate.expand([ROW], records, {B: {'state': 'current', 'attempt': 'b1'}})[1][0]['again']
    assert not alternate.expand([ROW], records, {B: {'state': 'current', 'attempt': 'b0'}})[1][0]['again']
    assert not alternate.expand([ROW], records, {B: {'state': 'failed', 'attempt': 'b1'}})[1][0]['again']
    assert not alternate.expand([ROW], records, {B: {'state': 'pending', 'attempt': 'b1'}})[1][0]['again']


def healthy(key, outcome='healthy', status=None):
    return [{'key': key, 'status': status, 'dependents': [{'id': 'http_health app1:x', 'outcome': outcome}]}]


def test_flip_only_to_a_committed_settled_password_whose_dependents_passed():
    [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1'}}}, {})[1]
    sent = {B: {'state': 'pending', 'attempt': 'b1'}}  # the ledger before this run's record
    [flip] = alternate.flips([alt], sent, [B], [], healthy(B))
    assert (flip['key'], flip['active'], flip['previous'], flip['user_name']) == ('alternate:app-db', B, A, 'app-b')
    assert flip['confirmed'] == {A: 'a1', B: 'b1'}
    assert alternate.flips([alt], sent, [B], [], healthy(B, 'failed: Ask each health URL', 'dependents_degraded')) == []
    assert alternate.flips([alt], sent, [B], [], healthy(B, 'failed: Ask each health URL')) == []
    assert alternate.flips([alt], sent, [B], [], healthy(B, status='rolled_back')) == []
    assert alternate.flips([alt], sent, [B], [], []) == [], 'dependents not applied in this run: no flip'
    assert alternate.flips([alt], sent, [], [B], healthy(B)) == [], 'set-password failed or unsettled: no flip'
    assert alternate.flips([alt], sent, [B], [B], healthy(B)) == [], 'held wins'
    assert alternate.flips([alt], sent, [], [], healthy(B)) == [], 'nothing committed, nothing to confirm'
    assert alternate.flips([alt], {}, [B], [], healthy(B)) == [], 'no change known to the ledger'


def test_an_earlier_unconfirmed_commit_flips_once_its_dependents_pass_again():
    records = {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1', B: 'b0'}}}
    entries = {B: {'state': 'current', 'attempt': 'b1'}}  # committed by a run killed (or degraded) before its flip
    [alt] = alternate.expand([ROW], records, entries)[1]
    assert [f['confirmed'][B] for f in alternate.flips([alt], entries, [], [], healthy(B))] == ['b1']
    assert alternate.flips([alt], entries, [], [B], healthy(B)) == [], 'rotated again in this run and not settled'


def test_a_flip_already_confirmed_is_not_made_again_and_no_dependents_need_no_health():
    entries = {B: {'state': 'current', 'attempt': 'b1'}}
    [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': A, 'confirmed': {B: 'b1'}}}, entries)[1]
    assert alternate.flips([alt], entries, [], [], healthy(B)) == []
    bare = dict(ROW)
    del bare['dependents']
    [alt] = alternate.expand([bare], {}, {})[1]
    assert [f['active'] for f in alternate.flips([alt], {B: {'state': 'pending', 'attempt': 'b2'}}, [B], [], [])] == [B]


# issue 27 leftovers: the switch on the record (the report's "alternates", the ledger's history)
RECORDED = {A: {'state': 'current', 'attempt': 'a1', 'switched': 'a1'}}  # the ledger holds A's switch


def decided(alt, entries, committed=(), held=(), rows=(), **kw):
    [item] = alternate.decide([alt], entries, list(committed), list(held), list(rows), **kw)
    return item


def test_every_credential_says_whether_it_switched_and_why_not():
    [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1'}}}, RECORDED)[1]
    sent = {B: {'state': 'pending', 'attempt': 'b1'}}
    item = decided(alt, sent, [B], [], healthy(B), run_id='r1', at='2026-01-01T00:00:00Z')
    assert (item['from'], item['to'], item['switched'], item['reason']) == (A, B, True, None)
    assert (item['flip']['attempt'], item['flip']['run_id'], item['flip']['at']) == ('b1', 'r1', '2026-01-01T00:00:00Z')
    cases = [
        ('failed', dict(held=[B], failed=[B])),
        ('unverified', dict(committed=[B], held=[B], unverified=[B], rows=healthy(B))),
        ('unsettled', dict(held=[B], rows=healthy(B))),
        ('not due', dict(rows=healthy(B))),
        ('rolled_back', dict(committed=[B], rows=healthy(B, status='rolled_back'))),
        ('degraded', dict(committed=[B], rows=healthy(B, 'failed: Ask each health URL', 'dependents_degraded'))),
        ('degraded', dict(committed=[B])),  # its dependents were not applied in this run
    ]
    for reason, kw in cases:
        item = decided(alt, sent, **kw)
        assert (item['switched'], item['reason'], item['flip']) == (False, reason, None), (reason, kw)
    assert decided(alt, {}, [B], [], healthy(B))['reason'] == 'not due', 'no change known to the ledger'


def test_a_switch_an_earlier_run_wrote_to_the_store_but_never_recorded_is_found_once(tmp_path):
    """A run killed after writing the record under the logical key, before its record phase: the next run records it."""
    records = {'alternate:app-db': {'active': B, 'confirmed': {A: 'a1', B: 'b1'},
                                    'switched': {'run_id': 'killed-run', 'at': '2026-01-01T00:00:00Z'}}}
    [alt] = alternate.expand([ROW], records, {B: {'state': 'current', 'attempt': 'b1'}})[1]
    assert alt['unrecorded'] == {'from': A, 'to': B, 'attempt': 'b1', 'run_id': 'killed-run',
                                 'at': '2026-01-01T00:00:00Z'}
    item = decided(alt, {A: {'state': 'current', 'attempt': 'a1'}}, rows=healthy(A))
    assert (item['switched'], item['reason'], item['earlier']['to']) == (False, 'not due', B)
    ledger = Ledger(str(tmp_path / 'ledger.json')).load()
    alternate.record(ledger, [item], run_id='next-run', who={'controller_user': 'ops'})
    alternate.record(ledger, [item], run_id='next-run', who={'controller_user': 'ops'})  # reported twice: kept once
    ledger.save()
    entries = Ledger(str(tmp_path / 'ledger.json')).load().accounts
    [switch] = [h for h in entries[B]['history'] if h['outcome'] == 'switched']
    assert switch == {'at': '2026-01-01T00:00:00Z', 'outcome': 'switched', 'alternate': 'app-db', 'from': A,
                      'attempt': 'b1', 'run_id': 'next-run', 'switched_by': 'killed-run',
                      'who': {'controller_user': 'ops'}}
    # recorded: the run after that finds nothing to record
    assert alternate.expand([ROW], records, entries)[1][0]['unrecorded'] is None
    # no record yet, or one whose active account's switch the ledger holds: nothing
    assert alternate.expand([ROW], {}, {})[1][0]['unrecorded'] is None


def test_a_switch_is_recorded_once_in_the_history_of_the_account_that_became_active(tmp_path):
    [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1'}}}, RECORDED)[1]
    item = decided(alt, {B: {'state': 'pending', 'attempt': 'b1'}}, [B], [], healthy(B), run_id='r1',
                   at='2026-01-02T00:00:00Z')
    path = str(tmp_path / 'ledger.json')
    ledger = Ledger(path).load()
    alternate.record(ledger, [item], run_id='r1', who={'controller_user': 'ops'})
    ledger.save()
    ledger = Ledger(path).load()
    alternate.record(ledger, [item], run_id='r2')  # the same change reported by a later run: not twice
    ledger.save()
    entries = Ledger(path).load().accounts
    assert [(h['outcome'], h['from'], h['run_id'], h['switched_by'], h['who']) for h in entries[B]['history']] == [
        ('switched', A, 'r1', 'r1', {'controller_user': 'ops'})]
    assert entries[B]['switched'] == 'b1' and A not in entries
    not_switched = decided(alt, {B: {'state': 'pending', 'attempt': 'b2'}}, [], [B], failed=[B])
    alternate.record(Ledger(path).load(), [not_switched], run_id='r3')
    assert [h['outcome'] for h in Ledger(path).load().accounts[B]['history']] == ['switched']


def test_the_report_lists_each_credential_with_its_switch_or_why_not(tmp_path):
    [alt] = alternate.expand([ROW], {'alternate:app-db': {'active': A, 'confirmed': {A: 'a1'}}}, RECORDED)[1]
    rows = alternate.report_rows([decided(alt, {}, held=[B], failed=[B])])
    assert rows == [{'name': 'app-db', 'key': 'alternate:app-db', 'from': A, 'to': B, 'switched': False,
                     'reason': 'failed'}]
    report_mod.write_reports([], {}, str(tmp_path / 'r.json'), keep_runs=0, alternates=rows)
    report_mod.write_reports([], {}, str(tmp_path / 'none.json'), keep_runs=0)
    with open(str(tmp_path / 'r.json')) as handle:
        assert json.load(handle)['alternates'] == rows
    with open(str(tmp_path / 'none.json')) as handle:
        assert 'alternates' not in json.load(handle), 'a run without alternating credentials has no such section'
