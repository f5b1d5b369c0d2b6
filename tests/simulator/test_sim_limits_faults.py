"""Rate limiting, fault injection, the /__sim/ API, TLS and the command line."""

import datetime
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tools.isc_simulator import Simulator
from tools.isc_simulator.faults import validate_faults
from tools.isc_simulator.policy import check_password
from tools.isc_simulator.server import is_loopback

from .helpers import REPO, Api, api_path, wait_terminal


def test_rate_limit_per_client_and_version(make_sim):
    sim = make_sim(rate_limit=5, rate_window=2)
    api = Api(sim.base_url)
    for dummy in range(5):
        assert api.query().status_code == 200
    resp = api.query()
    assert resp.status_code == 429 and resp.json() == {'message': ' Rate Limit Exceeded '}
    assert 1 <= int(resp.headers['Retry-After']) <= 2
    # other API versions have their own budget; a second token of the same client shares it
    assert api.query(version='v3').status_code == 200
    assert api.query(version='v1').status_code == 200
    other_token = Api(sim.base_url)
    assert other_token.query().status_code == 429
    # the token endpoint and /__sim/ are not limited
    for dummy in range(8):
        Api(sim.base_url).get_token()
        api.sim('GET', 'health')
    time.sleep(int(resp.headers['Retry-After']) + 0.05)
    assert api.query().status_code == 200
    counters = api.sim('GET', 'counters')
    assert counters['rateLimited'] == 2 and counters['requests']['query_password_info']['429'] == 2


def test_latency_does_not_block_other_requests(make_sim):
    sim = make_sim(faults={'sync_groups': {'latency': 1.0}})
    api = Api(sim.base_url)
    api.get_token()
    slow_done = []
    slow = threading.Thread(target=lambda: slow_done.append(Api(sim.base_url).call('GET', '/v2024/password-sync-groups')))
    start = time.time()
    slow.start()
    time.sleep(0.1)
    assert api.query().status_code == 200
    assert time.time() - start < 0.6
    slow.join()
    assert slow_done[0].status_code == 200 and time.time() - start >= 1.0


def test_global_latency_and_jitter(make_sim):
    sim = make_sim(latency=0.2, faults={'all': {'latency': 0.1, 'latency_jitter': 0.1}})
    api = Api(sim.base_url)
    api.get_token()
    start = time.time()
    api.query()
    assert 0.3 <= time.time() - start < 1.0


def test_error_rate_statuses(make_sim):
    sim = make_sim(faults={'query_password_info': {'error_rate': 1.0}, 'random_seed': 7})
    api = Api(sim.base_url)
    seen = {api.query().status_code for dummy in range(20)}
    assert seen == {500, 502, 503}
    resp = api.query()
    if resp.status_code != 500:
        assert resp.headers['Content-Type'].startswith('text/html') and 'nginx' in resp.text
    assert api.call('GET', '/v2024/password-sync-groups').status_code == 200  # other operations unaffected


def test_drop_rate_closes_connection(make_sim):
    sim = make_sim(faults={'sync_groups': {'drop_rate': 1.0}})
    api = Api(sim.base_url)
    with pytest.raises(requests.ConnectionError):
        api.call('GET', '/v2024/password-sync-groups')
    assert api.sim('GET', 'counters')['requests']['sync_groups'] == {'dropped': 1}


def test_token_faults(make_sim):
    sim = make_sim(faults={'token': {'error_rate': 1.0, 'error_statuses': [503]}})
    resp = requests.post(sim.base_url + '/oauth/token', timeout=5, data={
        'grant_type': 'client_credentials', 'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret'})
    assert resp.status_code == 503
    api = Api(sim.base_url)
    api.sim('PUT', 'faults', {'token': {'throttle_rate': 1.0}})
    with pytest.raises(requests.HTTPError):
        api.get_token()


def test_throttle_rate(make_sim):
    sim = make_sim(faults={'password_change_status': {'throttle_rate': 1.0}})
    api = Api(sim.base_url)
    resp = api.status('x')
    assert resp.status_code == 429 and resp.headers['Retry-After'] == '1'
    assert api.sim('GET', 'counters')['rateLimited'] == 0


def test_drop_after_accept(make_sim):
    sim = make_sim(faults={'set_password': {'drop_after_accept_rate': 1.0}})
    api = Api(sim.base_url)
    info = api.info()
    with pytest.raises(requests.ConnectionError):
        api.set_password('Accepted1x', info=info)
    time.sleep(0.4)
    account = api.accounts(userName='Abby.Smith')[0]
    assert account['passwordSha256'] == hashlib.sha256(b'Accepted1x').hexdigest()
    requests_seen = api.sim('GET', 'requests')['requests']
    assert len(requests_seen) == 1 and requests_seen[0]['state'] == 'FINISHED'
    assert api.sim('GET', 'counters')['requests']['set_password'] == {'accepted_then_dropped': 1}


