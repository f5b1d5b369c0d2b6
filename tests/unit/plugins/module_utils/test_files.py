# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import stat
import threading
import time

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import files
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import FileLock, write_atomic


def test_write_atomic_creates_private_dir_and_mode(tmp_path):
    path = tmp_path / 'new' / 'state.json'
    write_atomic(str(path), '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    write_atomic(str(path), b'bytes', 0o644)
    assert path.read_bytes() == b'bytes'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(path.parent) == ['state.json']  # no temp file left behind


def test_write_atomic_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / 'state.json'
    write_atomic(str(path), 'old')
    with pytest.raises(TypeError):
        write_atomic(str(path), 12345)  # not str or bytes: fails while writing the temp file
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['state.json']


def test_file_lock_is_exclusive(tmp_path):
    lock_path = str(tmp_path / 'x.lock')
    order = []

    def other():
        with FileLock(lock_path):
            order.append('other')

    with FileLock(lock_path, required=True):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.2)
        order.append('first')
    thread.join(5)
    assert order == ['first', 'other']


def test_required_lock_raises_without_fcntl(tmp_path, monkeypatch):
    monkeypatch.setattr(files, 'HAS_FCNTL', False)
    with FileLock(str(tmp_path / 'y.lock')):
        pass  # optional lock degrades to none
    with pytest.raises(OSError):
        with FileLock(str(tmp_path / 'z.lock'), required=True):
            pass


def test_the_cache_root_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert files.expand(files.CACHE_ROOT + '/tokens', {}) == str(tmp_path / 'home' / '.cache' / 'sailpoint_isc' / 'tokens')
    assert files.expand(files.CACHE_ROOT + '/tokens', {'XDG_CACHE_HOME': '/var/cache/u'}) == '/var/cache/u/sailpoint_isc/tokens'
    assert files.expand(files.CACHE_ROOT, {'XDG_CACHE_HOME': '/var/cache/u'}) == '/var/cache/u/sailpoint_isc'
    # a relative XDG_CACHE_HOME is ignored (the XDG rule); a path outside the cache root only loses its ~
    assert files.expand(files.CACHE_ROOT + '/x', {'XDG_CACHE_HOME': 'rel'}) == files.expand(files.CACHE_ROOT + '/x', {})
    assert files.expand('~/elsewhere/tokens', {'XDG_CACHE_HOME': '/var/cache/u'}) == str(tmp_path / 'home' / 'elsewhere' / 'tokens')


def test_every_cache_default_lives_under_the_one_root(monkeypatch, tmp_path):
    """The token cache, the limiter's hand-over files, the progress pointers and the fingerprints: one root."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api, auth, fingerprint, limiter, progress
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    root = str(tmp_path / 'xdg' / 'sailpoint_isc')
    cache = auth.TokenCache(api.DEFAULT_TOKEN_CACHE, 'https://acme.api.identitynow.com', 'cid', 'secret')
    assert cache.directory == os.path.join(root, 'tokens')
    assert os.path.dirname(limiter.state_path(api.DEFAULT_LIMITER_STATE, 'k' * 40, 'v2024')) == os.path.join(root, 'limiter')
    assert progress.pointer_path(7) == os.path.join(root, 'progress', '7.json')
    assert fingerprint.default_path() == os.path.join(root, 'fingerprints.json')
