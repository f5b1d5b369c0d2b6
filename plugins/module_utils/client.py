# -*- coding: utf-8 -*-
# Copyright: sailpoint_isc.passwords contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""The one HTTP client for SailPoint Identity Security Cloud (ISC) password management.

Everything that talks to ISC goes through IscClient: URL layout per API version, OAuth
client-credentials tokens with an encrypted on-disk cache, a client-side rate limiter,
429/Retry-After handling, bounded retries for requests that are safe to repeat, and the
mapping of ISC error bodies to one readable line.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import email.utils
import hashlib
import hmac
import ipaddress
import json
import os
import random
import re
import ssl
import threading
import time
import traceback

try:
    import requests
    import requests.adapters
    import requests.exceptions
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

try:
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import FileLock, ensure_private_dir, write_atomic


COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'sailpoint_isc.passwords/%s (Ansible)' % COLLECTION_VERSION

API_VERSIONS = ('v2024', 'v3', 'beta', 'v1')
DEFAULT_TOKEN_CACHE = '~/.cache/sailpoint_isc/tokens'
TOKEN_REFRESH_MARGIN = 60  # seconds of life left below which a token is renewed
MAX_429_RETRIES = 50  # a 429 is always honoured, but not forever
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 300.0

TERMINAL_STATES = ('FINISHED', 'FAILED')

# Time sources used when none is injected (unit tests replace these).
DEFAULT_CLOCK = time.time
DEFAULT_SLEEP = time.sleep

_VERSION_SEGMENT = re.compile(r'^(v\d+|beta|cc)$', re.IGNORECASE)
_TENANT = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]*$')

# Operation names used in messages and in stats.
OP_TOKEN = 'oauth-token'
OP_QUERY = 'query-password-info'
OP_SET = 'set-password'
OP_STATUS = 'password-change-status'
OP_DIGIT = 'generate-digit-token'
OP_SYNC_GROUPS = 'list-password-sync-groups'
OP_SOURCES = 'list-sources'

SOURCE_FILTER_CHUNK = 50  # ids per `id in (...)` filter of one sources request
SOURCE_PAGE_LIMIT = 250  # the largest page ISC serves

HINT_URL = 'check base_url/tenant: the tenant API URL looks wrong'
HINT_CREDENTIALS = 'check client_id/client_secret'
HINT_PAT = 'personal access tokens are refused here; use an API client (client credentials)'
HINT_PASSWORD_FEATURE = 'enable the PASSWORD feature on the source (PATCH the source\'s features)'


class IscError(Exception):
    """An ISC call failed; ``str(exc)`` is one readable line without secrets."""

    def __init__(self, message, status=None, operation=None, tracking_id=None):
        super(IscError, self).__init__(message)
        self.message = message
        self.status = status
        self.operation = operation
        self.tracking_id = tracking_id

    def __str__(self):
        return self.message

    def to_dict(self):
        return {'msg': self.message, 'status': self.status, 'operation': self.operation,
                'tracking_id': self.tracking_id}


class IscOutcomeUnknown(IscError):
    """A non-repeatable request may or may not have been processed by ISC."""

    def __init__(self, message, status=None, operation=None, tracking_id=None,
                 identity_id=None, source_id=None, account_id=None, public_key_id=None):
        super(IscOutcomeUnknown, self).__init__(message, status=status, operation=operation,
                                                tracking_id=tracking_id)
        self.identity_id = identity_id
        self.source_id = source_id
        self.account_id = account_id
        self.public_key_id = public_key_id

    def to_dict(self):
        d = super(IscOutcomeUnknown, self).to_dict()
        d.update(outcome_unknown=True, identity_id=self.identity_id, source_id=self.source_id,
                 account_id=self.account_id, public_key_id=self.public_key_id)
        return d


# --------------------------------------------------------------------------------------------
# URL handling

def normalize_base_url(base_url=None, tenant=None):
    """Return the tenant API root (no trailing slash) or raise IscError with the fix."""
    if base_url and tenant:
        raise IscError('base_url and tenant are mutually exclusive: give one of them')
    if tenant:
        tenant = tenant.strip()
        if not _TENANT.match(tenant):
            raise IscError('tenant %r is not a tenant name (letters, digits and dashes, e.g. "acme"); '
                           'give the full URL in base_url instead' % tenant)
        return 'https://%s.api.identitynow.com' % tenant
    if not base_url:
        raise IscError('no ISC connection: set base_url (or the SAIL_BASE_URL environment variable) '
                       'or tenant')
    url = base_url.strip().rstrip('/')
    m = re.match(r'^(https?)://([^/\s?#]+)(/[^?#\s]*)?$', url, re.IGNORECASE)
    if not m:
        raise IscError('base_url %r is malformed: give the tenant API root, e.g. '
                       'https://acme.api.identitynow.com' % base_url)
    path = m.group(3) or ''
    last = path.rstrip('/').rsplit('/', 1)[-1] if path else ''
    if last and _VERSION_SEGMENT.match(last):
        raise IscError('base_url %r ends with the API version segment /%s: give the tenant root '
                       '(e.g. %s) and choose the version with api_version'
                       % (base_url, last, url[:-(len(last) + 1)]))
    return url


