"""End-to-end fixtures: a simulator in its own process and ansible-playbook runs against it.

These tests drive the collection the way users do (ansible-playbook, real HTTP) and check the
service's state only through the simulator's /__sim/ API.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, 'build', 'collections')
BIN = os.path.dirname(sys.executable)


# The slowest tests, slowest first (wall seconds under `-n 4` in a clean-clone `.ci/run`, tools/test_all.sh prints
# them; "~": estimated from a test that was split, scaled by its share of the CPU seconds): they start before every
# other test, so that none of them begins late and makes the stage's tail. A name here that its file no longer has
# fails the collection (a renamed test would silently fall to the back).
SLOW_FIRST = (
    'test_dependents.py::test_dependents_roll_forward_rollback_and_a_run_killed_during_a_rollback',  # ~300 (wt-a)
    'test_chaos.py::test_chaos_loses_nothing_and_converges[0]',  # 283
    'test_chaos.py::test_chaos_loses_nothing_and_converges[1]',  # 229
    'test_password_config.py::test_export_from_one_tenant_apply_to_another_and_rotate_there',  # 160
    'test_alternating.py::test_cycles_alternate_and_neither_a_failed_reload_nor_a_failed_set_password_flips',  # ~230
    'test_big_run_log.py::test_a_2000_account_run_logs_progress_and_a_short_summary',  # 129
    'test_faults.py::test_mixed_faults_200_accounts_converge_without_losing_a_password',  # 120
    'test_bad_input.py::test_module_refuses_bad_input[2.21.5]',  # 116
    'test_bad_input.py::test_module_refuses_bad_input[project]',  # 108
    'test_store_contract.py::test_import_store_playbook[aws_secrets_manager]',  # 96
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    """Start the tests of SLOW_FIRST first, in its order (a stable sort: the rest keep theirs).

    pytest-xdist's loadgroup hands the work out in this order (an xdist_group's tests stay one unit; groups of
    several tests go before single tests)."""
    modules = dict((item.nodeid.rsplit('/', 1)[-1].partition('::')[0], item.module) for item in items)
    missing = []
    for name in SLOW_FIRST:
        path, _sep, function = name.partition('::')
        if path in modules and not hasattr(modules[path], function.partition('[')[0]):
            missing.append(name)
    if missing:
        raise pytest.UsageError('tests/e2e/conftest.py SLOW_FIRST names tests that do not exist: %s' % missing)
    rank = dict((name, n) for n, name in enumerate(SLOW_FIRST))
    items.sort(key=lambda item: rank.get(item.nodeid.rsplit('/', 1)[-1], len(rank)))


def ensure_collection_link():
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'sailpoint_isc', 'passwords')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return COLLECTIONS


class SimulatorProcess:
    """`python -m tools.isc_simulator` on a free port, with helpers for /__sim/."""

    fast_limits = False  # started with FAST_LIMITS (see simulator_factory): clients may send as fast

    def __init__(self, workdir, *args):
        self.port_file = os.path.join(workdir, 'sim.port')
        self.log_path = os.path.join(workdir, 'sim.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'tools.isc_simulator', '--port', '0', '--port-file', self.port_file,
             '--idle-exit', '900'] + list(args),
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('simulator did not start:\n' + open(self.log_path).read())
            time.sleep(0.05)
        self.base_url = 'http://127.0.0.1:%s' % open(self.port_file).read().strip()

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def accounts(self, **filters):
        query = '&'.join('%s=%s' % kv for kv in filters.items())
        return self.call('GET', '/__sim/accounts' + ('?' + query if query else ''))['accounts']

    def counters(self):
        return self.call('GET', '/__sim/counters')

    def requests_of(self, operation):
        return sum(self.counters()['requests'].get(operation, {}).values())

    def set_faults(self, faults):
        return self.call('PUT', '/__sim/faults', faults)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix='isc-e2e-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


# The limits of the simulators the fixtures start and of the clients PlaybookRunner runs against them (requests per
# window, seconds): most tests are about rotation, not the rate limiter, and waiting for the production budget
# (100 / 10 s) doubles their wall time (issue 21). A test about the limiter, 429s or several clients' budgets passes
# --rate-limit itself; the client then keeps its production default unless the test sets isc_rate_limit too.
FAST_LIMITS = (5000, 1)


@pytest.fixture
def simulator_factory(workdir):
    started = []

    def start(*args):
        fast = '--rate-limit' not in args
        if fast:
            args += ('--rate-limit', str(FAST_LIMITS[0]), '--rate-window', str(FAST_LIMITS[1]))
        sim = SimulatorProcess(workdir, *args)
        sim.fast_limits = fast
        started.append(sim)
        return sim
    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory):
    return simulator_factory('--completion-delay', '0.3')


class PlaybookRunner:
    def __init__(self, workdir, simulator):
        self.workdir = workdir
        self.simulator = simulator
        self.vault_pass = os.path.join(workdir, 'vault-pass')
        self.bin = BIN  # where ansible-playbook and the module interpreter come from (see use_venv)
        with open(self.vault_pass, 'w') as handle:
            handle.write('e2e-vault-password-not-a-secret-of-the-service\n')

    def use_venv(self, venv):
        """Run ansible-playbook and the modules from another virtualenv (another ansible-core)."""
        self.bin = os.path.join(venv, 'bin')

    def env(self, **extra):
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=ensure_collection_link(),
            ANSIBLE_LOCAL_TEMP=os.path.join(self.workdir, 'ansible-tmp'),
            ANSIBLE_HOME=os.path.join(self.workdir, 'ansible-home'),
            ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='default',
            ANSIBLE_PYTHON_INTERPRETER=os.path.join(self.bin, os.path.basename(sys.executable)),
            ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
            # The controller polls its workers every internal_poll_interval, 1 ms by default: while a module runs it
            # spins. 20 ms cost test_dependents 11% less CPU (184 -> 164 CPU-s), the e2e stage's largest test.
            ANSIBLE_INTERNAL_POLL_INTERVAL='0.02',
            SAIL_BASE_URL=self.simulator.base_url if self.simulator else '',
            SAIL_CLIENT_ID='demo-client-id', SAIL_CLIENT_SECRET='demo-client-secret',
            XDG_CACHE_HOME=os.path.join(self.workdir, 'cache'),
            HOME=self.workdir,
            PATH=self.bin + os.pathsep + os.environ.get('PATH', ''),
        )
        env.update(extra)
        return env

    def command(self, playbook, extra_vars=None, check=False, verbosity=0, diff=False, vault=True):
        cmd = [os.path.join(self.bin, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', playbook]
        if extra_vars and getattr(self.simulator, 'fast_limits', False) and 'isc_rate_limit' not in extra_vars:
            extra_vars = dict(extra_vars, isc_rate_limit=FAST_LIMITS[0], isc_rate_window=FAST_LIMITS[1])
        if vault:
            cmd += ['--vault-password-file', self.vault_pass]
        if extra_vars:
            # From a file, as users should pass secrets: -vvvv echoes the command line.
            fd, path = tempfile.mkstemp(dir=self.workdir, prefix='extra-vars-', suffix='.json')
            with os.fdopen(fd, 'w') as handle:
                json.dump(extra_vars, handle)
            cmd += ['-e', '@' + path]
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        if verbosity:
            cmd.append('-' + 'v' * verbosity)
        return cmd

    def run(self, playbook, extra_vars=None, check=False, verbosity=0, diff=False, env=None, timeout=600,
            vault=True):
        return subprocess.run(self.command(playbook, extra_vars, check, verbosity, diff, vault),
                              cwd=self.workdir, env=self.env(**(env or {})), capture_output=True, text=True,
                              timeout=timeout, check=False)


@pytest.fixture
def ansible(workdir, simulator):
    return PlaybookRunner(workdir, simulator)


def write_playbook(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, 'w') as handle:
        handle.write(text)
    return path


# The CPU seconds each test cost, its child processes included (ansible-playbook and its modules, the simulator):
# unlike --durations' wall time it does not grow when the machine is busy, so it names the test that got dearer.
# Measured in the worker (its reaped children, from setup to teardown) and summed up where the summary is printed,
# beside what each xdist worker cost in all (what no test accounts for: collection, processes reaped outside a test).
CPU_BY_TEST = {}
CPU_OF_WORKERS = []
_CPU_AT_START = pytest.StashKey()


def _cpu_seconds():
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # pylint: disable=unused-argument
    item.stash[_CPU_AT_START] = _cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == 'teardown' and _CPU_AT_START in item.stash:
        outcome.get_result().user_properties.append(('cpu_seconds', _cpu_seconds() - item.stash[_CPU_AT_START]))


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == 'cpu_seconds' and report.when == 'teardown':
            CPU_BY_TEST[report.nodeid] = value


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, 'workeroutput', None)
    if workeroutput is not None:  # an xdist worker: its whole cost goes to the controller
        workeroutput['cpu_seconds'] = _cpu_seconds()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    CPU_OF_WORKERS.append(getattr(node, 'workeroutput', {}).get('cpu_seconds', 0.0))


def pytest_terminal_summary(terminalreporter):
    """The 10 dearest tests, and any other that cost 20 CPU-s or more."""
    if CPU_BY_TEST:
        in_tests = sum(CPU_BY_TEST.values())
        workers = sum(CPU_OF_WORKERS)
        terminalreporter.write_sep('=', 'the tests that cost the most CPU (CPU-s, children included; %d in tests%s)' % (
            in_tests, ', %d in the workers' % workers if workers else ''))
        ranked = sorted(CPU_BY_TEST.items(), key=lambda kv: -kv[1])
        for rank, (nodeid, seconds) in enumerate(ranked):
            if rank >= 10 and seconds < 20:
                break
            terminalreporter.write_line('%8.1f  %s' % (seconds, nodeid))
