# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of ISC calls: the exceptions, one readable line per failure with its hint, and what a
transport exception says about the request (a TLS certificate problem, or whether it may have left)."""

from __future__ import annotations

import re
import ssl

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operation_names import (
    OP_DIGIT,
    OP_QUERY,
    OP_SET,
    OP_SOURCE_POLICIES_UPDATE,
    OP_SOURCES,
    OP_STATUS,
    OP_TOKEN,
    USER_TOKEN_READS,
    USER_TOKEN_WRITES,
)

HINT_URL = 'check base_url/tenant: the tenant API URL looks wrong'
HINT_CREDENTIALS = 'check client_id/client_secret'
HINT_PAT = 'personal access tokens are refused here; use an API client (client credentials)'
HINT_USER_TOKEN = ('ISC answers this call only for a user-context token: give the personal access token (PAT) of '
                   'an ORG_ADMIN user as client_id/client_secret (or SAIL_CLIENT_ID/SAIL_CLIENT_SECRET); an API '
                   "client's client-credentials token gets 403 here. Keep API clients for rotation jobs")
HINT_PASSWORD_FEATURE = 'enable the PASSWORD feature on the source (PATCH the source\'s features)'
# set-password of an account its query found a moment before: the world moved in between (red team round 2)
HINT_ACCOUNT_MOVED = ('the account, its identity or its source is no longer where the query found it (renamed, moved '
                      'to another identity, or deleted); the password was not set. If it was renamed or moved, list it '
                      'under its new user_name/account_id; the next run retires this key if ISC no longer knows it')


class IscError(Exception):
    """An ISC call failed; ``str(exc)`` is one readable line without secrets."""

    def __init__(self, message, status=None, operation=None, tracking_id=None, detail_code=None):
        super(IscError, self).__init__(message)
        self.message = message
        self.status = status
        self.operation = operation
        self.tracking_id = tracking_id
        self.detail_code = detail_code  # ISC's detailCode, e.g. '400.1.404 Referenced object not found'

    def __str__(self):
        return self.message


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


# --------------------------------------------------------------------------------------------
# Error lines

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


def _config_hint(operation, status):
    """The hint for a 403 of a configuration call, labelled "<METHOD> <operation>" by IscClient.call."""
    method, _sep, name = operation.partition(' ')
    if status != 403 or not name:
        return None
    if name in USER_TOKEN_READS or (method != 'GET' and name in USER_TOKEN_WRITES):
        return HINT_USER_TOKEN
    if name == OP_SOURCE_POLICIES_UPDATE:
        return 'changing the policy holders of a source needs the idn:sources:manage scope'
    return 'the credential lacks the scope to %s %s' % ('read' if method == 'GET' else 'change', name)


def _hint(operation, status, text, connection_error=False):
    low = (text or '').lower()
    if connection_error:
        return HINT_URL
    config = _config_hint(operation, status)
    if config:
        return config
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
    if operation == OP_SET and status == 400 and 'not found' in low:
        return HINT_ACCOUNT_MOVED
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
    if status == 403 and isinstance(body, dict) and body.get('messages'):
        # ISC's 403 message is generic; its causes say which right is missing
        causes = _messages_text({'causes': body.get('causes')})
        text = '; '.join(t for t in (text, causes) if t)
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


def json_or_none(resp):
    try:
        return resp.json()
    except Exception:  # noqa: BLE001 - any undecodable body
        return None


def response_failure(operation, resp):
    """(message, IscError keywords) for an answer that ends the request: a redirect or an error status."""
    status = resp.status_code
    if 300 <= status < 400:
        # never followed (see client._NoRedirectSession): an answer, so set-password was not accepted either
        location = (resp.headers.get('Location') or '').strip()
        return ('%s failed: HTTP %s redirect to %s; ISC does not redirect API calls, so it was not followed; '
                'hint: check base_url (the https:// tenant API root, e.g. https://acme.api.identitynow.com)'
                % (operation, status, location[:300] or 'no Location'), {'status': status, 'operation': operation})
    body = json_or_none(resp)
    if body is None and resp.text:
        body = {'message': resp.text.strip()[:200]}
    msg, tracking_id = format_error(operation, status, body)
    detail = body.get('detailCode') if isinstance(body, dict) and isinstance(body.get('detailCode'), str) else None
    return msg, {'status': status, 'operation': operation, 'tracking_id': tracking_id, 'detail_code': detail}


# ISC's answer for an identity, source, account or request it does not know (any more); the gateway's
# sub-code of 400 where an operation's document lists no 404 (ISC_FACTS section 8)
REFERENCED_OBJECT_MISSING = '400.1.404'


def referenced_object_missing(error):
    """Whether an error says only that ISC does not know the object named: a 404, or a 400 whose detailCode
    is 400.1.404 (Referenced object not found). Any other 4xx (a bad request, refused credentials) is not."""
    if not isinstance(error, IscError):
        return False
    if error.status == 404:
        return True
    return error.status == 400 and (error.detail_code or '').split(' ', 1)[0] == REFERENCED_OBJECT_MISSING


def transport_failure(operation, base_url, exc):
    """The message for a request whose connection failed for good (no retry left, or none allowed)."""
    kind = failure_kind(exc)
    if kind == 'certificate':
        # a certificate problem does not go away by retrying; nothing was sent
        return ('%s failed: the TLS certificate of %s was not accepted (%s); hint: set ca_path to the PEM file '
                'of the CA that signed it (or validate_certs: false, which is insecure)'
                % (operation, base_url, _tls_reason(exc)))
    if kind == 'handshake':
        return ('%s failed: the TLS handshake with %s failed (%s); hint: check that base_url is the https:// '
                'address of the tenant API (no port of a plain HTTP service)' % (operation, base_url, exception_text(exc)))
    if kind == 'tls':
        return '%s failed: the TLS connection to %s broke (%s)' % (operation, base_url, exception_text(exc))
    return '%s failed: cannot reach %s (%s); hint: %s' % (operation, base_url, exception_text(exc), HINT_URL)


def unknown_outcome_reason(operation, exc=None, resp=None):
    """Why a request that may have reached ISC has an unknown outcome: (reason, IscError keywords)."""
    if exc is not None:
        return 'the connection failed after the request was sent (%s)' % exception_text(exc), {}
    msg, tracking_id = format_error(operation, resp.status_code, json_or_none(resp))
    return 'ISC answered HTTP %s (%s)' % (resp.status_code, msg), {'status': resp.status_code, 'tracking_id': tracking_id}


def outcome_unknown_message(operation, why, context):
    """The line of an IscOutcomeUnknown: what may have happened, what to do, and the ids it concerns."""
    ctx = dict(context or {})
    ids = ', '.join('%s %s' % (k, ctx[k]) for k in ('identity_id', 'source_id', 'account_id', 'public_key_id')
                    if ctx.get(k))
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
    return msg


# --------------------------------------------------------------------------------------------
# What a transport exception says

def _requests_exceptions():
    """requests' exceptions, imported here rather than at the top: only the client's failures come this way, and a
    module run that never talks to ISC (most of them) should not pay for importing requests. client.py reports a
    missing library before anything is sent."""
    import requests.exceptions
    return requests.exceptions


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
    if not isinstance(exc, _requests_exceptions().SSLError):
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


def failure_kind(exc):
    """What a requests exception is, for the retry table: 'certificate', 'handshake', 'tls' or 'connection'."""
    tls_kind = _tls_failure_kind(exc)
    if tls_kind is None:
        return 'connection'
    return 'tls' if tls_kind == 'unknown' else tls_kind


def may_have_been_sent(exc):
    """False only when a requests exception proves that no byte of the request left this machine."""
    rex = _requests_exceptions()
    if isinstance(exc, rex.ConnectTimeout):
        return False
    if isinstance(exc, (rex.ReadTimeout, rex.ChunkedEncodingError)):
        return True
    if isinstance(exc, rex.SSLError):
        return _tls_failure_kind(exc) not in ('certificate', 'handshake')
    if isinstance(exc, rex.ConnectionError):
        for cur in _exception_chain(exc):
            if type(cur).__name__ in ('NewConnectionError', 'NameResolutionError', 'ConnectTimeoutError',
                                      'ConnectionRefusedError', 'gaierror'):
                return False
        return True
    return True


def _tls_reason(exc):
    """The short reason of a TLS failure (for example 'certificate verify failed: self-signed certificate')."""
    text = str(exc)
    for pattern in (r'certificate verify failed: [^()\'"]+', r"Hostname mismatch[^()'\"]*", r'\[SSL: [A-Z_]+\][^()\'"]*'):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip(' .,')
    return type(exc).__name__


def exception_text(exc):
    """The exception's class name, with the short reason for a TLS failure."""
    if _tls_failure_kind(exc):
        return '%s: %s' % (type(exc).__name__, _tls_reason(exc))
    return type(exc).__name__
