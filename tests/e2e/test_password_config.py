"""Password configuration as code, end to end (issue 13): playbooks/password_config.yml applies a file,
playbooks/export_password_config.yml writes one, and the configuration a tenant gets that way is what its
query-password-info reports and what a rotation there follows.

Two simulators stand for a sandbox and a production tenant; every write goes through ansible-playbook
with the ORG_ADMIN personal access token of the default seed.
"""

import json
import os

import pytest
import yaml

from conftest import FAST_LIMITS, PlaybookRunner, SimulatorProcess, write_playbook
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import key_of, read_store, repo_path, rotate_vars, write_accounts

PAT = {'SAIL_CLIENT_ID': 'demo-pat-id', 'SAIL_CLIENT_SECRET': 'demo-pat-secret'}
APPLY = repo_path('playbooks', 'password_config.yml')
EXPORT = repo_path('playbooks', 'export_password_config.yml')
EXAMPLE = repo_path('playbooks', 'password_config.example.yml')
READ_ONLY = ('id', 'date_created', 'last_updated', 'created', 'modified')

# The sandbox's configuration: a strict policy for Oracle-DB, a department selector on My-AD, digit
# tokens and a dictionary.
SANDBOX = {'isc_password_config': {
    'password_policies': [
        {'name': 'Service accounts', 'min_length': 40, 'max_length': 48, 'min_upper': 2, 'min_lower': 2,
         'min_numeric': 2, 'min_special': 2, 'max_repeated_chars': 2, 'use_dictionary': True,
         'sources': ['Oracle-DB']},
        {'name': 'Finance staff', 'min_length': 16, 'min_character_types': 3},
    ],
    'source_password_policies': [
        {'source': 'My-AD', 'holders': [
            {'policy': 'Finance staff', 'selectors': {'identity_attr': [{'name': 'department', 'value': 'Finance'}]}},
            {'policy': 'My-AD policy'}]},
    ],
    'password_org_config': {'digit_token_enabled': True, 'digit_token_length': 8},
    'password_dictionary': {'words': ['acme', 'winter', 'summer'], 'locale': 'en_US'},
}}


def recap(result):
    """(changed, failed) of the PLAY RECAP line of one ansible-playbook run."""
    line = [x for x in result.stdout.splitlines() if x.startswith('localhost') and 'changed=' in x][-1]
    fields = dict(part.split('=') for part in line.split(':', 1)[1].split())
    return int(fields['changed']), int(fields['failed'])


def config_of(simulator):
    return simulator.call('GET', '/__sim/password-config')


def without_read_only(exported):
    """An exported configuration without the fields that differ between tenants (ids and dates)."""
    config = exported['isc_password_config']
    config['password_policies'] = [dict((k, v) for k, v in p.items() if k not in READ_ONLY)
                                   for p in config['password_policies']]
    config['password_sync_groups'] = [dict((k, v) for k, v in g.items() if k != 'id')
                                      for g in config['password_sync_groups']]
    return exported


@pytest.fixture
def tenants(workdir):
    """(runner for the sandbox, runner for production), each against its own simulator."""
    sims = []
    for name in ('sandbox', 'production'):
        os.makedirs(os.path.join(workdir, name))
        sims.append(SimulatorProcess(os.path.join(workdir, name), '--completion-delay', '0.3'))
    try:
        yield PlaybookRunner(workdir, sims[0]), PlaybookRunner(workdir, sims[1])
    finally:
        for sim in sims:
            sim.stop()


def write(workdir, name, data):
    path = os.path.join(workdir, name)
    with open(path, 'w') as handle:
        yaml.safe_dump(data, handle)
    return path


