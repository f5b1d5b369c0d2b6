# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake HTTP transport and clock for client tests (no network, no sleeping)."""

from __future__ import annotations

import base64
import json as _json
import threading
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY_B64 = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

SECRET = 'sUp3r-s3cret-value-xyz'
BASE = 'https://acme.api.identitynow.com'


class FakeClock(object):
    """A clock that moves only when slept on, or by ``tick`` seconds at every read (a scheduler that never sleeps,
    such as rotation.Apply polling with poll_interval 0, still reaches its deadlines)."""

    def __init__(self, start=1000000.0, tick=0.0):
        self.t = start
        self.tick = tick
        self.sleeps = []
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self.t += self.tick
            return self.t

    def sleep(self, seconds):
        with self._lock:
            self.sleeps.append(seconds)
            self.t += seconds


class FakeResponse(object):
    def __init__(self, status, body=None, headers=None, text=None):
        self.status_code = status
        self._body = body
        self.headers = headers or {}
        if text is not None:
            self.text = text
        else:
            self.text = '' if body is None else _json.dumps(body)

    def json(self):
        if self._body is None:
            raise ValueError('no json')
        return self._body


class FakeSession(object):
    """Routes requests to ``handlers[(method, path)]``: a response, an exception, or a list of them
    (consumed in order; the last one repeats). Token requests are answered automatically."""

    def __init__(self, handlers=None, token_lifetime=750):
        self.headers = {}
        self.verify = True
        self.handlers = dict(handlers or {})
        self.calls = []
        self.tokens_issued = 0
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()

    def count(self, method, path):
        return sum(1 for c in self.calls if c['method'] == method and c['path'] == path)

    def request(self, method, url, json=None, data=None, headers=None, timeout=None, verify=None):
        parts = urlsplit(url)
        path = parts.path
        with self._lock:
            self.calls.append({'method': method, 'url': url, 'path': path, 'json': json, 'data': data,
                               'headers': dict(headers or {}), 'query': parts.query,
                               'verify': self.verify if verify is None else verify})
            key = (method, path)
            if key not in self.handlers and path == '/oauth/token':
                self.tokens_issued += 1
                return FakeResponse(200, {'access_token': 'tok-%d' % self.tokens_issued,
                                          'token_type': 'bearer', 'expires_in': self.token_lifetime})
            handler = self.handlers.get(key)
            if handler is None:
                return FakeResponse(404, {'detailCode': '404 Not found', 'trackingId': 'nf1',
                                          'messages': [{'text': 'The server did not find a current '
                                                        'representation for the target resource.'}]})
            if isinstance(handler, list):
                item = handler.pop(0) if len(handler) > 1 else handler[0]
            else:
                item = handler
        if callable(item) and not isinstance(item, FakeResponse):
            item = item(method, url, json, data, headers)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        pass


def info_body(accounts=None, policies=None):
    return {
        'identityId': '2c9180835d2e5168015d32f890ca1581',
        'sourceId': '2c918083670df373016835a78a9ed2e0',
        'publicKeyId': 'N2M1OTJiMGEtMDJlZS00ZWU3LTkyYTEtNjA5YmI5NWE3ZWVh',
        'publicKey': PUBLIC_KEY_B64,
        'accounts': accounts if accounts is not None else [
            {'accountId': 'CN=Abby Smith,OU=Austin,DC=example,DC=com', 'accountName': 'Abby.Smith'}],
        'policies': policies if policies is not None else [
            'passwordRepeatedChar is 3', 'passwordMinAlpha is 1', 'passwordMinLength is 5',
            'passwordMinNumeric is 1'],
    }
