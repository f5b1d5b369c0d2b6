"""A dependents rollback that reaches a password sync group (issue 27, docs/dependents.md), end to end.

svc-sync-01 has one account on each source of the seed's sync group (Unix-LDAP, Unix-Kerberos): one set-password
changes both, so the role plans them as one change, and a rollback must take both back. One app per account
(tests/e2e/dep_app.py, healthy only while its password is the simulator's live one), both on the seed password, which
the store holds as current (as after an import). One run, forced, policy rollback, the Unix-Kerberos account's app
failing its restart: the whole change goes back, both accounts end on the seed password in ISC (live hash) and in the
store (nothing pending), both apps healthy on it. The planning and the role's selection: unit
tests/unit/plugins/module_utils/test_rollback_sync_group.py.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import killer
from conftest import PlaybookRunner, SimulatorProcess
from hostile_helpers import fresh_store_and_ledger
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, write_accounts
from test_dependents import assert_no_async_job_left, free_port, health

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dep_app.py')
USER = 'svc-sync-01'
SEED = 'Sync-svc-sync-01-Aa1'  # its seed password (tools/isc_simulator/seed.yaml)
SOURCES = ('Unix-LDAP', 'Unix-Kerberos')


@pytest.fixture
def world():
    with killer.Reaper():  # the apps, at the end
        workdir = tempfile.mkdtemp(prefix='isc-e2e-sync-rollback-')
        sim = SimulatorProcess(workdir, '--completion-delay', '0.1')
        yield workdir, sim, PlaybookRunner(workdir, sim)
        sim.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def start_app(workdir, sim, source):
    app_dir = os.path.join(workdir, 'app-' + source)
    os.makedirs(app_dir)
    path = os.path.join(app_dir, 'secret')
    with open(path, 'w') as handle:
        handle.write('password=%s\n' % SEED)
    port = free_port()
    with open(os.path.join(app_dir, 'app.json'), 'w') as handle:
        json.dump({'port': port, 'sim': sim.base_url,
                   'secrets': [{'file': path, 'format': 'line', 'source': source, 'user': USER}]}, handle)
    assert subprocess.run([sys.executable, APP, 'start', app_dir], timeout=60, check=False).returncode == 0
    dependents = [
        {'type': 'file', 'host': 'localhost', 'path': path, 'regexp': '^password=', 'line': 'password={password}',
         'restart_command': '%s %s restart %s' % (sys.executable, APP, app_dir)},
        {'type': 'http_health', 'host': 'localhost', 'url': 'http://127.0.0.1:%d/health' % port, 'retries': 2,
         'delay': 1, 'order': 1}]
    return app_dir, port, dependents


def test_a_rollback_takes_every_member_of_the_sync_group_back(world):
    workdir, sim, runner = world
    apps = [start_app(workdir, sim, source) for source in SOURCES]
    accounts = [{'source_name': source, 'user_name': USER, 'dependents': app[2]} for source, app in zip(SOURCES, apps)]
    keys = [key_of(a) for a in accounts]
    fresh_store_and_ledger(workdir, sim, accounts, dict.fromkeys(keys, SEED))
    assert [health(port) for _dir, port, _deps in apps] == [200, 200]

    open(os.path.join(apps[1][0], 'fail-next-restart'), 'w').close()  # the Unix-Kerberos account's app
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                         service_account_rotation_dependents_policy='rollback', service_account_rotation_poll_interval=0.2)
    result = subprocess.run(runner.command(ROTATE, values), cwd=workdir, env=runner.env(), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode != 0, 'rolled_back fails the play by default'
    assert sim.requests_of('set_password') == 2, 'one change forward, one back, each for both members'
    store = read_store(workdir)
    for key, source in zip(keys, SOURCES):
        # compared, never shown: a failing assertion must not print a password
        assert (store[key]['current'] == SEED, 'pending' in store[key]) == (True, False), key
        assert sim.accounts(userName=USER, sourceName=source)[0]['passwordSha256'] == \
            hashlib.sha256(SEED.encode()).hexdigest(), '%s is on its old password at ISC' % key
    assert [health(port) for _dir, port, _deps in apps] == [200, 200], 'both apps healthy on the old password'
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        rows = dict((r['account'], r) for r in json.load(handle)['accounts'])
    assert [rows[k]['status'] for k in keys] == ['rolled_back', 'rolled_back'], [rows[k] for k in keys]
    assert 'dependents: 2 dependent(s) failed on the new password' in rows[keys[1]]['detail'], rows[keys[1]]
    assert 'shares its password change (a password sync group) with an account whose dependents failed' in \
        rows[keys[0]]['detail'], rows[keys[0]]
    for key in keys:  # applied again with the old password, and healthy
        assert [d['outcome'] for d in rows[key]['dependents']] == ['restarted', 'healthy'], rows[key]
    assert_no_async_job_left(workdir)  # the restarts of both passes, the failed one included
