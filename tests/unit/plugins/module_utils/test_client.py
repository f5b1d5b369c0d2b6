# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IscClient against a fake transport: tokens, cache, limiter, retries, errors, paths."""

from __future__ import annotations

import json
import os
import re
import ssl
import stat
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api, retry
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import client as client_mod
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import normalize_base_url
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown, format_error
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.limiter import RateLimiter

from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import BASE, SECRET, FakeClock, FakeResponse, FakeSession, info_body

Q = '/v2024/query-password-info'
S = '/v2024/set-password'


def make(handlers=None, clock=None, token_cache=None, session=None, **kw):
    clock = clock or FakeClock()
    session = session or FakeSession(handlers)
    c = IscClient(BASE, client_id='cid-123', client_secret=SECRET, clock=clock, sleep=clock.sleep,
                  session=session, token_cache=token_cache, **kw)
    return c, session, clock


def ok_info():
    return FakeResponse(200, info_body())


def conn_refused():
    reason = urllib3.exceptions.NewConnectionError(None, 'Failed to establish a new connection: refused')
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, BASE, reason))


# ---- base URL -----------------------------------------------------------------------------------

def test_base_url_trailing_slash_and_tenant():
    assert normalize_base_url('https://acme.api.identitynow.com/') == BASE
    assert normalize_base_url(tenant='acme') == BASE


@pytest.mark.parametrize('url', ['https://acme.api.identitynow.com/v2024', 'https://acme.api.identitynow.com/v3/',
                                 'https://acme.api.identitynow.com/beta'])
def test_base_url_with_version_segment_fails(url):
    with pytest.raises(IscError, match='tenant root'):
        normalize_base_url(url)


@pytest.mark.parametrize('url', ['acme.api.identitynow.com', 'ftp://x', 'https://', 'https://a b'])
def test_base_url_malformed(url):
    with pytest.raises(IscError, match='malformed'):
        normalize_base_url(url)


def test_missing_connection_and_credentials():
    with pytest.raises(IscError, match='base_url'):
        normalize_base_url(None, None)
    with pytest.raises(IscError, match='client_id and client_secret'):
        IscClient(BASE, session=FakeSession())


# ---- tokens -------------------------------------------------------------------------------------

def test_token_reused_within_client():
    c, s, dummy = make({('POST', Q): ok_info()})
    for dummy in range(5):
        c.query_password_info('Abby.Smith', 'My-AD')
    assert s.tokens_issued == 1
    assert c.stats['tokens_fetched'] == 1
    assert c.stats['requests']['query-password-info'] == 5
    tok = [x for x in s.calls if x['path'] == '/oauth/token'][0]
    assert tok['data'] == {'grant_type': 'client_credentials', 'client_id': 'cid-123', 'client_secret': SECRET}
    assert s.calls[-1]['headers']['Authorization'] == 'Bearer tok-1'


