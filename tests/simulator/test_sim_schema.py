"""Every kind of response the simulator sends, validated against the official OpenAPI documents."""

import json
import os
import re
import time

import jsonschema
import pytest

from .conftest import VENDORED_SPEC_DIR
from .helpers import Api, _resolve, api_path, to_json_schema, wait_terminal

HEX32 = re.compile(r'^[0-9a-f]{32}$')
VERSIONS = ('v2024', 'v3', 'beta', 'v1')


def _error_shape(body):
    assert HEX32.match(body['trackingId'])
    assert body['detailCode']
    assert body['messages'][0]['locale'] == 'en-US'
    assert body['messages'][0]['localeOrigin'] == 'DEFAULT'
    assert body['messages'][0]['text']


@pytest.mark.parametrize('version', VERSIONS)
def test_success_responses_match_spec(openapi, make_sim, version):
    sim = make_sim(completion_delay=1.0)  # long enough to read IN_PROGRESS on a loaded machine
    api = Api(sim.base_url, version=version)
    resp = api.query()
    assert resp.headers['Cache-Control'] == 'no-cache, no-store, must-revalidate'
    assert HEX32.match(resp.headers['SLPT-Request-ID'])
    info = openapi(resp, version, 'query_password_info')
    assert HEX32.match(info['identityId']) and HEX32.match(info['sourceId'])

    resp = api.set_password('Summer2025ok', info=info)
    assert resp.status_code == 202
    accepted = openapi(resp, version, 'set_password')
    assert accepted['state'] == 'IN_PROGRESS' and HEX32.match(accepted['requestId'])

    status = openapi(api.status(accepted['requestId']), version, 'password_change_status')
    assert status['state'] == 'IN_PROGRESS'
    wait_terminal(api, accepted['requestId'])
    status = openapi(api.status(accepted['requestId']), version, 'password_change_status')
    assert status == {'requestId': accepted['requestId'], 'state': 'FINISHED', 'errors': [], 'sourceIds': [info['sourceId']]}

    if version != 'v3':
        token = openapi(api.digit({'userId': 'Abby.Smith', 'length': 8}), version, 'digit_token')
        assert re.match(r'^[0-9]{8}$', token['digitToken'])
    if version != 'v1':
        resp = api.call('GET', api_path(version, 'sync_groups') + '?count=true')
        groups = openapi(resp, version, 'sync_groups')
        assert resp.headers['X-Total-Count'] == str(len(groups)) == '1'
        one = openapi(api.call('GET', api_path(version, 'sync_group', groups[0]['id'])), version, 'sync_group')
        assert one == groups[0]


def test_error_responses_match_spec(openapi, make_sim):
    sim = make_sim(pat_query_info='forbid', faults={'password_change_status': {'error_rate': 1.0, 'error_statuses': [500]}})
    api = Api(sim.base_url)
    # 400: malformed body, wrong type, missing field, unknown user
    for raw, field in (('{not json', None), ('{"userName": 5, "sourceName": "My-AD"}', 'userName'),
                       ('{"userName": "Abby.Smith"}', 'sourceName'), ('[]', None)):
        resp = api.call('POST', '/v2024/query-password-info', raw=raw)
        assert resp.status_code == 400
        body = openapi(resp, 'v2024', 'query_password_info')
        _error_shape(body)
        if field:
            assert field in body['messages'][0]['text']
    resp = api.query('Nobody.Here')
    body = openapi(resp, 'v2024', 'query_password_info')
    assert resp.status_code == 400 and body['detailCode'] == '400.1.404 Referenced object not found'
    assert 'Nobody.Here' in body['messages'][0]['text']
    # 400 on set-password and digit token
    resp = api.call('POST', '/v2024/set-password', {'identityId': 7})
    assert resp.status_code == 400
    _error_shape(openapi(resp, 'v2024', 'set_password'))
    resp = api.digit({'userId': 'Abby.Smith', 'length': 19})
    assert resp.status_code == 400 and 'length' in openapi(resp, 'v2024', 'digit_token')['messages'][0]['text']
    # 401
    resp = api.call('POST', '/v2024/query-password-info', {'userName': 'a', 'sourceName': 'b'}, auth=False)
    assert resp.status_code == 401
    assert openapi(resp, 'v2024', 'query_password_info')['error'].startswith('JWT validation failed')
    # 403 (PAT on query-password-info)
    pat = Api(sim.base_url, client=('demo-pat-id', 'demo-pat-secret'))
    resp = pat.query()
    assert resp.status_code == 403
    _error_shape(openapi(resp, 'v2024', 'query_password_info'))
    # 404
    resp = api.call('GET', '/v2024/password-sync-groups/does-not-exist')
    assert resp.status_code == 404
    _error_shape(openapi(resp, 'v2024', 'sync_group'))
    # 500 (fault)
    resp = api.status('0' * 32)
    assert resp.status_code == 500
    body = openapi(resp, 'v2024', 'password_change_status')
    assert body['detailCode'] == '500.0 Internal Fault'


