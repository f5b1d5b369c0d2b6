"""Several API clients in one rotation run, through ansible-playbook and the role, against the simulator.

The simulator counts requests per client id (/__sim/counters "clients"), so these tests see who did what
without any help from the collection.
"""

import collections
import json
import os
import re

import yaml

from conftest import PlaybookRunner
from test_artifact_install import awx_inject, awx_validate
from rotation_helpers import ROTATE, fleet, key_of, read_store, repo_path, rotate_vars, unaccounted, write_accounts

# Distinct values that occur nowhere else: any trace of them in an output or a file is a leak.
CLIENTS = [('multi-client-a', 'mc-secret-a-7Qx2Lp9Z'), ('multi-client-b', 'mc-secret-b-3Rt8Wv1K'),
           ('multi-client-c', 'mc-secret-c-5Nd4Hs6J')]
WRONG = 'mc-wrong-secret-9Zq1Yx8T'

# The production budget per client (the simulator's and the client's defaults), not conftest's FAST_LIMITS: how the
# work spreads over several clients depends on each one's budget.
PRODUCTION_LIMITS = ('--rate-limit', '100', '--rate-window', '10')


def seed_with_clients(workdir):
    with open(repo_path('tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    for client_id, secret in CLIENTS:
        seed['api_clients'].append({'client_id': client_id, 'client_secret': secret, 'type': 'client'})
    path = os.path.join(workdir, 'seed-multi.yaml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(seed, handle)
    return path, seed


def sync_sources(seed):
    return [tuple(group['sources']) for group in seed.get('sync_groups') or ()]


def expected_changes(accounts, seed):
    """One set-password per account, one per identity for its accounts on a sync group's sources."""
    group_of = {source: group['id'] for group in seed.get('sync_groups') or () for source in group['sources']}
    return len(set((a['user_name'], group_of[a['source_name']]) if a['source_name'] in group_of else key_of(a)
                   for a in accounts))


def per_client(simulator, operation, status):
    clients = simulator.counters().get('clients', {})
    return dict((cid, clients.get(cid, {}).get(operation, {}).get(status, 0)) for cid, _secret in CLIENTS)


def sync_groups_consistent(simulator, seed):
    """Problems: an identity whose accounts on one sync group's sources hold different passwords."""
    problems = []
    rows = simulator.accounts()
    for sources in sync_sources(seed):
        hashes = collections.defaultdict(set)
        for row in rows:
            if row['sourceName'] in sources:
                hashes[row['userName']].add(row['passwordSha256'])
        problems += ['%s over %s' % (user, sources) for user, found in hashes.items() if len(found) > 1]
    return problems


def leaks(workdir, results, secrets):
    """Where a secret shows: the runs' outputs and every file below workdir but the test's own inputs."""
    inputs = set(os.path.join(workdir, name) for name in os.listdir(workdir)
                 if name.startswith('extra-vars-') or name.startswith('seed-'))
    found = []
    for index, result in enumerate(results):
        for stream in ('stdout', 'stderr'):
            found += ['run %d %s: %s' % (index + 1, stream, s[:12]) for s in secrets if s in getattr(result, stream)]
    for directory, _dirs, names in os.walk(workdir):
        for name in names:
            path = os.path.join(directory, name)
            if path in inputs or os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, 'rb') as handle:
                blob = handle.read()
            found += ['%s: %s' % (os.path.relpath(path, workdir), s[:12]) for s in secrets if s.encode() in blob]
    return found


def test_three_clients_share_the_work_then_a_rerun_changes_nothing(simulator_factory, workdir):
    seed_path, seed = seed_with_clients(workdir)
    simulator = simulator_factory('--seed', seed_path, '--completion-delay', '0.3', *PRODUCTION_LIMITS)
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator)
    assert len(accounts) >= 50 and sync_sources(seed)
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_api_clients=[
        {'client_id': cid, 'client_secret': secret} for cid, secret in CLIENTS])

    first = ansible.run(ROTATE, extra, verbosity=3)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    assert report['totals'] == {'rotated': len(accounts)}
    assert report['api_clients_failed'] == {}
    store = read_store(workdir)
    assert unaccounted(simulator, accounts, store, allow_pending=False) == []
    assert sync_groups_consistent(simulator, seed) == []

    # one change per password, none twice, and every client did a share of each kind of request
    changes = expected_changes(accounts, seed)
    assert simulator.counters()['requests']['set_password'] == {'202': changes}
    sets = per_client(simulator, 'set_password', '202')
    queries = per_client(simulator, 'query_password_info', '200')
    polls = per_client(simulator, 'password_change_status', '200')
    assert sum(sets.values()) == changes, 'every change went through one of the three clients'
    assert sum(queries.values()) == simulator.counters()['requests']['query_password_info']['200']
    for cid, _secret in CLIENTS:
        assert sets[cid] >= changes // 6, ('set-password spread unevenly', sets)
        assert queries[cid] >= len(accounts) // 6, ('queries spread unevenly', queries)
        # a change is polled through the client that submitted it, at least once (completion 0.3 s, poll 1 s)
        assert polls[cid] >= sets[cid], (cid, sets, polls)
    assert per_client(simulator, 'token', '200') == dict((cid, 1) for cid, _secret in CLIENTS), \
        'each client fetched its own token once and shared it through the token cache between the tasks'
    assert 'demo-client-id' not in simulator.counters()['clients'], 'the single default client is not used'
    assert leaks(workdir, [first], [secret for _cid, secret in CLIENTS]) == []

    sets_before = simulator.requests_of('set_password')
    second = ansible.run(ROTATE, extra)
    assert second.returncode == 0, second.stdout[-4000:]
    assert simulator.requests_of('set_password') == sets_before
    assert json.load(open(os.path.join(workdir, 'rotation', 'report.json')))['totals'] == {'skipped': len(accounts)}
    assert read_store(workdir) == store