def test_token_cache_shared_by_20_tasks(tmp_path):
    cache = tmp_path / 'cache' / 'tokens'
    session = FakeSession({('POST', Q): ok_info()})
    clock = FakeClock()
    for dummy in range(20):  # 20 tasks = 20 processes = 20 fresh clients
        c, dummy, dummy2 = make(session=session, clock=clock, token_cache=str(cache))
        c.query_password_info('Abby.Smith', 'My-AD')
    assert session.tokens_issued == 1
    files = [f for f in os.listdir(cache) if f.endswith('.json')]
    assert len(files) == 1
    path = cache / files[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    content = path.read_text()
    assert 'tok-1' not in content and SECRET not in content and 'cid-123' not in content


def test_token_cache_wrong_secret_misses(tmp_path):
    session = FakeSession({('POST', Q): ok_info()})
    c, dummy, clock = make(session=session, token_cache=str(tmp_path))
    c.query_password_info('u', 's')
    other = IscClient(BASE, client_id='cid-123', client_secret='another', clock=clock, sleep=clock.sleep,
                      session=session, token_cache=str(tmp_path))
    other.query_password_info('u', 's')
    assert session.tokens_issued == 2


def test_token_refreshed_near_expiry(tmp_path):
    c, s, clock = make({('POST', Q): ok_info()}, token_cache=str(tmp_path))
    c.query_password_info('u', 's')
    clock.t += 750 - 61
    c.query_password_info('u', 's')
    assert s.tokens_issued == 1
    clock.t += 2  # now under 60 s left
    c.query_password_info('u', 's')
    assert s.tokens_issued == 2
    # a new process picks up the refreshed token from the cache
    c2, dummy, dummy2 = make(session=s, clock=clock, token_cache=str(tmp_path))
    c2.query_password_info('u', 's')
    assert s.tokens_issued == 2


def test_token_refreshed_once_on_401():
    expired = FakeResponse(401, {'error': 'JWT validation failed: JWT is expired'})
    c, s, dummy = make({('POST', Q): [expired, ok_info()]})
    assert c.query_password_info('u', 's')['identityId']
    assert s.tokens_issued == 2
    assert s.calls[-1]['headers']['Authorization'] == 'Bearer tok-2'


def test_persistent_401_fails_with_one_line():
    expired = FakeResponse(401, {'error': 'JWT validation failed: JWT is expired'})
    c, s, dummy = make({('POST', Q): expired})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert s.tokens_issued == 2
    assert 'query-password-info failed: HTTP 401: JWT validation failed: JWT is expired' in str(e.value)
    assert e.value.status == 401


def test_fixed_access_token_used_as_is():
    s = FakeSession({('POST', Q): ok_info()})
    c = IscClient(BASE, access_token='given-token-abc', session=s)
    c.query_password_info('u', 's')
    assert s.tokens_issued == 0
    assert s.calls[0]['headers']['Authorization'] == 'Bearer given-token-abc'


def test_bad_credentials_hint_and_no_secret():
    bad = FakeResponse(401, {'error': 'invalid_client', 'error_description': 'Bad client credentials'})
    c, s, dummy = make({('POST', '/oauth/token'): bad})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    msg = str(e.value)
    assert msg.startswith('oauth-token failed: HTTP 401: Bad client credentials')
    assert 'check client_id/client_secret' in msg
    assert SECRET not in msg


# ---- 429, 5xx, connection errors ------------------------------------------------------------------

def test_429_retry_after_honoured_for_any_method():
    limited = FakeResponse(429, {'message': ' Rate Limit Exceeded '}, headers={'Retry-After': '7'})
    accepted = FakeResponse(202, {'requestId': 'r1', 'state': 'IN_PROGRESS'})
    c, s, clock = make({('POST', Q): [limited, ok_info()], ('POST', S): [limited, accepted]})
    c.query_password_info('u', 's')
    assert c.set_password('i', 's', 'a', 'k', 'enc')['requestId'] == 'r1'
    assert s.count('POST', S) == 2
    assert c.stats['rate_limited'] == 2
    assert sum(clock.sleeps) >= 14


def test_429_on_the_token_request_waits_for_retry_after():
    """The token request is outside the API limiter, so its 429 must be waited out here, not re-sent at once."""
    times = []

    def limited(*_args):
        times.append(clock())
        return FakeResponse(429, {'message': ' Rate Limit Exceeded '}, headers={'Retry-After': '9'})

    def token(*_args):
        times.append(clock())
        return FakeResponse(200, {'access_token': 'tok-1', 'token_type': 'bearer', 'expires_in': 750})
    c, s, clock = make({('POST', '/oauth/token'): [limited, token], ('POST', Q): ok_info()})
    c.query_password_info('u', 's')
    assert len(times) == 2 and times[1] - times[0] >= 9


def test_429_forever_gives_readable_error(monkeypatch):
    monkeypatch.setattr(retry, 'MAX_429_RETRIES', 3)
    limited = FakeResponse(429, {'message': ' Rate Limit Exceeded '}, headers={'Retry-After': '1'})
    c, s, dummy = make({('POST', Q): limited})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert str(e.value) == 'query-password-info failed: HTTP 429: Rate Limit Exceeded'


def test_5xx_retried_for_query():
    err = FakeResponse(500, {'detailCode': '500.0 Internal Fault', 'trackingId': 't5',
                             'messages': [{'text': 'An internal fault occurred.'}]})
    c, s, clock = make({('POST', Q): [err, err, ok_info()]})
    assert c.query_password_info('u', 's')['sourceId']
    assert s.count('POST', Q) == 3
    assert c.stats['retries'] == 2
    assert len([x for x in clock.sleeps if x > 0]) >= 2


def test_5xx_retries_are_bounded():
    err = FakeResponse(503, None, text='')
    c, s, dummy = make({('POST', Q): err}, max_retries=2)
    with pytest.raises(IscError, match='HTTP 503'):
        c.query_password_info('u', 's')
    assert s.count('POST', Q) == 3


def test_set_password_5xx_is_outcome_unknown_and_not_resent():
    err = FakeResponse(500, {'detailCode': '500.0 Internal Fault', 'trackingId': 'abc',
                             'messages': [{'text': 'An internal fault occurred.'}]})
    c, s, dummy = make({('POST', S): err})
    with pytest.raises(IscOutcomeUnknown) as e:
        c.set_password('ident1', 'src1', 'acct1', 'key1', 'ENCRYPTED')
    assert s.count('POST', S) == 1
    exc = e.value
    assert (exc.identity_id, exc.source_id, exc.account_id, exc.public_key_id) == ('ident1', 'src1', 'acct1', 'key1')
    assert exc.operation == 'set-password' and exc.tracking_id == 'abc'
    assert 'outcome unknown' in str(exc) and 'same password' in str(exc)
    assert 'ENCRYPTED' not in str(exc)


@pytest.mark.parametrize('exc', [requests.exceptions.ReadTimeout('read timed out'),
                                 requests.exceptions.ConnectionError(
                                     urllib3.exceptions.ProtocolError('Connection aborted.',
                                                                      ConnectionResetError(104, 'reset')))])
def test_set_password_ambiguous_transport_error(exc):
    c, s, dummy = make({('POST', S): exc})
    with pytest.raises(IscOutcomeUnknown, match='outcome unknown'):
        c.set_password('i', 's', 'a', 'k', 'enc')
    assert s.count('POST', S) == 1


def test_set_password_connect_refused_is_retried():
    accepted = FakeResponse(202, {'requestId': 'r9', 'state': 'IN_PROGRESS'})
    c, s, dummy = make({('POST', S): [conn_refused(), accepted]})
    assert c.set_password('i', 's', 'a', 'k', 'enc')['requestId'] == 'r9'
    assert s.count('POST', S) == 2


def test_dns_failure_hint():
    c, s, dummy = make({('POST', '/oauth/token'): conn_refused()}, max_retries=1)
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert 'check base_url/tenant' in str(e.value)


# ---- error lines ------------------------------------------------------------------------------------

def test_error_line_with_tracking_id():
    body = {'detailCode': '400.1 Bad Request Content', 'trackingId': 'e7eab60924f64aa284175b9fa3309599',
            'messages': [{'locale': 'en-US', 'localeOrigin': 'DEFAULT', 'text': 'first'},
                         {'locale': 'en-US', 'localeOrigin': 'DEFAULT', 'text': 'second'}]}
    c, dummy, dummy2 = make({('POST', Q): FakeResponse(400, body)})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert str(e.value) == ('query-password-info failed: HTTP 400 (400.1 Bad Request Content): first; second '
                            '(trackingId e7eab60924f64aa284175b9fa3309599)')
    assert e.value.tracking_id == 'e7eab60924f64aa284175b9fa3309599'


def test_403_on_query_hints_pat():
    body = {'detailCode': '403 Forbidden', 'trackingId': 't403',
            'messages': [{'text': 'The server understood the request but refuses to authorize it.'}]}
    c, dummy, dummy2 = make({('POST', Q): FakeResponse(403, body)})
    with pytest.raises(IscError, match='personal access tokens are refused here'):
        c.query_password_info('u', 's')


@pytest.mark.parametrize('code, text, hints', [
    ('400.1 Bad Request Content', 'Source My-AD does not have the PASSWORD feature', ['enable the PASSWORD feature on the source']),
    ('400.1.404 Referenced object not found', "Referenced accountId 'CN=x' not found on sourceId 's' for identityId 'i'.",
     ['renamed, moved to another identity, or deleted', 'list it under its new']),  # moved since its query
])
def test_set_password_refusal_hints(code, text, hints):
    body = {'detailCode': code, 'trackingId': 'tf', 'messages': [{'text': text}]}
    c, s, dummy = make({('POST', S): FakeResponse(400, body)})
    with pytest.raises(IscError) as e:
        c.set_password('i', 's', 'a', 'k', 'enc')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert all(hint in str(e.value) for hint in hints), str(e.value)


def test_404_hints_base_url():
    c, dummy, dummy2 = make({})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert 'HTTP 404' in str(e.value) and 'check base_url/tenant' in str(e.value)


def test_format_error_shapes():
    assert format_error('x', 429, {'message': ' Rate Limit Exceeded '})[0] == 'x failed: HTTP 429: Rate Limit Exceeded'
    assert format_error('x', 401, {'error': 'JWT is expired'}, hint='')[0] == 'x failed: HTTP 401: JWT is expired'


def test_no_secret_or_token_in_any_message():
    body = {'messages': [{'text': 'echo %s and tok-1' % SECRET}]}
    c, dummy, dummy2 = make({('POST', Q): FakeResponse(400, body)})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    assert SECRET not in str(e.value) and 'tok-1' not in str(e.value)


# ---- status, digit token, paths -------------------------------------------------------------------

def test_status_unknown_is_404():
    body = {'detailCode': '404 Not found', 'trackingId': 'x',
            'messages': [{'text': 'The server did not find a current representation for the target resource.'}]}
    c, dummy, dummy2 = make({('GET', '/v2024/password-change-status/nope'): FakeResponse(404, body)})
    with pytest.raises(IscError) as e:
        c.password_change_status('nope')
    assert e.value.status == 404
    assert 'request' in str(e.value) and 'check base_url' not in str(e.value)


def test_clock_and_sleep_are_public_and_injectable():
    c, dummy, clock = make({})
    assert c.clock is clock and c.sleep == clock.sleep
    c.authenticate()
    assert c._auth.expires == clock() + 750


@pytest.mark.parametrize('version,path,header', [
    ('v2024', '/v2024/generate-password-reset-token/digit', True),
    ('v1', '/generate-password-reset-token/v1/digit', True),
    ('beta', '/beta/generate-password-reset-token/digit', False),
])
def test_digit_token(version, path, header):
    c, s, dummy = make({('POST', path): FakeResponse(200, {'digitToken': 9087713, 'requestId': 'e1'})},
                       api_version=version)
    out = c.generate_digit_token('Abby.Smith', 8, 5)
    assert out['digitToken'] == '09087713'
    call = s.calls[-1]
    assert call['json'] == {'userId': 'Abby.Smith', 'length': 8, 'durationMinutes': 5}
    assert (call['headers'].get('X-SailPoint-Experimental') == 'true') is header


def test_digit_token_v3_fails_before_sending():
    c, s, dummy = make({}, api_version='v3')
    with pytest.raises(IscError, match='v3 has no digit-token'):
        c.generate_digit_token('Abby.Smith', 8, 5)
    assert s.calls == []


def test_v1_paths():
    c, s, dummy = make({('POST', '/query-password-info/v1'): ok_info(),
                        ('POST', '/set-password/v1'): FakeResponse(202, {'requestId': 'r', 'state': 'IN_PROGRESS'}),
                        ('GET', '/password-change-status/v1/r'): FakeResponse(200, {'state': 'FINISHED'})},
                       api_version='v1')
    c.query_password_info('u', 's')
    c.set_password('i', 's', 'a', 'k', 'e')
    assert c.password_change_status('r')['state'] == 'FINISHED'


def test_sync_groups_paginate():
    pages = [FakeResponse(200, [{'id': str(i)} for i in range(2)]), FakeResponse(200, [{'id': 'x'}])]
    c, s, dummy = make({('GET', '/v2024/password-sync-groups'): pages})
    assert [g['id'] for g in c.list_password_sync_groups(page_size=2)] == ['0', '1', 'x']
    assert [x['query'] for x in s.calls if 'sync' in x['path']] == ['limit=2&offset=0', 'limit=2&offset=2']


# ---- map ----------------------------------------------------------------------------------------------

def test_map_keeps_order_and_isolates_failures():
    def handler(method, url, json, data, headers):
        if json['userName'] == 'bad':
            return FakeResponse(400, {'messages': [{'text': 'no such user'}], 'trackingId': 'tb'})
        return FakeResponse(200, dict(info_body(), identityId=json['userName']))

    c, s, dummy = make({('POST', Q): handler})
    users = ['u%d' % i for i in range(30)]
    users[7] = 'bad'
    out = c.map(lambda u: c.query_password_info(u, 'src')['identityId'], users, workers=4)
    assert [o for i, o in enumerate(out) if i != 7] == [u for i, u in enumerate(users) if i != 7]
    assert isinstance(out[7], IscError) and 'no such user' in str(out[7])
    assert s.tokens_issued == 1


def test_map_wraps_unexpected_exceptions():
    c, dummy, dummy2 = make({})
    out = c.map(lambda x: 1 / x, [1, 0, 2], workers=2)
    assert out[0] == 1 and out[2] == 0.5 and isinstance(out[1], IscError)


# ---- limiter ------------------------------------------------------------------------------------------

def test_limiter_window_with_fake_clock():
    clock = FakeClock(0.0)
    lim = RateLimiter(100, 10, clock=clock, sleep=clock.sleep)
    for dummy in range(100):
        assert lim.acquire() == 0
    assert clock.t == 0.0
    lim.acquire()
    # one window plus the safety margin (1% of the window, at most 0.1 s) for arrival jitter at ISC
    assert clock.t == pytest.approx(10.1)


def test_limiter_margin_is_small_for_short_windows():
    clock = FakeClock(0.0)
    lim = RateLimiter(5, 1, clock=clock, sleep=clock.sleep)
    for dummy in range(6):
        lim.acquire()
    assert clock.t == pytest.approx(1.01)


def test_token_requests_do_not_spend_the_api_budget():
    c, session, dummy = make({})
    c.limiter = RateLimiter(1, 10, clock=c.limiter._clock, sleep=c.limiter._sleep)
    c.authenticate()
    assert c.stats['tokens_fetched'] == 1
    assert c.limiter.snapshot()['starts'] == []


def test_limiter_never_exceeds_budget_across_threads():
    clock = FakeClock(0.0)
    lim = RateLimiter(10, 1, clock=clock, sleep=clock.sleep)
    starts = []
    lock = threading.Lock()

    def worker():
        for dummy in range(25):
            lim.acquire()
            with lock:
                starts.append(clock())

    threads = [threading.Thread(target=worker) for dummy in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 100
    for i in range(len(starts) - 10):
        assert starts[i + 10] - starts[i] >= 1.0 - 1e-9


def test_limiter_pause():
    clock = FakeClock(0.0)
    lim = RateLimiter(100, 10, clock=clock, sleep=clock.sleep)
    lim.pause(5)
    lim.acquire()
    assert clock.t >= 5


def test_client_limits_requests():
    c, s, clock = make({('POST', Q): ok_info()}, rate_limit=5, rate_window=10)
    for dummy in range(9):  # 1 token + 9 queries = 10 requests -> one full window waited
        c.query_password_info('u', 's')
    assert clock.t - 1000000.0 >= 10


# ---- the limiter's hand-over to the next task ----------------------------------------------------------

class FakeModule(object):
    def __init__(self, **params):
        self.params = dict(base_url=BASE, client_id='cid-123', client_secret=SECRET, **params)
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)

    def fail_json(self, **kw):
        raise AssertionError(kw)


def test_limiter_hand_over_works_without_token_cache(tmp_path):
    """Two tasks of a play (two clients) share one budget through the limiter's own file, token cache off."""
    state = tmp_path / 'limiter'
    session = FakeSession({('POST', Q): ok_info()})
    first, dummy, clock = make(session=session, token_cache=None, limiter_state=str(state), rate_limit=5, rate_window=10)
    for dummy in range(5):
        first.query_password_info('u', 's')
    assert clock.t == 1000000.0  # the whole budget, no wait
    first.close()
    files = os.listdir(state)
    assert len(files) == 1 and files[0].endswith('.v2024.limiter')
    assert stat.S_IMODE(os.stat(state / files[0]).st_mode) == 0o600
    saved = json.loads((state / files[0]).read_text())
    assert saved == {'starts': [1000000.0] * 5, 'paused_until': 0.0}
    second, dummy, clock2 = make(session=session, token_cache=None, limiter_state=str(state), rate_limit=5, rate_window=10)
    second.query_password_info('u', 's')
    assert clock2.t - 1000000.0 == pytest.approx(10.1)  # waited for the first task's window
    # without the hand-over file the next task would have started with a fresh budget
    third, dummy, clock3 = make(session=session, token_cache=None, rate_limit=5, rate_window=10)
    third.query_password_info('u', 's')
    assert clock3.t == 1000000.0


def test_limiter_hand_over_is_per_client_and_api_version(tmp_path):
    clients = [make(token_cache=None, limiter_state=str(tmp_path), api_version=version)[0] for version in ('v2024', 'v3')]
    other = IscClient(BASE, client_id='cid-other', client_secret=SECRET, session=FakeSession(), limiter_state=str(tmp_path))
    paths = [c.limiter.state_path for c in clients + [other]]
    assert len(set(paths)) == 3 and all(os.path.dirname(p) == str(tmp_path) for p in paths)
    assert all('cid' not in os.path.basename(p) for p in paths)


def test_from_module_hands_over_the_budget_with_token_cache_off(tmp_path, monkeypatch):
    monkeypatch.setattr(client_mod, 'DEFAULT_LIMITER_STATE', str(tmp_path / 'limiter'))
    monkeypatch.setattr(client_mod, '_new_session', FakeSession)
    monkeypatch.setattr(client_mod.atexit, 'register', lambda fn: None)
    for cache in (False, str(tmp_path / 'tokens')):
        client = IscClient.from_module(FakeModule(token_cache=cache))
        assert os.path.dirname(client.limiter.state_path) == str(tmp_path / 'limiter')
    given = IscClient.from_module(FakeModule(access_token='given-token-abc', token_cache=False))
    assert given.limiter.state_path is None  # a given token does not name its client, so its budget has no file


def test_limiter_hand_over_survives_a_broken_file(tmp_path):
    c, dummy, dummy2 = make(token_cache=None, limiter_state=str(tmp_path))
    with open(c.limiter.state_path, 'w') as handle:
        handle.write('{not json')
    again, dummy, clock = make({('POST', Q): ok_info()}, token_cache=None, limiter_state=str(tmp_path))
    again.query_password_info('u', 's')
    assert clock.t == 1000000.0


# ---- TLS errors: only a failed handshake is "not sent" ----------------------------------------------

def tls_error(text, cls=ssl.SSLError):
    """A requests SSLError shaped like the one requests raises: SSLError(MaxRetryError(reason=urllib3 SSLError(ssl error)))."""
    reason = urllib3.exceptions.SSLError(cls(1, text))
    return requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, BASE + S, reason))


