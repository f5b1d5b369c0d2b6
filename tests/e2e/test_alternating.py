"""Alternating accounts (issue 27 §2), end to end on a real local app process.

One logical credential (alternate: app-db) with two accounts of the simulator's fleet, and one app (dep_app.py, format
login) that reads user name and password from its config line and is healthy only while they match the simulator's
live password of that user; it reloads them on SIGHUP without stopping. A health probe asks it every 100 ms from a
start on account A (its seed password) through seven cycles that each rotate the inactive account only, write its
user name and new password into the app's file, reload the app, check health and flip `active` (the store's record
under alternate:app-db), and two that must not flip. One world, one test (the two worlds of before shared their first
two cycles, B then A; issue 21):
  B, A, then one cycle whose reload of the app fails (the dependent fails, the account is dependents_degraded): no
  flip, the app still on the active account; the next cycle, in which that account is not due, applies its committed
  password again and flips to B with no set-password (what the next run does after a kill between the commit and the
  flip);
  then one cycle whose set-password FAILS (fail_rate 1.0): `active` unchanged, the app not touched (A's password
  committed in the second cycle: a flip would find one); then one crashed (killer.py) right after it wrote its
  switch to A to the store, before its record phase; the next (to B) finds that switch, reports it (`earlier`) and
  writes it to the ledger, once.
Each run's report lists the credential's switch or why not; the ledger holds one entry per switch, by the run that
made it (switched_by), and no async job file is left.
0 failed probes; the record's user name and password are the active account's live ones; no password of the store
appears in any output (one run at -vvv --diff), report, ledger or file but the store and the app's own config file.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import killer
from conftest import PlaybookRunner, SimulatorProcess
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, write_accounts
from test_dependents import assert_no_async_job_left, free_port, health as status

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dep_app.py')
LOGICAL = 'alternate:app-db'


class Probe(threading.Thread):
    """GET /health every 100 ms; keeps every answer that is not 200."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.count, self.failures, self.halt = port, 0, [], threading.Event()

    def run(self):
        while not self.halt.wait(0.1):
            got = status(self.port)
            self.count += 1
            if got != 200:
                self.failures.append((time.time(), got))


def report_run_id(workdir):
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        return json.load(handle)['run_id']


def switch_on_record(workdir, keys, want, before, earlier=None):
    """The cycle's report names the credential's switch, or why it did not switch, and the switch of a killed run it
    recorded (earlier); (run id, new active) if it switched."""
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        report = json.load(handle)
    active = json.loads(before[LOGICAL]['current'])['active'] if LOGICAL in before else keys[0]
    inactive = [k for k in keys if k != active][0]
    reason = {'fail': 'failed', 'degraded': 'degraded'}.get(want)
    assert report['alternates'] == [dict({'name': 'app-db', 'key': LOGICAL, 'from': active, 'to': inactive,
                                          'switched': reason is None, 'reason': reason},
                                         **({'earlier': earlier} if earlier else {}))], report['alternates']
    return None if reason else (report['run_id'], inactive)


@pytest.fixture
def world():
    with killer.Reaper():  # the apps, at the end
        workdir = tempfile.mkdtemp(prefix='isc-e2e-alternating-')
        sim = SimulatorProcess(workdir, '--completion-delay', '0.1')
        yield workdir, sim, PlaybookRunner(workdir, sim)
        sim.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_cycles_alternate_and_neither_a_failed_reload_nor_a_failed_set_password_flips(world):
    """Holds the checks of the two tests of before (issue 21): ..._a_failed_reload_does_not_flip (cycles 1, 0,
    'degraded', 'again'; the first at -vvv --diff) and ..._a_failed_set_password_does_not_flip ('fail', 'killed' and
    the cycle after it, here from B instead of from A)."""
    cycles(world, [1, 0, 'degraded', 'again', 'fail', 'killed', 1], verbose_first=True)


