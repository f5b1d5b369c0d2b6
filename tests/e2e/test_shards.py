"""Shards (service_account_rotation_shard "i/N") through ansible-playbook against one simulator.

Two jobs, shard 1/2 and 2/2, each with its own state directory, run at the same time against one
simulator, as the N nodes of an AWX workflow do. Between them they rotate every listed account once,
never the same one twice, keep a password sync group and an identity's twin accounts in one shard, and
each keeps only its own accounts in its ledger and store.

The AWX workflow as code (extensions/awx/workflow.example.yml) is run against stand-ins for the awx.awx
modules that only record their arguments: it is never run against a controller here.
"""

import collections
import hashlib
import json
import os
import subprocess

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from conftest import PlaybookRunner
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import DEFAULT_DIR_PLAY, ROTATE, VAULT_PASSWORD, baseline_hashes, fleet, key_of, repo_path, rotate_vars, sha, write_accounts


SYNC_SOURCES = ('Unix-LDAP', 'Unix-Kerberos')
SHARD2_CLIENT = ('shard-2-client-id', 'shard-2-client-secret-not-a-secret')


def expected_shard(user_name, count):
    """The shard of an identity, computed here on its own (not by the collection): sha256 mod N, from 1."""
    return int(hashlib.sha256(user_name.strip().lower().encode('utf-8')).hexdigest(), 16) % count + 1


def read_vault_store(state_dir):
    path = os.path.join(state_dir, 'store.vault')
    if not os.path.exists(path):
        return {}
    with open(path, 'rb') as handle:
        return json.loads(VaultLib([('default', VaultSecret(VAULT_PASSWORD))]).decrypt(handle.read()))['accounts']


def report_rows(state_dir):
    with open(os.path.join(state_dir, 'report.json'), encoding='utf-8') as handle:
        return {row['account']: row['status'] for row in json.load(handle)['accounts']}


def ledger_keys(state_dir):
    with open(os.path.join(state_dir, 'ledger.json'), encoding='utf-8') as handle:
        return set(json.load(handle)['accounts'])


def user_of(key):
    return key.partition('/')[2].partition('#')[0]


