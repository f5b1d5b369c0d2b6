# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases' contract (phases.CONTRACT) is the one description of reconciled, decisions, groups and outcomes: conftest.py
checks every one the unit tests produce against it; here, its checker and the module's RETURN, which must agree."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.phases import CONTRACT
from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_rotation
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.contract import check


def test_the_module_returns_reconciled_as_the_contract_describes_it():
    returned = yaml.safe_load(isc_rotation.RETURN)
    assert sorted(returned['reconciled']['contains']) == sorted(CONTRACT['reconciled'])
    options = yaml.safe_load(isc_rotation.DOCUMENTATION)['options']
    for name in ('reconciled', 'decisions', 'groups', 'outcomes'):
        assert 'plugins/module_utils/phases.py' in ' '.join(options[name]['description']), name


def test_an_outcome_without_a_field_it_always_has_or_with_one_not_written_fails_naming_it():
    outcome = dict((field, None) for field, (when, _what) in CONTRACT['outcome'].items() if when == 'always')
    assert check('outcome', [outcome]) == [outcome]
    with pytest.raises(AssertionError, match='outcome lacks seconds'):
        check('outcome', [dict((k, v) for k, v in outcome.items() if k != 'seconds')])
    with pytest.raises(AssertionError, match='outcome has note, which phases.CONTRACT does not describe'):
        check('outcome', [dict(outcome, note='x')])
    with pytest.raises(AssertionError, match='reconciled item lacks attempt'):
        check('reconciled', dict(finished=[{'request_id': 'r', 'keys': [], 'state': 'FINISHED'}], failed=[], waiting=[],
                                 orphans=[], abandoned=[], commit_records=[], discard_records=[]))


def test_a_re_send_group_with_a_password_fails_the_contract():
    """The plan names a re-send's attempt only; apply reads its password itself (resend.py)."""
    group = dict((field, None) for field, (when, _what) in CONTRACT['group'].items() if when == 'always')
    assert check('group', [dict(group, reuse_pending=False, password='x')])
    assert check('group', [dict(group, reuse_pending=True)])
    with pytest.raises(AssertionError, match='a re-send group carries a password'):
        check('group', [dict(group, reuse_pending=True, password='x')])