BAD_RECORD_MAC = '[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed or bad record mac (_ssl.c:2580)'
UNEXPECTED_EOF = '[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:2427)'
CERT_FAILED = '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)'


@pytest.mark.parametrize('text', [BAD_RECORD_MAC, UNEXPECTED_EOF, 'sslv3 alert bad record mac'])
def test_set_password_tls_error_after_send_is_outcome_unknown(text):
    c, s, dummy = make({('POST', S): tls_error(text)})
    with pytest.raises(IscOutcomeUnknown) as e:
        c.set_password('ident1', 'src1', 'acct1', 'key1', 'ENCRYPTED')
    assert s.count('POST', S) == 1
    msg = str(e.value)
    assert 'outcome unknown' in msg and 'ca_path' not in msg and 'certificate' not in msg
    assert e.value.account_id == 'acct1'


def test_set_password_tls_error_in_body_read_is_outcome_unknown():
    # requests raises SSLError(urllib3 SSLError) without MaxRetryError when the body read breaks
    exc = requests.exceptions.SSLError(urllib3.exceptions.SSLError(ssl.SSLError(1, BAD_RECORD_MAC)))
    c, s, dummy = make({('POST', S): exc})
    with pytest.raises(IscOutcomeUnknown):
        c.set_password('i', 's', 'a', 'k', 'enc')
    assert s.count('POST', S) == 1


