"""`make bench`: bulk rotation at ISC's real rate limit, against the naive per-account loop.

Conditions (the simulator's): 100 requests per client per API version per 10 s, 150 ms latency on
every request, 2 s from set-password to FINISHED. Measured in one run:
  1. the role rotating BULK_N (600) accounts: wall time, rotations/s, requests by operation, 429s,
     tokens, and bulk_vs_bound = bound / wall time, where bound is the least time the simulator's
     window lets the requests the run made take (see window_bound);
  2. a playbook looping isc_set_password (wait: true), one task per account, on LOOP_N (30) accounts;
  3. the plan (check mode) for 10,000 and 1,000 accounts with the limit raised to 1,000 requests/s:
     wall time and peak RSS of the whole ansible-playbook process tree;
  4. a scheduled run of the role over NOOP_N (10,000) accounts that were all rotated before, so
     nothing is due, at the real limit: wall time of the whole ansible-playbook and the
     query-password-info requests it sent (the state directory is written directly, see
     noop_state: a ledger saying every account was rotated a day ago and a store holding the
     simulator's current passwords; no rotation is spent on it).
  5. the role rotating MULTI_N (1,200) accounts, forced, with MULTI_CLIENTS (4) API clients, each limited by
     the simulator to 100 requests / 10 s: multi4_vs_bound = bound / wall time, where bound is the time the
     3 requests per account (query, set, one status poll) take at 4 x 10 requests/s: 1,200 x 3 / 40 = 90 s;
     the simulator's per-client counters show each client's share.
  6. discover: ansible-inventory with the isc_accounts inventory plugin over DISCOVER_N (10,000) fleet identities
     (10,077 with the seed's), at the real limit: discover_10k_s is the wall time of `ansible-inventory --graph` (the
     plugin's whole work: requests, classification, groups) and the requests it sent (search pages of 10,000 sorted by
     id and continued with searchAfter, sources, uncorrelated accounts, token); discover_list_10k_s is `--list`, which
     adds ansible-core's dump of every host's variables. The fleet's due, drift and unrotatable accounts are known by
     construction (tools/isc_simulator/discovery_fleet.py: seeded ages, a ledger, 5 native changes); the part fails
     when the --list answer does not hold exactly those, or every account as one host.
The role and the loop poll a change's status at the same interval (POLL_INTERVAL).
Prints a table, then `bench: bulk_vs_bound=... bulk_vs_loop=... tokens=... peak_mb_10k=... peak_mb_1k=...
noop_10k_s=... noop_10k_queries=... multi4_vs_bound=... discover_10k_s=... discover_list_10k_s=... discover_requests=...`
(a figure whose part did not run is `nan`).
Exits 1 when a run did not do all its work (fewer than N accounts rotated or changed, a plan short
of its accounts, a no-op run that did not skip every account or sent a query, a discovery inventory whose groups are
not exactly the fleet's) or the bound exceeds
the wall time (a measuring error: it cannot).
BENCH_N, BENCH_LOOP_N, BENCH_PLAN_SIZES, BENCH_NOOP_N, BENCH_MULTI_N and BENCH_DISCOVER_N override the sizes for a quick look;
BENCH_PARTS (default bulk,loop,plan,noop,multi,discover) selects the parts to run.
"""

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
BULK_N = int(os.environ.get('BENCH_N', '600'))
LOOP_N = int(os.environ.get('BENCH_LOOP_N', '30'))
PLAN_SIZES = [int(x) for x in os.environ.get('BENCH_PLAN_SIZES', '10000,1000').split(',')]
NOOP_N = int(os.environ.get('BENCH_NOOP_N', '10000'))
MULTI_N = int(os.environ.get('BENCH_MULTI_N', '1200'))
MULTI_CLIENTS = 4
DISCOVER_N = int(os.environ.get('BENCH_DISCOVER_N', '10000'))
# requests in flight per client: with 150 ms latency, 8 send a client's first 100 requests of a phase (the burst
# ISC's sliding window allows) in about 2 s instead of 4
MULTI_WORKERS = int(os.environ.get('BENCH_MULTI_WORKERS', '8'))
ALL_PARTS = ('bulk', 'loop', 'plan', 'noop', 'multi', 'discover')
PARTS = set(p.strip() for p in os.environ.get('BENCH_PARTS', ','.join(ALL_PARTS)).split(',') if p.strip())
RATE_LIMIT, RATE_WINDOW = 100, 10
REAL_LIMIT = ['--rate-limit', str(RATE_LIMIT), '--rate-window', str(RATE_WINDOW), '--latency', '0.15', '--completion-delay', '2']
POLL_INTERVAL = 3  # seconds between status polls, for the role and the loop alike
VAULT_PASSWORD = 'bench-vault-password'
# The password the simulator's seed gives every fleet account (tools/isc_simulator/seed.yaml, first fleet;
# the --fleet-size svc-bulk- accounts use it too); noop_state checks it against the simulator's hashes.
SEED_PASSWORD = 'Init-{name}-Aa1!x'


