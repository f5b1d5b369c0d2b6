# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dependents (issue 27): the accounts file's rules, which are due in a run, the report rows and the ledger marker."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dependents, report
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import check_names
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger, RotationError
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.accounts_file import check_text

FILE = {'type': 'file', 'host': 'app1', 'path': '/etc/app.conf', 'regexp': '^password=', 'line': 'password={password}',
        'restart_command': 'systemctl restart app'}
HEALTH = {'type': 'http_health', 'host': 'app1', 'url': 'http://app1/health'}


@pytest.mark.parametrize('dep, expected', [
    ({'type': 'ftp', 'host': 'h'}, "dependents[0]: type 'ftp' is not one of file, http_health, iis_app_pool, k8s_secret, "
                                   "scheduled_task, systemd, tasks, windows_service"),
    ({'type': 'file', 'path': '/x', 'regexp': 'a', 'line': '{password}'}, 'dependents[0] (file): host is missing; add "host:'),
    ({'type': 'systemd', 'host': 'h', 'variable': 'V'}, 'dependents[0] (systemd): environment_file is missing'),
    ({'type': 'http_health', 'host': 'h'}, 'dependents[0] (http_health): url is missing'),
    ({'type': 'tasks', 'host': 'h', 'tasks': 't.yml', 'colour': 1}, "unknown option 'colour'"),
    ({'type': 'file', 'host': 'h', 'path': '/x'}, 'give either line (with regexp) or template, not neither'),
    ({'type': 'file', 'host': 'h', 'path': '/x', 'line': 'p={password}'}, 'line needs regexp'),
    ({'type': 'file', 'host': 'h', 'path': '/x', 'regexp': 'p=', 'line': 'p=secret'}, 'placeholder {password}'),
    (dict(FILE, order='first'), "order 'first' is not a whole number"),
    ('file', 'dependents[0] is a str, not a mapping'),
])
def test_each_mistake_is_named_with_its_fix(dep, expected):
    problems = dependents.problems_of([dep])
    assert len(problems) == 1 and expected in problems[0], problems


def test_good_dependents_pass_and_a_duplicate_does_not():
    assert dependents.problems_of([FILE, HEALTH, {'type': 'tasks', 'host': 'h', 'tasks': 'x.yml', 'order': 2}]) == []
    assert 'listed twice' in dependents.problems_of([FILE, dict(FILE)])[0]
    assert dependents.problems_of(None) == []
    assert 'give a list' in dependents.problems_of({'type': 'file'})[0]


def test_the_module_side_names_the_row():
    accounts = [{'source_name': 'AD', 'user_name': 'a'}, {'source_name': 'AD', 'user_name': 'b', 'dependents': [{'type': 'x'}]}]
    with pytest.raises(RotationError) as err:
        check_names(accounts)
    assert str(err.value).startswith("accounts[1]: dependents[0]: type 'x'")


def test_the_accounts_file_names_row_line_and_field():
    text = ('service_account_rotation_accounts:\n'
            '  - {source_name: AD, user_name: a, dependents: [{type: file, path: /x, regexp: a, line: "{password}"}]}\n')
    problems = check_text(text, 'accounts.yml')
    assert len(problems) == 1 and 'row 1' in problems[0] and 'line 2' in problems[0] and 'host is missing' in problems[0]
    good = 'service_account_rotation_accounts:\n  - {source_name: AD, user_name: a, dependents: [%s]}\n' % (
        '{type: http_health, host: h, url: "http://h/"}')
    assert check_text(good, 'accounts.yml') == []


def test_due_all_of_a_committed_account_the_marked_ones_again_none_of_a_held_one():
    accounts = [{'key': 'AD/a', 'dependents': [HEALTH, dict(FILE, order=-1)]},
                {'key': 'AD/b', 'dependents': [FILE, HEALTH]},
                {'key': 'AD/c', 'dependents': [FILE]},
                {'key': 'AD/d', 'dependents': [FILE]}]
    entries = {'AD/b': {'state': 'current', 'dependents_due': [dependents.dependent_id(HEALTH)]},
               'AD/c': {'state': 'pending', 'dependents_due': [dependents.dependent_id(FILE)]},
               'AD/d': {'state': 'current', 'dependents_due': [dependents.dependent_id(FILE)]}}
    due = dependents.due(accounts, entries, committed=['AD/a'], held=['AD/d'])
    assert [(d['key'], d['why']) for d in due] == [('AD/a', 'rotated'), ('AD/b', 'again')]
    assert [d['type'] for d in due[0]['dependents']] == ['file', 'http_health'], 'by order, then as listed'
    assert [d['type'] for d in due[1]['dependents']] == ['http_health'], 'only the marked one'
    assert due[0]['dependents'][0]['restart'] == 'app1 command:systemctl restart app'
    assert due[0]['dependents'][1]['restart'] == ''