def test_query_tls_error_after_send_is_retried_without_certificate_hint():
    c, s, dummy = make({('POST', Q): [tls_error(BAD_RECORD_MAC), ok_info()]})
    assert c.query_password_info('u', 's')['sourceId']
    assert s.count('POST', Q) == 2 and c.stats['retries'] == 1
    c2, s2, dummy = make({('POST', Q): tls_error(BAD_RECORD_MAC)}, max_retries=1)
    with pytest.raises(IscError) as e:
        c2.query_password_info('u', 's')
    assert s2.count('POST', Q) == 2
    assert 'bad record mac' in str(e.value) and 'ca_path' not in str(e.value)


@pytest.mark.parametrize('cls', [ssl.SSLCertVerificationError, ssl.SSLError])
def test_set_password_certificate_failure_is_not_sent_and_not_retried(cls):
    c, s, dummy = make({('POST', S): tls_error(CERT_FAILED, cls)})
    with pytest.raises(IscError) as e:
        c.set_password('i', 's', 'a', 'k', 'enc')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert s.count('POST', S) == 1
    assert 'certificate verify failed: self-signed certificate' in str(e.value) and 'ca_path' in str(e.value)


# ---- redirects are answers, never followed ------------------------------------------------------------

@pytest.mark.parametrize('status', [301, 302, 307, 308])
def test_redirect_is_a_clear_error(status):
    moved = FakeResponse(status, None, headers={'Location': 'https://elsewhere.example.com/v2024/query-password-info'},
                         text='')
    c, s, dummy = make({('POST', Q): moved})
    with pytest.raises(IscError) as e:
        c.query_password_info('u', 's')
    msg = str(e.value)
    assert 'HTTP %d' % status in msg and 'https://elsewhere.example.com/v2024/query-password-info' in msg
    assert 'does not redirect' in msg and 'base_url' in msg
    assert e.value.status == status
    assert s.count('POST', Q) == 1


