# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""isc_source_password_policies against the in-memory tenant of test_isc_password_sync_group.py."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_source_password_policies
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.test_isc_password_sync_group import (
    FakeTenant,
    run as run_any,
)

V25 = {'api_version': 'v2025'}
CANADA = {'policy': 'Strict', 'selectors': {'identity_attr': [{'name': 'country', 'value': 'Canada'},
                                                              {'name': 'department', 'value': 'IT'}]}}
HOLDERS = [CANADA, {'policy': 'Default'}]


def run(args, capsys, monkeypatch, tenant=None, **kw):
    return run_any(dict(V25, **args), capsys, monkeypatch, tenant, main=isc_source_password_policies.main, **kw)


def test_unchanged_when_the_tenant_has_the_list(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': [{'policy': 'pol-default'}]}, capsys, monkeypatch)
    assert not res['changed'] and t.writes() == []
    assert res['source'] == 'Corp-AD' and res['source_id'] == 'src-ad'
    assert res['holders'] == [{'policy': 'Default', 'policy_id': 'pol-default', 'selectors': None}]
    assert any(c['path'] == '/v2025/sources/src-ad/password-policies' and c['method'] == 'GET' for c in t.calls)


def test_check_mode_then_apply_then_reapply(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': HOLDERS}, capsys, monkeypatch, check_mode=True, diff=True)
    assert res['changed'] and t.writes() == []
    assert res['diff']['before']['holders'] == [{'policyId': 'pol-default', 'policyName': 'Default', 'selectors': None}]
    assert [h['policyId'] for h in res['diff']['after']['holders']] == ['pol-strict', 'pol-default']
    res, t = run({'source': 'Corp-AD', 'holders': HOLDERS}, capsys, monkeypatch, t)
    assert res['changed']
    (patch,) = t.writes()
    assert patch['method'] == 'PATCH' and patch['path'] == '/v2025/sources/src-ad/password-policies'
    assert patch['json'] == [
        {'policyId': 'pol-strict', 'policyName': 'Strict',
         'selectors': {'identityAttr': [{'name': 'country', 'value': 'Canada'}, {'name': 'department', 'value': 'IT'}]}},
        {'policyId': 'pol-default', 'policyName': 'Default'}]  # every identity: no selectors key (schema: an object)
    assert 'X-SailPoint-Experimental' not in patch['headers']
    assert res['holders'][0] == {'policy': 'Strict', 'policy_id': 'pol-strict',
                                 'selectors': {'identity_attr': [{'name': 'country', 'value': 'Canada'},
                                                                 {'name': 'department', 'value': 'IT'}]}}
    # the same list in another order, attributes too: no change (the documents give the order no meaning)
    shuffled = [{'policy': 'Default'}, {'policy': 'pol-strict', 'selectors': {'identity_attr': list(
        reversed(CANADA['selectors']['identity_attr']))}}]
    again, t = run({'source': 'src-ad', 'holders': shuffled}, capsys, monkeypatch, t)
    assert not again['changed'] and len(t.writes()) == 1


def test_a_changed_selector_value_is_a_change(capsys, monkeypatch):
    t = FakeTenant()
    run({'source': 'Corp-AD', 'holders': HOLDERS}, capsys, monkeypatch, t)
    other = [{'policy': 'Strict', 'selectors': {'identity_attr': [{'name': 'country', 'value': 'France'},
                                                                  {'name': 'department', 'value': 'IT'}]}},
             {'policy': 'Default'}]
    res, t = run({'source': 'Corp-AD', 'holders': other}, capsys, monkeypatch, t, diff=True)
    assert res['changed'] and len(t.writes()) == 2
    assert res['diff']['after']['holders'][0]['selectors']['identityAttr'][0]['value'] == 'France'


def test_empty_list_and_absent_remove_every_holder(capsys, monkeypatch):
    # the seed's holder is the default policy for the whole source: the same as no holder
    res, t = run({'source': 'Corp-AD', 'state': 'absent'}, capsys, monkeypatch)
    assert not res['changed'] and t.writes() == []
    t.holders['src-ad'] = [{'policyId': 'pol-strict', 'policyName': 'Strict', 'selectors': None}]
    res, t = run({'source': 'Corp-AD', 'state': 'absent'}, capsys, monkeypatch, t)
    assert res['changed'] and res['holders'] == [] and t.holders['src-ad'] == []
    assert t.writes()[0]['json'] == []
    res, t = run({'source': 'Corp-AD', 'holders': []}, capsys, monkeypatch, t)
    assert not res['changed'] and len(t.writes()) == 1


def test_absent_with_holders_fails(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'state': 'absent', 'holders': HOLDERS}, capsys, monkeypatch)
    assert res['failed'] and 'holders' in res['msg'] and t.calls == []


def test_present_needs_holders(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD'}, capsys, monkeypatch)
    assert res['failed'] and 'holders' in res['msg'] and t.calls == []


def test_repeated_holder_fails_before_sending(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': [CANADA, {'policy': 'Default'}, CANADA]}, capsys, monkeypatch)
    assert res['failed'] and 'holders[2] repeats holders[0]' in res['msg'] and t.calls == []


def test_unknown_policy_and_source(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': [{'policy': 'Lax'}]}, capsys, monkeypatch)
    assert res['failed'] and "'Lax'" in res['msg'] and t.writes() == []
    res, t = run({'source': 'Nope', 'holders': [{'policy': 'Default'}]}, capsys, monkeypatch)
    assert res['failed'] and res['msg'].startswith("source: no source") and t.writes() == []


def test_versions_without_the_read_fail_before_sending(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': HOLDERS, 'api_version': 'v2024'}, capsys, monkeypatch)
    assert res['failed'] and t.calls == []
    assert 'needs api_version v2025 or v1' in res['msg'] and 'every run would be a change' in res['msg']
    for version in ('v3', 'beta'):
        res, t = run({'source': 'Corp-AD', 'holders': HOLDERS, 'api_version': version}, capsys, monkeypatch)
        assert res['failed'] and t.calls == [] and 'has neither' in res['msg'] and version in res['msg']


def test_v1_paths(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': HOLDERS, 'api_version': 'v1'}, capsys, monkeypatch)
    assert res['changed'] and t.writes()[0]['path'] == '/sources/v1/src-ad/password-policies'
    assert any(c['method'] == 'GET' and c['path'] == '/sources/v1/src-ad/password-policies' for c in t.calls)


def test_api_client_read_403_names_the_pat(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': HOLDERS}, capsys, monkeypatch, FakeTenant(api_client=True))
    assert res['failed'] and res['status'] == 403 and t.writes() == []
    assert 'personal access token' in res['msg'] and 'user-context token' in res['msg']


def test_the_default_policy_holds_the_rest_implicitly(capsys, monkeypatch):
    t = FakeTenant()
    t.holders['src-ad'] = [{'policyId': 'pol-default', 'policyName': 'Default', 'selectors': None},
                           {'policyId': 'pol-strict', 'policyName': 'Strict',
                            'selectors': {'identityAttr': [{'name': 'country', 'value': 'Canada'}]}}]
    only_canada = [{'policy': 'Strict', 'selectors': {'identity_attr': [{'name': 'country', 'value': 'Canada'}]}}]
    res, t = run({'source': 'Corp-AD', 'holders': only_canada}, capsys, monkeypatch, t)
    assert not res['changed'] and t.writes() == []
    # another policy for the whole source is a change
    res, t = run({'source': 'Corp-AD', 'holders': only_canada + [{'policy': 'Strict'}]}, capsys, monkeypatch, t)
    assert res['changed'] and len(t.writes()) == 1


def test_two_holders_of_the_whole_source_fail(capsys, monkeypatch):
    res, t = run({'source': 'Corp-AD', 'holders': [{'policy': 'Default'}, CANADA, {'policy': 'Strict'}]},
                 capsys, monkeypatch)
    assert res['failed'] and 'holders[0] and holders[2] both lack selectors' in res['msg'] and t.calls == []
