"""The escrow issue's findings, each reproduced through ansible-playbook against the simulator.

Every test here failed on the role before that issue: the store ended without the live password,
a wrong password was stored, or two runs worked on one state directory at once.
"""

import json
import os
import subprocess
import time

import pytest

import killer
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import PlaybookRunner
from hostile_helpers import live_hash, rows, status_count
from rotation_helpers import ROTATE, baseline_hashes, key_of, read_store, rotate_vars, sha, unaccounted, write_accounts

# The shipped play plus the API version, which it does not forward.
VERSIONED_PLAY = """
- name: Rotate service-account passwords (test wrapper with api_version)
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    service_account_rotation_state_dir: "{{ rotation_state_dir }}"
  vars_files:
    - "{{ rotation_accounts_file }}"
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      api_version: "{{ isc_api_version }}"
  roles:
    - role: sailpoint_isc.passwords.service_account_rotation
"""


def one(user, source, account_id=None):
    item = {'source_name': source, 'user_name': user}
    if account_id:
        item['account_id'] = account_id
    return item


def run(ansible, workdir, accounts, **extra):
    values = rotate_vars(workdir, write_accounts(workdir, accounts))
    values.update(extra)
    return ansible.run(ROTATE, values)


def test_failed_resend_of_an_accepted_change_keeps_its_password(ansible, simulator, workdir):
    """Finding 1: accepted, connection dropped, ISC applied P1; the re-send then fails: P1 must stay in the store."""
    account = one('svc-app-001', 'Corp-AD')
    simulator.set_faults({'set_password': {'drop_after_accept_rate': 1.0}})
    first = run(ansible, workdir, [account])
    assert first.returncode != 0 and rows(workdir)[key_of(account)]['status'] == 'unknown'
    pending = read_store(workdir)[key_of(account)]['pending']
    assert sha(pending) == live_hash(simulator, account), 'ISC applied the password the store holds pending'
    for fault in ({'set_password': {'fail_rate': 1.0}}, {'set_password': {'error_rate': 1.0, 'error_statuses': [503]}}):
        simulator.set_faults(fault)
        again = run(ansible, workdir, [account])
        assert again.returncode != 0, again.stdout[-3000:]
        assert read_store(workdir)[key_of(account)].get('pending') == pending, 'the only copy of the live password'
        assert rows(workdir)[key_of(account)]['status'] == 'unknown'
        assert 'may already hold it' in rows(workdir)[key_of(account)]['detail'] or fault['set_password'].get('error_rate')
    simulator.set_faults({})
    final = run(ansible, workdir, [account])
    assert final.returncode == 0, final.stdout[-3000:]
    entry = read_store(workdir)[key_of(account)]
    assert 'pending' not in entry and entry['current'] == pending and sha(pending) == live_hash(simulator, account)


def test_two_accounts_of_one_identity_on_one_source_get_their_own_passwords(ansible, simulator, workdir):
    """Finding 2: Carl.Jones and Carl.Jones-adm on My-AD are two set-passwords, two passwords, both stored right."""
    accounts = [one('Carl.Jones', 'My-AD', 'Carl.Jones'), one('Carl.Jones', 'My-AD', 'Carl.Jones-adm')]
    result = run(ansible, workdir, accounts)
    assert result.returncode == 0, result.stdout[-3000:]
    assert simulator.requests_of('set_password') == 2
    store = read_store(workdir)
    live = dict((r['accountName'], r['passwordSha256']) for r in simulator.accounts(userName='Carl.Jones'))
    for item in accounts:  # account_id given as the account name, as users write it
        assert sha(store[key_of(item)]['current']) == live[item['account_id']], key_of(item)
    assert store[key_of(accounts[0])]['current'] != store[key_of(accounts[1])]['current']


def test_overlapping_runs_on_one_state_directory_lose_nothing(ansible, simulator, workdir):
    """Finding 3: two forced runs 0.8 s apart with failing changes; the second is refused, nothing is lost."""
    accounts = [one('svc-app-%03d' % n, ('Corp-AD', 'Corp-LDAP', 'Oracle-DB')[(n - 1) % 3]) for n in range(1, 5)]
    baseline = baseline_hashes(simulator, accounts)
    simulator.set_faults({'random_seed': 7, 'set_password': {'fail_rate': 0.5}})
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                         service_account_rotation_fail_on=[])
    procs = []
    for dummy in range(2):
        procs.append(subprocess.Popen(ansible.command(ROTATE, values), cwd=workdir, env=ansible.env(),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        time.sleep(0.8)
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    refused = [o for o in outputs if 'another rotation is running' in o]
    assert len(refused) == 1, outputs[1][-3000:]
    assert 'pid' in refused[0] and 'started' in refused[0] and 'changed nothing' in refused[0]
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=True, baseline=baseline) == []
    simulator.set_faults({})
    final = ansible.run(ROTATE, dict(values, service_account_rotation_force=False))
    assert final.returncode == 0, final.stdout[-3000:]
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=False) == []
    assert not os.path.exists(os.path.join(workdir, 'rotation', 'ledger.json.lease')), 'released at the end'