def test_rows_status_detail_and_marker():
    results = [{'key': 'AD/a', 'why': 'rotated', 'dependents': [{'id': 'f', 'outcome': 'restarted'}, {'id': 'h', 'outcome': 'healthy'}]},
               {'key': 'AD/b', 'why': 'rotated', 'dependents': [{'id': 'f', 'outcome': 'failed: Restart'}, {'id': 'h', 'outcome': 'healthy'}]},
               {'key': 'AD/c', 'why': 'again', 'dependents': [{'id': 'f', 'outcome': 'restarted'}]}]
    rows = dict((r['key'], r) for r in dependents.rows(results))
    assert rows['AD/a']['status'] is None and rows['AD/a']['due'] == []
    assert rows['AD/b']['status'] == 'dependents_degraded' and rows['AD/b']['due'] == ['f']
    assert 'f failed: Restart' in rows['AD/b']['detail']
    assert 'updated again' in rows['AD/c']['detail']


def test_report_rows_carry_the_dependents():
    decisions = [{'key': 'AD/a', 'action': 'rotate', 'reason': 'due'}, {'key': 'AD/b', 'action': 'skip', 'reason': 'not due'}]
    outcomes = [{'keys': ['AD/a'], 'state': 'FINISHED', 'request_id': 'r1'}]
    deps = [{'key': 'AD/a', 'status': 'dependents_degraded', 'detail': '1 of 1 failed',
             'dependents': [{'id': 'f', 'outcome': 'failed: Restart'}]},
            {'key': 'AD/b', 'status': None, 'detail': '1 dependent(s) updated again', 'dependents': [{'id': 'f', 'outcome': 'restarted'}]}]
    rows, counts = report.summarize(decisions, {}, outcomes, dependents=deps)
    by_key = dict((r['account'], r) for r in rows)
    assert by_key['AD/a']['status'] == 'dependents_degraded' and by_key['AD/a']['dependents'][0]['outcome'] == 'failed: Restart'
    assert by_key['AD/b']['status'] == 'skipped' and by_key['AD/b']['detail'].endswith('dependents: 1 dependent(s) updated again')
    assert counts == {'dependents_degraded': 1, 'skipped': 1}
    junit = report._junit(rows, 1.0)  # pylint: disable=protected-access
    assert '<property name="dependent f" value="failed: Restart"/>' in junit and '<failure message="dependents_degraded">' in junit


def test_ledger_keeps_the_marker_and_the_history(tmp_path):
    path = str(tmp_path / 'ledger.json')
    ledger = Ledger(path).load()
    ledger.append('dependents', ['AD/a'], due=['f'], outcomes=[{'id': 'f', 'outcome': 'failed: Restart'}],
                  status='dependents_degraded', run_id='run-1')
    ledger.save()
    entry = Ledger(path).load().entry('AD/a')
    assert entry['dependents_due'] == ['f']
    assert entry['history'][-1]['outcome'] == 'dependents_degraded' and entry['history'][-1]['run_id'] == 'run-1'
    again = Ledger(path).load()
    again.append('dependents', ['AD/a'], due=[], outcomes=[{'id': 'f', 'outcome': 'restarted'}], status='dependents', run_id='run-2')
    assert again.entry('AD/a')['dependents_due'] == []


WINDOWS = {'type': 'windows_service', 'host': 'win1', 'service': 'AppSvc', 'username': 'CORP\\svc-app-001'}
POOL = {'type': 'iis_app_pool', 'host': 'win1', 'app_pool': 'AppPool', 'username': 'CORP\\svc-app-001'}
TASK = {'type': 'scheduled_task', 'host': 'win1', 'task': 'Nightly', 'username': 'CORP\\svc-app-001', 'task_path': '\\Ops\\'}
SECRET = {'type': 'k8s_secret', 'host': 'localhost', 'namespace': 'apps', 'secret': 'db', 'secret_key': 'password',
          'restart_workloads': ['deployment/api', 'StatefulSet/worker']}


def test_windows_and_kubernetes_types_their_rules_and_restarts():
    assert dependents.problems_of([WINDOWS, POOL, TASK, SECRET]) == []
    assert 'username is missing' in dependents.problems_of([dict(WINDOWS, username='')])[0]
    assert 'secret_key is missing' in dependents.problems_of([{k: v for k, v in SECRET.items() if k != 'secret_key'}])[0]
    bad = dependents.problems_of([dict(SECRET, restart_workloads=['pod/api'])])
    assert len(bad) == 1 and 'restart_workloads is a list of "<kind>/<name>"' in bad[0]
    # one restart per (host, service / app pool / namespace and workloads); a scheduled task restarts nothing
    assert dependents.restart_key(WINDOWS) == 'win1 windows service:AppSvc'
    assert dependents.restart_key(POOL) == 'win1 app pool:AppPool'
    assert dependents.restart_key(TASK) is None
    assert dependents.restart_key(SECRET) == dependents.restart_key(dict(SECRET, secret='other', restart_workloads=[
        'statefulset/worker', 'Deployment/api'])) == 'localhost k8s:apps/deployment/api,statefulset/worker'
    assert dependents.dependent_id(SECRET) == 'k8s_secret localhost:apps/db.password'
    labelled = dependents.due([{'key': 'AD/a', 'dependents': [SECRET, WINDOWS]}], {}, ['AD/a'], [])[0]['dependents']
    assert labelled[0]['workloads'] == [{'kind': 'Deployment', 'name': 'api'}, {'kind': 'StatefulSet', 'name': 'worker'}]
    assert labelled[1]['workloads'] == [] and labelled[1]['restart'] == 'win1 windows service:AppSvc'


