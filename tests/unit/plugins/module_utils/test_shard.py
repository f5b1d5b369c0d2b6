# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shards: the 'i/N' grammar and its errors, an exact partition of the accounts, values that never change."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import random
import subprocess
import sys

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import (
    in_shard,
    parse_shard,
    select,
    shard_of,
)


@pytest.mark.parametrize('text, expected', [
    (None, None),
    ('', None),
    ('   ', None),
    ('1/1', (1, 1)),
    ('1/4', (1, 4)),
    ('4/4', (4, 4)),
    (' 2 / 3 ', (2, 3)),
    ('07/12', (7, 12)),
])
def test_parse_accepts_i_of_n_and_empty(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize('text, hint', [
    ('0/4', 'counted from 1'),
    ('5/4', 'there are only 4 shards'),
    ('1/0', 'at least 1'),
    ('0/0', 'at least 1'),
    ('x', "must be 'i/N'"),
    ('1', "must be 'i/N'"),
    ('1/', "must be 'i/N'"),
    ('/4', "must be 'i/N'"),
    ('1/2/3', "must be 'i/N'"),
    ('-1/4', "must be 'i/N'"),
    ('1.5/4', "must be 'i/N'"),
    ('1 of 4', "must be 'i/N'"),
])
def test_parse_refuses_bad_shards_naming_the_variable_and_the_fix(text, hint):
    with pytest.raises(ValueError) as err:
        parse_shard(text)
    message = str(err.value)
    assert 'service_account_rotation_shard' in message
    assert hint in message
    assert "'1/4'" in message  # the fix: an example of a good value
    assert repr(text) in message  # what was given


def _names(count, seed=12):
    rng = random.Random(seed)
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789.-_'
    return ['svc-%s-%d' % (''.join(rng.choice(alphabet) for dummy in range(rng.randint(1, 12))), i) for i in range(count)]


@pytest.mark.parametrize('count', [1, 2, 3, 7])
def test_shards_partition_the_accounts_exactly(count):
    names = _names(4000)
    owners = collections.defaultdict(list)
    for index in range(1, count + 1):
        for name in names:
            if in_shard(name, (index, count)):
                owners[name].append(index)
    # every name in exactly one shard
    assert sorted(owners) == sorted(names)
    assert all(len(found) == 1 for found in owners.values())
    # and the shards are about even (sha256 spreads the names): no shard under half its fair share
    sizes = collections.Counter(found[0] for found in owners.values())
    assert len(sizes) == count
    assert min(sizes.values()) > len(names) / count / 2


def test_no_shard_is_every_account_and_select_keeps_order():
    accounts = [{'source_name': 'AD', 'user_name': name} for name in _names(50)]
    assert select(accounts, None) == accounts
    assert all(in_shard(a['user_name'], None) for a in accounts)
    halves = [select(accounts, (1, 2)), select(accounts, (2, 2))]
    assert sorted(halves[0] + halves[1], key=accounts.index) == accounts
    assert halves[0] == [a for a in accounts if a in halves[0]]  # order of the accounts list kept


def test_an_identity_is_one_shard_whatever_its_source_account_or_spelling():
    # a sync group's members and twin accounts share the identity's user name: one shard for all of them
    accounts = [{'source_name': 'Corp-AD', 'user_name': 'Carl.Jones', 'account_id': 'CN=Carl Jones'},
                {'source_name': 'Corp-AD', 'user_name': 'Carl.Jones', 'account_id': 'CN=Carl Jones-adm'},
                {'source_name': 'Oracle-DB', 'user_name': 'carl.jones'},
                {'source_name': 'LDAP', 'user_name': ' CARL.JONES '}]
    for count in (2, 3, 7, 64):
        for index in range(1, count + 1):
            assert len(select(accounts, (index, count))) in (0, len(accounts))


# Fixed values: a change of the hash (or of the normalisation) moves accounts between shards, and every
# deployment with state directories per shard would then see accounts it never rotated. Caught here.
@pytest.mark.parametrize('name, shards', [
    ('svc-app-001', [1, 2, 2, 5]),
    ('Carl.Jones', [1, 2, 1, 4]),
    ('svc-db-042', [1, 1, 1, 3]),
])
def test_stable_values(name, shards):
    assert [shard_of(name, count) for count in (1, 2, 3, 7)] == shards


def test_same_answer_in_another_process():
    # Python's hash() is salted per process; the shard must not be
    code = ('from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import shard_of; '
            'print(",".join(str(shard_of("svc-%d" % i, 7)) for i in range(200)))')
    here = ','.join(str(shard_of('svc-%d' % i, 7)) for i in range(200))
    for seed in ('1', '2'):
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                             env={'PYTHONHASHSEED': seed, 'PYTHONPATH': ':'.join(p for p in sys.path if p)})
        assert out.stdout.strip() == here


def test_the_ledger_keeps_one_spelling_and_a_change_is_named():
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import change_warning, setting
    assert [setting(t) for t in ('01/4', ' 1 / 4', '1/1', '', None)] == ['1/4', '1/4', '', '', '']
    assert change_warning(None, '1/4', 'l.json') is None  # a ledger that never kept one
    assert change_warning('1/4', '1/4', 'l.json') is None
    text = change_warning('1/4', '', '/state/ledger.json')
    assert "ledger /state/ledger.json was last written by a run with '1/4' (shard 1 of 4)" in text
    assert "this run has '' (the whole fleet)" in text and "set service_account_rotation_shard back to '1/4'" in text
    assert "this run has '2/4' (shard 2 of 4)" in change_warning('1/4', '2/4', 'l.json')
