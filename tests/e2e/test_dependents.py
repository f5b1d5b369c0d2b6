"""Dependents of rotated passwords (issue 27 §1), end to end on real local processes.

16 accounts of the simulator's fleet and 11 small apps (tests/e2e/dep_app.py, one process each: five fed by one account,
six by two) on four inventory host aliases (all ansible_connection=local) and one unreachable host. Each app reads its
password(s) at start and is healthy only when they match the simulator's live password hashes. One world, four
ansible-playbook runs:
  1. roll_forward (-vvv --diff): the two accounts whose dependent is on the unreachable host are skipped (0
     set-password), three apps fail their first restart (their accounts dependents_degraded), every app restarted at
     most once although six of them are fed by two accounts, and the health URL of each app asked once (not once per
     account that feeds it): the failing app fed by two accounts fails the health dependent of both;
  2. the next run applies only the failed dependents again, with no set-password; in the same run, under the policy
     rollback, five accounts are due and three apps fail their restart: their four accounts are set back to the
     previous password through ISC (one set-password forward, one back) and their apps end healthy on it; a sixth due
     account whose target forbids reuse is refused up front (0 set-password); every app is healthy;
  3. a forced run of two accounts and their two apps (one fed by both) under rollback, one app failing (the passwords
     of run 1 are the previous ones a rollback goes back to), is crashed (killer.py) once the store committed their new
     passwords and escrowed the previous one of the failing app's account (its rollback under way);
  4. the next run finishes the rollback (the escrowed password) and the dependents, with no new password.
After 2 and after 4, no password of the store appears in any output, report, state file or app-side file but the app's
own secret.
"""

import hashlib
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
# app i < N_ACCOUNTS is fed by account i alone; app N_ACCOUNTS + k by accounts 2k and 2k+1 (16 by 0 and 1 ... 23 by 14
# and 15). The apps of the world are those the steps below name; accounts 2, 8 and 9 feed none (rotated without
# dependents)
N_ACCOUNTS = 16
APPS = (0, 3, 5, 12, 13, 16, 18, 19, 21, 22, 23)
FAIL_FIRST = (3, 12, 21)  # apps whose first restart fails: 3 (file), 12 (systemd), 21 (fed by accounts 10 and 11)
# run 2, policy rollback: accounts 5, 6, 13, 14, 15 due; apps 5 (file), 13 (systemd), 23 (fed by accounts 14 and 15) fail
# their restart, so 5, 13, 14, 15 go back to their previous password; 7 is due too, but its target forbids reuse
ROLLBACK_DUE, ROLLBACK_FAIL, ROLLED_BACK, NO_REUSE = (5, 6, 13, 14, 15), (5, 13, 23), (5, 13, 14, 15), 7
ENV_APPS = range(10, 15)  # apps that read an environment file (type systemd): 12 and 13
HEALTH_RETRIES = 1  # a failing health URL is tried twice per pass
RESTART_SECONDS = 2
# app 0's restart is the first one launched (account 0's file, declared first) and takes longer: the next one launched,
# app 16's on another host, starts while app 0 is down even where each async launch takes seconds (a loaded machine)
FIRST_RESTART_SECONDS = 6


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

    def __init__(self, workdir, apps=APPS, fail_first=FAIL_FIRST):
        """A world of the apps numbered in apps (all of them by default) and the accounts that feed them; the apps of
        fail_first fail their first restart."""
        self.workdir = workdir
        self.reaper = killer.Reaper()  # stop() kills what the world started
        self.sim = SimulatorProcess(workdir, '--completion-delay', '0.3')
        self.runner = PlaybookRunner(workdir, self.sim)
        self.apps, self.outputs = {}, []
        self.accounts = [account(n) for n in range(N_ACCOUNTS + 2)]
        for i in apps:
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
                # a restart takes RESTART_SECONDS to come up: one after the other they would add up, at once they overlap
                json.dump({'port': port, 'sim': self.sim.base_url, 'secrets': secrets,
                           'restart_seconds': FIRST_RESTART_SECONDS if i == 0 else RESTART_SECONDS},
                          handle)
            # an app fed by two accounts is on the host after its first account's own app (16 on app-host-2, 0 on 1)
            self.apps[i] = {'dir': app_dir, 'port': port, 'host': HOSTS[(i + (i >= N_ACCOUNTS)) % 4], 'secrets': secrets}
        starting = [subprocess.Popen([sys.executable, APP, 'start', app['dir']]) for app in self.apps.values()]  # at once
        assert [p.wait(60) for p in starting] == [0] * len(self.apps)
        for i in fail_first:
            open(os.path.join(self.apps[i]['dir'], 'fail-next-restart'), 'w').close()
        for n, acct in enumerate(self.accounts):
            if self.dependents_of(n):  # accounts 2, 8 and 9 have none
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
        for i, app in self.apps.items():
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
                            'retries': HEALTH_RETRIES, 'delay': 1, 'order': 2})
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

    def asks(self, i):
        """How often app i's health URL was asked."""
        path = os.path.join(self.apps[i]['dir'], 'asks')
        if not os.path.exists(path):
            return 0
        with open(path) as handle:
            return len(handle.read().split())

    def restarts(self, i):
        """(went down, listens again) of each restart of app i that worked."""
        path = os.path.join(self.apps[i]['dir'], 'restarts')
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [tuple(float(t) for t in line.split()) for line in handle if line.strip()]

    def stop(self):
        self.sim.stop()
        self.reaper.reap()  # the apps (re-parented to this process: killer.py's subreaper) and what else is left