def test_due_carries_the_policy_and_an_account_marked_again_never_rolls_back():
    accounts = [{'key': 'AD/a', 'dependents': [FILE], 'policy': 'rollback'},
                {'key': 'AD/b', 'dependents': [FILE], 'policy': 'rollback'},
                {'key': 'AD/c', 'dependents': [FILE]}]
    entries = {'AD/b': {'state': 'failed', 'dependents_due': [dependents.dependent_id(FILE)]}}
    due = dependents.due(accounts, entries, committed=['AD/a', 'AD/c'], held=[])
    assert [(d['key'], d['why'], d['policy']) for d in due] == [
        ('AD/a', 'rotated', 'rollback'), ('AD/b', 'again', 'roll_forward'), ('AD/c', 'rotated', 'roll_forward')]
    assert dependents.policy_of({'dependents_policy': 'rollback'}, 'roll_forward') == 'rollback'
    assert dependents.policy_of({}, 'rollback') == 'rollback' and dependents.policy_of({}, None) == 'roll_forward'


def test_rows_of_a_rollback_started_done_failed_again_and_impossible():
    failed = [{'id': 'f', 'outcome': 'failed: Restart'}]
    good = [{'id': 'f', 'outcome': 'restarted'}]
    results = [{'key': 'AD/a', 'why': 'rotated', 'dependents': failed, 'rollback': 'started'},
               {'key': 'AD/b', 'why': 'rotated', 'dependents': good, 'rollback': 'done', 'failed_before': failed},
               {'key': 'AD/c', 'why': 'rotated', 'dependents': failed, 'rollback': 'done', 'failed_before': failed},
               {'key': 'AD/d', 'why': 'rotated', 'dependents': failed,
                'rollback': 'the store holds no previous password for AD/d (a first rotation)'}]
    rows = dict((r['key'], r) for r in dependents.rows(results))
    assert rows['AD/a']['status'] == 'rolling_back' and rows['AD/a']['due'] == [] and 'f failed: Restart' in rows['AD/a']['detail']
    assert rows['AD/b']['status'] == 'rolled_back' and rows['AD/b']['due'] == []
    assert 'f failed: Restart' in rows['AD/b']['detail'] and 'set again through ISC' in rows['AD/b']['detail']
    assert rows['AD/c']['status'] == 'dependents_degraded' and rows['AD/c']['due'] == ['f']
    assert 'failed on the previous one too' in rows['AD/c']['detail']
    assert rows['AD/d']['status'] == 'dependents_degraded' and rows['AD/d']['due'] == ['f']
    assert 'rollback not done: the store holds no previous password' in rows['AD/d']['detail']


def test_rolled_back_is_a_failure_in_the_reports():
    decisions = [{'key': 'AD/a', 'action': 'rotate', 'reason': 'due'}]
    outcomes = [{'keys': ['AD/a'], 'state': 'FINISHED', 'request_id': 'r2'}]
    deps = [{'key': 'AD/a', 'status': 'rolled_back', 'detail': 'went back', 'dependents': [{'id': 'f', 'outcome': 'restarted'}]}]
    rows, counts = report.summarize(decisions, {}, outcomes, dependents=deps)
    assert rows[0]['status'] == 'rolled_back' and counts == {'rolled_back': 1}
    assert '<failure message="rolled_back">' in report._junit(rows, 1.0)  # pylint: disable=protected-access


@pytest.mark.parametrize('acct, expected', [
    ({'dependents_policy': 'undo'}, "dependents_policy 'undo' is not one of roll_forward, rollback"),
    ({'password_history_forbids_reuse': 'maybe'}, "password_history_forbids_reuse 'maybe' is not true or false"),
])
def test_the_account_policy_fields_are_checked(acct, expected):
    row = dict(acct, source_name='AD', user_name='a', dependents=[FILE])
    problems = dependents.check([row])
    assert len(problems) == 1 and problems[0].startswith('accounts[0]: ' + expected), problems
    problems = check_text('service_account_rotation_accounts:\n  - %s\n' % (
        '{source_name: AD, user_name: a, %s: %s}' % next(iter(acct.items()))), 'accounts.yml')
    assert len(problems) == 1 and next(iter(acct)) in problems[0], problems


def test_an_orphan_sent_again_and_committed_in_this_run_is_due_not_held():
    """The role holds back the keys reconcile found orphaned (their escrowed password unsettled); one this run re-sent
    and committed is in both lists, and its dependents must get the password now live (a rollback killed after its
    escrow is finished this way)."""
    accounts = [{'key': 'AD/a', 'dependents': [FILE]}, {'key': 'AD/b', 'dependents': [FILE]}]
    due = dependents.due(accounts, {}, committed=['AD/a'], held=['AD/a', 'AD/b'])
    assert [(d['key'], d['why']) for d in due] == [('AD/a', 'rotated')]
