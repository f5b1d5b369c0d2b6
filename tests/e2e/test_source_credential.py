"""Issue 28 end to end: rotating the credential an ISC source logs on with (playbooks/rotate_source_credential.yml,
module isc_source_credential) against the simulator's connector sources (tools/isc_simulator/sources_api.py).

Corp-LDAP logs on as svc-app-002 (A); svc-app-005 (B) is its alternate bind account; both are ISC accounts of
Corp-LDAP, so set-password changes them. Oracle-DB reads its credential from a Credential Provider (secrets://);
My-AD's configured password is stale, so its check-connection fails.
"""

import json
import os
import subprocess

import killer
from conftest import PlaybookRunner, write_playbook
from rotation_helpers import read_store, sha

PLAYBOOK = 'sailpoint_isc.passwords.rotate_source_credential'
A = 'uid=svc-app-002,ou=services,dc=corp,dc=acme,dc=com'
B = 'uid=svc-app-005,ou=services,dc=corp,dc=acme,dc=com'
A_PASSWORD = 'Init-svc-app-002-Aa1!x'  # A's seed password: a canary for the output
B_PASSWORD = 'Init-svc-app-005-Aa1!x'
POINTERS = {'user_pointer': '/connectorAttributes/user', 'password_pointer': '/connectorAttributes/password'}

# One play for the refusals: each case is a task whose failure is kept and checked by the test.
REFUSALS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Import the current passwords of A and B
      sailpoint_isc.passwords.vault_file_store:
        path: "{{ store_path }}"
        op: import
        passwords: "{{ {'Corp-LDAP/svc-app-002': a_password, 'Corp-LDAP/svc-app-005': b_password} }}"
    - name: A Credential Provider source
      sailpoint_isc.passwords.isc_source_credential:
        source_name: Oracle-DB
        user_pointer: /connectorAttributes/user
        password_pointer: /connectorAttributes/password
        accounts: [{user: svc-app-003, user_name: svc-app-003, source_name: Oracle-DB, password: x},
                   {user: svc-app-006, user_name: svc-app-006, source_name: Oracle-DB}]
        force: true
      register: vault_source
      ignore_errors: true
    - name: A source whose preflight fails
      sailpoint_isc.passwords.isc_source_credential:
        source_name: My-AD
        user_pointer: /connectorAttributes/user
        password_pointer: /connectorAttributes/password
        accounts: [{user: Carl.Jones-adm, user_name: Carl.Jones, source_name: My-AD, account_id: Carl.Jones-adm,
                    password: x}, {user: Carl.Jones, user_name: Carl.Jones, source_name: My-AD}]
        force: true
      register: broken_source
      ignore_errors: true
    - name: A pointer the source does not have
      sailpoint_isc.passwords.isc_source_credential:
        source_name: Corp-LDAP
        user_pointer: /connectorAttributes/bindDN
        password_pointer: /connectorAttributes/password
        accounts: [{user: a, user_name: svc-app-002, source_name: Corp-LDAP}, {user: b, user_name: svc-app-005,
                   source_name: Corp-LDAP}]
      register: bad_pointer
      ignore_errors: true
    - name: Keep the answers
      ansible.builtin.copy:
        content: "{{ {'vault': vault_source, 'broken': broken_source, 'pointer': bad_pointer} | to_json }}"
        dest: "{{ answers }}"
        mode: '0600'
