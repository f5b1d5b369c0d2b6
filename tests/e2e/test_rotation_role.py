"""The rotation role through ansible-playbook against the simulator over real HTTP."""

import collections
import getpass
import json
import os
import re
import socket

import yaml

from rotation_helpers import (ROTATE, fleet, key_of, read_store, repo_path, rotate_vars, sha, unaccounted,
                              write_accounts)


def expected_changes(accounts):
    """How many set-passwords rotating ``accounts`` takes, from the simulator's seed (not from the role).

    One per account, except that an identity's accounts on the sources of one password sync group
    share a single change.
    """
    with open(repo_path('tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    sync_group_of = {source: group['id'] for group in seed.get('sync_groups') or () for source in group['sources']}
    changes = set()
    for item in accounts:
        group = sync_group_of.get(item['source_name'])
        changes.add((item['user_name'], group) if group else key_of(item))
    return len(changes)


def set_password_answers(simulator):
    return simulator.counters()['requests'].get('set_password', {})


def test_fleet_rotates_then_rerun_and_check_mode_send_nothing(ansible, simulator, workdir):
    accounts = fleet(simulator)
    assert len(accounts) >= 50
    accounts_file = write_accounts(workdir, accounts)
    extra = rotate_vars(workdir, accounts_file)

    # as AWX runs it (issue 24): its job id in the vars, the play's statistics shown
    first = ansible.run(ROTATE, dict(extra, awx_job_id=4242), env={'ANSIBLE_SHOW_CUSTOM_STATS': 'true'})
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    store = read_store(workdir)
    assert unaccounted(simulator, accounts, store, allow_pending=False) == []
    assert all('pending' not in store[key_of(a)] for a in accounts)
    sets_after_first = simulator.requests_of('set_password')
    # exactly one accepted change per account, one for all of an identity's sync-group members
    assert set_password_answers(simulator) == {'202': expected_changes(accounts)}
    assert expected_changes(accounts) < len(accounts)  # the fleet has sync-group members
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    assert report['totals'] == {'rotated': len(accounts)}
    # who and where: the controller's host and user, the AWX job, the API client; the run id in the log and the stats
    assert report['who'] == {'controller_host': socket.gethostname(), 'controller_user': getpass.getuser(),
                             'awx_job_id': '4242', 'api_clients': ['demo-client-id']}
    stats = json.loads(first.stdout.split('CUSTOM STATS:', 1)[1].split('RUN:', 1)[1].strip())['sailpoint_isc_rotation']
    assert stats == {'run_id': report['run_id'], 'totals': report['totals'], 'who': report['who']}, stats
    assert 'run %s:' % report['run_id'] in first.stdout
    junit = open(os.path.join(workdir, 'rotation', 'report.xml')).read()
    assert 'tests="%d" failures="0"' % len(accounts) in junit
    sync_group_members_share_one_change_and_one_password(simulator, workdir, accounts)

    queries_after_first = simulator.requests_of('query_password_info')
    groups_read_after_first = simulator.requests_of('sync_groups')
    second = ansible.run(ROTATE, extra)
    assert second.returncode == 0, second.stdout[-3000:]
    assert simulator.requests_of('set_password') == sets_after_first
    # nothing is due: the ledger decides alone, no account is queried and no sync group read
    assert simulator.requests_of('query_password_info') == queries_after_first
    assert simulator.requests_of('sync_groups') == groups_read_after_first
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    assert report['totals'] == {'skipped': len(accounts)}
    # a shorter log when nothing is due (issue 24; README, "How long the log is"): 155 lines and 48 tasks, then 84 and 23, 57 now
    assert len(second.stdout.splitlines()) < 60, '%d lines:\n%s' % (len(second.stdout.splitlines()), second.stdout)
    assert second.stdout.count("TASK [") <= 14 and 'run %s:' % report['run_id'] in second.stdout, second.stdout

    # every file of the state directory, lock files and the work lock's .holder included (issue 24: check mode
    # writes nothing, not even a lock)
    before = {name: open(os.path.join(workdir, 'rotation', name), 'rb').read()
              for name in os.listdir(os.path.join(workdir, 'rotation')) if name != 'runs'}
    assert {'store.vault', 'ledger.json', 'report.json', 'report.xml', 'ledger.json.work.lock.holder'} <= set(before)
    checked = ansible.run(ROTATE, dict(extra, service_account_rotation_force=True), check=True)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert 'would rotate' in checked.stdout and 'forced' in checked.stdout
    assert simulator.requests_of('set_password') == sets_after_first
    for name, blob in before.items():
        assert open(os.path.join(workdir, 'rotation', name), 'rb').read() == blob, name
    assert set(os.listdir(os.path.join(workdir, 'rotation'))) - {'runs'} == set(before)

    # every run of the play used the token cache: one token for three plays of many tasks
    assert simulator.counters()['tokensIssued'] == 1


def sync_group_members_share_one_change_and_one_password(simulator, workdir, fleet_accounts):
    """Each identity with accounts on several sync-group sources got one change (one set-password) and one password,
    the one each of its accounts holds, in the store and at the source. (Formerly its own test with its own simulator
    and a run of those identities alone, test_sync_group_members_share_one_change_and_one_password; issue 21: the
    fleet's first rotation holds them all.)"""
    rows = [a for a in simulator.accounts() if a['userName'].startswith('svc-')]
    by_user = collections.defaultdict(set)
    for row in rows:
        by_user[row['userName']].add(row['sourceName'])
    shared = sorted(u for u, sources in by_user.items() if len(sources) > 1)
    assert shared, 'the seed has identities on several sync-group sources'
    accounts = [a for a in fleet_accounts if a['user_name'] in shared]
    sent = collections.Counter(r['userName'] for r in simulator.call('GET', '/__sim/requests')['requests']
                               if r['userName'] in shared)
    assert sent == dict((user, 1) for user in shared) and len(shared) == expected_changes(accounts), sent
    store = read_store(workdir)
    for user in shared:
        members = [a for a in accounts if a['user_name'] == user]
        passwords = {store[key_of(a)]['current'] for a in members}
        assert len(passwords) == 1
        hashes = {r['passwordSha256'] for r in simulator.accounts(userName=user)}
        assert hashes == {sha(passwords.pop())}


def test_reports_and_ledger_hold_no_secret_even_verbose(ansible, simulator, workdir):
    accounts = fleet(simulator, limit=8)
    result = ansible.run(ROTATE, rotate_vars(workdir, write_accounts(workdir, accounts)), verbosity=4)
    assert result.returncode == 0, result.stdout[-3000:]
    store = read_store(workdir)
    secrets = [v['current'] for v in store.values()] + ['demo-client-secret']
    files = [os.path.join(workdir, 'rotation', n) for n in ('ledger.json', 'report.json', 'report.xml')]
    blobs = [result.stdout, result.stderr] + [open(f).read() for f in files]
    for secret in secrets:
        for blob in blobs:
            assert secret not in blob


def test_bad_accounts_fail_before_anything_changes(ansible, simulator, workdir):
    accounts = fleet(simulator, limit=2)
    accounts.append(dict(accounts[0]))
    result = ansible.run(ROTATE, rotate_vars(workdir, write_accounts(workdir, accounts)))
    assert result.returncode != 0
    assert 'listed more than once' in result.stdout and 'Traceback' not in result.stdout + result.stderr
    assert simulator.requests_of('set_password') == 0
    assert read_store(workdir) == {}


VERIFY_TASKS = """
- name: Compare the new password with what the target holds (stands in for an LDAP bind)
  ansible.builtin.uri:
    url: "{{ lookup('ansible.builtin.env', 'SAIL_BASE_URL') }}/__sim/accounts?userName={{ service_account_rotation_verify_account.user_name }}"
    return_content: true
  register: verify_target

- name: The target accepts the new password
  ansible.builtin.assert:
    that:
      - (verify_target.json.accounts | selectattr('sourceName', 'equalto', service_account_rotation_verify_account.source_name)
         | first).passwordSha256 == service_account_rotation_verify_password | hash('sha256')
      - service_account_rotation_verify_account.user_name != reject_user
  no_log: true
"""


def test_verify_task_file_runs_per_account_and_marks_rejections_unverified(ansible, simulator, workdir):
    accounts = fleet(simulator, prefix='svc-app-', limit=4)
    reject = accounts[1]
    verify = os.path.join(workdir, 'verify.yml')
    with open(verify, 'w') as handle:
        handle.write(VERIFY_TASKS)
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_verify_tasks=verify,
                        reject_user=reject['user_name'])
    result = ansible.run(ROTATE, extra)
    # the rejected account fails the play, but its new password is set at ISC and current in the store
    assert result.returncode != 0 and 'Traceback' not in result.stdout + result.stderr
    assert os.path.exists(os.path.join(workdir, 'rotation', 'report.json')), result.stdout[-3000:] + result.stderr[-2000:]
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    statuses = {row['account']: row['status'] for row in report['accounts']}
    assert statuses.pop(key_of(reject)) == 'unverified'
    assert set(statuses.values()) == {'rotated'}
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=False) == []
    junit = open(os.path.join(workdir, 'rotation', 'report.xml')).read()
    assert 'failures="1"' in junit and 'unverified' in junit


