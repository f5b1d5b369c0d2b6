# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a request is sent again: the retry policy as one pure decision table.

``decide`` looks at one outcome of one attempt (an HTTP status, or the kind of a transport failure)
and says what comes next. It sends, sleeps and counts nothing itself: IscClient._send does what the
decision says. A new retry rule is a new row here and a new case in tests/unit/.../test_retry.py.
"""

from __future__ import annotations

import collections
import datetime
import email.utils

MAX_429_RETRIES = 50  # a 429 is always honoured, but not forever
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 300.0

# What to do next.
SUCCEED = 'succeed'  # hand the answer to the operation
RETRY = 'retry'  # send again after ``wait`` seconds (a transient failure of a request that may be repeated)
THROTTLE = 'throttle'  # ISC answered 429: hold back ``wait`` seconds, then send again
REFRESH = 'refresh'  # the token was refused: fetch a new one and send again at once
FAIL = 'fail'  # give up with the error of this answer or failure
UNKNOWN = 'unknown'  # give up: the request may have reached ISC, and it must not be sent again

Decision = collections.namedtuple('Decision', 'action wait')


def backoff(attempt, jitter):
    """Exponential backoff for retry number ``attempt`` (0 first), scaled by 0.5-1.0 (``jitter`` in [0, 1))."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt)) * (0.5 + jitter / 2)


def decide(safe, attempt, max_retries, status=None, failure=None, sent=True, retry_after=None,
           throttled=0, can_refresh=False, jitter=0.5):
    """What follows one attempt of a request.

    safe: the request may be repeated (it changes nothing, or nothing twice). attempt: retries after
    transient failures so far. status: the HTTP status of the answer, or None when the transport
    failed with ``failure`` ('certificate', 'handshake', 'tls' or 'connection'). sent: the request may
    have left this machine. retry_after: the seconds of a 429's Retry-After (None without one).
    throttled: 429s answered before this one. can_refresh: a new token could be fetched and has not
    been yet for this request. jitter: a random number in [0, 1) that spreads the backoff.
    """
    if status is None:
        if failure == 'certificate':
            return Decision(FAIL, 0.0)  # a certificate problem does not go away by retrying
        if not safe and sent:
            return Decision(UNKNOWN, 0.0)
        if attempt < max_retries:
            return Decision(RETRY, backoff(attempt, jitter))
        return Decision(FAIL, 0.0)
    if 300 <= status < 400:
        return Decision(FAIL, 0.0)  # ISC does not redirect; a redirect is never followed
    if status == 429:
        wait = retry_after if retry_after is not None else backoff(min(throttled + 1, 6), jitter)
        if throttled + 1 <= MAX_429_RETRIES:
            return Decision(THROTTLE, min(wait, RETRY_AFTER_CAP))
        return Decision(FAIL, 0.0)
    if status == 401 and can_refresh:
        return Decision(REFRESH, 0.0)
    if status >= 500:
        if not safe:
            return Decision(UNKNOWN, 0.0)
        if attempt < max_retries:
            return Decision(RETRY, backoff(attempt, jitter))
        return Decision(FAIL, 0.0)
    if 200 <= status < 300:
        return Decision(SUCCEED, 0.0)
    return Decision(FAIL, 0.0)


def parse_retry_after(value, now):
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
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
