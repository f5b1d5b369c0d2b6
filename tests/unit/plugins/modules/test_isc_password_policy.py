# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""isc_password_policy and isc_password_policy_info against a fake ISC (policies and sources in memory)."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qs, unquote

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_password_policy, isc_password_policy_info
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import (
    CONN,
    FakeResponse,
    FakeSession,
    run_module,
)

SOURCES = {'src-ad': 'Active Directory', 'src-ldap': 'LDAP', 'src-hidden': None}
SERVICE = {
    'id': 'pol-svc', 'name': 'Service accounts', 'description': 'old', 'dateCreated': 1639056206564,
    'lastUpdated': 1662385430753, 'firstExpirationReminder': 45, 'accountIdMinWordLength': -1,
    'accountNameMinWordLength': -1, 'minAlpha': 1, 'minCharacterTypes': -1, 'maxLength': 64, 'minLength': 12,
    'maxRepeatedChars': 3, 'minLower': 1, 'minNumeric': 1, 'minSpecial': 0, 'minUpper': 1, 'passwordExpiration': 90,
    'defaultPolicy': False, 'enablePasswdExpiration': False, 'requireStrongAuthn': False,
    'requireStrongAuthOffNetwork': False, 'requireStrongAuthUntrustedGeographies': False,
    'useAccountAttributes': False, 'useDictionary': False, 'useIdentityAttributes': False,
    'validateAgainstAccountId': True, 'validateAgainstAccountName': True, 'sourceIds': ['src-ad', 'src-ldap'],
}
DEFAULT = dict(SERVICE, id='pol-default', name='Default Policy', defaultPolicy=True, sourceIds=[], description=None)
_IN = re.compile(r'^(name|id) in \((.*)\)$')


class Resp(FakeResponse):
    """FakeResponse with the raw body too (IscClient.call_json reads ``content``)."""

    @property
    def content(self):
        return self.text.encode('utf-8')


class FakeIsc(FakeSession):
    """A FakeSession that keeps password policies and answers the sources filter, like ISC does."""

    def __init__(self, policies=None, version='v2024', status=None):
        super(FakeIsc, self).__init__()
        self.policies = [copy.deepcopy(p) for p in (policies if policies is not None else [DEFAULT, SERVICE])]
        self.root = {'v1': '/password-policies/v1', 'v3': '/v3/password-policies'}.get(
            version, '/%s/password-policies' % version)
        self.sources = {'v1': '/sources/v1'}.get(version, '/%s/sources' % version)
        self.status = status  # answer every write with this status (e.g. 403)
        self.next_id = 0

    def writes(self):
        return [c for c in self.calls if c['method'] in ('POST', 'PUT', 'DELETE') and c['path'] != '/oauth/token']

    def request(self, method, url, json=None, data=None, headers=None, timeout=None, verify=None):
        resp = super(FakeIsc, self).request(method, url, json=json, data=data, headers=headers)
        call = self.calls[-1]
        path = call['path']
        if path == '/oauth/token':
            return resp
        if path == self.sources:
            return self._sources(call['query'])
        if not path.startswith(self.root):
            return resp
        if method != 'GET' and self.status:
            return Resp(self.status, {'detailCode': 'Forbidden', 'messages': [{'text': 'Forbidden'}]})
        ident = path[len(self.root) + 1:] or None
        if ident is None and method == 'GET':
            query = parse_qs(call['query'])
            offset, limit = int(query['offset'][0]), int(query['limit'][0])
            return Resp(200, copy.deepcopy(self.policies[offset:offset + limit]))
        if ident is None and method == 'POST':
            self.next_id += 1
            created = dict(copy.deepcopy(json), id='pol-new-%d' % self.next_id, dateCreated=1, lastUpdated=1)
            self.policies.append(created)
            return Resp(200, copy.deepcopy(created))
        index = [i for i, p in enumerate(self.policies) if p['id'] == ident]
        if not index:
            return Resp(404, {'detailCode': '404 Not found', 'messages': [{'text': 'not found'}]})
        if method == 'PUT':
            self.policies[index[0]] = dict(copy.deepcopy(json), id=ident, lastUpdated=2)
            return Resp(200, copy.deepcopy(self.policies[index[0]]))
        if method == 'DELETE':
            del self.policies[index[0]]
            return Resp(204)
        return Resp(200, copy.deepcopy(self.policies[index[0]]))

    def _sources(self, query):
        match = _IN.match(parse_qs(query)['filters'][0])
        field, values = match.group(1), [unquote(v) for v in re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(2))]
        found = [{'id': i, 'name': n} for i, n in SOURCES.items() if (n if field == 'name' else i) in values]
        return Resp(200, found)


def policy_run(args, capsys, monkeypatch, isc=None, check_mode=False, diff=False, module=isc_password_policy):
    isc = isc if isc is not None else FakeIsc()
    res, dummy = run_module(module.main, dict(CONN, **args), capsys, monkeypatch, session=isc,
                            check_mode=check_mode, diff=diff)
    return res, isc


