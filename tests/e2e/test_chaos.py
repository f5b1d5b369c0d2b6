"""Chaos: kills at moments that write, overlapping runs and the simulator's fault mix, on one state
directory; after every round every account's live password must be in the store.

The fleet (tests/e2e/data/chaos_seed.yaml, 110 accounts) has a password sync group of three
sources, an identity with two accounts on one source and a source whose passwords are at most
eight characters. Rounds, in a seeded random order:

- kill rounds: a forced rotation is killed when it reaches a moment chosen by progress (escrow
  written, k of N set-passwords sent, commit written): either a crash (the controller and every
  descendant, setsid'd workers and the module included) or a controller-only kill (the module lives
  on; a run started meanwhile must be refused by the lease, and the test waits for the module);
- overlap rounds: two forced runs on the same state directory, the second started while the first
  holds the lease (or both at once); exactly one may work, the other is refused and changes nothing.

Then the faults are switched off and clean runs must converge: live == current for every account,
nothing pending. Prints `chaos: ... lost=0 converged=yes`.
CHAOS_SEED, CHAOS_KILLS (default 10) and CHAOS_OVERLAPS (default 3) change the schedule.
"""

import os
import random
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


def fault_mix(seed):
    return {'random_seed': seed,
            'all': {'latency': 0.005, 'latency_jitter': 0.01},
            'query_password_info': {'error_rate': 0.02},
            'set_password': {'drop_after_accept_rate': 0.05, 'fail_rate': 0.05, 'error_rate': 0.02, 'drop_rate': 0.02},
            'password_change_status': {'error_rate': 0.05}}


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


def store_pending(workdir):
    return dict((k, e) for k, e in read_store(workdir).items() if 'pending' in e)


def wait_for(predicate, timeout, proc):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


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
    accounts = chaos_accounts(simulator)
    assert len(accounts) >= 100
    assert sum(1 for a in accounts if a.get('account_id')) >= 2, 'an identity with two accounts on one source'
    assert len(set(a['source_name'] for a in accounts if a['user_name'].startswith('svc-tri-'))) >= 3
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                        service_account_rotation_poll_interval=0.3, service_account_rotation_wait_timeout=15,
                        service_account_rotation_fail_on=[],
                        # the limiter is not what chaos tests: the client's limit matches the simulator's raised one
                        isc_rate_limit=5000, isc_rate_window=1)
    baseline = baseline_hashes(simulator, accounts)
    rng = random.Random(CHAOS_SEED)
    schedule = ['kill'] * KILLS + ['overlap'] * OVERLAPS
    rng.shuffle(schedule)
    stats = {'kills': 0, 'in_writing_phase': 0, 'crashes': 0, 'controller_kills': 0, 'refused_while_module_lived': 0, 'overlaps': 0,
             'overlap_refusals': 0, 'missed_moments': 0}
    lost_total = 0
    for number, kind in enumerate(schedule):
        simulator.set_faults(fault_mix(rng.randrange(1 << 30)))
        if kind == 'kill':
            moment = rng.choice(['escrow', 'apply', 'apply', 'commit'])
            progress = killer.Progress(simulator, workdir)
            run = Run(ansible, extra, 'round-%02d' % number)
            try:
                killer.wait_for(killer.moment(progress, moment, k=rng.randint(1, 80)), timeout=240, proc=run.proc,
                                what='round %d: %s' % (number, moment))
            except killer.Missed:
                stats['missed_moments'] += 1
            if number % 3 == 2:
                survivors = killer.kill_controller_only(run.proc)
                stats['controller_kills'] += 1
                if modules_alive(survivors):
                    # the module goes on; a run started now must be refused and change nothing
                    second = ansible.run(ROTATE, extra, timeout=300)
                    if modules_alive(survivors):
                        assert second.returncode != 0 and 'still running in module process' in second.stdout, \
                            second.stdout[-3000:]
                        stats['refused_while_module_lived'] += 1
                wait_modules_gone(survivors)
                survivors.kill()  # the worker left waiting on its dead controller's pipe
            else:
                killer.crash(run.proc)
                stats['crashes'] += 1
            run.wait()
            if progress.phase():
                stats['in_writing_phase'] += 1
            stats['kills'] += 1
        else:
            stats['overlaps'] += 1
            first = Run(ansible, extra, 'round-%02d-a' % number)
            lease_file = os.path.join(workdir, 'rotation', 'ledger.json.lease')
            if rng.random() < 0.5:
                wait_for(lambda: os.path.exists(lease_file), 60, first.proc)
            else:
                time.sleep(rng.uniform(0, 0.3))
            second = Run(ansible, extra, 'round-%02d-b' % number)
            codes = (first.wait(), second.wait())
            refused = [r for r in (first, second) if REFUSED in r.output()]
            assert len(refused) == 1, 'round %d: exactly one of two overlapping runs must be refused (%s)\n%s' % (
                number, codes, first.output()[-2000:] + second.output()[-2000:])
            worker = second if refused[0] is first else first
            assert worker.proc.returncode == 0, worker.output()[-4000:]
            stats['overlap_refusals'] += 1
        lost = unaccounted(simulator, accounts, read_store(workdir), allow_pending=True, baseline=baseline)
        assert lost == [], 'round %d (%s): live password in neither current nor pending: %s' % (number, kind, lost)
        lost_total += len(lost)

    simulator.set_faults({})
    clean = dict(extra, service_account_rotation_force=False,
                 service_account_rotation_fail_on=['failed', 'unknown', 'unverified'])
    converged, runs = False, 0
    while not converged and runs < 3:
        runs += 1
        result = ansible.run(ROTATE, clean, timeout=600)
        store = read_store(workdir)
        converged = (result.returncode == 0 and not store_pending(workdir)
                     and unaccounted(simulator, accounts, store, allow_pending=False) == [])
    wrong = [key_of(a) for a in accounts if key_of(a) not in read_store(workdir)]
    with capsys.disabled():
        print('\nchaos: seed=%d rounds=%d kills=%d (in a writing phase=%d, crash=%d, controller-only=%d, refused while '
              'the module lived=%d, moments missed=%d) overlaps=%d refused=%d accounts=%d set-passwords=%d clean-runs=%d '
              'lost=%d converged=%s'
              % (CHAOS_SEED, len(schedule), stats['kills'], stats['in_writing_phase'], stats['crashes'], stats['controller_kills'],
                 stats['refused_while_module_lived'], stats['missed_moments'], stats['overlaps'],
                 stats['overlap_refusals'], len(accounts), simulator.requests_of('set_password'), runs, lost_total,
                 'yes' if converged else 'no'))
    assert converged, result.stdout[-6000:]
    assert wrong == []
    assert stats['kills'] >= KILLS and stats['overlaps'] >= OVERLAPS
    assert stats['missed_moments'] <= KILLS // 3, 'most kills must land at their moment'
    assert stats['in_writing_phase'] >= KILLS // 2, 'most kills must land inside a phase that writes'
