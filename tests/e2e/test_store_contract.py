"""Store contract v2 (docs/store-contract.md), one suite for every secret store.

Each case drives store operations through ansible-playbook, the store included exactly as the
service_account_rotation role includes it (tests/e2e/stores/contract.yml, step.yml), and runs for:
  vault_file           the built-in Ansible Vault file store (plugins/action/vault_file_store.py)
  memory               tests/e2e/stores/memory_store.yml, the reference implementation
  aws_secrets_manager  playbooks/stores/aws_secrets_manager.yml against a moto server started here
The HashiCorp Vault KV v2 example is not run: no Vault server can be installed here.

The cases (@case) of one store run together, once per pytest run (xdist workers share it through a lock): each in
its own namespace of the store, all in one ansible-playbook at -vv, then the --check steps in one, then the steps of
a second run in one. Each test then checks its own case's answers and fails on its own.
"""

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
import zipfile

import pytest

from conftest import PlaybookRunner, ensure_collection_link

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The `ansible` package release that bundles amazon.aws, community.aws and community.hashi_vault for
# ansible-core 2.19; only those collections are taken from it (PyPI is the one source of collections here).
ANSIBLE_PACKAGE = 'ansible==12.3.0'
EXAMPLE_COLLECTIONS = ('amazon/aws', 'community/aws', 'community/hashi_vault')
STORES_DIR = os.path.join(HERE, 'stores')
CONTRACT = os.path.join(STORES_DIR, 'contract.yml')
HOLDER_A = {'run_id': 'run-A', 'host': 'cron-host', 'pid': 1111, 'started': '2026-01-01T01:00:00Z'}
HOLDER_B = {'run_id': 'run-B', 'host': 'laptop', 'pid': 2222, 'started': '2026-01-01T01:00:05Z'}
ODD_KEYS = [
    'My-AD/Carl.Jones#Carl.Jones-adm',
    'Corp AD/svc app, one=1',
    'Unix/x%23y',          # looks like an escaped '#': must not meet 'Unix/x#y'
    'Unix/x#y',
    'Unix/x@23y',          # looks like the AWS example's escape of '#'
    'a/b/c/d#e/f',
    'Ünïcode/ßvc-ñame~!$&*()[]:;\'"<>?|\\^`',
    'LDAP/svc-backup',     # ends with a hyphen and six characters
]


def example_collections_path():
    """A collections path with the collections the example stores use, extracted once into build/ (cached)."""
    return collections_from_wheel(EXAMPLE_COLLECTIONS, 'example-collections')


def ansible_wheel():
    """The `ansible` package's wheel, downloaded once into build/cache."""
    version = ANSIBLE_PACKAGE.split('==')[1]
    cache = os.path.join(REPO, 'build', 'cache')
    os.makedirs(cache, exist_ok=True)
    wheel = os.path.join(cache, 'ansible-%s-py3-none-any.whl' % version)
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary', ':all:',
                        '-d', cache, ANSIBLE_PACKAGE], check=True, timeout=900)
    return wheel


def collections_from_wheel(wanted, folder):
    """A collections path under build/<folder>/<version> with the wanted collections ('namespace/name') of the
    `ansible` package, extracted once (cached)."""
    root = os.path.join(REPO, 'build', folder, ANSIBLE_PACKAGE.split('==')[1])
    if all(os.path.isdir(os.path.join(root, 'ansible_collections', c)) for c in wanted):
        return root
    wheel = ansible_wheel()
    os.makedirs(os.path.dirname(root), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix='.collections-', dir=os.path.dirname(root))
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if any(name.startswith('ansible_collections/%s/' % c) for c in wanted):
                archive.extract(name, scratch)
    try:
        os.rename(scratch, root)  # atomic: a parallel worker sees all of it or none
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)  # another worker got there first
    return root


class MotoServer:
    """moto's AWS API emulator as its own process on a free loopback port."""

    def __init__(self, workdir):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        self._url = 'http://127.0.0.1:%d' % port
        self.log_path = os.path.join(workdir, 'moto.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', str(port)],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self._url + '/moto-api/', timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError('moto server did not start:\n' + open(self.log_path).read())
                time.sleep(0.2)

    @property
    def url(self):
        """The server's address, once it listens; a server that has ended is said so here, with its exit status and
        its log, not left to boto3's 'Connection refused'. Nothing in the tests stops it before the session ends, so
        a status of 0 (moto's answer to SIGTERM) or a negative one (another signal) means something else sent one."""
        ended = self.proc.poll()
        assert ended is None, 'the moto server of this worker has ended, exit status %s; its log ends:\n%s' % (
            ended, open(self.log_path).read()[-2000:])
        return self._url

    @staticmethod
    def credentials_env():
        return {'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing', 'AWS_SESSION_TOKEN': 'testing',
                'AWS_DEFAULT_REGION': 'us-east-1', 'AWS_CONFIG_FILE': os.devnull,
                'AWS_SHARED_CREDENTIALS_FILE': os.devnull}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


class Store:
    """A store under test: runs contract steps through contract.yml, each case in its own namespace."""

    def __init__(self, name, workdir, extra_vars, env=None, consumer='', tasks='', namespace=None):
        self.name = name
        self.workdir = workdir
        self.extra_vars = dict(extra_vars, contract_store_tasks=tasks, contract_consumer_tasks=consumer)
        self.namespace = namespace or (lambda case: {})  # a case's name -> its namespace in the store
        self.runner = PlaybookRunner(workdir, None)
        self.env = env or {}
        self.runs = 0
        self.output = ''

    def run_cases(self, cases, check=False, verbosity=0):
        """Runs {case: steps} in one ansible-playbook, each case a host of its own: (returncode, output,
        {case: its answers, None when it wrote none})."""
        self.runs += 1
        logs = os.path.join(self.workdir, 'contract-logs-%d' % self.runs)
        os.makedirs(logs)
        cases_var = [{'name': name, 'vars': self.namespace(name), 'steps': steps} for name, steps in cases.items()]
        result = self.runner.run(CONTRACT, dict(self.extra_vars, contract_cases=cases_var, contract_log_dir=logs),
                                 env=self.env, timeout=900, check=check, verbosity=verbosity)
        answers = {}
        for name in cases:
            path = os.path.join(logs, name + '.json')
            if os.path.exists(path):
                with open(path) as handle:
                    answers[name] = json.load(handle)
            else:
                answers[name] = None
        return result.returncode, result.stdout + result.stderr, answers

    def run(self, steps, check=False, verbosity=0):
        returncode, self.output, answers = self.run_cases({'contract-case': steps}, check, verbosity)
        assert returncode == 0, self.output[-8000:]
        assert len(answers['contract-case']) == len(steps), answers
        return answers['contract-case']