# ---- create -------------------------------------------------------------------------------------------

def test_create_sends_only_the_declared_fields(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Kiosk', 'min_length': 10, 'use_dictionary': True, 'sources': ['LDAP']},
                          capsys, monkeypatch, diff=True)
    assert res['changed'] is True and 'failed' not in res
    (post,) = isc.writes()
    assert post['method'] == 'POST' and post['path'] == '/v2024/password-policies'
    assert post['json'] == {'name': 'Kiosk', 'minLength': 10, 'useDictionary': True, 'sourceIds': ['src-ldap']}
    assert post['headers'].get('X-SailPoint-Experimental') == 'true'
    assert res['policy']['id'] == 'pol-new-1' and res['policy']['sources'] == ['LDAP']
    assert res['diff']['before'] == {}
    assert res['diff']['after'] == {'name': 'Kiosk', 'min_length': 10, 'use_dictionary': True, 'sources': ['LDAP']}


def test_create_in_check_mode_sends_nothing(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Kiosk', 'min_length': 10}, capsys, monkeypatch, check_mode=True)
    assert res['changed'] is True and isc.writes() == []
    assert res['policy'] == {'name': 'Kiosk', 'min_length': 10}


# ---- update -------------------------------------------------------------------------------------------

def test_same_values_change_nothing(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 12, 'sources': ['LDAP', 'src-ad']},
                          capsys, monkeypatch, diff=True)
    assert res['changed'] is False and isc.writes() == []
    assert res['diff']['before'] == {} and res['diff']['after'] == {}
    assert res['policy']['sources'] == ['Active Directory', 'LDAP']


def test_update_puts_the_whole_policy_with_undeclared_fields_kept(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 16, 'sources': ['Active Directory']},
                          capsys, monkeypatch, diff=True)
    assert res['changed'] is True
    (put,) = isc.writes()
    assert put['method'] == 'PUT' and put['path'] == '/v2024/password-policies/pol-svc'
    expected = dict((k, v) for k, v in SERVICE.items() if k not in pc.POLICY_READ_ONLY)
    expected.update(minLength=16, sourceIds=['src-ad'])
    assert put['json'] == expected
    assert res['diff']['before'] == {'min_length': 12, 'sources': ['Active Directory', 'LDAP']}
    assert res['diff']['after'] == {'min_length': 16, 'sources': ['Active Directory']}
    assert res['policy']['min_length'] == 16 and res['policy']['max_length'] == 64


def test_update_in_check_mode_sends_nothing(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'use_dictionary': True}, capsys, monkeypatch,
                          check_mode=True, diff=True)
    assert res['changed'] is True and isc.writes() == []
    assert res['diff']['before'] == {'use_dictionary': False} and res['diff']['after'] == {'use_dictionary': True}
    assert res['policy']['use_dictionary'] is True and res['policy']['id'] == 'pol-svc'


def test_empty_sources_list_removes_every_source(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'sources': []}, capsys, monkeypatch)
    assert res['changed'] is True and isc.writes()[0]['json']['sourceIds'] == []


def test_a_source_isc_does_not_name_is_returned_by_id(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'sources': ['src-hidden']}, capsys, monkeypatch)
    assert res['changed'] is True and res['policy']['sources'] == ['src-hidden']


# ---- absent -------------------------------------------------------------------------------------------

def test_absent_deletes(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'state': 'absent'}, capsys, monkeypatch, diff=True)
    assert res['changed'] is True and res['policy'] == {}
    (delete,) = isc.writes()
    assert delete['method'] == 'DELETE' and delete['path'] == '/v2024/password-policies/pol-svc'
    assert res['diff']['after'] == {} and res['diff']['before']['min_length'] == 12
    assert res['diff']['before']['sources'] == ['Active Directory', 'LDAP']


def test_absent_when_there_is_none(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Nope', 'state': 'absent'}, capsys, monkeypatch)
    assert res['changed'] is False and isc.writes() == []


def test_absent_in_check_mode(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'state': 'absent'}, capsys, monkeypatch, check_mode=True)
    assert res['changed'] is True and isc.writes() == []


# ---- bad input fails before anything is sent ------------------------------------------------------------

@pytest.mark.parametrize('args, words', [
    ({'name': ' '}, 'name is empty'),
    ({'name': 'X', 'min_upper': -1}, 'min_upper is -1: it must not be negative'),
    ({'name': 'X', 'max_repeated_chars': -2}, 'max_repeated_chars is -2'),
    ({'name': 'X', 'min_character_types': 5}, 'min_character_types is 5: give 1 to 4'),
    ({'name': 'X', 'min_length': 20, 'max_length': 10}, 'min_length (20) is greater than max_length (10)'),
    ({'name': 'X', 'sources': ['LDAP', '']}, 'sources has an empty entry'),
])
def test_bad_input(capsys, monkeypatch, args, words):
    res, isc = policy_run(args, capsys, monkeypatch)
    assert res['failed'] and words in res['msg'], res['msg']
    assert isc.writes() == []


