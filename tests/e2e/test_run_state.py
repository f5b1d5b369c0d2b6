"""Where a rotation keeps its state and how runs hand it on (issue 22, the operator side), through
ansible-playbook against the simulator.

- A --check run after a killed run takes over, writes and releases no lease, so the next real run takes
  both leases over and settles what the killed run left (item 6).
- service_account_rotation_lease_stale_after below three heartbeats is refused before anything is read or
  written (item 10).
- A rotation that changes nothing, and a --check run of it, report changed=0 (item 13).
- The default state directory is per user, tenant and shard, never the working directory: two starts from
  two directories meet at one lease, two spellings of one shard at one directory, and state left in the old
  default ./rotation stops the run with the way to move it (item 2).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import killer
from conftest import PlaybookRunner, write_playbook
from cores import core_venv
from killer import no_stray_processes  # autouse: nothing a test starts outlives it # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import DEFAULT_DIR_PLAY, ROTATE, fleet, read_store, rotate_vars, unaccounted, write_accounts


def recap_changed(stdout):
    """changed= of localhost in the PLAY RECAP (one host, one recap line)."""
    found = re.findall(r'^localhost\s+:.*?changed=(\d+)', stdout, re.MULTILINE)
    assert len(found) == 1, stdout[-3000:]
    return int(found[0])


def snapshot(directory):
    """Every lease and lock file of a state directory: name -> (bytes, mtime_ns)."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if '.lease' in name or name.endswith('.lock') or name.endswith('.holder'):
            path = os.path.join(directory, name)
            with open(path, 'rb') as handle:
                out[name] = (handle.read(), os.stat(path).st_mtime_ns)
    return out


def test_check_run_after_a_killed_run_leaves_the_leases_to_the_next_real_run(simulator_factory, workdir):
    """Item 6: a run crashed mid-apply leaves the run lease and the store lease behind. A --check run reads
    (and says a real run will settle that run), but takes over, writes and releases no lease: every lease
    and lock file is left byte for byte as it was. The next real run takes both over (the store lease from
    the run whose run lease it took over) and settles every account."""
    simulator = simulator_factory('--completion-delay', '0.3', '--rate-limit', '20', '--rate-window', '1')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator, prefix='svc-app-')
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True)
    progress = killer.Progress(simulator, workdir)
    proc = killer.spawn(ansible.command(ROTATE, values), cwd=workdir, env=ansible.env(),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # 3 set-passwords accepted, and the journal holds an ISC request id of the run: a change the next run settles
        # as sent by this one (sent back-to-back, all 3 may still await their answer, and would be re-sent instead)
        killer.wait_for(lambda: progress.accepted() >= 3 and progress.journal()['submitted'] >= 1, timeout=120, proc=proc,
                        what='3 set-passwords, one of them journalled as submitted')
    finally:
        killer.crash(proc)
    state = os.path.join(workdir, 'rotation')
    before = snapshot(state)
    assert {'ledger.json.lease', 'store.vault.lease'} <= set(before), sorted(before)
    time.sleep(0.05)  # a rewrite of the same bytes would show in mtime_ns

    check = ansible.run(ROTATE, dict(values, service_account_rotation_force=False), check=True)
    assert check.returncode == 0, check.stdout[-4000:]
    assert 'check run takes over nothing' in check.stdout + check.stderr, check.stdout[-4000:]
    assert 'this run first settles what it left' not in check.stdout + check.stderr
    assert snapshot(state) == before, 'the check run changed a lease or lock file'

    final = ansible.run(ROTATE, dict(values, service_account_rotation_force=False))
    assert final.returncode == 0, final.stdout[-4000:]
    assert 'took over the lease' in final.stdout + final.stderr
    assert not [name for name in os.listdir(state) if name.endswith('.lease')], 'both leases given back'
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=False) == []
    # the ledger's history names the crashed run that sent a change and the run that settled it (issue 24)
    settled_by = json.load(open(os.path.join(state, 'report.json')))['run_id']
    history = [h for entry in json.load(open(os.path.join(state, 'ledger.json')))['accounts'].values()
               for h in entry.get('history', [])]
    handed_over = [h for h in history if h['run_id'] == settled_by and h['sent_by'] not in (None, settled_by)]
    assert handed_over and all(h['why'] == 'forced' and h['who']['api_clients'] for h in handed_over), history