# The contract cases: test name -> {phase: steps}. All cases of one store run together, each in its own namespace:
# phase 'first' in one ansible-playbook at -vv, then 'check' in one with --check, then 'again' in one more.
PHASES = ('first', 'check', 'again')
CASES = {}


def case(first, check=None, again=None):
    """Registers the steps of the test below; the test reads their answers with store.answers(phase)."""
    def register(test):
        CASES[test.__name__] = dict((phase, steps) for phase, steps in zip(PHASES, (first, check, again)) if steps)
        return test
    return register


class CaseAnswers:
    """What the batch of its store answered to one test's case."""

    def __init__(self, name, case_name, batch):
        self.name = name
        self.case = case_name
        self.batch = batch
        self.output = ''

    def answers(self, phase='first'):
        run = self.batch[phase]
        self.output = run['output']
        answers = run['answers'].get(self.case)
        assert answers is not None, 'case %s of the %s store wrote no answers (ansible-playbook rc %s):\n%s' % (
            self.case, self.name, run['returncode'], run['output'][-8000:])
        assert len(answers) == len(CASES[self.case][phase]), answers
        return answers


def session_cases(session, store_name):
    """{test name: {phase: steps}} of this session's tests (as selected) of store_name that have a case."""
    out = {}
    for item in session.items:
        params = getattr(getattr(item, 'callspec', None), 'params', {})
        if params.get('store') == store_name and getattr(item, 'originalname', None) in CASES:
            out[item.originalname] = CASES[item.originalname]
    return dict(sorted(out.items()))


def run_batch(store, cases):
    """Every phase of the cases in one ansible-playbook each: {phase: {returncode, output, answers}}."""
    batch = {}
    for phase in PHASES:
        todo = dict((name, steps[phase]) for name, steps in cases.items() if phase in steps)
        if todo:
            returncode, output, answers = store.run_cases(todo, check=phase == 'check',
                                                          verbosity=2 if phase == 'first' else 0)
            batch[phase] = {'returncode': returncode, 'output': output, 'answers': answers}
    return batch


@pytest.fixture(scope='session')
def contract_batch(request, tmp_path_factory):
    """store name -> its batch, run once per pytest run: the first xdist worker that needs it runs it (under a lock),
    the others read its answers."""
    root = str(tmp_path_factory.getbasetemp())
    if os.environ.get('PYTEST_XDIST_WORKER'):
        root = os.path.dirname(root)  # shared by the workers of this run
    done = {}

    def get(name):
        if name not in done:
            path = os.path.join(root, 'store-contract-%s.json' % name)
            with open(path + '.lock', 'w') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not os.path.exists(path):
                    workdir = tempfile.mkdtemp(prefix='contract-%s-' % name, dir=root)
                    batch = run_batch(make_store(request, name, workdir, batch=True),
                                      session_cases(request.session, name))
                    with open(path + '.tmp', 'w') as handle:
                        json.dump(batch, handle)
                    os.rename(path + '.tmp', path)
                with open(path) as handle:
                    done[name] = json.load(handle)
        return done[name]
    return get


@pytest.fixture(scope='session')
def moto_server(tmp_path_factory):
    server = MotoServer(str(tmp_path_factory.mktemp('moto')))
    yield server
    server.stop()


@pytest.fixture(scope='session')
def example_collections():
    return example_collections_path()


def make_store(request, name, workdir, batch=False):
    """The store under test; with batch, every case gets a namespace of its own, else all share one."""
    if name == 'vault_file':
        def vault_path(case_name):
            return {'contract_store_path': os.path.join(workdir, case_name if batch else 'state', 'store.vault')}
        return Store(name, workdir, {}, consumer=os.path.join(STORES_DIR, 'consumer_vault_file.yml'),
                     namespace=vault_path)
    if name == 'memory':  # its state is a fact of the case's host: every case starts empty
        return Store(name, workdir, {}, tasks=os.path.join(STORES_DIR, 'memory_store.yml'),
                     consumer=os.path.join(STORES_DIR, 'consumer_memory.yml'))
    moto = request.getfixturevalue('moto_server')
    collections = request.getfixturevalue('example_collections')
    prefix = 'contract-%s' % uuid.uuid4().hex[:10]
    return Store(name, workdir, {'aws_sm_endpoint_url': moto.url, 'aws_sm_region': 'us-east-1'},
                 env=dict(moto.credentials_env(),
                          ANSIBLE_COLLECTIONS_PATH=ensure_collection_link() + os.pathsep + collections),
                 tasks=os.path.join(REPO, 'playbooks', 'stores', 'aws_secrets_manager.yml'),
                 consumer=os.path.join(STORES_DIR, 'consumer_aws_secrets_manager.yml'),
                 namespace=lambda case_name: {'aws_sm_prefix': prefix + ('-' + case_name if batch else '')})


@pytest.fixture(params=['vault_file', 'memory', 'aws_secrets_manager'])
def store(request):
    """A test with a case reads its answers from its store's batch; any other test gets a store of its own."""
    if request.node.originalname in CASES:
        return CaseAnswers(request.param, request.node.originalname,
                           request.getfixturevalue('contract_batch')(request.param))
    return make_store(request, request.param, request.getfixturevalue('workdir'))


def escrow(attempt, keys, password):
    return {'op': 'pending', 'records': [{'attempt': attempt, 'keys': list(keys), 'password': password}]}


def settle(op, attempt, keys):
    return {'op': op, 'records': [{'attempt': attempt, 'keys': list(keys)}]}


def read(op, keys):
    return {'op': op, 'keys': list(keys)}


CHECK = {'op': 'check'}


def ok(answer):
    assert answer['ok'], answer
    return answer['result']


def failed(answer):
    assert not answer['ok'], answer
    return answer['msg']


TWO_KEYS = ['AD/svc-one', 'AD/svc-two#2c9180']