def test_set_password_redirect_is_a_plain_error():
    moved = FakeResponse(307, None, headers={'Location': 'https://elsewhere.example.com/x'}, text='')
    c, s, dummy = make({('POST', S): moved})
    with pytest.raises(IscError) as e:
        c.set_password('i', 's', 'a', 'k', 'enc')
    assert not isinstance(e.value, IscOutcomeUnknown)
    assert 'does not redirect' in str(e.value)
    assert s.count('POST', S) == 1


def test_token_redirect_is_a_clear_error():
    moved = FakeResponse(308, None, headers={'Location': 'https://elsewhere.example.com/oauth/token'}, text='')
    c, s, dummy = make({('POST', '/oauth/token'): moved})
    with pytest.raises(IscError) as e:
        c.authenticate()
    assert 'oauth-token failed: HTTP 308' in str(e.value) and 'does not redirect' in str(e.value)
    assert SECRET not in str(e.value)


# ---- plain http:// ----------------------------------------------------------------------------------

@pytest.mark.parametrize('url', ['http://127.0.0.1:8089', 'http://127.3.4.5', 'http://[::1]:9000', 'http://localhost:8089',
                                 'http://LOCALHOST', 'https://acme.api.identitynow.com', 'https://10.1.2.3'])
def test_http_to_loopback_or_https_is_silent(url):
    warnings = []
    IscClient(url, client_id='cid', client_secret=SECRET, session=FakeSession(), warn=warnings.append)
    assert warnings == []


