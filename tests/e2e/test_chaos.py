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

World rounds (issue 22), one of each kind (CHAOS_WORLD; CHAOS_WORLD_KINDS picks kinds), among the others:

- sync_group_round: two forced runs (changes reach the group as it is at completion, --sync-fanout
  completion): the sync group loses a member while the first plans (the N-th query-password-info answered,
  /__sim/triggers; after the plan read the groups, before any send) and gains it back while the second plans;
  each run passes and the loss check covers every member, the unlisted one included;
- policy_round: every change of a forced run is applied with its answer lost (unknown outcome); then
  Chaos-LDAP's policy tightens to 60 characters, longer than any pending password. It is never relaxed:
  every later round and the final convergence run under it. One clean run must supersede each refused
  pending password with a compliant one (report 'superseded', the refused one kept as previous);
- delete_round: a crash mid-apply, then the world deletes an account whose password is pending (it stays in
  the accounts file). From then on the loss check wants its last live password in its entry or the store's
  archive; after the next (clean) run, in the archive only, with the entry gone and the row 'retired';
- check_round: a crash mid-apply, then a --check run: exit 0, says it takes over nothing, and leaves every
  lease and lock file, the ledger and the store byte for byte, sending nothing, and so does a --check run started from
  another directory without rotation_state_dir; the next round takes over;
- elsewhere_round: while a forced run holds the lease, the playbook started from another directory without
  rotation_state_dir (same XDG_STATE_HOME) is refused naming the same directory; then a clean run from there
  settles what the first left. (All other runs pass that default directory as rotation_state_dir;
  <workdir>/rotation is a symlink to it for the helpers.)

Faults: every round but settle has the fault mix; overlap rounds and some kill rounds also fail one
source of the sync group (`fail_sources`: the other members apply the change, ISC reports FAILED), the
only way a wrong discard loses a password. Before every loss check the test waits until the simulator
has no change IN_PROGRESS and no API request unanswered (GET /__sim/in-flight): the changes in flight
at a kill land first, so a loss confined to them is seen before the next forced round overwrites it.

Then the faults are switched off and clean runs must converge. Prints `chaos: ... lost=0 converged=yes`.
CHAOS_SEED, CHAOS_KILLS (default 10) and CHAOS_OVERLAPS (default 3) change the schedule.

The rounds are dealt to CHAOS_PARTS (default 2) parts, each a test of its own with its own simulator and state
directory and the seed CHAOS_SEED + part, so that the parts run at the same time on two pytest-xdist workers
(chaos mostly waits). Together they play every round of the whole schedule; CHAOS_PARTS=1 plays it as one.
"""

import os
import random
import signal
import subprocess
import time

import pytest

import killer
from hostile_helpers import rows
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import REPO, PlaybookRunner
from rotation_helpers import ROTATE, baseline_hashes, key_of, read_store, rotate_vars, sha, unaccounted, write_accounts
from test_run_state import default_dir, no_state_dir, snapshot
from test_settlement import full_store, tighten_policy

SEED_FILE = os.path.join(REPO, 'tests', 'e2e', 'data', 'chaos_seed.yaml')
CHAOS_SEED = int(os.environ.get('CHAOS_SEED', '20261130'))
KILLS = int(os.environ.get('CHAOS_KILLS', '10'))
OVERLAPS = int(os.environ.get('CHAOS_OVERLAPS', '3'))
WORLD = int(os.environ.get('CHAOS_WORLD', '1'))  # rounds of each world kind
SYNC_MOMENT = os.environ.get('CHAOS_SYNC_MOMENT', 'either')  # 'set_password', 'running' or 'either' (sync_group_round)
WORLD_KINDS = tuple(os.environ.get('CHAOS_WORLD_KINDS', 'sync_group,policy,delete,check,elsewhere').split(','))
PARTS = max(1, int(os.environ.get('CHAOS_PARTS', '2')))
SYNC_GROUP = 'Tri Sync'
TIGHTENED = ('Chaos-LDAP', 60)  # (source, minLength) of the first policy round (20 more each later one): never relaxed
# sources whose accounts the delete round may delete (not the sync group, not the identity with two accounts)
DELETABLE = ('Chaos-AD', 'Chaos-LDAP', 'Tiny-DB')
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


def share(total, part):
    """Part ``part``'s share of ``total`` rounds dealt to PARTS parts (the first parts get the remainder)."""
    return total // PARTS + (part < total % PARTS)


