# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IscClient over real sockets on 127.0.0.1: redirects are never followed, and a TLS error only
counts as "not sent" when the handshake failed (a broken record after the request is an unknown outcome)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown

SECRET = 'redirect-test-secret-9f3a'


def _no_sleep(seconds):
    pass


# ---- a tiny HTTP server that records what reaches it -------------------------------------------------

class Recorder(object):
    def __init__(self, answer):
        self.answer = answer  # (method, path) -> (status, headers, body bytes)
        self.requests = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                recorder.requests.append({'method': self.command, 'path': self.path, 'body': body,
                                          'authorization': self.headers.get('Authorization')})
                status, headers, payload = recorder.answer(self.command, self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _any

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    started = []

    def factory(answer):
        rec = Recorder(answer)
        started.append(rec)
        return rec

    yield factory
    for rec in started:
        rec.close()


TOKEN = (200, {'Content-Type': 'application/json'}, b'{"access_token": "tok-redirect-1", "expires_in": 750}')


def test_token_request_is_not_redirected_to_another_host(servers):
    other = servers(lambda method, path: TOKEN)
    first = servers(lambda method, path: (307, {'Location': other.url + '/oauth/token'}, b''))
    client = IscClient(first.url, client_id='cid', client_secret=SECRET, sleep=_no_sleep)
    with pytest.raises(IscError) as e:
        client.query_password_info('u', 's')
    assert other.requests == []
    assert [r['path'] for r in first.requests] == ['/oauth/token']
    msg = str(e.value)
    assert 'oauth-token failed: HTTP 307' in msg and other.url + '/oauth/token' in msg and 'does not redirect' in msg
    assert SECRET not in msg


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_api_request_is_not_redirected_with_the_bearer_token(servers, status):
    other = servers(lambda method, path: (200, {'Content-Type': 'application/json'}, b'{}'))

    def answer(method, path):
        if path == '/oauth/token':
            return TOKEN
        return status, {'Location': other.url + path}, b''

    first = servers(answer)
    client = IscClient(first.url, client_id='cid', client_secret=SECRET, sleep=_no_sleep)
    with pytest.raises(IscError) as e:
        client.query_password_info('u', 's')
    assert other.requests == []
    assert first.requests[-1]['authorization'] == 'Bearer tok-redirect-1'
    assert 'HTTP %d' % status in str(e.value) and 'does not redirect' in str(e.value)


def test_set_password_redirect_is_an_answer_not_an_unknown_outcome(servers):
    other = servers(lambda method, path: (202, {'Content-Type': 'application/json'}, b'{"requestId": "r"}'))
    first = servers(lambda method, path: (308, {'Location': other.url + path}, b''))
    client = IscClient(first.url, access_token='given-token-xyz', sleep=_no_sleep)
    with pytest.raises(IscError) as e:
        client.set_password('i', 's', 'a', 'k', 'ENC')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert other.requests == [] and len(first.requests) == 1


# ---- TLS servers -----------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def cert_files(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp('tls')
    cert_path, key_path = str(folder / 'cert.pem'), str(folder / 'key.pem')
    with open(cert_path, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


class RawServer(object):
    """Accepts connections on 127.0.0.1 and runs ``serve(conn)`` for each in a thread."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.received = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        conn.settimeout(10)
        try:
            self.serve(self, conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def raw_servers():
    started = []

    def factory(serve):
        server = RawServer(serve)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.close()


def _read_request(tls):
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, dummy, body = data.partition(b'\r\n\r\n')
    match = re.search(br'content-length:\s*(\d+)', head, re.IGNORECASE)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.split(b'\r\n', 1)[0]


def test_broken_tls_record_after_set_password_was_sent_is_outcome_unknown(raw_servers, cert_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_files)

    def serve(server, conn):
        tls = context.wrap_socket(conn, server_side=True)
        line = _read_request(tls)
        server.received.append(line)
        # the request arrived (ISC may act on it); now the answer's record fails its integrity check
        os.write(tls.fileno(), b'\x17\x03\x03\x00\x40' + b'\x5a' * 64)
        try:
            tls.recv(1)  # hold the connection until the client gives up on it
        except (OSError, ssl.SSLError):
            pass

    server = raw_servers(serve)
    client = IscClient('https://127.0.0.1:%d' % server.port, access_token='given-token-xyz', ca_path=cert_files[0],
                       sleep=_no_sleep, timeout=10)
    with pytest.raises(IscOutcomeUnknown) as e:
        client.set_password('ident1', 'src1', 'acct1', 'key1', 'ENCRYPTED')
    assert server.received == [b'POST /v2024/set-password HTTP/1.1']
    msg = str(e.value)
    assert 'outcome unknown' in msg and 'SSLError' in msg and 'ca_path' not in msg


def test_failed_tls_handshake_is_not_sent_and_set_password_may_be_retried(raw_servers):
    def serve(server, conn):
        first = conn.recv(65536)
        server.received.append(first[:1])
        conn.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')

    server = raw_servers(serve)
    client = IscClient('https://127.0.0.1:%d' % server.port, access_token='given-token-xyz', sleep=_no_sleep,
                       max_retries=1, timeout=10)
    with pytest.raises(IscError) as e:
        client.set_password('i', 's', 'a', 'k', 'ENC')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert server.received == [b'\x16', b'\x16']  # two TLS ClientHellos, no HTTP request
    msg = str(e.value)
    assert 'TLS handshake' in msg and 'ca_path' not in msg and 'outcome unknown' not in msg


def test_untrusted_certificate_is_not_sent_and_not_retried(raw_servers, cert_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_files)

    def serve(server, conn):
        server.received.append('connect')
        tls = context.wrap_socket(conn, server_side=True)
        server.received.append(_read_request(tls))

    server = raw_servers(serve)
    client = IscClient('https://127.0.0.1:%d' % server.port, access_token='given-token-xyz', sleep=_no_sleep, timeout=10)
    with pytest.raises(IscError) as e:
        client.set_password('i', 's', 'a', 'k', 'ENC')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert server.received == ['connect']
    assert 'certificate verify failed' in str(e.value) and 'ca_path' in str(e.value)


# ---- against the simulator: v1 sync groups and source names ---------------------------------------------

def test_sync_groups_and_source_names_from_the_simulator():
    sim_mod = pytest.importorskip('tools.isc_simulator')
    sim = sim_mod.Simulator(completion_delay=0.2)
    base_url = sim.start()
    try:
        names = {}
        for version in ('v2024', 'v3', 'beta', 'v1'):
            client = IscClient(base_url, client_id='demo-client-id', client_secret='demo-client-secret', api_version=version)
            groups = client.list_password_sync_groups()
            assert groups and all(g['sourceIds'] for g in groups)
            ids = [i for g in groups for i in g['sourceIds']]
            names[version] = client.list_sources(ids + ['f' * 32])
            assert client.stats['requests']['list-sources'] == 1
        assert names['v2024'] == names['v3'] == names['beta'] == names['v1']
        assert sorted(names['v1'].values()) == ['Unix-Kerberos', 'Unix-LDAP']
    finally:
        sim.stop()