@case([
    escrow('att-1', TWO_KEYS, 'P1-first'),
    read('read_pending', TWO_KEYS + ['AD/absent']),
    escrow('att-1', TWO_KEYS, 'P1-first'),
    CHECK,
    read('read_current', TWO_KEYS),
])
def test_escrow_and_idempotent_reescrow(store):
    keys = TWO_KEYS
    answers = store.answers()
    first = ok(answers[0])
    assert first['changed'] is True and sorted(first['updated']) == sorted(keys)
    pending = ok(answers[1])
    assert pending['passwords'] == {k: 'P1-first' for k in keys}
    assert pending['attempts'] == {k: 'att-1' for k in keys}
    again = ok(answers[2])
    assert again['changed'] is False and again['updated'] == []
    check = ok(answers[3])
    assert check['pending'] == {k: 'att-1' for k in keys}
    assert check['pending_keys'] == sorted(keys)
    assert ok(answers[4])['passwords'] == {}


@case([
    escrow('att-1', ['AD/held'], 'P1'),
    {'op': 'pending', 'records': [
        {'attempt': 'att-2', 'keys': ['AD/fresh'], 'password': 'P2'},
        {'attempt': 'att-2', 'keys': ['AD/held'], 'password': 'P2'}]},
    read('read_pending', ['AD/held', 'AD/fresh']),
    escrow('att-1', ['AD/held'], 'P1-other'),
    read('read_pending', ['AD/held']),
    CHECK,
])
def test_refuses_a_different_pending_and_changes_nothing(store):
    answers = store.answers()
    ok(answers[0])
    msg = failed(answers[1])
    assert 'AD/held' in msg and 'att-1' in msg and 'att-2' in msg
    assert 'already holds an unsettled pending password of attempt att-1' in msg
    assert 'must be settled (commit or discard) before a new one is escrowed' in msg
    assert 'P1' not in msg and 'P2' not in msg  # no password in the message
    after = ok(answers[2])
    assert after['passwords'] == {'AD/held': 'P1'}  # all-or-nothing: AD/fresh was not escrowed either
    assert after['attempts'] == {'AD/held': 'att-1'}
    assert 'att-1' in failed(answers[3])  # one attempt, one password
    assert ok(answers[4])['passwords'] == {'AD/held': 'P1'}
    assert ok(answers[5])['pending'] == {'AD/held': 'att-1'}


@case([
    escrow('att-1', ['AD/a', 'AD/b'], 'P1'),
    settle('commit', 'att-other', ['AD/a', 'AD/b', 'AD/none']),
    read('read_current', ['AD/a', 'AD/b']),
    read('read_pending', ['AD/a', 'AD/b']),
    settle('commit', 'att-1', ['AD/a']),
    read('read_current', ['AD/a', 'AD/b']),
    CHECK,
    settle('commit', 'att-1', ['AD/a']),
])
def test_commit_settles_only_its_attempt(store):
    answers = store.answers()
    wrong = ok(answers[1])
    assert wrong['updated'] == [] and sorted(wrong['skipped']) == ['AD/a', 'AD/b', 'AD/none']
    assert ok(answers[2])['passwords'] == {}
    assert ok(answers[3])['passwords'] == {'AD/a': 'P1', 'AD/b': 'P1'}
    right = ok(answers[4])
    assert right['changed'] is True and right['updated'] == ['AD/a'] and right['skipped'] == []
    assert ok(answers[5])['passwords'] == {'AD/a': 'P1'}
    assert ok(answers[6])['pending'] == {'AD/b': 'att-1'}
    repeat = ok(answers[7])
    assert repeat['changed'] is False and repeat['skipped'] == ['AD/a']


@case([
    escrow('att-0', ['AD/a'], 'P0'),
    settle('commit', 'att-0', ['AD/a']),
    escrow('att-1', ['AD/a'], 'P1'),
    settle('discard', 'att-0', ['AD/a']),
    read('read_pending', ['AD/a']),
    settle('discard', 'att-1', ['AD/a']),
    read('read_pending', ['AD/a']),
    read('read_current', ['AD/a']),
    CHECK,
])
def test_discard_settles_only_its_attempt(store):
    answers = store.answers()
    wrong = ok(answers[3])
    assert wrong['updated'] == [] and wrong['skipped'] == ['AD/a']
    assert ok(answers[4])['attempts'] == {'AD/a': 'att-1'}
    right = ok(answers[5])
    assert right['changed'] is True and right['updated'] == ['AD/a']
    assert ok(answers[6])['passwords'] == {}
    assert ok(answers[7])['passwords'] == {'AD/a': 'P0'}
    assert ok(answers[8])['pending'] == {}


@case([
    escrow('att-1', ['Removed/from-accounts-file'], 'P1'),
    escrow('att-2', ['AD/twin#acct-1', 'AD/twin#acct-2'], 'P2'),
    escrow('att-3', ['AD/settled'], 'P3'),
    settle('commit', 'att-3', ['AD/settled']),
    CHECK,
])
def test_check_lists_every_pending_key_of_the_namespace(store):
    answers = store.answers()
    check = ok(answers[4])
    assert check['pending'] == {'Removed/from-accounts-file': 'att-1', 'AD/twin#acct-1': 'att-2',
                                'AD/twin#acct-2': 'att-2'}
    assert check['pending_keys'] == sorted(check['pending'])


@case([escrow('att-%d' % i, [key], 'P-%d' % i) for i, key in enumerate(ODD_KEYS)]
      + [CHECK, read('read_pending', ODD_KEYS)]
      + [settle('commit', 'att-%d' % i, [key]) for i, key in enumerate(ODD_KEYS) if i % 2 == 0]
      + [read('read_current', ODD_KEYS), CHECK])
def test_odd_characters_in_keys(store):
    answers = store.answers()
    for answer in answers:
        ok(answer)
    n = len(ODD_KEYS)
    assert answers[n]['result']['pending'] == {key: 'att-%d' % i for i, key in enumerate(ODD_KEYS)}
    assert answers[n + 1]['result']['passwords'] == {key: 'P-%d' % i for i, key in enumerate(ODD_KEYS)}
    assert answers[-2]['result']['passwords'] == {key: 'P-%d' % i for i, key in enumerate(ODD_KEYS) if i % 2 == 0}
    assert answers[-1]['result']['pending'] == {key: 'att-%d' % i for i, key in enumerate(ODD_KEYS) if i % 2}


CONSUMED_KEYS = ['AD/app-db', 'AD/new-account']


@case([
    escrow('att-0', CONSUMED_KEYS[:1], 'P0-current'),
    settle('commit', 'att-0', CONSUMED_KEYS[:1]),
    escrow('att-1', CONSUMED_KEYS, 'P1-pending'),
    {'op': 'consumer', 'keys': CONSUMED_KEYS},
    settle('commit', 'att-1', CONSUMED_KEYS),
    {'op': 'consumer', 'keys': CONSUMED_KEYS},
])
def test_consumers_see_only_current(store):
    keys = CONSUMED_KEYS
    answers = store.answers()
    during = ok(answers[3])
    assert during['values'] == {'AD/app-db': 'P0-current'}
    assert 'P1-pending' not in during['exposed']
    after = ok(answers[5])
    assert after['values'] == {k: 'P1-pending' for k in keys}
    assert 'P0-current' not in after['exposed']  # the previous password is kept, but not for consumers


