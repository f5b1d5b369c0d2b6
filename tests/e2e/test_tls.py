"""TLS: the simulator serves HTTPS with a certificate from a throw-away CA made here.

The modules refuse it by default (naming the certificate problem and ca_path), accept it with
ca_path pointing at the CA, and with validate_certs false work but warn.
"""

import datetime
import hashlib
import ipaddress
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import PlaybookRunner, SimulatorProcess, write_playbook

PASSWORD = 'Tls-Canary-Pw-5c2e9'


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'isc-e2e throw-away'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name('127.0.0.1')).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def write_pem(path, cert=None, key=None):
    with open(path, 'wb') as handle:
        if cert is not None:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


class TlsSimulator(SimulatorProcess):
    """The simulator process over HTTPS; /__sim/ calls trust the test CA."""

    def __init__(self, workdir, ca_file, *args):
        super().__init__(workdir, *args)
        self.base_url = self.base_url.replace('http://', 'https://')
        self._context = ssl.create_default_context(cafile=ca_file)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30, context=self._context) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None


@pytest.fixture
def tls(workdir):
    pki = os.path.join(workdir, 'pki')
    os.makedirs(pki)
    ca_key, ca_cert = make_ca('isc-e2e test CA')
    leaf_key, leaf_cert = make_leaf(ca_key, ca_cert)
    other_key, other_cert = make_ca('some other CA')
    del other_key
    files = {'ca': write_pem(os.path.join(pki, 'ca.pem'), cert=ca_cert),
             'other_ca': write_pem(os.path.join(pki, 'other-ca.pem'), cert=other_cert),
             'cert': write_pem(os.path.join(pki, 'server.pem'), cert=leaf_cert),
             'key': write_pem(os.path.join(pki, 'server.key'), key=leaf_key)}
    sim = TlsSimulator(workdir, files['ca'], '--completion-delay', '0.2', '--tls-cert', files['cert'], '--tls-key', files['key'])
    yield sim, PlaybookRunner(workdir, sim), files
    sim.stop()


PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc: {{ connection }}
  tasks:
    - name: info over TLS
      sailpoint_isc.passwords.isc_password_info:
        user_name: Abby.Smith
        source_name: My-AD
    - name: set over TLS
      sailpoint_isc.passwords.isc_set_password:
        user_name: Abby.Smith
        source_name: My-AD
        password: "{{ new_password }}"
        wait: true
        wait_timeout: 30
        poll_interval: 1
      register: change
      no_log: true
    - name: status over TLS
      sailpoint_isc.passwords.isc_password_status:
        request_id: "{{ change.request_id }}"
      register: status
    - name: the change finished
      ansible.builtin.assert:
        that: status.state == 'FINISHED'
"""


def run_play(workdir, ansible, sim, **connection):
    values = {'base_url': sim.base_url, 'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret',
              'token_cache': False}
    values.update(connection)
    path = write_playbook(workdir, 'tls.yml', PLAY.replace('{{ connection }}', json.dumps(values)))
    result = ansible.run(path, {'new_password': PASSWORD}, vault=False, timeout=120)
    assert 'Traceback' not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    return result


def abby_hash(sim):
    return sim.accounts(userName='Abby.Smith', sourceName='My-AD')[0]['passwordSha256']


def test_simulator_really_serves_https_with_the_test_ca(tls):
    sim, dummy, files = tls
    assert sim.base_url.startswith('https://127.0.0.1:')
    assert sim.call('GET', '/__sim/health')['status'] == 'ok'
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(sim.base_url + '/__sim/health', timeout=10)  # the system store does not know the CA
    # the certificate the simulator presents is the leaf made for it here, issued by the test CA
    host, port = urllib.parse.urlsplit(sim.base_url).netloc.rsplit(':', 1)
    served = x509.load_pem_x509_certificate(ssl.get_server_certificate((host, int(port))).encode('ascii'))
    with open(files['cert'], 'rb') as handle:
        assert served == x509.load_pem_x509_certificate(handle.read())
    with open(files['ca'], 'rb') as handle:
        served.verify_directly_issued_by(x509.load_pem_x509_certificate(handle.read()))


@pytest.mark.parametrize('connection', [{}, {'ca_path': 'other_ca'}], ids=['default-trust', 'wrong-ca'])
def test_untrusted_certificate_is_refused_with_a_clear_error(tls, workdir, connection):
    sim, ansible, files = tls
    before = abby_hash(sim)
    result = run_play(workdir, ansible, sim, **{k: files[v] for k, v in connection.items()})
    assert result.returncode != 0
    fatal = [line for line in result.stdout.splitlines() if line.startswith('fatal:')]
    assert len(fatal) == 1 and 'info over TLS' in result.stdout.split('fatal:')[0].rsplit('TASK [', 1)[1]
    message = json.loads(fatal[0].split('=> ', 1)[1])['msg']
    assert 'TLS certificate' in message and 'certificate verify failed' in message
    assert 'ca_path' in message and 'validate_certs' in message
    assert sim.counters()['tokensIssued'] == 0  # nothing got through, not even the token request
    assert abby_hash(sim) == before


def test_ca_path_makes_the_certificate_trusted(tls, workdir):
    sim, ansible, files = tls
    result = run_play(workdir, ansible, sim, ca_path=files['ca'])
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'validate_certs' not in result.stdout + result.stderr  # no warning
    assert abby_hash(sim) == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert sim.requests_of('set_password') == 1


def test_validate_certs_false_works_but_warns(tls, workdir):
    sim, ansible, dummy = tls
    result = run_play(workdir, ansible, sim, validate_certs=False)
    assert result.returncode == 0, result.stdout[-3000:]
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if '[WARNING]' in line]
    assert any('validate_certs is false' in w and 'not checked' in w for w in warnings), warnings
    assert abby_hash(sim) == hashlib.sha256(PASSWORD.encode()).hexdigest()


def test_missing_ca_path_file_is_named(tls, workdir):
    sim, ansible, dummy = tls
    result = run_play(workdir, ansible, sim, ca_path=os.path.join(workdir, 'no-such-ca.pem'))
    assert result.returncode != 0
    assert 'ca_path' in result.stdout and 'no-such-ca.pem does not exist' in result.stdout
    assert 'give a PEM file' in result.stdout
    assert sim.requests_of('set_password') == 0
