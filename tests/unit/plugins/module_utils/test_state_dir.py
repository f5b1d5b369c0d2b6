# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 22 item 2: the default state directory depends on user, tenant and shard, never on the working directory."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import state_dir
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

ENV = {'HOME': '/home/ops'}


def test_default_is_per_user_tenant_and_shard():
    base = '/home/ops/.local/state/sailpoint_isc/rotation/acme.api.identitynow.com'
    assert state_dir.default_state_dir(ENV, 'https://acme.api.identitynow.com') == base + '/all'
    assert state_dir.default_state_dir(ENV, tenant='acme') == base + '/all'
    assert state_dir.default_state_dir(ENV, 'https://acme.api.identitynow.com', shard='2/4') == base + '/shard-2-of-4'
    assert state_dir.default_state_dir({'HOME': '/home/b'}, tenant='acme') != state_dir.default_state_dir(ENV, tenant='acme')
    assert state_dir.default_state_dir(dict(ENV, XDG_STATE_HOME='/srv/state'), tenant='acme') == \
        '/srv/state/sailpoint_isc/rotation/acme.api.identitynow.com/all'
    assert state_dir.default_state_dir(dict(ENV, XDG_STATE_HOME='relative'), tenant='acme').startswith('/home/ops/.local/state/')


@pytest.mark.parametrize('spelling', ['1/4', '01/4', ' 1 / 4', '1 /04 '])
def test_spellings_of_one_shard_give_one_directory(spelling):
    assert state_dir.default_state_dir(ENV, tenant='acme', shard=spelling).endswith('/acme.api.identitynow.com/shard-1-of-4')


@pytest.mark.parametrize('one, other', [
    ('https://ACME.api.identitynow.com/', 'https://acme.api.identitynow.com'),
    ('https://acme.api.identitynow.com:443', 'https://acme.api.identitynow.com'),
    ('http://127.0.0.1:80', 'http://127.0.0.1'),
])
def test_spellings_of_one_tenant_give_one_directory(one, other):
    assert state_dir.tenant_label(one) == state_dir.tenant_label(other)


def test_tenants_and_ports_are_told_apart():
    labels = set(state_dir.tenant_label(url) for url in (
        'https://acme.api.identitynow.com', 'https://acme-sb.api.identitynow.com', 'http://127.0.0.1:8089',
        'http://127.0.0.1:8090', 'https://gw.example.com/isc/acme'))
    assert len(labels) == 5
    assert state_dir.tenant_label('http://127.0.0.1:8089') == '127.0.0.1_8089'
    assert all('/' not in label and label not in ('.', '..') for label in labels)


def test_no_tenant_and_bad_shard_are_refused_naming_the_fix():
    with pytest.raises(IscError, match='SAIL_BASE_URL'):
        state_dir.default_state_dir(ENV)
    with pytest.raises(ValueError, match='service_account_rotation_shard'):
        state_dir.default_state_dir(ENV, tenant='acme', shard='5/4')


def test_old_default_with_state_and_new_default_empty_stops_the_run(tmp_path):
    old = tmp_path / 'checkout' / 'rotation'
    old.mkdir(parents=True)
    (old / 'ledger.json').write_text('{"accounts": {}}')
    new = str(tmp_path / 'state' / 'all')
    candidates = state_dir.legacy_state_dirs([str(tmp_path / 'checkout'), str(tmp_path / 'elsewhere')])
    assert str(old) in candidates
    message, warnings = state_dir.legacy_problem(new, candidates)
    assert message and str(old) in message and new in message and 'rotation_state_dir=%s' % old in message
    assert 'mv %s %s' % (old, new) in message and warnings == []
    os.makedirs(new)
    with open(os.path.join(new, 'store.vault'), 'w') as handle:
        handle.write('x')
    message, warnings = state_dir.legacy_problem(new, candidates)
    assert message is None and len(warnings) == 1 and str(old) in warnings[0]


def test_old_shard_spellings_are_looked_for():
    assert state_dir.legacy_state_dirs(['/w'], '01/4') == ['/w/rotation-shard-1-of-4', '/w/rotation-shard-01-of-4']
    assert state_dir.legacy_state_dirs(['/w'], ' 1 / 4') == ['/w/rotation-shard-1-of-4']
    assert state_dir.legacy_state_dirs(['/w', '/w'], '') == ['/w/rotation']


def _ledger(directory, states):
    os.makedirs(directory)
    with open(os.path.join(directory, 'ledger.json'), 'w') as handle:
        json.dump({'accounts': dict((k, {'state': s}) for k, s in states.items())}, handle)


@pytest.mark.parametrize('mine, other, refused', [
    ('shard-1-of-2', 'all', True),           # the whole fleet's runs left a change pending, then the job was split
    ('all', 'shard-2-of-2', True),           # the split undone
    ('shard-1-of-3', 'shard-2-of-2', True),  # another split
    ('shard-1-of-2', 'shard-2-of-2', False),  # a sister job of the same split works side by side
    ('shard-1-of-2', 'elsewhere', False),    # not a default directory of this tenant
])
def test_other_shard_problem_names_pending_changes_of_another_shard_setting(tmp_path, mine, other, refused):
    _ledger(str(tmp_path / other), {'AD/svc-1': 'pending', 'AD/svc-2': 'current'})
    problem = state_dir.other_shard_problem(str(tmp_path / mine))
    if not refused:
        assert problem is None
        return
    setting = "''" if other == 'all' else "'%s'" % other[len('shard-'):].replace('-of-', '/')
    for part in (str(tmp_path / other), '1 password change(s) still pending', 'service_account_rotation_shard %s' % setting,
                 'AD/svc-1)', 'Run once more with the shard setting %s' % setting, 'Nothing was read or sent'):
        assert part in problem, (part, problem)
    assert 'AD/svc-2' not in problem


def test_other_shard_problem_ignores_settled_corrupt_and_missing_ledgers(tmp_path):
    _ledger(str(tmp_path / 'all'), {'AD/svc-1': 'current', 'AD/svc-2': 'retired'})
    os.makedirs(str(tmp_path / 'shard-1-of-3'))
    with open(str(tmp_path / 'shard-1-of-3' / 'ledger.json'), 'w') as handle:
        handle.write('{"accounts": {')
    os.makedirs(str(tmp_path / 'shard-2-of-4'))
    assert state_dir.other_shard_problem(str(tmp_path / 'shard-1-of-2')) is None
    assert state_dir.other_shard_problem(str(tmp_path / 'missing' / 'all')) is None