SECRETS = ['Sekr3t-%d' % i for i in range(5)]


@case([
    escrow('att-0', ['AD/a'], SECRETS[0]),
    read('read_pending', ['AD/a']),
    settle('commit', 'att-0', ['AD/a']),
    escrow('att-1', ['AD/a'], SECRETS[1]),
    settle('commit', 'att-1', ['AD/a']),
    read('read_current', ['AD/a']),
    read('read_previous', ['AD/a']),
    {'op': 'import', 'records': {'AD/b': SECRETS[2], 'AD/c': SECRETS[3]}},
    {'op': 'import', 'records': {'AD/b': SECRETS[4]}},  # refused
    {'op': 'consumer', 'keys': ['AD/a', 'AD/b']},
])
def test_no_password_in_output(store):
    """Every op that carries or answers a password, run at -vv: none of them reaches the output (the output of
    its store's whole batch, every case at -vv)."""
    secrets = SECRETS
    answers = store.answers()
    assert ok(answers[6])['passwords'] == {'AD/a': secrets[0]}  # the answers do hold them
    assert 'AD/b' in failed(answers[8])
    assert 'Sekr3t' not in store.output, [line for line in store.output.splitlines() if 'Sekr3t' in line][:5]


@case([
    escrow('att-0', ['AD/a', 'AD/b'], 'P0'),
    settle('commit', 'att-0', ['AD/a', 'AD/b']),
    read('read_previous', ['AD/a', 'AD/b']),
    escrow('att-1', ['AD/a'], 'P1'),
    settle('commit', 'att-1', ['AD/a']),
    read('read_previous', ['AD/a', 'AD/b', 'AD/absent']),
    read('read_current', ['AD/a', 'AD/b']),
    escrow('att-2', ['AD/a'], 'P2'),
    settle('discard', 'att-2', ['AD/a']),
    read('read_previous', ['AD/a']),
    escrow('att-3', ['AD/a'], 'P3'),
    settle('commit', 'att-3', ['AD/a']),
    read('read_previous', ['AD/a']),
    {'op': 'consumer', 'keys': ['AD/a', 'AD/b']},
])
def test_commit_keeps_the_previous_password(store):
    answers = store.answers()
    assert ok(answers[2])['passwords'] == {}  # a first commit replaces nothing
    previous = ok(answers[5])
    assert previous['passwords'] == {'AD/a': 'P0'}
    assert list(previous['since']) == ['AD/a'] and previous['since']['AD/a'].endswith('Z')
    assert ok(answers[6])['passwords'] == {'AD/a': 'P1', 'AD/b': 'P0'}
    assert ok(answers[9])['passwords'] == {'AD/a': 'P0'}  # a discard leaves previous as it was
    assert ok(answers[12])['passwords'] == {'AD/a': 'P1'}  # one previous: the password the last commit replaced
    consumer = ok(answers[13])
    assert consumer['values'] == {'AD/a': 'P3', 'AD/b': 'P0'}
    assert 'P1' not in consumer['exposed']


# Rules 13 and 14 (issue 22): implemented by the built-in store and the in-memory reference store; the AWS and
# KV v2 examples do not implement them yet (docs/store-contract.md), so these cases run for the two that do.
SETTLING_STORES = ['vault_file', 'memory']


def supersede(attempt, keys, password, replaces):
    step = escrow(attempt, keys, password)
    step['records'][0]['supersedes'] = replaces
    return step


@pytest.mark.parametrize('store', SETTLING_STORES, indirect=True)
@case([
    escrow('att-0', ['AD/a'], 'P0'),
    settle('commit', 'att-0', ['AD/a']),
    escrow('att-1', ['AD/a'], 'P1'),
    supersede('att-2', ['AD/a'], 'P2', 'att-1'),
    CHECK,
    read('read_pending', ['AD/a']),
    settle('discard', 'att-2', ['AD/a']),
    read('read_pending', ['AD/a']),
    supersede('att-3', ['AD/a'], 'P3', 'att-9'),
    supersede('att-3', ['AD/a'], 'P3', 'att-1'),
    settle('commit', 'att-3', ['AD/a']),
    CHECK,
    read('read_current', ['AD/a']),
    read('read_previous', ['AD/a']),
    {'op': 'consumer', 'keys': ['AD/a']},
])
def test_supersede_keeps_the_replaced_pending_until_settled(store):
    """Rule 13: a record that supersedes attempt A escrows over A's pending and keeps it; discarding the superseding
    attempt brings A's back, committing one makes A's the previous password; any other attempt is still refused."""
    answers = store.answers()
    assert ok(answers[3])['updated'] == ['AD/a']
    assert ok(answers[4])['pending'] == {'AD/a': 'att-2'} and ok(answers[5])['passwords'] == {'AD/a': 'P2'}
    assert ok(answers[7]) == dict(ok(answers[7]), passwords={'AD/a': 'P1'}, attempts={'AD/a': 'att-1'})
    assert 'already holds an unsettled pending password of attempt att-1' in failed(answers[8])
    assert ok(answers[10])['updated'] == ['AD/a'] and ok(answers[11])['pending'] == {}
    assert ok(answers[12])['passwords'] == {'AD/a': 'P3'} and ok(answers[13])['passwords'] == {'AD/a': 'P1'}
    assert ok(answers[14])['values'] == {'AD/a': 'P3'}


@pytest.mark.parametrize('store', SETTLING_STORES, indirect=True)
@case([
    escrow('att-0', ['AD/gone', 'AD/kept'], 'P0'),
    settle('commit', 'att-0', ['AD/gone', 'AD/kept']),
    escrow('att-1', ['AD/gone'], 'P1'),
    {'op': 'retire', 'records': [{'keys': ['AD/gone', 'AD/absent']}]},
    CHECK,
    read('read_current', ['AD/gone', 'AD/kept']),
    read('read_pending', ['AD/gone']),
    {'op': 'consumer', 'keys': ['AD/gone', 'AD/kept']},
])
def test_retire_archives_a_key_where_no_read_and_no_consumer_looks(store):
    """Rule 14: retire moves a key's whole entry out of every read op's and every consumer's sight."""
    answers = store.answers()
    retired = ok(answers[3])
    assert retired['updated'] == ['AD/gone'] and retired['skipped'] == ['AD/absent'] and retired['changed']
    assert ok(answers[4])['pending'] == {}
    assert ok(answers[5])['passwords'] == {'AD/kept': 'P0'} and ok(answers[6])['passwords'] == {}
    assert ok(answers[7])['values'] == {'AD/kept': 'P0'}


