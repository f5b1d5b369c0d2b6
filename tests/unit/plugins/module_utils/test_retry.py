# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The retry policy on its own: every row of retry.decide, the backoff and Retry-After."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import retry
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.retry import (
    FAIL,
    REFRESH,
    RETRY,
    SUCCEED,
    THROTTLE,
    UNKNOWN,
    backoff,
    decide,
    parse_retry_after,
)

SAFE, UNSAFE = True, False

# (case, decide's arguments, expected action, expected wait); jitter 0.5 makes the backoff factor 0.75.
ROWS = [
    # ---- the transport failed: no answer
    ('certificate: never retried, even a safe request', dict(safe=SAFE, attempt=0, failure='certificate', sent=False),
     FAIL, 0.0),
    ('certificate of an unsafe request: a plain failure, nothing was sent',
     dict(safe=UNSAFE, attempt=0, failure='certificate', sent=False), FAIL, 0.0),
    ('unsafe request that may have left: outcome unknown', dict(safe=UNSAFE, attempt=0, failure='connection', sent=True),
     UNKNOWN, 0.0),
    ('unsafe request, TLS broke after the handshake', dict(safe=UNSAFE, attempt=0, failure='tls', sent=True), UNKNOWN, 0.0),
    ('unsafe request refused before it left: retried', dict(safe=UNSAFE, attempt=0, failure='connection', sent=False),
     RETRY, 0.375),
    ('unsafe request, failed handshake: retried', dict(safe=UNSAFE, attempt=1, failure='handshake', sent=False), RETRY, 0.75),
    ('safe request: retried with backoff', dict(safe=SAFE, attempt=2, failure='connection', sent=True), RETRY, 1.5),
    ('safe request, retries used up', dict(safe=SAFE, attempt=5, failure='connection', sent=True), FAIL, 0.0),
    ('safe request, retries off', dict(safe=SAFE, attempt=0, max_retries=0, failure='tls', sent=True), FAIL, 0.0),
    ('unsafe request not sent, retries used up', dict(safe=UNSAFE, attempt=5, failure='connection', sent=False), FAIL, 0.0),
    # ---- ISC answered
    ('redirect: never followed', dict(safe=SAFE, attempt=0, status=302), FAIL, 0.0),
    ('redirect of an unsafe request: an answer, not an unknown outcome', dict(safe=UNSAFE, attempt=0, status=307), FAIL, 0.0),
    ('429 with Retry-After', dict(safe=SAFE, attempt=0, status=429, retry_after=7.0), THROTTLE, 7.0),
    ('429 of an unsafe request: ISC did not take it, so it is sent again',
     dict(safe=UNSAFE, attempt=5, status=429, retry_after=2.0), THROTTLE, 2.0),
    ('429 Retry-After capped', dict(safe=SAFE, attempt=0, status=429, retry_after=3600.0), THROTTLE, retry.RETRY_AFTER_CAP),
    ('429 without Retry-After: backoff of the 429 count', dict(safe=SAFE, attempt=0, status=429, throttled=1),
     THROTTLE, 1.5),
    ('429 without Retry-After: backoff stops growing at the 6th', dict(safe=SAFE, attempt=0, status=429, throttled=20),
     THROTTLE, 22.5),
    ('429 the last time it is honoured', dict(safe=SAFE, attempt=0, status=429, retry_after=1.0,
                                              throttled=retry.MAX_429_RETRIES - 1), THROTTLE, 1.0),
    ('429 too many times', dict(safe=SAFE, attempt=0, status=429, retry_after=1.0, throttled=retry.MAX_429_RETRIES),
     FAIL, 0.0),
    ('401 with a token that can be renewed', dict(safe=UNSAFE, attempt=0, status=401, can_refresh=True), REFRESH, 0.0),
    ('401 again, or a given token', dict(safe=SAFE, attempt=0, status=401, can_refresh=False), FAIL, 0.0),
    ('5xx of an unsafe request: outcome unknown, even with retries left', dict(safe=UNSAFE, attempt=0, status=500),
     UNKNOWN, 0.0),
    ('5xx of a safe request: retried', dict(safe=SAFE, attempt=0, status=503), RETRY, 0.375),
    ('5xx of a safe request, retries used up', dict(safe=SAFE, attempt=5, status=502), FAIL, 0.0),
    ('2xx', dict(safe=UNSAFE, attempt=0, status=202), SUCCEED, 0.0),
    ('2xx after retries', dict(safe=SAFE, attempt=3, status=200, throttled=4), SUCCEED, 0.0),
    ('other 4xx: the answer is the error', dict(safe=SAFE, attempt=0, status=404), FAIL, 0.0),
    ('403 with a token that could be renewed: not a token problem', dict(safe=SAFE, attempt=0, status=403, can_refresh=True),
     FAIL, 0.0),
    ('1xx is not an answer to use', dict(safe=SAFE, attempt=0, status=101), FAIL, 0.0),
]


@pytest.mark.parametrize('case,kwargs,action,wait', ROWS, ids=[row[0] for row in ROWS])
def test_decision_table(case, kwargs, action, wait):
    kwargs = dict(kwargs)
    decision = decide(kwargs.pop('safe'), kwargs.pop('attempt'), kwargs.pop('max_retries', 5), jitter=0.5, **kwargs)
    assert decision.action == action, case
    assert decision.wait == pytest.approx(wait), case


def test_decide_is_pure():
    args = dict(status=429, throttled=3, jitter=0.25)
    assert decide(SAFE, 0, 5, **args) == decide(SAFE, 0, 5, **args)


def test_backoff_grows_is_capped_and_jittered():
    assert [backoff(n, 0.0) for n in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert backoff(10, 0.0) == retry.BACKOFF_CAP / 2
    assert backoff(10, 0.999999) == pytest.approx(retry.BACKOFF_CAP)


def test_retry_after_seconds_and_dates():
    now = 1700000000.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after(' 7 ', now) == 7.0
    assert parse_retry_after('-3', now) == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after('soon', now) is None