@pytest.mark.parametrize('api_version', ['v3', 'beta', 'v1'])
def test_sync_group_members_share_one_password_on_every_api_version(ansible, simulator, workdir, api_version):
    """Finding 4: on v3, beta and v1 the sync group is known too: one change, one stored password."""
    play = os.path.join(workdir, 'rotate-versioned.yml')
    with open(play, 'w') as handle:
        handle.write(VERSIONED_PLAY)
    accounts = [one('svc-sync-01', 'Unix-LDAP'), one('svc-sync-01', 'Unix-Kerberos')]
    result = ansible.run(play, rotate_vars(workdir, write_accounts(workdir, accounts), isc_api_version=api_version))
    assert result.returncode == 0, result.stdout[-3000:]
    assert simulator.requests_of('set_password') == 1
    store = read_store(workdir)
    assert store[key_of(accounts[0])]['current'] == store[key_of(accounts[1])]['current']
    assert unaccounted(simulator, accounts, store, allow_pending=False) == []


def test_sync_group_member_nobody_listed_is_stored_too(ansible, simulator, workdir):
    """Finding 5: rotating only Unix-LDAP/svc-sync-02 changes Unix-Kerberos/svc-sync-02 too: it is stored."""
    listed = one('svc-sync-02', 'Unix-LDAP')
    other = one('svc-sync-02', 'Unix-Kerberos')
    result = run(ansible, workdir, [listed], service_account_rotation_force=True)
    assert result.returncode == 0, result.stdout[-3000:]
    store = read_store(workdir)
    assert sha(store[key_of(other)]['current']) == live_hash(simulator, other)
    assert store[key_of(other)]['current'] == store[key_of(listed)]['current']
    assert 'not in the accounts list' in rows(workdir)[key_of(other)]['detail']


def test_pending_of_an_account_removed_from_the_list_is_settled(ansible, simulator, workdir):
    """Finding 8: an account whose change was lost, then removed from the list, is still settled and reported."""
    kept, removed = one('svc-app-001', 'Corp-AD'), one('svc-app-002', 'Corp-LDAP')
    simulator.set_faults({'set_password': {'drop_after_accept_rate': 1.0}})
    run(ansible, workdir, [kept, removed])
    simulator.set_faults({})
    result = run(ansible, workdir, [kept])
    assert result.returncode == 0, result.stdout[-3000:]
    entry = read_store(workdir)[key_of(removed)]
    assert 'pending' not in entry and sha(entry['current']) == live_hash(simulator, removed)
    assert 'not in the accounts list' in rows(workdir)[key_of(removed)]['detail']


def test_unreadable_status_fails_the_play_and_keeps_the_password(ansible, simulator, workdir):
    """Finding 9: password-change-status answering 503 throughout is 'unknown' (rc != 0), never 'pending', rc 0."""
    account = one('svc-app-001', 'Corp-AD')
    simulator.set_faults({'password_change_status': {'error_rate': 1.0, 'error_statuses': [503]}})
    result = run(ansible, workdir, [account], service_account_rotation_wait_timeout=3)
    assert result.returncode != 0
    assert rows(workdir)[key_of(account)]['status'] == 'unknown'
    assert status_count(simulator, 'password_change_status', 503) > 0
    pending = read_store(workdir)[key_of(account)]['pending']
    simulator.set_faults({})
    result = run(ansible, workdir, [account])
    assert result.returncode == 0, result.stdout[-3000:]
    assert read_store(workdir)[key_of(account)] .get('current') == pending
    assert simulator.requests_of('set_password') == 1, 'settled by reading the status, not by a new change'


def test_controller_killed_mid_apply_keeps_the_state_to_its_module(simulator_factory, workdir):
    """The lease follows the process that works: killing only ansible-playbook leaves the module running;
    a new run is refused until it ends, then takes the lease over and settles everything."""
    from rotation_helpers import fleet
    simulator = simulator_factory('--completion-delay', '0.3', '--rate-limit', '20', '--rate-window', '1')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator, prefix='svc-app-')
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True)
    progress = killer.Progress(simulator, workdir)
    proc = killer.spawn(ansible.command(ROTATE, values), cwd=workdir, env=ansible.env(),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killer.wait_for(killer.moment(progress, 'apply', k=5), timeout=120, proc=proc, what='5 set-passwords')
    survivors = killer.kill_controller_only(proc)
    modules = [p for p in survivors.alive() if 'ansible-playbook' not in p.cmdline]
    assert modules, 'the module of the running task outlives its controller: %s' % survivors.alive()
    refused = ansible.run(ROTATE, values)
    assert refused.returncode != 0 and 'still running in module process' in refused.stdout, refused.stdout[-3000:]
    deadline = time.time() + 300
    while [p for p in survivors.alive() if 'ansible-playbook' not in p.cmdline]:
        assert time.time() < deadline
        time.sleep(0.1)
    assert progress.accepted() == len(accounts), 'the orphaned module went on and sent every change'
    survivors.kill()
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=True) == []
    final = ansible.run(ROTATE, dict(values, service_account_rotation_force=False))
    assert final.returncode == 0, final.stdout[-3000:]
    assert 'took over the lease' in final.stdout + final.stderr
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=False) == []