"""


def _vars(workdir, **extra):
    values = {'rotation_state_dir': os.path.join(workdir, 'rotation'), 'source_credential_source_name': 'Corp-LDAP',
              'source_credential_user_pointer': POINTERS['user_pointer'],
              'source_credential_password_pointer': POINTERS['password_pointer'],
              'source_credential_accounts': [
                  {'user': A, 'user_name': 'svc-app-002', 'source_name': 'Corp-LDAP'},
                  {'user': B, 'user_name': 'svc-app-005', 'source_name': 'Corp-LDAP'}],
              'source_credential_check_retries': 2, 'source_credential_check_delay': 0.2,
              'source_credential_poll_interval': 1}
    values.update(extra)
    return values


def _connector(simulator, name='Corp-LDAP'):
    """What the source is configured with now and whether it logs on (the simulator's view, no faults)."""
    return [c for c in simulator.call('GET', '/__sim/connectors')['connectors'] if c['sourceName'] == name][0]


def _live(simulator, user):
    return [a['passwordSha256'] for a in simulator.accounts(userName=user, sourceName='Corp-LDAP')][0]


def _writes(simulator):
    counters = simulator.counters()['requests']
    return {op: sum(n for status, n in counters.get(op, {}).items()) for op in ('source_update', 'set_password')}


def test_refusals_rollback_kill_and_resume(simulator_factory, workdir):
    simulator = simulator_factory('--completion-delay', '0.2')
    ansible = PlaybookRunner(workdir, simulator)
    store_path = os.path.join(workdir, 'rotation', 'store.vault')
    os.makedirs(os.path.dirname(store_path), mode=0o700)
    answers = os.path.join(workdir, 'answers.json')

    # 1. refusals (secrets:// gets 0 PATCH, a failing preflight 0 writes, a missing pointer is named), then in the
    # same ansible-playbook run 2. alternate where check-connection fails with B after the PATCH: rolled back to A
    simulator.set_faults({'check_connection': {'fail_users': [B]}})
    playbook = write_playbook(workdir, 'refusals_then_rotation.yml',
                              REFUSALS + '\n- name: Rotate\n  ansible.builtin.import_playbook: %s\n' % PLAYBOOK)
    done = ansible.run(playbook, _vars(workdir, store_path=store_path, answers=answers, a_password=A_PASSWORD,
                                       b_password=B_PASSWORD), verbosity=3, diff=True)
    output = done.stdout + done.stderr
    with open(answers) as handle:
        got = json.load(handle)
    assert got['vault']['failed'] and 'rotate the vault entry instead' in got['vault']['msg'], got['vault']
    assert 'cache' in got['vault']['msg']
    assert got['broken']['failed'] and 'preflight check-connection' in got['broken']['msg'], got['broken']
    assert got['pointer']['failed'] and '/connectorAttributes/bindDN' in got['pointer']['msg'], got['pointer']
    patches = simulator.counters()['requests']['source_update']
    assert patches == {'200': 2}, 'two PATCHes, both of Corp-LDAP (to B and back): none for the refused sources'
    assert simulator.requests_of('set_password') == 1, "B's password only: the refused sources got no write"
    assert done.returncode != 0 and 'rolled_back' in done.stdout, done.stdout[-3000:]
    store = read_store(workdir)
    a_entry, b_entry = store['Corp-LDAP/svc-app-002'], store['Corp-LDAP/svc-app-005']
    assert not a_entry.get('pending') and not b_entry.get('pending')
    assert sha(a_entry['current']) == _live(simulator, 'svc-app-002') == sha(A_PASSWORD)
    assert sha(b_entry['current']) == _live(simulator, 'svc-app-005') != sha(B_PASSWORD)
    for canary in (A_PASSWORD, b_entry['current']):
        assert canary not in output, 'a password reached the -vvv --diff output'
    simulator.set_faults({})
    assert _connector(simulator)['user'] == A and _connector(simulator)['connects']

    # 3. killed after the PATCH (check-connection made slow): the next run settles the escrow
    before = _writes(simulator)['source_update']
    checks = simulator.requests_of('check_connection')
    proc = killer.spawn(ansible.command(PLAYBOOK, _vars(workdir, source_credential_force=True)), cwd=workdir,
                        env=ansible.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # the preflight answered; the set-password of B (at least a poll interval) comes before the PATCH and its check
    killer.wait_for(lambda: simulator.requests_of('check_connection') > checks, timeout=60, proc=proc, what='preflight')
    simulator.set_faults({'check_connection': {'latency': 30}})
    killer.wait_for(lambda: _writes(simulator)['source_update'] > before, timeout=60, proc=proc, what='the PATCH')
    killer.crash(proc)
    simulator.set_faults({})
    pending = read_store(workdir)['Corp-LDAP/svc-app-005'].get('pending')
    assert pending and _connector(simulator)['user'] == B, 'killed after the PATCH, before the commit'
    assert sha(pending) == _live(simulator, 'svc-app-005')
    done = ansible.run(PLAYBOOK, _vars(workdir))
    assert done.returncode == 0, done.stdout[-3000:]
    entry = read_store(workdir)['Corp-LDAP/svc-app-005']
    assert sha(entry['current']) == sha(pending) and not entry.get('pending'), 'the escrowed password became current'
    assert _connector(simulator)['user'] == B and _connector(simulator)['connects']

    # 4. nothing due: a re-run changes nothing; a forced check run says what it would do and writes nothing
    writes, store = _writes(simulator), read_store(workdir)
    done = ansible.run(PLAYBOOK, _vars(workdir))
    assert done.returncode == 0 and 'changed=0' in done.stdout and 'not due' in done.stdout, done.stdout[-3000:]
    done = ansible.run(PLAYBOOK, _vars(workdir, source_credential_force=True), check=True, diff=True)
    assert done.returncode == 0 and 'changed=1' in done.stdout, done.stdout[-3000:]
    assert '"user": "%s"' % A in done.stdout, 'the diff names the account the source would use'
    assert _writes(simulator) == writes and read_store(workdir) == store
    assert _connector(simulator)['user'] == B