def sync_group_sources():
    with open(repo_path('tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    return [tuple(group['sources']) for group in seed['sync_groups']]


def sources_without_password():
    """The seed's sources without the PASSWORD feature: ISC (and the simulator) refuse their set-password."""
    with open(repo_path('tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    return set(s['name'] for s in seed['sources'] if 'PASSWORD' not in s.get('features', ['PASSWORD']))


def two_client_simulator(simulator_factory, workdir):
    """The default seed plus a second API client: each shard has its own, as the docs tell users to do."""
    with open(repo_path('tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    seed['api_clients'].append({'client_id': SHARD2_CLIENT[0], 'client_secret': SHARD2_CLIENT[1], 'type': 'client'})
    path = os.path.join(workdir, 'seed-two-clients.yaml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(seed, handle)
    # the production budget per client (not conftest's FAST_LIMITS): the shards' "no 429" shows their budgets are separate
    return simulator_factory('--seed', path, '--completion-delay', '0.3', '--rate-limit', '100', '--rate-window', '10')


def test_two_shards_side_by_side_rotate_the_fleet_once_and_keep_groups_whole(simulator_factory, workdir):
    assert sync_group_sources() == [SYNC_SOURCES], 'the seed has the one sync group this test expects'
    simulator = two_client_simulator(simulator_factory, workdir)
    ansible = PlaybookRunner(workdir, simulator)
    everything = [a for a in fleet(simulator, prefix='') if a['source_name'] not in sources_without_password()]
    # Sync-group identities: half are listed on both member sources (a shard by account would split them,
    # and two shards would change one password); the others on ONE member source only, so the engine
    # discovers the other member through the identity: it must be in the listed one's shard and store.
    sync_users = sorted(set(a['user_name'] for a in everything if a['source_name'] in SYNC_SOURCES))
    half = set(sync_users[:len(sync_users) // 2])
    discovered = [a for a in everything if a['source_name'] == 'Unix-Kerberos' and a['user_name'] in half]
    accounts = [a for a in everything if a not in discovered]
    twins = [a for a in accounts if a['user_name'] == 'Carl.Jones']
    assert len(discovered) >= 3 and len(twins) == 2 and all(t.get('account_id') for t in twins)
    listed = set(key_of(a) for a in accounts)
    baseline = baseline_hashes(simulator, everything)
    accounts_file = write_accounts(workdir, accounts)
    play = os.path.join(workdir, 'rotate-default-dir.yml')
    with open(play, 'w', encoding='utf-8') as handle:
        handle.write(DEFAULT_DIR_PLAY)
    quick = {'service_account_rotation_poll_interval': 1, 'service_account_rotation_wait_timeout': 60}
    # shard 1: set explicitly, as an AWX template does; shard 2: the role's default for shard 2/2, per user
    # ($HOME is the workdir), tenant (the simulator's host and port) and shard
    states = {1: os.path.join(workdir, 'state-shard-1'),
              2: os.path.join(workdir, '.local', 'state', 'sailpoint_isc', 'rotation',
                              '127.0.0.1_' + simulator.base_url.rsplit(':', 1)[1], 'shard-2-of-2')}
    runs = {
        1: ansible.command(ROTATE, rotate_vars(workdir, accounts_file, rotation_state_dir=states[1],
                                               service_account_rotation_shard='1/2')),
        2: ansible.command(play, dict(quick, rotation_accounts_file=accounts_file, service_account_rotation_shard=' 2/2')),
    }
    # both at once, each with its own API client: each shard has its own run lease and store lease, so
    # neither waits for the other, and its own request budget at ISC (no 429, see below)
    envs = {1: ansible.env(), 2: ansible.env(SAIL_CLIENT_ID=SHARD2_CLIENT[0], SAIL_CLIENT_SECRET=SHARD2_CLIENT[1],
                                             XDG_STATE_HOME='')}
    procs = {shard: subprocess.Popen(cmd, cwd=workdir, env=envs[shard], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True) for shard, cmd in runs.items()}
    outputs = {shard: proc.communicate(timeout=300)[0] for shard, proc in procs.items()}
    for shard, proc in procs.items():
        assert proc.returncode == 0, 'shard %d/2:\n%s' % (shard, outputs[shard][-4000:])
    assert not os.path.exists(os.path.join(workdir, 'rotation')), 'nothing in the working directory'
    assert os.listdir(os.path.dirname(states[2])) == ['shard-2-of-2'], 'shard 2/2 did not fall back to the unsharded default'

    rotated = {}
    for shard, state in states.items():
        rows = report_rows(state)
        rotated[shard] = set(k for k, status in rows.items() if status == 'rotated')
        assert set(rows.values()) == {'rotated'}, rows
        # exactly the shard's identities, as computed independently of the collection
        assert rotated[shard] & listed == set(k for k in listed if expected_shard(user_of(k), 2) == shard)
    assert rotated[1] and rotated[2], 'both shards had work'
    assert not rotated[1] & rotated[2], 'no account rotated by both shards'
    assert (rotated[1] | rotated[2]) & listed == listed, 'every listed account rotated by one shard'

    # every account changed once at ISC: one set-password per change, summed over both shards, and no 429:
    # the two clients' budgets are separate
    changes = set((a['user_name'], 'sync') if a['source_name'] in SYNC_SOURCES else key_of(a) for a in accounts)
    assert simulator.counters()['requests'].get('set_password', {}) == {'202': len(changes)}
    assert simulator.counters()['tokensIssued'] == 2, 'one token per shard: each shard used its own client'
    live = {(r['sourceName'], r['userName'], r['accountId']): r['passwordSha256'] for r in simulator.accounts()}
    stores = {shard: read_vault_store(state) for shard, state in states.items()}
    for item in everything:
        owner = expected_shard(item['user_name'], 2)
        other = 3 - owner
        key = key_of(item)
        assert key not in stores[other], '%s is in the store of shard %d/2' % (key, other)
        digest = [h for (source, user, account_id), h in live.items() if source == item['source_name']
                  and user == item['user_name'] and item.get('account_id') in (None, account_id)]
        assert len(digest) == 1 and digest[0] != baseline[key], key
        assert sha(stores[owner][key]['current']) == digest[0], key

    # a sync group is whole in one shard: the listed member and the member discovered through the identity
    by_user = collections.defaultdict(set)
    for shard, keys in rotated.items():
        for key in keys:
            if key.split('/')[0] in SYNC_SOURCES:
                by_user[user_of(key)].add(shard)
    assert set(by_user) == set(sync_users)
    assert all(len(shards) == 1 for shards in by_user.values()), by_user
    for item in discovered:
        assert key_of(item) in rotated[expected_shard(item['user_name'], 2)], key_of(item)
    # an identity's two accounts on one source (two changes) stay together too
    assert len(set(expected_shard(t['user_name'], 2) for t in twins)) == 1
    assert set(key_of(t) for t in twins) <= rotated[expected_shard('Carl.Jones', 2)]

    # each shard's ledger and store hold its own keys only
    for shard, state in states.items():
        keys = ledger_keys(state)
        assert keys and all(expected_shard(user_of(k), 2) == shard for k in keys), (shard, keys)
        assert keys == set(stores[shard]) == rotated[shard]


def test_a_bad_shard_fails_naming_the_variable_and_changes_nothing(ansible, simulator, workdir):
    accounts = fleet(simulator, prefix='svc-app-', limit=3)
    accounts_file = write_accounts(workdir, accounts)
    for bad in ('3/2', '0/2', 'half', '1/0'):
        state = os.path.join(workdir, 'state-%s' % bad.replace('/', '-'))
        result = ansible.run(ROTATE, rotate_vars(workdir, accounts_file, rotation_state_dir=state,
                                                 service_account_rotation_shard=bad))
        assert result.returncode != 0
        out = result.stdout + result.stderr
        assert 'service_account_rotation_shard must be' in out and "got '%s'" % bad in out, out[-3000:]
        assert 'Traceback' not in out
        assert not os.path.exists(state), 'refused before the state directory was made'
    assert simulator.requests_of('set_password') == 0 and simulator.requests_of('query_password_info') == 0


def test_a_changed_shard_setting_is_named_from_the_ledger(ansible, simulator, workdir):
    """Issue 24: the ledger keeps the shard setting; a run over the same state directory with another one (here the
    whole fleet after shard 1/2; a check run, which plans as a real run does and writes nothing) gets a warning
    naming both."""
    accounts_file = write_accounts(workdir, fleet(simulator, prefix='svc-app-', limit=3))
    state = os.path.join(workdir, 'state')
    first = ansible.run(ROTATE, rotate_vars(workdir, accounts_file, rotation_state_dir=state,
                                            service_account_rotation_shard='01/2'))
    assert first.returncode == 0, first.stdout[-3000:]
    assert json.load(open(os.path.join(state, 'ledger.json')))['shard'] == '1/2'
    assert 'WARNING' not in first.stdout + first.stderr
    second = ansible.run(ROTATE, rotate_vars(workdir, accounts_file, rotation_state_dir=state), check=True)
    assert second.returncode == 0, second.stdout[-3000:]
    out = ' '.join((second.stdout + second.stderr).split())  # the warning is wrapped
    assert "service_account_rotation_shard changed" in out, out[-3000:]
    assert "'1/2' (shard 1 of 2)" in out and "'' (the whole fleet)" in out and "back to '1/2'" in out, out[-3000:]
    assert json.load(open(os.path.join(state, 'ledger.json')))['shard'] == '1/2'  # the check run kept it


# --------------------------------------------------------------------------- the AWX workflow as code

# Stand-in for every awx.awx module the example uses: records its arguments, talks to no controller.
AWX_STUB = '''#!/usr/bin/python
# WANT_JSON
import json, os, sys
with open(sys.argv[1]) as handle:
    args = dict((k, v) for k, v in json.load(handle).items() if not k.startswith('_ansible'))
with open(os.environ['AWX_STUB_LOG'], 'a') as handle:
    name = os.path.splitext(os.path.basename(__file__))[0].replace('AnsiballZ_', '')
    handle.write(json.dumps({'module': name, 'args': args}) + '\\n')
print(json.dumps({'changed': True}))
'''
AWX_MODULES = ('credential_type', 'credential', 'instance_group', 'job_template', 'workflow_job_template',
               'workflow_job_template_node', 'schedule')
WORKFLOW = repo_path('extensions', 'awx', 'workflow.example.yml')
CLIENTS = [{'client_id': 'client-%d' % n, 'client_secret': 'secret-%d' % n} for n in (1, 2, 3)]
SETTINGS = {'awx_organization': 'Default', 'awx_project': 'iam-automation', 'awx_inventory': 'localhost-only',
            'awx_vault_credential': 'isc-rotation-vault', 'awx_instance_group': 'isc-rotation',
            'isc_base_url': 'https://acme.api.identitynow.com', 'isc_api_clients': CLIENTS}


def run_workflow_example(workdir, settings, playbook=WORKFLOW):
    """Run extensions/awx/workflow.example.yml (or another AWX example) against the stand-ins: (result, {module: [args, ...]})."""
    stubs = os.path.join(workdir, 'awx-stub')
    modules = os.path.join(stubs, 'ansible_collections', 'awx', 'awx', 'plugins', 'modules')
    os.makedirs(modules, exist_ok=True)
    for name in AWX_MODULES:
        with open(os.path.join(modules, name + '.py'), 'w', encoding='utf-8') as handle:
            handle.write(AWX_STUB)
    log = os.path.join(workdir, 'awx-calls.jsonl')
    if os.path.exists(log):
        os.remove(log)
    runner = PlaybookRunner(workdir, None)
    env = {'ANSIBLE_COLLECTIONS_PATH': stubs, 'AWX_STUB_LOG': log}
    result = subprocess.run(runner.command(playbook, settings, vault=False), cwd=workdir, env=runner.env(**env),
                            capture_output=True, text=True, timeout=300, check=False)
    calls = collections.defaultdict(list)
    if os.path.exists(log):
        with open(log, encoding='utf-8') as handle:
            for line in handle:
                call = json.loads(line)
                calls[call['module']].append(call['args'])
    return result, calls


def test_awx_workflow_example_makes_one_template_per_api_client_and_runs_them_side_by_side(workdir):
    result, calls = run_workflow_example(workdir, SETTINGS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert 'secret-' not in result.stdout + result.stderr, 'the client secrets stay out of the log'
    # one ISC credential per API client, of the shipped credential type
    with open(repo_path('extensions', 'awx', 'credential_type.yml'), encoding='utf-8') as handle:
        type_name = yaml.safe_load(handle)['name']
    creds = calls['credential']
    assert [c['inputs']['client_id'] for c in creds] == ['client-1', 'client-2', 'client-3']
    assert all(c['credential_type'] == type_name and c['inputs']['base_url'] == SETTINGS['isc_base_url'] for c in creds)
    cred_names = [c['name'] for c in creds]
    assert len(set(cred_names)) == 3
    # one job template per shard: its own ISC credential, its own shard, its own state directory
    templates = calls['job_template']
    assert len(templates) == 3
    shards, state_dirs, isc_creds = [], [], []
    for template in templates:
        mine = [c for c in template['credentials'] if c in cred_names]
        assert len(mine) == 1 and SETTINGS['awx_vault_credential'] in template['credentials']
        isc_creds.append(mine[0])
        shards.append(template['extra_vars']['service_account_rotation_shard'])
        state_dirs.append(template['extra_vars']['rotation_state_dir'])
        assert template['playbook'] == 'rotate_service_accounts.yml'
        assert not template.get('survey_enabled'), 'a survey default would replace the shard state directory'
        assert template['allow_simultaneous'] is False and template['instance_groups'] == ['isc-rotation']
    assert sorted(isc_creds) == sorted(cred_names)
    assert shards == ['1/3', '2/3', '3/3']
    assert len(set(state_dirs)) == 3 and all(d.startswith('/var/lib/isc-rotation/') for d in state_dirs)
    # one workflow, a node per template, no links between nodes: all of them start at once
    workflow = calls['workflow_job_template']
    assert len(workflow) == 1
    nodes = calls['workflow_job_template_node']
    assert len(nodes) == 3 and len(set(n['identifier'] for n in nodes)) == 3
    assert sorted(n['unified_job_template'] for n in nodes) == sorted(t['name'] for t in templates)
    assert all(n['workflow_job_template'] == workflow[0]['name'] for n in nodes)
    assert not any(n.get(link) for n in nodes for link in ('success_nodes', 'failure_nodes', 'always_nodes'))
    # and a schedule for the workflow
    schedules = calls['schedule']
    assert len(schedules) == 1 and schedules[0]['unified_job_template'] == workflow[0]['name']
    assert 'RRULE:' in schedules[0]['rrule']
    assert not calls['instance_group'], 'no container groups unless a cluster credential is given'


def test_awx_workflow_example_gives_each_shard_its_own_claim_on_kubernetes(workdir):
    result, calls = run_workflow_example(workdir, dict(SETTINGS, awx_cluster_credential='my-cluster'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    groups = calls['instance_group']
    assert [g['name'] for g in groups] == ['isc-rotation-shard-%d' % n for n in (1, 2, 3)]
    claims = []
    for group in groups:
        spec = yaml.safe_load(group['pod_spec_override'])
        assert group['is_container_group'] and group['credential'] == 'my-cluster'
        assert spec['spec']['containers'][0]['volumeMounts'][0]['name'] == spec['spec']['volumes'][0]['name']
        claims.append(spec['spec']['volumes'][0]['persistentVolumeClaim']['claimName'])
    assert claims == ['isc-rotation-state-shard-%d' % n for n in (1, 2, 3)]
    assert [t['instance_groups'] for t in calls['job_template']] == [[g['name']] for g in groups]


def test_awx_workflow_example_refuses_one_client_for_two_shards(workdir):
    result, calls = run_workflow_example(workdir, dict(SETTINGS, isc_api_clients=[CLIENTS[0], CLIENTS[0]]))
    assert result.returncode != 0 and 'budget is per client id' in result.stdout
    assert not calls