def test_in_flight_counts_changes_and_api_requests(make_sim):
    sim = make_sim(completion_delay=0.6, faults={'query_password_info': {'latency': 1.0}})
    api = Api(sim.base_url)
    assert api.sim('GET', 'in-flight') == {'changesInProgress': 0, 'lastCompletesAt': None, 'apiRequests': 0}
    api.set_password('InFlight1x', info=api.info())  # the info query waits 1 s: nothing is left in progress
    busy = api.sim('GET', 'in-flight')
    assert busy['changesInProgress'] == 1 and busy['lastCompletesAt'] and busy['apiRequests'] == 0
    slow = threading.Thread(target=Api(sim.base_url).query)
    slow.start()
    time.sleep(0.3)
    assert api.sim('GET', 'in-flight')['apiRequests'] == 1  # the query in its latency, the /__sim/ call not counted
    slow.join()
    assert api.sim('GET', 'in-flight') == {'changesInProgress': 0, 'lastCompletesAt': None, 'apiRequests': 0}


def test_stuck_follows_retry_schedule(make_sim):
    # 8045 s of retries * 0.0002 = 1.6 s
    sim = make_sim(time_scale=0.0002, faults={'set_password': {'stuck_rate': 1.0}})
    api = Api(sim.base_url)
    request_id = api.set_password('StuckPass1').json()['requestId']
    time.sleep(0.6)  # well past completion_delay
    assert api.status(request_id).json()['state'] == 'IN_PROGRESS'
    final = wait_terminal(api, request_id, timeout=4)
    assert final['state'] == 'FAILED' and final['errors'][0].startswith('Connector error')
    assert api.accounts(userName='Abby.Smith')[0]['changeCount'] == 0


def test_fail_rate(make_sim):
    sim = make_sim(faults={'set_password': {'fail_rate': 1.0}})
    api = Api(sim.base_url)
    final = wait_terminal(api, api.set_password('FailPass1').json()['requestId'])
    assert final['state'] == 'FAILED' and 'Connector error' in final['errors'][0]
    assert 'FailPass1' not in str(final)


def test_fail_sources_on_plain_source(make_sim):
    sim = make_sim(faults={'set_password': {'fail_sources': ['My-AD']}})
    api = Api(sim.base_url)
    final = wait_terminal(api, api.set_password('FailPass1').json()['requestId'])
    assert final['state'] == 'FAILED' and 'My-AD' in final['errors'][0]


def test_random_seed_is_reproducible(make_sim):
    def run():
        sim = make_sim(faults={'random_seed': 42, 'sync_groups': {'error_rate': 0.5}})
        api = Api(sim.base_url)
        return [api.call('GET', '/v2024/password-sync-groups').status_code for dummy in range(20)]
    first, second = run(), run()
    assert first == second and len(set(first)) > 1


def test_faults_api_and_file(make_sim, tmp_path):
    path = tmp_path / 'faults.yaml'
    path.write_text('random_seed: 1\nset_password:\n  fail_sources: [Oracle-DB]\n  stuck_rate: 0.5\n')
    sim = make_sim(faults=str(path))
    api = Api(sim.base_url)
    assert api.sim('GET', 'faults')['set_password'] == {'fail_sources': ['Oracle-DB'], 'stuck_rate': 0.5}
    assert api.sim('PUT', 'faults', {'all': {'latency': 0.01}}) == {'all': {'latency': 0.01}}
    resp = requests.put(sim.base_url + '/__sim/faults', json={'nope': {}}, timeout=5)
    assert resp.status_code == 400
    resp = requests.put(sim.base_url + '/__sim/faults', json={'query_password_info': {'stuck_rate': 1}}, timeout=5)
    assert resp.status_code == 400
    api.sim('POST', 'reset')
    assert api.sim('GET', 'faults')['set_password']['fail_sources'] == ['Oracle-DB']  # back to the startup config
    with pytest.raises(ValueError):
        validate_faults({'set_password': {'error_rate': 2}})