V1_STORE = """
# A store task file written for the first store contract: check answers pending_keys only.
- name: Answer like a contract v1 store
  ansible.builtin.set_fact:
    service_account_rotation_store_result: {changed: false, pending_keys: ['Corp-AD/svc-app-001'], passwords: {}}
"""


def test_store_task_file_of_the_first_contract_is_refused_before_anything_is_sent(ansible, simulator, workdir):
    """Without attempt ids its pending passwords would look abandoned: the run stops, naming the contract."""
    store_file = os.path.join(workdir, 'v1_store.yml')
    with open(store_file, 'w') as handle:
        handle.write(V1_STORE)
    result = run(ansible, workdir, [one('svc-app-001', 'Corp-AD')], service_account_rotation_store_tasks=store_file)
    assert result.returncode != 0
    assert 'does not implement store contract version 2' in result.stdout, result.stdout[-3000:]
    assert simulator.requests_of('set_password') == 0 and simulator.requests_of('query_password_info') == 0


# Both ways of reconciling on one ledger: the reconcile phase on its own (the role's way when the store holds a
# pending password), and the plan phase reconciling first (the role's way otherwise).
RECONCILE_BOTH_WAYS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Reconcile as its own phase
      sailpoint_isc.passwords.isc_rotation:
        phase: reconcile
        ledger_path: "{{ ledger }}"
        store_pending: "{{ store_pending }}"
      register: alone
    - name: Plan, reconciling first
      sailpoint_isc.passwords.isc_rotation:
        phase: plan
        ledger_path: "{{ ledger }}"
        store_pending: "{{ store_pending }}"
        accounts: "{{ accounts }}"
      register: folded
      no_log: true
      ignore_errors: true
    - name: Keep both answers
      ansible.builtin.copy:
        content: "{{ {'alone': alone.reconciled, 'folded': folded.reconciled | default(none),
                      'started': folded.started | default(none), 'msg': folded.msg | default('')} | to_json }}"
        dest: "{{ answer }}"
        mode: '0600'
"""


def test_the_plan_reconciles_as_the_reconcile_phase_does_and_never_without_escrowed_passwords(simulator_factory,
                                                                                              workdir):
    """The role skips the reconcile task when the store holds nothing pending and lets the plan reconcile first:
    on a ledger an interrupted run left, both give the same answer; with an escrowed password to re-send, the plan
    refuses to reconcile by itself (it could only replace that password)."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = [one('svc-app-%03d' % n, 'Corp-AD') for n in (1, 4, 7)]
    # the apply stops waiting at once: the changes stay pending in the ledger and the store
    first = run(ansible, workdir, accounts, service_account_rotation_wait_timeout=0, service_account_rotation_fail_on=[])
    assert first.returncode == 0, first.stdout[-3000:]
    store = read_store(workdir)
    assert all(store[key_of(a)].get('pending') for a in accounts)
    time.sleep(4)  # ISC finishes them meanwhile
    playbook = os.path.join(workdir, 'both-ways.yml')
    with open(playbook, 'w') as handle:
        handle.write(RECONCILE_BOTH_WAYS)
    ledger = os.path.join(workdir, 'rotation', 'ledger.json')
    answers = {}
    for case, store_pending in (('store says nothing', {}), ('store holds one', {key_of(accounts[0]): 'another-attempt'})):
        answer = os.path.join(workdir, 'answer.json')
        done = ansible.run(playbook, {'ledger': ledger, 'store_pending': store_pending, 'accounts': accounts,
                                      'answer': answer})
        assert done.returncode == 0, done.stdout[-3000:]
        with open(answer) as handle:
            answers[case] = json.load(handle)
    plain = answers['store says nothing']
    assert plain['folded'] == plain['alone'] and plain['started']
    assert sorted(k for item in plain['alone']['finished'] for k in item['keys']) == sorted(key_of(a) for a in accounts)
    held = answers['store holds one']
    assert held['alone']['orphans'] == [key_of(accounts[0])]
    assert held['folded'] is None and 'must be read back from the store' in held['msg'], held