def test_check_mode_says_it_wrote_no_report_and_real_runs_name_theirs(ansible, simulator, workdir):
    accounts = [{'source_name': 'Corp-AD', 'user_name': 'svc-app-001'}, {'source_name': 'Corp-AD', 'user_name': 'nobody-here'}]
    extra = rotate_vars(workdir, write_accounts(workdir, accounts))
    checked = ansible.run(ROTATE, extra, check=True)
    assert checked.returncode != 0
    plan_line = re.search(r'2 accounts:[^"]*', checked.stdout).group(0)
    assert 'failed=1' in plan_line and 'error' not in plan_line, 'the plan line speaks the report\'s words'
    assert 'check mode: no report was written' in checked.stdout
    assert not os.path.exists(os.path.join(workdir, 'rotation', 'report.json'))
    real = ansible.run(ROTATE, extra)
    assert real.returncode != 0
    report = os.path.join(workdir, 'rotation', 'report.json')
    assert os.path.exists(report) and 'reports: %s' % report in real.stdout
    assert 'see the report above and %s' % report in real.stdout


def test_audit_trail_survives_no_op_runs(ansible, simulator, workdir):
    """Which ISC request rotated a password, when and in which run: still in the ledger after a no-op run;
    every run's reports are kept."""
    accounts = [{'source_name': 'Corp-AD', 'user_name': 'svc-app-001'}]
    extra = rotate_vars(workdir, write_accounts(workdir, accounts))
    for force in (False, True, False):  # rotate, rotate again, nothing due
        result = ansible.run(ROTATE, dict(extra, service_account_rotation_force=force))
        assert result.returncode == 0, result.stdout[-3000:]
    state = os.path.join(workdir, 'rotation')
    history = json.load(open(os.path.join(state, 'ledger.json')))['accounts']['Corp-AD/svc-app-001']['history']
    sent = [r['requestId'] for r in simulator.call('GET', '/__sim/requests')['requests']]
    assert [h['request_id'] for h in history] == sent and len(sent) == 2
    assert all(h['outcome'] == 'rotated' and h['at'] for h in history)
    assert len(set(h['run_id'] for h in history)) == 2
    # who, where and why (issue 24): the run that sent each change (here the one that settled it), the reason
    assert [h['sent_by'] for h in history] == [h['run_id'] for h in history] and [h['why'] for h in history] == ['due', 'forced']
    assert all(h['who'] == {'controller_host': socket.gethostname(), 'controller_user': getpass.getuser(),
                            'awx_job_id': None, 'api_clients': ['demo-client-id']} for h in history), history
    runs = sorted(os.listdir(os.path.join(state, 'runs')))
    assert len([n for n in runs if n.endswith('.json')]) == 3 and len([n for n in runs if n.endswith('.xml')]) == 3
    second = json.load(open(os.path.join(state, 'runs', [n for n in runs if n.endswith('.json')][1])))
    assert second['accounts'][0]['request_id'] == sent[1] and second['run_id'] == history[1]['run_id']
    latest = json.load(open(os.path.join(state, 'report.json')))
    assert latest['accounts'][0]['status'] == 'skipped' and latest['run_id'] not in (h['run_id'] for h in history)


def test_a_run_that_fails_before_the_plan_writes_a_failed_report(ansible, simulator, workdir):
    """Issue 24: every run leaves a report. The API client's secret is wrong, so the plan fails: the run fails once,
    with the reason, and report.json / report.xml say so (no account, the reason, one failing case)."""
    extra = rotate_vars(workdir, write_accounts(workdir, fleet(simulator, limit=2)))
    result = ansible.run(ROTATE, extra, env={'SAIL_CLIENT_SECRET': 'not-the-secret'})
    assert result.returncode != 0
    assert 'Bad client credentials' in result.stdout, result.stdout[-3000:]
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    assert report['accounts'] == [] and report['totals'] == {'failed_before_plan': 1}, report
    assert 'before its plan' in report['failure'] and 'Bad client credentials' in report['failure'], report
    assert report['run_id'] and report['who']['api_clients'] == ['demo-client-id']
    junit = open(os.path.join(workdir, 'rotation', 'report.xml')).read()
    assert 'tests="1" failures="1"' in junit and 'Bad client credentials' in junit, junit
    assert 'not-the-secret' not in result.stdout + result.stderr + json.dumps(report) + junit
