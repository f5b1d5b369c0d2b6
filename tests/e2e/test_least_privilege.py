"""Least privilege, proven end to end (issue 25): every job passes with exactly the scopes
docs/least-privilege.md gives it, and with any one of them removed it stops before it sends anything
but the token request, naming that scope; non-admin PATs and API clients are refused where the
documents say so.

Two ansible-playbook runs against one simulator seeded with one API client (or PAT) per job and
missing scope: the refusals first (every variant a task with ignore_errors, checked per task, the
simulator's write counters 0 after it), then the exact sets.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import PlaybookRunner, SimulatorProcess, ensure_collection_link, write_playbook
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import

sys.path.insert(0, ensure_collection_link())
# the documented set of each job: what docs/least-privilege.md shows (test_rights.py checks the page is generated from it)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import minimal_scopes as documented_scopes  # noqa: E402

SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    'tools', 'isc_simulator', 'seed.yaml')
PASSWORD = 'LeastPriv-Canary-4k9Q'  # marked value: never in any output

# job -> (the module its refusal is shown with, its arguments, PAT?); the role and the playbooks run in the second run
JOBS = {
    'password-info': ('isc_password_info', {'user_name': 'Abby.Smith', 'source_name': 'My-AD'}, False),
    'set-password': ('isc_set_password', {'user_name': 'svc-app-001', 'source_name': 'Corp-AD', 'password': PASSWORD,
                                          'wait': True, 'wait_timeout': 60, 'poll_interval': 1}, False),
    'password-status': ('isc_password_status', {'request_id': '089899f13a8f4da7824996191587bab9'}, False),
    'digit-token': ('isc_digit_token', {'user_id': 'Abby.Smith'}, False),
    'password-config': ('isc_password_policy', {'name': 'Least privilege', 'min_length': 12}, True),
    'password-config-export': ('isc_password_policy_info', {}, True),
    'rotation': (None, None, False),
}
ROTATE = [{'source_name': 'Corp-LDAP', 'user_name': 'svc-app-002'},
          {'source_name': 'Unix-LDAP', 'user_name': 'svc-sync-01'}]


def client_id(job, missing=None):
    return '%s--%s' % (job, missing.replace(':', '-') if missing else 'exact')


def seed(workdir):
    """The default seed plus one credential per job (its documented scopes) and per (job, scope left out)."""
    with open(SEED, encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    clients = list(data['api_clients'])
    for job, (_module, _args, pat) in JOBS.items():
        scopes = documented_scopes(job, 'v2024')
        for missing in [None] + scopes:
            entry = {'client_id': client_id(job, missing), 'client_secret': 'secret-' + client_id(job, missing),
                     'scope': [s for s in scopes if s != missing]}
            entry.update({'type': 'pat', 'user': 'Abby.Smith'} if pat else {'owner': 'Abby.Smith'})
            clients.append(entry)
    # the documents' levels apply to these two: Carl.Jones is no ORG_ADMIN
    clients.append({'client_id': 'carl-pat', 'client_secret': 'secret-carl-pat', 'type': 'pat', 'user': 'Carl.Jones'})
    clients.append({'client_id': 'carl-client', 'client_secret': 'secret-carl-client', 'owner': 'Carl.Jones'})
    clients.append({'client_id': 'admin-client', 'client_secret': 'secret-admin-client', 'owner': 'Abby.Smith'})  # all scopes
    data['api_clients'] = clients
    path = os.path.join(workdir, 'least-privilege-seed.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(data, handle)
    return path


def connection(cid):
    return {'base_url': '{{ sim_url }}', 'client_id': cid, 'client_secret': 'secret-' + cid}


def module_task(name, module, args, cid, register, when=None):
    task = {'name': name, 'sailpoint_isc.passwords.' + module: dict(args, **connection(cid)),
            'register': register, 'ignore_errors': True}
    if when:
        task['when'] = when
    return task


def role_block(name, cid, state_dir, register, when=None):
    """The rotation role under one credential; the rescue keeps the failure's message."""
    block = {'name': name, 'module_defaults': {'group/sailpoint_isc.passwords.isc': connection(cid)},
             'block': [{'ansible.builtin.include_role': {'name': 'sailpoint_isc.passwords.service_account_rotation'},
                        'vars': {'service_account_rotation_accounts': ROTATE,
                                 'service_account_rotation_state_dir': state_dir,
                                 'service_account_rotation_poll_interval': 1,
                                 'service_account_rotation_wait_timeout': 60}},
                       {'ansible.builtin.set_fact': {register: {'failed': False}}}],
             'rescue': [{'ansible.builtin.set_fact': {register: {'failed': True, 'msg': '{{ ansible_failed_result.msg }}'}}}]}
    if when:
        block['when'] = when
    return block


