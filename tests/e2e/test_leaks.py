"""Leak canaries: the module and rotation scenarios, successes and failure paths, at -vvvv with --diff,
with marked secret values. None of them may show up in stdout, stderr, the JSON and JUnit reports, the
ledger, the fingerprint file or any other file under the work directory (the encrypted store aside).

Where: the work directory, and every temporary place Ansible or Python may write to, created during the
test: the real user's ~/.ansible/tmp (the local connection puts its remote tmp there whatever HOME says),
ANSIBLE_LOCAL_TEMP, ANSIBLE_REMOTE_TEMP, /tmp and $TMPDIR. How: as is, escaped, and in base64.

Secret kinds: the API client secret (a canary client added to the simulator's seed), a wrong client
secret, passwords (set, refused by policy, FAILED, outcome unknown, batch; and every password the role
ever escrowed, including discarded ones - as many as the simulator accepted, exactly - and the ones a
check-mode plan generated, which are never escrowed), access tokens (one fetched here and passed in, an expired one,
and the ones the modules fetched and cached), digit tokens (known to the simulator only by hash, found
by hashing every digit run of their length) and a wrong vault password.
"""

import base64
import glob
import hashlib
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

import pytest
import yaml

import killer
from conftest import COLLECTIONS, REPO, PlaybookRunner, ensure_collection_link, write_playbook
from hostile_helpers import StoreWatcher, rows, status_count
from killer import no_stray_processes  # autouse: nothing a test starts outlives it # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import ROTATE, VAULT_PASSWORD, fleet, read_store, rotate_vars, write_accounts

# Every canary ends in a suffix drawn for this test process: copies of this file, and other tests' files in
# /tmp, cannot hold it (no letter or digit repeats in a row, so no password policy sees a change).
_RANDOM = random.SystemRandom()
RUN = ''.join(_RANDOM.choice(string.ascii_lowercase if i % 2 else string.digits) for i in range(8))
CLIENT_ID = 'canary-client-id'
CLIENT_SECRET = 'Canary-Client-Secret-3f9a7c1e5b-' + RUN
WRONG_SECRET = 'Canary-Wrong-Secret-8e2d4a6c0f-' + RUN
WRONG_VAULT_PASSWORD = 'Canary-Vault-Pass-6a0e2f4d-' + RUN
PASSWORDS = {
    'pw_ok': 'Canary-Pw-7d1f0a3b9e-' + RUN,
    'pw_policy': 'Canary:Pw-7d1f-colon-1-' + RUN,
    'pw_failed': 'Canary-Pw-FAILED-4b8e21-' + RUN,
    'pw_unknown': 'Canary-Pw-UNKNOWN-9c1f3-' + RUN,
    'pw_batch_1': 'Canary-Pw-Batch1-5e7a-' + RUN,
    'pw_batch_2': 'Canary-Pw-Batch2-0c4d-' + RUN,
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


def base64_forms(secret):
    """What secret looks like inside any base64 text: for each of the three byte alignments it can have in
    the encoded data, the characters that depend on the secret's bytes only."""
    raw = secret.encode('utf-8')
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b'\0' * offset + raw).decode()
        first = -(-8 * offset // 6)  # the first character made only of the secret's bits
        last = 8 * (offset + len(raw)) // 6  # one past the last such character
        forms.add(encoded[first:last])
    return forms


def variants(secret):
    """The ways a value can be written out: as is, JSON- and Python-escaped, XML-escaped, base64."""
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], escape(secret, {'"': '&quot;', "'": '&apos;'})}
    return sorted(forms | base64_forms(secret))


class Canaries:
    def __init__(self):
        self.secrets = {}  # value -> kind
        self.shared = set()  # values other tests and copies of the sources hold too: looked for in the workdir only
        self.digit_hashes = {}  # sha256 -> length

    def add(self, kind, value, shared=False):
        assert value and len(value) >= 8, kind
        self.secrets[value] = kind
        if shared:
            self.shared.add(value)

    def find(self, text, shared=True):
        found = []
        for secret, kind in self.secrets.items():
            if (shared or secret not in self.shared) and any(form in text for form in variants(secret)):
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