def cycles(world, expected, verbose_first=False):
    """Runs the role once per item of expected: 0 or 1, the account it must flip to; 'degraded', the app's reload
    fails; 'again', the inactive account is not due (its committed password applied again, a flip); 'fail', the
    set-password fails; 'killed', a run to the inactive account crashed after it wrote its switch, before its record
    (the next records it). The probe asks the app all along."""
    workdir, sim, runner = world
    fleet = sorted(a['userName'] for a in sim.accounts(sourceName='Corp-AD') if a['userName'].startswith('svc-app-'))
    users = fleet[-2:]  # two identities, one account each on Corp-AD
    accounts = [{'source_name': 'Corp-AD', 'user_name': u} for u in users]
    keys = [key_of(a) for a in accounts]
    app_dir = os.path.join(workdir, 'app')
    os.makedirs(app_dir)
    config = os.path.join(app_dir, 'db.conf')
    with open(config, 'w') as handle:
        handle.write('# app-db\nlogin=%s:Init-%s-Aa1!x\n' % (users[0], users[0]))  # the seed's password
    port = free_port()
    with open(os.path.join(app_dir, 'app.json'), 'w') as handle:
        json.dump({'port': port, 'sim': sim.base_url,
                   'secrets': [{'file': config, 'format': 'login', 'source': 'Corp-AD'}]}, handle)
    assert subprocess.run([sys.executable, APP, 'start', app_dir], timeout=60, check=False).returncode == 0
    row = {'alternate': {'name': 'app-db', 'accounts': accounts}, 'max_age_days': 0, 'dependents': [
        {'type': 'file', 'host': 'localhost', 'path': config, 'regexp': '^login=', 'line': 'login={user_name}:{password}',
         'restart_command': '%s %s reload %s' % (sys.executable, APP, app_dir)},
        {'type': 'http_health', 'host': 'localhost', 'url': 'http://127.0.0.1:%d/health' % port, 'retries': 3,
         'delay': 1, 'order': 1}]}
    accounts_file = write_accounts(workdir, [row])
    outputs = []

    def cycle(verbosity=0, diff=False):
        cmd = runner.command(ROTATE, rotate_vars(workdir, accounts_file), verbosity=verbosity, diff=diff)
        result = subprocess.run(cmd, cwd=workdir, env=runner.env(), capture_output=True, text=True, timeout=300,
                                check=False)
        outputs.append(result.stdout + result.stderr)
        record = read_store(workdir).get(LOGICAL, {}).get('current')
        return result, json.loads(record) if record else None

    def live_sha(user):
        return sim.accounts(userName=user, sourceName='Corp-AD')[0]['passwordSha256']

    def killed_cycle(to):
        """A cycle crashed (killer.py) right after it wrote the switch to `to` under the logical key, before its record
        phase (its report and the ledger's entry): the next cycle must record that switch, once."""
        store = os.path.join(workdir, 'rotation', 'store.vault')
        seen = [os.stat(store).st_mtime_ns]

        def switched():  # read the store only when it was written again
            if os.stat(store).st_mtime_ns == seen[-1]:
                return None
            seen.append(os.stat(store).st_mtime_ns)
            text = read_store(workdir).get(LOGICAL, {}).get('current')
            return text if text and json.loads(text)['active'] == to else None
        with open(os.path.join(workdir, 'killed.out'), 'w+') as out:
            proc = killer.spawn(runner.command(ROTATE, rotate_vars(workdir, accounts_file)), cwd=workdir,
                                env=runner.env(), stdout=out, stderr=subprocess.STDOUT)
            text = killer.wait_for(switched, timeout=240, proc=proc, what='the switch written to the store')
            killer.crash(proc)
            out.seek(0)
            outputs.append(out.read())
        return None, json.loads(text)

    assert status(port) == 200, 'the app starts on the first account and its seed password'
    probe = Probe(port)
    probe.start()
    try:
        # no record yet: the first account counts as active
        switches = []  # (run id, account that became active) of each cycle that switched, from its report
        earlier = None  # the switch the killed cycle made, which the next one finds and records
        for n, want in enumerate(expected):
            write_accounts(workdir, [dict(row, max_age_days=30 if want == 'again' else 0)])
            sent = sim.requests_of('set_password')
            before = read_store(workdir)
            if want in ('again', 'killed'):  # to the inactive account, whichever it is now
                want = 1 - keys.index(json.loads(before[LOGICAL]['current'])['active'])
            with open(config) as handle:
                written = handle.read()
            if want in ('fail', 'degraded'):
                active = json.loads(before[LOGICAL]['current'])['active']
                sim.set_faults({'set_password': {'fail_rate': 1.0}} if want == 'fail' else {})
                if want == 'degraded':
                    open(os.path.join(app_dir, 'fail-next-restart'), 'w').close()
            else:
                untouched = live_sha(users[1 - want])
            started = time.time()
            if expected[n] == 'killed':
                reported = report_run_id(workdir)
                result, record = killed_cycle(keys[want])
                assert report_run_id(workdir) == reported, 'the crash came before the record phase'
                earlier = {'from': keys[1 - want], 'to': keys[want], 'run_id': record['switched']['run_id'],
                           'at': record['switched']['at']}
                switches.append((earlier['run_id'], keys[want]))
            else:
                result, record = cycle(verbosity=3 if n == 0 and verbose_first else 0, diff=n == 0 and verbose_first)
                switched = switch_on_record(workdir, keys, want, before, earlier)
                earlier = None
                if switched:
                    switches.append(switched)
            print('cycle %d (%s): %.1f s' % (n, expected[n], time.time() - started))
            if want in ('fail', 'degraded'):
                sim.set_faults({})
                assert result.returncode != 0, 'a failed set-password or dependent fails the play'
                # compared, never shown: a failing assertion must not print a password
                kept = json.loads(before[LOGICAL]['current'])
                assert (record['active'], record['password'] == kept['password']) == (kept['active'], True), 'no flip'
                with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
                    rows = dict((r['account'], r) for r in json.load(handle)['accounts'])
                inactive = [k for k in keys if k != active][0]
                assert rows[inactive]['status'] == ('failed' if want == 'fail' else 'dependents_degraded'), rows
                with open(config) as handle:
                    assert want == 'degraded' or handle.read() == written, 'a failed change is not applied'
                continue
            assert result is None or result.returncode == 0, result.stdout[-3000:]
            assert (record['active'], record['user_name']) == (keys[want], users[want]), n
            assert hashlib.sha256(record['password'].encode()).hexdigest() == live_sha(users[want])
            assert live_sha(users[1 - want]) == untouched, 'the active account is never rotated'
            assert result is None or 'alternate app-db: active is now %s' % keys[want] in result.stdout
            assert sim.requests_of('set_password') == sent + (0 if expected[n] == 'again' else 1)
        time.sleep(0.5)
    finally:
        probe.halt.set()
        probe.join()
    assert probe.count > 100 and probe.failures == [], (probe.count, probe.failures[:5])
    assert sim.requests_of('set_password') == len(expected) - expected.count('again')  # none in the 'again' cycle
    # each switch once in the ledger's history of the account that became active, by the run that made it (the one
    # after the degraded cycle too: not by the degraded run, not twice; the killed cycle's: recorded by the next run,
    # once), with who ran it; no entry for a cycle that did not switch
    with open(os.path.join(workdir, 'rotation', 'ledger.json')) as handle:
        ledger = json.load(handle)['accounts']
    recorded = sorted((h['at'], h['switched_by'], key) for key in keys for h in ledger[key].get('history', ())
                      if h['outcome'] == 'switched')
    assert [(run_id, key) for _at, run_id, key in recorded] == switches, (recorded, switches)
    late = [h for key in keys for h in ledger[key]['history'] if h['outcome'] == 'switched' and h['run_id'] != h['switched_by']]
    if 'killed' in expected:  # recorded by the run after it
        assert [h['switched_by'] for h in late] == [switches[-2][0]] and late[0]['run_id'] == report_run_id(workdir), late
    else:
        assert late == [], late
    assert all(h['who']['controller_user'] and h['alternate'] == 'app-db'
               for key in keys for h in ledger[key]['history'] if h['outcome'] == 'switched')
    assert not os.path.exists(os.path.join(app_dir, 'fail-next-restart'))
    assert_no_async_job_left(workdir)  # the reloads (async), the failed one too

    # no password of the store anywhere but in the store and the app's own config file
    store = read_store(workdir)
    secrets = set()
    for key, entry in store.items():
        for name in ('current', 'previous', 'pending'):
            value = entry.get(name)
            if isinstance(value, str):  # the logical record is JSON; a password may well start with "{" too
                secrets.update([json.loads(value)['password']] if key == LOGICAL else [value])
    assert len(secrets) >= len([w for w in expected if w in (0, 1, 'degraded')])  # one per password set
    texts = dict(('output %d' % n, out) for n, out in enumerate(outputs))
    for root, _dirs, files in os.walk(workdir):
        for name in files:
            path = os.path.join(root, name)
            if path != config and name != 'store.vault':
                with open(path, errors='replace') as handle:
                    texts[path] = handle.read()
    hits = [(where, s[:3]) for where, text in texts.items() for s in secrets if s in text]
    assert hits == [], hits[:5]