def schedule(rng, kills, overlaps, world=0, kinds=WORLD_KINDS):
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
    units += [[(kind, None, None)] for kind in kinds] * world
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

    def __init__(self, simulator, ansible, workdir, rng, state):
        self.simulator, self.ansible, self.workdir, self.rng, self.state = simulator, ansible, workdir, rng, state
        self.accounts = chaos_accounts(simulator)  # every account, listed or not: all are checked
        self.listed = [a for a in self.accounts if (a['source_name'], a['user_name']) != UNLISTED]
        self.extra = rotate_vars(workdir, write_accounts(workdir, self.listed), service_account_rotation_force=True,
                                 service_account_rotation_poll_interval=0.3, service_account_rotation_wait_timeout=15,
                                 service_account_rotation_fail_on=[], isc_rate_limit=5000, isc_rate_window=1,
                                 rotation_state_dir=state)
        self.clean = dict(self.extra, service_account_rotation_force=False,
                          service_account_rotation_fail_on=['failed', 'unknown', 'unverified'])
        self.baseline = baseline_hashes(simulator, self.accounts)
        self.stats = {'kills': 0, 'crashes': 0, 'controller_kills': 0, 'refused_while_module_lived': 0,
                      'apply_crashes': 0, 'setsid_killed': 0, 'overlaps': 0, 'overlap_refusals': 0, 'settles': 0, 'partial_rounds': 0,
                      'in_flight_at_kill': 0, 'waited': 0.0, 'group_changes': 0, 'superseded': 0, 'policy_rounds': 0, 'retired': 0,
                      'checks_after_crash': 0, 'elsewhere_refused': 0, 'elsewhere_settled': 0}
        self.deleted = {}  # key -> the live password's hash when the world deleted the account
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
        gone = self.deleted_not_held()
        assert gone == [], 'round %d (%s): a deleted account\'s last password is in neither its entry nor the archive: %s' % (
            number, kind, gone)

    def deleted_not_held(self, retired=False):
        """Deleted accounts whose last live password the store holds nowhere: in the entry (current or pending) or in
        the archive; with retired, only the archive counts and the entry must be gone (consumers find no current).
        As in the loss check, a password never changed (the seed's) is not counted; the archive must hold the key."""
        document, wrong = full_store(self.workdir), []
        for key, digest in sorted(self.deleted.items()):
            entry = document['accounts'].get(key)
            archived = document.get('archive', {}).get(key, [])
            held = ([entry] if entry and not retired else []) + archived
            never_changed = self.baseline.get(key) == digest
            if (retired and (entry or not archived)) or not (never_changed or any(
                    sha(e[f]) == digest for e in held for f in ('current', 'pending') if e.get(f))):
                wrong.append(key)
        return wrong

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

    def settled_sends(self, quiet=1.0, limit=10.0):
        """The set-password count once it has not moved for `quiet` s: a request the frozen module wrote to its socket
        just before SIGSTOP still reaches the simulator after the freeze (found once: 844 == 843)."""
        count, since, start = self.simulator.requests_of('set_password'), time.monotonic(), time.monotonic()
        while time.monotonic() - since < quiet and time.monotonic() - start < limit:
            time.sleep(0.2)
            now = self.simulator.requests_of('set_password')
            if now != count:
                count, since = now, time.monotonic()
        return count

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
            sent, store = self.settled_sends(), store_bytes(self.workdir)
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

    def settle_or_fail(self, number, what):
        """One clean run without faults must converge (settle_round's rule); its report rows."""
        self.settle_round(number)
        return rows(self.workdir)

    # ------------------------------------------------------------------ world rounds

    def sync_group_round(self, number):
        """Two forced runs, changes reaching the group as it is at completion (--sync-fanout completion): the sync
        group loses a member while the first plans (its N-th query-password-info answered, /__sim/triggers: after the
        plan read the groups, before anything is sent) and gains it back while the second plans (its N'-th). Each run
        must pass and the loss check cover every member, the unlisted one included. With CHAOS_SYNC_MOMENT=running the
        member joins instead when the test first sees a change of the group's identities IN_PROGRESS, in one forced
        run (the change held back at the plan is planned again as two changes of each identity, and the first of them
        then reaches the member too: the README's former known gap). The default, either, draws one of the two per
        round (from a generator of its own, so that the other rounds' draws do not move)."""
        self.faults(partial=False)
        leaving = self.rng.choice(SYNC_SOURCES)
        staying = [name for name in SYNC_SOURCES if name != leaving]
        running = SYNC_MOMENT == 'running' or (SYNC_MOMENT == 'either' and random.Random(CHAOS_SEED * 1000 + number).random() < 0.5)
        self.simulator.call('PUT', '/__sim/config', dict({'sync_fanout': 'completion'}, **({'completion_delay': 2} if running else {})))
        try:
            if not running:
                for part, sources in (('a', staying), ('b', list(SYNC_SOURCES))):
                    self.sync_group_run(number, part, sources, '%s %s' % (leaving, 'leaves' if part == 'a' else 'joins again'))
                return
            self.sync_group_run(number, 'a', staying, '%s leaves' % leaving, running=True)
        finally:
            self.simulator.call('PUT', '/__sim/config', {'sync_fanout': 'submit', 'completion_delay': 0.3})

    def sync_group_run(self, number, part, sources, change, running=False):
        query_at = self.rng.randint(1, 80)
        joins = {'operation': 'password_change_status', 'count': 1, 'moment': 'before', 'sync_group': SYNC_GROUP,
                 'sources': list(SYNC_SOURCES)}
        self.simulator.call('PUT', '/__sim/triggers', {'triggers': [
            {'operation': 'query_password_info', 'count': query_at, 'moment': 'after', 'sync_group': SYNC_GROUP,
             'sources': sources}]})
        what = 'round %d%s: %s %s at query %d%s' % (number, part, change, SYNC_GROUP, query_at,
                                                    ', joins again while a change runs' if running else '')
        seen = set(r['requestId'] for r in self.simulator.call('GET', '/__sim/requests')['requests'])

        def group_change_running():
            return [r for r in self.simulator.call('GET', '/__sim/requests')['requests']
                    if r['requestId'] not in seen and r['state'] == 'IN_PROGRESS' and r['userName'].startswith('svc-tri-')]

        fired = []
        run = Run(self.ansible, self.extra, 'round-%02d%s' % (number, part))
        if running:
            try:
                killer.wait_for(group_change_running, timeout=240, interval=0.05, proc=run.proc,
                                what='%s: a change of the group running' % what)
            except killer.Missed:
                killer.crash(run.proc)
                run.wait()
                raise
            fired += self.simulator.call('GET', '/__sim/triggers')['fired']
            self.simulator.call('PUT', '/__sim/triggers', {'triggers': [joins]})
        code = run.wait()
        self.wait_nothing_in_flight(what)
        fired += self.simulator.call('GET', '/__sim/triggers')['fired']
        assert [f['applied'] for f in fired] == [True] * (1 + running), '%s: %s' % (what, fired)
        self.check_nothing_lost(number, what)
        assert code == 0, '%s:\n%s' % (what, run.output()[-4000:])
        self.stats['group_changes'] += 1 + running

    def policy_round(self, number):
        """Every change of a forced run is applied but its answer lost (unknown outcome); then the policy of
        Chaos-LDAP tightens beyond the pending passwords' length (and stays so for the rest of the test: every later
        round and the final convergence run under it). One clean run must supersede each of them with a fresh
        compliant password, keeping the refused one as previous, and converge."""
        source, min_length = TIGHTENED[0], TIGHTENED[1] + 20 * self.stats['policy_rounds']
        self.simulator.set_faults({'random_seed': self.rng.randrange(1 << 30), 'set_password': {'drop_after_accept_rate': 1.0}})
        what = 'round %d: unknown outcomes, then %s needs %d characters' % (number, source, min_length)
        run = Run(self.ansible, self.extra, 'round-%02d' % number)
        assert run.wait() == 0, '%s:\n%s' % (what, run.output()[-4000:])
        self.check_nothing_lost(number, what)
        store = read_store(self.workdir)
        refused = dict((key_of(a), store[key_of(a)]['pending']) for a in self.listed if a['source_name'] == source
                       and store.get(key_of(a), {}).get('pending') and len(store[key_of(a)]['pending']) < min_length)
        assert refused, '%s: no pending password the tightened policy refuses' % what
        tighten_policy(self.simulator, source, min_length)
        report = self.settle_or_fail(number, what)
        store = read_store(self.workdir)
        wrong = [(key, report[key]['status']) for key, old in sorted(refused.items())
                 if report[key]['status'] != 'superseded' or store[key].get('previous') != old
                 or len(store[key]['current']) < min_length]
        assert wrong == [], '%s: not superseded by a compliant password: %s' % (what, wrong)
        self.stats['superseded'] += len(refused)
        self.stats['policy_rounds'] += 1

    def delete_round(self, number):
        """A forced run crashes mid-apply; then the world deletes an account whose password is pending (it stays in
        the accounts file). Its last live password must be held (now: entry; after the next run: the archive, the
        entry gone, the row retired), every later check included; the other accounts converge."""
        self.kill_round(number, 'apply', 'crash')
        store = read_store(self.workdir)
        # any account whose password is pending: its change may have FINISHED or FAILED before the deletion, or never
        # reached it; the next run settles that change, then archives whatever it left (applied or not)
        pending = [a for a in self.accounts if a['source_name'] in DELETABLE and not a.get('account_id')
                   and store.get(key_of(a), {}).get('pending')]
        assert pending, 'round %d: no pending account to delete' % number
        victim = self.rng.choice(pending)
        deleted = self.simulator.call('POST', '/__sim/delete-account', {'userName': victim['user_name'],
                                                                        'sourceName': victim['source_name']})['deleted']
        assert len(deleted) == 1, deleted
        what = 'round %d: %s deleted while pending' % (number, key_of(victim))
        self.accounts.remove(victim)
        self.deleted[key_of(victim)] = deleted[0]['passwordSha256']
        self.check_nothing_lost(number, what)
        report = self.settle_or_fail(number, what)
        assert report[key_of(victim)]['status'] == 'retired', '%s: %s' % (what, report[key_of(victim)])
        assert self.deleted_not_held(retired=True) == [], '%s: not archived (or its entry kept)' % what
        self.stats['retired'] += 1

    def check_round(self, number):
        """A forced run crashes mid-apply; a --check run then reads and reports, but takes over no lease, writes no
        lease, lock, store or ledger and sends nothing. The next round's run takes over what the crash left."""
        self.kill_round(number, 'apply', 'crash')
        what = 'round %d: --check after an apply crash' % number
        before, sent, store = snapshot(self.state), self.simulator.requests_of('set_password'), store_bytes(self.workdir)
        assert 'ledger.json.lease' in before, '%s: the crash left no lease (%s)' % (what, sorted(before))
        ledger = self.ledger_bytes()
        time.sleep(0.05)  # a rewrite of the same bytes would show in mtime_ns
        check = self.ansible.run(ROTATE, dict(self.clean, service_account_rotation_fail_on=[]), check=True, timeout=300)
        assert check.returncode == 0, '%s:\n%s' % (what, check.stdout[-4000:])
        assert snapshot(self.state) == before, '%s: the check run changed a lease or lock file' % what
        assert self.ledger_bytes() == ledger, '%s: the check run wrote the ledger or its journal' % what
        assert 'check run takes over nothing' in check.stdout + check.stderr, '%s:\n%s' % (what, check.stdout[-4000:])
        assert self.simulator.requests_of('set_password') == sent and store_bytes(self.workdir) == store, \
            '%s: the check run sent or escrowed something' % what
        # the same from another working directory without rotation_state_dir: it finds the crashed run's state directory
        # (XDG_STATE_HOME, tenant) and leaves it as it is, writing nothing where it was started either
        elsewhere = self.run_elsewhere(dict(self.clean, service_account_rotation_fail_on=[]), 'round-%02d-check-elsewhere' % number,
                                       check=True)
        assert elsewhere.returncode == 0 and 'check run takes over nothing' in elsewhere.stdout + elsewhere.stderr, \
            '%s, from another directory:\n%s' % (what, elsewhere.stdout[-4000:])
        assert snapshot(self.state) == before and self.ledger_bytes() == ledger and store_bytes(self.workdir) == store \
            and self.simulator.requests_of('set_password') == sent, '%s: the check run from another directory wrote or sent' % what
        self.stats['checks_after_crash'] += 1
        self.check_nothing_lost(number, what)

    def ledger_bytes(self):
        out = {}
        for name in ('ledger.json', 'ledger.json.journal'):
            try:
                with open(os.path.join(self.state, name), 'rb') as handle:
                    out[name] = handle.read()
            except FileNotFoundError:
                out[name] = None
        return out

    def run_elsewhere(self, values, name, check=False):
        """The shipped playbook started from another directory, no rotation_state_dir: the default state directory
        of the same HOME / XDG_STATE_HOME and tenant."""
        other = os.path.join(self.workdir, 'elsewhere')
        os.makedirs(other, exist_ok=True)
        result = subprocess.run(self.ansible.command(ROTATE, no_state_dir(values), check=check), cwd=other, env=self.ansible.env(),
                                capture_output=True, text=True, timeout=600, check=False)
        with open(os.path.join(self.workdir, '%s.log' % name), 'w') as handle:
            handle.write(result.stdout + result.stderr)
        assert os.listdir(other) == [], 'a run wrote to its working directory: %s' % os.listdir(other)
        return result

    def elsewhere_round(self, number):
        """While a forced run holds the lease, the playbook started from another directory without rotation_state_dir
        is refused by that lease (naming the same directory); once it ended, a clean run from there settles what it
        left (the same ledger and store: converged, nothing pending)."""
        self.faults(partial=self.rng.random() < 0.5)
        what = 'round %d: a run from another directory' % number
        sent = self.simulator.requests_of('set_password')
        first = Run(self.ansible, self.extra, 'round-%02d' % number)
        try:
            killer.wait_for(lambda: self.simulator.requests_of('set_password') > sent, timeout=240, proc=first.proc,
                            what='%s: the first run sends' % what)
        except killer.Missed:
            killer.crash(first.proc)
            first.wait()
            raise
        # frozen while the second starts: on a loaded machine the first could end (and give the lease back) before
        # the second reaches the lease, and the round would prove nothing
        os.killpg(first.proc.pid, signal.SIGSTOP)
        try:
            assert first.proc.poll() is None, '%s: the first run ended before it could be held' % what
            second = self.run_elsewhere(self.clean, 'round-%02d-elsewhere' % number)
        finally:
            os.killpg(first.proc.pid, signal.SIGCONT)
        assert second.returncode != 0 and 'another rotation is running on %s' % self.state in second.stdout, \
            '%s: not refused by the lease:\n%s' % (what, second.stdout[-3000:])
        assert first.wait() == 0, first.output()[-4000:]
        self.stats['elsewhere_refused'] += 1
        self.check_nothing_lost(number, what)
        self.simulator.set_faults({})
        settle = self.run_elsewhere(dict(self.clean, service_account_rotation_fail_on=['unknown', 'unverified']),
                                    'round-%02d-elsewhere-settle' % number)
        self.wait_nothing_in_flight(what)
        left = unaccounted(self.simulator, self.accounts, read_store(self.workdir), allow_pending=False)
        assert settle.returncode == 0 and not store_pending(self.workdir) and left == [], \
            '%s: the run from there did not settle the state (rc %d, pending %s, not current %s)\n%s' % (
                what, settle.returncode, sorted(store_pending(self.workdir)), left, settle.stdout[-4000:])
        self.stats['elsewhere_settled'] += 1