@case([
    escrow('att-0', ['AD/a', 'AD/b'], 'P0'),
    settle('commit', 'att-0', ['AD/a', 'AD/b']),
    escrow('att-1', ['AD/a'], 'P1'),
    settle('commit', 'att-1', ['AD/a']),
    read('read_previous', ['AD/a']),
    dict(escrow('att-2', ['AD/b'], 'P2'), keep_previous_days=0),       # any write drops every previous
    read('read_previous', ['AD/a', 'AD/b']),
    dict(settle('commit', 'att-2', ['AD/b']), keep_previous_days=0),   # and a commit keeps none
    read('read_previous', ['AD/a', 'AD/b']),
    read('read_current', ['AD/a', 'AD/b']),
])
def test_retention_zero_keeps_no_previous(store):
    answers = store.answers()
    assert ok(answers[4])['passwords'] == {'AD/a': 'P0'}
    dropped = ok(answers[5])
    assert dropped['previous_dropped'] == ['AD/a'] and dropped['changed'] is True
    assert ok(answers[6])['passwords'] == {}
    assert ok(answers[7])['updated'] == ['AD/b']
    assert ok(answers[8])['passwords'] == {}
    assert ok(answers[9])['passwords'] == {'AD/a': 'P1', 'AD/b': 'P2'}


@case([
    escrow('att-0', ['AD/old', 'AD/fresh'], 'P0'),  # keep_previous_days of two seconds below
    settle('commit', 'att-0', ['AD/old', 'AD/fresh']),
    escrow('att-1', ['AD/old'], 'P1'),
    settle('commit', 'att-1', ['AD/old']),
    {'op': 'sleep', 'seconds': 3},
    escrow('att-2', ['AD/fresh'], 'P2'),                                       # 30 days: nothing is old
    read('read_previous', ['AD/old', 'AD/fresh']),
    dict(settle('commit', 'att-2', ['AD/fresh']), keep_previous_days=2 / 86400.0),
    read('read_previous', ['AD/old', 'AD/fresh']),
    read('read_current', ['AD/old', 'AD/fresh']),
])
def test_an_old_previous_is_dropped_by_the_next_write(store):
    answers = store.answers()
    kept = ok(answers[5])
    assert kept['previous_dropped'] == [] and kept['updated'] == ['AD/fresh']
    assert ok(answers[6])['passwords'] == {'AD/old': 'P0'}
    commit = ok(answers[7])
    assert commit['previous_dropped'] == ['AD/old'] and commit['updated'] == ['AD/fresh']
    # the 3 s old previous went, the one this commit made stays: retention is by age, not "drop everything"
    assert ok(answers[8])['passwords'] == {'AD/fresh': 'P0'}
    assert ok(answers[9])['passwords'] == {'AD/old': 'P1', 'AD/fresh': 'P2'}


@case([
    escrow('att-0', ['AD/has-current'], 'P-old'),
    settle('commit', 'att-0', ['AD/has-current']),
    escrow('att-1', ['AD/in-flight'], 'P-pending'),
    {'op': 'import', 'records': {'AD/free': 'I-free', 'AD/has-current': 'P-old', 'AD/in-flight': 'I-other'}},
    read('read_current', ['AD/free', 'AD/has-current', 'AD/in-flight']),
    read('read_pending', ['AD/in-flight']),
    {'op': 'import', 'records': [{'keys': ['AD/free', 'AD/twin#acct-2'], 'password': 'I-free'}]},
    {'op': 'import', 'records': {'AD/free': 'I-free', 'AD/twin#acct-2': 'I-free'}},
    {'op': 'consumer', 'keys': ['AD/free', 'AD/in-flight', 'AD/twin#acct-2']},
    CHECK,
    read('read_previous', ['AD/free', 'AD/has-current']),
])
def test_import_sets_current_only_where_a_key_has_none(store):
    answers = store.answers()
    first = ok(answers[3])
    assert first['changed'] is True and first['updated'] == ['AD/free']
    assert first['unchanged'] == ['AD/has-current'] and first['skipped'] == ['AD/in-flight']
    assert ok(answers[4])['passwords'] == {'AD/free': 'I-free', 'AD/has-current': 'P-old'}
    pending = ok(answers[5])  # a pending is never touched
    assert pending['passwords'] == {'AD/in-flight': 'P-pending'} and pending['attempts'] == {'AD/in-flight': 'att-1'}
    second = ok(answers[6])
    assert second['updated'] == ['AD/twin#acct-2'] and second['unchanged'] == ['AD/free']
    again = ok(answers[7])
    assert again['changed'] is False and again['updated'] == [] and sorted(again['unchanged']) == \
        ['AD/free', 'AD/twin#acct-2']
    assert ok(answers[8])['values'] == {'AD/free': 'I-free', 'AD/twin#acct-2': 'I-free'}
    assert ok(answers[9])['pending'] == {'AD/in-flight': 'att-1'}
    assert ok(answers[10])['passwords'] == {}


@case([
    escrow('att-0', ['AD/a'], 'P0'),
    settle('commit', 'att-0', ['AD/a']),
    {'op': 'import', 'records': {'AD/new': 'N1', 'AD/a': 'X1'}},
    read('read_current', ['AD/a', 'AD/new']),
    {'op': 'import', 'records': [{'keys': ['AD/b'], 'password': 'B-first'},
                                 {'keys': ['AD/b'], 'password': 'B-second'}]},
    read('read_current', ['AD/b']),
    {'op': 'import', 'records': {'AD/new': 'N1', 'AD/a': 'X1'}, 'overwrite': True},
    read('read_current', ['AD/a', 'AD/new']),
    read('read_previous', ['AD/a', 'AD/new']),
])
def test_import_refuses_a_different_current_and_changes_nothing(store):
    answers = store.answers()
    msg = failed(answers[2])
    assert 'key AD/a already holds a different current password' in msg and 'overwrite' in msg
    assert 'Nothing was imported' in msg and 'AD/new' not in msg
    assert 'X1' not in msg and 'P0' not in msg and 'N1' not in msg  # no password in the message
    assert ok(answers[3])['passwords'] == {'AD/a': 'P0'}  # all-or-nothing: AD/new was not imported either
    msg = failed(answers[4])
    assert 'key AD/b is given two different passwords' in msg and 'B-first' not in msg and 'B-second' not in msg
    assert ok(answers[5])['passwords'] == {}
    forced = ok(answers[6])
    assert forced['updated'] == ['AD/a', 'AD/new']
    assert ok(answers[7])['passwords'] == {'AD/a': 'X1', 'AD/new': 'N1'}
    assert ok(answers[8])['passwords'] == {'AD/a': 'P0'}  # the replaced password is kept for rollback


