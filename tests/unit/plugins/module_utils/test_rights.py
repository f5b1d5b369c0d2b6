# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rights table against the documents, each job's needs, and the preflight (issue 25; rights.py)."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api, rights
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.auth import TokenCache
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights_table import RIGHTS

from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import BASE, SECRET, FakeClock, FakeResponse, FakeSession
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_api_spec import METHODS

REPO = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')


def test_the_table_covers_every_document():
    """Every document in tests/spec/ is in it: search, accounts, machine accounts, sources PATCH and
    check-connection too (tests/simulator/test_sim_authz.py regenerates it with tools/least_privilege.py)."""
    for key in (('POST', '/search/v1'), ('GET', '/accounts/v1'), ('GET', '/machine-accounts/v1'),
                ('PATCH', '/sources/v1/{id}'), ('POST', '/sources/v1/{sourceId}/connector/check-connection')):
        assert key in RIGHTS
    assert RIGHTS[('POST', '/sources/v1/{sourceId}/connector/check-connection')] == {
        'security': {'applicationAuth': ['idn:source-connector:manage'], 'userAuth': ['idn:source-connector:manage']},
        'levels': ['ORG_ADMIN']}


def test_jobs_cover_every_operation_the_collection_sends():
    sent = set((op, method.upper()) for op, methods in METHODS.items() for method in methods)
    assert set(pair for _runner, ops in rights.JOBS.values() for pair in ops) == sent
    for job in rights.JOBS:
        for version in api.API_VERSIONS:
            for need in rights.needs(job, version):  # every path api.py sends is a documented operation
                assert need['scopes'], (job, version, need)


def test_needs_follow_the_api_version():
    status = rights.needs('password-status', 'v2024')
    assert status == [dict(operation=api.OP_STATUS, method='GET', path='/v2024/password-change-status/{id}',
                           scopes=['idn:password-change:read'], user_token_only=False, levels=['ORG_ADMIN'])]
    assert rights.needs('password-status', 'beta')[0]['levels'] is None
    assert rights.needs('digit-token', 'v3') == []  # v3 has no digit token: nothing to need
    assert rights.minimal_scopes('rotation', 'v1') == ['idn:password-info:read', 'idn:password-change:manage',
                                                       'idn:password-change:read', 'idn:password-sync-group:read',
                                                       'idn:sources:read']
    assert any(n['user_token_only'] for n in rights.needs('password-config', 'v2024'))


def test_missing_any_one_scope_suffices_and_all_grants_everything():
    needed = set(rights.minimal_scopes('set-password', 'v2024'))
    assert rights.missing('set-password', 'v2024', needed) == []
    assert rights.missing('set-password', 'v2024', {'sp:scopes:all'}) == []
    assert rights.missing('set-password', 'v2024', None) == []  # unknown scopes: not refused
    for scope in needed:
        lacking = rights.missing('set-password', 'v2024', needed - {scope})
        assert [n['scopes'][0] for n in lacking] == [scope]
    assert rights.missing('rotation', 'v2024', set(rights.minimal_scopes('rotation', 'v2024')) - {'idn:password-sync-group:read'}
                          | {'idn:password-sync-group:manage'}) == []


def _client(scope, tmp_path=None):
    body = {'access_token': 'tok-1', 'token_type': 'bearer', 'expires_in': 750}
    if scope is not None:
        body['scope'] = scope
    session = FakeSession({('POST', '/oauth/token'): FakeResponse(200, body)})
    clock = FakeClock()
    cache = str(tmp_path / 'tokens') if tmp_path else None
    return IscClient(BASE, client_id='cid-123', client_secret=SECRET, clock=clock, sleep=clock.sleep,
                     session=session, token_cache=cache), session


def test_preflight_refuses_naming_scope_job_and_section_and_sends_only_the_token():
    client, session = _client('idn:password-info:read idn:password-change:read')
    with pytest.raises(IscError) as err:
        rights.require_rights(client, 'set-password')
    text = str(err.value)
    assert 'idn:password-change:manage' in text and 'set-password' in text
    assert 'docs/least-privilege.md#set-password' in text and 'idn:password-info:read,' not in text
    assert [c['path'] for c in session.calls] == ['/oauth/token']
    rights.require_rights(client, 'password-info')  # what it has is enough for that job


def test_preflight_passes_a_token_without_scope():
    client, _session = _client(None)
    rights.require_rights(client, 'rotation')


def test_cached_token_remembers_its_scope(tmp_path):
    client, session = _client('idn:password-info:read', tmp_path)
    assert client.granted_scopes() == {'idn:password-info:read'}
    again, session2 = _client('sp:scopes:all', tmp_path)  # the cache answers: the new answer is never asked for
    assert again.granted_scopes() == {'idn:password-info:read'} and session2.calls == []
    with pytest.raises(IscError):
        rights.require_rights(again, 'set-password')
    cache = TokenCache(str(tmp_path / 'tokens'), BASE, 'cid-123', SECRET)
    assert cache.load()[0] == 'tok-1' and cache.load_entry()[2] == 'idn:password-info:read'


def test_awx_credential_types_name_the_scopes_of_each_job():
    import yaml
    awx = os.path.join(REPO, 'extensions', 'awx')
    with open(os.path.join(awx, 'credential_type.yml'), encoding='utf-8') as handle:
        fields = dict((f['id'], f) for f in yaml.safe_load(handle)['inputs']['fields'])
    text = ' '.join(fields['client_id']['help_text'].split())
    for job in rights.JOBS:
        named = re.search(r'(?<![:\w-])%s(?: \(PAT of an ORG_ADMIN\))?: ([a-z:, -]+)' % re.escape(job), text).group(1)
        assert [s.strip() for s in named.split(',')] == rights.minimal_scopes(job, rights.job_version(job)), job
    with open(os.path.join(awx, 'credential_type_multi.yml'), encoding='utf-8') as handle:
        fields = dict((f['id'], f) for f in yaml.safe_load(handle)['inputs']['fields'])
    text = ' '.join(fields['api_clients']['help_text'].split())
    assert all(scope in text for scope in rights.minimal_scopes('rotation', 'v2024'))
