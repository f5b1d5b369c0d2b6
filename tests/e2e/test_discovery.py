"""Discovery end to end (issue 26): the isc_accounts inventory against the simulator.

ansible-inventory puts exactly the seeded due and unrotatable accounts in their groups with one search
request (a cached second call sends none); after native changes of 5 rotated accounts and an aggregation,
`drift` is exactly those 5, and a rotation from the inventory (service_account_rotation_accounts_from: inventory) re-establishes them,
reported with reason drift. At 10,000 identities (test_10000_identities_exact_groups) the groups are exactly the
ones the fleet was built with, in at most 3 search requests, and a cached second call sends none.
"""

import datetime
import json
import os
import subprocess

from conftest import PlaybookRunner, write_playbook
from rotation_helpers import ROTATE, read_store, repo_path, rotate_vars, sha, write_accounts
from tools.isc_simulator import discovery_fleet

ROTATED = ['svc-app-%03d' % n for n in (2, 5, 8, 11, 14, 17, 20)]        # Corp-LDAP accounts of the fleet
NATIVE = ROTATED[:5]
UNROTATABLE = {'HR-Feed/feed-reader', 'Corp-LDAP/kiosk-display', 'Corp-AD/svc-orphan-01', 'Corp-LDAP/svc-orphan-02'}

INVENTORY = """
plugin: sailpoint_isc.passwords.isc_accounts
sources: [Corp-AD, Corp-LDAP, HR-Feed]
max_age_days: {max_age}
drift_tolerance: 2
ledger_path: {ledger}
token_cache: false
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: {cache}
keyed_groups:
  - key: source_name
    prefix: src
compose:
  isc_source: source_name | lower
groups:
  ldap_accounts: source_name == 'Corp-LDAP'
"""

FROM_INVENTORY = """
- name: Rotate what the inventory calls due or drifted
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: sailpoint_isc.passwords.service_account_rotation
      vars:
        service_account_rotation_state_dir: "{{ rotation_state_dir }}"
        service_account_rotation_poll_interval: 1
        service_account_rotation_verify_from_isc: true
        service_account_rotation_verify_from_isc_timeout: 20
        service_account_rotation_accounts_from: inventory
"""


MACHINE_PLAY = """
- name: Machine-account details from the module
  hosts: localhost
  gather_facts: false
  tasks:
    - name: List Corp-LDAP with machine-account details
      sailpoint_isc.passwords.isc_account_info:
        sources: [Corp-LDAP]
        machine_accounts: true
        client_id: "{{ pat_id }}"
        client_secret: "{{ pat_secret }}"
        token_cache: false
      register: found
    - name: Show svc-app-002's
      ansible.builtin.debug:
        msg: "machine {{ item.machine_account.environment }} {{ item.owner }}"
      loop: "{{ found.accounts | selectattr('user_name', 'equalto', 'svc-app-002') | list }}"
      loop_control:
        label: "{{ item.host }}"
"""


def _inventory(ansible, workdir, name, max_age):
    folder = os.path.join(workdir, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, 'isc_accounts.yml')
    with open(path, 'w') as handle:
        handle.write(INVENTORY.format(max_age=max_age, ledger=os.path.join(workdir, 'rotation', 'ledger.json'),
                                      cache=os.path.join(workdir, 'inventory-cache-' + name)))
    return path


