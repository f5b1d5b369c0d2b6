# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which changes a dependents rollback (policy rollback, docs/dependents.md) takes back: the role's own expressions
(tasks/dependents/rollback.yml), templated as the role templates them. One set-password changes every member of a
password sync group, so when one member's dependent fails the whole change goes back, or none of it when a member
cannot (no previous password, different ones, a member not committed). The change back itself:
tests/unit/plugins/module_utils/test_rollback_sync_group.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.role_tasks import task_expressions

try:  # ansible-core 2.19+: a string is templated only when trusted as a template (the role's files are)
    from ansible.template import trust_as_template
except ImportError:  # older cores template every string
    def trust_as_template(text):
        return text

SOURCES = ('LDAP', 'KRB', 'NIS')
KEYS = ['%s/svc' % s for s in SOURCES]


def role_expressions():
    """The set_fact expressions and task vars of rollback.yml, by name."""
    return task_expressions('dependents', 'rollback.yml')


def template(name, **variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(role_expressions()[name]))


def result(key, failed):
    return {'key': key, 'why': 'rotated', 'policy': 'rollback', 'failed': failed, 'dependents': []}


def changes_to_roll_back(results, outcomes):
    return template('service_account_rotation__rb_changes', service_account_rotation__dep_results=results,
                    service_account_rotation__applied={'outcomes': outcomes, 'commit_records': []},
                    service_account_rotation__reconciled={'finished': []})


def why_not(changes, previous, committed):
    return template('service_account_rotation__rb_why', service_account_rotation__rb_changes=changes,
                    service_account_rotation_store_result={'passwords': previous},
                    service_account_rotation__rb_committed=committed)


def test_one_failing_member_rolls_back_the_whole_change_of_its_sync_group():
    shared = {'state': 'FINISHED', 'keys': KEYS, 'attempt': 'a2', 'request_id': 'r2'}
    other = {'state': 'FINISHED', 'keys': ['AD/app'], 'attempt': 'a3', 'request_id': 'r3'}
    failed = {'state': 'FAILED', 'keys': ['AD/bad'], 'attempt': 'a4', 'request_id': 'r4'}
    [change] = changes_to_roll_back([result(KEYS[1], True), result(KEYS[0], False), result('AD/app', False),
                                     result('AD/bad', True)], [shared, other, failed])
    assert (change['keys'], change['attempt'], change['request_id']) == (KEYS, 'a2', 'r2')
    assert change['rollback'] and change['rollback'] != 'a2', 'the change back is a new attempt'
    assert changes_to_roll_back([result(KEYS[1], False)], [shared]) == [], 'no dependent failed: nothing goes back'
    assert why_not([change], dict.fromkeys(KEYS, 'P1'), KEYS) == {}, 'one previous password for all: it goes back'


def test_a_sync_group_change_does_not_go_back_when_a_member_cannot():
    [change] = changes_to_roll_back([result(KEYS[2], True)], [{'state': 'FINISHED', 'keys': KEYS, 'attempt': 'a2'}])
    missing = why_not([change], {KEYS[0]: 'P1', KEYS[1]: 'P1'}, KEYS)[change['rollback']]
    assert missing['keys'] == KEYS and 'no previous password for NIS/svc' in missing['why'], missing
    differ = why_not([change], {KEYS[0]: 'P1', KEYS[1]: 'P1', KEYS[2]: 'P0'}, KEYS)[change['rollback']]
    assert 'different previous passwords' in differ['why'], differ
    uncommitted = why_not([change], dict.fromkeys(KEYS, 'P1'), KEYS[:2])[change['rollback']]
    assert 'NIS/svc, whose new password was not committed' in uncommitted['why'], uncommitted
