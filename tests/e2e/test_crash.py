"""SIGKILL the whole ansible-playbook process tree at random moments of a rotation, re-run to completion,
and check that every account's password at the simulator is in the store (current, or pending
awaiting reconciliation). Prints `lost=<n>` over all kills.

CRASH_KILLS (default 10) sets the number of kills, CRASH_ACCOUNTS (default 120) the fleet size.
"""

import os
import random
import signal
import subprocess
import time

from rotation_helpers import ROTATE, baseline_hashes, fleet, read_store, rotate_vars, unaccounted, write_accounts

KILLS = int(os.environ.get('CRASH_KILLS', '10'))
ACCOUNTS = int(os.environ.get('CRASH_ACCOUNTS', '120'))


def run_and_kill(ansible, extra, delay):
    proc = subprocess.Popen(ansible.command(ROTATE, extra), cwd=ansible.workdir, env=ansible.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signal.SIGKILL)  # the controller dies with every module it was running
    proc.wait()
    return finished


def test_sigkill_at_random_moments_loses_nothing(simulator_factory, workdir, capsys):
    from conftest import PlaybookRunner
    simulator = simulator_factory('--fleet-size', str(ACCOUNTS), '--rate-limit', '2000', '--rate-window', '1',
                                  '--completion-delay', '0.2')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator)
    assert len(accounts) >= 100
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                        service_account_rotation_poll_interval=0.3, service_account_rotation_fail_on=[])
    baseline = baseline_hashes(simulator, accounts)
    lost_total, kills = 0, 0
    rng = random.Random(20261126)
    for round_no in range(KILLS):
        delay = rng.uniform(1.5, 9.0)
        if not run_and_kill(ansible, extra, delay):
            kills += 1
        store = read_store(workdir)
        # Right after the kill: every account's live password is already known to the store.
        lost_now = unaccounted(simulator, accounts, store, allow_pending=True, baseline=baseline)
        done = ansible.run(ROTATE, dict(extra, service_account_rotation_force=False, service_account_rotation_fail_on=['failed', 'unknown']))
        assert done.returncode == 0, 'round %d re-run failed:\n%s' % (round_no, done.stdout[-4000:])
        lost_after = unaccounted(simulator, accounts, read_store(workdir), allow_pending=False)
        lost_total += len(set(lost_now) | set(lost_after))
    with capsys.disabled():  # shown in `make test` output, not only on failure
        print('\ncrash test: kills=%d rounds=%d accounts=%d lost=%d' % (kills, KILLS, len(accounts), lost_total))
        print('lost=%d' % lost_total)
    assert kills >= KILLS // 2, 'most rounds should have been killed mid-run'
    assert lost_total == 0
