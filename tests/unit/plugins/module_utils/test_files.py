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
