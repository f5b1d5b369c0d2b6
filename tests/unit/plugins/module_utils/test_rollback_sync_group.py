# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dependents rollback (policy rollback, docs/dependents.md) of an account whose change a password sync group shares.

One set-password changes every member of the sync group, so the rollback must take the whole change back: the role's
selection (tasks/dependents/rollback.yml, templated here as the role templates it) picks every key of the change when
one member's dependent failed, refuses when a member has no previous password or they differ, and the planner
(rollback_send.yml's re-send of the escrowed attempt) sends the previous password once, to all of them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import random

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dependents, ledger as ledger_mod, planning, rotation
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import FakeClock
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_escrow import Store, World, run_role

try:  # ansible-core 2.19+: a string is templated only when trusted as a template (the role's files are)
    from ansible.template import trust_as_template
except ImportError:  # older cores template every string
    def trust_as_template(text):
        return text

ROLLBACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles',
                        'service_account_rotation', 'tasks', 'dependents', 'rollback.yml')
SOURCES = ('LDAP', 'KRB', 'NIS')
KEYS = ['%s/svc' % s for s in SOURCES]


def role_expressions():
    """The set_fact expressions and task vars of rollback.yml, by name."""
    with open(ROLLBACK) as handle:
        tasks = yaml.safe_load(handle)
    out = {}
    for task in tasks:
        out.update(task.get('ansible.builtin.set_fact') or {})
        out.update(task.get('vars') or {})
    return out


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


def test_the_change_back_is_one_re_send_that_sets_every_member_to_its_old_password(tmp_path):
    """rollback_send.yml's path: escrow the previous password as a new attempt, plan it as a re-send of that attempt
    (the identity only), apply, commit: every member is on its old password at the service and in the store."""
    ledger_path = str(tmp_path / 'ledger.json')
    world, store = World(), Store()
    for source in SOURCES:
        world.add('svc', source)
    world.add('other', 'LDAP')
    world.sync = [list(SOURCES)]
    accounts = [{'source_name': s, 'user_name': 'svc'} for s in SOURCES] + [{'source_name': 'LDAP', 'user_name': 'other'}]
    run_role(world, store, ledger_path, accounts, force=True)
    old = dict((k, store.entries[k]['current']) for k in KEYS)
    assert len(set(old.values())) == 1
    run_role(world, store, ledger_path, accounts, force=True)
    assert all(world.live[('svc', s, 'svc@' + s)] != old[KEYS[0]] for s in SOURCES)
    sent = len(world.sent)

    store.pending([{'keys': KEYS, 'attempt': 'rb1', 'password': old[KEYS[0]]}])  # the escrow of the change back
    ledger = ledger_mod.Ledger(ledger_path).load()
    reconciled = {'finished': [], 'failed': [], 'waiting': [], 'abandoned': [], 'commit_records': [],
                  'discard_records': [], 'orphans': list(KEYS)}
    mine, reconciled = planning.only_users(planning.with_defaults(accounts, 90, 0, ''), reconciled, ledger, ['svc'])
    passwords, attempts = store.read_pending(KEYS)
    decisions, groups = planning.plan(world, mine, ledger, reconciled, sync_groups=world.sync_groups(),
                                      rng=random.Random(99), pending_passwords=passwords, pending_attempts=attempts,
                                      store_pending=store.check())
    assert [(sorted(g['keys']), g['attempt'], g['password'] == old[KEYS[0]]) for g in groups] == [(sorted(KEYS), 'rb1', True)]
    assert 'LDAP/other' not in [d['key'] for d in decisions], 'another identity is not part of the rollback'
    clock = FakeClock(tick=0.01)
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=5, poll_interval=0.0, workers=1, clock=clock,
                              sleep=clock.sleep)
    commits, _discards = rotation.outcome_records(outcomes)
    store.settle(commits, True)
    assert len(world.sent) == sent + 1, 'one set-password takes the whole sync group back'
    for key, source in zip(KEYS, SOURCES):
        assert world.live[('svc', source, 'svc@' + source)] == old[key], key
        assert store.entries[key]['current'] == old[key] and 'pending' not in store.entries[key], key


def test_the_member_whose_own_dependents_passed_says_why_it_went_back():
    good = [{'id': 'f', 'outcome': 'restarted'}]
    failed = [{'id': 'g', 'outcome': 'failed: Restart'}]
    rows = dict((r['key'], r) for r in dependents.rows([
        {'key': KEYS[0], 'why': 'rotated', 'dependents': good, 'rollback': 'done', 'failed_before': []},
        {'key': KEYS[1], 'why': 'rotated', 'dependents': good, 'rollback': 'done', 'failed_before': failed}]))
    assert [rows[k]['status'] for k in KEYS[:2]] == ['rolled_back', 'rolled_back']
    assert 'shares its password change (a password sync group)' in rows[KEYS[0]]['detail'], rows[KEYS[0]]
    assert '0 dependent(s) failed' not in rows[KEYS[0]]['detail']
    assert rows[KEYS[1]]['detail'].startswith('1 dependent(s) failed on the new password (g failed: Restart)')