def test_stale_after_below_three_heartbeats_is_refused_before_anything(ansible, simulator, workdir):
    """Item 10: a lease is renewed once a minute, so stale_after must be at least 180 s; 179 is refused with the
    variable's name before the state directory is even created, and no request reaches ISC."""
    accounts = fleet(simulator, prefix='svc-app-', limit=2)
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_lease_stale_after=179)
    result = ansible.run(ROTATE, values)
    assert result.returncode != 0
    assert 'at least 180 seconds' in result.stdout and 'service_account_rotation_lease_stale_after' in result.stdout, \
        result.stdout[-3000:]
    assert not os.path.exists(os.path.join(workdir, 'rotation'))
    assert sum(sum(v.values()) for v in simulator.counters()['requests'].values()) == 0
    accepted = ansible.run(ROTATE, dict(values, service_account_rotation_lease_stale_after=180))
    assert accepted.returncode == 0, accepted.stdout[-3000:]


def test_a_rotation_that_changes_nothing_reports_changed_0(ansible, simulator, workdir):
    """Item 13: the first run rotates (changed), a second one has nothing due and reports changed=0, and so
    does --check of it; the leases are bookkeeping, not changes."""
    accounts = fleet(simulator, prefix='svc-app-', limit=3)
    values = rotate_vars(workdir, write_accounts(workdir, accounts))
    first = ansible.run(ROTATE, values)
    assert first.returncode == 0, first.stdout[-3000:]
    assert recap_changed(first.stdout) > 0
    again = ansible.run(ROTATE, values)
    assert again.returncode == 0 and 'rotate=' not in again.stdout.split('Show the plan')[1][:400], again.stdout[-3000:]
    assert recap_changed(again.stdout) == 0, again.stdout[-5000:]
    check = ansible.run(ROTATE, values, check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert recap_changed(check.stdout) == 0, check.stdout[-5000:]
    assert simulator.requests_of('set_password') == len(accounts)


def default_dir(workdir, simulator, shard='all'):
    """The default state directory, computed here on its own: XDG state home, tenant host_port, shard."""
    port = simulator.base_url.rsplit(':', 1)[1]
    return os.path.join(workdir, 'xdg-state', 'sailpoint_isc', 'rotation', '127.0.0.1_' + port, shard)


def no_state_dir(values):
    return dict((k, v) for k, v in values.items() if k != 'rotation_state_dir')


def test_two_starts_from_two_directories_meet_at_one_lease_and_one_ledger(ansible, simulator, workdir):
    """Item 2: the shipped playbook started from two checkouts (no rotation_state_dir) uses one state directory:
    while the first runs, the second is refused by the lease; after it, the second finds nothing due."""
    accounts = fleet(simulator, prefix='svc-app-', limit=4)
    values = no_state_dir(rotate_vars(workdir, write_accounts(workdir, accounts)))
    env = ansible.env(XDG_STATE_HOME=os.path.join(workdir, 'xdg-state'))
    checkouts = [os.path.join(workdir, name) for name in ('checkout-a', 'checkout-b')]
    for path in checkouts:
        os.makedirs(path)
    # the first run holds the lease while its changes are in flight; it is frozen while the second runs, so that the
    # second meets a held lease however slowly a loaded machine starts it
    simulator.call('PUT', '/__sim/config', {'completion_delay': 5})
    first = subprocess.Popen(ansible.command(ROTATE, values), cwd=checkouts[0], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lease = os.path.join(default_dir(workdir, simulator), 'ledger.json.lease')
    killer.wait_for(lambda: simulator.requests_of('set_password') > 0, timeout=120, proc=first, what='first run sends')
    assert os.path.exists(lease)
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(ansible.command(ROTATE, values), cwd=checkouts[1], env=env, capture_output=True,
                                text=True, timeout=170, check=False)  # well inside the lease's stale_after (180 s)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode != 0 and 'another rotation is running on %s' % default_dir(workdir, simulator) in second.stdout, \
        second.stdout[-3000:]
    assert first.communicate(timeout=300)[0] and first.returncode == 0
    again = subprocess.run(ansible.command(ROTATE, values), cwd=checkouts[1], env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 0, again.stdout[-3000:]
    assert simulator.requests_of('set_password') == len(accounts), 'the second checkout found nothing due'
    assert not [p for p in checkouts if os.listdir(p)], 'nothing written to the working directories'
    assert os.path.exists(os.path.join(default_dir(workdir, simulator), 'store.vault'))


def test_spellings_of_one_shard_are_one_state_directory_in_the_playbook_and_the_role(ansible, simulator, workdir):
    """Item 2: shard '01/2' through the shipped playbook and ' 1 / 2' through the role on its own land in one
    state directory: the second run finds its shard's accounts rotated already."""
    accounts = fleet(simulator, prefix='svc-app-')
    accounts_file = write_accounts(workdir, accounts)
    values = no_state_dir(rotate_vars(workdir, accounts_file, service_account_rotation_shard='01/2'))
    env = {'XDG_STATE_HOME': os.path.join(workdir, 'xdg-state')}
    first = ansible.run(ROTATE, values, env=env)
    assert first.returncode == 0, first.stdout[-3000:]
    sent = simulator.requests_of('set_password')
    assert 0 < sent < len(accounts)
    play = write_playbook(workdir, 'role.yml', DEFAULT_DIR_PLAY)
    second = ansible.run(play, dict(values, service_account_rotation_shard=' 1 / 2'), env=env)
    assert second.returncode == 0, second.stdout[-3000:]
    assert simulator.requests_of('set_password') == sent, 'the same shard, the same ledger: nothing due'
    assert sorted(os.listdir(os.path.dirname(default_dir(workdir, simulator)))) == ['shard-1-of-2']


def test_state_in_the_old_default_stops_the_run_with_the_way_to_move_it(ansible, simulator, workdir):
    """Item 2: a ledger and store in ./rotation (the old default) and nothing in the new default: the run stops
    before anything is read or sent, naming both directories and the move; after the move it goes on where the
    old state left off (nothing due)."""
    accounts = fleet(simulator, prefix='svc-app-', limit=3)
    values = rotate_vars(workdir, write_accounts(workdir, accounts))  # the old default, ./rotation of the workdir
    assert ansible.run(ROTATE, values).returncode == 0
    sent = simulator.requests_of('set_password')
    old, new = os.path.join(workdir, 'rotation'), default_dir(workdir, simulator)
    env = {'XDG_STATE_HOME': os.path.join(workdir, 'xdg-state')}
    stopped = ansible.run(ROTATE, no_state_dir(values), env=env)
    assert stopped.returncode != 0
    message = ' '.join(stopped.stdout.split())
    for part in ('%s holds the ledger.json and store.vault of earlier runs' % old, new, 'rotate every account again',
                 'mv %s %s' % (old, new), 'rotation_state_dir=%s' % old):
        assert part in message, (part, stopped.stdout[-3000:])
    assert simulator.requests_of('set_password') == sent and not os.path.exists(new)
    os.makedirs(os.path.dirname(new))
    shutil.move(old, new)
    moved = ansible.run(ROTATE, no_state_dir(values), env=env)
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert simulator.requests_of('set_password') == sent, 'the moved ledger says nothing is due'


PREFLIGHT_PLAY = """
- name: The role's preflight alone, the tenant from module_defaults as the shipped playbook passes it
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      base_url: "{{ isc_base_url | default(omit) }}"
      client_secret: "{{ isc_client_secret | default(omit) }}"
  tasks:
    - name: Preflight
      ansible.builtin.import_role:
        name: sailpoint_isc.passwords.service_account_rotation
        tasks_from: preflight.yml
      vars:
        ansible_pipelining: true
    - name: Say the state directory
      ansible.builtin.debug:
        msg: "STATE_DIR={{ service_account_rotation__preflight.state_dir }}"
"""


@pytest.mark.parametrize('core', ['project', '2.16.19'])
def test_default_state_directory_follows_the_tenant_of_module_defaults(ansible, workdir, core):
    """Item 2: the tenant comes from module_defaults (base_url) before SAIL_BASE_URL, on the core that reads module
    defaults one way (2.16) and the one that reads them the other (2.19+); spellings of one tenant agree."""
    if core != 'project':
        ansible.use_venv(core_venv(core))
    play = write_playbook(workdir, 'preflight.yml', PREFLIGHT_PLAY)
    env = {'XDG_STATE_HOME': os.path.join(workdir, 'xdg'), 'SAIL_BASE_URL': 'http://127.0.0.1:8089'}
    root = os.path.join(workdir, 'xdg', 'sailpoint_isc', 'rotation')
    seen = {}
    for name, extra in (('env', {}), ('acme', {'isc_base_url': 'https://acme.api.identitynow.com'}),
                        ('ACME', {'isc_base_url': 'https://ACME.api.identitynow.com:443/'}),
                        ('other', {'isc_base_url': 'https://other.api.identitynow.com', 'service_account_rotation_shard': '02/3'})):
        result = ansible.run(play, extra, vault=False, env=env)
        assert result.returncode == 0, result.stdout[-3000:]
        seen[name] = re.search(r'STATE_DIR=(\S+?)"', result.stdout).group(1)
    assert seen == {'env': root + '/127.0.0.1_8089/all', 'acme': root + '/acme.api.identitynow.com/all',
                    'ACME': root + '/acme.api.identitynow.com/all', 'other': root + '/other.api.identitynow.com/shard-2-of-3'}
    assert not os.path.exists(root), 'the preflight writes nothing'