@pytest.mark.parametrize('url', ['http://acme.api.identitynow.com', 'http://10.1.2.3:8080', 'http://proxy.corp.example',
                                 'http://127.0.0.1.nip.io', 'http://localhost.example.com', 'http://[fe80::1]:80'])
def test_http_to_another_host_warns(url):
    warnings = []
    c = IscClient(url, client_id='cid', client_secret=SECRET, session=FakeSession(), warn=warnings.append)
    assert len(warnings) == 1
    msg = warnings[0]
    assert c.base_url in msg and 'https://' in msg and 'unencrypted' in msg
    assert SECRET not in msg
    warnings = []
    IscClient(url, access_token='tok-abcdef', session=FakeSession(), warn=warnings.append)
    assert len(warnings) == 1


# ---- sync groups on every version --------------------------------------------------------------------

@pytest.mark.parametrize('version,path', [('v2024', '/v2024/password-sync-groups'), ('v3', '/v3/password-sync-groups'),
                                          ('beta', '/beta/password-sync-groups'), ('v1', '/password-sync-groups/v1')])
def test_sync_groups_path_per_version(version, path):
    assert api.operation_path(version, api.OP_SYNC_GROUPS) == path
    c, s, dummy = make({('GET', path): FakeResponse(200, [{'id': 'g1'}])}, api_version=version)
    assert c.list_password_sync_groups() == [{'id': 'g1'}]