def window_bound(requests, limit=RATE_LIMIT, window=RATE_WINDOW):
    """The least time in which ``requests`` requests can get through the simulator's rate limiter.

    Its window slides: a request is let through when fewer than ``limit`` were let through in the
    ``window`` seconds before it. The first ``limit`` go at once, and request number k + limit
    comes at least ``window`` seconds after request number k, so the last of R requests comes at
    least (ceil(R / limit) - 1) x window seconds after the first. A run lasts at least that long
    (its wall time also covers start-up and the wait for the last change), so bound / wall <= 1.
    """
    if requests <= 0:
        return 0.0
    return (math.ceil(requests / float(limit)) - 1) * float(window)


def limited_requests(counters):
    """Requests the limiter let through: every API answer but its own 429s; the token endpoint is not limited.

    The benchmark's runs use one API version (v2024), so they all count against one budget.
    """
    answered = sum(n for op, codes in counters['requests'].items() if op != 'token'
                   for code, n in codes.items() if code.isdigit() or code == 'accepted_then_dropped')
    return answered - counters['rateLimited']


class Simulator:
    def __init__(self, workdir, *args):
        port_file = os.path.join(workdir, 'port-%d' % time.monotonic_ns())
        self.log = open(os.path.join(workdir, 'simulator.log'), 'a')
        self.proc = subprocess.Popen([sys.executable, '-m', 'tools.isc_simulator', '--port', '0', '--port-file', port_file,
                                      '--idle-exit', '1800'] + list(args), cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.proc.poll() is not None:
                raise SystemExit('simulator did not start')
            time.sleep(0.05)
        self.url = 'http://127.0.0.1:%s' % open(port_file).read().strip()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60) as resp:
            return json.load(resp)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def descendants_rss_kb(root):
    """Sum of VmRSS over root and every process below it (read from /proc)."""
    children = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as handle:
                ppid = int(handle.read().rsplit(')', 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open('/proc/%d/status' % pid) as handle:
                for line in handle:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def run_playbook(workdir, sim, args, extra_vars):
    env = dict(os.environ, SAIL_BASE_URL=sim.url, SAIL_CLIENT_ID='demo-client-id', SAIL_CLIENT_SECRET='demo-client-secret',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, 'build', 'collections'), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
               XDG_CACHE_HOME=os.path.join(workdir, 'cache'), HOME=workdir, ANSIBLE_HOME=os.path.join(workdir, 'ansible'),
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    vars_file = os.path.join(workdir, 'vars-%d.json' % time.monotonic_ns())
    with open(vars_file, 'w') as handle:
        json.dump(extra_vars, handle)
    vault = os.path.join(workdir, 'vault-pass')
    with open(vault, 'w') as handle:
        handle.write(VAULT_PASSWORD + '\n')
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '--vault-password-file', vault,
           '-e', '@' + vars_file] + args
    peak = [0]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def watch():
        while proc.poll() is None:
            peak[0] = max(peak[0], descendants_rss_kb(proc.pid))
            time.sleep(0.1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.communicate()[0]
    wall = time.monotonic() - start
    watcher.join()
    if proc.returncode != 0:
        print(out[-5000:])
        raise SystemExit('ansible-playbook failed (rc=%d): %s' % (proc.returncode, ' '.join(args)))
    return wall, peak[0] / 1024.0, out


def write_accounts(workdir, accounts):
    path = os.path.join(workdir, 'accounts-%d.json' % len(accounts))
    with open(path, 'w') as handle:
        json.dump({'service_account_rotation_accounts': accounts}, handle)
    return path


def bulk(workdir):
    sim = Simulator(workdir, '--fleet-size', str(BULK_N), *REAL_LIMIT)
    try:
        accounts = [{'source_name': a['sourceName'], 'user_name': a['userName']}
                    for a in sim.get('/__sim/accounts')['accounts'] if a['userName'].startswith('svc-bulk-')][:BULK_N]
        extra = {'rotation_accounts_file': write_accounts(workdir, accounts), 'rotation_state_dir': os.path.join(workdir, 'bulk'),
                 'service_account_rotation_poll_interval': POLL_INTERVAL, 'service_account_rotation_wait_timeout': 900,
                 'service_account_rotation_batch_size': 300, 'service_account_rotation_workers': 4}
        wall, peak, out = run_playbook(workdir, sim, ['sailpoint_isc.passwords.rotate_service_accounts'], extra)
        counters = sim.get('/__sim/counters')
        report = json.load(open(os.path.join(workdir, 'bulk', 'report.json')))
    finally:
        sim.stop()
    requests = {op: sum(v for k, v in codes.items() if k.isdigit()) for op, codes in counters['requests'].items()}
    return {'wall': wall, 'n': len(accounts), 'rotated': report['totals'].get('rotated', 0), 'totals': report['totals'],
            'requests': requests, 'limited': limited_requests(counters), 'rate_limited': counters['rateLimited'],
            'tokens': counters['tokensIssued'], 'peak_mb': peak}


LOOP_PLAY = """
- name: Naive loop, one task per account
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Set each password and wait
      sailpoint_isc.passwords.isc_set_password:
        user_name: "{{ item.user_name }}"
        source_name: "{{ item.source_name }}"
        password: "{{ 'Aa1-' ~ lookup('ansible.builtin.password', '/dev/null', length=20, chars=['ascii_letters', 'digits']) }}"
        wait: true
        poll_interval: "{{ poll_interval }}"
      loop: "{{ loop_accounts }}"
"""


def loop(workdir):
    sim = Simulator(workdir, *REAL_LIMIT)
    try:
        rows = sim.get('/__sim/accounts')['accounts']
        accounts = [{'source_name': a['sourceName'], 'user_name': a['userName']} for a in rows
                    if a['sourceName'] in ('Corp-LDAP', 'Oracle-DB') and a['userName'].startswith('svc-app-')][:LOOP_N]
        play = os.path.join(workdir, 'loop.yml')
        with open(play, 'w') as handle:
            handle.write(LOOP_PLAY)
        wall, _peak, _out = run_playbook(workdir, sim, [play], {'loop_accounts': accounts, 'poll_interval': POLL_INTERVAL})
        looped = {(a['source_name'], a['user_name']) for a in accounts}
        changed = sum(1 for a in sim.get('/__sim/accounts')['accounts']
                      if (a['sourceName'], a['userName']) in looped and a['changeCount'] > 0)
    finally:
        sim.stop()
    return {'wall': wall, 'n': len(accounts), 'changed': changed}


def plan(workdir, size):
    sim = Simulator(workdir, '--fleet-size', str(size), '--rate-limit', '1000', '--rate-window', '1',
                    '--latency', '0.15', '--completion-delay', '2')
    try:
        accounts = [{'source_name': a['sourceName'], 'user_name': a['userName']}
                    for a in sim.get('/__sim/accounts')['accounts'] if a['userName'].startswith('svc-bulk-')][:size]
        extra = {'rotation_accounts_file': write_accounts(workdir, accounts), 'rotation_state_dir': os.path.join(workdir, 'plan-%d' % size),
                 'isc_rate_limit': 1000, 'isc_rate_window': 1, 'service_account_rotation_workers': 200}
        wall, peak, out = run_playbook(workdir, sim, ['--check', 'sailpoint_isc.passwords.rotate_service_accounts'], extra)
        queries = sum(v for k, v in sim.get('/__sim/counters')['requests'].get('query_password_info', {}).items() if k.isdigit())
    finally:
        sim.stop()
    if 'would rotate' not in out:
        raise SystemExit('plan for %d accounts reported nothing to rotate' % size)
    return {'wall': wall, 'n': len(accounts), 'peak_mb': peak, 'queries': queries}


def noop_state(state_dir, rows, rotated_at):
    """The state directory of a fleet rotated before: a ledger and a vault store, written directly.

    The ledger (plugins/module_utils/ledger.py) says every account is current, last rotated at
    rotated_at; the store (plugins/action/vault_file_store.py, one Ansible Vault document) holds each
    account's current password, the simulator's seed password, checked against its hash. Both use the
    role's account keys. Writing them costs seconds; rotating 10,000 accounts first would cost 50 minutes.
    """
    sys.path.insert(0, os.path.join(REPO, 'build', 'collections'))
    from ansible.parsing.vault import VaultLib, VaultSecret
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key
    ledger, store, wrong = {}, {}, 0
    for row in rows:
        key = account_key(row['sourceName'], row['userName'])
        password = SEED_PASSWORD.format(name=row['userName'])
        wrong += hashlib.sha256(password.encode()).hexdigest() != row['passwordSha256']
        ledger[key] = {'attempts': 0, 'last_error': None, 'last_rotated': rotated_at, 'request_id': None, 'state': 'current'}
        store[key] = {'current': password, 'current_since': rotated_at}
    if wrong:
        raise SystemExit('noop: %d of %d seed passwords are not what the simulator holds (SEED_PASSWORD)' % (wrong, len(rows)))
    os.makedirs(state_dir, mode=0o700)
    with open(os.path.join(state_dir, 'ledger.json'), 'w') as handle:
        handle.write(json.dumps({'version': 1, 'accounts': ledger}, indent=1, sort_keys=True) + '\n')
    secret = VaultSecret(VAULT_PASSWORD.encode())
    blob = VaultLib([('default', secret)]).encrypt(json.dumps({'version': 2, 'accounts': store}, sort_keys=True).encode(),
                                                   secret=secret)
    path = os.path.join(state_dir, 'store.vault')
    with open(path, 'wb') as handle:
        handle.write(blob)
    os.chmod(path, 0o600)


def noop(workdir):
    """A scheduled run over NOOP_N accounts all rotated a day ago (max_age_days 90): nothing is due."""
    sim = Simulator(workdir, '--fleet-size', str(NOOP_N), *REAL_LIMIT)
    try:
        rows = [a for a in sim.get('/__sim/accounts')['accounts'] if a['userName'].startswith('svc-bulk-')][:NOOP_N]
        accounts = [{'source_name': a['sourceName'], 'user_name': a['userName']} for a in rows]
        state_dir = os.path.join(workdir, 'noop')
        rotated_at = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 86400))
        noop_state(state_dir, rows, rotated_at)
        extra = {'rotation_accounts_file': write_accounts(workdir, accounts), 'rotation_state_dir': state_dir,
                 'service_account_rotation_max_age_days': 90}
        wall, peak, out = run_playbook(workdir, sim, ['sailpoint_isc.passwords.rotate_service_accounts'], extra)
        counters = sim.get('/__sim/counters')
        changed = sum(1 for a in sim.get('/__sim/accounts')['accounts'] if a['changeCount'] > 0)
        report = json.load(open(os.path.join(state_dir, 'report.json')))
    finally:
        sim.stop()
    requests = {op: sum(v for k, v in codes.items() if k.isdigit()) for op, codes in counters['requests'].items()}
    return {'wall': wall, 'n': len(accounts), 'skipped': report['totals'].get('skipped', 0), 'totals': report['totals'],
            'requests': requests, 'queries': requests.get('query_password_info', 0), 'changed': changed, 'peak_mb': peak}