def test_a_client_with_a_wrong_secret_is_taken_out_and_the_others_rotate_everything(simulator_factory, workdir):
    seed_path, seed = seed_with_clients(workdir)
    simulator = simulator_factory('--seed', seed_path, '--completion-delay', '0.3', *PRODUCTION_LIMITS)
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator)
    extra = rotate_vars(workdir, write_accounts(workdir, accounts))
    # from the environment, as a credential of the shipped AWX type injects them; the wrong one first, so it is
    # tried first
    clients = [{'client_id': CLIENTS[1][0], 'client_secret': WRONG},
               {'client_id': CLIENTS[0][0], 'client_secret': CLIENTS[0][1]},
               {'client_id': CLIENTS[2][0], 'client_secret': CLIENTS[2][1]}]
    with open(repo_path('extensions', 'awx', 'credential_type_multi.yml'), encoding='utf-8') as handle:
        credential_type = yaml.safe_load(handle)
    awx_validate(credential_type)
    env = awx_inject(credential_type, {'base_url': simulator.base_url, 'api_clients': json.dumps(clients)}, workdir)
    assert set(env) == {'SAIL_BASE_URL', 'SAIL_API_CLIENTS'}

    run = ansible.run(ROTATE, extra, verbosity=3, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    report = json.load(open(os.path.join(workdir, 'rotation', 'report.json')))
    assert report['totals'] == {'rotated': len(accounts)}
    assert list(report['api_clients_failed']) == [CLIENTS[1][0]]
    assert 'API client %s failed authentication' % CLIENTS[1][0] in run.stdout
    # a warning Ansible shows (issue 24), not only a line inside the report's debug message
    assert re.search(r'\[WARNING\]: API client %s failed authentication' % CLIENTS[1][0], run.stdout + run.stderr)
    assert unaccounted(simulator, accounts, read_store(workdir), allow_pending=False) == []
    assert sync_groups_consistent(simulator, seed) == []
    # nothing sent twice, nothing through the failed client but its refused token requests
    assert simulator.counters()['requests']['set_password'] == {'202': expected_changes(accounts, seed)}
    assert set(simulator.counters()['clients'][CLIENTS[1][0]]) == {'token'}
    assert simulator.counters()['clients'][CLIENTS[1][0]]['token'].get('200', 0) == 0
    assert per_client(simulator, 'set_password', '202')[CLIENTS[0][0]] > 0
    assert per_client(simulator, 'set_password', '202')[CLIENTS[2][0]] > 0

    # every client wrong: the run fails, naming each client id, and sends nothing
    sets_before = simulator.requests_of('set_password')
    wrong = [{'client_id': cid, 'client_secret': WRONG + cid[-1]} for cid, _secret in CLIENTS[:2]]
    failed = ansible.run(ROTATE, dict(extra, service_account_rotation_force=True), verbosity=3,
                         env={'SAIL_API_CLIENTS': json.dumps(wrong)})
    assert failed.returncode != 0
    assert 'every API client failed authentication' in failed.stdout
    assert CLIENTS[0][0] in failed.stdout and CLIENTS[1][0] in failed.stdout
    assert simulator.requests_of('set_password') == sets_before
    secrets = [secret for _cid, secret in CLIENTS] + [WRONG] + [c['client_secret'] for c in wrong]
    assert leaks(workdir, [run, failed], secrets) == []