@pytest.mark.parametrize('part', range(PARTS))
def test_chaos_loses_nothing_and_converges(simulator_factory, workdir, capsys, part):
    kills, overlaps = share(KILLS, part), share(OVERLAPS, part)
    kinds = WORLD_KINDS[part::PARTS]  # each world kind in one part
    simulator = simulator_factory('--seed', SEED_FILE, '--rate-limit', '5000', '--rate-window', '1',
                                  '--completion-delay', '0.3')
    ansible = PlaybookRunner(workdir, simulator)
    # a crash leaves the killed module's payload directory behind: keep those inside the workdir
    temp = {'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'remote-tmp'), 'TMPDIR': os.path.join(workdir, 'tmp'),
            'XDG_STATE_HOME': os.path.join(workdir, 'xdg-state')}
    for path in temp.values():
        os.makedirs(path, exist_ok=True)
    plain_env = ansible.env
    ansible.env = lambda **extra: plain_env(**dict(temp, **extra))
    # every run names the default state directory of this XDG_STATE_HOME and tenant (rotation_state_dir), but for
    # the run from another directory, which finds it on its own; the helpers read it through <workdir>/rotation
    state = default_dir(workdir, simulator)
    os.makedirs(state, 0o700)
    os.symlink(state, os.path.join(workdir, 'rotation'))
    rng = random.Random(CHAOS_SEED + part)
    chaos = Chaos(simulator, ansible, workdir, rng, state)
    accounts = chaos.accounts
    assert len(accounts) >= 100
    assert sum(1 for a in accounts if a.get('account_id')) >= 2, 'an identity with two accounts on one source'
    assert len(set(a['source_name'] for a in accounts if a['user_name'].startswith('svc-tri-'))) >= 3
    assert len(chaos.listed) == len(accounts) - 1 and UNLISTED[1].startswith('svc-tri-') and UNLISTED[0] in SYNC_SOURCES
    rounds = schedule(rng, kills, overlaps, WORLD, kinds)
    for number, (kind, aim, how) in enumerate(rounds):
        if kind == 'kill':
            chaos.kill_round(number, aim, how)
        elif kind == 'overlap':
            chaos.overlap_round(number)
        elif kind == 'settle':
            chaos.settle_round(number)
        else:
            getattr(chaos, kind + '_round')(number)

    converged, runs, result = chaos.converge(3, chaos.clean)
    wrong = [key_of(a) for a in accounts if key_of(a) not in read_store(workdir)]
    not_archived = chaos.deleted_not_held(retired=True)
    partly = [r for r in simulator.call('GET', '/__sim/requests')['requests']
              if r['state'] == 'FAILED' and any('simulated failing source' in e for e in r['errors'])]
    stats, landed = chaos.stats, chaos.landed
    with capsys.disabled():
        print('\nchaos: part %d/%d seed=%d rounds=%d kills=%d (landed in their phase=%d: %s; crash=%d, '
              'apply crashes that killed a setsid worker=%d/%d, controller-only=%d, refused while the module lived=%d, '
              'changes in flight at a crash=%d, longest wait for '
              'them=%.1fs) overlaps=%d refused=%d settle-rounds=%d partial-fail rounds=%d (sync changes '
              'failed on one source=%d) world: sync-group changes=%d superseded=%d retired=%d check-after-crash=%d '
              'elsewhere refused=%d settled=%d; accounts=%d (unlisted=1, deleted=%d) set-passwords=%d clean-runs=%d '
              'lost=0 converged=%s'
              % (part + 1, PARTS, CHAOS_SEED + part, len(rounds), stats['kills'], sum(landed.values()),
                 ' '.join('%s=%d' % (n, landed[n]) for n in killer.MOMENTS), stats['crashes'], stats['setsid_killed'],
                 stats['apply_crashes'], stats['controller_kills'], stats['refused_while_module_lived'], stats['in_flight_at_kill'],
                 stats['waited'], stats['overlaps'], stats['overlap_refusals'], stats['settles'],
                 stats['partial_rounds'], len(partly), stats['group_changes'], stats['superseded'], stats['retired'],
                 stats['checks_after_crash'], stats['elsewhere_refused'], stats['elsewhere_settled'],
                 len(accounts) + len(chaos.deleted), len(chaos.deleted), simulator.requests_of('set_password'), runs,
                 'yes' if converged else 'no'))
    assert converged, result.stdout[-6000:]
    assert wrong == [] and not_archived == []
    killed = [r for r in rounds if r[0] in ('kill', 'delete', 'check')]  # the delete and check rounds crash a run first
    assert stats['kills'] == sum(landed.values()) == len(killed) >= kills and stats['overlaps'] == overlaps
    # every controller-only kill left a module running, and the run started then was refused
    assert stats['refused_while_module_lived'] == stats['controller_kills'] >= min(kills, 1)
    if kills >= 4:
        assert all(landed[n] for n in killer.MOMENTS), landed
        # the crashes took down Ansible's setsid()'d worker with the module it ran, not only the process group
        assert stats['setsid_killed'] == stats['apply_crashes'] >= 1
    world = dict((kind, sum(1 for r in rounds if r[0] == kind)) for kind in kinds)
    assert world == dict((kind, WORLD) for kind in kinds), world
    done = dict((kind, world.get(kind, 0)) for kind in ('sync_group', 'policy', 'delete', 'check', 'elsewhere'))
    assert (stats['group_changes'], stats['policy_rounds'], stats['retired'], stats['checks_after_crash'],
            stats['elsewhere_refused'], stats['elsewhere_settled']) == (
        2 * done['sync_group'], done['policy'], done['delete'], done['check'], done['elsewhere'], done['elsewhere'])
    assert stats['superseded'] >= done['policy']
    if overlaps:
        assert partly, 'no sync-group change failed on one source while the others applied it'