# ---- source names ------------------------------------------------------------------------------------

def _filter_ids(query):
    params = parse_qs(query)
    assert params['limit'] == ['250']
    match = re.match(r'^id in \((.*)\)$', params['filters'][0])
    assert match, params['filters'][0]
    return [x.strip()[1:-1] for x in match.group(1).split(',')]


def _sources_handler(known):
    def handler(method, url, json, data, headers):
        ids = _filter_ids(urlsplit(url).query)
        return FakeResponse(200, [{'id': i, 'name': known[i], 'connector': 'x', 'owner': None} for i in ids if i in known])
    return handler


@pytest.mark.parametrize('version,path', [('v2024', '/v2024/sources'), ('v3', '/v3/sources'), ('beta', '/beta/sources'),
                                          ('v1', '/sources/v1')])
def test_list_sources_path_per_version(version, path):
    assert api.operation_path(version, api.OP_SOURCES) == path
    c, s, dummy = make({('GET', path): _sources_handler({'s1': 'My-AD', 's2': 'Corp-LDAP'})}, api_version=version)
    assert c.list_sources(['s1', 's2', 'nope']) == {'s1': 'My-AD', 's2': 'Corp-LDAP'}
    assert c.stats['requests'][api.OP_SOURCES] == 1


def test_list_sources_chunks_of_50():
    known = dict(('%032x' % i, 'Source-%d' % i) for i in range(120))
    c, s, dummy = make({('GET', '/v2024/sources'): _sources_handler(known)})
    ids = list(known) + list(known)[:10]  # duplicates are asked once
    assert c.list_sources(ids) == known
    chunks = [_filter_ids(x['query']) for x in s.calls if x['path'] == '/v2024/sources']
    assert [len(x) for x in chunks] == [50, 50, 20]
    assert sum(chunks, []) == list(known)
    assert c.stats['requests'][api.OP_SOURCES] == 3
    assert '%20' in [x['query'] for x in s.calls if x['path'] == '/v2024/sources'][0]


def test_list_sources_empty_sends_nothing():
    c, s, dummy = make({})
    assert c.list_sources([]) == {}
    assert s.calls == []


def test_list_sources_is_retried_like_other_reads():
    err = FakeResponse(503, None, text='')
    c, s, dummy = make({('GET', '/v2024/sources'): [err, conn_refused(), _sources_handler({'s1': 'My-AD'})]})
    assert c.list_sources(['s1']) == {'s1': 'My-AD'}
    assert s.count('GET', '/v2024/sources') == 3 and c.stats['retries'] == 2


def test_list_sources_quotes_filter_values_and_rejects_bad_shape():
    c, s, dummy = make({('GET', '/v2024/sources'): FakeResponse(200, {'not': 'a list'})})
    with pytest.raises(IscError, match='list-sources failed: unexpected response shape'):
        c.list_sources(['a"b\\c'])
    assert parse_qs(s.calls[-1]['query'])['filters'] == ['id in ("a\\"b\\\\c")']
