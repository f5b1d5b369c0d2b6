# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""Local memory of the last password this controller set per account (update_password=on_change).

ISC cannot tell whether a password is already current, so ``on_change`` compares the wanted
password with a fingerprint of the last one set from here. The file holds, per account, a
random salt and PBKDF2-HMAC-SHA256 (200,000 iterations) of the password - never the password.
Account keys are SHA-256 digests of (base URL, source id, account id). The file is mode 0600
in a 0700 directory and every update is a locked read-modify-write with an atomic rename.

Every set-password made with a clear password records its fingerprint, whatever
``update_password`` says: ``on_change`` compares with the last password set from here, not only
with the last one set in ``on_change`` mode. An entry is ``confirmed`` once ISC reported FINISHED,
or ``pending`` (with the request id) when ISC accepted the change but had not finished it; a
pending entry is resolved by asking ISC for the request's status on the next ``on_change`` run.
A change that FAILED, whose outcome is unknown, or that was made with an already encrypted
password forgets the account's entry.

The default file is ``$XDG_CACHE_HOME/sailpoint_isc/fingerprints.json``, or
``~/.cache/sailpoint_isc/fingerprints.json`` when XDG_CACHE_HOME is not set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import CACHE_ROOT, FileLock, expand, write_atomic

DEFAULT_PATH = CACHE_ROOT + '/fingerprints.json'
KDF = 'pbkdf2-sha256'
ITERATIONS = 200000
STATE_CONFIRMED = 'confirmed'
STATE_PENDING = 'pending'


def fingerprint_key(base_url, source_id, account_id):
    """The fingerprint file's name for an account (a hash: the file does not say which accounts it knows)."""
    return hashlib.sha256('\0'.join((base_url or '', source_id or '', account_id or ''))
                          .encode('utf-8')).hexdigest()


def default_path(environ=None):
    """The fingerprint file when none is given: under XDG_CACHE_HOME if set, else ~/.cache."""
    return expand(DEFAULT_PATH, environ)


def _derive(password, salt, iterations=ITERATIONS):
    return hashlib.pbkdf2_hmac('sha256', password.encode('utf-8'), salt, iterations)


class FingerprintStore(object):

    def __init__(self, path=None, iterations=ITERATIONS):
        self.path = os.path.expanduser(path) if path else default_path()
        self.iterations = iterations

    # ---- file handling ----------------------------------------------------------------------
    def _read(self):
        try:
            with open(self.path, 'r') as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        entries = data.get('entries') if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _write(self, entries):
        write_atomic(self.path, json.dumps({'version': 1, 'entries': entries}, indent=1, sort_keys=True))

    def _locked(self):
        return FileLock(self.path + '.lock')

    # ---- API ----------------------------------------------------------------------------------
    def get(self, key):
        entry = self._read().get(key)
        return entry if isinstance(entry, dict) else None

    def matches(self, key, password):
        """True when ``password`` equals the one fingerprinted for ``key`` (any state)."""
        entry = self.get(key)
        return entry is not None and self.entry_matches(entry, password)

    def entry_matches(self, entry, password):
        try:
            salt = base64.b64decode(entry['salt'])
            want = base64.b64decode(entry['hash'])
            iterations = int(entry.get('iterations', ITERATIONS))
        except (KeyError, TypeError, ValueError):
            return False
        if entry.get('kdf', KDF) != KDF:
            return False
        return hmac.compare_digest(_derive(password, salt, iterations), want)

    def record(self, key, password, state=STATE_CONFIRMED, request_id=None):
        salt = os.urandom(16)
        entry = {
            'kdf': KDF,
            'iterations': self.iterations,
            'salt': base64.b64encode(salt).decode('ascii'),
            'hash': base64.b64encode(_derive(password, salt, self.iterations)).decode('ascii'),
            'state': state,
            'updated': int(time.time()),
        }
        if request_id:
            entry['request_id'] = request_id
        self._update(key, entry)
        return entry

    def set_state(self, key, state):
        entry = self.get(key)
        if entry is None:
            return
        entry = dict(entry, state=state, updated=int(time.time()))
        if state == STATE_CONFIRMED:
            entry.pop('request_id', None)
        self._update(key, entry)

    def forget(self, key):
        """Drop the entry of ``key``; writes nothing when there is no such entry (nor any file)."""
        if not os.path.exists(self.path):
            return
        self._update(key, None)

    def _update(self, key, entry):
        with self._locked():
            entries = self._read()
            if entry is None:
                if key not in entries:
                    return
                entries.pop(key)
            else:
                entries[key] = entry
            self._write(entries)