def test_export_from_one_tenant_apply_to_another_and_rotate_there(workdir, tenants):
    sandbox, production = tenants
    source_file = write(workdir, 'sandbox.yml', SANDBOX)

    # the sandbox gets its configuration (4 tasks change: policies, holders, org config, dictionary);
    # a second run changes nothing
    first = sandbox.run(APPLY, {'password_config_file': source_file}, env=PAT)
    assert recap(first) == (4, 0), first.stdout + first.stderr
    again = sandbox.run(APPLY, {'password_config_file': source_file}, env=PAT)
    assert recap(again) == (0, 0), again.stdout

    # export it: the file is the apply playbook's format, names instead of ids, nothing secret
    exported_path = os.path.join(workdir, 'exported.yml')
    out = sandbox.run(EXPORT, {'password_config_file': exported_path}, env=PAT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert oct(os.stat(exported_path).st_mode & 0o777) == '0o600'
    with open(exported_path) as handle:
        exported = yaml.safe_load(handle)
    policies = {p['name']: p for p in exported['isc_password_config']['password_policies']}
    assert policies['Service accounts']['min_length'] == 40 and policies['Service accounts']['sources'] == ['Oracle-DB']
    (holders,) = exported['isc_password_config']['source_password_policies']  # My-AD only: it has a selector
    assert holders['source'] == 'My-AD'
    assert sorted(holders['holders'], key=lambda h: h['policy']) == [
        {'policy': 'Finance staff', 'selectors': {'identity_attr': [{'name': 'department', 'value': 'Finance'}]}},
        {'policy': 'My-AD policy', 'selectors': None}]
    dictionary = exported['isc_password_config']['password_dictionary']
    assert dictionary == {'words': ['acme', 'winter', 'summer'], 'locale': 'en_US'}
    assert exported['isc_password_config']['password_org_config']['digit_token_length'] == 8
    text = open(exported_path).read()
    assert 'demo-pat-secret' not in text and 'demo-client-secret' not in text
    # exporting then applying to the same tenant changes nothing
    same = sandbox.run(APPLY, {'password_config_file': exported_path}, env=PAT)
    assert recap(same) == (0, 0), same.stdout

    # production: --check --diff is the review and writes nothing
    before = config_of(production.simulator)
    review = production.run(APPLY, {'password_config_file': exported_path}, check=True, diff=True, env=PAT)
    assert review.returncode == 0, review.stdout + review.stderr
    assert recap(review)[0] == 4
    assert '"min_length": 40' in review.stdout and 'Finance staff' in review.stdout
    assert config_of(production.simulator) == before
    # apply, re-apply unchanged, and production exports what the sandbox did
    applied = production.run(APPLY, {'password_config_file': exported_path}, env=PAT)
    assert recap(applied) == (4, 0), applied.stdout + applied.stderr
    assert recap(production.run(APPLY, {'password_config_file': exported_path}, env=PAT)) == (0, 0)
    production_export = os.path.join(workdir, 'production.yml')
    assert production.run(EXPORT, {'password_config_file': production_export}, env=PAT).returncode == 0
    with open(production_export) as handle:
        assert without_read_only(yaml.safe_load(handle)) == without_read_only(exported)

    # production's query-password-info now answers with the sandbox's policies
    effective = production.simulator.call('GET', '/__sim/password-config')['effective']
    ids = {p['name']: p['id'] for p in production.simulator.call('GET', '/__sim/password-config')['policies']}
    assert effective['Oracle-DB'] == ids['Service accounts']
    info_play = write(workdir, 'info.yml', [{
        'hosts': 'localhost', 'gather_facts': False, 'tasks': [
            {'sailpoint_isc.passwords.isc_password_info': {'user_name': 'svc-app-003', 'source_name': 'Oracle-DB'},
             'register': 'info'},
            {'ansible.builtin.copy': {'content': '{{ info.policies | to_json }}', 'dest': '{{ playbook_dir }}/policies.json',
                                      'mode': '0600'}}]}])
    info = production.run(info_play)
    assert info.returncode == 0, info.stdout + info.stderr
    with open(os.path.join(workdir, 'policies.json')) as handle:
        strings = json.load(handle)
    assert 'passwordMinLength is 40' in strings and 'passwordMaxLength is 48' in strings

    # and a rotation there follows them: every new Oracle-DB password is 40 to 48 characters
    accounts = [{'source_name': 'Oracle-DB', 'user_name': 'svc-app-%03d' % n} for n in (3, 6, 9)]
    rotated = production.run(repo_path('playbooks', 'rotate_service_accounts.yml'),
                             rotate_vars(workdir, write_accounts(workdir, accounts),
                                         service_account_rotation_force=True))
    assert rotated.returncode == 0, rotated.stdout[-3000:] + rotated.stderr
    store = read_store(workdir)
    for account in accounts:
        password = store[key_of(account)]['current']
        assert 40 <= len(password) <= 48
        assert sum(c.isupper() for c in password) >= 2 and sum(not c.isalnum() for c in password) >= 2
    assert 'Service accounts' in review.stdout  # the review named the policy it would create


def test_example_file_applies_to_the_simulator_and_settles(ansible):
    runner = ansible
    first = runner.run(APPLY, {'password_config_file': EXAMPLE}, env=PAT)
    assert recap(first)[1] == 0 and recap(first)[0] > 0, first.stdout + first.stderr
    assert recap(runner.run(APPLY, {'password_config_file': EXAMPLE}, env=PAT)) == (0, 0)


@pytest.mark.parametrize('content, needle', [
    ({'isc_password_config': {'password_policies': [{'name': 'X', 'min_lenght': 9}]}},
     'isc_password_config.password_policies[0] (X) has the unknown option min_lenght'),
    ({'isc_password_config': {'password_polices': []}}, 'unknown section isc_password_config.password_polices'),
    ({'isc_password_config': {'password_sync_groups': {'name': 'G'}}},
     'isc_password_config.password_sync_groups must be a list'),
    ({'isc_password_config': {'password_org_config': [{'digit_token_length': 8}]}},
     'isc_password_config.password_org_config must be a mapping'),
    ({'password_policies': []}, 'it sets no isc_password_config'),
])
def test_a_bad_file_is_refused_before_anything_is_sent(workdir, ansible, content, needle):
    before = ansible.simulator.call('GET', '/__sim/counters')
    path = write(workdir, 'bad.yml', content)
    result = ansible.run(APPLY, {'password_config_file': path}, env=PAT)
    assert result.returncode != 0
    assert needle in result.stdout, result.stdout
    after = ansible.simulator.call('GET', '/__sim/counters')
    assert after['requests'] == before['requests']


def test_an_api_client_is_told_to_use_a_personal_access_token(workdir, ansible):
    path = write(workdir, 'one.yml', {'isc_password_config': {'password_policies': [{'name': 'New', 'min_length': 12}]}})
    result = ansible.run(APPLY, {'password_config_file': path})  # the runner's default credential: an API client
    assert result.returncode != 0
    assert 'personal access token (PAT) of an ORG_ADMIN' in result.stdout, result.stdout
    assert 'New' not in [p['name'] for p in config_of(ansible.simulator)['policies']]
    assert 'demo-client-secret' not in result.stdout + result.stderr


# Issue 22 item 12: a source moves from one sync group to another. ISC keeps a source in one group at a time, so
# the group that gives it up must be written before the group that takes it, whatever the order of the file.
MOVE = [{'name': 'Kerberos Sync', 'password_policy': 'Unix Password Sync', 'sources': ['Unix-Kerberos', 'Oracle-DB']},
        {'name': 'Unix Password Sync', 'sources': ['Unix-LDAP', 'Corp-LDAP']}]


ORDERS = {'taker first': MOVE, 'giver first': MOVE[::-1]}


def test_a_source_moves_between_sync_groups_whatever_the_file_order(workdir):
    """Both orders of the file, each against a simulator of its own, side by side: each step (the review, the apply,
    the re-apply) is one ansible-playbook run that imports the shipped playbook once per order (issue 21: one run per
    order and step before, the test parametrized by the order; every check is still made per order, on its play's
    output and its simulator)."""
    sims, plays = {}, []
    try:
        for n, (order, groups) in enumerate(ORDERS.items()):
            os.makedirs(os.path.join(workdir, 'sim-%d' % n))
            sims[order] = SimulatorProcess(os.path.join(workdir, 'sim-%d' % n), '--completion-delay', '0.3', '--rate-limit',
                                           str(FAST_LIMITS[0]), '--rate-window', str(FAST_LIMITS[1]))
            path = write(workdir, 'move-%d.yml' % n, {'isc_password_config': {'password_sync_groups': groups}})
            plays.append({'ansible.builtin.import_playbook': 'sailpoint_isc.passwords.password_config',
                          'vars': {'password_config_file': path, 'isc_base_url': sims[order].base_url}})
        both = write_playbook(workdir, 'move-both-orders.yml', yaml.safe_dump(plays, sort_keys=False))
        ansible = PlaybookRunner(workdir, sims['taker first'])
        before = dict((order, config_of(sim)) for order, sim in sims.items())
        review = ansible.run(both, env=PAT, check=True, diff=True)
        assert review.returncode == 0, review.stdout + review.stderr  # the review shows the move, writes nothing
        for order, section in zip(ORDERS, review.stdout.split('\nPLAY [')[1:]):
            assert config_of(sims[order]) == before[order] and 'Kerberos Sync' in section, order
            # the diff names the sources as the file does, beside their ids (issue 24 item 7)
            diff = section[section.index('sync group Kerberos Sync'):]
            assert '"sources": [' in diff and '"Oracle-DB"' in diff and '"sourceIds": [' in diff, (order, section[-3000:])
        first = ansible.run(both, env=PAT)
        assert first.returncode == 0, first.stdout + first.stderr
        for order, sim in sims.items():
            config = config_of(sim)
            ids = {}
            for account in sim.call('GET', '/__sim/accounts')['accounts']:
                ids[account['sourceName']] = account['sourceId']
            members = dict((g['name'], sorted(g['sourceIds'])) for g in config['syncGroups'])
            assert members == {'Kerberos Sync': sorted([ids['Unix-Kerberos'], ids['Oracle-DB']]),
                               'Unix Password Sync': sorted([ids['Unix-LDAP'], ids['Corp-LDAP']])}, (order, members)
        again = ansible.run(both, env=PAT)
        assert recap(again) == (0, 0), again.stdout  # a re-run changes nothing (of either order: one recap line)
    finally:
        for sim in sims.values():
            sim.stop()