class TempScan:
    """The temporary places outside the work directory, as they change during a test.

    Ansible's remote tmp of the real user (~ from the password database: the local connection expands it
    there whatever HOME says), ANSIBLE_LOCAL_TEMP and ANSIBLE_REMOTE_TEMP (of the runs and of this process):
    every file created or changed since the scan began. /tmp and $TMPDIR (idem): every entry that is new.
    """

    def __init__(self, *envs):
        envs = envs + (os.environ,)
        home = killer.real_home()

        def real(path):
            return os.path.abspath(home + path[1:] if path.startswith('~') else path)
        self.ansible_roots = sorted(set(real(p) for p in [os.path.join(home, '.ansible', 'tmp')] + [
            env.get(name) for env in envs for name in ('ANSIBLE_LOCAL_TEMP', 'ANSIBLE_REMOTE_TEMP')] if p))
        self.shared_roots = sorted(set(real(p) for p in ['/tmp', tempfile.gettempdir()] + [
            env.get('TMPDIR') for env in envs] if p))
        self.since = time.time() - 1
        self.before = dict((root, set(listdir(root))) for root in self.shared_roots)

    def roots(self):
        return self.ansible_roots + self.shared_roots

    def files(self):
        for root in self.ansible_roots:
            for path in files_under(root, ()):
                try:
                    if os.lstat(path).st_ctime >= self.since:
                        yield path
                except OSError:
                    continue
        for root in self.shared_roots:
            for name in sorted(set(listdir(root)) - self.before[root]):
                path = os.path.join(root, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    yield from files_under(path, ())
                elif os.path.isfile(path) and not os.path.islink(path):
                    yield path


def listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def read_text(path, limit=32 << 20):
    """A file's text (None if it vanished, cannot be read or is larger than limit)."""
    try:
        if os.path.getsize(path) > limit:
            return None
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except OSError:
        return None


def scan_files(canaries, paths, skip=(), workdir=None):
    """Findings ('path: [kinds]') in the files paths, each read once; and the files read. Outside workdir
    only the canaries unique to this test are looked for."""
    problems, scanned, seen = [], [], set(os.path.abspath(p) for p in skip)
    inside = os.path.abspath(workdir) + os.sep if workdir else None
    for path in paths:
        path = os.path.abspath(path)
        if path in seen:
            continue
        seen.add(path)
        text = read_text(path)
        if text is None:
            continue
        scanned.append(path)
        kinds = canaries.find(text, shared=bool(inside and path.startswith(inside)))
        if kinds:
            problems.append('%s: %s' % (path, sorted(set(kinds))))
    return problems, scanned


def inputs_of(workdir):
    """Files this test wrote to feed the runs: they hold the canaries on purpose."""
    return set(os.path.abspath(p) for p in glob.glob(os.path.join(workdir, 'extra-vars-*.json'))
               + [os.path.join(workdir, name) for name in ('vault-pass', 'wrong-vault-pass', 'seed.yaml')])


def assert_nothing_leaked(canaries, workdir, results, must_exist, temps, skip=()):
    problems = []
    for index, result in enumerate(results):
        for stream in ('stdout', 'stderr'):
            kinds = canaries.find(getattr(result, stream))
            if kinds:
                problems.append('run %d %s: %s' % (index + 1, stream, sorted(set(kinds))))
    skip = inputs_of(workdir) | {os.path.abspath(os.path.join(workdir, 'rotation', 'store.vault'))} | set(skip)
    found, scanned = scan_files(canaries, list(files_under(workdir, skip)) + list(temps.files()), skip, workdir)
    problems += found
    inside = [os.path.relpath(path, workdir) for path in scanned if path.startswith(os.path.abspath(workdir) + os.sep)]
    for name in must_exist:
        assert any(path == name or path.startswith(name + '/') for path in inside), (name, inside)
    assert problems == [], problems
    return inside


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
    canaries.add('vault password', VAULT_PASSWORD.decode(), shared=True)  # the constant of every e2e test
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
    # the runner sets XDG_CACHE_HOME=<workdir>/cache: the cache root follows it (files.cache_home)
    cache = TokenCache(os.path.join(workdir, 'cache', 'sailpoint_isc', 'tokens'), simulator.base_url, CLIENT_ID, CLIENT_SECRET)
    value, dummy = cache.load()
    return [value] if value else []


def test_module_scenarios_leak_no_secret_at_vvvv_with_diff(canary_env, workdir):
    simulator, ansible, canaries = canary_env
    temps = TempScan(ansible.env())
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
    assert_nothing_leaked(canaries, workdir, [result], must_exist=['fingerprints.json', 'cache/sailpoint_isc/tokens'],
                          temps=temps)


CAPTURE_PLAY = """
- name: The shipped playbook
  ansible.builtin.import_playbook: sailpoint_isc.passwords.rotate_service_accounts

- name: Test only - hand the passwords the plan generated to the leak test (they become canaries)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the plan's passwords (a re-send names its attempt only) to the capture file (an input of the test, not scanned)
      ansible.builtin.copy:
        content: >-
          {%- set out = [] %}
          {%- for group in service_account_rotation__plan.groups %}
          {%-   set _ = out.append({'password': group.password | default(none), 'attempt': group.attempt,
                                    'reuse_pending': group.reuse_pending}) %}
          {%- endfor %}
          {{- out | to_json }}
        dest: "{{ capture_path }}"
        mode: '0600'
      check_mode: false
      diff: false
      no_log: true
"""


def distinct_pending(store):
    return set(entry['pending'] for entry in store.values() if entry.get('pending'))


def test_rotation_scenarios_leak_no_secret_at_vvvv_with_diff(canary_env, workdir):
    simulator, ansible, canaries = canary_env
    temps = TempScan(ansible.env())
    accounts = fleet(simulator, limit=6) + [a for a in fleet(simulator) if a['user_name'] == 'svc-sync-01']
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_poll_interval=0.5,
                         service_account_rotation_wait_timeout=20)
    capture = os.path.join(workdir, 'check-mode-passwords.json')
    results = []
    # Corp-LDAP refuses every change (FAILED: discarded) and so does Unix-LDAP, which fans out to Unix-Kerberos
    # (kept pending as unknown, re-sent by the next run through the plan's pending passwords); reads see 429s and 5xx.
    simulator.set_faults({'random_seed': 99, 'all': {'throttle_rate': 0.2, 'error_rate': 0.1},
                          'set_password': {'fail_sources': ['Corp-LDAP', 'Unix-LDAP'], 'error_rate': 0}})
    with StoreWatcher(workdir) as watcher:
        results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
        first = {r['status'] for r in rows(workdir).values()}
        resent = distinct_pending(read_store(workdir))  # the next runs re-send these (same password)
        resent_attempts = set(e['pending_attempt'] for e in read_store(workdir).values() if e.get('pending'))
        simulator.set_faults({})
        # check mode, forced: the plan re-sends the escrowed pending password (naming its attempt, never carrying it)
        # and generates one for every other change, never escrowed; the wrapper hands them over: canaries too
        results.append(ansible.run(write_playbook(workdir, 'capture.yml', CAPTURE_PLAY),
                                   dict(values, service_account_rotation_force=True, capture_path=capture), check=True,
                                   verbosity=4, diff=True, env=env(), timeout=300))
        assert results[-1].returncode == 0 and 'would rotate' in results[-1].stdout, results[-1].stdout[-4000:]
        results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
    assert results[-1].returncode == 0, results[-1].stdout[-4000:]
    assert 'resubmit=2 rotate=2 skip=4' in results[-1].stdout and {r['status'] for r in rows(workdir).values()} <= {'rotated', 'skipped'}
    # a wrong vault password: refused, and not echoed
    ansible.vault_pass = os.path.join(workdir, 'wrong-vault-pass')
    with open(ansible.vault_pass, 'w') as handle:
        handle.write(WRONG_VAULT_PASSWORD + '\n')
    results.append(ansible.run(ROTATE, values, verbosity=4, diff=True, env=env(), timeout=300))
    assert results[-1].returncode != 0 and 'could not be decrypted' in results[-1].stdout
    # the failure paths were taken: changes FAILED and went unknown in the first run
    assert {'failed', 'unknown'} <= first, first
    # every escrowed password was seen, discarded ones included: as many as the simulator accepted, where a
    # re-sent password counts once
    passwords = watcher.passwords()
    accepted = status_count(simulator, 'set_password', 202)
    assert resent and resent <= set(passwords)
    assert len(passwords) == accepted - len(resent), (len(passwords), accepted, len(resent))
    for value in passwords:
        canaries.add('rotated password', value)
    with open(capture) as handle:
        planned = json.load(handle)
    again = [p for p in planned if p['reuse_pending']]
    assert [p['password'] for p in again] == [None] * len(resent), 'the plan carried an escrowed password out'
    assert set(p['attempt'] for p in again) == resent_attempts, 'the check-mode plan names the escrowed attempts'
    news = [p['password'] for p in planned if p['password']]
    fresh = set(news) - set(passwords)
    assert len(planned) == len(news) + len(resent) == len(fresh) + len(resent) == len(accounts) - 1, planned
    for value in fresh:
        canaries.add('check-mode password (never escrowed)', value)
    canaries.add('vault password (wrong)', WRONG_VAULT_PASSWORD)
    for value in cached_tokens(simulator, workdir):
        canaries.add('access token (fetched by the modules)', value)
    expected = ['rotation/ledger.json', 'rotation/report.json', 'rotation/report.xml', 'cache/sailpoint_isc/tokens']
    scanned = assert_nothing_leaked(canaries, workdir, results, must_exist=expected, temps=temps, skip=[capture])
    assert 'rotation/store.vault' not in scanned and os.path.basename(capture) not in scanned