def run(ansible, workdir, name, plays, inventory='localhost,'):
    path = write_playbook(workdir, name, yaml.safe_dump(plays, sort_keys=False))
    cmd = ansible.command(path, {'sim_url': ansible.simulator.base_url})
    cmd[cmd.index('-i') + 1] = inventory
    result = subprocess.run(cmd, cwd=workdir, env=ansible.env(), capture_output=True, text=True, timeout=300, check=False)
    assert PASSWORD not in result.stdout + result.stderr
    return result


@pytest.fixture
def lp(workdir):
    """(playbook runner, simulator) with the seed of this file."""
    os.makedirs(os.path.join(workdir, 'sim'))
    simulator = SimulatorProcess(os.path.join(workdir, 'sim'), '--completion-delay', '0.3', '--seed', seed(workdir))
    try:
        yield PlaybookRunner(workdir, simulator), simulator
    finally:
        simulator.stop()


def refusal_variants():
    """host name -> (job, the scope left out or None, credential): every (job, scope), and the documents' refusals
    of a non-admin PAT, an API client of a non-admin and an API client on a user-token operation."""
    out = {}
    for job in JOBS:
        for n, missing in enumerate(documented_scopes(job, 'v2024')):
            out['%s-%d' % (job, n)] = (job, missing, client_id(job, missing))
    out['carl-pat'] = ('password-status', None, 'carl-pat')
    out['carl-client'] = ('password-status', None, 'carl-client')
    out['api-client-writes-policy'] = ('password-config', None, 'admin-client')
    return out