def _list(ansible, path, flush=False):
    cmd = [os.path.join(ansible.bin, 'ansible-inventory'), '-i', path, '--list'] + (['--flush-cache'] if flush else [])
    result = subprocess.run(cmd, cwd=ansible.workdir,
                            env=ansible.env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'demo-client-secret' not in result.stdout + result.stderr
    return json.loads(result.stdout, object_hook=lambda d: d.get('__ansible_unsafe', d) if len(d) == 1 else d)


def _hosts(inventory, group):
    return set(inventory.get(group, {}).get('hosts', []))


def _searches(simulator):
    return simulator.requests_of('search')


def test_inventory_groups_cache_drift_and_rotation_from_inventory(ansible, simulator, workdir):
    simulator.call('PATCH', '/__sim/config', {'aggregation_delay': 3600})
    accounts = [{'source_name': 'Corp-LDAP', 'user_name': user} for user in ROTATED]
    result = ansible.run(ROTATE, rotate_vars(workdir, write_accounts(workdir, accounts)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    simulator.call('POST', '/__sim/aggregate', {})  # ISC now shows our rotations

    # the seeded groups, exactly: due by ISC's passwordLastSet (none of ours), unrotatable as seeded
    path = _inventory(ansible, workdir, 'age90', 90)
    before = _searches(simulator)
    inventory = _list(ansible, path)
    assert _searches(simulator) - before == 1
    view = simulator.call('GET', '/__sim/discovery')
    now = datetime.datetime.now(datetime.timezone.utc)
    expected_due = set()
    for acc in view['accounts']:
        seen = datetime.datetime.fromisoformat(acc['passwordLastSet'].replace('Z', '+00:00'))
        key = '%s/%s' % (acc['sourceName'], acc['userName'])
        if acc['sourceName'] in ('Corp-AD', 'Corp-LDAP') and key not in UNROTATABLE and now - seen >= datetime.timedelta(days=90):
            expected_due.add(key)
    assert expected_due and _hosts(inventory, 'due') == expected_due
    assert not expected_due & {'Corp-LDAP/' + u for u in ROTATED}
    assert _hosts(inventory, 'unrotatable') == UNROTATABLE and _hosts(inventory, 'drift') == set()
    assert _hosts(inventory, 'by_source_HR_Feed') == {'HR-Feed/feed-reader'}
    assert 'Corp-LDAP/svc-app-002' in _hosts(inventory, 'src_Corp_LDAP')
    assert _hosts(inventory, 'ldap_accounts') == _hosts(inventory, 'by_source_Corp_LDAP')  # constructed groups
    assert inventory['_meta']['hostvars']['Corp-LDAP/svc-app-002']['isc_source'] == 'corp-ldap'  # compose
    hostvars = inventory['_meta']['hostvars']['Corp-LDAP/svc-app-002']
    assert hostvars['last_rotated'] and hostvars['password_last_set'] and hostvars['identity_id']
    assert hostvars['rotation_account'] == {'source_name': 'Corp-LDAP', 'user_name': 'svc-app-002'}

    # a cached second call sends nothing to ISC
    counters = simulator.counters()['requests']
    assert _list(ansible, path) == inventory
    assert simulator.counters()['requests'] == counters

    # the AWX project's inventory source, with only the environment the AWX credential injects; its ledger lives on
    # the rotation job's volume, absent here: no drift
    shipped = _list(ansible, repo_path('extensions', 'awx', 'project', 'inventories', 'isc_accounts.yml'))
    assert _hosts(shipped, 'unrotatable') == UNROTATABLE and _hosts(shipped, 'drift') == set()
    assert 'Corp-LDAP/svc-app-002' in _hosts(shipped, 'source_Corp_LDAP') and _hosts(shipped, 'due')

    # machine accounts (a user token only): owner, subtype and environment on the hosts ISC classifies so; with an
    # API client the same inventory fails naming the fix
    machine = os.path.join(workdir, 'machine', 'isc_accounts.yml')
    os.makedirs(os.path.dirname(machine))
    text = ('plugin: sailpoint_isc.passwords.isc_accounts\nsources: [Corp-AD, Corp-LDAP]\ntoken_cache: false\n'
            'machine_accounts: true\nclient_id: {id}\nclient_secret: {secret}\nkeyed_groups:\n'
            "  - key: isc_account.machine_account.environment | default('none', true)\n    prefix: env\n")
    with open(machine, 'w') as handle:
        handle.write(text.format(id='demo-client-id', secret='demo-client-secret'))
    refused = subprocess.run([os.path.join(ansible.bin, 'ansible-inventory'), '-i', machine, '--list'], cwd=workdir,
                             env=ansible.env(), capture_output=True, text=True, timeout=120, check=False)
    assert 'personal access token' in refused.stderr and 'list-machine-accounts' in refused.stderr, refused.stderr[-2000:]
    with open(machine, 'w') as handle:
        handle.write(text.format(id='demo-pat-id', secret='demo-pat-secret'))
    enriched = _list(ansible, machine)
    details = enriched['_meta']['hostvars']['Corp-LDAP/svc-app-002']
    assert details['isc_account']['machine_account'] == {'owner': 'Carl.Jones', 'subtype': 'Application', 'environment': 'TEST',
                                                         'classification': 'SOURCE', 'machine_identity': 'svc-app-002'}
    assert details['owner'] == 'Carl.Jones'
    assert _hosts(enriched, 'env_PRODUCTION') == {'Corp-AD/svc-app-001'}
    assert _hosts(enriched, 'env_DEVELOPMENT') == {'Corp-AD/svc-orphan-01'}  # uncorrelated, still enriched
    assert enriched['_meta']['hostvars']['Corp-AD/svc-app-004']['isc_account']['machine_account'] is None
    play = write_playbook(workdir, 'machine.yml', MACHINE_PLAY)  # the same from the module
    result = ansible.run(play, {'pat_id': 'demo-pat-id', 'pat_secret': 'demo-pat-secret'}, vault=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'machine TEST Carl.Jones' in result.stdout

    # passwords changed behind our back (seconds after our rotation: drift_tolerance 2 s here, 600 s by default):
    # drift is exactly those 5 after the next aggregation
    for user in NATIVE:
        simulator.call('POST', '/__sim/native-change', {'userName': user, 'sourceName': 'Corp-LDAP'})
    late = _inventory(ansible, workdir, 'age400', 400)  # a new inventory source: no cache yet, nothing due
    assert _hosts(_list(ansible, late), 'drift') == set()  # not aggregated yet: ISC cannot know
    simulator.call('POST', '/__sim/aggregate', {})
    drifted = _list(ansible, late, flush=True)
    assert _hosts(drifted, 'drift') == {'Corp-LDAP/' + u for u in NATIVE} and _hosts(drifted, 'due') == set()
    assert drifted['_meta']['hostvars']['Corp-LDAP/svc-app-002']['rotation_account']['rotate_reason'] == 'drift'

    # the rotation from the inventory re-establishes a known password, reported as drift
    simulator.call('PATCH', '/__sim/config', {'reload_delay': 0.5})  # verify_from_isc: a reload aggregates soon
    write_playbook(workdir, 'from-inventory.yml', FROM_INVENTORY)
    cmd = ansible.command(os.path.join(workdir, 'from-inventory.yml'), {'rotation_state_dir': os.path.join(workdir, 'rotation')})
    cmd[cmd.index('localhost,')] = late  # the inventory (cached: drift as just listed); localhost is implicit
    result = subprocess.run(cmd, cwd=workdir, env=ansible.env(), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        report = {row['account']: row for row in json.load(handle)['accounts']}
    for user in NATIVE:
        row = report['Corp-LDAP/' + user]
        assert row['status'] == 'rotated' and row.get('reason') == 'drift', row
    assert set(report) == {'Corp-LDAP/' + u for u in NATIVE}
    assert simulator.requests_of('account_reload') == 5  # verify_from_isc proved each change from ISC's side
    store = read_store(workdir)
    live = {a['userName']: a['passwordSha256'] for a in simulator.accounts(sourceName='Corp-LDAP')}
    assert all(sha(store['Corp-LDAP/' + u]['current']) == live[u] for u in NATIVE)
    simulator.call('POST', '/__sim/aggregate', {})
    assert _hosts(_list(ansible, late, flush=True), 'drift') == set()

    # the evidence report: every account of the sources, managed or not, totals per source, no secret
    evidence = os.path.join(workdir, 'evidence')
    result = ansible.run(repo_path('playbooks', 'rotation_evidence.yml'), {
        'evidence_dir': evidence, 'evidence_sources': ['Corp-LDAP', 'HR-Feed'],
        'rotation_state_dir': os.path.join(workdir, 'rotation')})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    with open(os.path.join(evidence, 'evidence.json')) as handle:
        report = json.load(handle)
    with open(os.path.join(evidence, 'evidence.md')) as handle:
        page = handle.read()
    rows = {row['account']: row for row in report['accounts']}
    assert report['totals']['Corp-LDAP']['managed'] == len(ROTATED) and report['totals']['HR-Feed']['unrotatable'] == 1
    assert report['totals']['Corp-LDAP']['accounts'] == len([r for r in rows if r.startswith('Corp-LDAP/')]) > len(ROTATED)
    assert rows['Corp-LDAP/svc-app-002']['managed'] and rows['Corp-LDAP/svc-app-002']['last_rotated']
    assert not rows['Corp-LDAP/svc-app-023']['managed'] and rows['HR-Feed/feed-reader']['owner'] == 'Abby.Smith'
    assert '| Corp-LDAP/svc-app-002 |' in page and '| HR-Feed | 1 | 0 | 0 | 0 | 1 |' in page
    secrets = [v for entry in read_store(workdir).values() for k, v in entry.items() if k in ('current', 'previous') and isinstance(v, str)]
    assert secrets and not [s for s in secrets if s in page or s in json.dumps(report) or s in result.stdout]


def test_verify_from_isc_catches_finished_but_not_applied(ansible, simulator, workdir):
    """ISC says FINISHED but the password reached no account: the reload shows passwordLastSet did not move."""
    simulator.call('PATCH', '/__sim/config', {'reload_delay': 0.3})
    simulator.set_faults({'set_password': {'not_applied_rate': 1.0}})
    accounts = [{'source_name': 'Oracle-DB', 'user_name': 'svc-app-003'}]
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_verify_from_isc=True,
                        service_account_rotation_verify_from_isc_timeout=3)
    result = ansible.run(ROTATE, extra)
    assert result.returncode != 0, result.stdout[-3000:]
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        row = json.load(handle)['accounts'][0]
    assert row['status'] == 'unverified' and 'passwordLastSet' in row['detail'], row
    assert simulator.requests_of('account_reload') == 1
    # issue 26 section 2: without that proof the password stays pending (never committed before it), and the next run,
    # the fault gone, sends the same password again, proves it and commits it
    entry = read_store(workdir)['Oracle-DB/svc-app-003']
    assert entry.get('pending') and entry.get('current') != entry['pending'], sorted(entry)
    simulator.set_faults({})
    again = ansible.run(ROTATE, extra)
    assert again.returncode == 0, again.stdout[-3000:]
    settled = read_store(workdir)['Oracle-DB/svc-app-003']
    assert 'pending' not in settled and settled['current'] == entry['pending']
    live = [a['passwordSha256'] for a in simulator.accounts(userName='svc-app-003') if a['sourceName'] == 'Oracle-DB']
    assert live == [sha(entry['pending'])] and simulator.requests_of('set_password') == 2


FLEET = 10000
AT_SCALE = """
plugin: sailpoint_isc.passwords.isc_accounts
max_age_days: {max_age}
ledger_path: {ledger}
token_cache: false
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: {cache}
"""


def test_10000_identities_exact_groups(simulator_factory, workdir):
    """Issue 26, Done means: at 10,000 identities one `ansible-inventory --list` (every source) puts exactly the
    accounts the fleet was built with in due, drift and unrotatable (tools/isc_simulator/discovery_fleet.py: ages
    seeded through /__sim/discovery, our ledger, 5 native changes and an aggregation), every account ISC knows is one
    host, at most 3 search requests; a cached second call answers the same and sends nothing."""
    sim = simulator_factory('--fleet-size', str(FLEET))
    runner = PlaybookRunner(workdir, sim)
    ledger = os.path.join(workdir, 'state', 'ledger.json')
    expected = discovery_fleet.build(sim.call, ledger)
    assert expected['unrotatable'] == UNROTATABLE and len(expected['drift']) == 5
    assert len(expected['due']) > 50 and len(expected['accounts']) > FLEET

    path = os.path.join(workdir, 'scale', 'isc_accounts.yml')
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(AT_SCALE.format(max_age=discovery_fleet.MAX_AGE_DAYS, ledger=ledger,
                                     cache=os.path.join(workdir, 'scale-cache')))
    before = _searches(sim)
    inventory = _list(runner, path)
    assert _searches(sim) - before <= 3
    got = discovery_fleet.found(inventory)
    for group in ('unrotatable', 'due', 'drift'):
        assert got[group] == expected[group], (group, sorted(got[group] ^ expected[group])[:5])
    assert len(got['accounts']) == len(set(got['accounts'])) and set(got['accounts']) == expected['accounts']
    assert _hosts(inventory, 'drift') == expected['drift']  # a fleet account's host name is its ledger key
    assert discovery_fleet.differences(expected, inventory) == []  # the bench's check agrees

    # a cached second call answers the same groups and sends nothing
    counters = sim.counters()['requests']
    graph = subprocess.run([os.path.join(runner.bin, 'ansible-inventory'), '-i', path, '--graph', 'drift'],
                           cwd=workdir, env=runner.env(), capture_output=True, text=True, timeout=120, check=False)
    assert graph.returncode == 0, graph.stderr[-3000:]
    assert set(line.split('|--')[1] for line in graph.stdout.splitlines() if '|--' in line) == expected['drift']
    assert sim.counters()['requests'] == counters
