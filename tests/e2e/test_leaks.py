"""Leak canaries: the module and rotation scenarios, successes and failure paths, at -vvvv with --diff,
with marked secret values. None of them may show up in stdout, stderr, the JSON and JUnit reports, the
ledger, the fingerprint file or any other file under the work directory (the encrypted store aside).

Secret kinds: the API client secret (a canary client added to the simulator's seed), a wrong client
secret, passwords (set, refused by policy, FAILED, outcome unknown, batch; and every password the role
ever escrowed, including discarded ones), access tokens (one fetched here and passed in, an expired one,
and the ones the modules fetched and cached), digit tokens (known to the simulator only by hash, found
by hashing every digit run of their length) and a wrong vault password.
"""

import glob
import hashlib
import json
import os
import re
import sys
import time
from xml.sax.saxutils import escape

import pytest
import yaml

from conftest import COLLECTIONS, REPO, PlaybookRunner, ensure_collection_link, write_playbook
from hostile_helpers import StoreWatcher, rows
from rotation_helpers import ROTATE, VAULT_PASSWORD, fleet, rotate_vars, write_accounts

CLIENT_ID = 'canary-client-id'
CLIENT_SECRET = 'Canary-Client-Secret-3f9a7c1e5b'
WRONG_SECRET = 'Canary-Wrong-Secret-8e2d4a6c0f'
WRONG_VAULT_PASSWORD = 'Canary-Vault-Pass-6a0e2f4d'
PASSWORDS = {
    'pw_ok': 'Canary-Pw-7d1f0a3b9e',
    'pw_policy': 'Canary:Pw-7d1f-colon-1',
    'pw_failed': 'Canary-Pw-FAILED-4b8e21',
    'pw_unknown': 'Canary-Pw-UNKNOWN-9c1f3',
    'pw_batch_1': 'Canary-Pw-Batch1-5e7a',
    'pw_batch_2': 'Canary-Pw-Batch2-0c4d',
}

MODULE_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      base_url: "{{ sim_url }}"
  tasks:
    - name: info with the canary client from the environment
      sailpoint_isc.passwords.isc_password_info: {user_name: Abby.Smith, source_name: My-AD}
    - name: set a canary password (no no_log here - the module itself must not show it)
      sailpoint_isc.passwords.isc_set_password:
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ pw_ok }}"
        update_password: on_change
        fingerprint_path: "{{ fingerprints }}"
        wait: true
        poll_interval: 1
      register: change
    - name: read the change status
      sailpoint_isc.passwords.isc_password_status:
        request_id: "{{ change.request_id }}"
    - name: the same password again (fingerprint match, nothing sent)
      sailpoint_isc.passwords.isc_set_password:
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ pw_ok }}"
        update_password: on_change
        fingerprint_path: "{{ fingerprints }}"
    - name: digit token, registered with no_log as the module documents
      sailpoint_isc.passwords.isc_digit_token: {user_id: Abby.Smith, length: 8}
      register: token_one
      no_log: true
    - name: digit token on beta
      sailpoint_isc.passwords.isc_digit_token: {user_id: Carl.Jones, length: 12, api_version: beta}
      register: token_two
      no_log: true
    - name: a password the policy refuses
      sailpoint_isc.passwords.isc_set_password: {user_name: Abby.Smith, source_name: My-AD, password: "{{ pw_policy }}"}
      ignore_errors: true
    - name: the next change will end FAILED
      ansible.builtin.uri: {url: "{{ sim_url }}/__sim/faults", method: PUT, body_format: json, body: {set_password: {fail_rate: 1.0}}}
    - name: a change that ends FAILED
      sailpoint_isc.passwords.isc_set_password:
        {user_name: Abby.Smith, source_name: My-AD, password: "{{ pw_failed }}", wait: true, poll_interval: 1}
      ignore_errors: true
    - name: the next set-password is taken but its answer is lost
      ansible.builtin.uri:
        {url: "{{ sim_url }}/__sim/faults", method: PUT, body_format: json, body: {set_password: {drop_after_accept_rate: 1.0}}}
    - name: a change whose outcome is unknown
      sailpoint_isc.passwords.isc_set_password: {user_name: Abby.Smith, source_name: My-AD, password: "{{ pw_unknown }}"}
      ignore_errors: true
    - name: no more faults
      ansible.builtin.uri: {url: "{{ sim_url }}/__sim/faults", method: PUT, body_format: json, body: {}}
    - name: a ready access token
      sailpoint_isc.passwords.isc_password_info: {user_name: Abby.Smith, source_name: My-AD, access_token: "{{ fresh_token }}"}
    - name: an expired access token
      sailpoint_isc.passwords.isc_password_info: {user_name: Abby.Smith, source_name: My-AD, access_token: "{{ expired_token }}"}
      ignore_errors: true
    - name: a wrong client secret
      sailpoint_isc.passwords.isc_password_info:
        {user_name: Abby.Smith, source_name: My-AD, client_secret: "{{ wrong_secret }}", token_cache: false}
      ignore_errors: true
    - name: two canary passwords in one batch
      sailpoint_isc.passwords.isc_set_password:
        passwords:
          - {user_name: Carl.Jones, source_name: My-AD, account_id: Carl.Jones, password: "{{ pw_batch_1 }}"}
          - {user_name: Carl.Jones, source_name: My-AD, account_id: Carl.Jones-adm, password: "{{ pw_batch_2 }}"}
        wait: true
        poll_interval: 1
