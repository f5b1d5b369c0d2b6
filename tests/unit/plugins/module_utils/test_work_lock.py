# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work lock survives the deletion of its files by hand: a module that outlived its killed controller keeps
the state directory to itself even when ``ledger.json.work.lock`` and its ``.holder`` are deleted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

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
    return pid


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
