# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""source_credential.py (issue 28) against a fake source and target system: what plan refuses, what apply
sends, when it rolls back and what it tells the caller to do with the escrow. The account passwords are set
by the caller here (set_via: caller), so the fake only knows the source and which user/password log on."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.source_credential import (
    SourceCredential, SourceCredentialError)

A, B = 'uid=a', 'uid=b'


class FakeIsc(object):
    """One source whose connector logs on when (user, password) is in ``live``; ``refuse`` users always fail."""

    def __init__(self, password='pw-a', vault=False):
        self.source = {'id': 'src1', 'name': 'LDAP', 'connectorAttributes': {
            'user': A, 'password': 'secrets://v/p/k' if vault else password}}
        self.live = {A: 'pw-a', B: 'pw-b'}
        self.refuse = set()
        self.patches = []
        self.checks = 0
        self.lose_answer_once = False

    def call_json(self, operation, method, item_id=None, query=None, json_body=None, shape=object):
        if operation == api.OP_SOURCES:
            return [self.source] if self.source['name'] in query['filters'] else []
        if operation == api.OP_SOURCE:
            shown = copy.deepcopy(self.source)
            if not shown['connectorAttributes']['password'].startswith('secrets://'):
                shown['connectorAttributes']['password'] = '2:ENC:x'  # cipher-text, as ISC shows it
            return shown
        self.checks += 1
        attributes = self.source['connectorAttributes']
        ok = self.live.get(attributes['user']) == attributes['password'] and attributes['user'] not in self.refuse
        return {'status': 'SUCCESS' if ok else 'FAILURE', 'details': {'message': 'simulated'}}

    def call(self, operation, method, item_id=None, data=None, headers=None):
        assert operation == api.OP_SOURCE and method == 'PATCH'
        assert headers == {'Content-Type': 'application/json-patch+json'}
        ops = json.loads(data)
        self.patches.append(ops)
        attributes = self.source['connectorAttributes']
        for op in ops:
            name = op['path'].rsplit('/', 1)[1]
            if op['op'] == 'test' and attributes[name] != op['value']:
                raise IscError('HTTP 400: test failed', status=400)
            if op['op'] == 'replace':
                attributes[name] = op['value']
        if self.lose_answer_once:
            self.lose_answer_once = False
            raise IscError('the answer was lost')


def params(**extra):
    values = {'source_id': None, 'source_name': 'LDAP', 'user_pointer': '/connectorAttributes/user',
              'password_pointer': '/connectorAttributes/password', 'strategy': 'alternate', 'set_via': 'caller',
              'accounts': [{'user': A, 'key': 'LDAP/a', 'password': 'pw-a'}, {'user': B, 'key': 'LDAP/b'}],
              'ledger_path': None, 'max_age_days': 30, 'force': False, 'password_length': 0, 'check_retries': 2,
              'check_delay': 0, 'wait_timeout': 5, 'poll_interval': 1, 'resume_user': None, 'target_user': None}
    values.update(extra)
    return values


def test_plan_refuses_a_credential_provider_source_and_a_failing_preflight():
    isc = FakeIsc(vault=True)
    with pytest.raises(SourceCredentialError, match='rotate the vault entry instead.*cache'):
        SourceCredential(isc, params()).plan()
    assert isc.checks == 0 and isc.patches == []
    isc = FakeIsc(password='stale')
    with pytest.raises(SourceCredentialError, match='fails its preflight check-connection'):
        SourceCredential(isc, params()).plan()
    assert isc.patches == []


def test_plan_targets_the_unused_account_and_is_idempotent_by_the_ledger(tmp_path):
    ledger = str(tmp_path / 'source-credentials.json')
    isc = FakeIsc()
    plan = SourceCredential(isc, params(ledger_path=ledger)).plan()
    assert plan['due'] and plan['active_user'] == A and plan['target_user'] == B and plan['target_key'] == 'LDAP/b'
    assert plan['new_password'] and 'pw-a' not in json.dumps(plan['diff'])
    isc.live[B] = plan['new_password']  # the caller's task file set it
    done = SourceCredential(isc, params(ledger_path=ledger, target_user=B)).apply(plan['new_password'], plan['attempt'])
    assert done['outcome'] == 'rotated' and done['store_action'] == 'commit' and done['active_user'] == B
    again = SourceCredential(isc, params(ledger_path=ledger, accounts=[
        {'user': A, 'password': 'pw-a'}, {'user': B, 'password': plan['new_password']}])).plan()
    assert not again['due'] and 'new_password' not in again
    with open(ledger) as handle:
        assert json.load(handle)['src1']['active_user'] == B


def test_alternate_rolls_back_to_the_untouched_account_and_commits_b():
    isc = FakeIsc()
    isc.live[B] = 'new-b'
    isc.refuse.add(B)
    done = SourceCredential(isc, params(target_user=B)).apply('new-b', 'att-1')
    assert done['outcome'] == 'rolled_back' and done['active_user'] == A and done['store_action'] == 'commit'
    assert isc.source['connectorAttributes'] == {'user': A, 'password': 'pw-a'}
    assert [op['value'] for op in isc.patches[1] if op['op'] == 'replace'] == [A, 'pw-a']


def test_same_account_keeps_the_new_password_when_the_old_one_no_longer_works():
    isc = FakeIsc()
    isc.live[A] = 'new-a'
    isc.refuse.add(A)
    accounts = [{'user': A, 'password': 'pw-a'}]
    done = SourceCredential(isc, params(strategy='same_account', accounts=accounts, target_user=A)).apply('new-a', 'x')
    assert done['outcome'] == 'failed' and done['store_action'] == 'commit'
    assert isc.source['connectorAttributes']['password'] == 'new-a', 'left with the password the account has'
    assert 'fails with it' in done['msg']


def test_same_account_rolled_back_discards_when_the_old_password_works_again():
    isc = FakeIsc()  # the account still has pw-a: the new password never took
    accounts = [{'user': A, 'password': 'pw-a'}]
    done = SourceCredential(isc, params(strategy='same_account', accounts=accounts, target_user=A)).apply('new-a', 'x')
    assert done['outcome'] == 'rolled_back' and done['store_action'] == 'discard'


def test_resume_after_the_patch_only_checks_and_a_lost_patch_answer_is_accepted():
    isc = FakeIsc()
    isc.live[B] = 'new-b'
    isc.source['connectorAttributes'].update(user=B, password='new-b')  # the earlier run's PATCH landed
    plan = SourceCredential(isc, params(resume_user=B)).plan()
    assert plan['resume'] and plan['target_user'] == B and 'new_password' not in plan
    done = SourceCredential(isc, params(target_user=B)).apply('new-b', 'att-1')
    assert done['outcome'] == 'rotated' and isc.patches == []
    isc = FakeIsc()
    isc.live[B] = 'new-b'
    isc.lose_answer_once = True
    done = SourceCredential(isc, params(target_user=B)).apply('new-b', 'att-2')
    assert done['outcome'] == 'rotated' and len(isc.patches) == 1


def test_a_password_length_the_policy_cannot_have_is_refused_naming_the_option():
    isc = FakeIsc()
    with pytest.raises(SourceCredentialError, match='password_length: length 999 is outside'):
        SourceCredential(isc, params(password_length=999)).plan()
    assert isc.patches == []