def lease(op, holder, replaces=''):
    return {'op': op, 'run_id': holder['run_id'], 'holder': holder, 'replaces': replaces}


@case([
    lease('lease_acquire', HOLDER_A),
    lease('lease_acquire', HOLDER_A),              # the holder may acquire again
    lease('lease_acquire', HOLDER_B),              # refused
    lease('lease_release', HOLDER_B),              # not B's to release
    lease('lease_acquire', HOLDER_B, 'run-other'),  # replaces names another run: still refused
    lease('lease_acquire', HOLDER_B, 'run-A'),     # A found dead: B takes over
    lease('lease_acquire', HOLDER_A),              # A is refused now
    lease('lease_release', HOLDER_B),
    lease('lease_acquire', HOLDER_A),
    lease('lease_release', HOLDER_A),
    lease('lease_release', HOLDER_A),
])
def test_lease_acquire_refuse_replace_release(store):
    answers = store.answers()
    ok(answers[0])
    ok(answers[1])
    msg = failed(answers[2])
    for part in ('run-A', 'cron-host', '1111', '2026-01-01T01:00:00Z'):
        assert part in msg, msg
    assert 'truly gone' in msg
    assert ok(answers[3])['changed'] is False
    assert 'run-A' in failed(answers[4])  # the release by B and the refused acquire left A's lease
    assert ok(answers[5])['changed'] is True
    msg = failed(answers[6])
    for part in ('run-B', 'laptop', '2222', '2026-01-01T01:00:05Z'):
        assert part in msg, msg
    assert ok(answers[7])['changed'] is True
    assert ok(answers[8])['changed'] is True
    assert ok(answers[9])['changed'] is True
    assert ok(answers[10])['changed'] is False


@pytest.mark.parametrize('store', ['vault_file', 'aws_secrets_manager'], indirect=True)
@case(first=[
    escrow('att-1', ['AD/a', 'AD/b'], 'P1'),
    settle('commit', 'att-1', ['AD/a']),
    {'op': 'lease_acquire', 'run_id': 'run-A', 'holder': HOLDER_A},
], again=[  # another ansible-playbook process
    CHECK,
    read('read_current', ['AD/a', 'AD/b']),
    read('read_pending', ['AD/a', 'AD/b']),
    {'op': 'lease_acquire', 'run_id': 'run-B', 'holder': HOLDER_B},
    escrow('att-2', ['AD/b'], 'P2'),
])
def test_durable_across_runs(store):
    # not for the in-memory store: it lives in one play by design
    for answer in store.answers('first'):
        ok(answer)
    second = store.answers('again')
    assert ok(second[0])['pending'] == {'AD/b': 'att-1'}
    assert ok(second[1])['passwords'] == {'AD/a': 'P1'}
    assert ok(second[2])['attempts'] == {'AD/b': 'att-1'}
    assert 'run-A' in failed(second[3])
    assert 'att-1' in failed(second[4])


def test_kv2_example_parses_but_is_not_run(example_collections, workdir):
    """The HashiCorp Vault KV v2 example is never run here (no Vault server): its YAML, templates' syntax and
    module names are all this checks."""
    runner = PlaybookRunner(workdir, None)
    # Written here, not kept in the tree: ansible-lint (offline, without these collections) would syntax-check it.
    playbook = os.path.join(workdir, 'import_examples.yml')
    with open(playbook, 'w') as handle:
        handle.write('- name: Parse the example stores (static imports resolve every module they name)\n'
                     '  hosts: localhost\n  gather_facts: false\n  tasks:\n')
        for example in ('aws_secrets_manager.yml', 'hashicorp_vault_kv2.yml'):
            handle.write('    - name: %s\n      ansible.builtin.import_tasks: %s\n'
                         % (example, os.path.join(REPO, 'playbooks', 'stores', example)))
    env = runner.env(ANSIBLE_COLLECTIONS_PATH=ensure_collection_link() + os.pathsep + example_collections)
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '--syntax-check',
                             '-i', 'localhost,', playbook], cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('store', ['vault_file', 'aws_secrets_manager'], indirect=True)
@case(first=[
    escrow('att-1', ['AD/a'], 'P1'),
    {'op': 'lease_acquire', 'run_id': 'run-A', 'holder': HOLDER_A},
], check=[  # ansible-playbook --check
    escrow('att-2', ['AD/b'], 'P2'),
    settle('commit', 'att-1', ['AD/a']),
    escrow('att-3', ['AD/a'], 'P3'),                                   # refused as a real run would be
    {'op': 'lease_acquire', 'run_id': 'run-B', 'holder': HOLDER_B},   # refused as a real run would be
    {'op': 'lease_release', 'run_id': 'run-A', 'holder': HOLDER_A},
], again=[
    CHECK,
    read('read_current', ['AD/a']),
    {'op': 'lease_acquire', 'run_id': 'run-B', 'holder': HOLDER_B},
])
def test_check_mode_writes_nothing(store):
    # not for the in-memory store: its state is a fact, which --check sets like any run
    for answer in store.answers('first'):
        ok(answer)
    dry = store.answers('check')
    ok(dry[0])
    ok(dry[1])
    assert 'att-1' in failed(dry[2])
    assert 'run-A' in failed(dry[3])
    ok(dry[4])
    after = store.answers('again')
    assert ok(after[0])['pending'] == {'AD/a': 'att-1'}
    assert ok(after[1])['passwords'] == {}
    assert 'run-A' in failed(after[2])