def test_min_length_checked_against_the_tenants_max_length(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 65}, capsys, monkeypatch)
    assert res['failed'] and "max_length (64) (the tenant's value of max_length)" in res['msg']
    assert isc.writes() == []


def test_max_length_zero_means_no_maximum(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'max_length': 0}, capsys, monkeypatch)
    assert 'failed' not in res and res['changed'] is True


def test_minus_one_allowed_where_it_means_not_set(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'min_character_types': -1, 'account_id_min_word_length': -1},
                          capsys, monkeypatch)
    assert res['changed'] is False and 'failed' not in res


def test_unknown_source_fails_before_writing(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'sources': ['Nowhere']}, capsys, monkeypatch)
    assert res['failed'] and "no source is named or has the id 'Nowhere'" in res['msg']
    assert isc.writes() == []


def test_duplicate_names_fail_with_the_ids(capsys, monkeypatch):
    isc = FakeIsc([SERVICE, dict(SERVICE, id='pol-twin')])
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 20}, capsys, monkeypatch, isc=isc)
    assert res['failed'] and 'pol-svc' in res['msg'] and 'pol-twin' in res['msg'] and isc.writes() == []


def test_api_client_403_names_the_pat(capsys, monkeypatch):
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 20}, capsys, monkeypatch,
                          isc=FakeIsc(status=403))
    assert res['failed'] and res['status'] == 403
    assert 'personal access token' in res['msg']


# ---- API versions --------------------------------------------------------------------------------------

@pytest.mark.parametrize('version, path, experimental', [
    ('v3', '/v3/password-policies/pol-svc', False),
    ('v2025', '/v2025/password-policies/pol-svc', True),
    ('v1', '/password-policies/v1/pol-svc', True),
])
def test_versions(capsys, monkeypatch, version, path, experimental):
    res, isc = policy_run({'name': 'Service accounts', 'min_length': 20, 'api_version': version}, capsys, monkeypatch,
                          isc=FakeIsc(version=version))
    (put,) = isc.writes()
    assert put['path'] == path and res['changed'] is True
    assert ('X-SailPoint-Experimental' in put['headers']) is experimental


# ---- isc_password_policy_info ---------------------------------------------------------------------------

def test_info_lists_every_policy_in_option_form(capsys, monkeypatch):
    res, isc = policy_run({}, capsys, monkeypatch, module=isc_password_policy_info)
    assert res['changed'] is False and [p['name'] for p in res['policies']] == ['Default Policy', 'Service accounts']
    svc = res['policies'][1]
    assert svc['id'] == 'pol-svc' and svc['sources'] == ['Active Directory', 'LDAP']
    assert svc['min_length'] == 12 and svc['validate_against_account_id'] is True
    assert svc['date_created'] == 1639056206564 and svc['last_updated'] == 1662385430753
    assert 'minLength' not in svc and 'sourceIds' not in svc
    assert isc.writes() == []


@pytest.mark.parametrize('ref, names', [('Service accounts', ['Service accounts']), ('pol-default', ['Default Policy']),
                                        ('Nothing', [])])
def test_info_by_name_or_id(capsys, monkeypatch, ref, names):
    res, dummy = policy_run({'name': ref}, capsys, monkeypatch, module=isc_password_policy_info)
    assert 'failed' not in res and [p['name'] for p in res['policies']] == names


def test_info_item_applies_again_without_change(capsys, monkeypatch):
    """The export round trip: an _info item given as it is to isc_password_policy changes nothing."""
    info, isc = policy_run({'name': 'Service accounts'}, capsys, monkeypatch, module=isc_password_policy_info)
    item = info['policies'][0]
    json.dumps(item)  # what the export playbook writes to a file
    res, isc = policy_run(item, capsys, monkeypatch, isc=isc, diff=True)
    assert 'failed' not in res, res.get('msg')
    assert res['changed'] is False and isc.writes() == []
    wanted = pc.declared(item, pc.POLICY_FIELDS)
    assert pc.changes(wanted, SERVICE) == {}


def test_info_item_creates_the_same_policy_on_another_tenant(capsys, monkeypatch):
    info, dummy = policy_run({'name': 'Service accounts'}, capsys, monkeypatch, module=isc_password_policy_info)
    other = FakeIsc([DEFAULT])
    res, other = policy_run(info['policies'][0], capsys, monkeypatch, isc=other)
    assert res['changed'] is True
    created = other.policies[-1]
    assert dict((k, v) for k, v in created.items() if k not in pc.POLICY_READ_ONLY) == \
        dict((k, v) for k, v in SERVICE.items() if k not in pc.POLICY_READ_ONLY)
    res, other = policy_run(info['policies'][0], capsys, monkeypatch, isc=other)
    assert res['changed'] is False
