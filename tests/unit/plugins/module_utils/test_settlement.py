# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 22, the settlement side: a pending password is settled in a bounded number of runs whatever the
world does. The role's steps in the role's order (test_escrow.run_role) against a fake service that keeps
live passwords and a store that follows the store contract."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, report as report_mod, rotation
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, referenced_object_missing
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_escrow import World, Store, run_role

MISSING = '400.1.404 Referenced object not found'
ACCOUNTS = [{'source_name': 'AD', 'user_name': 'svc'}]


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'state' / 'ledger.json')


class StatusWorld(World):
    """A World whose status reads answer what the test says, per request id, or that stay IN_PROGRESS."""

    def __init__(self):
        super(StatusWorld, self).__init__()
        self.status_errors = {}  # request id -> IscError
        self.in_flight = set()  # request ids still IN_PROGRESS

    def password_change_status(self, rid):
        if rid in self.status_errors:
            raise self.status_errors[rid]
        if rid in self.in_flight:
            return {'requestId': rid, 'state': 'IN_PROGRESS', 'sourceIds': [], 'errors': []}
        return super(StatusWorld, self).password_change_status(rid)


def _in_flight(world, store, ledger_path, accounts):
    """A first run whose change is still IN_PROGRESS when it ends (the live password is already the new one)."""
    real, apply = world.password_change_status, rotation.apply
    world.password_change_status = lambda rid: {'requestId': rid, 'state': 'IN_PROGRESS', 'sourceIds': [], 'errors': []}
    rotation.apply = lambda *args, **kwargs: apply(*args, **dict(kwargs, wait_timeout=0))
    try:
        outcomes = run_role(world, store, ledger_path, accounts)[2]
    finally:
        world.password_change_status, rotation.apply = real, apply
    assert [o['state'] for o in outcomes] == ['IN_PROGRESS'] * len(outcomes)
    return [o['request_id'] for o in outcomes]


# --------------------------------------------------------------------------- item 7 and 11: which 4xx mean "not there"

def test_only_a_404_or_400_1_404_means_the_object_is_not_there():
    assert referenced_object_missing(IscError('x', status=404))
    assert referenced_object_missing(IscError('x', status=400, detail_code=MISSING))
    assert not referenced_object_missing(IscError('x', status=400, detail_code='400.1 Bad Request Content'))
    assert not referenced_object_missing(IscError('x', status=400))
    assert not referenced_object_missing(IscError('x', status=403, detail_code='403 Forbidden'))
    assert not referenced_object_missing(ValueError('400.1.404'))


def test_status_read_of_an_expired_request_id_re_sends_the_escrowed_password(ledger_path):
    """Item 7: ISC answers 400 400.1.404 for a request id it no longer keeps: like a 404, the escrowed
    password is re-sent (never a new one), and the run goes on instead of stopping about credentials."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('other', 'AD')
    accounts = ACCOUNTS + [{'source_name': 'AD', 'user_name': 'other'}]
    rids = _in_flight(world, store, ledger_path, accounts)
    p1 = store.entries['AD/svc']['pending']
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP 400 (%s)' % MISSING, status=400,
                                            detail_code=MISSING)
    _d, groups, outcomes, rows = run_role(world, store, ledger_path, accounts)
    assert [g['password'] for g in groups if 'AD/svc' in g['keys']] == [p1]
    assert rows['AD/svc']['status'] == 'rotated' and rows['AD/other']['status'] == 'rotated'
    assert store.entries['AD/svc'] == {'current': p1} and world.live[('svc', 'AD', 'svc@AD')] == p1


@pytest.mark.parametrize('status', [401, 403])
def test_status_read_stops_the_run_only_when_the_credentials_are_refused(ledger_path, status):
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    rids = _in_flight(world, store, ledger_path, ACCOUNTS)
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP %d' % status, status=status)
    with pytest.raises(ledger_mod.RotationError, match='credentials'):
        run_role(world, store, ledger_path, ACCOUNTS)


def test_status_read_answering_another_400_is_unreadable_for_that_change_only(ledger_path):
    """Any other 400 on a status read neither stops every rotation nor re-sends: that change stays pending."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('other', 'AD')
    accounts = ACCOUNTS + [{'source_name': 'AD', 'user_name': 'other'}]
    rids = _in_flight(world, store, ledger_path, accounts)
    p1 = store.entries['AD/svc']['pending']
    world.status_errors[rids[0]] = IscError('password-change-status failed: HTTP 400', status=400,
                                            detail_code='400.1 Bad Request Content')
    _d, groups, _o, rows = run_role(world, store, ledger_path, accounts)
    assert all('AD/svc' not in g['keys'] for g in groups)
    assert rows['AD/svc']['status'] == 'unknown' and store.entries['AD/svc']['pending'] == p1
    assert rows['AD/other']['status'] == 'rotated'


def test_a_sync_group_member_whose_query_is_refused_is_a_problem_not_a_missing_account(ledger_path):
    """Item 11: only "Referenced object not found" means the identity has no account on a member source; any
    other 4xx there holds the group (its password would reach an account the store does not record)."""
    world, store = World(), Store()
    world.add('svc', 'LDAP')
    world.add('svc', 'KRB')
    world.sync = [['LDAP', 'KRB']]
    real = world.query_password_info

    def query(user, source):
        if source == 'KRB':
            raise IscError('query-password-info failed: HTTP 400 (400.1 Bad Request Content)', status=400,
                           detail_code='400.1 Bad Request Content')
        return real(user, source)
    world.query_password_info = query
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert groups == [] and world.sent == []
    assert rows['LDAP/svc']['status'] == 'failed' and 'could not be read' in rows['LDAP/svc']['detail']
    world.query_password_info = real
    del world.accounts[('svc', 'KRB')]  # now truly no account there: 400.1.404, the group is the LDAP account
    _d, groups, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'LDAP', 'user_name': 'svc'}])
    assert [g['keys'] for g in groups] == [['LDAP/svc']] and rows['LDAP/svc']['status'] == 'rotated'


# --------------------------------------------------------------------------- item 9: every pending key has a row

def test_an_unlisted_account_still_in_flight_gets_a_report_row(ledger_path):
    """Item 9: the account left the accounts list while its change is IN_PROGRESS: it is reported pending."""
    world, store = StatusWorld(), Store()
    world.add('svc', 'AD')
    world.add('kept', 'AD')
    rids = _in_flight(world, store, ledger_path, ACCOUNTS)
    world.in_flight.update(rids)
    _d, _g, _o, rows = run_role(world, store, ledger_path, [{'source_name': 'AD', 'user_name': 'kept'}])
    assert rows['AD/svc']['status'] == 'pending', rows
    assert rids[0] in rows['AD/svc']['detail'] and 'not in the accounts list' in rows['AD/svc']['detail']
    assert 'pending' in store.entries['AD/svc']


def test_every_key_pending_in_the_store_gets_a_row():
    """Whatever the phases decided, a key the store held pending when the run began is never left out."""
    rows, totals = report_mod.summarize([], {}, [], store_pending={'AD/a': 'att-1'})
    assert [(r['account'], r['status']) for r in rows] == [('AD/a', 'pending')] and totals == {'pending': 1}
    rows, _t = report_mod.summarize([{'key': 'AD/a', 'action': 'skip', 'reason': 'x', 'group': 'g'}], {}, [],
                                    store_pending={'AD/a': 'att-1'})
    assert [(r['account'], r['status']) for r in rows] == [('AD/a', 'skipped')]
