"""A big rotation's job log stays readable: progress while apply runs, a short summary at the end.

2,000 accounts against the simulator (its rate limit raised; apply still takes over a minute here, so it
needs progress lines; each change finishes 3 s after it is sent and is read once). The callback plugin
sailpoint_isc.passwords.rotation_progress is enabled as a user would enable it, with its default interval.
"""

import datetime
import os
import re

import pytest

from conftest import PlaybookRunner, SimulatorProcess
from rotation_helpers import ROTATE, fleet, rotate_vars, write_accounts

PROGRESS = re.compile(r'^rotation progress: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\d+)/(\d+) changes settled')


@pytest.fixture
def simulator(workdir):
    os.makedirs(os.path.join(workdir, 'big-sim'))
    sim = SimulatorProcess(os.path.join(workdir, 'big-sim'), '--fleet-size', '2000', '--rate-limit', '1000',
                           '--rate-window', '1', '--completion-delay', '3')
    yield sim
    sim.stop()


def test_a_2000_account_run_logs_progress_and_a_short_summary(simulator, workdir):
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator, prefix='svc-bulk-')
    assert len(accounts) == 2000
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_batch_size=2000,
                        service_account_rotation_wait_timeout=300,
                        service_account_rotation_poll_interval=5, isc_rate_limit=1000, isc_rate_window=1)
    result = ansible.run(ROTATE, extra, env={'ANSIBLE_CALLBACKS_ENABLED': 'sailpoint_isc.passwords.rotation_progress'},
                         timeout=900)
    log = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(log) < 200, '%d lines:\n%s' % (len(log), result.stdout[-6000:])
    assert 'totals: rotated=2000' in result.stdout
    assert not [line for line in log if 'svc-bulk-' in line], 'per-account lines in the log'

    # progress lines come while apply runs, at most 30 s apart, and say how far it got
    apply_at = next(i for i, line in enumerate(log) if line.startswith('TASK [') and 'Apply and confirm' in line)
    progress = [PROGRESS.match(line) for line in log[apply_at:]]
    progress = [m for m in progress if m]
    assert len(progress) >= 2, result.stdout[-6000:]
    stamps = [datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%SZ') for m in progress]
    assert max((b - a).total_seconds() for a, b in zip(stamps, stamps[1:])) <= 30
    assert all(int(m.group(3)) == 2000 for m in progress)
    assert int(progress[-1].group(2)) >= int(progress[0].group(2))


def test_progress_shows_only_this_runs_lines(simulator_factory, workdir):
    """progress.log keeps earlier runs' lines: the callback's first line is never the previous run's last one."""
    sim = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, sim)
    extra = rotate_vars(workdir, write_accounts(workdir, fleet(sim, limit=3)))
    os.makedirs(extra['rotation_state_dir'])
    with open(os.path.join(extra['rotation_state_dir'], 'progress.log'), 'w') as handle:
        handle.write('2026-01-01T00:00:00Z 9/9 changes settled (0 not FINISHED), 0 in flight - EARLIER RUN (60 s)\n')
    result = ansible.run(ROTATE, extra, env={'ANSIBLE_CALLBACKS_ENABLED': 'sailpoint_isc.passwords.rotation_progress',
                                             'SAIL_ROTATION_PROGRESS_INTERVAL': '1'})
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'totals: rotated=3' in result.stdout, result.stdout[-3000:]
    assert 'EARLIER RUN' not in result.stdout, [line for line in result.stdout.splitlines() if 'EARLIER' in line]
