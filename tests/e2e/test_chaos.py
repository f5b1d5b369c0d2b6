"""Chaos: kills at moments that write, overlapping runs and the simulator's fault mix, on one state
directory; after every round every account's live password, listed or not, must be in the store.

The fleet (tests/e2e/data/chaos_seed.yaml, 110 accounts) has a password sync group of three
sources, an identity with two accounts on one source and a source whose passwords are at most
eight characters. One sync-group account (UNLISTED) is left out of the accounts file: its group's
changes reach it all the same, so the run must find it and escrow its password too.

Rounds, in a seeded random order, one function per kind (add a kind: a function and its place in
`schedule`):

- kill rounds (kill_round): a forced rotation is killed when it reaches a moment chosen by progress,
  and the kill must land in the writing phase it aimed at (judged once nothing is in flight):
  'escrow' (new pending passwords written, nothing sent), 'apply' (k of its changes accepted),
  'commit' (the run after an apply crash committed the finished changes while others are still
  pending). Crashes kill the controller and every descendant (setsid'd workers and the module
  included); controller-only kills (at 'apply') leave the module running: it is frozen, and a run
  started then must be refused by the lease and send nothing, every time;
- overlap rounds (overlap_round): two forced runs on the same state directory, the second started
  while the first holds the lease (or both at once); exactly one works, the other is refused;
- settle rounds (settle_round, after each escrow crash and each apply + commit pair): faults off, one
  clean run must converge (live == current for every account, nothing pending, nothing ends unknown
  or unverified; a FAILED change of the faulted rounds before is reported as failed).

Faults: every round but settle has the fault mix; overlap rounds and some kill rounds also fail one
source of the sync group (`fail_sources`: the other members apply the change, ISC reports FAILED), the
only way a wrong discard loses a password. Before every loss check the test waits until the simulator
has no change IN_PROGRESS and no API request unanswered (GET /__sim/in-flight): the changes in flight
at a kill land first, so a loss confined to them is seen before the next forced round overwrites it.

Then the faults are switched off and clean runs must converge. Prints `chaos: ... lost=0 converged=yes`.
CHAOS_SEED, CHAOS_KILLS (default 10) and CHAOS_OVERLAPS (default 3) change the schedule.
"""

import os
import random
import signal
import subprocess
import time

import killer
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import REPO, PlaybookRunner
from rotation_helpers import ROTATE, baseline_hashes, key_of, read_store, rotate_vars, unaccounted, write_accounts

SEED_FILE = os.path.join(REPO, 'tests', 'e2e', 'data', 'chaos_seed.yaml')
CHAOS_SEED = int(os.environ.get('CHAOS_SEED', '20261130'))
KILLS = int(os.environ.get('CHAOS_KILLS', '10'))
OVERLAPS = int(os.environ.get('CHAOS_OVERLAPS', '3'))
REFUSED = 'another rotation is running'
MODULE_LIVES = 'still running in module process'
SYNC_SOURCES = ('Tri-LDAP', 'Tri-Kerberos', 'Tri-NIS')
UNLISTED = ('Tri-NIS', 'svc-tri-06')  # (source, user) left out of the accounts file
IN_FLIGHT_TIMEOUT = 60
# a forced run makes about 98 changes (the sync group's three accounts share one): an 'apply' kill aims well
# inside them, so that the run has not sent them all when the kill lands
APPLY_K = (1, 50)


def chaos_accounts(simulator):
    rows = simulator.accounts()
    per_pair = {}
    for row in rows:
        per_pair.setdefault((row['userName'], row['sourceName']), []).append(row)
    out = []
    for (user, source), found in sorted(per_pair.items()):
        for row in found:
            item = {'source_name': source, 'user_name': user}
            if len(found) > 1:
                item['account_id'] = row['accountId']
            out.append(item)
    return out


