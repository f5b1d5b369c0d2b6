# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lease rules of issue 22: a check run's probe writes nothing, stale_after is at least three heartbeats, and
the work lock survives the deletion of its files by hand."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import stat
import time

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import lease


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'state' / 'ledger.json')


def _dead_pid():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.01)
    return pid


def _files(directory):
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), 'rb') as handle:
            out[name] = (handle.read(), os.stat(os.path.join(directory, name)).st_mtime_ns)
    return out


def test_probe_of_a_stale_lease_names_it_and_writes_nothing(ledger_path):
    killed, _r = lease.acquire(ledger_path, pid=_dead_pid())
    before = _files(os.path.dirname(ledger_path))
    holder, replaced = lease.probe(ledger_path, pid=os.getpid())
    assert replaced == killed['run_id'] and holder['run_id'] != killed['run_id']
    assert _files(os.path.dirname(ledger_path)) == before, 'a probe takes over and writes nothing'
    mine, replaced = lease.acquire(ledger_path, pid=os.getpid())
    assert replaced == killed['run_id'], 'the next real run still takes the killed run over'


def test_probe_is_refused_like_acquire_and_creates_no_file(ledger_path, tmp_path):
    assert lease.probe(ledger_path, pid=os.getpid())[1] is None
    assert not os.path.exists(os.path.dirname(ledger_path)), 'a probe of a free lease creates nothing, not even a lock'
    lease.acquire(ledger_path, pid=os.getpid())
    with pytest.raises(lease.LeaseError, match='another rotation is running'):
        lease.probe(ledger_path, pid=os.getpid())


@pytest.mark.parametrize('stale_after', [0, 60, 179])
def test_stale_after_below_three_heartbeats_is_refused(ledger_path, stale_after):
    assert lease.MIN_STALE_AFTER == 3 * lease.HEARTBEAT_EVERY == 180
    with pytest.raises(lease.LeaseError, match='at least 180 seconds, three heartbeats'):
        lease.acquire(ledger_path, stale_after=stale_after)
    with pytest.raises(lease.LeaseError, match='at least 180 seconds'):
        lease.probe(ledger_path, stale_after=stale_after)
    assert not os.path.exists(os.path.dirname(ledger_path))
    assert lease.acquire(ledger_path, stale_after=180)[0]['stale_after'] == 180


# ---------------------------------------------------------------- the work lock survives the deletion of its files
def _delete_lock_files(ledger_path):
    for suffix in ('', '.holder'):
        path = lease.work_lock_path(ledger_path) + suffix
        if os.path.exists(path):
            os.unlink(path)


def test_deleting_the_lock_files_does_not_let_a_second_module_in(ledger_path):
    holder, _replaced = lease.acquire(ledger_path, pid=os.getpid())
    work = lease.WorkLock(ledger_path, holder['run_id'], 'apply').take()
    _delete_lock_files(ledger_path)
    with pytest.raises(lease.LeaseError, match='another rotation module .* is still working on %s' % ledger_path):
        lease.WorkLock(ledger_path, holder['run_id'], 'record').take()
    assert lease.work_in_progress(ledger_path) == {'pid': '?'}, 'still seen, though nobody can be named'
    os.close(work._fd)  # the module ends
    assert lease.work_in_progress(ledger_path) is None
    lease.WorkLock(ledger_path, holder['run_id'], 'record').take()


def test_a_killed_run_with_deleted_lock_files_is_not_taken_over_while_its_module_works(ledger_path):
    holder, _replaced = lease.acquire(ledger_path, pid=_dead_pid())
    work = lease.WorkLock(ledger_path, holder['run_id'], 'apply').take()
    _delete_lock_files(ledger_path)
    unnamed = r'still running in module process \? \(its .holder file was deleted; `fuser -v %s`' % os.path.dirname(ledger_path)
    with pytest.raises(lease.LeaseError, match=unnamed):
        lease.acquire(ledger_path, pid=os.getpid())
    os.close(work._fd)
    assert lease.acquire(ledger_path, pid=os.getpid())[1] == holder['run_id']


def test_where_a_directory_cannot_be_locked_the_lock_file_is_the_work_lock(ledger_path, monkeypatch):
    """NFS answers EBADF to flock() of a directory opened read-only: the lock file beside the ledger serves, as before."""
    real = fcntl.flock

    def no_directory_locks(fd, operation):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, 'Bad file descriptor')
        return real(fd, operation)
    monkeypatch.setattr(lease.fcntl, 'flock', no_directory_locks)
    holder, _replaced = lease.acquire(ledger_path, pid=os.getpid())
    assert lease.work_in_progress(ledger_path) is None
    work = lease.WorkLock(ledger_path, holder['run_id'], 'apply').take()
    assert os.path.exists(lease.work_lock_path(ledger_path))
    with pytest.raises(lease.LeaseError, match='another rotation module'):
        lease.WorkLock(ledger_path, holder['run_id'], 'record').take()
    assert lease.work_in_progress(ledger_path)['phase'] == 'apply'
    os.close(work._fd)
    assert lease.work_in_progress(ledger_path) is None
