# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dependents rollback (policy rollback, docs/dependents.md) of an account whose change a password sync group shares.

One set-password changes every member of the sync group, so the rollback must take the whole change back: the planner
(rollback_send.yml's re-send of the escrowed attempt) sends the previous password once, to all of them, and the report
says why a member whose own dependents passed went back. The role's selection of the change:
tests/unit/plugins/test_rollback_selection.py (it needs Ansible's templating, which module_utils tests do not get).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dependents, ledger as ledger_mod, planning, rotation
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import FakeClock
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_escrow import Store, World, run_role

SOURCES = ('LDAP', 'KRB', 'NIS')
KEYS = ['%s/svc' % s for s in SOURCES]


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
    # one re-send of the escrowed attempt; the plan names it and carries no password (apply joins it by attempt)
    assert [(sorted(g['keys']), g['attempt'], g['reuse_pending'], 'password' in g) for g in groups] == [(sorted(KEYS), 'rb1', True, False)]
    assert 'LDAP/other' not in [d['key'] for d in decisions], 'another identity is not part of the rollback'
    clock = FakeClock(tick=0.01)
    outcomes = rotation.apply(world, groups, ledger, wait_timeout=5, poll_interval=0.0, workers=1, clock=clock,
                              sleep=clock.sleep, pending_passwords=passwords, pending_attempts=attempts)
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
