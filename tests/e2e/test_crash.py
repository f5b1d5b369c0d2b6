"""Crash a rotation (the controller and every process below it: nothing survives, nothing cleans up) at
moments chosen by its progress in the phases that write, and check that no password is ever lost.

Moments (killer.moment): 'escrow' - the store holds the run's new pending passwords, nothing sent yet;
'apply' - k set-passwords accepted by the simulator, k drawn between 20 % and 80 % of the accounts; 'commit' -
the run after an apply crash committed the finished changes while the others are still pending.
After every kill: every account's live password at the simulator is in the store (current or pending);
then a clean run converges (live == current for every account, nothing pending). The kills that
landed inside the phase they aimed at are counted and must be all of them.

CRASH_KILLS (default 10) sets the number of kills; CRASH_ACCOUNTS (default 40) the bulk accounts the
simulator adds to its seed's 72 service accounts (a sync group of two sources among them).
"""

import os
import random
import subprocess
import time

import killer
from conftest import PlaybookRunner
from killer import no_stray_processes  # autouse: nothing a test starts outlives it # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import ROTATE, baseline_hashes, fleet, read_store, rotate_vars, unaccounted, write_accounts

KILLS = int(os.environ.get('CRASH_KILLS', '10'))
ACCOUNTS = int(os.environ.get('CRASH_ACCOUNTS', '40'))
COMPLETION = 0.2


def schedule(kills):
    """Rounds of kills: an escrow crash, or an apply crash followed by a crash of the next run's commit."""
    rounds, planned = [], 0
    while planned < kills:
        rounds.append(['escrow'] if len(rounds) % 2 == 0 or kills - planned == 1 else ['apply', 'commit'])
        planned += len(rounds[-1])
    return rounds


def temp_env(workdir):
    env = {'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'remote-tmp'), 'TMPDIR': os.path.join(workdir, 'tmp')}
    for path in env.values():
        os.makedirs(path, exist_ok=True)
    return env


class Crasher:
    def __init__(self, simulator, ansible, workdir, accounts, rng):
        self.simulator, self.ansible, self.workdir, self.accounts, self.rng = simulator, ansible, workdir, accounts, rng
        self.kills, self.landed, self.misses, self.setsid_killed, self.runs = [], {}, [], 0, 0
        # what a crashed module leaves (its remote tmp with AnsiballZ, its payload) goes to the workdir
        self.env = temp_env(workdir)

    def run_until(self, extra, name):
        """Start a run, crash it at the named moment; return the phase it was in (judged after the kill)."""
        progress = killer.Progress(self.simulator, self.workdir)
        self.runs += 1
        log = open(os.path.join(self.workdir, 'killed-run-%d.log' % self.runs), 'w')
        proc = killer.spawn(self.ansible.command(ROTATE, extra), cwd=self.workdir, env=self.ansible.env(**self.env),
                            stdout=log, stderr=subprocess.STDOUT)
        aim = name
        try:
            if name == 'apply':
                # a forced run sends one change per account (sync-group members share one), so k < changes: mid-way
                # whatever the run escrowed (or failed to escrow)
                k = max(1, int(self.accounts * self.rng.uniform(0.2, 0.8)))
                aim = 'apply %d/%d' % (k, self.accounts)
                killer.wait_for(killer.moment(progress, 'apply', k), timeout=300, proc=proc, what=aim)
            else:
                killer.wait_for(killer.moment(progress, name), timeout=300, proc=proc, what=name)
        except killer.Missed as exc:
            self.misses.append(str(exc))
        finally:
            report = killer.crash(proc)  # asserts that nothing survived
            log.close()
        if report.root is not None:
            self.kills.append(aim)
            self.setsid_killed += bool(report.other_sessions())
        time.sleep(COMPLETION + 0.3)  # set-passwords in flight at the kill land at the simulator
        phase = progress.phase()
        if phase == name:
            self.landed[name] = self.landed.get(name, 0) + 1
        else:
            self.misses.append('%s: the kill landed in phase %s (accepted=%d escrowed=%d committed=%d pending=%d)' % (
                aim, phase, progress.accepted(), len(progress.escrowed()), len(progress.committed()),
                len(progress.pending())))
        return phase


def test_crash_in_every_writing_phase_loses_no_password(simulator_factory, workdir, capsys):
    simulator = simulator_factory('--fleet-size', str(ACCOUNTS), '--rate-limit', '2000', '--rate-window', '1',
                                  '--completion-delay', str(COMPLETION))
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator)
    assert len(accounts) >= 100
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                        service_account_rotation_poll_interval=0.3, service_account_rotation_fail_on=[],
                        isc_rate_limit=2000, isc_rate_window=1)
    clean = dict(extra, service_account_rotation_force=False, service_account_rotation_fail_on=['failed', 'unknown'])
    baseline = baseline_hashes(simulator, accounts)
    crasher = Crasher(simulator, ansible, workdir, len(accounts), random.Random(20261126))
    lost, unconverged = set(), []
    rounds = schedule(KILLS)
    for round_no, names in enumerate(rounds):
        for index, name in enumerate(names):
            # the first run of a round is forced (every account gets a new password); the commit run after an
            # apply crash is the next scheduled run, which settles what the crashed one left
            crasher.run_until(extra if index == 0 else clean, name)
            missing = unaccounted(simulator, accounts, read_store(workdir), allow_pending=True, baseline=baseline)
            lost.update('round %d after the %s kill: %s' % (round_no, name, key) for key in missing)
        done = ansible.run(ROTATE, clean, env=crasher.env)
        if done.returncode != 0:
            unconverged.append('round %d: the clean run failed:\n%s' % (round_no, done.stdout[-3000:]))
        store = read_store(workdir)
        unconverged.extend('round %d: %s still pending after the clean run' % (round_no, k)
                           for k, entry in sorted(store.items()) if entry.get('pending'))
        # converged: every account's live password is its current one (the pending one does not count)
        lost.update('round %d after the clean run: %s' % (round_no, key)
                    for key in unaccounted(simulator, accounts, store, allow_pending=False))
    landed = sum(crasher.landed.values())
    with capsys.disabled():  # shown in `make test` output, not only on failure
        print('\ncrash test: kills=%d landed=%d (%s) setsid-workers-killed=%d accounts=%d rounds=%d lost=%d' % (
            len(crasher.kills), landed, ' '.join('%s=%d' % (n, crasher.landed.get(n, 0)) for n in killer.MOMENTS),
            crasher.setsid_killed, len(accounts), len(rounds), len(lost)))
    assert sorted(lost) == []
    assert unconverged == []
    assert crasher.misses == [], crasher.misses
    assert len(crasher.kills) == landed == sum(len(names) for names in rounds) >= KILLS
    if KILLS >= 3:
        assert all(crasher.landed.get(n) for n in killer.MOMENTS), crasher.landed
        # the kills took down Ansible's setsid()'d worker with the module it ran, not only the process group
        assert crasher.setsid_killed >= crasher.landed['apply']