def test_aws_lease_compare_and_swap_refuses_the_slower_of_two_racers(moto_server, monkeypatch):
    """Two runs that read the same free lease version: only the first write lands, the second run is refused.

    Runs the AWS example's program in this process, with its read made stale on purpose."""
    import io
    import boto3
    import botocore.session
    import yaml
    with open(os.path.join(REPO, 'playbooks', 'stores', 'aws_secrets_manager.yml')) as handle:
        tasks = yaml.safe_load(handle)
    program = next(t for t in tasks if 'aws_sm_program' in t.get('vars', {}))['vars']['aws_sm_program']
    for name, value in moto_server.credentials_env().items():
        monkeypatch.setenv(name, value)
    name = 'race-%s-lease' % uuid.uuid4().hex[:8]
    direct = boto3.client('secretsmanager', endpoint_url=moto_server.url, region_name='us-east-1')
    direct.create_secret(Name=name, SecretString='{}')
    stale = direct.get_secret_value(SecretId=name)  # what both runs read

    def lease_run(holder, stale_read=None):
        real_create = botocore.session.Session.create_client

        def client(self, *args, **kwargs):
            made = real_create(self, *args, **kwargs)
            if stale_read:  # the first read is stale, later ones (naming the holder) are real
                reads = [stale_read]
                real_read = made.get_secret_value
                made.get_secret_value = lambda **kw: reads.pop() if reads else real_read(**kw)
            return made
        for variable, value in moto_server.credentials_env().items():  # each run's own session reads them
            monkeypatch.setenv(variable, value)
        monkeypatch.setattr(botocore.session.Session, 'create_client', client)
        monkeypatch.setattr(sys, 'stdin', io.StringIO(json.dumps({
            'op': 'lease_acquire', 'lease': name, 'names': {}, 'run_id': holder['run_id'], 'holder': holder, 'replaces': '',
            'conn': {'endpoint_url': moto_server.url, 'region': 'us-east-1'}, 'check_mode': False})))
        out = io.StringIO()
        monkeypatch.setattr(sys, 'stdout', out)
        try:
            exec(compile(program, 'aws_sm_program', 'exec'), {'__name__': '__main__'})  # pylint: disable=exec-used
        except SystemExit:
            pass
        finally:
            monkeypatch.setattr(botocore.session.Session, 'create_client', real_create)
            monkeypatch.undo()
        return json.loads(out.getvalue())

    first = lease_run(HOLDER_A, stale)
    assert first['changed'] is True and first['lease']['run_id'] == 'run-A'
    second = lease_run(HOLDER_B, stale)  # read the same free version before run-A's write landed
    assert second.get('failed') is True and 'run-A' in second['msg'], second
    assert json.loads(direct.get_secret_value(SecretId=name)['SecretString'])['run_id'] == 'run-A'


def aws_secret_name(prefix, key):
    """The AWS example's documented key encoding, written again here so the two can disagree."""
    quoted = urllib.parse.quote(key, safe='/').replace('~', '%7E').replace('%', '@')
    if len(quoted) >= 7 and quoted[-7] == '-' and quoted[-6:].isalnum() and quoted[-6:].isascii():
        quoted = quoted[:-7] + '@2D' + quoted[-6:]
    return '%s/%s' % (prefix, quoted)