def fault_mix(seed, fail_source=None):
    mix = {'random_seed': seed,
           'all': {'latency': 0.005, 'latency_jitter': 0.01},
           'query_password_info': {'error_rate': 0.02},
           'set_password': {'drop_after_accept_rate': 0.05, 'fail_rate': 0.05, 'error_rate': 0.02, 'drop_rate': 0.02},
           'password_change_status': {'error_rate': 0.05}}
    if fail_source:
        # a partial failure (--sync-failure partial, the default): the other members keep the new password
        mix['set_password']['fail_sources'] = [fail_source]
    return mix


def schedule(rng, kills, overlaps):
    """The rounds: [(kind, moment, how)]. Kill units in turn: a controller-only kill at 'apply' (first, so that
    the lease is tried against a live module in any schedule); an apply crash, a crash of the next run's commit
    and a settle round; an escrow crash and a settle round. Then shuffled with the overlap rounds."""
    units, planned, turn = [], 0, 0
    while planned < kills:
        kind = ('controller', 'pair', 'escrow')[turn % 3]
        turn += 1
        if kind == 'pair' and kills - planned < 2:
            kind = 'escrow'
        units.append({'controller': [('kill', 'apply', 'controller')],
                      'pair': [('kill', 'apply', 'crash'), ('kill', 'commit', 'crash'), ('settle', None, None)],
                      'escrow': [('kill', 'escrow', 'crash'), ('settle', None, None)]}[kind])
        planned += 2 if kind == 'pair' else 1
    units += [[('overlap', None, None)]] * overlaps
    rng.shuffle(units)
    return [one for unit in units for one in unit]


class Run(object):
    """One ansible-playbook rotation in the background."""

    def __init__(self, ansible, extra, name):
        self.log_path = os.path.join(ansible.workdir, '%s.log' % name)
        self._log = open(self.log_path, 'w')
        self.proc = killer.spawn(ansible.command(ROTATE, extra), cwd=ansible.workdir, env=ansible.env(),
                                 stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout=300):
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def output(self):
        with open(self.log_path) as handle:
            return handle.read()


def modules_alive(survivors):
    """Survivors that are a module (with pipelining, a python reading the module from its stdin), not a worker."""
    return [p for p in survivors.alive() if 'ansible-playbook' not in p.cmdline]


def wait_modules_gone(survivors, timeout=300):
    deadline = time.time() + timeout
    while modules_alive(survivors):
        assert time.time() < deadline, 'the orphaned module did not end: %s' % modules_alive(survivors)
        time.sleep(0.1)


def signal_all(procs, sig):
    for proc in procs:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass


def store_pending(workdir):
    return dict((k, e) for k, e in read_store(workdir).items() if 'pending' in e)


