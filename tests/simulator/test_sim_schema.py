"""Every kind of response the simulator sends, validated against the official OpenAPI documents."""

import json
import os
import re
import time

import jsonschema
import pytest

from . import helpers
from .helpers import Api, _resolve, api_path, to_json_schema

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
    sim = make_sim(completion_delay=0.1)
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
    time.sleep(0.3)
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


def _discovery_schema(name, path, method, status, item=None):
    """The response schema of a discovery operation from its vendored v1 document (``item``: one oneOf branch)."""
    with open(os.path.join(helpers.OPENAPI_DIR, name), encoding='utf-8') as handle:
        doc = json.load(handle)
    resp = _resolve(doc, doc['paths'][path][method]['responses'][status])
    schema = resp['content']['application/json']['schema']
    if item is not None:  # search answers any index's documents: validate the identity branch
        schema = {'type': 'array', 'items': schema['items']['oneOf'][item]}
    return to_json_schema(schema)


def test_discovery_responses_match_spec(make_sim):
    """Search (identities), the accounts list, account reload and the sources' features, by the v1 documents."""
    api = Api(make_sim().base_url)
    search = {'indices': ['identities'], 'query': {'query': '@accounts(source.name:"Corp-LDAP")'}, 'sort': ['id']}
    resp = api.call('POST', '/search/v1?count=true&limit=5', search)
    docs = resp.json()
    assert resp.status_code == 200 and len(docs) == 5 and int(resp.headers['X-Total-Count']) > 5
    identity = _discovery_schema('isc-v1-search.json', '/search/v1', 'post', '200', item=4)
    jsonschema.validate(docs, identity)
    assert docs[0]['_type'] == 'identity' and docs[0]['accounts'][0]['passwordLastSet'].endswith('Z')
    filtered = {'queryResultFilter': {'includes': ['id', 'accounts.passwordLastSet']}}
    doc = api.call('POST', '/v2025/search?limit=1', dict(search, **filtered)).json()[0]
    assert set(doc) == {'id', 'accounts'} and set(doc['accounts'][0]) == {'passwordLastSet'}

    resp = api.call('GET', '/accounts/v1', params={'filters': 'uncorrelated eq true', 'count': 'true'})
    accounts = resp.json()
    jsonschema.validate(accounts, _discovery_schema('isc-v1-accounts.json', '/accounts/v1', 'get', '200'))
    assert resp.headers['X-Total-Count'] == '2' and {a['name'] for a in accounts} == {'svc-orphan-01', 'svc-orphan-02'}
    assert all(a['uncorrelated'] and 'identityId' not in a for a in accounts)
    resp = api.call('POST', '/accounts/v1/%s/reload' % docs[0]['accounts'][0]['id'])
    assert resp.status_code == 202
    jsonschema.validate(resp.json(), _discovery_schema('isc-v1-accounts.json', '/accounts/v1/{id}/reload', 'post', '202'))
    resp = api.call('POST', '/accounts/v1/%s/reload' % ('f' * 32))
    assert resp.status_code == 404
    _error_shape(resp.json())
    resp = api.call('POST', '/search/v1?limit=10001', search)
    assert resp.status_code == 400
    _error_shape(resp.json())

    sources = api.call('GET', '/sources/v1').json()
    jsonschema.validate(sources, _discovery_schema('isc-v1-sources-password.json', '/sources/v1', 'get', '200'))
    features = {s['name']: s['features'] for s in sources}
    assert 'PASSWORD' in features['Corp-AD'] and 'PASSWORD' not in features['HR-Feed']
