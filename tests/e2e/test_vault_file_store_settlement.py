# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built-in store's side of issue 22: a superseded pending is kept until the superseding attempt is settled,
and a retired key's passwords move to the archive, where no read op and no consumer looks.

Like test_vault_file_store_internals.py, these import the action plugin (Ansible's controller side, which changes
how in-process module runs report warnings): they run in the end-to-end pytest process, not with the unit tests.
"""
from __future__ import annotations

import sys

import pytest

from conftest import COLLECTIONS, ensure_collection_link

ensure_collection_link()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.sailpoint_isc.passwords.plugins.action import vault_file_store as store  # noqa: E402 pylint: disable=wrong-import-position


def escrowed():
    return {'K': {'current': 'P0', 'current_since': 't0', 'pending': 'P1', 'pending_attempt': 'A1', 'pending_since': 't1'}}


def test_a_superseding_escrow_keeps_the_refused_pending_and_its_commit_makes_it_previous():
    accounts = escrowed()
    record = {'attempt': 'A2', 'keys': ['K'], 'password': 'P2', 'supersedes': 'A1'}
    assert store.apply_change(accounts, 'pending', [record], 't2') == ({'K'}, set())
    assert accounts['K']['pending'] == 'P2' and accounts['K']['superseded'][-1]['password'] == 'P1'
    assert store.apply_change(accounts, 'pending', [record], 't3') == (set(), {'K'}), 'a re-escrow changes nothing'
    assert store.pending_attempts(accounts) == {'K': 'A2'}
    store.apply_change(accounts, 'commit', [{'attempt': 'A2', 'keys': ['K']}], 't4')
    assert accounts['K'] == {'current': 'P2', 'current_since': 't4', 'previous': 'P1', 'previous_since': 't4'}


def test_discarding_the_superseding_attempt_brings_the_refused_pending_back():
    accounts = escrowed()
    store.apply_change(accounts, 'pending', [{'attempt': 'A2', 'keys': ['K'], 'password': 'P2', 'supersedes': 'A1'}], 't2')
    store.apply_change(accounts, 'discard', [{'attempt': 'A2', 'keys': ['K']}], 't3')
    assert accounts == escrowed()


def test_supersedes_names_the_attempt_it_replaces_or_the_escrow_is_refused():
    accounts = escrowed()
    with pytest.raises(store.StoreError, match='already holds an unsettled pending password of attempt A1'):
        store.apply_change(accounts, 'pending', [{'attempt': 'A3', 'keys': ['K'], 'password': 'P3', 'supersedes': 'A9'}], 't2')
    assert accounts == escrowed()


def test_retire_moves_every_password_of_a_key_to_the_archive():
    accounts, archive = escrowed(), {}
    store.apply_change(accounts, 'pending', [{'attempt': 'A2', 'keys': ['K'], 'password': 'P2', 'supersedes': 'A1'}], 't2')
    assert store.apply_change(accounts, 'retire', [{'keys': ['K', 'nobody']}], 't3', archive=archive) == ({'K'}, {'nobody'})
    assert accounts == {} and store.pending_attempts(accounts) == {}
    kept = archive['K'][-1]
    assert (kept['current'], kept['pending'], kept['superseded'][-1]['password'], kept['retired_at']) == ('P0', 'P2', 'P1', 't3')
    with pytest.raises(store.StoreError, match='retire record 1 needs a non-empty list of keys'):
        store._records({'op': 'retire', 'keys': [], 'records': [{'keys': []}], 'passwords': None}, False)