def assert_no_async_job_left(home):
    """The async restarts ran (their job directory, under the runs' $HOME, exists) and left no job file behind."""
    jobs = os.path.join(home, '.ansible_async')
    assert os.path.isdir(jobs) and os.listdir(jobs) == [], os.listdir(jobs) if os.path.isdir(jobs) else 'no ' + jobs


@pytest.fixture
def world_of():
    made = []

    def make(**kwargs):
        made.append(World(tempfile.mkdtemp(prefix='isc-e2e-dependents-'), **kwargs))
        return made[-1]
    yield make
    for one in made:
        one.stop()
        shutil.rmtree(one.workdir, ignore_errors=True)


def test_dependents_roll_forward_rollback_and_a_run_killed_during_a_rollback(world_of):
    """The steps 1 to 4 of the module's docstring, in one world (before: two tests; steps 3 and 4 had a world of their
    own, whose first forced run gave the four accounts the previous password that run 1 gives them here)."""
    world = world_of()
    accounts = world.accounts
    keys = [key_of(a) for a in accounts]
    starts = dict((i, world.starts(i)) for i in world.apps)
    asks = dict((i, world.asks(i)) for i in world.apps)

    # 1. roll_forward (the default), at -vvv --diff for the leak check below
    first = world.rotate(accounts, verbosity=3, diff=True, service_account_rotation_force=True)
    assert first.returncode != 0, first.stdout[-3000:]  # dependents_degraded fails the play by default
    assert 'account(s) ended' in first.stdout, first.stdout[-3000:]
    # one health check per URL and pass, however many accounts feed the app (each account lists its URL): a healthy app
    # is asked once (counted here before this test asks anything itself); a failing one is down (its asks are refused)
    for i in world.apps:
        assert world.asks(i) - asks[i] == (0 if i in FAIL_FIRST else 1), 'app%02d: its health URL asked once per pass' % i
    report = world.report()
    assert world.set_passwords() == N_ACCOUNTS, 'the two accounts on the unreachable host are never sent'
    for key in keys[N_ACCOUNTS:]:
        assert report[key]['status'] == 'skipped' and 'down-host is unreachable' in report[key]['detail'], report[key]
    degraded = sorted(k for k, r in report.items() if r['status'] == 'dependents_degraded')
    assert degraded == sorted(keys[n] for n in (3, 12, 10, 11)), degraded
    # app 21's one failed check is the outcome of the health dependent of both accounts that feed it
    url21 = 'http://127.0.0.1:%d/health' % world.apps[21]['port']
    for n in (10, 11):
        [outcome] = [d['outcome'] for d in report[keys[n]]['dependents'] if d['id'].endswith(url21)]
        assert outcome == 'failed: Ask each health URL', report[keys[n]]
    for key in set(keys[:N_ACCOUNTS]) - set(degraded):
        assert report[key]['status'] == 'rotated', report[key]
        assert all(d['outcome'] in ('restarted', 'healthy') for d in report[key].get('dependents', [])), report[key]
    for i, app in world.apps.items():
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
    # the restarts run at once on their hosts (async), not one after the other: two hosts' restarts overlap in time
    spans = [(app['host'], span) for i, app in world.apps.items() for span in world.restarts(i)]
    assert any(h1 != h2 and a[0] < b[1] and b[0] < a[1] for h1, a in spans for h2, b in spans), sorted(spans)[:6]
    assert_no_async_job_left(world.workdir)  # three of the restarts failed: their job files are gone too

    # 2. the next run applies only the failed dependents again: no set-password, only the failed apps restart; and under
    # the policy rollback, the accounts due whose apps fail their restart go back to their previous password
    starts = dict((i, world.starts(i)) for i in world.apps)
    before = read_store(world.workdir)
    for i in ROLLBACK_FAIL:
        open(os.path.join(world.apps[i]['dir'], 'fail-next-restart'), 'w').close()
    second_accounts = [dict(a, max_age_days=0) if n in ROLLBACK_DUE + (NO_REUSE,) else dict(a)
                       for n, a in enumerate(accounts[:N_ACCOUNTS])]
    second_accounts[NO_REUSE]['password_history_forbids_reuse'] = True
    second = world.rotate(second_accounts, service_account_rotation_dependents_policy='rollback')
    assert second.returncode != 0, second.stdout[-3000:]  # rolled_back fails the play by default
    assert world.set_passwords() == N_ACCOUNTS + len(ROLLBACK_DUE) + len(ROLLED_BACK), 'forward, and back for four'
    report = world.report()
    for n in (3, 12, 10, 11):
        assert 'updated again' in report[keys[n]]['detail'], report[keys[n]]
    assert sorted(k for k, r in report.items() if r['status'] == 'rolled_back') == sorted(keys[n] for n in ROLLED_BACK)
    assert report[keys[6]]['status'] == 'rotated', report[keys[6]]
    assert report[keys[NO_REUSE]]['status'] == 'skipped', report[keys[NO_REUSE]]
    assert 'password_history_forbids_reuse' in report[keys[NO_REUSE]]['detail'], report[keys[NO_REUSE]]
    store = read_store(world.workdir)
    for n in ROLLED_BACK:  # the previous password is current again, in the store and at ISC (the apps check that)
        assert store[keys[n]]['current'] == before[keys[n]]['current'] and not store[keys[n]].get('pending'), n
        live = world.sim.accounts(userName=accounts[n]['user_name'], sourceName=accounts[n]['source_name'])[0]
        assert live['passwordSha256'] == hashlib.sha256(before[keys[n]]['current'].encode()).hexdigest(), n
    assert store[keys[6]]['current'] != before[keys[6]]['current']
    assert_no_async_job_left(world.workdir)  # the restarts of both passes (the new password, the previous one)
    assert store[keys[NO_REUSE]]['current'] == before[keys[NO_REUSE]]['current']
    # every app restarted once, but those fed by a rolled-back account: once more (one of them failed the first time)
    twice = (18, 22)  # fed by 4 and 5, by 12 and 13
    once = FAIL_FIRST + ROLLBACK_FAIL + (19,)  # 19: fed by 6 (rotated) and 7 (refused)
    for i, app in world.apps.items():
        assert world.starts(i) - starts[i] == (2 if i in twice else 1 if i in once else 0), 'app%02d' % i
        assert health(app['port']) == 200, 'app%02d' % i
    with open(os.path.join(world.workdir, 'rotation', 'ledger.json')) as handle:
        history = json.load(handle)['accounts'][keys[5]]['history']
    # the ledger's history: the change forward, why it went back (the failed dependents), the outcome, the change back
    outcomes = [(h['outcome'], h.get('why')) for h in history]
    assert outcomes[-4:] == [('rotated', 'due'), ('rolling_back', None), ('rolled_back', None), ('rotated', 'rollback')], outcomes
    assert 'failed' in json.dumps(history[-3]['dependents']), history[-3]
    no_password_leaked(world, N_ACCOUNTS)

    # 3. a forced run of accounts 0 and 1 (app 0, fed by 0; app 16, fed by both) under the policy rollback, app 0 failing
    # its restart: crashed once the store holds the previous password of account 0 escrowed (its rollback under way),
    # after the commits, before the record. Run 1 gave the two the password they go back to; run 2 left them be
    few = accounts[:2]
    assert all(health(world.apps[i]['port']) == 200 for i in (0, 16))
    with open(os.path.join(world.workdir, 'rotation', 'report.json')) as handle:
        setup_run = json.load(handle)['run_id']
    before = read_store(world.workdir)
    sent = world.set_passwords()
    open(os.path.join(world.apps[0]['dir'], 'fail-next-restart'), 'w').close()
    proc = world.rotate(few, spawn=True, service_account_rotation_force=True, service_account_rotation_dependents_policy='rollback')

    def rolling_back():
        return read_store(world.workdir)[keys[0]].get('pending') == before[keys[0]]['current']
    killer.wait_for(rolling_back, timeout=480, proc=proc, what="account 0's rollback escrow")
    killer.crash(proc)
    world.outputs.append(proc.stdout.read())
    with open(os.path.join(world.workdir, 'rotation', 'report.json')) as handle:
        assert json.load(handle)['run_id'] == setup_run, 'the crash came before the record (and its dependents)'

    # 4. the next run (policy roll_forward: the escrow, not the policy, finishes the rollback) settles account 0's change
    # back and applies every dependent of the two with the passwords committed
    fourth = world.rotate(few)
    assert fourth.returncode == 0, fourth.stdout[-3000:]
    # two forward, and account 0's change back once (twice only when the crash cut its send before its request id)
    assert world.set_passwords() - sent in (3, 4), world.set_passwords() - sent
    store = read_store(world.workdir)
    assert store[keys[0]]['current'] == before[keys[0]]['current'] and not store[keys[0]].get('pending')
    assert store[keys[1]]['current'] != before[keys[1]]['current']
    for i in (0, 16):
        assert health(world.apps[i]['port']) == 200, 'app%02d after the crash and the next run' % i
    no_password_leaked(world, N_ACCOUNTS)


def no_password_leaked(world, at_least):
    """No password of the store anywhere but in the store and each app's own secret file."""
    store = read_store(world.workdir)
    secrets = set()
    for entry in store.values():
        secrets.update(v for k, v in entry.items() if k in ('current', 'previous', 'pending') and isinstance(v, str))
    assert len(secrets) >= at_least
    own = set(s['file'] for app in world.apps.values() for s in app['secrets'])
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
    for app in world.apps.values():  # no backup or temporary file next to a secret
        expected = ['app.json', 'asks', 'pid', 'restarts', 'starts'] + [os.path.basename(s['file']) for s in app['secrets']]
        assert sorted(os.listdir(app['dir'])) == sorted(expected)
