# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""isc_password_sync_group and its _info twin against a small in-memory tenant (fake transport).

FakeTenant is also used by test_isc_source_password_policies.py.
"""

from __future__ import annotations

import copy
import re
from urllib.parse import parse_qs

from ansible_collections.sailpoint_isc.passwords.plugins.modules import (
    isc_password_sync_group,
    isc_password_sync_group_info,
)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import (
    CONN,
    FakeResponse,
    FakeSession,
    run_module,
)

FORBIDDEN = {'detailCode': '403 Forbidden', 'trackingId': 't403',
             'messages': [{'text': 'The server understood the request but refuses to authorize it.'}]}
NOT_FOUND = {'detailCode': '404 Not found', 'trackingId': 't404', 'messages': [{'text': 'Not found'}]}
_PATH = re.compile(r'^/(?:(?P<pre>v2024|v2025|v3|beta)/(?P<res>[a-z-]+)(?:/(?P<id>[^/]+))?(?:/(?P<sub>password-policies))?'
                   r'|(?P<res1>[a-z-]+)/v1(?:/(?P<id1>[^/]+))?(?:/(?P<sub1>password-policies))?)$')


def with_content(resp):
    resp.content = resp.text.encode('utf-8')  # IscClient.call_json reads the raw body
    return resp


class FakeTenant(FakeSession):
    """Sync groups, policies, sources and the policy holders of sources, by path, for every version.
    ``api_client=True`` answers 403 where the documents allow a user token only."""

    def __init__(self, api_client=False):
        super(FakeTenant, self).__init__()
        self.api_client = api_client
        self.policies = [{'id': 'pol-default', 'name': 'Default', 'defaultPolicy': True},
                         {'id': 'pol-strict', 'name': 'Strict', 'defaultPolicy': False},
                         {'id': 'pol-unix', 'name': 'Unix policy', 'defaultPolicy': False}]
        self.sources = [{'id': 'src-ad', 'name': 'Corp-AD'}, {'id': 'src-ldap', 'name': 'Corp-LDAP'},
                        {'id': 'src-ora', 'name': 'Oracle-DB'}, {'id': 'src-ul', 'name': 'Unix-LDAP'},
                        {'id': 'src-uk', 'name': 'Unix-Kerberos'}]
        self.groups = [{'id': 'sg-unix', 'name': 'Unix Password Sync', 'passwordPolicyId': 'pol-unix',
                        'sourceIds': ['src-ul', 'src-uk'], 'created': '2024-01-01T00:00:00Z',
                        'modified': '2024-01-01T00:00:00Z'}]
        self.holders = {'src-ad': [{'policyId': 'pol-default', 'policyName': 'Default', 'selectors': None}]}
        self.next_id = 0

    def writes(self):
        return [c for c in self.calls if c['method'] in ('POST', 'PUT', 'PATCH', 'DELETE') and c['path'] != '/oauth/token']

    def request(self, method, url, json=None, data=None, headers=None, timeout=None, verify=None):
        resp = super(FakeTenant, self).request(method, url, json, data, headers, timeout, verify)
        call = self.calls[-1]
        if call['path'] == '/oauth/token':
            return resp
        m = _PATH.match(call['path'])
        if not m:
            return with_content(FakeResponse(404, NOT_FOUND))
        res, item, sub = m.group('res') or m.group('res1'), m.group('id') or m.group('id1'), m.group('sub') or m.group('sub1')
        query = parse_qs(call['query'])
        handler = {'password-sync-groups': self.sync_groups, 'password-policies': self.policy_list,
                   'sources': self.source_calls}.get(res)
        if handler is None:
            return with_content(FakeResponse(404, NOT_FOUND))
        answer = handler(method, item, sub, query, copy.deepcopy(json))
        return with_content(answer)

    @staticmethod
    def page(items, query):
        offset = int(query.get('offset', ['0'])[0])
        limit = int(query.get('limit', ['250'])[0])
        return FakeResponse(200, copy.deepcopy(items[offset:offset + limit]))

    def sync_groups(self, method, item, sub, query, body):
        if method != 'GET' and self.api_client:
            return FakeResponse(403, FORBIDDEN)
        if item is None and method == 'GET':
            return self.page(self.groups, query)
        if item is None and method == 'POST':
            self.next_id += 1
            group = dict(body, id='sg-new-%d' % self.next_id, created='2025-01-01T00:00:00Z', modified='2025-01-01T00:00:00Z')
            self.groups.append(group)
            return FakeResponse(200, copy.deepcopy(group))
        found = [g for g in self.groups if g['id'] == item]
        if not found:
            return FakeResponse(404, NOT_FOUND)
        if method == 'PUT':
            found[0].clear()
            found[0].update(body, id=item, created='2024-01-01T00:00:00Z', modified='2025-02-02T00:00:00Z')
        elif method == 'DELETE':
            self.groups.remove(found[0])
            return FakeResponse(204)
        return FakeResponse(200, copy.deepcopy(found[0]))

    def policy_list(self, method, item, sub, query, body):
        return self.page(self.policies, query)

    def source_calls(self, method, item, sub, query, body):
        if item is None:
            filters = query.get('filters', [''])[0]
            field = filters.split(' ', 1)[0]
            values = re.findall(r'"((?:[^"\\]|\\.)*)"', filters)
            return FakeResponse(200, [s for s in self.sources if s.get(field) in values])
        if item not in [s['id'] for s in self.sources]:
            return FakeResponse(404, NOT_FOUND)
        if method == 'GET':
            if self.api_client:
                return FakeResponse(403, FORBIDDEN)
            return self.page(self.holders.get(item, []), query)
        self.holders[item] = body
        return FakeResponse(200, copy.deepcopy(body))


def run(args, capsys, monkeypatch, tenant=None, main=isc_password_sync_group.main, **kw):
    tenant = tenant if tenant is not None else FakeTenant()
    res, dummy = run_module(main, dict(CONN, **args), capsys, monkeypatch, tenant, **kw)
    return res, tenant


NEW = {'name': 'Corp Sync', 'password_policy': 'Strict', 'sources': ['Corp-LDAP', 'Oracle-DB']}


# ---- create, re-apply, change, delete -------------------------------------------------------------

def test_create_in_check_mode_sends_nothing(capsys, monkeypatch):
    res, t = run(NEW, capsys, monkeypatch, check_mode=True, diff=True)
    assert res['changed'] and t.writes() == []
    assert res['sync_group']['id'] is None and res['sync_group']['password_policy'] == 'Strict'
    assert res['sync_group']['sources'] == ['Corp-LDAP', 'Oracle-DB']
    assert res['diff']['before'] == {} and res['diff']['after']['sourceIds'] == ['src-ldap', 'src-ora']


def test_create_then_reapply_unchanged(capsys, monkeypatch):
    res, t = run(NEW, capsys, monkeypatch)
    assert res['changed']
    (post,) = t.writes()
    assert post['method'] == 'POST' and post['path'] == '/v2024/password-sync-groups'
    assert post['json'] == {'name': 'Corp Sync', 'passwordPolicyId': 'pol-strict', 'sourceIds': ['src-ldap', 'src-ora']}
    assert 'X-SailPoint-Experimental' not in post['headers']
    assert res['sync_group'] == {'id': 'sg-new-1', 'name': 'Corp Sync', 'password_policy': 'Strict',
                                 'password_policy_id': 'pol-strict', 'sources': ['Corp-LDAP', 'Oracle-DB'],
                                 'source_ids': ['src-ldap', 'src-ora'], 'created': '2025-01-01T00:00:00Z',
                                 'modified': '2025-01-01T00:00:00Z'}
    t.calls = []
    again, t = run(dict(NEW, sources=['Oracle-DB', 'src-ldap', 'Oracle-DB'], password_policy='pol-strict'),
                   capsys, monkeypatch, t)
    assert not again['changed'] and t.writes() == [] and 'diff' not in again


def test_change_policy_only_puts_merged_with_diff(capsys, monkeypatch):
    res, t = run({'name': 'Unix Password Sync', 'password_policy': 'Strict'}, capsys, monkeypatch, diff=True)
    assert res['changed']
    (put,) = t.writes()
    assert put['method'] == 'PUT' and put['path'] == '/v2024/password-sync-groups/sg-unix'
    # the undeclared sources keep the tenant's value; ISC's own fields are not sent back
    assert put['json'] == {'name': 'Unix Password Sync', 'passwordPolicyId': 'pol-strict',
                           'sourceIds': ['src-ul', 'src-uk']}
    assert res['diff']['before'] == {'passwordPolicyId': 'pol-unix'}
    assert res['diff']['after'] == {'passwordPolicyId': 'pol-strict'}
    assert res['sync_group']['password_policy'] == 'Strict' and res['sync_group']['sources'] == ['Unix-LDAP', 'Unix-Kerberos']


def test_change_in_check_mode_reports_without_put(capsys, monkeypatch):
    res, t = run({'name': 'Unix Password Sync', 'sources': ['Unix-LDAP']}, capsys, monkeypatch, check_mode=True, diff=True)
    assert res['changed'] and t.writes() == []
    assert res['diff']['after'] == {'sourceIds': ['src-ul'], 'sources': ['Unix-LDAP']}  # names beside the ids
    assert res['diff']['before'] == {'sourceIds': ['src-ul', 'src-uk'], 'sources': ['Unix-LDAP', 'Unix-Kerberos']}
    assert res['sync_group']['sources'] == ['Unix-LDAP'] and t.groups[0]['sourceIds'] == ['src-ul', 'src-uk']


def test_absent_deletes_and_is_idempotent(capsys, monkeypatch):
    res, t = run({'name': 'Unix Password Sync', 'state': 'absent'}, capsys, monkeypatch, diff=True)
    assert res['changed'] and res['sync_group'] == {} and t.groups == []
    (delete,) = t.writes()
    assert delete['method'] == 'DELETE' and delete['path'] == '/v2024/password-sync-groups/sg-unix'
    assert res['diff']['before']['name'] == 'Unix Password Sync' and res['diff']['after'] == {}
    again, t = run({'name': 'Unix Password Sync', 'state': 'absent'}, capsys, monkeypatch, t)
    assert not again['changed'] and len(t.writes()) == 1


def test_absent_in_check_mode_keeps_the_group(capsys, monkeypatch):
    res, t = run({'name': 'Unix Password Sync', 'state': 'absent'}, capsys, monkeypatch, check_mode=True)
    assert res['changed'] and t.writes() == [] and len(t.groups) == 1


# ---- bad input fails before any write ---------------------------------------------------------------

def test_create_without_policy_or_sources_names_them(capsys, monkeypatch):
    res, t = run({'name': 'Corp Sync', 'sources': ['Corp-LDAP']}, capsys, monkeypatch)
    assert res['failed'] and 'password_policy' in res['msg'] and 'does not exist yet' in res['msg']
    res, t = run({'name': 'Corp Sync'}, capsys, monkeypatch)
    assert res['failed'] and 'password_policy and sources' in res['msg'] and t.writes() == []


def test_unknown_source_and_policy(capsys, monkeypatch):
    res, t = run(dict(NEW, sources=['Corp-LDAP', 'Nope']), capsys, monkeypatch)
    assert res['failed'] and "'Nope'" in res['msg'] and t.writes() == []
    res, t = run(dict(NEW, password_policy='Lax'), capsys, monkeypatch)
    assert res['failed'] and "'Lax'" in res['msg'] and 'isc_password_policy' in res['msg'] and t.writes() == []


def test_source_in_another_group_fails(capsys, monkeypatch):
    res, t = run(dict(NEW, sources=['Corp-LDAP', 'Unix-LDAP']), capsys, monkeypatch)
    assert res['failed'] and t.writes() == []
    assert "'Unix-LDAP' is already in the password sync group 'Unix Password Sync'" in res['msg']


def test_empty_inputs(capsys, monkeypatch):
    for args, word in (({'name': ' '}, 'name'), (dict(NEW, sources=[]), 'state=absent'),
                       (dict(NEW, sources=['Corp-LDAP', '']), 'empty entry'), (dict(NEW, password_policy=''), 'password_policy')):
        res, t = run(args, capsys, monkeypatch)
        assert res['failed'] and word in res['msg'] and t.calls == [], args


def test_two_groups_of_one_name(capsys, monkeypatch):
    t = FakeTenant()
    t.groups.append(dict(t.groups[0], id='sg-twin', sourceIds=[]))
    res, t = run({'name': 'Unix Password Sync', 'state': 'absent'}, capsys, monkeypatch, t)
    assert res['failed'] and 'sg-twin' in res['msg'] and t.writes() == []


def test_api_client_403_names_the_pat(capsys, monkeypatch):
    res, t = run(NEW, capsys, monkeypatch, FakeTenant(api_client=True))
    assert res['failed'] and res['status'] == 403 and 'personal access token' in res['msg']


def test_v1_paths(capsys, monkeypatch):
    res, t = run(dict(NEW, api_version='v1'), capsys, monkeypatch)
    assert res['changed'] and t.writes()[0]['path'] == '/password-sync-groups/v1'
    assert any(c['path'] == '/password-policies/v1' and c['headers'].get('X-SailPoint-Experimental') == 'true'
               for c in t.calls)


# ---- the _info twin ---------------------------------------------------------------------------------

def test_info_lists_in_option_form(capsys, monkeypatch):
    res, t = run({}, capsys, monkeypatch, main=isc_password_sync_group_info.main)
    assert not res['changed'] and t.writes() == []
    assert res['sync_groups'] == [{'id': 'sg-unix', 'name': 'Unix Password Sync', 'password_policy': 'Unix policy',
                                   'sources': ['Unix-LDAP', 'Unix-Kerberos']}]
    by_id, t = run({'name': 'sg-unix', 'api_version': 'v3'}, capsys, monkeypatch, main=isc_password_sync_group_info.main)
    assert by_id['sync_groups'] == res['sync_groups']
    none, t = run({'name': 'Nope'}, capsys, monkeypatch, main=isc_password_sync_group_info.main)
    assert none['sync_groups'] == [] and not none.get('failed')


def test_info_item_fed_back_changes_nothing(capsys, monkeypatch):
    t = FakeTenant()
    res, t = run({}, capsys, monkeypatch, t, main=isc_password_sync_group_info.main)
    for item in res['sync_groups']:
        args = dict((k, v) for k, v in item.items() if k != 'id')
        again, t = run(args, capsys, monkeypatch, t, check_mode=True)
        assert not again['changed'], again
        applied, t = run(args, capsys, monkeypatch, t)
        assert not applied['changed'] and t.writes() == []


def test_info_keeps_unknown_policy_and_source_ids(capsys, monkeypatch):
    t = FakeTenant()
    t.groups[0].update(passwordPolicyId='pol-gone', sourceIds=['src-ul', 'src-hidden'])
    res, t = run({}, capsys, monkeypatch, t, main=isc_password_sync_group_info.main)
    assert res['sync_groups'][0]['password_policy'] == 'pol-gone'
    assert res['sync_groups'][0]['sources'] == ['Unix-LDAP', 'src-hidden']


# ---- release_only: removals before additions (issue 22 item 12) -------------------------------------

def _with_corp_group(tenant):
    tenant.groups.append({'id': 'sg-corp', 'name': 'Corp Sync', 'passwordPolicyId': 'pol-strict',
                          'sourceIds': ['src-ad', 'src-ora'], 'created': '2024-01-01T00:00:00Z',
                          'modified': '2024-01-01T00:00:00Z'})
    return tenant


def test_release_only_gives_up_the_sources_no_longer_listed_and_takes_only_free_ones(capsys, monkeypatch):
    t = _with_corp_group(FakeTenant())
    # Unix gives up Unix-Kerberos, keeps Unix-LDAP, takes Corp-LDAP (free) but not Oracle-DB (held by Corp Sync)
    res, t = run({'name': 'Unix Password Sync', 'sources': ['Unix-LDAP', 'Corp-LDAP', 'Oracle-DB'],
                  'release_only': True}, capsys, monkeypatch, t)
    assert res['changed'], res
    assert [c['method'] for c in t.writes()] == ['PUT']
    assert t.groups[0]['sourceIds'] == ['src-ul', 'src-ldap'] and t.groups[0]['passwordPolicyId'] == 'pol-unix'
    # the source it gave up can now join another group; the full write finishes the change
    res, t = run({'name': 'Unix Password Sync', 'sources': ['Unix-LDAP', 'Corp-LDAP'], 'release_only': True},
                 capsys, monkeypatch, t)
    assert not res['changed'] and len(t.writes()) == 1


def test_release_only_never_leaves_fewer_than_two_sources_nor_creates(capsys, monkeypatch):
    t = _with_corp_group(FakeTenant())
    # only Unix-LDAP would remain (Corp-AD is held): no write, the full write later does it all
    res, t = run({'name': 'Unix Password Sync', 'sources': ['Unix-LDAP', 'Corp-AD'], 'release_only': True},
                 capsys, monkeypatch, t)
    assert not res['changed'] and t.writes() == []
    res, t = run(dict(NEW, name='Brand New', release_only=True), capsys, monkeypatch, t)
    assert not res['changed'] and t.writes() == [] and res['sync_group'] == {}


def test_release_only_in_check_mode_sends_nothing(capsys, monkeypatch):
    res, t = run({'name': 'Unix Password Sync', 'sources': ['Unix-LDAP', 'Corp-LDAP'], 'release_only': True},
                 capsys, monkeypatch, check_mode=True, diff=True)
    assert res['changed'] and t.writes() == [] and t.groups[0]['sourceIds'] == ['src-ul', 'src-uk']
    assert res['sync_group']['sources'] == ['Unix-LDAP', 'Corp-LDAP']


def test_check_mode_review_of_a_move_takes_the_sources_other_declared_groups_give_up(capsys, monkeypatch):
    move = {'name': 'Corp Sync', 'password_policy': 'Strict', 'sources': ['Unix-Kerberos', 'Oracle-DB']}
    declared = {'Corp Sync': ['Unix-Kerberos', 'Oracle-DB'], 'Unix Password Sync': ['Unix-LDAP', 'Corp-LDAP']}
    res, t = run(dict(move, declared_groups=declared), capsys, monkeypatch, check_mode=True)
    assert res['changed'] and not res.get('failed') and t.writes() == []
    # a group the configuration removes gives up all of its sources
    res, t = run(dict(move, declared_groups={'Unix Password Sync': None}), capsys, monkeypatch, check_mode=True)
    assert res['changed'] and not res.get('failed')
    # a group that still declares the source keeps it; and outside check mode the tenant as it is decides
    res, t = run(dict(move, declared_groups={'Unix Password Sync': ['Unix-LDAP', 'Unix-Kerberos']}), capsys, monkeypatch,
                 check_mode=True)
    assert res['failed'] and "'Unix-Kerberos' is already in the password sync group" in res['msg']
    res, t = run(dict(move, declared_groups=declared), capsys, monkeypatch)
    assert res['failed'] and t.writes() == []