def test_no_plaintext_password_on_disk_after_a_crash_during_apply(simulator_factory, workdir):
    """Issue 10 finding 7: passwords must never be written in clear, so a SIGKILL leaves none behind.

    The run is crashed (killer.crash: nothing survives, nothing cleans up) half-way through apply; then every
    temporary place and the work directory (the Vault-encrypted store aside) are searched for every password
    the run escrowed, as is and in base64.
    """
    simulator = simulator_factory('--fleet-size', '40', '--rate-limit', '2000', '--rate-window', '1',
                                  '--completion-delay', '0.2')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator)
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True,
                         service_account_rotation_poll_interval=0.3, isc_rate_limit=2000, isc_rate_window=1)
    run_env = ansible.env(TMPDIR=os.path.join(workdir, 'tmp'))  # module payloads: scanned, removed with workdir
    os.makedirs(run_env['TMPDIR'])
    temps = TempScan(run_env)
    progress = killer.Progress(simulator, workdir)
    report = None
    watcher = StoreWatcher(workdir, interval=0.01)
    watcher.start()
    proc = killer.spawn(ansible.command(ROTATE, values), cwd=workdir, env=run_env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            killer.wait_for(killer.moment(progress, 'escrow'), timeout=300, proc=proc, what='escrow')
            half = len(progress.pending_passwords()) // 2
            killer.wait_for(killer.moment(progress, 'apply', half), timeout=300, proc=proc, what='apply half-way')
        finally:
            report = killer.crash(proc)
            watcher.stop()
        assert progress.phase() == 'apply', 'the kill landed mid-apply'
        assert report.other_sessions(), "the crash took Ansible's setsid()'d worker and the module down too"
        passwords = watcher.passwords()
        assert set(passwords) == progress.pending_passwords() and len(passwords) > half > 0
        canaries = Canaries()
        for value in passwords:
            canaries.add('escrowed password', value)
        store = os.path.abspath(os.path.join(workdir, 'rotation', 'store.vault'))
        paths = list(files_under(workdir, {store})) + list(temps.files())
        problems, scanned = scan_files(canaries, paths, skip=inputs_of(workdir) | {store}, workdir=workdir)
        assert any(path.startswith(os.path.join(workdir, 'rotation')) for path in scanned)
        assert problems == [], 'passwords in clear on disk after the crash:\n' + '\n'.join(problems)
    finally:
        for path in killer.remote_tmp_dirs(report.killed if report else []):  # what the crash left in ~/.ansible/tmp
            shutil.rmtree(path, ignore_errors=True)


def test_the_detector_finds_a_password_in_base64_at_every_alignment():
    canaries = Canaries()
    canaries.add('password', 'Canary-Pw-b64-Zq81x')
    for prefix in (b'', b'a', b'ab', b'abc', b'{"password": "'):
        blob = base64.b64encode(prefix + b'Canary-Pw-b64-Zq81x' + b'", "rest": 1}').decode()
        assert canaries.find('x = "%s"' % blob) == ['password'], prefix
    assert canaries.find(base64.b64encode(b'Canary-Pw-b64-Zq8ix').decode()) == []