def test_each_job_passes_with_its_documented_scopes_and_stops_without_any_one(lp, workdir):
    ansible, simulator = lp
    config_before = simulator.call('GET', '/__sim/password-config')
    out_dir = os.path.join(workdir, 'out')
    os.makedirs(out_dir)

    # 1. the refusals: one host per variant (run side by side), one task per job guarded by the host's job
    variants = refusal_variants()
    inventory = os.path.join(workdir, 'variants.yml')
    with open(inventory, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'all': {'hosts': dict((host, {'ansible_connection': 'local', 'lp_job': job, 'lp_cid': cid})
                                              for host, (job, _missing, cid) in variants.items())}}, handle)
    tasks, registers = [], []
    for job, (module, args, _pat) in JOBS.items():
        register = 'r_' + job.replace('-', '_')
        when = "lp_job == '%s'" % job
        tasks.append(role_block(job, '{{ lp_cid }}', os.path.join(workdir, 'state-{{ lp_cid }}'), register, when)
                     if module is None else module_task(job, module, args, '{{ lp_cid }}', register, when))
        registers.append(register)
    tasks.append({'name': 'Keep the result of the host', 'ansible.builtin.copy': {
        'dest': os.path.join(out_dir, '{{ inventory_hostname }}.json'), 'mode': '0600',
        'content': "{{ [%s] | rejectattr('skipped', 'defined') | first | to_json }}"
                   % ', '.join("%s | default({'skipped': true})" % r for r in registers)}})
    result = run(ansible, workdir, 'refusals.yml', [{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], inventory)
    assert result.returncode == 0, result.stdout[-3000:]
    counters = simulator.counters()
    for host, (job, missing, cid) in variants.items():
        with open(os.path.join(out_dir, host + '.json'), encoding='utf-8') as handle:
            answer = json.load(handle)
        assert answer['failed'], (host, answer)
        if missing:
            assert missing in answer['msg'] and 'docs/least-privilege.md#%s' % job in answer['msg'], (host, answer)
            assert 'job %s' % job in answer['msg']
            # nothing but the token request went out for it
            assert set(counters.get('clients', {}).get(cid, {})) <= {'token'}, (cid, counters['clients'][cid])
    for host in ('carl-pat', 'carl-client'):  # the documents give the status read to ORG_ADMIN (v2024)
        answer = json.load(open(os.path.join(out_dir, host + '.json'), encoding='utf-8'))
        status = answer.get('status') or answer['statuses'][0]['status']  # the one status read's own result
        assert status == 403 and 'ORG_ADMIN' in answer['msg'] and 'Carl.Jones' in answer['msg'], answer
    answer = json.load(open(os.path.join(out_dir, 'api-client-writes-policy.json'), encoding='utf-8'))
    assert answer['status'] == 403 and 'user token' in answer['msg'], answer  # policy writes: userAuth only
    # the write counters: no password change, no digit token, no configuration write
    assert 'set_password' not in counters['requests'] and 'digit_token' not in counters['requests']
    assert simulator.call('GET', '/__sim/password-config') == config_before

    # 2. the exact sets: the modules, the role, and the two configuration playbooks
    tasks, registers = [], []
    for job, (module, args, _pat) in JOBS.items():
        register = 'r_' + job.replace('-', '_')
        if module is None:
            tasks.append(role_block(job, client_id(job), os.path.join(workdir, 'state-exact'), register))
        elif job == 'password-status':
            continue  # after set-password: it reads that change
        else:
            tasks.append(module_task(job, module, args, client_id(job), register))
        registers.append(register)
        if job == 'set-password':
            tasks.append(module_task('password-status', 'isc_password_status',
                                     {'request_id': '{{ r_set_password.request_id }}'}, client_id('password-status'),
                                     'r_password_status'))
            registers.append('r_password_status')
    tasks.append({'name': 'Keep every result', 'ansible.builtin.copy': {
        'dest': os.path.join(out_dir, 'exact.json'), 'mode': '0600',
        'content': '{{ {%s} | to_json }}' % ', '.join("'%s': %s" % (r, r) for r in registers)}})
    exported, applied = os.path.join(workdir, 'tenant.yml'), os.path.join(workdir, 'change.yml')
    with open(applied, 'w', encoding='utf-8') as handle:  # one write per kind of credential need, kept short
        yaml.safe_dump({'isc_password_config': {'password_org_config': {'digit_token_length': 7},
                                                'password_dictionary': {'words': ['acme'], 'locale': 'en_US'}}}, handle)
    plays = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    for playbook, job, path in (('export_password_config', 'password-config-export', exported),
                                ('password_config', 'password-config', applied)):
        plays.append({'ansible.builtin.import_playbook': 'sailpoint_isc.passwords.' + playbook,
                      'vars': {'password_config_file': path, 'isc_client_id': client_id(job),
                               'isc_client_secret': 'secret-' + client_id(job), 'isc_base_url': '{{ sim_url }}'}})
    result = run(ansible, workdir, 'exact.yml', plays)
    assert result.returncode == 0, result.stdout[-4000:]
    got = json.load(open(os.path.join(out_dir, 'exact.json'), encoding='utf-8'))
    for register in registers:
        assert not got[register].get('failed'), (register, got[register])
    assert got['r_password_status']['state'] == 'FINISHED' and got['r_digit_token']['digit_token']
    assert got['r_password_config']['changed']  # the policy module wrote with its documented scopes
    assert 'Least privilege' in open(exported, encoding='utf-8').read()  # the export read it back
    config = simulator.call('GET', '/__sim/password-config')
    assert config != config_before and 'acme' in json.dumps(config)  # the apply playbook wrote
    changed = dict(((a['sourceName'], a['userName']), a['changeCount']) for a in simulator.accounts())
    assert changed[('Corp-AD', 'svc-app-001')] == 1  # the set-password job
    assert [changed[(r['source_name'], r['user_name'])] for r in ROTATE] == [1, 1]  # the role
    assert changed[('Unix-Kerberos', 'svc-sync-01')] == 1  # the sync group was read: one change for the group
    assert simulator.counters()['requests']['set_password'] == {'202': 3}
