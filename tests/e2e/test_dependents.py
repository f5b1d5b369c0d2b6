"""Dependents of rotated passwords (issue 27 §1), end to end on real local processes.

22 accounts of the simulator's fleet and 30 small apps (tests/e2e/dep_app.py, one process each) on four inventory
host aliases (all ansible_connection=local) and one unreachable host. Each app reads its password(s) at start and is
healthy only when they match the simulator's live password hashes. One world, four ansible-playbook runs:
  1. roll_forward (-vvv --diff): the two accounts whose dependent is on the unreachable host are skipped (0
     set-password), three apps fail their first restart (their accounts dependents_degraded), every app restarted at
     most once although ten of them are fed by two accounts;
  2. the next run applies only the failed dependents again, with no set-password, and every app is healthy;
  3. a forced run of four accounts is crashed (killer.py) once the store committed their new passwords, before or
     while their dependents are applied;
  4. the next run finishes the dependents with the committed passwords, with no new set-password.
Then no password of the store appears in any output, report, state file or app-side file but the app's own secret.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import pytest
import yaml

import killer
from conftest import PlaybookRunner, SimulatorProcess
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, write_accounts

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dep_app.py')
HOSTS = ['app-host-%d' % n for n in range(1, 5)]
SOURCES = ('Corp-AD', 'Corp-LDAP', 'Oracle-DB')
N_ACCOUNTS, N_APPS = 20, 30
FAIL_FIRST = (3, 12, 25)  # apps whose first restart fails: 3 (file), 12 (systemd), 25 (fed by accounts 10 and 11)
ENV_APPS = range(10, 15)  # apps that read an environment file (type systemd)


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def account(n):
    number = 11 + n  # svc-app-011 ... (001-005 are bound to connectors in the seed)
    return {'source_name': SOURCES[(number - 1) % 3], 'user_name': 'svc-app-%03d' % number}


def health(port):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/health' % port, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class World:
    """The simulator, the apps, the inventory and the accounts file; runs the role against them."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.sim = SimulatorProcess(workdir, '--completion-delay', '0.3')
        self.runner = PlaybookRunner(workdir, self.sim)
        self.apps, self.outputs = [], []
        self.accounts = [account(n) for n in range(N_ACCOUNTS + 2)]
        for i in range(N_APPS):
            fed = [i] if i < N_ACCOUNTS else [2 * (i - N_ACCOUNTS), 2 * (i - N_ACCOUNTS) + 1]
            app_dir = os.path.join(workdir, 'apps', 'app%02d' % i)
            os.makedirs(app_dir)
            secrets = []
            for j, n in enumerate(fed):
                env = i in ENV_APPS
                path = os.path.join(app_dir, 'env' if env else 'secret-%d' % j)
                with open(path, 'w') as handle:
                    handle.write('# app%02d\nDB_PASSWORD="not yet"\n' % i if env else '# app%02d\npassword=not-yet\n' % i)
                os.chmod(path, 0o640)
                secrets.append({'file': path, 'format': 'env' if env else 'line', 'account': n,
                                'source': self.accounts[n]['source_name'], 'user': self.accounts[n]['user_name']})
            port = free_port()
            with open(os.path.join(app_dir, 'app.json'), 'w') as handle:
                json.dump({'port': port, 'sim': self.sim.base_url, 'secrets': secrets}, handle)
            self.apps.append({'dir': app_dir, 'port': port, 'host': HOSTS[i % 4], 'secrets': secrets})
        starting = [subprocess.Popen([sys.executable, APP, 'start', app['dir']]) for app in self.apps]  # all at once
        assert [p.wait(60) for p in starting] == [0] * N_APPS
        for i in FAIL_FIRST:
            open(os.path.join(self.apps[i]['dir'], 'fail-next-restart'), 'w').close()
        for n, acct in enumerate(self.accounts):
            acct['dependents'] = self.dependents_of(n)
        self.inventory = os.path.join(workdir, 'inventory.yml')
        hosts = dict((h, {'ansible_connection': 'local'}) for h in HOSTS + ['localhost'])
        hosts['down-host'] = {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': free_port(),
                              'ansible_user': 'nobody', 'ansible_ssh_common_args': '-o ConnectTimeout=3 -o BatchMode=yes'}
        with open(self.inventory, 'w') as handle:
            yaml.safe_dump({'all': {'hosts': hosts}}, handle)

    def dependents_of(self, n):
        if n >= N_ACCOUNTS:  # on the unreachable host
            return [{'type': 'file', 'host': 'down-host', 'path': '/etc/app-%d.conf' % n, 'regexp': '^password=',
                     'line': 'password={password}'}]
        out = []
        for i, app in enumerate(self.apps):
            for secret in app['secrets']:
                if secret['account'] != n:
                    continue
                restart = '%s %s restart %s' % (sys.executable, APP, app['dir'])
                if secret['format'] == 'env':
                    out.append({'type': 'systemd', 'host': app['host'], 'environment_file': secret['file'],
                                'variable': 'DB_PASSWORD', 'restart_command': restart, 'order': 1})
                else:
                    out.append({'type': 'file', 'host': app['host'], 'path': secret['file'], 'regexp': '^password=',
                                'line': 'password={password}', 'restart_command': restart, 'order': 1})
                out.append({'type': 'http_health', 'host': app['host'], 'url': 'http://127.0.0.1:%d/health' % app['port'],
                            'retries': 2, 'delay': 1, 'order': 2})
        return out

    def rotate(self, accounts, verbosity=0, diff=False, spawn=False, **extra):
        values = rotate_vars(self.workdir, write_accounts(self.workdir, accounts), **extra)
        cmd = self.runner.command(ROTATE, values, verbosity=verbosity, diff=diff)
        cmd[cmd.index('localhost,')] = self.inventory
        if spawn:
            return killer.spawn(cmd, cwd=self.workdir, env=self.runner.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        result = subprocess.run(cmd, cwd=self.workdir, env=self.runner.env(), capture_output=True, text=True,
                                timeout=600, check=False)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def set_passwords(self):
        return self.sim.requests_of('set_password')

    def report(self):
        with open(os.path.join(self.workdir, 'rotation', 'report.json')) as handle:
            return dict((r['account'], r) for r in json.load(handle)['accounts'])

    def starts(self, i):
        with open(os.path.join(self.apps[i]['dir'], 'starts')) as handle:
            return len(handle.read().split())

    def stop(self):
        self.sim.stop()
        killer.reap_all()  # the apps (re-parented to this process: killer.py's subreaper) and what else is left


@pytest.fixture(scope='module')
def world():
    workdir = tempfile.mkdtemp(prefix='isc-e2e-dependents-')
    made = World(workdir)
    yield made
    made.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_dependents_roll_forward_unreachable_restart_once_and_kill(world):
    accounts = world.accounts
    keys = [key_of(a) for a in accounts]
    starts = [world.starts(i) for i in range(N_APPS)]

    # 1. roll_forward (the default), at -vvv --diff for the leak check below
    first = world.rotate(accounts, verbosity=3, diff=True, service_account_rotation_force=True)
    assert first.returncode != 0, first.stdout[-3000:]  # dependents_degraded fails the play by default
    assert 'account(s) ended' in first.stdout, first.stdout[-3000:]
    report = world.report()
    assert world.set_passwords() == N_ACCOUNTS, 'the two accounts on the unreachable host are never sent'
    for key in keys[N_ACCOUNTS:]:
        assert report[key]['status'] == 'skipped' and 'down-host is unreachable' in report[key]['detail'], report[key]
    degraded = sorted(k for k, r in report.items() if r['status'] == 'dependents_degraded')
    assert degraded == sorted(keys[n] for n in (3, 12, 10, 11)), degraded
    for key in set(keys[:N_ACCOUNTS]) - set(degraded):
        assert report[key]['status'] == 'rotated', report[key]
        assert all(d['outcome'] in ('restarted', 'healthy') for d in report[key]['dependents']), report[key]
    for i, app in enumerate(world.apps):
        assert world.starts(i) - starts[i] == (0 if i in FAIL_FIRST else 1), 'app%02d: one restart per run' % i
        assert health(app['port']) == (None if i in FAIL_FIRST else 200), 'app%02d' % i
        for secret in app['secrets']:
            assert oct(os.stat(secret['file']).st_mode & 0o777) == oct(0o640), 'mode kept'
    with open(os.path.join(world.workdir, 'rotation', 'ledger.json')) as handle:
        ledger = json.load(handle)['accounts']
    assert ledger[keys[3]]['dependents_due'] and not ledger[keys[0]]['dependents_due']
    assert any(h.get('dependents') for h in ledger[keys[0]]['history'])
    with open(os.path.join(world.workdir, 'rotation', 'report.xml')) as handle:
        assert 'name="dependent file app-host-' in handle.read()

    # 2. the next run applies only the failed dependents again: no set-password, only the failed apps restart
    starts = [world.starts(i) for i in range(N_APPS)]
    second = world.rotate(accounts[:N_ACCOUNTS])
    assert second.returncode == 0, second.stdout[-3000:]
    assert world.set_passwords() == N_ACCOUNTS
    report = world.report()
    for n in (3, 12, 10, 11):
        assert 'updated again' in report[keys[n]]['detail'], report[keys[n]]
    for i, app in enumerate(world.apps):
        assert world.starts(i) - starts[i] == (1 if i in FAIL_FIRST else 0), 'app%02d' % i
        assert health(app['port']) == 200, 'app%02d' % i

    # 3. a forced run of four accounts, crashed once the store committed their passwords
    with open(os.path.join(world.workdir, 'rotation', 'report.json')) as handle:
        second_run = json.load(handle)['run_id']
    few = accounts[:4]
    before = read_store(world.workdir)
    proc = world.rotate(few, spawn=True, service_account_rotation_force=True)

    def committed():
        store = read_store(world.workdir)
        return all(store[key_of(a)].get('current') != before[key_of(a)]['current'] for a in few)
    killer.wait_for(committed, timeout=120, proc=proc)
    killer.crash(proc)
    world.outputs.append(proc.stdout.read())
    with open(os.path.join(world.workdir, 'rotation', 'report.json')) as handle:
        assert json.load(handle)['run_id'] == second_run, 'the crash came before the record (and its dependents)'
    sent = world.set_passwords()
    assert sent == N_ACCOUNTS + 4

    # 4. the next run finishes their dependents with the committed passwords, nothing sent again
    fourth = world.rotate(few)
    assert fourth.returncode == 0, fourth.stdout[-3000:]
    assert world.set_passwords() == sent
    for i in (0, 1, 2, 3, 20, 21):
        assert health(world.apps[i]['port']) == 200, 'app%02d after the crash and the next run' % i

    # no password of the store anywhere but in the store and each app's own secret file
    store = read_store(world.workdir)
    secrets = set()
    for entry in store.values():
        secrets.update(v for k, v in entry.items() if k in ('current', 'previous', 'pending') and isinstance(v, str))
    assert len(secrets) >= N_ACCOUNTS
    own = set(s['file'] for app in world.apps for s in app['secrets'])
    texts = dict(('output %d' % n, out) for n, out in enumerate(world.outputs))
    for root, _dirs, files in os.walk(world.workdir):
        for name in files:
            path = os.path.join(root, name)
            if path in own or name == 'store.vault':
                continue
            with open(path, errors='replace') as handle:
                texts[path] = handle.read()
    hits = [(where, s[:3]) for where, text in texts.items() for s in secrets if s in text]
    assert hits == [], hits[:5]
    for app in world.apps:  # no backup or temporary file next to a secret
        expected = ['app.json', 'pid', 'starts'] + [os.path.basename(s['file']) for s in app['secrets']]
        assert sorted(os.listdir(app['dir'])) == sorted(expected)