def test_status_404_and_429_match_spec(openapi, make_sim):
    sim = make_sim(rate_limit=3, rate_window=5)
    api = Api(sim.base_url)
    resp = api.status('0123456789abcdef0123456789abcdef')
    assert resp.status_code == 404
    _error_shape(openapi(resp, 'v2024', 'password_change_status'))
    for dummy in range(2):
        api.query()
    resp = api.query()
    assert resp.status_code == 429
    assert openapi(resp, 'v2024', 'query_password_info') == {'message': ' Rate Limit Exceeded '}
    assert 1 <= int(resp.headers['Retry-After']) <= 5


def test_v2025_success_responses_match_spec(openapi, make_sim):
    """v2025 serves what v2024 serves; its document is vendored as well (the configuration operations of
    every version are validated in test_sim_config.py)."""
    test_success_responses_match_spec(openapi, make_sim, 'v2025')


# -- a source's connector configuration and checks (issue 28), against isc-v1-sources.json ------------------------

def _sources_v1_validator():
    with open(os.path.join(VENDORED_SPEC_DIR, 'isc-v1-sources.json'), encoding='utf-8') as handle:
        doc = json.load(handle)

    def validate(resp, path, method):
        responses = doc['paths'][path][method]['responses']
        assert str(resp.status_code) in responses, (path, method, resp.status_code)
        schema = _resolve(doc, responses[str(resp.status_code)])['content']['application/json']['schema']
        jsonschema.validate(resp.json(), to_json_schema(schema))
        return resp.json()
    return validate