def multi_seed(workdir, clients):
    """The simulator's default seed plus the bench's API clients (the demo clients stay as they are)."""
    import yaml
    with open(os.path.join(REPO, 'tools', 'isc_simulator', 'seed.yaml'), encoding='utf-8') as handle:
        seed = yaml.safe_load(handle)
    seed['api_clients'] += [{'client_id': cid, 'client_secret': secret, 'type': 'client'} for cid, secret in clients]
    path = os.path.join(workdir, 'seed-multi.yaml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(seed, handle)
    return path


def multi(workdir):
    """MULTI_N accounts, forced, through MULTI_CLIENTS API clients at the real per-client limit."""
    clients = [('bench-client-%d' % i, 'bench-secret-%d-%s' % (i, os.urandom(6).hex())) for i in range(1, MULTI_CLIENTS + 1)]
    sim = Simulator(workdir, '--seed', multi_seed(workdir, clients), '--fleet-size', str(MULTI_N), *REAL_LIMIT)
    try:
        accounts = [{'source_name': a['sourceName'], 'user_name': a['userName']}
                    for a in sim.get('/__sim/accounts')['accounts'] if a['userName'].startswith('svc-bulk-')][:MULTI_N]
        extra = {'rotation_accounts_file': write_accounts(workdir, accounts), 'rotation_state_dir': os.path.join(workdir, 'multi'),
                 'service_account_rotation_poll_interval': POLL_INTERVAL, 'service_account_rotation_wait_timeout': 900,
                 'service_account_rotation_batch_size': 300, 'service_account_rotation_workers': MULTI_WORKERS,
                 'service_account_rotation_force': True,
                 'service_account_rotation_api_clients': [{'client_id': cid, 'client_secret': secret} for cid, secret in clients]}
        wall, peak, out = run_playbook(workdir, sim, ['sailpoint_isc.passwords.rotate_service_accounts'], extra)
        counters = sim.get('/__sim/counters')
        report = json.load(open(os.path.join(workdir, 'multi', 'report.json')))
    finally:
        sim.stop()
    requests = {op: sum(v for k, v in codes.items() if k.isdigit()) for op, codes in counters['requests'].items()}
    per_client = {cid: sum(n for op, codes in counters.get('clients', {}).get(cid, {}).items() if op != 'token'
                           for code, n in codes.items() if code.isdigit() and code != '429')
                  for cid, _secret in clients}
    # 3 requests per account (query, set, one poll) at 10 requests/s for each client
    bound = len(accounts) * 3.0 / (MULTI_CLIENTS * RATE_LIMIT / float(RATE_WINDOW))
    return {'wall': wall, 'n': len(accounts), 'rotated': report['totals'].get('rotated', 0), 'totals': report['totals'],
            'requests': requests, 'per_client': per_client, 'rate_limited': counters['rateLimited'],
            'tokens': counters['tokensIssued'], 'peak_mb': peak, 'bound': bound, 'failed': report.get('api_clients_failed')}


def discover(workdir):
    """ansible-inventory --list with the isc_accounts plugin over the fleet, at the real limit (part 6)."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from tools.isc_simulator import discovery_fleet
    sim = Simulator(workdir, '--fleet-size', str(DISCOVER_N), *REAL_LIMIT)
    try:
        folder = os.path.join(workdir, 'discover')
        os.makedirs(folder, exist_ok=True)
        # groups known by construction (ages, our ledger, native changes): the answer is checked, not only timed
        ledger = os.path.join(folder, 'state', 'ledger.json')
        expected = discovery_fleet.build(sim.call, ledger)
        inventory = os.path.join(folder, 'isc_accounts.yml')
        with open(inventory, 'w') as handle:
            handle.write('plugin: sailpoint_isc.passwords.isc_accounts\ntoken_cache: false\nmax_age_days: %d\nledger_path: %s\n'
                         % (discovery_fleet.MAX_AGE_DAYS, ledger))
        env = dict(os.environ, SAIL_BASE_URL=sim.url, SAIL_CLIENT_ID='demo-client-id', SAIL_CLIENT_SECRET='demo-client-secret',
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, 'build', 'collections'), HOME=workdir,
                   XDG_CACHE_HOME=os.path.join(workdir, 'cache'), ANSIBLE_HOME=os.path.join(workdir, 'ansible'),
                   PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        walls = {}
        # --graph is what the plugin costs (requests, classification, groups): what a play pays before its first task;
        # --list adds ansible-core's own per-host variable dump (about 1.5 ms per host), which the plugin cannot change
        for mode in ('--graph', '--list'):
            start = time.monotonic()
            out = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', inventory, mode], cwd=workdir, env=env,
                                 capture_output=True, text=True, check=False)
            walls[mode] = time.monotonic() - start
            if out.returncode:
                raise SystemExit('discover: ansible-inventory %s failed: %s' % (mode, out.stderr[-3000:]))
            if mode == '--graph':  # requests of one inventory build (the second sends as many again)
                requests = dict((op, sum(v for k, v in codes.items() if k.isdigit()))
                                for op, codes in sim.get('/__sim/counters')['requests'].items())
        # ansible-core 2.19+ marks strings it did not template: {"__ansible_unsafe": value}
        listed = json.loads(out.stdout, object_hook=lambda o: o.get('__ansible_unsafe', o) if len(o) == 1 else o)
        hosts = len(listed['_meta']['hostvars'])
        wrong = discovery_fleet.differences(expected, listed)
        wall = walls['--graph']
        identities = sim.get('/__sim/health')['accounts']
    finally:
        sim.stop()
    return {'wall': wall, 'list_wall': walls['--list'], 'hosts': hosts, 'requests': requests, 'identities': identities,
            'wrong': wrong, 'groups': dict((g, len(expected[g])) for g in ('due', 'drift', 'unrotatable'))}


def main():
    if not PARTS or PARTS - set(ALL_PARTS):
        raise SystemExit('BENCH_PARTS: a comma-separated choice of %s (got %r)'
                         % (', '.join(ALL_PARTS), os.environ.get('BENCH_PARTS')))
    workdir = tempfile.mkdtemp(prefix='isc-bench-')
    print('bench: workdir %s; simulator: 100 req/10 s per client, 150 ms latency, 2 s completion; parts %s'
          % (workdir, ','.join(sorted(PARTS))), flush=True)
    b = lp = nop = m = d = None
    if 'bulk' in PARTS:
        b = bulk(workdir)
        print('bulk done in %.1f s' % b['wall'], flush=True)
    if 'loop' in PARTS:
        lp = loop(workdir)
        print('loop done in %.1f s' % lp['wall'], flush=True)
    plans = {size: plan(workdir, size) for size in PLAN_SIZES} if 'plan' in PARTS else {}
    if 'noop' in PARTS:
        nop = noop(workdir)
        print('noop done in %.1f s' % nop['wall'], flush=True)
    if 'multi' in PARTS:
        m = multi(workdir)
        print('multi done in %.1f s' % m['wall'], flush=True)
    if 'discover' in PARTS:
        d = discover(workdir)
        print('discover done in %.1f s' % d['wall'], flush=True)

    nan = float('nan')
    rows = []
    if b:
        bound = window_bound(b['limited'])
        bulk_rate = b['rotated'] / b['wall']
        rows.append(('role, %d accounts' % b['n'], '%.1f s' % b['wall'], '%.2f rot/s' % bulk_rate,
                     'requests %s; 429s %d; tokens %d; report %s' % (json.dumps(b['requests'], sort_keys=True),
                                                                     b['rate_limited'], b['tokens'], b['totals'])))
    if lp:
        loop_rate = lp['n'] / lp['wall']
        rows.append(('loop, %d accounts' % lp['n'], '%.1f s' % lp['wall'], '%.3f rot/s' % loop_rate,
                     'one isc_set_password task (wait) per account'))
    for size in (PLAN_SIZES if plans else []):
        p = plans[size]
        rows.append(('plan (check), %d' % size, '%.1f s' % p['wall'], '%.0f MB peak' % p['peak_mb'],
                     '%d queries; whole process tree RSS' % p['queries']))
    if nop:
        rows.append(('no-op run, %d' % nop['n'], '%.1f s' % nop['wall'], '%.0f MB peak' % nop['peak_mb'],
                     'requests %s; %d accounts changed; report %s' % (json.dumps(nop['requests'], sort_keys=True)
                                                                      if nop['requests'] else 'none (not even a token)',
                                                                      nop['changed'], nop['totals'])))
    if m:
        rows.append(('role, %d accounts, %d clients' % (m['n'], MULTI_CLIENTS), '%.1f s' % m['wall'],
                     '%.2f rot/s' % (m['rotated'] / m['wall']),
                     'forced; requests %s; per client %s; 429s %d; tokens %d; report %s'
                     % (json.dumps(m['requests'], sort_keys=True), json.dumps(m['per_client'], sort_keys=True),
                        m['rate_limited'], m['tokens'], m['totals'])))
    if d:
        rows.append(('discover, %d accounts' % d['hosts'], '%.1f s' % d['wall'], '%d requests' % sum(d['requests'].values()),
                     'ansible-inventory --graph, isc_accounts plugin (--list with every host\'s variables: %.1f s); '
                     'requests %s; groups %s %s' % (d['list_wall'], json.dumps(d['requests'], sort_keys=True),
                                                    json.dumps(d['groups'], sort_keys=True),
                                                    'exact' if not d['wrong'] else 'WRONG')))
    print()
    print('%-22s %-10s %-14s %s' % ('run', 'wall', 'rate / memory', 'detail'))
    for row in rows:
        print('%-22s %-10s %-14s %s' % row)
    if b:
        print('bound for %d accounts: %.0f s (%d requests through a window of %d per %d s: the first %d at once, '
              'then %d per %d s)' % (b['n'], bound, b['limited'], RATE_LIMIT, RATE_WINDOW, RATE_LIMIT, RATE_LIMIT, RATE_WINDOW))
    if m:
        print('bound for %d accounts over %d clients: %.0f s (%d x 3 requests at %d x %d requests/s)'
              % (m['n'], MULTI_CLIENTS, m['bound'], m['n'], MULTI_CLIENTS, RATE_LIMIT // RATE_WINDOW))
    peak_10k = plans.get(10000, {}).get('peak_mb', nan)
    peak_1k = plans.get(1000, {}).get('peak_mb', nan)
    print('bench: bulk_vs_bound=%.3f bulk_vs_loop=%.1f tokens=%s peak_mb_10k=%.0f peak_mb_1k=%.0f noop_10k_s=%.1f '
          'noop_10k_queries=%s multi4_vs_bound=%.3f discover_10k_s=%.1f discover_list_10k_s=%.1f discover_requests=%s'
          % (bound / b['wall'] if b else nan, bulk_rate / loop_rate if b and lp else nan, b['tokens'] if b else 'nan',
             peak_10k, peak_1k, nop['wall'] if nop else nan, nop['queries'] if nop else 'nan',
             m['bound'] / m['wall'] if m else nan, d['wall'] if d else nan, d['list_wall'] if d else nan,
             sum(d['requests'].values()) if d else 'nan'))

    problems = []
    if b and (b['n'] < BULK_N or b['rotated'] < BULK_N):
        problems.append('role: %d of %d accounts rotated (report %s)' % (b['rotated'], BULK_N, b['totals']))
    if lp and (lp['n'] < LOOP_N or lp['changed'] < LOOP_N):
        problems.append('loop: %d of %d accounts changed' % (lp['changed'], LOOP_N))
    for size in plans:
        if plans[size]['n'] < size or plans[size]['queries'] < size:
            problems.append('plan %d: %d accounts, %d queries' % (size, plans[size]['n'], plans[size]['queries']))
    if b and bound > b['wall']:
        problems.append('bound %.1f s exceeds the wall time %.1f s: the measurement is wrong' % (bound, b['wall']))
    if nop and (nop['n'] < NOOP_N or nop['skipped'] < NOOP_N or nop['queries'] or nop['changed']):
        problems.append('no-op run: %d accounts, %d skipped, %d queries, %d changed (nothing is due: every account '
                        'skipped, no query, no change)' % (nop['n'], nop['skipped'], nop['queries'], nop['changed']))
    if m and (m['n'] < MULTI_N or m['rotated'] < MULTI_N or m['failed']):
        problems.append('multi: %d of %d accounts rotated (report %s, failed clients %s)'
                        % (m['rotated'], MULTI_N, m['totals'], m['failed']))
    if m and min(m['per_client'].values()) < 0.5 * m['n'] * 3 / MULTI_CLIENTS:
        problems.append('multi: the clients did uneven shares %s' % json.dumps(m['per_client'], sort_keys=True))
    if d and (d['hosts'] < min(DISCOVER_N, d['identities']) or d['requests'].get('search', 0) > 3):
        problems.append('discover: %d hosts for %d accounts, %d search requests (at most 3 for 10,000 identities)'
                        % (d['hosts'], d['identities'], d['requests'].get('search', 0)))
    if d and d['wrong']:
        problems.append('discover: the groups are not what the fleet implies: ' + '; '.join(d['wrong']))
    if problems:
        print('bench FAILED: ' + '; '.join(problems))
        raise SystemExit(1)


if __name__ == '__main__':
    main()