def operation_path(api_version, operation, request_id=None):
    """The path (below the tenant root) of one operation for one API layout."""
    if api_version not in API_VERSIONS:
        raise IscError('api_version %r is not supported; use one of %s'
                       % (api_version, ', '.join(API_VERSIONS)))
    if api_version == 'v1':
        paths = {
            OP_QUERY: '/query-password-info/v1',
            OP_SET: '/set-password/v1',
            OP_STATUS: '/password-change-status/v1/%s',
            OP_DIGIT: '/generate-password-reset-token/v1/digit',
            OP_SYNC_GROUPS: '/password-sync-groups/v1',
            OP_SOURCES: '/sources/v1',
        }
    else:
        if operation == OP_DIGIT and api_version == 'v3':
            raise IscError('%s: api_version v3 has no digit-token operation; use api_version '
                           'v2024, beta or v1' % OP_DIGIT, operation=OP_DIGIT)
        prefix = '/' + api_version
        paths = {
            OP_QUERY: prefix + '/query-password-info',
            OP_SET: prefix + '/set-password',
            OP_STATUS: prefix + '/password-change-status/%s',
            OP_DIGIT: prefix + '/generate-password-reset-token/digit',
            OP_SYNC_GROUPS: prefix + '/password-sync-groups',
            OP_SOURCES: prefix + '/sources',
        }
    path = paths[operation]
    if '%s' in path:
        from urllib.parse import quote
        path = path % quote(str(request_id), safe='')
    return path


# --------------------------------------------------------------------------------------------
# Error formatting

def _messages_text(body):
    """Readable text out of any of the ISC error body shapes."""
    if not isinstance(body, dict):
        return ''
    texts = []
    for key in ('messages', 'causes'):
        for item in body.get(key) or []:
            if isinstance(item, dict) and item.get('text'):
                texts.append(str(item['text']).strip())
            elif isinstance(item, str) and item.strip():
                texts.append(item.strip())
        if texts:
            break
    if not texts and body.get('detailCode'):
        texts.append(str(body['detailCode']).strip())
    if not texts:
        for key in ('error_description', 'error', 'message', 'formatted_msg'):
            val = body.get(key)
            if isinstance(val, str) and val.strip():
                texts.append(val.strip())
                break
    return '; '.join(t for t in texts if t)


def _hint(operation, status, text, connection_error=False):
    low = (text or '').lower()
    if connection_error:
        return HINT_URL
    if operation == OP_TOKEN and status in (400, 401, 403):
        return HINT_CREDENTIALS
    if status == 404 and operation != OP_STATUS and (
            not low or 'current representation' in low or low in ('not found', '404 not found')):
        return HINT_URL
    if status == 403 and operation == OP_QUERY:
        return HINT_PAT
    if status == 403 and operation == OP_SOURCES:
        return 'the API client needs the idn:sources:read scope to read source names'
    if operation == OP_SET and status in (400, 403) and 'password' in low and 'feature' in low:
        return HINT_PASSWORD_FEATURE
    if status == 401 and operation != OP_TOKEN:
        return 'the access token was refused; ' + HINT_CREDENTIALS + ' or give a fresh access_token'
    if status == 404 and operation == OP_STATUS:
        return 'no password change request with that id is known (wrong or expired request_id)'
    if operation == OP_DIGIT and status in (400, 404) and 'not found' in low:
        return "check user_id: the identity's user name as ISC spells it"
    if operation == OP_QUERY and status in (400, 404) and 'not found' in low:
        return 'check user_name and source_name: the user name and source display name as ISC spells them'
    return None


def format_error(operation, status, body, tracking_id=None, hint=None):
    text = _messages_text(body)
    if not tracking_id and isinstance(body, dict):
        tracking_id = body.get('trackingId')
    msg = '%s failed: HTTP %s' % (operation, status)
    detail = body.get('detailCode') if isinstance(body, dict) else None
    if isinstance(detail, str) and '.' in detail.split(' ', 1)[0] and detail not in (text or ''):
        # a sub-code such as 400.1.404 says more than the status and is what SailPoint's docs index
        msg += ' (%s)' % detail
    if text:
        msg += ': %s' % text
    if tracking_id:
        msg += ' (trackingId %s)' % tracking_id
    hint = hint if hint is not None else _hint(operation, status, text)
    if hint:
        msg += '; hint: %s' % hint
    return msg, tracking_id


# --------------------------------------------------------------------------------------------
# Rate limiter

