# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on_change fingerprint file."""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import fingerprint as fp


def test_record_and_match(tmp_path):
    path = tmp_path / 'd' / 'fp.json'
    store = fp.FingerprintStore(str(path), iterations=1000)
    key = fp.fingerprint_key('https://x', 'src', 'acct')
    assert not store.matches(key, 'Secret-Pa55')
    store.record(key, 'Secret-Pa55')
    assert store.matches(key, 'Secret-Pa55')
    assert not store.matches(key, 'Secret-Pa56')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    text = path.read_text()
    assert 'Secret-Pa55' not in text and 'acct' not in text
    entry = json.loads(text)['entries'][key]
    assert entry['kdf'] == 'pbkdf2-sha256' and entry['iterations'] == 1000 and entry['state'] == 'confirmed'


def test_default_kdf_is_slow_and_salted(tmp_path):
    store = fp.FingerprintStore(str(tmp_path / 'fp.json'))
    a = store.record('k1', 'same-password')
    b = store.record('k2', 'same-password')
    assert a['iterations'] >= 200000
    assert a['salt'] != b['salt'] and a['hash'] != b['hash']


def test_pending_state_and_forget(tmp_path):
    store = fp.FingerprintStore(str(tmp_path / 'fp.json'), iterations=1000)
    store.record('k', 'pw', fp.STATE_PENDING, 'req-1')
    e = store.get('k')
    assert e['state'] == 'pending' and e['request_id'] == 'req-1'
    store.set_state('k', fp.STATE_CONFIRMED)
    e = store.get('k')
    assert e['state'] == 'confirmed' and 'request_id' not in e
    store.forget('k')
    assert store.get('k') is None
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.fp-')]


def test_corrupt_file_is_treated_as_empty(tmp_path):
    path = tmp_path / 'fp.json'
    path.write_text('{not json')
    store = fp.FingerprintStore(str(path), iterations=1000)
    assert store.get('k') is None
    store.record('k', 'pw')
    assert store.matches('k', 'pw')


def test_default_path_follows_xdg_cache_home_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert fp.default_path({}) == str(tmp_path / 'home' / '.cache' / 'sailpoint_isc' / 'fingerprints.json')
    assert fp.default_path({'XDG_CACHE_HOME': '/var/cache/u'}) == '/var/cache/u/sailpoint_isc/fingerprints.json'
    # the XDG spec: a relative value is ignored
    assert fp.default_path({'XDG_CACHE_HOME': 'rel'}) == fp.default_path({})
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert fp.FingerprintStore().path == str(tmp_path / 'xdg' / 'sailpoint_isc' / 'fingerprints.json')
    assert fp.FingerprintStore('~/state/fp.json').path == str(tmp_path / 'home' / 'state' / 'fp.json')


def test_forget_without_entry_writes_nothing(tmp_path):
    # a change made with an encrypted password forgets the account: that must not create files
    store = fp.FingerprintStore(str(tmp_path / 'd' / 'fp.json'), iterations=1000)
    store.forget('k')
    assert not (tmp_path / 'd').exists()
    store.record('k', 'pw')
    before = (tmp_path / 'd' / 'fp.json').stat().st_mtime_ns
    store.forget('other')
    assert (tmp_path / 'd' / 'fp.json').stat().st_mtime_ns == before
    store.forget('k')
    assert store.get('k') is None
