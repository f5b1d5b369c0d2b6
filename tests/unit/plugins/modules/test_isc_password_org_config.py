# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""isc_password_org_config: POST when the tenant has none, PUT of only the changed fields, check mode, diff,
ranges checked before sending (fake ISC transport)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_password_org_config
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import (
    CONN,
    FakeResponse,
    FakeSession,
    run_module,
)

PATH = '/v2024/password-org-config'
TENANT = {'customInstructionsEnabled': False, 'digitTokenEnabled': True, 'digitTokenDurationMinutes': 5,
          'digitTokenLength': 6}


class Resp(FakeResponse):
    """A FakeResponse with ``content``, as IscClient.call_json reads it."""

    @property
    def content(self):
        return self.text.encode('utf-8')


def tenant(get=None, none=False):
    """A fake ISC that keeps one org config: GET answers it (or ``get``), PUT merges, POST creates."""
    state = {'config': None if none else dict(TENANT)}

    def answer_get(*_args):
        if get is not None:
            return get
        return Resp(200, dict(state['config']))

    def put(_method, _url, body, _data, _headers):
        state['config'] = dict(state['config'] or {}, **body)
        return Resp(200, dict(state['config']))

    def post(_method, _url, body, _data, _headers):
        state['config'] = dict(isc_password_org_config.ISC_DEFAULTS, **body)
        return Resp(200, dict(state['config']))

    session = FakeSession({('GET', PATH): answer_get, ('PUT', PATH): put, ('POST', PATH): post})
    session.state = state
    return session


def writes(session):
    return [c for c in session.calls if c['method'] in ('PUT', 'POST', 'PATCH', 'DELETE') and c['path'] != '/oauth/token']


def run(args, capsys, monkeypatch, session, **kw):
    return run_module(isc_password_org_config.main, dict(CONN, **args), capsys, monkeypatch, session=session, **kw)


def test_unchanged_sends_no_write(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'digit_token_enabled': True, 'digit_token_length': 6}, capsys, monkeypatch, s)
    assert res['changed'] is False and writes(s) == [] and res['changed_fields'] == []
    assert res['org_config'] == {'custom_instructions_enabled': False, 'digit_token_enabled': True,
                                 'digit_token_duration_minutes': 5, 'digit_token_length': 6}


def test_put_sends_only_the_changed_fields(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'digit_token_enabled': True, 'digit_token_length': 8, 'digit_token_duration_minutes': 10},
                     capsys, monkeypatch, s, diff=True)
    assert res['changed'] is True and res['created'] is False
    [put] = writes(s)
    assert put['method'] == 'PUT' and put['json'] == {'digitTokenLength': 8, 'digitTokenDurationMinutes': 10}
    assert res['org_config']['digit_token_length'] == 8 and res['org_config']['digit_token_duration_minutes'] == 10
    assert res['changed_fields'] == ['digit_token_duration_minutes', 'digit_token_length']
    assert res['diff']['before'] == {'digit_token_duration_minutes': 5, 'digit_token_length': 6}
    assert res['diff']['after'] == {'digit_token_duration_minutes': 10, 'digit_token_length': 8}
    # the org config is not experimental anywhere
    assert 'X-SailPoint-Experimental' not in put['headers']


def test_rerun_is_idempotent(capsys, monkeypatch):
    s = tenant()
    args = {'custom_instructions_enabled': True}
    first, dummy = run(args, capsys, monkeypatch, s)
    second, dummy = run(args, capsys, monkeypatch, s)
    assert first['changed'] is True and second['changed'] is False
    assert len(writes(s)) == 1


def test_check_mode_sends_nothing_and_predicts(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'digit_token_length': 12}, capsys, monkeypatch, s, check_mode=True, diff=True)
    assert res['changed'] is True and writes(s) == []
    assert res['org_config']['digit_token_length'] == 12
    assert res['diff']['after'] == {'digit_token_length': 12}
    assert s.state['config'] == TENANT


@pytest.mark.parametrize('none', [Resp(404, {'detailCode': '404 Not found', 'messages': [{'text': 'none'}]}),
                                  Resp(200, {}), Resp(204, text='')])
def test_tenant_without_config_gets_a_post_of_the_declared_fields(capsys, monkeypatch, none):
    s = tenant(none=True, get=none)
    res, dummy = run({'digit_token_enabled': True}, capsys, monkeypatch, s, diff=True)
    [post] = writes(s)
    assert post['method'] == 'POST' and post['json'] == {'digitTokenEnabled': True}
    assert res['changed'] is True and res['created'] is True
    # ISC's defaults for the rest
    assert res['org_config'] == {'custom_instructions_enabled': False, 'digit_token_enabled': True,
                                 'digit_token_duration_minutes': 5, 'digit_token_length': 6}
    assert res['diff']['before'] == {'digit_token_enabled': None}


def test_tenant_without_config_and_nothing_declared_only_reads(capsys, monkeypatch):
    s = tenant(none=True, get=Resp(200, {}))
    res, dummy = run({}, capsys, monkeypatch, s)
    assert res['changed'] is False and res['created'] is False and writes(s) == []
    assert res['org_config']['digit_token_length'] == 6


def test_put_404_falls_back_to_post(capsys, monkeypatch):
    s = tenant()
    s.handlers[('PUT', PATH)] = Resp(404, {'detailCode': '404 Not found', 'messages': [{'text': 'no config'}]})
    res, dummy = run({'digit_token_length': 9}, capsys, monkeypatch, s)
    assert [c['method'] for c in writes(s)] == ['PUT', 'POST']
    assert writes(s)[1]['json'] == {'digitTokenLength': 9}
    assert res['created'] is True and res['org_config']['digit_token_length'] == 9


@pytest.mark.parametrize('option,value,bounds', [('digit_token_length', 5, '6 to 18'),
                                                 ('digit_token_length', 19, '6 to 18'),
                                                 ('digit_token_duration_minutes', 0, '1 to 60'),
                                                 ('digit_token_duration_minutes', 61, '1 to 60')])
def test_out_of_range_fails_before_sending(capsys, monkeypatch, option, value, bounds):
    s = tenant()
    res, dummy = run({option: value}, capsys, monkeypatch, s)
    assert res['failed'] and option in res['msg'] and bounds in res['msg']
    assert s.calls == []


def test_error_of_isc_fails_with_its_status(capsys, monkeypatch):
    s = tenant(get=Resp(403, {'detailCode': '403 Forbidden', 'messages': [{'text': 'forbidden'}]}))
    res, dummy = run({'digit_token_length': 8}, capsys, monkeypatch, s)
    assert res['failed'] and res['status'] == 403 and 'read' in res['msg'] and writes(s) == []


@pytest.mark.parametrize('version,path', [('v3', '/v3/password-org-config'), ('beta', '/beta/password-org-config'),
                                          ('v2025', '/v2025/password-org-config'),
                                          ('v1', '/password-org-config/v1')])
def test_paths_of_every_version(capsys, monkeypatch, version, path):
    s = FakeSession({('GET', path): Resp(200, TENANT), ('PUT', path): Resp(200, dict(TENANT, digitTokenLength=7))})
    res, dummy = run({'api_version': version, 'digit_token_length': 7}, capsys, monkeypatch, s)
    assert res['changed'] is True and res['org_config']['digit_token_length'] == 7
    assert [c['method'] for c in s.calls if c['path'] == path] == ['GET', 'PUT']
    assert all('X-SailPoint-Experimental' not in c['headers'] for c in s.calls)


def test_nothing_secret_in_the_result(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'digit_token_length': 8}, capsys, monkeypatch, s)
    assert CONN['client_secret'] not in json.dumps(res)