class RateLimiter(object):
    """Thread-safe sliding-window limiter: at most ``limit`` starts per ``window`` seconds.

    ``clock`` and ``sleep`` are injectable so tests need no real waiting. ``pause(seconds)``
    holds every caller back (used when ISC answers 429 with Retry-After).
    """

    def __init__(self, limit=100, window=10.0, clock=None, sleep=None):
        if limit < 1 or window <= 0:
            raise ValueError('rate_limit must be >= 1 and rate_window > 0')
        self.limit = int(limit)
        self.window = float(window)
        # A start holds its slot a little (1%, at most 0.1 s) longer than the window: ISC counts a
        # request when it arrives, later than it left here and by a varying delay, so a start exactly
        # one window after an older one could still land inside ISC's window and draw a 429.
        self.span = self.window + min(0.1, self.window * 0.01)
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._starts = []
        self._paused_until = 0.0
        self.waited = 0.0

    def pause(self, seconds):
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def snapshot(self):
        """Recent request starts and any 429 pause, so the next process of a play can honour them."""
        with self._lock:
            cutoff = self._clock() - self.span
            return {'starts': [t for t in self._starts if t > cutoff], 'paused_until': self._paused_until}

    def restore(self, state):
        """Take over the budget an earlier process of the same play used (see snapshot)."""
        with self._lock:
            cutoff = self._clock() - self.span
            starts = [float(t) for t in (state or {}).get('starts', []) if float(t) > cutoff]
            self._starts = sorted(self._starts + starts)[-self.limit:]
            self._paused_until = max(self._paused_until, float((state or {}).get('paused_until', 0.0)))

    def acquire(self):
        """Block until a request may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    cutoff = now - self.span
                    starts = self._starts
                    drop = 0
                    while drop < len(starts) and starts[drop] <= cutoff:
                        drop += 1
                    if drop:
                        del starts[:drop]
                    if len(starts) < self.limit:
                        starts.append(now)
                        self.waited += waited
                        return waited
                    wait = starts[0] + self.span - now
            wait = max(wait, 0.001)
            self._sleep(wait)
            waited += wait


# --------------------------------------------------------------------------------------------
# Token cache

def _b64(data):
    return base64.urlsafe_b64encode(data).decode('ascii')


class TokenCache(object):
    """An encrypted token cache shared by the tasks (processes) of a play.

    One file per (base_url, client_id, secret) in ``directory``, named by a SHA-256 over the
    base URL, the client id and an HMAC of the secret. The file holds the expiry time and the
    token encrypted with Fernet under a key derived from the client secret (HKDF-SHA256), so
    no token is readable from the file without the secret. Directory 0700, file 0600, written
    through a temp file and an atomic rename.
    """

    def __init__(self, location, base_url, client_id, client_secret):
        location = os.path.expanduser(str(location))
        secret = client_secret.encode('utf-8')
        secret_mac = hmac.new(secret, b'sailpoint_isc.passwords token-cache id', hashlib.sha256).hexdigest()
        ident = '\0'.join((base_url, client_id, secret_mac)).encode('utf-8')
        self.key_id = hashlib.sha256(ident).hexdigest()
        if location.endswith('.json'):
            self.path = location
            self.directory = os.path.dirname(location) or '.'
        else:
            self.directory = location
            self.path = os.path.join(location, '%s.json' % self.key_id[:40])
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=hashlib.sha256(ident).digest(),
                    info=b'sailpoint_isc.passwords token-cache v1')
        self._fernet = Fernet(_b64(hkdf.derive(secret)))

    def _read_all(self):
        try:
            with open(self.path, 'r') as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self):
        """(token, expires_at) or (None, None)."""
        entry = self._read_all().get(self.key_id)
        if not isinstance(entry, dict):
            return None, None
        try:
            token = self._fernet.decrypt(entry['token'].encode('ascii')).decode('utf-8')
            return token, float(entry['expires_at'])
        except (KeyError, TypeError, ValueError, InvalidToken):
            return None, None

    def store(self, token, expires_at):
        ensure_private_dir(self.directory)
        data = self._read_all()
        now = time.time()
        # drop other entries that expired long ago (shared single-file form)
        data = dict((k, v) for k, v in data.items()
                    if isinstance(v, dict) and float(v.get('expires_at', 0) or 0) > now - 3600)
        data[self.key_id] = {
            'expires_at': expires_at,
            'token': self._fernet.encrypt(token.encode('utf-8')).decode('ascii'),
        }
        write_atomic(self.path, json.dumps(data))

    def clear(self):
        data = self._read_all()
        if self.key_id in data:
            self.store_raw(dict((k, v) for k, v in data.items() if k != self.key_id))

    def store_raw(self, data):
        write_atomic(self.path, json.dumps(data))

    def lock(self):
        return FileLock(self.path + '.lock')


# --------------------------------------------------------------------------------------------
# Transport helpers

if HAS_REQUESTS:
    class _NoRedirectSession(requests.Session):
        """A session that never follows a redirect.

        ISC does not redirect API calls; following one would hand the token form (with the client
        secret) or the bearer token to whatever host the Location names. A 3xx comes back as the
        response, and IscClient turns it into an error.
        """

        def send(self, request, **kwargs):
            kwargs['allow_redirects'] = False
            return super(_NoRedirectSession, self).send(request, **kwargs)

        def resolve_redirects(self, *args, **kwargs):
            return iter(())


def _new_session():
    """Create the HTTP session (tests replace this function with a fake transport)."""
    session = _NoRedirectSession()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount('https://', adapter)
    session.mount('http://', adapter)
    return session


def _exception_chain(exc):
    """The exception and everything it wraps (args, urllib3's reason, cause and context), each once."""
    seen = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue  # None, or a plain value such as ssl.SSLError's reason string
        seen.add(id(cur))
        yield cur
        stack.append(getattr(cur, 'reason', None))
        stack.extend(getattr(cur, 'args', ()))
        stack.append(cur.__cause__)
        stack.append(cur.__context__)


# Texts that only a failed certificate check can produce (it runs inside the handshake).
_TLS_CERTIFICATE_TEXTS = ('CERTIFICATE_VERIFY_FAILED', 'certificate verify failed', 'Hostname mismatch', "doesn't match")


def _tls_failure_kind(exc):
    """Where a TLS error happened: None (not a TLS error), 'certificate', 'handshake' or 'unknown'.

    'certificate' and 'handshake' failed while the connection was set up, before any byte of the
    request left. Everything else (a bad record MAC, an unexpected EOF, a decryption failure while
    the request is written or the answer read) may have come after ISC received the request.
    """
    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    chain = list(_exception_chain(exc))
    for cur in chain:
        if isinstance(cur, ssl.SSLCertVerificationError) or type(cur).__name__ == 'CertificateError':
            return 'certificate'
    text = ' '.join(str(cur) for cur in chain)
    if any(marker in text for marker in _TLS_CERTIFICATE_TEXTS):
        return 'certificate'
    for cur in chain:
        # the ssl module raises handshake failures from SSLSocket.do_handshake; urllib3's pyOpenSSL
        # variant says "bad handshake"
        if isinstance(cur, ssl.SSLError) and ('bad handshake' in str(cur) or _raised_in(cur, 'do_handshake')):
            return 'handshake'
    return 'unknown'


def _raised_in(exc, function_name):
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function_name:
            return True
        tb = tb.tb_next
    return False


def _failed_before_send(exc):
    """True only when a requests exception proves that no byte of the request left this machine."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return False
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_failure_kind(exc) in ('certificate', 'handshake')
    if isinstance(exc, requests.exceptions.ConnectionError):
        for cur in _exception_chain(exc):
            if type(cur).__name__ in ('NewConnectionError', 'NameResolutionError', 'ConnectTimeoutError',
                                      'ConnectionRefusedError', 'gaierror'):
                return True
        return False
    return False


def _is_loopback_host(host):
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1), where plain http stays on this machine."""
    host = (host or '').rstrip('.').lower()
    if host == 'localhost':
        return True
    try:
        address = ipaddress.ip_address(host.split('%', 1)[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _tls_reason(exc):
    """The short reason of a TLS failure (for example 'certificate verify failed: self-signed certificate')."""
    text = str(exc)
    for pattern in (r'certificate verify failed: [^()\'"]+', r"Hostname mismatch[^()'\"]*", r'\[SSL: [A-Z_]+\][^()\'"]*'):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip(' .,')
    return type(exc).__name__


def _parse_retry_after(value, now):
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - now)


def _filter_string(value):
    """A value as a string literal of ISC's filter syntax: double quotes, backslash escapes."""
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def _json_or_none(resp):
    try:
        return resp.json()
    except Exception:  # noqa: BLE001 - any undecodable body
        return None


# --------------------------------------------------------------------------------------------
# The client

class IscClient(object):
    """Client for the ISC password-management API.

    Thread-safe: one instance may be shared by the worker threads of ``map()``; they share one
    session, one token and one rate limiter.
    """

    def __init__(self, base_url, client_id=None, client_secret=None, access_token=None,
                 api_version='v2024', validate_certs=True, ca_path=None, timeout=30,
                 rate_limit=100, rate_window=10, max_retries=5, token_cache=None,
                 warn=None, clock=None, sleep=None, session=None):
        if not HAS_REQUESTS:
            raise IscError(missing_required_lib('requests'))
        self.base_url = normalize_base_url(base_url)
        if api_version not in API_VERSIONS:
            raise IscError('api_version %r is not supported; use one of %s'
                           % (api_version, ', '.join(API_VERSIONS)))
        self.api_version = api_version
        if not access_token and not (client_id and client_secret):
            raise IscError('no ISC credentials: set client_id and client_secret (or the '
                           'SAIL_CLIENT_ID/SAIL_CLIENT_SECRET environment variables), or access_token')
        self.client_id = client_id
        self._client_secret = client_secret
        self._fixed_token = access_token
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self._warn = warn
        self._warn_plain_http()
        self._clock = clock or DEFAULT_CLOCK
        self._sleep = sleep or DEFAULT_SLEEP
        self._random = random.Random()
        self.limiter = RateLimiter(rate_limit, rate_window, clock=self._clock, sleep=self._sleep)
        self._session = session if session is not None else _new_session()
        self._session.headers.update({'User-Agent': USER_AGENT, 'Accept': 'application/json'})
        # Given with every request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment
        # override a session-level verify, which would silently ignore validate_certs and ca_path.
        self._verify = None
        if not validate_certs:
            self._session.verify = self._verify = False
            try:
                import urllib3
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except Exception:  # noqa: BLE001 - cosmetic only
                pass
        elif ca_path:
            if not os.path.exists(os.path.expanduser(ca_path)):
                raise IscError('ca_path %s does not exist: give a PEM file (or directory) of the CA certificates '
                               'to trust' % ca_path)
            self._session.verify = self._verify = os.path.expanduser(ca_path)
        self._token_lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._token = None
        self._token_expires = 0.0
        self._cache = None
        if not access_token and token_cache:
            if not HAS_CRYPTOGRAPHY:
                raise IscError(missing_required_lib('cryptography'))
            self._cache = TokenCache(token_cache, self.base_url, client_id, client_secret)
        # The budget is per client and API version and outlives one task: each task of a play hands
        # its recent request times to the next through a small sidecar file (timestamps only).
        self._limiter_path = None
        if self._cache is not None:
            self._limiter_path = '%s.%s.limiter' % (self._cache.path[:-len('.json')], api_version)
            self._load_limiter()
        self.stats = {'requests': {}, 'retries': 0, 'rate_limited': 0, 'tokens_fetched': 0,
                      'token_cache_hits': 0, 'limiter_wait_seconds': 0.0}

    # ---- construction from a module -----------------------------------------------------------
    @classmethod
    def from_module(cls, module, **overrides):
        """Build a client from the connection options; fail the module with one line if invalid."""
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        if not HAS_CRYPTOGRAPHY:
            module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
        p = module.params
        base_url, tenant = p.get('base_url'), p.get('tenant')
        if base_url and tenant:
            if base_url == os.environ.get('SAIL_BASE_URL'):
                base_url = None  # explicit tenant beats the environment fallback
            else:
                module.fail_json(msg='base_url and tenant are mutually exclusive: give one of them')
        try:
            url = normalize_base_url(base_url, tenant)
        except IscError as exc:
            module.fail_json(msg=str(exc))
        if not p.get('validate_certs', True):
            module.warn('validate_certs is false: TLS certificates of %s are not checked' % url)
        cache = p.get('token_cache')
        if cache is None:
            cache = DEFAULT_TOKEN_CACHE
        elif isinstance(cache, bool) or str(cache).strip().lower() in ('', 'false', 'no', 'off', '0', 'none'):
            cache = DEFAULT_TOKEN_CACHE if cache is True else None
        kwargs = dict(
            client_id=p.get('client_id'), client_secret=p.get('client_secret'),
            access_token=p.get('access_token'), api_version=p.get('api_version') or 'v2024',
            validate_certs=p.get('validate_certs', True), ca_path=p.get('ca_path'),
            timeout=p.get('timeout') or 30, rate_limit=p.get('rate_limit') or 100,
            rate_window=p.get('rate_window') or 10,
            max_retries=p.get('max_retries') if p.get('max_retries') is not None else 5,
            token_cache=cache, warn=module.warn)
        kwargs.update(overrides)
        try:
            client = cls(url, **kwargs)
        except (IscError, ValueError) as exc:
            module.fail_json(msg=str(exc))
        atexit.register(client.close)  # hands the rate-limit budget on to the play's next task
        return client

    # ---- small helpers ------------------------------------------------------------------------
    def _warn_plain_http(self):
        """Plain http:// is silent only towards this machine (the local simulator); anywhere else it warns."""
        from urllib.parse import urlsplit
        parts = urlsplit(self.base_url)
        if parts.scheme.lower() != 'http' or _is_loopback_host(parts.hostname) or not self._warn:
            return
        self._warn('base_url %s uses plain http://: the client secret, the access tokens and the encrypted passwords '
                   'travel unencrypted to %s, where anyone on the path can read them or swap the public key the '
                   'passwords are encrypted with; use https:// (also towards a TLS-terminating proxy)'
                   % (self.base_url, parts.hostname))

    def _count(self, key, op=None, amount=1):
        with self._stats_lock:
            if op is None:
                self.stats[key] += amount
            else:
                self.stats[key][op] = self.stats[key].get(op, 0) + amount

    def _scrub(self, text):
        """Remove any credential that might have found its way into a message."""
        for secret in (self._client_secret, self._fixed_token, self._token):
            if secret and len(secret) >= 4 and secret in text:
                text = text.replace(secret, '********')
        return text

    def _backoff(self, attempt):
        delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
        return delay * (0.5 + self._random.random() / 2)

    def _error(self, cls, message, **kw):
        return cls(self._scrub(message), **kw)

    # ---- tokens -------------------------------------------------------------------------------
    def _bearer(self, force_refresh=False):
        if self._fixed_token:
            return self._fixed_token
        with self._token_lock:
            now = self._clock()
            if not force_refresh and self._token and self._token_expires - now > TOKEN_REFRESH_MARGIN:
                return self._token
            stale = self._token if force_refresh else None
            if self._cache is None:
                self._token, self._token_expires = self._fetch_token()
                return self._token
            with self._cache.lock():
                token, expires = self._cache.load()
                if token and token != stale and expires - now > TOKEN_REFRESH_MARGIN:
                    self._count('token_cache_hits')
                    self._token, self._token_expires = token, expires
                    return token
                self._token, self._token_expires = self._fetch_token()
                try:
                    self._cache.store(self._token, self._token_expires)
                except OSError as exc:
                    if self._warn:
                        self._warn('could not write the token cache %s: %s'
                                   % (self._cache.path, exc.strerror or exc))
                return self._token

    def _fetch_token(self):
        data = {'grant_type': 'client_credentials', 'client_id': self.client_id,
                'client_secret': self._client_secret}
        resp = self._send(OP_TOKEN, 'POST', '/oauth/token', data=data, safe=True, auth=False)
        body = _json_or_none(resp)
        if not isinstance(body, dict) or not body.get('access_token'):
            raise self._error(IscError, '%s failed: the response has no access_token; %s'
                              % (OP_TOKEN, HINT_URL), status=resp.status_code, operation=OP_TOKEN)
        self._count('tokens_fetched')
        try:
            lifetime = float(body.get('expires_in') or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        if lifetime <= 0:
            lifetime = 600.0
        return body['access_token'], self._clock() + lifetime

    def authenticate(self):
        """Make sure a token is at hand (fetch or load one); proves the credentials."""
        self._bearer()

    def invalidate_token(self):
        with self._token_lock:
            self._token = None
            self._token_expires = 0.0

    # ---- the request engine -------------------------------------------------------------------
    def _send(self, operation, method, path, json_body=None, data=None, safe=True, auth=True,
              headers=None, context=None):
        """Send one logical request with limiter, retries and error mapping; return the response."""
        url = self.base_url + path
        attempt = 0
        throttled = 0
        refreshed = False
        while True:
            hdrs = dict(headers or {})
            if auth:
                hdrs['Authorization'] = 'Bearer ' + self._bearer()
            # The token endpoint is not part of the API budget (ISC limits it separately).
            waited = self.limiter.acquire() if auth else 0.0
            if waited:
                self._count('limiter_wait_seconds', amount=waited)
            self._count('requests', operation)
            try:
                tls = {} if self._verify is None else {'verify': self._verify}
                resp = self._session.request(method, url, json=json_body, data=data, headers=hdrs,
                                             timeout=self.timeout, **tls)
            except requests.exceptions.RequestException as exc:
                tls_kind = _tls_failure_kind(exc)
                if tls_kind == 'certificate':
                    # a certificate problem does not go away by retrying; nothing was sent
                    raise self._error(IscError, '%s failed: the TLS certificate of %s was not accepted (%s); hint: set '
                                      'ca_path to the PEM file of the CA that signed it (or validate_certs: false, '
                                      'which is insecure)' % (operation, self.base_url, _tls_reason(exc)),
                                      operation=operation)
                before_send = _failed_before_send(exc)
                kind = type(exc).__name__
                if tls_kind:
                    kind = '%s: %s' % (kind, _tls_reason(exc))
                if not safe and not before_send:
                    raise self._outcome_unknown(operation, 'the connection failed after the request '
                                                'was sent (%s)' % kind, context)
                if attempt < self.max_retries:
                    self._count('retries')
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                if tls_kind == 'handshake':
                    raise self._error(IscError, '%s failed: the TLS handshake with %s failed (%s); hint: check that '
                                      'base_url is the https:// address of the tenant API (no port of a plain HTTP '
                                      'service)' % (operation, self.base_url, kind), operation=operation)
                if tls_kind:
                    raise self._error(IscError, '%s failed: the TLS connection to %s broke (%s)'
                                      % (operation, self.base_url, kind), operation=operation)
                raise self._error(IscError, '%s failed: cannot reach %s (%s); hint: %s'
                                  % (operation, self.base_url, kind, HINT_URL), operation=operation)
            status = resp.status_code
            if 300 <= status < 400:
                # never followed (see _NoRedirectSession): an answer, so set-password was not accepted either
                location = (resp.headers.get('Location') or '').strip()
                raise self._error(IscError, '%s failed: HTTP %s redirect to %s; ISC does not redirect API calls, so it '
                                  'was not followed; hint: check base_url (the https:// tenant API root, e.g. '
                                  'https://acme.api.identitynow.com)'
                                  % (operation, status, location[:300] or 'no Location'), status=status,
                                  operation=operation)
            if status == 429:
                throttled += 1
                self._count('rate_limited')
                wait = _parse_retry_after(resp.headers.get('Retry-After'), time.time())
                if wait is None:
                    wait = self._backoff(min(throttled, 6))
                wait = min(wait, RETRY_AFTER_CAP)
                if throttled <= MAX_429_RETRIES:
                    if auth:
                        # hold every thread of this client back, not only this one
                        self.limiter.pause(wait)
                    else:
                        # the token request does not pass the API limiter: wait here
                        self._sleep(wait)
                    continue
            elif status == 401 and auth and not self._fixed_token and not refreshed:
                refreshed = True
                self._bearer(force_refresh=True)
                continue
            elif status >= 500:
                if not safe:
                    body = _json_or_none(resp)
                    msg, tid = format_error(operation, status, body)
                    raise self._outcome_unknown(operation, 'ISC answered HTTP %s (%s)' % (status, msg),
                                                context, status=status, tracking_id=tid)
                if attempt < self.max_retries:
                    self._count('retries')
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
            if 200 <= status < 300:
                return resp
            body = _json_or_none(resp)
            if body is None and resp.text:
                body = {'message': resp.text.strip()[:200]}
            msg, tid = format_error(operation, status, body)
            raise self._error(IscError, msg, status=status, operation=operation, tracking_id=tid)

    def _outcome_unknown(self, operation, why, context, status=None, tracking_id=None):
        ctx = dict(context or {})
        id_fields = ('identity_id', 'source_id', 'account_id', 'public_key_id')
        ids = ', '.join('%s %s' % (k, ctx[k]) for k in id_fields if ctx.get(k))
        if operation == OP_DIGIT:
            msg = ('%s: outcome unknown: %s, so ISC may or may not have generated a token and the request '
                   'was not sent again. Generate a new token; one that was never delivered expires by itself'
                   % (operation, why))
        else:
            msg = ('%s: outcome unknown: %s, so ISC may or may not have accepted the change and it was '
                   'not sent again. Reconcile before retrying: check the account on the source (or '
                   'test a logon with the new password), or submit again with the same password'
                   % (operation, why))
        if ids:
            msg += ' [%s]' % ids
        return self._error(IscOutcomeUnknown, msg, status=status, operation=operation,
                           tracking_id=tracking_id, identity_id=ctx.get('identity_id'),
                           source_id=ctx.get('source_id'), account_id=ctx.get('account_id'),
                           public_key_id=ctx.get('public_key_id'))

    def _json(self, operation, resp):
        body = _json_or_none(resp)
        if body is None:
            raise self._error(IscError, '%s failed: HTTP %s with a body that is not JSON; hint: %s'
                              % (operation, resp.status_code, HINT_URL),
                              status=resp.status_code, operation=operation)
        return body

    # ---- operations ---------------------------------------------------------------------------
    def query_password_info(self, user_name, source_name):
        resp = self._send(OP_QUERY, 'POST', operation_path(self.api_version, OP_QUERY),
                          json_body={'userName': user_name, 'sourceName': source_name}, safe=True)
        body = self._json(OP_QUERY, resp)
        if not isinstance(body, dict):
            raise self._error(IscError, '%s failed: unexpected response shape' % OP_QUERY,
                              operation=OP_QUERY)
        return body

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted_password):
        ctx = {'identity_id': identity_id, 'source_id': source_id, 'account_id': account_id,
               'public_key_id': public_key_id}
        body = {'identityId': identity_id, 'sourceId': source_id, 'accountId': account_id,
                'publicKeyId': public_key_id, 'encryptedPassword': encrypted_password}
        resp = self._send(OP_SET, 'POST', operation_path(self.api_version, OP_SET), json_body=body,
                          safe=False, context=ctx)
        result = _json_or_none(resp)
        if not isinstance(result, dict):
            result = {}
        return result

    def password_change_status(self, request_id):
        if not request_id:
            raise IscError('%s: request_id is empty' % OP_STATUS, operation=OP_STATUS)
        resp = self._send(OP_STATUS, 'GET', operation_path(self.api_version, OP_STATUS, request_id),
                          safe=True)
        body = self._json(OP_STATUS, resp)
        if not isinstance(body, dict):
            raise self._error(IscError, '%s failed: unexpected response shape' % OP_STATUS,
                              operation=OP_STATUS)
        return body

    def wait_for_status(self, request_id, timeout=300, poll_interval=5):
        """Poll until FINISHED/FAILED or timeout; return the last status seen."""
        deadline = self._clock() + timeout
        while True:
            status = self.password_change_status(request_id)
            if status.get('state') in TERMINAL_STATES or self._clock() >= deadline:
                return status
            self._sleep(max(0.0, min(poll_interval, deadline - self._clock())))

    def generate_digit_token(self, user_id, length=6, duration_minutes=5):
        path = operation_path(self.api_version, OP_DIGIT)  # raises for v3 before sending
        headers = {}
        if self.api_version in ('v2024', 'v1'):
            headers['X-SailPoint-Experimental'] = 'true'
        body = {'userId': user_id, 'length': int(length), 'durationMinutes': int(duration_minutes)}
        resp = self._send(OP_DIGIT, 'POST', path, json_body=body, safe=False, headers=headers,
                          context={})
        result = self._json(OP_DIGIT, resp)
        if isinstance(result, dict) and result.get('digitToken') is not None:
            token = result['digitToken']
            if not isinstance(token, str):
                token = str(token).zfill(int(length))
            result['digitToken'] = token
        return result

    def list_password_sync_groups(self, page_size=250):
        groups = []
        offset = 0
        path = operation_path(self.api_version, OP_SYNC_GROUPS)
        while True:
            resp = self._send(OP_SYNC_GROUPS, 'GET', '%s?limit=%d&offset=%d' % (path, page_size, offset),
                              safe=True)
            page = self._json(OP_SYNC_GROUPS, resp)
            if not isinstance(page, list):
                raise self._error(IscError, '%s failed: unexpected response shape' % OP_SYNC_GROUPS,
                                  operation=OP_SYNC_GROUPS)
            groups.extend(page)
            if len(page) < page_size:
                return groups
            offset += page_size

    def list_sources(self, ids):
        """The names of the sources with the given ids: ``{source_id: source_name}``.

        Asks ISC with ``filters=id in ("a","b",...)``, at most SOURCE_FILTER_CHUNK ids per request. Ids ISC
        does not know (or does not show this API client) are left out of the answer.
        """
        wanted = []
        seen = set()
        for source_id in ids or ():
            source_id = str(source_id or '')
            if source_id and source_id not in seen:
                seen.add(source_id)
                wanted.append(source_id)
        if not wanted:
            return {}
        from urllib.parse import quote
        path = operation_path(self.api_version, OP_SOURCES)
        names = {}
        for start in range(0, len(wanted), SOURCE_FILTER_CHUNK):
            chunk = wanted[start:start + SOURCE_FILTER_CHUNK]
            filters = 'id in (%s)' % ','.join(_filter_string(source_id) for source_id in chunk)
            resp = self._send(OP_SOURCES, 'GET', '%s?filters=%s&limit=%d' % (path, quote(filters, safe=''), SOURCE_PAGE_LIMIT),
                              safe=True)
            page = self._json(OP_SOURCES, resp)
            if not isinstance(page, list):
                raise self._error(IscError, '%s failed: unexpected response shape' % OP_SOURCES,
                                  operation=OP_SOURCES)
            for source in page:
                if isinstance(source, dict) and source.get('id') in chunk and source.get('name') is not None:
                    names[source['id']] = source['name']
        return names

    # ---- pipelining ---------------------------------------------------------------------------
    def map(self, fn, items, workers=4):
        """Run fn(item) concurrently; results in input order, each a value or the IscError."""
        items = list(items)
        if not items:
            return []

        def guarded(item):
            try:
                return fn(item)
            except IscError as exc:
                return exc
            except Exception as exc:  # noqa: BLE001 - one item must never abort the others
                return IscError(self._scrub('%s: %s' % (type(exc).__name__, exc)))

        workers = max(1, min(int(workers or 1), len(items)))
        if workers == 1:
            return [guarded(i) for i in items]
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(guarded, items))

    def _load_limiter(self):
        try:
            with open(self._limiter_path) as handle:
                self.limiter.restore(json.load(handle))
        except (OSError, ValueError, TypeError):
            pass  # no state yet, or unreadable: start with a fresh budget

    def save_limiter(self):
        if not self._limiter_path:
            return
        try:
            write_atomic(self._limiter_path, json.dumps(self.limiter.snapshot()))
        except OSError:
            pass  # losing the hand-over only costs a 429 later, which is honoured

    def close(self):
        self.save_limiter()
        try:
            self._session.close()
        except Exception:  # noqa: BLE001
            pass
