# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client for SailPoint Identity Security Cloud (ISC) password management.

Everything that talks to ISC goes through IscClient: the session, the request engine (_send) and one
small method per operation. What it builds on has a file each: the API layout (api.py), errors and
hints (errors.py), the rate limiter (limiter.py), tokens (auth.py) and the retry policy (retry.py).
"""

from __future__ import annotations

import atexit
import os
import random
import threading
import time
import traceback
from urllib.parse import quote, urlencode

try:
    import requests
    import requests.adapters
    import requests.exceptions
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import auth, retry
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    CONNECTION_DEFAULTS, DEFAULT_LIMITER_STATE, OP_DIGIT, OP_QUERY, OP_SET, OP_SOURCES, OP_STATUS,
    OP_SYNC_GROUPS, OP_TOKEN, PAGE_LIMIT, SOURCE_FILTER_CHUNK, SOURCE_PAGE_LIMIT, TOKEN_PATH, USER_AGENT, check_api_version,
    client_arguments, experimental, filter_string, normalize_base_url, operation_path, plain_http_warning,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import (
    HINT_URL, IscError, IscOutcomeUnknown, failure_kind, json_or_none, may_have_been_sent, outcome_unknown_message,
    response_failure, transport_failure, unknown_outcome_reason,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.limiter import RateLimiter, state_path

# re-exported for tests/e2e/test_leaks.py, which reads the token cache through this name
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.auth import TokenCache  # pylint: disable=unused-import

# Time sources used when none is injected (unit tests replace these).
DEFAULT_CLOCK = time.time
DEFAULT_SLEEP = time.sleep


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


class IscClient(object):
    """Client for the ISC password-management API.

    Thread-safe: one instance may be shared by the worker threads of ``map()``; they share one
    session, one token and one rate limiter. ``clock`` and ``sleep`` are its time sources.
    """

    def __init__(self, base_url, client_id=None, client_secret=None, access_token=None,
                 api_version=CONNECTION_DEFAULTS['api_version'], validate_certs=CONNECTION_DEFAULTS['validate_certs'],
                 ca_path=None, timeout=CONNECTION_DEFAULTS['timeout'], rate_limit=CONNECTION_DEFAULTS['rate_limit'],
                 rate_window=CONNECTION_DEFAULTS['rate_window'], max_retries=CONNECTION_DEFAULTS['max_retries'],
                 token_cache=None, limiter_state=None, warn=None, clock=None, sleep=None, session=None):
        if not HAS_REQUESTS:
            raise IscError(missing_required_lib('requests'))
        self.base_url = normalize_base_url(base_url)
        check_api_version(api_version)
        self.api_version = api_version
        self.clock = clock or DEFAULT_CLOCK
        self.sleep = sleep or DEFAULT_SLEEP
        self._auth = auth.strategy(self.base_url, client_id, client_secret, access_token, self._now, warn=warn,
                                   on_cache_hit=lambda: self._count('token_cache_hits'))
        self.client_id = client_id
        self._hidden = (client_secret, access_token)
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        warning = plain_http_warning(self.base_url)  # plain http:// is silent only towards this machine
        if warning and warn:
            warn(warning)
        self._random = random.Random()
        self.limiter = RateLimiter(rate_limit, rate_window, clock=self.clock, sleep=self.sleep)
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
        self._stats_lock = threading.Lock()
        if token_cache:
            self._auth.use_cache(token_cache, self.base_url)
        # The budget is per client and API version and outlives one task: each task of a play hands its recent
        # request times to the next through a small file (timestamps only), with or without a token cache.
        if limiter_state and self._auth.key:
            self.limiter.state_path = state_path(limiter_state, self._auth.key, api_version)
            self.limiter.load_state()
        self.stats = {'requests': {}, 'retries': 0, 'rate_limited': 0, 'tokens_fetched': 0,
                      'token_cache_hits': 0, 'limiter_wait_seconds': 0.0}

    def _now(self):
        return self.clock()

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
        kwargs = client_arguments(p)
        if not kwargs['validate_certs']:
            module.warn('validate_certs is false: TLS certificates of %s are not checked' % url)
        kwargs.update(limiter_state=DEFAULT_LIMITER_STATE, warn=module.warn)
        kwargs.update(overrides)
        try:
            client = cls(url, **kwargs)
        except (IscError, ValueError) as exc:
            module.fail_json(msg=str(exc))
        atexit.register(client.close)  # hands the rate-limit budget on to the play's next task
        return client

    # ---- small helpers ------------------------------------------------------------------------
    def _count(self, key, op=None, amount=1):
        with self._stats_lock:
            if op is None:
                self.stats[key] += amount
            else:
                self.stats[key][op] = self.stats[key].get(op, 0) + amount

    def _scrub(self, text):
        """Remove any credential that might have found its way into a message."""
        for secret in self._hidden + (self._auth.token,):
            if secret and len(secret) >= 4 and secret in text:
                text = text.replace(secret, '********')
        return text

    def _error(self, cls, message, **kw):
        return cls(self._scrub(message), **kw)

    def _outcome_unknown(self, operation, why, context, **details):
        ids = dict((k, (context or {}).get(k)) for k in ('identity_id', 'source_id', 'account_id', 'public_key_id'))
        return self._error(IscOutcomeUnknown, outcome_unknown_message(operation, why, context), operation=operation,
                           **dict(details, **ids))

    def _json(self, operation, resp, shape=object):
        """The JSON body of an answer; IscError when there is none or it is not a ``shape``."""
        body = json_or_none(resp)
        if body is None:
            raise self._error(IscError, '%s failed: HTTP %s with a body that is not JSON; hint: %s'
                              % (operation, resp.status_code, HINT_URL),
                              status=resp.status_code, operation=operation)
        if not isinstance(body, shape):
            raise self._error(IscError, '%s failed: unexpected response shape' % operation, operation=operation)
        return body

    # ---- tokens -------------------------------------------------------------------------------
    def _bearer(self, force_refresh=False):
        return self._auth.bearer(self._fetch_token, force_refresh)

    def _fetch_token(self):
        resp = self._send(OP_TOKEN, 'POST', TOKEN_PATH, data=self._auth.token_request(), safe=True, auth=False)
        body = json_or_none(resp)
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
        scope = body.get('scope')
        return body['access_token'], self.clock() + lifetime, scope if isinstance(scope, str) else None

    def authenticate(self):
        """Make sure a token is at hand (fetch or load one); proves the credentials."""
        self._bearer()

    def granted_scopes(self):
        """The scopes of the token (fetched or loaded first) as a set; None when unknown (rights.py)."""
        self._bearer()
        return None if self._auth.scope is None else set(self._auth.scope.split())

    # ---- the request engine -------------------------------------------------------------------
    def _send(self, operation, method, path, json_body=None, data=None, safe=True, auth=True,
              headers=None, context=None):
        """Send one logical request through the limiter until retry.decide says it is done; return the response."""
        attempt = throttled = 0
        refreshed = False
        while True:
            resp, exc = self._attempt(operation, method, path, json_body, data, headers, auth)
            status = resp.status_code if exc is None else None
            if status == 429:
                self._count('rate_limited')
            decision = retry.decide(
                safe, attempt, self.max_retries, status=status, failure=failure_kind(exc) if exc else None,
                sent=may_have_been_sent(exc) if exc else True, throttled=throttled, jitter=self._random.random(),
                retry_after=retry.parse_retry_after(resp.headers.get('Retry-After'), time.time()) if status else None,
                can_refresh=auth and self._auth.refreshable and not refreshed)
            if decision.action == retry.SUCCEED:
                return resp
            if decision.action == retry.RETRY:
                self._count('retries')
                self.sleep(decision.wait)
                attempt += 1
            elif decision.action == retry.THROTTLE:
                throttled += 1
                # an API request holds every thread of this client back; the token request (outside the
                # API limiter) waits here
                (self.limiter.pause if auth else self.sleep)(decision.wait)
            elif decision.action == retry.REFRESH:
                refreshed = True
                self._bearer(force_refresh=True)
            elif decision.action == retry.UNKNOWN:
                why, details = unknown_outcome_reason(operation, exc, resp)
                raise self._outcome_unknown(operation, why, context, **details)
            elif exc:
                raise self._error(IscError, transport_failure(operation, self.base_url, exc), operation=operation)
            else:
                msg, details = response_failure(operation, resp)
                raise self._error(IscError, msg, **details)

    def _attempt(self, operation, method, path, json_body, data, headers, auth):
        """One try through the limiter: (response, None), or (None, the requests exception)."""
        hdrs = dict(headers or {})
        if auth:
            hdrs['Authorization'] = 'Bearer ' + self._bearer()
        # The token endpoint is not part of the API budget (ISC limits it separately).
        waited = self.limiter.acquire() if auth else 0.0
        if waited:
            self._count('limiter_wait_seconds', amount=waited)
        self._count('requests', operation)
        tls = {} if self._verify is None else {'verify': self._verify}
        try:
            return self._session.request(method, self.base_url + path, json=json_body, data=data, headers=hdrs,
                                         timeout=self.timeout, **tls), None
        except requests.exceptions.RequestException as exc:
            return None, exc

    # ---- operations ---------------------------------------------------------------------------
    def query_password_info(self, user_name, source_name):
        resp = self._send(OP_QUERY, 'POST', operation_path(self.api_version, OP_QUERY),
                          json_body={'userName': user_name, 'sourceName': source_name}, safe=True)
        return self._json(OP_QUERY, resp, dict)

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted_password):
        ctx = {'identity_id': identity_id, 'source_id': source_id, 'account_id': account_id,
               'public_key_id': public_key_id}
        body = {'identityId': identity_id, 'sourceId': source_id, 'accountId': account_id,
                'publicKeyId': public_key_id, 'encryptedPassword': encrypted_password}
        resp = self._send(OP_SET, 'POST', operation_path(self.api_version, OP_SET), json_body=body,
                          safe=False, context=ctx)
        result = json_or_none(resp)
        if not isinstance(result, dict):
            result = {}
        return result

    def password_change_status(self, request_id):
        if not request_id:
            raise IscError('%s: request_id is empty' % OP_STATUS, operation=OP_STATUS)
        resp = self._send(OP_STATUS, 'GET', operation_path(self.api_version, OP_STATUS, request_id),
                          safe=True)
        return self._json(OP_STATUS, resp, dict)

    def generate_digit_token(self, user_id, length=6, duration_minutes=5):
        path = operation_path(self.api_version, OP_DIGIT)  # raises before sending where the version has none
        headers = {}
        if experimental(self.api_version, OP_DIGIT):
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

    def list_password_sync_groups(self, page_size=PAGE_LIMIT):
        groups = []
        offset = 0
        path = operation_path(self.api_version, OP_SYNC_GROUPS)
        while True:
            resp = self._send(OP_SYNC_GROUPS, 'GET', '%s?limit=%d&offset=%d' % (path, page_size, offset),
                              safe=True)
            page = self._json(OP_SYNC_GROUPS, resp, list)
            groups.extend(page)
            if len(page) < page_size:
                return groups
            offset += page_size

    def list_sources(self, ids):
        """The names of the sources with the given ids: ``{source_id: source_name}``.

        Asks ISC with ``filters=id in ("a","b",...)``, at most SOURCE_FILTER_CHUNK ids per request. Ids ISC
        does not know (or does not show this API client) are left out of the answer.
        """
        wanted = [source_id for source_id in dict.fromkeys(str(source_id or '') for source_id in ids or ()) if source_id]
        if not wanted:
            return {}
        path = operation_path(self.api_version, OP_SOURCES)
        names = {}
        for start in range(0, len(wanted), SOURCE_FILTER_CHUNK):
            chunk = wanted[start:start + SOURCE_FILTER_CHUNK]
            filters = 'id in (%s)' % ','.join(filter_string(source_id) for source_id in chunk)
            resp = self._send(OP_SOURCES, 'GET', '%s?filters=%s&limit=%d' % (path, quote(filters, safe=''), SOURCE_PAGE_LIMIT),
                              safe=True)
            page = self._json(OP_SOURCES, resp, list)
            for source in page:
                if isinstance(source, dict) and source.get('id') in chunk and source.get('name') is not None:
                    names[source['id']] = source['name']
        return names

    def call(self, operation, method, item_id=None, query=None, json_body=None, data=None, headers=None, safe=None):
        """One request of the password-configuration API; returns the response of a 2xx answer.

        The path comes from the API layout of ``operation`` (``item_id`` fills its id), the experimental
        header is added where that version needs it, and errors are labelled "<METHOD> <operation>" (so a
        403 gets the hint for that call). Everything but POST is safe to repeat: PUT and PATCH replace;
        ``safe=True`` marks a read sent as POST (a search).
        """
        path = operation_path(self.api_version, operation, item_id)
        if query:
            path += '?' + urlencode(query, quote_via=quote)
        hdrs = dict(headers or {})
        if experimental(self.api_version, operation):
            hdrs['X-SailPoint-Experimental'] = 'true'
        return self._send('%s %s' % (method, operation), method, path, json_body=json_body, data=data,
                          safe=method != 'POST' if safe is None else safe, headers=hdrs, context={})

    def call_json(self, operation, method, item_id=None, query=None, json_body=None, shape=object):
        """call() for an answer with a JSON body of type ``shape``; None for an empty answer (204)."""
        resp = self.call(operation, method, item_id, query, json_body)
        if resp.status_code == 204 or not resp.content:
            return None
        return self._json('%s %s' % (method, operation), resp, shape)

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

    def close(self):
        self.limiter.save_state()  # hands the rate-limit budget on to the play's next task
        try:
            self._session.close()
        except Exception:  # noqa: BLE001
            pass
