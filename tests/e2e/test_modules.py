"""The four modules through ansible-playbook against the simulator: one play, one token, real HTTP."""

import ast
import hashlib
import json
import os

import yaml

from conftest import write_playbook

PASSWORD = 'CanaryPw-7f3a9Q2x'  # marked value: must never show up in any output
NEXT_PASSWORD = 'CanaryPw-8k2b6Z4y'

PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      base_url: "{{ sim_url }}"
      client_id: demo-client-id
      client_secret: demo-client-secret
  tasks:
    - name: info
      sailpoint_isc.passwords.isc_password_info:
        user_name: Abby.Smith
        source_name: My-AD
      register: info
    - name: set
      sailpoint_isc.passwords.isc_set_password:
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ new_password }}"
        update_password: "{{ mode }}"
        fingerprint_path: "{{ fp_path }}"
        wait: true
        wait_timeout: 60
        poll_interval: 1
      register: change
    - name: status
      sailpoint_isc.passwords.isc_password_status:
        request_id: "{{ change.request_id }}"
      register: status
      when: change.request_id | default('', true) | length > 0
    - name: token
      sailpoint_isc.passwords.isc_digit_token:
        user_id: Abby.Smith
        length: 8
      register: token
      no_log: true
    - name: results
      ansible.builtin.copy:
        dest: "{{ out_path }}"
        mode: "0600"
        content: "{{ {'info_changed': info.changed, 'policy': info.policy, 'set_changed': change.changed,
                 'state': change.state | default(None), 'status': status.state | default(None),
                 'token_len': token.digit_token | default('', true) | length,
                 'token_is_digits': token.digit_token | default('', true) is match('^[0-9]+$')} | to_json }}"
"""


def results(workdir):
    with open(workdir + '/results.json') as handle:
        return json.load(handle)


def run_play(ansible, simulator, workdir, password, mode='always', **kw):
    path = write_playbook(workdir, 'modules.yml', PLAY)
    extra = {'sim_url': simulator.base_url, 'new_password': password, 'mode': mode,
             'fp_path': workdir + '/fingerprints.json', 'out_path': workdir + '/results.json'}
    return ansible.run(path, extra, vault=False, **kw)


def abby_hash(simulator):
    return simulator.accounts(userName='Abby.Smith', sourceName='My-AD')[0]['passwordSha256']


def test_all_four_modules_one_token_and_on_change(ansible, simulator, workdir):
    """The first run is at -vvvv with --diff: it also holds the checks of test_verbose_run_leaks_no_secret (issue 21:
    that test ran the same play, on_change, on a fresh simulator, once more)."""
    first = run_play(ansible, simulator, workdir, PASSWORD, mode='on_change', verbosity=4, diff=True)
    assert first.returncode == 0, first.stdout[-4000:]
    check_verbose_run_leaks_no_secret(first, workdir)
    got = results(workdir)
    assert got['info_changed'] is False and got['policy']['min_length'] == 8
    assert got['set_changed'] is True and got['state'] == 'FINISHED' and got['status'] == 'FINISHED'
    assert got['token_len'] == 8 and got['token_is_digits']
    assert abby_hash(simulator) == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert simulator.counters()['tokensIssued'] == 1
    sets = simulator.requests_of('set_password')

    again = run_play(ansible, simulator, workdir, PASSWORD, mode='on_change')
    assert again.returncode == 0, again.stdout[-4000:]
    assert results(workdir)['set_changed'] is False
    assert simulator.requests_of('set_password') == sets
    assert simulator.counters()['tokensIssued'] == 1

    checked = run_play(ansible, simulator, workdir, NEXT_PASSWORD, mode='on_change', check=True)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert 'changed: [localhost]' in checked.stdout
    assert simulator.requests_of('set_password') == sets
    assert abby_hash(simulator) == hashlib.sha256(PASSWORD.encode()).hexdigest()


def check_verbose_run_leaks_no_secret(result, workdir):
    """A run of PLAY at -vvvv --diff, on_change, on a fresh simulator: no secret in its output or fingerprint file."""
    with open(workdir + '/fingerprints.json') as handle:
        fingerprints = handle.read()
    # one entry, Abby.Smith's change, confirmed; keys are digests, so no account name appears
    entries = json.loads(fingerprints)['entries']
    assert [e['state'] for e in entries.values()] == ['confirmed'] and 'Abby.Smith' not in fingerprints
    for blob in (result.stdout, result.stderr, fingerprints):
        assert PASSWORD not in blob
        assert 'demo-client-secret' not in blob


def test_set_with_always_then_on_change_sends_no_second_set_password(ansible, simulator, workdir):
    # update_password's text: on_change compares with "the last password this controller set
    # successfully", whatever mode set it; counted at the service
    first = run_play(ansible, simulator, workdir, PASSWORD, mode='always')
    assert first.returncode == 0, first.stdout[-4000:]
    assert results(workdir)['set_changed'] is True and results(workdir)['state'] == 'FINISHED'
    assert simulator.requests_of('set_password') == 1

    again = run_play(ansible, simulator, workdir, PASSWORD, mode='on_change')
    assert again.returncode == 0, again.stdout[-4000:]
    assert results(workdir)['set_changed'] is False
    assert simulator.requests_of('set_password') == 1
    assert abby_hash(simulator) == hashlib.sha256(PASSWORD.encode()).hexdigest()


def documented_on_change_example():
    """The on_change task of isc_set_password's EXAMPLES, as ansible-doc shows it."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        'plugins', 'modules', 'isc_set_password.py')
    with open(path) as handle:
        tree = ast.parse(handle.read())
    examples = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and [t.id for t in node.targets] == ['EXAMPLES']][0]
    tasks = [t for t in yaml.safe_load(examples)
             if t['sailpoint_isc.passwords.isc_set_password'].get('update_password') == 'on_change']
    assert len(tasks) == 1
    return tasks[0]


