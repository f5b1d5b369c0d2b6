# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the client authenticates: OAuth client credentials (a token fetched, renewed and shared by the
tasks of a play through an encrypted cache) or a given access token (used as is). Each strategy checks
its inputs offline, before anything is sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time

try:
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:  # pragma: no cover - crypto.HAS_CRYPTOGRAPHY tells
    pass

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import HAS_CRYPTOGRAPHY
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import files
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import FileLock, ensure_private_dir, write_atomic

TOKEN_REFRESH_MARGIN = 60  # seconds of life left below which a token is renewed

NO_CREDENTIALS = ('no ISC credentials: set client_id and client_secret (or the SAIL_CLIENT_ID/SAIL_CLIENT_SECRET '
                  'environment variables), or access_token')


def _identity(base_url, client_id, client_secret):
    secret_mac = hmac.new(client_secret.encode('utf-8'), b'sailpoint_isc.passwords token-cache id',
                          hashlib.sha256).hexdigest()
    return '\0'.join((base_url, client_id, secret_mac)).encode('utf-8')


def credentials_key(base_url, client_id, client_secret):
    """A SHA-256 over the base URL, the client id and an HMAC of the secret: names a client's files
    (token cache entry, limiter hand-over) without revealing the client."""
    return hashlib.sha256(_identity(base_url, client_id, client_secret)).hexdigest()


class TokenCache(object):
    """An encrypted token cache shared by the tasks (processes) of a play.

    One file per (base_url, client_id, secret) in ``directory``, named by a SHA-256 over the
    base URL, the client id and an HMAC of the secret. The file holds the expiry time and the
    token encrypted with Fernet under a key derived from the client secret (HKDF-SHA256), so
    no token is readable from the file without the secret. Directory 0700, file 0600, written
    through a temp file and an atomic rename.
    """

    def __init__(self, location, base_url, client_id, client_secret):
        location = files.expand(location)
        ident = _identity(base_url, client_id, client_secret)
        self.key_id = hashlib.sha256(ident).hexdigest()
        if location.endswith('.json'):
            self.path = location
            self.directory = os.path.dirname(location) or '.'
        else:
            self.directory = location
            self.path = os.path.join(location, '%s.json' % self.key_id[:40])
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=hashlib.sha256(ident).digest(),
                    info=b'sailpoint_isc.passwords token-cache v1')
        self._fernet = Fernet(base64.urlsafe_b64encode(hkdf.derive(client_secret.encode('utf-8'))).decode('ascii'))

    def _read_all(self):
        try:
            with open(self.path, 'r') as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self):
        """(token, expires_at) or (None, None)."""
        return self.load_entry()[:2]

    def load_entry(self):
        """(token, expires_at, scope) or (None, None, None); scope is the token's granted scopes (a string) or None."""
        entry = self._read_all().get(self.key_id)
        if not isinstance(entry, dict):
            return None, None, None
        try:
            token = self._fernet.decrypt(entry['token'].encode('ascii')).decode('utf-8')
            scope = entry.get('scope')
            return token, float(entry['expires_at']), scope if isinstance(scope, str) else None
        except (KeyError, TypeError, ValueError, InvalidToken):
            return None, None, None

    def store(self, token, expires_at, scope=None):
        ensure_private_dir(self.directory)
        data = self._read_all()
        now = time.time()
        # drop other entries that expired long ago (shared single-file form)
        data = dict((k, v) for k, v in data.items()
                    if isinstance(v, dict) and float(v.get('expires_at', 0) or 0) > now - 3600)
        data[self.key_id] = {
            'expires_at': expires_at,
            'token': self._fernet.encrypt(token.encode('utf-8')).decode('ascii'),
            'scope': scope,  # what ISC granted (not a secret): a job checks its rights without a request
        }
        write_atomic(self.path, json.dumps(data))

    def lock(self):
        return FileLock(self.path + '.lock')


class GivenToken(object):
    """A ready bearer token (access_token): used as is, never cached and never refreshed."""

    refreshable = False
    key = None  # the client behind the token is unknown, so its rate budget has no name
    scope = None  # and so are its scopes

    def __init__(self, access_token):
        if not access_token:
            raise IscError(NO_CREDENTIALS)
        self.token = access_token

    def use_cache(self, location, base_url):
        """A given token is not cached."""

    def bearer(self, fetch, force_refresh=False):
        return self.token


class ClientCredentials(object):
    """OAuth client credentials: a token fetched with the id and secret, renewed when less than
    TOKEN_REFRESH_MARGIN seconds of its life remain, and (with use_cache) shared through a TokenCache."""

    refreshable = True

    def __init__(self, base_url, client_id, client_secret, clock, warn=None, on_cache_hit=None):
        if not (client_id and client_secret):
            raise IscError(NO_CREDENTIALS)
        self.client_id = client_id
        self._secret = client_secret
        self.key = credentials_key(base_url, client_id, client_secret)
        self._clock = clock
        self._warn = warn
        self._on_cache_hit = on_cache_hit
        self._lock = threading.RLock()
        self.cache = None
        self.token = None
        self.expires = 0.0
        self.scope = None  # the scopes ISC granted the token (space-separated), None when it did not say

    def use_cache(self, location, base_url):
        if not HAS_CRYPTOGRAPHY:
            raise IscError(missing_required_lib('cryptography'))
        self.cache = TokenCache(location, base_url, self.client_id, self._secret)

    def token_request(self):
        """The form of the token request."""
        return {'grant_type': 'client_credentials', 'client_id': self.client_id, 'client_secret': self._secret}

    def bearer(self, fetch, force_refresh=False):
        """A token with life left; ``fetch()`` -> (token, expires_at, scope) asks ISC for a new one."""
        with self._lock:
            now = self._clock()
            if not force_refresh and self.token and self.expires - now > TOKEN_REFRESH_MARGIN:
                return self.token
            stale = self.token if force_refresh else None
            if self.cache is None:
                self.token, self.expires, self.scope = fetch()
                return self.token
            with self.cache.lock():
                token, expires, scope = self.cache.load_entry()
                if token and token != stale and expires - now > TOKEN_REFRESH_MARGIN:
                    if self._on_cache_hit:
                        self._on_cache_hit()
                    self.token, self.expires, self.scope = token, expires, scope
                    return token
                self.token, self.expires, self.scope = fetch()
                try:
                    self.cache.store(self.token, self.expires, self.scope)
                except OSError as exc:
                    if self._warn:
                        self._warn('could not write the token cache %s: %s' % (self.cache.path, exc.strerror or exc))
                return self.token


def strategy(base_url, client_id, client_secret, access_token, clock, warn=None, on_cache_hit=None):
    """The strategy for the given credentials (a given token wins), checked offline: raises IscError."""
    if access_token:
        return GivenToken(access_token)
    return ClientCredentials(base_url, client_id, client_secret, clock, warn=warn, on_cache_hit=on_cache_hit)