def test_source_connector_answers_match_spec(make_sim):
    validate = _sources_v1_validator()
    sim = make_sim()
    api = Api(sim.base_url)
    ids = {s['name']: s['id'] for s in api.call('GET', '/sources/v1').json()}
    one, check = '/sources/v1/{id}', '/sources/v1/{sourceId}/connector/check-connection'
    source = validate(api.call('GET', '/sources/v1/' + ids['Corp-LDAP']), one, 'get')
    password = 'Init-svc-app-002-Aa1!x'
    assert source['connectorAttributes']['password'].startswith('2:ENC:')
    assert password not in api.call('GET', '/sources/v1/' + ids['Corp-LDAP']).text
    vault = validate(api.call('GET', '/sources/v1/' + ids['Oracle-DB']), one, 'get')
    assert vault['connectorAttributes']['password'] == 'secrets://corp-vault/isc/oracle-db/password'
    assert vault['credentialProviderEnabled'] is True
    # check-connection: SUCCESS only with the password of a live account of the target system
    for name, status in (('Corp-LDAP', 'SUCCESS'), ('Oracle-DB', 'SUCCESS'), ('My-AD', 'FAILURE'), ('Unix-LDAP', 'FAILURE')):
        answer = validate(api.call('POST', '/sources/v1/%s/connector/check-connection' % ids[name]), check, 'post')
        assert answer['status'] == status and answer['id'] == ids[name], name
    answer = validate(api.call('POST', '/sources/v1/%s/connector/test-configuration' % ids['Corp-LDAP']),
                      '/sources/v1/{sourceId}/connector/test-configuration', 'post')
    assert answer['status'] == 'SUCCESS'
    # PATCH: json-patch+json, immutable fields refused, a failed test applies nothing
    patch = {'Content-Type': 'application/json-patch+json'}
    b_user = 'uid=svc-app-005,ou=services,dc=corp,dc=acme,dc=com'
    url = '/sources/v1/' + ids['Corp-LDAP']
    for body in ([{'op': 'replace', 'path': '/connector', 'value': 'x'}],
                 [{'op': 'replace', 'path': '/connectorAttributes/user', 'value': b_user},
                  {'op': 'test', 'path': '/connectorAttributes/host', 'value': 'elsewhere'}],
                 [{'op': 'remove', 'path': '/connectorAttributes/nope'}], {'op': 'add'}):
        resp = api.call('PATCH', url, raw=json.dumps(body), headers=patch)
        assert resp.status_code == 400, body
        _error_shape(validate(resp, one, 'patch'))
    assert api.call('GET', url).json() == source
    resp = api.call('PATCH', url, [{'op': 'replace', 'path': '/description', 'value': 'x'}])  # application/json
    assert resp.status_code == 400 and 'json-patch+json' in validate(resp, one, 'patch')['messages'][0]['text']
    changed = validate(api.call('PATCH', url, raw=json.dumps([
        {'op': 'test', 'path': '/connectorAttributes/user', 'value': source['connectorAttributes']['user']},
        {'op': 'replace', 'path': '/connectorAttributes/user', 'value': b_user},
        {'op': 'replace', 'path': '/connectorAttributes/password', 'value': 'wrong-password'},
        {'op': 'copy', 'from': '/connectorAttributes/host', 'path': '/connectorAttributes/backupHost'},
        {'op': 'move', 'from': '/connectorAttributes/backupHost', 'path': '/connectorAttributes/spareHost'},
        {'op': 'add', 'path': '/description', 'value': 'rotated'}]), headers=patch), one, 'patch')
    assert changed['connectorAttributes']['user'] == b_user and changed['description'] == 'rotated'
    assert changed['connectorAttributes']['spareHost'] == 'ldap.corp.acme.com'
    assert 'wrong-password' not in json.dumps(changed)
    assert api.call('POST', url + '/connector/check-connection').json()['status'] == 'FAILURE'
    api.call('PATCH', url, raw=json.dumps([{'op': 'replace', 'path': '/connectorAttributes/password',
                                            'value': 'Init-svc-app-005-Aa1!x'}]), headers=patch)
    assert api.call('POST', url + '/connector/check-connection').json()['status'] == 'SUCCESS'
    # set-password on the bind account: the old password no longer binds
    assert api.set_password('Fresh-Bind-Pw-42x', user='svc-app-005', source='Corp-LDAP').status_code == 202
    time.sleep(0.5)
    assert api.call('POST', url + '/connector/check-connection').json()['status'] == 'FAILURE'
    # faults: FAILURE for one bind user; 404 for an unknown source
    api.sim('POST', 'reset', {'state': True})
    assert api.call('GET', url).json() == source
    api.sim('PUT', 'faults', {'check_connection': {'fail_users': [source['connectorAttributes']['user']]}})
    assert api.call('POST', url + '/connector/check-connection').json()['status'] == 'FAILURE'
    assert api.call('POST', '/sources/v1/%s/connector/check-connection' % ids['Corp-AD']).json()['status'] == 'SUCCESS'
    resp = api.call('POST', '/sources/v1/%s/connector/check-connection' % ('0' * 32))
    assert resp.status_code == 404
    _error_shape(validate(resp, check, 'post'))


# -- discovery (issue 26): search, accounts and machine accounts, against their v1 documents ------------------------