def store_bytes(workdir):
    try:
        with open(os.path.join(workdir, 'rotation', 'store.vault'), 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def wait_for(predicate, timeout, proc):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def landed_in(progress, aim):
    """Whether the run progress watched stopped in the writing phase aimed at (judge once nothing is in flight):
    'escrow' new pending passwords and nothing accepted; 'apply' some but not all of the escrowed changes
    accepted; 'commit' new current passwords for some keys while others are still pending."""
    if aim == 'escrow':
        return bool(progress.escrowed()) and progress.accepted() == 0
    if aim == 'apply':
        return bool(progress.pending()) and 0 < progress.accepted() < len(progress.pending_passwords())
    if aim == 'commit':
        return bool(progress.committed() and progress.pending())
    raise ValueError(aim)


def describe(progress):
    return 'accepted=%d escrowed=%d committed=%d pending=%d' % (
        progress.accepted(), len(progress.escrowed()), len(progress.committed()), len(progress.pending()))


class Chaos(object):
    """The state shared by the rounds, the rounds themselves and the checks after each."""

    def __init__(self, simulator, ansible, workdir, rng):
        self.simulator, self.ansible, self.workdir, self.rng = simulator, ansible, workdir, rng
        self.accounts = chaos_accounts(simulator)  # every account, listed or not: all are checked
        self.listed = [a for a in self.accounts if (a['source_name'], a['user_name']) != UNLISTED]
        self.extra = rotate_vars(workdir, write_accounts(workdir, self.listed), service_account_rotation_force=True,
                                 service_account_rotation_poll_interval=0.3, service_account_rotation_wait_timeout=15,
                                 service_account_rotation_fail_on=[], isc_rate_limit=5000, isc_rate_window=1)
        self.clean = dict(self.extra, service_account_rotation_force=False,
                          service_account_rotation_fail_on=['failed', 'unknown', 'unverified'])
        self.baseline = baseline_hashes(simulator, self.accounts)
        self.stats = {'kills': 0, 'crashes': 0, 'controller_kills': 0, 'refused_while_module_lived': 0,
                      'apply_crashes': 0, 'setsid_killed': 0, 'overlaps': 0, 'overlap_refusals': 0, 'settles': 0, 'partial_rounds': 0,
                      'in_flight_at_kill': 0, 'waited': 0.0}
        self.landed = dict((name, 0) for name in killer.MOMENTS)

    # ------------------------------------------------------------------ checks

    def in_flight(self):
        return self.simulator.call('GET', '/__sim/in-flight')

    def wait_nothing_in_flight(self, what):
        """Until no change is IN_PROGRESS and no API request unanswered, twice in a row (a request a killed
        process sent may still be on its way in)."""
        start = time.monotonic()
        quiet = 0
        while quiet < 2:
            now = self.in_flight()
            quiet = quiet + 1 if now['changesInProgress'] == 0 and now['apiRequests'] == 0 else 0
            assert time.monotonic() - start < IN_FLIGHT_TIMEOUT, \
                '%s: the simulator still has changes in flight after %ds: %s' % (what, IN_FLIGHT_TIMEOUT, now)
            time.sleep(0.05)
        self.stats['waited'] = max(self.stats['waited'], time.monotonic() - start)

    def check_nothing_lost(self, number, kind):
        self.wait_nothing_in_flight('round %d (%s)' % (number, kind))
        lost = unaccounted(self.simulator, self.accounts, read_store(self.workdir), allow_pending=True,
                           baseline=self.baseline)
        assert lost == [], 'round %d (%s): live password in neither current nor pending: %s' % (number, kind, lost)

    def faults(self, partial):
        source = self.rng.choice(SYNC_SOURCES) if partial else None
        self.stats['partial_rounds'] += bool(partial)
        self.simulator.set_faults(fault_mix(self.rng.randrange(1 << 30), source))

    # ------------------------------------------------------------------ rounds

    def kill_round(self, number, aim, how):
        self.faults(partial=self.rng.random() < 0.5)
        k = self.rng.randint(*APPLY_K)
        what = 'round %d: %s kill at %s' % (number, how, 'apply %d' % k if aim == 'apply' else aim)
        progress = killer.Progress(self.simulator, self.workdir)
        run = Run(self.ansible, self.extra, 'round-%02d' % number)
        try:
            killer.wait_for(killer.moment(progress, aim, k=k), timeout=240, proc=run.proc, what=what)
        except killer.Missed:
            killer.crash(run.proc)
            run.wait()
            raise
        if how == 'controller':
            self.kill_controller(run, progress, what)
        else:
            report = killer.crash(run.proc)  # asserts that nothing survived
            if report.root is not None:
                self.stats['crashes'] += 1
                if aim == 'apply':
                    self.stats['apply_crashes'] += 1
                    self.stats['setsid_killed'] += bool(report.other_sessions())
            self.stats['in_flight_at_kill'] += self.in_flight()['changesInProgress'] > 0
            run.wait()
            self.wait_nothing_in_flight(what)  # the phase is judged once the changes in flight landed
            self.judge(progress, aim, what)
        self.stats['kills'] += 1
        self.check_nothing_lost(number, what)

    def judge(self, progress, aim, what):
        assert landed_in(progress, aim), '%s: the kill landed outside that phase (%s)' % (what, describe(progress))
        self.landed[aim] += 1

    def kill_controller(self, run, progress, what):
        """Kill the controller alone at 'apply': the module lives on. It is frozen while another run starts, which
        the lease must refuse (the module's phase is still running) and which must change nothing."""
        survivors = killer.kill_controller_only(run.proc)
        self.stats['controller_kills'] += 1
        frozen = survivors.alive()
        signal_all(frozen, signal.SIGSTOP)
        try:
            modules = modules_alive(survivors)
            assert modules, '%s: no module outlived its controller: %s' % (what, frozen)
            self.judge(progress, 'apply', what)  # the frozen module is where the kill left it
            sent, store = self.simulator.requests_of('set_password'), store_bytes(self.workdir)
            second = self.ansible.run(ROTATE, self.extra, timeout=300)
            assert second.returncode != 0 and MODULE_LIVES in second.stdout, \
                '%s: a run started while the module lived was not refused:\n%s' % (what, second.stdout[-3000:])
            assert self.simulator.requests_of('set_password') == sent and store_bytes(self.workdir) == store, \
                '%s: the refused run sent or escrowed something' % what
            self.stats['refused_while_module_lived'] += 1
        finally:
            signal_all(frozen, signal.SIGCONT)
        wait_modules_gone(survivors)
        survivors.kill()  # the worker left waiting on its dead controller's pipe
        run.wait()

    def overlap_round(self, number):
        self.faults(partial=True)
        self.stats['overlaps'] += 1
        first = Run(self.ansible, self.extra, 'round-%02d-a' % number)
        lease_file = os.path.join(self.workdir, 'rotation', 'ledger.json.lease')
        if self.rng.random() < 0.5:
            wait_for(lambda: os.path.exists(lease_file), 60, first.proc)
        else:
            time.sleep(self.rng.uniform(0, 0.3))
        second = Run(self.ansible, self.extra, 'round-%02d-b' % number)
        codes = (first.wait(), second.wait())
        refused = [r for r in (first, second) if REFUSED in r.output()]
        assert len(refused) == 1, 'round %d: exactly one of two overlapping runs must be refused (%s)\n%s' % (
            number, codes, first.output()[-2000:] + second.output()[-2000:])
        worker = second if refused[0] is first else first
        assert worker.proc.returncode == 0, worker.output()[-4000:]
        self.stats['overlap_refusals'] += 1
        self.check_nothing_lost(number, 'overlap')

    def converge(self, runs_allowed, clean):
        """Clean runs without faults until live == current everywhere and nothing is pending; (done, runs, result)."""
        self.simulator.set_faults({})
        converged, runs, result = False, 0, None
        while not converged and runs < runs_allowed:
            runs += 1
            result = self.ansible.run(ROTATE, clean, timeout=600)
            self.wait_nothing_in_flight('clean run %d' % runs)
            store = read_store(self.workdir)
            converged = (result.returncode == 0 and not store_pending(self.workdir)
                         and unaccounted(self.simulator, self.accounts, store, allow_pending=False) == [])
        return converged, runs, result

    def settle_round(self, number):
        # the killed runs' FAILED changes (fail_rate) are reported as failed by the run that reads them: not a fault
        # of this one. Nothing may end unknown or unverified.
        converged, _runs, result = self.converge(1, dict(self.clean, service_account_rotation_fail_on=['unknown', 'unverified']))
        assert converged, 'round %d: one clean run did not settle what the kills left (rc %d; pending %s; not current %s)\n%s' % (
            number, result.returncode, sorted(store_pending(self.workdir)),
            unaccounted(self.simulator, self.accounts, read_store(self.workdir), allow_pending=False),
            result.stdout[-4000:])
        self.stats['settles'] += 1


def test_chaos_loses_nothing_and_converges(simulator_factory, workdir, capsys):
    simulator = simulator_factory('--seed', SEED_FILE, '--rate-limit', '5000', '--rate-window', '1',
                                  '--completion-delay', '0.3')
    ansible = PlaybookRunner(workdir, simulator)
    # a crash leaves the killed module's payload directory behind: keep those inside the workdir
    temp = {'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'remote-tmp'), 'TMPDIR': os.path.join(workdir, 'tmp')}
    for path in temp.values():
        os.makedirs(path, exist_ok=True)
    plain_env = ansible.env
    ansible.env = lambda **extra: plain_env(**dict(temp, **extra))
    rng = random.Random(CHAOS_SEED)
    chaos = Chaos(simulator, ansible, workdir, rng)
    accounts = chaos.accounts
    assert len(accounts) >= 100
    assert sum(1 for a in accounts if a.get('account_id')) >= 2, 'an identity with two accounts on one source'
    assert len(set(a['source_name'] for a in accounts if a['user_name'].startswith('svc-tri-'))) >= 3
    assert len(chaos.listed) == len(accounts) - 1 and UNLISTED[1].startswith('svc-tri-') and UNLISTED[0] in SYNC_SOURCES
    rounds = schedule(rng, KILLS, OVERLAPS)
    for number, (kind, aim, how) in enumerate(rounds):
        if kind == 'kill':
            chaos.kill_round(number, aim, how)
        elif kind == 'overlap':
            chaos.overlap_round(number)
        else:
            chaos.settle_round(number)

    converged, runs, result = chaos.converge(3, chaos.clean)
    wrong = [key_of(a) for a in accounts if key_of(a) not in read_store(workdir)]
    partly = [r for r in simulator.call('GET', '/__sim/requests')['requests']
              if r['state'] == 'FAILED' and any('simulated failing source' in e for e in r['errors'])]
    stats, landed = chaos.stats, chaos.landed
    with capsys.disabled():
        print('\nchaos: seed=%d rounds=%d kills=%d (landed in their phase=%d: %s; crash=%d, '
              'apply crashes that killed a setsid worker=%d/%d, controller-only=%d, refused while the module lived=%d, '
              'changes in flight at a crash=%d, longest wait for '
              'them=%.1fs) overlaps=%d refused=%d settle-rounds=%d partial-fail rounds=%d (sync changes '
              'failed on one source=%d) accounts=%d (unlisted=1) set-passwords=%d clean-runs=%d lost=0 converged=%s'
              % (CHAOS_SEED, len(rounds), stats['kills'], sum(landed.values()),
                 ' '.join('%s=%d' % (n, landed[n]) for n in killer.MOMENTS), stats['crashes'], stats['setsid_killed'],
                 stats['apply_crashes'], stats['controller_kills'], stats['refused_while_module_lived'], stats['in_flight_at_kill'],
                 stats['waited'], stats['overlaps'], stats['overlap_refusals'], stats['settles'],
                 stats['partial_rounds'], len(partly), len(accounts), simulator.requests_of('set_password'), runs,
                 'yes' if converged else 'no'))
    assert converged, result.stdout[-6000:]
    assert wrong == []
    kills = [r for r in rounds if r[0] == 'kill']
    assert stats['kills'] == sum(landed.values()) == len(kills) >= KILLS and stats['overlaps'] == OVERLAPS
    # every controller-only kill left a module running, and the run started then was refused
    assert stats['refused_while_module_lived'] == stats['controller_kills'] >= min(KILLS, 1)
    if KILLS >= 4:
        assert all(landed[n] for n in killer.MOMENTS), landed
        # the crashes took down Ansible's setsid()'d worker with the module it ran, not only the process group
        assert stats['setsid_killed'] == stats['apply_crashes'] >= 1
    if OVERLAPS:
        assert partly, 'no sync-group change failed on one source while the others applied it'