def test_role_rotates_with_the_aws_store(ansible, simulator, workdir, moto_server, example_collections):
    """The role itself, on the AWS example against moto: every rotated password ends current there,
    under the documented name, nothing pending, the lease free; a second run sends nothing."""
    import boto3
    from rotation_helpers import ROTATE, fleet, key_of, rotate_vars, sha, write_accounts
    twins = [{'source_name': 'My-AD', 'user_name': 'Carl.Jones', 'account_id': name}  # keys with '#'
             for name in ('Carl.Jones', 'Carl.Jones-adm')]
    accounts = twins + fleet(simulator, limit=10)
    prefix = 'role-%s' % uuid.uuid4().hex[:8]
    extra = rotate_vars(workdir, write_accounts(workdir, accounts),
                        service_account_rotation_store_tasks=os.path.join(REPO, 'playbooks', 'stores',
                                                                          'aws_secrets_manager.yml'),
                        aws_sm_prefix=prefix, aws_sm_endpoint_url=moto_server.url, aws_sm_region='us-east-1')
    env = dict(moto_server.credentials_env(),
               ANSIBLE_COLLECTIONS_PATH=ensure_collection_link() + os.pathsep + example_collections)
    first = ansible.run(ROTATE, extra, env=env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    client = boto3.client('secretsmanager', endpoint_url=moto_server.url, region_name='us-east-1',
                          aws_access_key_id='testing', aws_secret_access_key='testing')
    rows = simulator.accounts()
    for item in accounts:
        current = client.get_secret_value(SecretId=aws_secret_name(prefix, key_of(item)))['SecretString']
        live = [r['passwordSha256'] for r in rows if (r['sourceName'], r['userName']) == (item['source_name'],
                item['user_name']) and item.get('account_id') in (None, r['accountId'], r['accountName'])]
        assert sha(current) in live, key_of(item)
    names = [s['Name'] for page in client.get_paginator('list_secrets').paginate() for s in page['SecretList']]
    assert not [n for n in names if n.startswith(prefix + '-pending/')]
    assert json.loads(client.get_secret_value(SecretId=prefix + '-lease')['SecretString']) == {}
    sent = simulator.requests_of('set_password')
    second = ansible.run(ROTATE, extra, env=env)
    assert second.returncode == 0, second.stdout[-4000:]
    assert simulator.requests_of('set_password') == sent


IMPORT_PLAYBOOK = os.path.join(REPO, 'playbooks', 'import_store.yml')


class ImportPlaybook:
    """playbooks/import_store.yml run against the store under test, with a vault-encrypted passwords file."""

    def __init__(self, store):
        self.store = store
        self.state = os.path.join(store.workdir, 'state')
        self.files = 0

    def passwords_file(self, mapping, encrypt=True):
        import yaml
        self.files += 1
        path = os.path.join(self.store.workdir, 'passwords-%d.yml' % self.files)
        with open(path, 'w') as handle:
            yaml.safe_dump(mapping, handle, allow_unicode=True)
        if encrypt:  # as `ansible-vault encrypt --vault-password-file` does, without its process (~1 CPU-s)
            from ansible.parsing.vault import VaultLib, VaultSecret
            with open(self.store.runner.vault_pass, 'rb') as handle:
                secret = VaultSecret(handle.read().strip())
            with open(path, 'rb') as handle:
                plain = handle.read()
            with open(path, 'wb') as handle:
                handle.write(VaultLib([('default', secret)]).encrypt(plain))
        return path

    def run(self, path, check=False, **extra):
        extra_vars = dict(extra, import_store_file=path, rotation_state_dir=self.state)
        if self.store.extra_vars['contract_store_tasks']:
            extra_vars['service_account_rotation_store_tasks'] = self.store.extra_vars['contract_store_tasks']
            extra_vars.update((k, v) for k, v in dict(self.store.extra_vars, **self.store.namespace('contract-case')).items()
                              if k.startswith('aws_sm_'))
        result = self.store.runner.run(IMPORT_PLAYBOOK, extra_vars, env=self.store.env, check=check, verbosity=3,
                                       timeout=600)
        return result, result.stdout + result.stderr

    def store_bytes(self):
        path = os.path.join(self.state, 'store.vault')
        if self.store.name != 'vault_file' or not os.path.exists(path):
            return None
        with open(path, 'rb') as handle:
            return handle.read()

    def leases(self):
        return sorted(n for n in os.listdir(self.state) if n.endswith('.lease')) if os.path.isdir(self.state) else []


@pytest.mark.parametrize('store', ['vault_file', 'aws_secrets_manager'], indirect=True)
def test_import_store_playbook(store):
    """playbooks/import_store.yml end to end: import, re-import, a conflict refused changing nothing, overwrite.
    The built-in store and a store task file (the AWS example): both through the role's store.yml."""
    play = ImportPlaybook(store)
    first = {'Corp AD/svc-one': 'Imp0rt-one', 'My-AD/Carl.Jones#Carl.Jones-adm': 'Imp0rt-two',
             'AD/in-flight': 'Imp0rt-three'}
    secrets = list(first.values()) + ['Imp0rt-changed', 'Imp0rt-new', 'Pend1ng']
    ok(store.run([escrow('att-1', ['AD/in-flight'], 'Pend1ng')])[0])
    path = play.passwords_file(first)

    dry, out = play.run(path, check=True)
    assert dry.returncode == 0, out[-4000:]
    assert 'Would import 2 of 3 keys' in out
    assert ok(store.run([read('read_current', list(first))])[0])['passwords'] == {}

    result, out = play.run(path)
    assert result.returncode == 0, out[-4000:]
    assert 'Imported 2 of 3 keys, 0 already current, 1 skipped (pending)' in out
    assert 'skipped: AD/in-flight' in out
    assert not [s for s in secrets if s in out]  # -vvv, and still no password in the output
    assert play.leases() == []  # both leases given back
    answers = store.run([read('read_current', list(first)), read('read_pending', ['AD/in-flight'])])
    assert ok(answers[0])['passwords'] == {'Corp AD/svc-one': 'Imp0rt-one',
                                           'My-AD/Carl.Jones#Carl.Jones-adm': 'Imp0rt-two'}
    assert ok(answers[1])['passwords'] == {'AD/in-flight': 'Pend1ng'}

    before = play.store_bytes()
    again, out = play.run(path)
    assert again.returncode == 0, out[-4000:]
    assert 'Imported 0 of 3 keys, 2 already current, 1 skipped (pending)' in out
    assert play.store_bytes() == before  # idempotent: the store file is not even rewritten

    conflict = play.passwords_file({'Corp AD/svc-one': 'Imp0rt-changed', 'AD/new': 'Imp0rt-new'})
    refused, out = play.run(conflict)
    assert refused.returncode != 0
    assert 'key Corp AD/svc-one already holds a different current password' in out and 'overwrite' in out
    assert 'Nothing was imported' in out
    assert not [s for s in secrets if s in out]
    assert play.store_bytes() == before and play.leases() == []
    assert ok(store.run([read('read_current', ['Corp AD/svc-one', 'AD/new'])])[0])['passwords'] == \
        {'Corp AD/svc-one': 'Imp0rt-one'}

    forced, out = play.run(conflict, import_store_overwrite=True)
    assert forced.returncode == 0, out[-4000:]
    assert 'Imported 2 of 2 keys' in out
    answers = store.run([read('read_current', ['Corp AD/svc-one', 'AD/new']), read('read_previous', ['Corp AD/svc-one'])])
    assert ok(answers[0])['passwords'] == {'Corp AD/svc-one': 'Imp0rt-changed', 'AD/new': 'Imp0rt-new'}
    assert ok(answers[1])['passwords'] == {'Corp AD/svc-one': 'Imp0rt-one'}  # kept for rollback


@pytest.mark.parametrize('store', ['vault_file'], indirect=True)
def test_import_store_playbook_refuses_bad_input_and_a_running_rotation(store):
    import socket
    play = ImportPlaybook(store)
    ok(store.run([escrow('att-1', ['AD/seed'], 'Seed-pw')])[0])
    before = play.store_bytes()

    bad = play.passwords_file({'/no-source': 'Bad-1', 'no-slash': 'Bad-2', 'src/': 'Bad-3', 'src/user#': 'Bad-4',
                               'src/empty-password': '', 'src/number': 12345, 'fine/user': 'Bad-5'})
    result, out = play.run(bad)
    assert result.returncode != 0
    for problem in ('key /no-source has an empty source', 'key no-slash has no "/"', 'key src/ has an empty user',
                    'key src/user# has an empty account id', 'the password of key src/empty-password is empty',
                    'the password of key src/number is empty or not a string'):
        assert problem in out, (problem, out[-3000:])
    assert 'fine/user' not in out and not [s for s in ('Bad-1', 'Bad-5', '12345') if s in out]
    assert play.store_bytes() == before

    plain = play.passwords_file({'fine/user': 'Plain-pw'}, encrypt=False)
    result, out = play.run(plain)
    assert result.returncode != 0 and 'is not encrypted with ansible-vault' in out and 'Plain-pw' not in out

    # a rotation holds the state directory: its lease names this (live) process
    with open('/proc/%d/stat' % os.getpid()) as handle:
        stat = handle.read()
    lease_file = os.path.join(play.state, 'ledger.json.lease')
    with open(lease_file, 'w') as handle:
        json.dump({'run_id': 'rotation-run', 'host': socket.gethostname(), 'pid': os.getpid(),
                   'pid_start': int(stat[stat.rindex(')') + 2:].split()[19]), 'started': '2026-01-01T00:00:00Z'},
                  handle)
    good = play.passwords_file({'fine/user': 'Good-pw'})
    result, out = play.run(good)
    assert result.returncode != 0 and 'another rotation is running' in out and 'rotation-run' in out
    assert play.store_bytes() == before
    with open(lease_file) as handle:
        assert json.load(handle)['run_id'] == 'rotation-run'  # its lease is left alone
    os.unlink(lease_file)
    result, out = play.run(good)
    assert result.returncode == 0, out[-4000:]
    assert ok(store.run([read('read_current', ['fine/user'])])[0])['passwords'] == {'fine/user': 'Good-pw'}