def _v1_validator(name):
    with open(os.path.join(VENDORED_SPEC_DIR, name), encoding='utf-8') as handle:
        doc = json.load(handle)

    def validate(resp, path, method):
        responses = doc['paths'][path][method]['responses']
        assert str(resp.status_code) in responses, (path, method, resp.status_code, resp.text[:300])
        schema = _resolve(doc, responses[str(resp.status_code)])['content']['application/json']['schema']
        jsonschema.validate(resp.json(), to_json_schema(schema))
        return resp.json()
    return validate


def test_discovery_answers_match_spec(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    sources = {s['name']: s['id'] for s in api.call('GET', '/sources/v1').json()}
    # search: the document's items are a oneOf of every document type without a discriminator (an identity
    # document is "valid" under several), so each item is validated against the identity document's branch
    with open(os.path.join(VENDORED_SPEC_DIR, 'isc-v1-search.json'), encoding='utf-8') as handle:
        doc = json.load(handle)
    answer = _resolve(doc, doc['paths']['/search/v1']['post']['responses']['200'])['content']['application/json']
    branches = to_json_schema(answer['schema'])['items']['oneOf']
    identity = [b for b in branches if 'accountCount' in json.dumps(b)]
    assert len(identity) == 1
    resp = api.call('POST', '/search/v1?limit=10', {'indices': ['identities'], 'query': {'query': '*'}, 'sort': ['id']})
    assert resp.status_code == 200 and len(resp.json()) == 10
    for item in resp.json():
        jsonschema.validate(item, identity[0])
    accounts = _v1_validator('isc-v1-accounts.json')
    listed = accounts(api.call('GET', '/accounts/v1', params={'limit': 5}), '/accounts/v1', 'get')
    assert len(listed) == 5
    # uncorrelated accounts (no identity fields) and the reload's 202, as discovery and the verify read them
    orphans = api.call('GET', '/accounts/v1', params={'filters': 'uncorrelated eq true'})
    assert sorted(a['name'] for a in accounts(orphans, '/accounts/v1', 'get')) == ['svc-orphan-01', 'svc-orphan-02']
    reload = api.call('POST', '/accounts/v1/%s/reload' % listed[0]['id'])
    assert reload.status_code == 202 and accounts(reload, '/accounts/v1/{id}/reload', 'post')['id']
    # machine accounts: a user token only, with the experimental header in v1
    machine = _v1_validator('isc-v1-machine-accounts.json')
    experimental = {'X-SailPoint-Experimental': 'true'}
    path = '/machine-accounts/v1'
    refused = api.call('GET', path, headers=experimental)  # the demo API client: userAuth only
    assert refused.status_code == 403 and 'API client (client credentials) tokens are refused' in refused.text
    pat = Api(sim.base_url, client=('demo-pat-id', 'demo-pat-secret'))
    no_header = pat.call('GET', path)
    assert no_header.status_code == 400 and 'X-SailPoint-Experimental' in no_header.text
    items = machine(pat.call('GET', path, headers=experimental), path, 'get')
    assert sorted((i['source']['name'], i['name'], i['environment'], (i['ownerIdentity'] or {}).get('name'))
                  for i in items) == [('Corp-AD', 'svc-app-001', 'PRODUCTION', 'Abby.Smith'),
                                      ('Corp-AD', 'svc-orphan-01', 'DEVELOPMENT', None),
                                      ('Corp-LDAP', 'svc-app-002', 'TEST', 'Carl.Jones')]
    only = pat.call('GET', path, headers=experimental, params={'filters': 'source.id in ("%s")' % sources['Corp-LDAP']})
    assert [i['name'] for i in machine(only, path, 'get')] == ['svc-app-002']
    page = pat.call('GET', path, headers=experimental, params={'limit': 1, 'offset': 1, 'count': 'true'})
    assert len(page.json()) == 1 and page.headers['X-Total-Count'] == '3'
    assert pat.call('GET', path, headers=experimental, params={'filters': 'locked eq true'}).status_code == 400
