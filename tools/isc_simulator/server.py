"""HTTP layer of the ISC simulator and the in-process :class:`Simulator` entry point."""

import base64
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote

from . import authz
from .config_api import OPERATIONS as CONFIG_OPERATIONS, experimental_missing, handle as config_request
from .faults import Faults, load_faults_file, validate_faults
from .triggers import Triggers
from .world import world_move
from .search_api import OPERATIONS as DISCOVERY_OPERATIONS, SIM_PATHS as DISCOVERY_SIM_PATHS, handle as discovery_request, sim_request as discovery_sim
from .seed import load_seed
from .sources_api import OPERATIONS as SOURCE_OPERATIONS, SourceConnectors, handle as source_request, sim_view as source_connectors
from .state import Reply, Settings, SimState, bad_request, error_dto, not_found

MAX_BODY = 1024 * 1024
EXPOSE = 'Retry-After,Connection,SLPT-Request-ID,Date,X-Zuul-ServiceId'
GATEWAY_TEXT = {502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out'}

# (method(s), pattern, operation). Group "v" is the API version (rate-limit budget), group "id" a path id.
Y = r'(?P<v>v2025|v2024|v3|beta)'
ROUTES = [
    ('POST', '/' + Y + r'/query-password-info', 'query_password_info'),
    ('POST', r'/query-password-info/(?P<v>v1)', 'query_password_info'),
    ('POST', '/' + Y + r'/set-password', 'set_password'),
    ('POST', r'/set-password/(?P<v>v1)', 'set_password'),
    ('GET', '/' + Y + r'/password-change-status/(?P<id>[^/]+)', 'password_change_status'),
    ('GET', r'/password-change-status/(?P<v>v1)/(?P<id>[^/]+)', 'password_change_status'),
    ('POST', r'/(?P<v>v2025|v2024|beta)/generate-password-reset-token/digit', 'digit_token'),
    ('POST', r'/generate-password-reset-token/(?P<v>v1)/digit', 'digit_token'),
    ('GET POST', '/' + Y + r'/password-sync-groups', 'sync_groups'),
    ('GET PUT DELETE', '/' + Y + r'/password-sync-groups/(?P<id>[^/]+)', 'sync_groups'),
    ('GET POST', r'/password-sync-groups/(?P<v>v1)', 'sync_groups'),
    ('GET PUT DELETE', r'/password-sync-groups/(?P<v>v1)/(?P<id>[^/]+)', 'sync_groups'),
    ('GET POST', '/' + Y + r'/password-policies', 'password_policies'),
    ('GET PUT DELETE', '/' + Y + r'/password-policies/(?P<id>[^/]+)', 'password_policies'),
    ('GET POST', r'/password-policies/(?P<v>v1)', 'password_policies'),
    ('GET PUT DELETE', r'/password-policies/(?P<v>v1)/(?P<id>[^/]+)', 'password_policies'),
    ('GET PUT', '/' + Y + r'/password-dictionary', 'password_dictionary'),
    ('GET PUT', r'/password-dictionary/(?P<v>v1)', 'password_dictionary'),
    ('GET POST PUT', '/' + Y + r'/password-org-config', 'password_org_config'),
    ('GET POST PUT', r'/password-org-config/(?P<v>v1)', 'password_org_config'),
    ('GET PATCH', r'/(?P<v>v2025)/sources/(?P<id>[^/]+)/password-policies', 'source_password_policies'),
    ('PATCH', r'/(?P<v>v2024)/sources/(?P<id>[^/]+)/password-policies', 'source_password_policies'),
    ('GET PATCH', r'/sources/(?P<v>v1)/(?P<id>[^/]+)/password-policies', 'source_password_policies'),
    ('GET', '/' + Y + r'/sources', 'sources'),
    ('GET', r'/sources/(?P<v>v1)', 'sources'),
    # a source's own connector configuration and checks (sources_api.py)
    ('GET', r'/sources/(?P<v>v1)/(?P<id>[^/]+)', 'source'),
    ('PATCH', r'/sources/(?P<v>v1)/(?P<id>[^/]+)', 'source_update'),
    ('POST', r'/sources/(?P<v>v1)/(?P<id>[^/]+)/connector/check-connection', 'check_connection'),
    ('POST', r'/sources/(?P<v>v1)/(?P<id>[^/]+)/connector/test-configuration', 'test_configuration'),
    ('POST', r'/oauth/token', 'token'),
    ('POST', r'/search/(?P<v>v1)', 'search'),  # discovery (search_api.py)
    ('GET', r'/accounts/(?P<v>v1)', 'accounts'),
    ('POST', r'/accounts/(?P<v>v1)/(?P<id>[^/]+)/reload', 'account_reload'),
    ('GET', r'/machine-accounts/(?P<v>v1)', 'machine_accounts'),
]
ROUTES = [(tuple(m.split()), re.compile('^' + p + '$'), op) for m, p, op in ROUTES]


class DropConnection(Exception):
    """Raised to close the connection without sending a response."""


def is_loopback(address):
    try:
        ip = ipaddress.ip_address(address.split('%')[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address, handler, sim, ssl_context=None):
        self.sim = sim
        self.ssl_context = ssl_context
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(30)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'nginx'
    sys_version = ''

    def version_string(self):
        return self.server_version

    # -- plumbing --------------------------------------------------------------------------
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.sim.log_requests:
            sys.stderr.write('%s - [%s] %s\n' % (self.client_address[0], self.log_date_time_string(), format % args))

    def do_GET(self):  # pylint: disable=invalid-name
        self._dispatch()

    def do_POST(self):  # pylint: disable=invalid-name
        self._dispatch()

    def do_PUT(self):  # pylint: disable=invalid-name
        self._dispatch()

    def do_DELETE(self):  # pylint: disable=invalid-name
        self._dispatch()

    def do_PATCH(self):  # pylint: disable=invalid-name
        self._dispatch()

    def _read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b''

    def _send(self, reply, operation=None):
        sim = self.server.sim
        due, self.sim_after = getattr(self, 'sim_after', None), None
        if due:
            sim.triggers.fire(due, 'after', sim.state)  # the operation ran; its answer is not sent yet
        if operation:
            sim.state.count(operation, reply.status, getattr(self, 'sim_client_id', None))
        headers = {'SLPT-Request-ID': uuid.uuid4().hex,
                   'Cache-Control': 'no-cache, no-store, must-revalidate',
                   'Access-Control-Expose-Headers': EXPOSE}
        if isinstance(reply.body, (bytes, str)):
            payload = reply.body.encode('utf-8') if isinstance(reply.body, str) else reply.body
            headers['Content-Type'] = 'text/html'
        elif reply.body is None:
            payload = b''
        else:
            payload = json.dumps(reply.body).encode('utf-8')
            headers['Content-Type'] = 'application/json;charset=utf-8'
        headers.update(reply.headers)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(payload)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(payload)
        self.wfile.flush()

    def _drop(self, operation, label='dropped'):
        self.server.sim.state.count(operation, label, getattr(self, 'sim_client_id', None))
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- dispatch ----------------------------------------------------------------------------
    def _dispatch(self):
        sim = self.server.sim
        sim.activity(+1)
        try:
            split = urlsplit(self.path)
            path = split.path
            query = parse_qs(split.query, keep_blank_values=True)
            body = self._read_body()
            if path.startswith('/__sim/') or path == '/__sim':
                self._sim_api(path, query, body)
                return
            sim.api_activity(+1)
            try:
                self._api(path, query, body)
            finally:
                sim.api_activity(-1)
        except DropConnection:
            pass
        finally:
            sim.activity(-1)

    def _api(self, path, query, body):
        sim = self.server.sim
        method_mismatch = None
        for method, pattern, operation in ROUTES:
            match = pattern.match(path)
            if match:
                if self.command not in method:
                    method_mismatch = operation
                    continue
                self._operation(operation, match.groupdict(), query, body)
                return
        if method_mismatch:
            sim.state.count(method_mismatch, 405)
            self._send(Reply(405, error_dto('405 Method Not Allowed', 'The method %s is not allowed here.' % self.command)))
            return
        sim.state.count('unknown', 404)
        self._send(not_found())

    def _operation(self, operation, groups, query, body):
        sim = self.server.sim
        state = sim.state
        settings = state.settings
        faults = sim.faults.settings(operation)
        self.sim_client_id = None  # the API client a request is counted for (counters' "clients")
        self.sim_after = None  # triggers to fire once the operation has run
        delay = settings.latency + faults.get('latency', 0.0)
        if faults.get('latency_jitter'):
            delay += sim.faults.uniform(faults['latency_jitter'])
        if delay > 0:
            time.sleep(delay)
        if sim.faults.roll(faults.get('drop_rate')):
            self._drop(operation)
            return
        if body is None:
            self._send(bad_request('The request body is too large.'), operation)
            return
        client = None
        if operation != 'token':
            client, problem = state.authenticate(self.headers.get('Authorization'))
            if problem:
                self._send(problem, operation)
                return
            self.sim_client_id = client.client_id
            problem = authz.check(state.world, client, self.command, urlsplit(self.path).path)  # scopes, levels
            if problem:
                self._send(problem, operation)
                return
            wait = state.limiter.check((client.client_id, groups['v']), settings.rate_limit, settings.rate_window, time.time())
            if wait:
                with state.lock:
                    state.counters['rateLimited'] += 1
                self._send(Reply(429, {'message': ' Rate Limit Exceeded '}, {'Retry-After': str(wait)}), operation)
                return
        if sim.faults.roll(faults.get('throttle_rate')):
            self._send(Reply(429, {'message': ' Rate Limit Exceeded '}, {'Retry-After': '1'}), operation)
            return
        if sim.faults.roll(faults.get('error_rate')):
            self._send(self._server_error(faults), operation)
            return
        due = sim.triggers.hit(operation)  # moments a test chose (triggers.py): a sync group changes now
        sim.triggers.fire(due, 'before', state)
        self.sim_after = due
        if operation == 'token':
            self._send(self._token(query, body), operation)
            return
        state.settle()
        if operation in CONFIG_OPERATIONS:
            ident = unquote(groups['id']) if groups.get('id') else None
            self._send(config_request(state, client, operation, self.command, groups['v'], ident, query, body,
                                      self.headers, _parse_multipart), operation)
        elif operation == 'password_change_status':
            self._send(state.password_change_status(unquote(groups['id'])), operation)
        elif operation == 'sources':
            self._send(state.sources(query), operation)
        elif operation in SOURCE_OPERATIONS:
            self._send(source_request(state, operation, unquote(groups['id']), body, self.headers, faults,
                                      sim.faults.roll), operation)
        elif operation in DISCOVERY_OPERATIONS:
            data, problem = _parse_json(body, allow_empty=operation != 'search')
            if operation == 'machine_accounts':  # experimental in v1
                problem = problem or experimental_missing(groups['v'], self.headers)
            ident = unquote(groups['id']) if groups.get('id') else None
            self._send(problem or discovery_request(state, operation, self.command, ident, query, data), operation)
        else:
            data, problem = _parse_json(body)
            if problem:
                self._send(problem, operation)
            elif operation == 'query_password_info':
                self._send(state.query_password_info(client, data), operation)
            elif operation == 'digit_token':
                self._send(self._digit_token(groups['v'], data), operation)
            else:
                self._set_password(client, data, faults, operation)

    def _set_password(self, client, data, faults, operation):
        sim = self.server.sim
        stuck = sim.faults.roll(faults.get('stuck_rate'))
        fail = sim.faults.roll(faults.get('fail_rate'))
        reply, req = sim.state.set_password(client, data, stuck=stuck, fail=fail, fail_sources=faults.get('fail_sources', ()))
        if req is not None and sim.faults.roll(faults.get('not_applied_rate')):
            with sim.state.lock:  # FINISHED, but no account gets the password (what a verify from ISC's side catches)
                req.apply, req.origin = [], None
        if reply.status == 202 and sim.faults.roll(faults.get('drop_after_accept_rate')):
            self._drop(operation, 'accepted_then_dropped')
            return
        self._send(reply, operation)

    def _digit_token(self, version, data):
        missing = experimental_missing(version, self.headers)
        if missing:
            return missing
        return self.server.sim.state.digit_token(data)

    def _server_error(self, faults):
        status = self.server.sim.faults.choice(faults.get('error_statuses') or (500, 502, 503))
        if status == 500:
            return Reply(500, error_dto('500.0 Internal Fault', 'An internal fault occurred.'))
        text = '%d %s' % (status, GATEWAY_TEXT.get(status, 'Server Error'))
        return Reply(status, '<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n'
                             '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n' % (text, text))

    def _token(self, query, body):
        params = {k: v[0] for k, v in query.items() if v}
        ctype = self.headers.get('Content-Type', '')
        try:
            if body and ctype.lower().startswith('multipart/form-data'):
                params.update(_parse_multipart(ctype, body))
            elif body and ctype.lower().startswith('application/json'):
                data = json.loads(body)
                params.update({k: str(v) for k, v in data.items()} if isinstance(data, dict) else {})
            elif body:
                params.update({k: v[0] for k, v in parse_qs(body.decode('utf-8'), keep_blank_values=True).items() if v})
        except (ValueError, UnicodeDecodeError):
            return Reply(400, {'error': 'invalid_request', 'error_description': 'The request body could not be parsed.'})
        grant = params.get('grant_type')
        if not grant:
            return Reply(400, {'error': 'invalid_request', 'error_description': 'Missing grant type'})
        if grant.lower() != 'client_credentials':
            return Reply(400, {'error': 'unsupported_grant_type', 'error_description': 'Unsupported grant type: %s' % grant})
        client_id = params.get('client_id')
        client_secret = params.get('client_secret')
        auth = self.headers.get('Authorization', '')
        if not client_id and auth.lower().startswith('basic '):
            try:
                client_id, _sep, client_secret = base64.b64decode(auth[6:].strip()).decode('utf-8').partition(':')
            except ValueError:
                client_id = None
        self.sim_client_id = client_id or None  # a token request counts for the client it names, known or not
        return self.server.sim.state.issue_token(client_id or '', client_secret or '')

    # -- introspection API -------------------------------------------------------------------
    def _sim_api(self, path, query, body):
        sim = self.server.sim
        state = sim.state
        if not is_loopback(self.client_address[0]):
            self._send(Reply(403, {'error': 'The /__sim/ API answers only loopback clients.'}))
            return
        data, problem = _parse_json(body, allow_empty=True)
        if problem:
            self._send(problem)
            return
        key = (self.command, path.rstrip('/'))
        try:
            if key == ('GET', '/__sim/health'):
                reply = Reply(200, sim.health())
            elif key == ('GET', '/__sim/accounts'):
                user_name = (query.get('userName') or [None])[0]
                source_name = (query.get('sourceName') or [None])[0]
                reply = Reply(200, {'accounts': state.accounts(user_name, source_name)})
            elif key == ('GET', '/__sim/connectors'):
                reply = Reply(200, source_connectors(state))
            elif key == ('GET', '/__sim/counters'):
                reply = Reply(200, state.counters_snapshot())
            elif key == ('GET', '/__sim/requests'):
                reply = Reply(200, {'requests': state.request_list()})
            elif key == ('GET', '/__sim/in-flight'):
                reply = Reply(200, sim.in_flight())
            elif key == ('GET', '/__sim/digit-tokens'):
                with state.lock:
                    reply = Reply(200, {'digitTokens': list(state.digit_tokens)})
            elif key == ('GET', '/__sim/password-config'):
                with state.lock:
                    reply = Reply(200, state.config.snapshot())
            elif key == ('GET', '/__sim/faults'):
                reply = Reply(200, sim.faults.snapshot())
            elif key == ('PUT', '/__sim/faults'):
                sim.faults.replace(data or {})
                reply = Reply(200, sim.faults.snapshot())
            elif key == ('GET', '/__sim/triggers'):
                reply = Reply(200, sim.triggers.snapshot())
            elif key == ('PUT', '/__sim/triggers'):
                sim.triggers.replace(data)
                reply = Reply(200, sim.triggers.snapshot())
            elif key == ('GET', '/__sim/config'):
                reply = Reply(200, state.settings.as_dict())
            elif key in (('PUT', '/__sim/config'), ('PATCH', '/__sim/config')):
                if not isinstance(data, dict):
                    raise ValueError('the body must be a JSON object of settings')
                state.settings.update(data)
                reply = Reply(200, state.settings.as_dict())
            elif key == ('POST', '/__sim/reset'):
                sim.reset(state=bool(isinstance(data, dict) and data.get('state')))
                reply = Reply(200, {'reset': True, 'state': bool(isinstance(data, dict) and data.get('state'))})
            elif key == ('POST', '/__sim/delete-account'):
                if not isinstance(data, dict) or not isinstance(data.get('userName'), str):
                    raise ValueError('the body must be {"userName", optional "sourceName" and "accountId"}')
                reply = Reply(200, {'deleted': state.delete_account(data['userName'], data.get('sourceName'),
                                                                    data.get('accountId'))})
            elif key == ('POST', '/__sim/world'):
                reply = world_move(state, data)  # the world moves (world.py)
            elif key == ('POST', '/__sim/forget-requests'):
                ids = (data or {}).get('requestIds') if isinstance(data, dict) else None
                if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
                    raise ValueError('requestIds must be a list of request ids (or left out for all of them)')
                reply = Reply(200, {'forgotten': state.forget_requests(ids)})
            elif key[1] in DISCOVERY_SIM_PATHS:
                reply = discovery_sim(state, key, data, query)
            elif key == ('POST', '/__sim/rotate-key'):
                reply = Reply(200, state.rotate_key())
            elif key == ('POST', '/__sim/shutdown'):
                self.close_connection = True
                self._send(Reply(200, {'shutdown': True}))
                threading.Thread(target=sim.stop, daemon=True).start()
                return
            else:
                reply = Reply(404, {'error': 'Unknown simulator endpoint %s %s' % key})
        except ValueError as exc:
            reply = Reply(400, {'error': str(exc)})
        self._send(reply)


def _parse_json(body, allow_empty=False):
    if not body or not body.strip():
        if allow_empty:
            return None, None
        return None, bad_request('A JSON request body is required.')
    try:
        return json.loads(body.decode('utf-8')), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, bad_request('The request body is not valid JSON: %s' % exc)


def _parse_multipart(content_type, body):
    message = BytesParser(policy=HTTP_POLICY).parsebytes(b'Content-Type: ' + content_type.encode('latin-1') + b'\r\n\r\n' + body)
    fields = {}
    if not message.is_multipart():
        raise ValueError('not a multipart body')
    for part in message.iter_parts():
        name = part.get_param('name', header='content-disposition')
        if name:
            fields[name] = part.get_payload(decode=True).decode('utf-8')
    return fields


class Simulator:
    """The local ISC. ``base_url = sim.start()`` serves in a background thread; ``sim.stop()`` ends it."""

    def __init__(self, seed_path=None, token_ttl=749, rate_limit=100, rate_window=10, completion_delay=1.0,
                 latency=0.0, faults=None, time_scale=1.0, tls_cert=None, tls_key=None, port=0, host='127.0.0.1',
                 fleet_size=0, idle_exit=None, key_grace=600, policy_rejection='async', unknown_object_status=400,
                 pat_query_info='forbid', sync_failure='partial', seed_data=None, log_requests=False,
                 unknown_request_status=404, sync_fanout='submit'):
        self.host = host
        self.port = port
        self.tls = bool(tls_cert)
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.idle_exit = idle_exit
        self.log_requests = log_requests
        settings = Settings(token_ttl=token_ttl, rate_limit=rate_limit, rate_window=rate_window,
                            completion_delay=completion_delay, latency=latency, time_scale=time_scale, key_grace=key_grace,
                            policy_rejection=policy_rejection, unknown_object_status=unknown_object_status,
                            pat_query_info=pat_query_info, sync_failure=sync_failure,
                            unknown_request_status=unknown_request_status, sync_fanout=sync_fanout)
        self._initial_settings = settings.as_dict()
        if isinstance(faults, (str, os.PathLike)):
            faults = load_faults_file(faults)
        self._initial_faults = validate_faults(faults)
        self.faults = Faults(self._initial_faults)
        self.triggers = Triggers()
        self.state = SimState(seed_data if seed_data is not None else load_seed(seed_path), settings, fleet_size)
        self.state.connectors = SourceConnectors(self.state.world, self.state.seed_data)
        self.started = time.time()
        self._server = None
        self._thread = None
        self._stopped = threading.Event()
        self._activity_lock = threading.Lock()
        self._active = 0
        self._api_active = 0  # API requests (not /__sim/) being answered
        self._last_activity = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        context = None
        if self.tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_cert, self.tls_key)
        self._server = _Server((self.host, self.port), Handler, self, context)
        self.port = self._server.server_address[1]
        self._stopped.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.2},
                                        name='isc-simulator', daemon=True)
        self._thread.start()
        if self.idle_exit:
            threading.Thread(target=self._idle_watch, name='isc-simulator-idle', daemon=True).start()
        return self.base_url

    @property
    def base_url(self):
        host = self.host
        if host in ('0.0.0.0', ''):
            host = '127.0.0.1'
        elif ':' in host:
            host = '[%s]' % host
        return '%s://%s:%d' % ('https' if self.tls else 'http', host, self.port)

    def stop(self):
        server = self._server
        if server is not None and not self._stopped.is_set():
            self._stopped.set()
            server.shutdown()
            server.server_close()
            if self._thread and self._thread is not threading.current_thread():
                self._thread.join(timeout=5)
        self._stopped.set()

    def wait(self, timeout=None):
        """Block until the simulator stops (shutdown request, idle exit or stop())."""
        return self._stopped.wait(timeout)

    def __enter__(self):
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def activity(self, delta):
        with self._activity_lock:
            self._active += delta
            self._last_activity = time.monotonic()

    def api_activity(self, delta):
        with self._activity_lock:
            self._api_active += delta

    def in_flight(self):
        """What may still change an account: API requests being answered, change requests not yet terminal."""
        with self._activity_lock:
            answering = self._api_active
        body = self.state.in_progress()
        body['apiRequests'] = answering
        return body

    def _idle_watch(self):
        while not self._stopped.wait(min(1.0, self.idle_exit)):
            with self._activity_lock:
                idle = self._active == 0 and time.monotonic() - self._last_activity >= self.idle_exit
            if idle:
                self.stop()
                return

    # -- helpers for in-process use -------------------------------------------------------------
    def health(self):
        state = self.state
        return {'status': 'ok', 'uptimeSeconds': round(time.time() - self.started, 3), 'baseUrl': self.base_url,
                'accounts': len(state.world.accounts), 'sources': len(state.world.sources),
                'publicKeyId': state.keys.key_id}

    def reset(self, state=False):
        """Reset counters, faults, settings and the rate limiter; with ``state`` also seed passwords and requests."""
        self.state.reset_counters()
        self.faults.replace(self._initial_faults)
        self.state.settings.update(self._initial_settings)
        self.state.limiter.reset()
        self.triggers.reset()
        if state:
            self.state.reset_state()
            with self.state.lock:
                self.state.connectors.reset()

    def accounts(self, user_name=None, source_name=None):
        return self.state.accounts(user_name, source_name)

    def counters(self):
        return self.state.counters_snapshot()

    def set_faults(self, config):
        self.faults.replace(config)