"""


def variants(secret):
    """The ways a value can be written out: as is, JSON- and Python-escaped, XML-escaped."""
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], escape(secret, {'"': '&quot;', "'": '&apos;'})}
    return sorted(forms)


class Canaries:
    def __init__(self):
        self.secrets = {}  # value -> kind
        self.digit_hashes = {}  # sha256 -> length

    def add(self, kind, value):
        assert value and len(value) >= 8, kind
        self.secrets[value] = kind

    def find(self, text):
        found = []
        for secret, kind in self.secrets.items():
            if any(form in text for form in variants(secret)):
                found.append(kind)
        for digest, length in self.digit_hashes.items():
            for match in re.finditer(r'(?=(?<!\d)(\d{%d})(?!\d))' % length, text):
                if hashlib.sha256(match.group(1).encode()).hexdigest() == digest:
                    found.append('digit token')
        return found


def files_under(workdir, skip):
    """Every file below workdir, hidden ones included (the token cache lives in .cache)."""
    for directory, dummy, names in os.walk(workdir):
        for name in names:
            path = os.path.abspath(os.path.join(directory, name))
            if os.path.isfile(path) and not os.path.islink(path) and path not in skip:
                yield path


def inputs_of(workdir):
    """Files this test wrote to feed the runs: they hold the canaries on purpose."""
    return set(os.path.abspath(p) for p in glob.glob(os.path.join(workdir, 'extra-vars-*.json'))
               + [os.path.join(workdir, name) for name in ('vault-pass', 'wrong-vault-pass', 'seed.yaml')])


def assert_nothing_leaked(canaries, workdir, results, must_exist):
    problems = []
    for index, result in enumerate(results):
        for stream in ('stdout', 'stderr'):
            kinds = canaries.find(getattr(result, stream))
            if kinds:
                problems.append('run %d %s: %s' % (index + 1, stream, sorted(set(kinds))))
    skip = inputs_of(workdir) | {os.path.abspath(os.path.join(workdir, 'rotation', 'store.vault'))}
    scanned = []
    for path in files_under(workdir, skip):
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
        scanned.append(os.path.relpath(path, workdir))
        kinds = canaries.find(text)
        if kinds:
            problems.append('%s: %s' % (os.path.relpath(path, workdir), sorted(set(kinds))))
    for name in must_exist:
        assert any(path == name or path.startswith(name + '/') for path in scanned), (name, scanned)
    assert problems == [], problems
    return scanned


@pytest.fixture
def canary_env(simulator_factory, workdir):
    with open(os.path.join(REPO, 'tools', 'isc_simulator', 'seed.yaml')) as handle:
        seed = yaml.safe_load(handle)
    seed['api_clients'].append({'client_id': CLIENT_ID, 'client_secret': CLIENT_SECRET, 'type': 'client'})
    seed_path = os.path.join(workdir, 'seed.yaml')
    with open(seed_path, 'w') as handle:
        yaml.safe_dump(seed, handle)
    simulator = simulator_factory('--seed', seed_path, '--completion-delay', '0.2')
    ansible = PlaybookRunner(workdir, simulator)
    canaries = Canaries()
    canaries.add('client secret', CLIENT_SECRET)
    canaries.add('vault password', VAULT_PASSWORD.decode())
    return simulator, ansible, canaries


def env():
    return {'SAIL_CLIENT_ID': CLIENT_ID, 'SAIL_CLIENT_SECRET': CLIENT_SECRET}


def token(simulator):
    grant = {'grant_type': 'client_credentials', 'client_id': CLIENT_ID, 'client_secret': CLIENT_SECRET}
    return simulator.call('POST', '/oauth/token', grant)['access_token']


def cached_tokens(simulator, workdir):
    """The access tokens the modules fetched, decrypted from their cache with the client secret."""
    ensure_collection_link()
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import TokenCache
    cache = TokenCache(os.path.join(workdir, '.cache', 'sailpoint_isc', 'tokens'), simulator.base_url, CLIENT_ID, CLIENT_SECRET)
    value, dummy = cache.load()
    return [value] if value else []


def test_module_scenarios_leak_no_secret_at_vvvv_with_diff(canary_env, workdir):
    simulator, ansible, canaries = canary_env
    fresh = token(simulator)
    simulator.call('PUT', '/__sim/config', {'token_ttl': 0.5})
    expired = token(simulator)
    simulator.call('PUT', '/__sim/config', {'token_ttl': 749})
    time.sleep(1)
    extra = dict(PASSWORDS, sim_url=simulator.base_url, fingerprints=os.path.join(workdir, 'fingerprints.json'),
                 fresh_token=fresh, expired_token=expired, wrong_secret=WRONG_SECRET)
    path = write_playbook(workdir, 'modules.yml', MODULE_PLAY)
    result = ansible.run(path, extra, verbosity=4, diff=True, vault=False, env=env(), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert result.stdout.count('...ignoring') == 5, result.stdout[-4000:]
    for needle in ('password does not meet the password policy', 'finished FAILED', 'outcome unknown', 'JWT is expired',
                   'Bad client credentials'):
        assert needle in result.stdout, needle
    digit_tokens = simulator.call('GET', '/__sim/digit-tokens')['digitTokens']
    assert sorted(t['length'] for t in digit_tokens) == [8, 12]
    canaries.digit_hashes = {t['digitTokenSha256']: t['length'] for t in digit_tokens}
    for name, value in PASSWORDS.items():
        canaries.add('password ' + name, value)
    canaries.add('client secret (wrong)', WRONG_SECRET)
    canaries.add('access token (passed in)', fresh)
    canaries.add('access token (expired)', expired)
    held = cached_tokens(simulator, workdir)
    assert held, 'the modules cached a token'
    for value in held:
        canaries.add('access token (fetched by the modules)', value)
    # the canaries are real: the service got the passwords and issued the tokens
    assert simulator.accounts(userName='Carl.Jones', sourceName='My-AD')[1]['passwordSha256'] == hashlib.sha256(
        PASSWORDS['pw_batch_2'].encode()).hexdigest()
    # the detector works: it finds the inputs, and a digit token by its hash
    assert len(set(canaries.find(json.dumps(extra)))) == len(PASSWORDS) + 3
    probe = Canaries()
    probe.digit_hashes = {hashlib.sha256(b'09087713').hexdigest(): 8}
    assert probe.find('code 09087713.') == ['digit token'] and probe.find('code 090877134') == []
    assert_nothing_leaked(canaries, workdir, [result], must_exist=['fingerprints.json', '.cache/sailpoint_isc/tokens'])


def test_rotation_scenarios_leak_no_secret_at_vvvv_with_diff(canary_env, workdir):
    simulator, ansible, canaries = canary_env
    accounts = fleet(simulator, limit=6) + [a for a in fleet(simulator) if a['user_name'] == 'svc-sync-01']
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_poll_interval=0.5,
                         service_account_rotation_wait_timeout=20)
    results = []
    # Corp-LDAP refuses every change (FAILED: discarded) and so does Unix-LDAP, which fans out to Unix-Kerberos
    # (kept pending as unknown, re-sent by the next run through the plan's pending passwords); reads see 429s and 5xx.
    simulator.set_faults({'random_seed': 99, 'all': {'throttle_rate': 0.2, 'error_rate': 0.1},
                          'set_password': {'fail_sources': ['Corp-LDAP', 'Unix-LDAP'], 'error_rate': 0}})
    with StoreWatcher(workdir) as watcher:
        results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
        first = {r['status'] for r in rows(workdir).values()}
        simulator.set_faults({})
        results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
    assert results[-1].returncode == 0, results[-1].stdout[-4000:]
    assert 'resubmit=2 rotate=2 skip=4' in results[-1].stdout and {r['status'] for r in rows(workdir).values()} <= {'rotated', 'skipped'}
    results.append(ansible.run(ROTATE, dict(values, service_account_rotation_force=True), check=True, verbosity=4,
                               diff=True, env=env(), timeout=300))
    assert results[-1].returncode == 0 and 'would rotate' in results[-1].stdout
    # a wrong vault password: refused, and not echoed
    ansible.vault_pass = os.path.join(workdir, 'wrong-vault-pass')
    with open(ansible.vault_pass, 'w') as handle:
        handle.write(WRONG_VAULT_PASSWORD + '\n')
    results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
    assert results[-1].returncode != 0 and 'could not be decrypted' in results[-1].stdout
    # the failure paths were taken: changes FAILED and went unknown in the first run
    assert {'failed', 'unknown'} <= first, first
    passwords = watcher.passwords()
    assert len(passwords) > len(accounts) - 1, 'every escrowed password, discarded ones included'
    for value in passwords:
        canaries.add('rotated password', value)
    canaries.add('vault password (wrong)', WRONG_VAULT_PASSWORD)
    for value in cached_tokens(simulator, workdir):
        canaries.add('access token (fetched by the modules)', value)
    expected = ['rotation/ledger.json', 'rotation/report.json', 'rotation/report.xml', '.cache/sailpoint_isc/tokens']
    scanned = assert_nothing_leaked(canaries, workdir, results, must_exist=expected)
    assert 'rotation/store.vault' not in scanned