def test_reset_and_counters(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    wait_terminal(api, api.set_password('Changed123').json()['requestId'])
    assert api.sim('GET', 'counters')['passwordChangesApplied'] == 1
    api.sim('POST', 'reset')
    counters = api.sim('GET', 'counters')
    assert counters == {'requests': {}, 'tokensIssued': 0, 'rateLimited': 0, 'passwordChangesApplied': 0}
    assert api.accounts(userName='Abby.Smith')[0]['changeCount'] == 1
    api.sim('POST', 'reset', {'state': True})
    account = api.accounts(userName='Abby.Smith')[0]
    assert account['changeCount'] == 0 and account['lastChanged'] is None
    assert api.sim('GET', 'requests')['requests'] == []
    assert api.sim('PUT', 'config', {'completion_delay': 0.05})['completion_delay'] == 0.05
    assert requests.put(sim.base_url + '/__sim/config', json={'completion_delay': -1}, timeout=5).status_code == 400


def _non_loopback_ipv4():
    """This host's IPv4 addresses that are not loopback, most likely first, and how each was found.

    A UDP socket "connected" to an address outside this host makes the kernel pick the source
    address of its primary route without sending anything; the host name's addresses and
    ``hostname -I`` cover a machine without a default route.
    """
    found = []
    for probe_target in ('10.255.255.255', '192.0.2.255', '198.51.100.1'):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((probe_target, 9))
                found.append((probe.getsockname()[0], 'route to %s' % probe_target))
        except OSError:
            continue
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append((info[4][0], 'host name %s' % socket.gethostname()))
    except OSError:
        pass
    try:
        out = subprocess.run(['hostname', '-I'], capture_output=True, text=True, timeout=10, check=False).stdout
        found.extend((word, 'hostname -I') for word in out.split() if '.' in word)
    except (OSError, subprocess.SubprocessError):
        pass
    addresses = []
    for address, how in found:
        if address not in (a for a, _how in addresses) and address != '0.0.0.0' and not is_loopback(address):
            addresses.append((address, how))
    return addresses


def test_loopback_guard(make_sim, skip_or_fail):
    assert is_loopback('127.0.0.1') and is_loopback('::1') and is_loopback('::ffff:127.0.0.1')
    assert not is_loopback('10.1.2.3') and not is_loopback('not-an-ip')
    addresses = _non_loopback_ipv4()
    if not addresses:
        skip_or_fail('no non-loopback IPv4 address on this machine (tried a UDP route probe, the host name and '
                     '`hostname -I`): the /__sim/ guard cannot be tested over the network')
    sim = make_sim(host='0.0.0.0')
    address, how = addresses[0]
    resp = requests.get('http://%s:%d/__sim/health' % (address, sim.port), timeout=5)
    assert resp.status_code == 403, (address, how, resp.status_code, resp.text)
    # the API itself answers on that address: the 403 is the guard, not a network problem
    assert requests.post('http://%s:%d/oauth/token' % (address, sim.port), timeout=5,
                         data={'grant_type': 'client_credentials', 'client_id': 'demo-client-id',
                               'client_secret': 'demo-client-secret'}).status_code == 200
    assert requests.get('http://127.0.0.1:%d/__sim/health' % sim.port, timeout=5).status_code == 200


def test_tls(make_sim, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(__import__('ipaddress').ip_address('127.0.0.1'))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    sim = make_sim(tls_cert=str(cert_path), tls_key=str(key_path))
    assert sim.base_url.startswith('https://')
    api = Api(sim.base_url, verify=str(cert_path))
    assert api.query().status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.base_url + '/__sim/health', timeout=5)


def test_context_manager():
    with Simulator(completion_delay=0.1) as sim:
        assert Api(sim.base_url).query().status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.base_url + '/__sim/health', timeout=2)


def _start_cli(tmp_path, *args):
    port_file = tmp_path / 'port'
    proc = subprocess.Popen([sys.executable, '-m', 'tools.isc_simulator', '--port', '0', '--port-file', str(port_file)]
                            + list(args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert port_file.exists(), proc.stderr.read()
    port = int(port_file.read_text())
    assert line.strip() == 'ISC simulator listening on http://127.0.0.1:%d' % port
    return proc, port


def test_cli_shutdown(tmp_path):
    proc, port = _start_cli(tmp_path, '--completion-delay', '0.1', '--fleet-size', '10')
    try:
        base = 'http://127.0.0.1:%d' % port
        assert requests.get(base + '/__sim/health', timeout=5).json()['accounts'] == 87
        assert requests.post(base + '/__sim/shutdown', timeout=5).status_code == 200
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_idle_exit(tmp_path):
    proc, _port = _start_cli(tmp_path, '--idle-exit', '0.5')
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_arguments(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'tools.isc_simulator', '--port', '0', '--seed', str(tmp_path / 'none.yaml')],
                            cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and 'none.yaml' in result.stderr


@pytest.mark.parametrize('password,policy,broken', [
    ('abc12345', {'passwordMinLength': 8, 'passwordMinAlpha': 1, 'passwordMinNumeric': 1}, []),
    ('abc1234', {'passwordMinLength': 8}, ['passwordMinLength']),
    ('a' * 31, {'passwordMaxLength': 30}, ['passwordMaxLength']),
    ('aaab', {'passwordRepeatedChar': 3}, []),
    ('aaaab', {'passwordRepeatedChar': 3}, ['passwordRepeatedChar']),
    ('abcDEF12', {'passwordMinCharType': 3}, []),
    ('abcdef12', {'passwordMinCharType': 3}, ['passwordMinCharType']),
    ('abc def!', {'passwordMinSpecial': 2}, []),
    ('Ab1!', {'passwordMinUpper': 2, 'passwordMinLower': 2, 'passwordMinSpecial': 2, 'passwordMinNumeric': 2},
     ['passwordMinNumeric', 'passwordMinUpper', 'passwordMinLower', 'passwordMinSpecial']),
])
def test_policy_rules(password, policy, broken):
    errors = check_password(password, policy)
    assert len(errors) == len(broken)
    for key, error in zip(broken, errors):
        assert key in error and password not in error


def test_api_paths_cover_versions():
    assert api_path('v1', 'password_change_status', 'abc') == '/password-change-status/v1/abc'
    assert api_path('beta', 'digit_token') == '/beta/generate-password-reset-token/digit'
    assert os.path.isfile(os.path.join(REPO, 'tools', 'isc_simulator', 'seed.yaml'))