def test_documented_on_change_example_is_idempotent(ansible, simulator, workdir):
    example = documented_on_change_example()
    args = dict(example['sailpoint_isc.passwords.isc_set_password'])
    password_source = args['password']
    # the example's task, aimed at a simulator account: its password source, update_password and
    # fingerprint_path verbatim; the connection comes from SAIL_* (the example names a tenant)
    account = simulator.accounts(sourceName='Corp-LDAP')[0]
    for field in ('tenant', 'account_id'):
        args.pop(field)
    args.update(user_name=account['userName'], source_name='Corp-LDAP')
    task = dict(example, **{'sailpoint_isc.passwords.isc_set_password': args, 'register': 'change'})
    play = [{'hosts': 'localhost', 'gather_facts': False, 'vars': {'isc_state_dir': workdir + '/state'}, 'tasks': [
        task,
        {'name': 'render the password source as the example task did', 'ansible.builtin.debug': {'msg': password_source},
         'register': 'example_password'},
        # the same password source for 25 other state directories: enough characters that the
        # default character set (which has ':') would show a ':' (all but certainly)
        {'name': 'render the password source', 'ansible.builtin.debug': {'msg': password_source},
         'vars': {'isc_state_dir': workdir + '/sources/{{ item }}'}, 'loop': '{{ range(25) | list }}',
         'register': 'rendered'},
        {'name': 'results', 'ansible.builtin.copy': {
            'dest': workdir + '/example.json', 'mode': '0600',
            'content': "{{ {'changed': change.changed, 'password': example_password.msg,"
                       " 'rendered': rendered.results | map(attribute='msg') | list} | to_json }}"}},
    ]}]
    path = write_playbook(workdir, 'example.yml', json.dumps(play))

    outcomes = []
    for dummy in range(2):
        result = ansible.run(path, vault=False)
        assert result.returncode == 0, result.stdout[-4000:]
        with open(workdir + '/example.json') as handle:
            outcomes.append(json.load(handle))
    first, second = outcomes
    assert first['changed'] is True and second['changed'] is False
    assert simulator.requests_of('set_password') == 1
    assert os.path.exists(workdir + '/state/passwords/svc-backup')
    now = simulator.accounts(userName=account['userName'], sourceName='Corp-LDAP')[0]['passwordSha256']
    assert now == hashlib.sha256(first['password'].encode()).hexdigest()
    # one stable password per state directory, none with ':' (ISC refuses it)
    assert first['password'] == second['password']
    assert first['rendered'] == second['rendered'] and len(set(first['rendered'] + [first['password']])) == 26
    assert all(len(pw) == 24 and ':' not in pw for pw in first['rendered'] + [first['password']])
    assert os.path.exists(workdir + '/state/fingerprints.json')


QUERIES = 5  # module processes one after the other: the first fetches the token, every later one reads the cache


def test_tasks_fetch_one_token(ansible, simulator, workdir):
    """Several tasks (5; 20 before issue 21: the property is that every task after the first finds the cached token,
    which five show as twenty do) fetch one token through token_cache."""
    tasks = ''.join("""
    - name: query %d
      sailpoint_isc.passwords.isc_password_info:
        user_name: Abby.Smith
        source_name: My-AD
""" % n for n in range(QUERIES))
    play = write_playbook(workdir, 'queries.yml', """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      token_cache: "{{ playbook_dir }}/tokens"
  tasks:%s""" % tasks)
    result = ansible.run(play)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count('ok: [localhost]') == QUERIES
    assert simulator.requests_of('query_password_info') == QUERIES
    assert simulator.counters()['tokensIssued'] == 1


def test_wait_polls_sooner_first(ansible, simulator, workdir):
    """wait: true reads the status after 1 s, then backs off to poll_interval: a change that completes in 0.3 s is
    seen finished about a second later, not a whole poll_interval (30 s here) later. Timed by the simulator, from
    the change's completion to the status read that saw it, so a slow ansible-playbook start or end (a loaded
    machine) does not count."""
    import datetime
    path = write_playbook(workdir, 'wait.yml', """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: set and wait
      sailpoint_isc.passwords.isc_set_password:
        base_url: "{{ sim_url }}"
        client_id: demo-client-id
        client_secret: demo-client-secret
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ new_password }}"
        wait: true
        poll_interval: 30
      register: change
    - name: finished
      ansible.builtin.assert:
        that: change.state == 'FINISHED'
""")
    result = ansible.run(path, {'sim_url': simulator.base_url, 'new_password': PASSWORD}, vault=False)
    assert result.returncode == 0, result.stdout[-3000:]
    [change] = simulator.call('GET', '/__sim/requests')['requests']

    def moment(text):
        return datetime.datetime.fromisoformat(text.replace('Z', '+00:00')).timestamp()
    reads = change['statusReadsAt']
    assert reads, 'wait: true read the status'
    # the last read saw it FINISHED; after a whole poll_interval (30 s) would be the bug, 1 s and a request the design
    seen = moment(reads[-1]) - moment(change['completesAt'])
    assert 0 <= seen < 15, 'the change was seen finished %.1f s after it completed (reads: %r)' % (seen, reads)
