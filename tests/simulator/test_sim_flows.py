"""Functional behaviour of the simulator: crypto, async changes, sync groups, sources, policy, tokens, digit tokens."""

import base64
import hashlib
import json
import os
import re
import time
import uuid

import jsonschema
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .helpers import OPENAPI_DIR, Api, _resolve, encrypt, to_json_schema, wait_terminal


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def test_password_info_contents(api):
    info = api.info()
    key = load_der_public_key(base64.b64decode(info['publicKey'], validate=True))
    assert key.key_size == 2048 and key.public_numbers().e == 65537
    assert '\n' not in info['publicKey']
    uuid.UUID(base64.b64decode(info['publicKeyId']).decode('ascii'))
    assert info['identityId'] == '2c918085744fec4301746f9a5bce4605'
    assert info['accounts'] == [{'accountId': 'CN=Abby Smith,OU=Austin,OU=Americas,OU=Demo,DC=seri,DC=acme,DC=com',
                                 'accountName': 'Abby.Smith'}]
    assert info['policies'] == ['passwordMinLength is 8', 'passwordMinAlpha is 1', 'passwordMinNumeric is 1',
                                'passwordRepeatedChar is 3']
    assert api.info('svc-app-001', 'Corp-AD')['policies'] == [
        'passwordMinLength is 14', 'passwordMinNumeric is 1', 'passwordMinUpper is 1', 'passwordMinLower is 1',
        'passwordMinSpecial is 1', 'passwordRepeatedChar is 2']
    assert api.info('svc-app-002', 'Corp-LDAP')['policies'] == ['passwordMinLength is 12', 'passwordMinCharType is 3']
    assert api.info('svc-app-003', 'Oracle-DB')['policies'] == [
        'passwordMinLength is 16', 'passwordMaxLength is 30', 'passwordMinAlpha is 1', 'passwordMinNumeric is 1']
    two = api.info('Carl.Jones', 'My-AD')
    assert [a['accountName'] for a in two['accounts']] == ['Carl.Jones', 'Carl.Jones-adm']


def test_round_trip_and_async_transition(api):
    before = api.accounts(userName='Abby.Smith', sourceName='My-AD')[0]
    assert before['passwordSha256'] == sha('Welcome2024') and before['lastChanged'] is None
    resp = api.set_password('N3w-Passw0rd!')
    assert resp.status_code == 202
    request_id = resp.json()['requestId']
    assert api.status(request_id).json()['state'] == 'IN_PROGRESS'
    assert api.accounts(userName='Abby.Smith')[0]['passwordSha256'] == sha('Welcome2024')
    final = wait_terminal(api, request_id)
    assert final['state'] == 'FINISHED' and final['errors'] == []
    after = api.accounts(userName='Abby.Smith', sourceName='My-AD')[0]
    assert after['passwordSha256'] == sha('N3w-Passw0rd!') and after['changeCount'] == 1
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$', after['lastChanged'])
    time.sleep(0.3)
    assert api.status(request_id).json() == final  # terminal states never change
    counters = api.sim('GET', 'counters')
    assert counters['passwordChangesApplied'] == 1 and counters['tokensIssued'] == 1
    assert counters['requests']['set_password'] == {'202': 1}


def test_second_account_on_same_source_changes_alone(api):
    resp = api.set_password('Another1pass', user='Carl.Jones', account=1)
    wait_terminal(api, resp.json()['requestId'])
    accounts = {a['accountName']: a for a in api.accounts(userName='Carl.Jones')}
    assert accounts['Carl.Jones-adm']['passwordSha256'] == sha('Another1pass')
    assert accounts['Carl.Jones']['passwordSha256'] == sha('Spring2024x')


def test_sync_group_fan_out(api):
    groups = api.call('GET', '/v2024/password-sync-groups').json()
    assert len(groups) == 1
    group = groups[0]
    info = api.info('svc-sync-03', 'Unix-Kerberos')
    assert info['policies'] == ['passwordMinLength is 10', 'passwordMinNumeric is 1', 'passwordMinUpper is 1',
                                'passwordMinLower is 1']
    resp = api.set_password('SyncPass123', user='svc-sync-03', source='Unix-Kerberos', info=info)
    final = wait_terminal(api, resp.json()['requestId'])
    assert final['state'] == 'FINISHED'
    assert sorted(final['sourceIds']) == sorted(group['sourceIds']) and len(final['sourceIds']) == 2
    mine = api.accounts(userName='svc-sync-03')
    assert len(mine) == 2 and all(a['passwordSha256'] == sha('SyncPass123') for a in mine)
    other = api.accounts(userName='svc-sync-04')
    assert all(a['passwordSha256'] == sha('Sync-svc-sync-04-Aa1') for a in other)


def test_sync_group_failing_member(make_sim):
    sim = make_sim(faults={'set_password': {'fail_sources': ['Unix-LDAP']}})
    api = Api(sim.base_url)
    resp = api.set_password('SyncPass123', user='svc-sync-01', source='Unix-Kerberos')
    final = wait_terminal(api, resp.json()['requestId'])
    assert final['state'] == 'FAILED' and 'Unix-LDAP' in final['errors'][0]
    hashes = {a['sourceName']: a['passwordSha256'] for a in api.accounts(userName='svc-sync-01')}
    assert hashes['Unix-Kerberos'] == sha('SyncPass123')  # partial: the healthy member changed
    assert hashes['Unix-LDAP'] == sha('Sync-svc-sync-01-Aa1')
    sim.state.settings.update({'sync_failure': 'atomic'})
    resp = api.set_password('SyncPass456', user='svc-sync-02', source='Unix-Kerberos')
    assert wait_terminal(api, resp.json()['requestId'])['state'] == 'FAILED'
    assert all(a['changeCount'] == 0 for a in api.accounts(userName='svc-sync-02'))


def test_policy_rejection_async_and_submit(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    resp = api.set_password('Short1')
    assert resp.status_code == 202
    final = wait_terminal(api, resp.json()['requestId'])
    assert final['state'] == 'FAILED'
    assert any('passwordMinLength is 8' in e for e in final['errors'])
    assert not any('Short1' in e for e in final['errors'])
    for bad, rule in (('abcdefgh1aaaa', 'passwordRepeatedChar'), ('Pass:word12', "':'"), ('Passwörd123', 'non-ASCII')):
        final = wait_terminal(api, api.set_password(bad).json()['requestId'])
        assert final['state'] == 'FAILED' and rule in ' '.join(final['errors']), final
    assert api.accounts(userName='Abby.Smith')[0]['changeCount'] == 0

    strict = make_sim(policy_rejection='submit')
    api = Api(strict.base_url)
    resp = api.set_password('Short1')
    assert resp.status_code == 400
    assert 'passwordMinLength is 8' in resp.json()['messages'][0]['text']
    resp = api.set_password('abcdefghijklmnop', user='svc-app-002', source='Corp-LDAP')
    assert resp.status_code == 400 and 'passwordMinCharType is 3' in resp.text


def test_set_password_validation(api):
    info = api.info()
    good = encrypt(info['publicKey'], 'Valid1234')
    resp = api.set_password('Valid1234', info=info, publicKeyId=base64.b64encode(b'stale-key').decode())
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.3 Illegal value'
    assert 'publicKeyId' in resp.json()['messages'][0]['text']
    resp = api.set_password('Valid1234', info=info, encryptedPassword=base64.b64encode(b'x' * 256).decode())
    assert resp.status_code == 400 and 'encryptedPassword' in resp.json()['messages'][0]['text']
    wrapped = good[:76] + '\n' + good[76:]
    assert api.set_password('x', info=info, encryptedPassword=wrapped).status_code == 400
    oaep = load_der_public_key(base64.b64decode(info['publicKey'])).encrypt(
        b'Valid1234', padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    assert api.set_password('x', info=info, encryptedPassword=base64.b64encode(oaep).decode()).status_code == 400
    resp = api.set_password('Valid1234', info=info, identityId='f' * 32)
    assert resp.status_code == 400 and 'identityId' in resp.text
    resp = api.set_password('Valid1234', info=info, accountId='CN=nobody')
    assert resp.status_code == 400 and 'accountId' in resp.text
    resp = api.set_password('Valid1234', info=info, sourceId=7)
    assert resp.status_code == 400 and 'sourceId' in resp.text
    resp = api.call('POST', '/v2024/set-password', raw='')
    assert resp.status_code == 400
    # accountId may be left out when the identity has one account on the source
    body = {'identityId': info['identityId'], 'sourceId': info['sourceId'], 'publicKeyId': info['publicKeyId'],
            'encryptedPassword': good}
    assert api.call('POST', '/v2024/set-password', body).status_code == 202


def test_key_rotation_grace_and_stale(make_sim):
    sim = make_sim(key_grace=30)
    api = Api(sim.base_url)
    old = api.info()
    rotated = api.sim('POST', 'rotate-key')
    assert rotated['previousKeyId'] == old['publicKeyId'] and rotated['publicKeyId'] != old['publicKeyId']
    second = api.info()
    assert second['publicKeyId'] == rotated['publicKeyId']
    assert api.set_password('Valid1234', info=old).status_code == 202  # inside the grace period
    sim.state.settings.update({'key_grace': 0})
    api.sim('POST', 'rotate-key')
    resp = api.set_password('Valid1234', info=second)
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.3 Illegal value'


def test_unknown_user_and_source_switch(make_sim):
    api = Api(make_sim().base_url)
    resp = api.query('Abby.Smith', 'No-Such-Source')
    assert resp.status_code == 400 and 'No-Such-Source' in resp.text
    resp = api.query('Abby.Smith', 'Corp-AD')  # exists, but no account there
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.404 Referenced object not found'
    api = Api(make_sim(unknown_object_status=404).base_url)
    resp = api.query('Nobody', 'My-AD')
    assert resp.status_code == 404 and 'Nobody' in resp.json()['messages'][0]['text']
    assert api.digit({'userId': 'Nobody'}).status_code == 404


def test_pat_tokens(make_sim):
    sim = make_sim()
    pat = Api(sim.base_url, client=('demo-pat-id', 'demo-pat-secret'))
    token = pat.get_token()
    assert token['identity_id'] == '2c918085744fec4301746f9a5bce4605'
    assert pat.query().status_code == 403
    info = Api(sim.base_url).info()
    assert pat.set_password('Valid1234', info=info).status_code == 202  # own identity
    carl = Api(sim.base_url).info('Carl.Jones')
    assert pat.set_password('Valid1234', info=carl).status_code == 403
    sim.state.settings.update({'pat_query_info': 'allow'})
    assert pat.query().status_code == 200


def test_token_endpoint_variants(make_sim):
    sim = make_sim(token_ttl=1)
    url = sim.base_url + '/oauth/token'
    form = {'grant_type': 'client_credentials', 'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret'}
    resp = requests.post(url, data=form, timeout=5)
    body = resp.json()
    assert resp.status_code == 200 and body['token_type'] == 'bearer' and body['expires_in'] == 1
    for key in ('access_token', 'scope', 'tenant_id', 'pod', 'org', 'jti'):
        assert body[key]
    assert requests.post(url, files={k: (None, v) for k, v in form.items()}, timeout=5).status_code == 200
    assert requests.post(url, params=form, timeout=5).status_code == 200
    assert requests.post(url, params={'grant_type': 'client_credentials'}, timeout=5,
                         data={'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret'}).status_code == 200
    bad = requests.post(url, data=dict(form, client_secret='wrong'), timeout=5)
    assert bad.status_code == 401 and bad.headers['Content-Type'].startswith('application/json') and bad.json()['error']
    assert requests.post(url, data=dict(form, grant_type='password'), timeout=5).status_code == 400
    # expiry
    api = Api(sim.base_url)
    api.token = body['access_token']
    assert api.query().status_code == 200
    time.sleep(1.1)
    resp = api.query()
    assert resp.status_code == 401 and resp.json() == {'error': 'JWT validation failed: JWT is expired'}
    api.token = 'garbage'
    assert api.query().status_code == 401
    assert api.call('POST', '/v2024/query-password-info', {}, auth=False).status_code == 401


def test_digit_token_rules(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    resp = api.digit({'userId': 'Abby.Smith'}, experimental=False)
    assert resp.status_code == 400 and 'X-SailPoint-Experimental' in resp.json()['messages'][0]['text']
    resp = api.digit({'userId': 'Abby.Smith'}, version='v1', experimental=False)
    assert resp.status_code == 400
    assert api.digit({'userId': 'Abby.Smith'}, version='beta', experimental=False).status_code == 200
    assert api.digit({'userId': 'Abby.Smith'}, version='v3').status_code == 404
    body = api.digit({'userId': 'Abby.Smith'}).json()
    assert re.match(r'^[0-9]{6}$', body['digitToken'])
    uuid.UUID(body['requestId'])
    for length in (6, 18):
        assert len(api.digit({'userId': 'Abby.Smith', 'length': length}).json()['digitToken']) == length
    for length in (5, 19, '8', True):
        resp = api.digit({'userId': 'Abby.Smith', 'length': length})
        assert resp.status_code == 400 and 'length' in resp.json()['messages'][0]['text']
    for minutes in (0, 61):
        resp = api.digit({'userId': 'Abby.Smith', 'durationMinutes': minutes})
        assert resp.status_code == 400 and 'durationMinutes' in resp.json()['messages'][0]['text']
    assert api.digit({'userId': 'Abby.Smith', 'durationMinutes': 60}).status_code == 200
    resp = api.digit({'length': 8})
    assert resp.status_code == 400 and 'userId' in resp.json()['messages'][0]['text']
    assert api.digit({'userId': 'Nobody'}).status_code == 400
    leading_zero = None
    for dummy in range(300):
        token = api.digit({'userId': 'Abby.Smith', 'length': 6}).json()['digitToken']
        assert isinstance(token, str) and len(token) == 6
        if token.startswith('0'):
            leading_zero = token
            break
    assert leading_zero is not None
    assert api.sim('GET', 'digit-tokens')['digitTokens'][0]['userId'] == 'Abby.Smith'


def test_unknown_request_and_paths(api):
    assert api.status('ffffffffffffffffffffffffffffffff').status_code == 404
    assert api.status('ffffffffffffffffffffffffffffffff', version='v1').status_code == 404
    assert api.call('GET', '/v2024/nothing-here').status_code == 404
    assert api.call('GET', '/v2024/query-password-info').status_code == 405


def test_forgotten_request_ids_answer_404_or_400_1_404(make_sim):
    """ISC's retention: a forgotten id is unknown to a status read (404, or 400 400.1.404 when switched)."""
    api = Api(make_sim(completion_delay=0.05).base_url)
    kept, gone = (api.set_password(p).json()['requestId'] for p in ('Forgot1ten', 'Forgot2ten'))
    assert api.sim('POST', 'forget-requests', {'requestIds': [gone, 'f' * 32]}) == {'forgotten': [gone]}
    assert api.status(gone).status_code == 404 and api.status(kept).status_code == 200
    api.sim('PUT', 'config', {'unknown_request_status': 400})
    resp = api.status(gone)
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.404 Referenced object not found'
    assert gone in resp.json()['messages'][0]['text']
    assert api.sim('POST', 'forget-requests', {}) == {'forgotten': [kept]}
    assert api.status(kept).status_code == 400
    time.sleep(0.1)  # the forgotten change still completes
    assert api.accounts(userName='Abby.Smith')[0]['passwordSha256'] == sha('Forgot2ten')
    assert api.call('POST', '/__sim/forget-requests', {'requestIds': 'x'}).status_code == 400


def test_deleted_identity_and_account_are_referenced_objects_not_found(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    info = api.info('Carl.Jones', 'My-AD')
    deleted = api.sim('POST', 'delete-account', {'userName': 'Carl.Jones', 'sourceName': 'My-AD', 'accountId': 'Carl.Jones-adm'})
    assert [a['accountName'] for a in deleted['deleted']] == ['Carl.Jones-adm']
    assert [a['accountName'] for a in api.info('Carl.Jones', 'My-AD')['accounts']] == ['Carl.Jones']
    resp = api.set_password('Another1pass', user='Carl.Jones', info=info, accountId=info['accounts'][1]['accountId'])
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.404 Referenced object not found'
    api.sim('POST', 'delete-account', {'userName': 'Abby.Smith'})
    resp = api.query('Abby.Smith', 'My-AD')
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.404 Referenced object not found'
    assert api.accounts(userName='Abby.Smith') == []
    assert api.call('POST', '/__sim/delete-account', {'userName': 'Abby.Smith'}).status_code == 400
    api.sim('POST', 'reset', {'state': True})
    assert api.info()['accounts'][0]['accountName'] == 'Abby.Smith'
    assert len(api.info('Carl.Jones', 'My-AD')['accounts']) == 2


def test_sync_group_paging(api):
    assert api.call('GET', '/v2024/password-sync-groups?limit=0').json() == []
    assert api.call('GET', '/v2024/password-sync-groups?offset=1').json() == []
    resp = api.call('GET', '/v2024/password-sync-groups')
    assert 'X-Total-Count' not in resp.headers
    assert api.call('GET', '/v2024/password-sync-groups?limit=251').status_code == 400
    assert api.call('GET', '/v2024/password-sync-groups?count=maybe').status_code == 400


def test_fleet_size(make_sim):
    sim = make_sim(fleet_size=10000)
    api = Api(sim.base_url)
    health = api.sim('GET', 'health')
    assert health['accounts'] == 77 + 10000
    bulk = api.accounts(userName='svc-bulk-10000')
    assert len(bulk) == 1 and bulk[0]['passwordSha256']
    sources = {a['sourceName'] for a in api.accounts() if a['userName'].startswith('svc-bulk-')}
    assert sources == {'Corp-AD', 'Corp-LDAP', 'Oracle-DB'}
    assert api.query('svc-bulk-00003', 'Oracle-DB').status_code == 200


def test_sync_groups_on_v1(api):
    groups = api.call('GET', '/v2024/password-sync-groups').json()
    resp = api.call('GET', '/password-sync-groups/v1?count=true')
    assert resp.status_code == 200 and resp.json() == groups and resp.headers['X-Total-Count'] == '1'
    one = api.call('GET', '/password-sync-groups/v1/%s' % groups[0]['id'])
    assert one.status_code == 200 and one.json() == groups[0]
    assert api.call('GET', '/password-sync-groups/v1/nope').status_code == 404
    assert api.call('GET', '/password-sync-groups/v1?limit=251').status_code == 400
    assert api.sim('GET', 'counters')['requests']['sync_groups'] == {'200': 3, '404': 1, '400': 1}


SOURCE_PATHS = {'v2024': '/v2024/sources', 'v3': '/v3/sources', 'beta': '/beta/sources', 'v1': '/sources/v1'}
SOURCE_SPECS = {'v2024': ('isc-v2024-password.json', '/sources'), 'v3': ('isc-v3-password.json', '/sources'),
                'beta': ('isc-beta-password.json', '/sources'), 'v1': ('isc-v1-sources-password.json', '/sources/v1')}


def _sources_schema(version):
    name, path = SOURCE_SPECS[version]
    full = os.path.join(OPENAPI_DIR, name)
    if not os.path.isfile(full):
        return None
    with open(full, encoding='utf-8') as handle:
        doc = json.load(handle)
    resp = _resolve(doc, doc['paths'][path]['get']['responses']['200'])
    return to_json_schema(resp['content']['application/json']['schema'])


@pytest.mark.parametrize('version', sorted(SOURCE_PATHS))
def test_sources_filters(api, version):
    path = SOURCE_PATHS[version]
    every = api.call('GET', path).json()
    names = [s['name'] for s in every]
    assert names == ['My-AD', 'Corp-AD', 'Corp-LDAP', 'Oracle-DB', 'Unix-LDAP', 'Unix-Kerberos', 'HR-Feed']
    for source in every:
        assert re.match(r'^[0-9a-f]{32}$', source['id']) and source['connector'] and 'owner' in source
    schema = _sources_schema(version)
    if schema is not None:
        jsonschema.validate(every, schema)
    by_name = {s['name']: s['id'] for s in every}
    ad = by_name['My-AD']
    assert api.call('GET', path, params={'filters': 'id eq "%s"' % ad}).json() == [every[0]]
    wanted = [by_name['Unix-Kerberos'], by_name['Corp-LDAP'], 'f' * 32]
    resp = api.call('GET', path, params={'filters': 'id in ("%s", "%s","%s")' % tuple(wanted), 'limit': '250',
                                         'count': 'true'})
    assert resp.status_code == 200 and [s['name'] for s in resp.json()] == ['Corp-LDAP', 'Unix-Kerberos']
    assert resp.headers['X-Total-Count'] == '2'
    assert api.call('GET', path, params={'filters': 'name eq "Oracle-DB"'}).json() == [every[3]]
    assert api.call('GET', path, params={'filters': 'id eq "nope"'}).json() == []
    assert [s['name'] for s in api.call('GET', path, params={'limit': 2, 'offset': 1}).json()] == ['Corp-AD', 'Corp-LDAP']
    for bad in ('id eq nope', 'id in ()', 'id co "x"', 'owner.id eq "x"', 'id eq "a" and name eq "b"'):
        resp = api.call('GET', path, params={'filters': bad})
        assert resp.status_code == 400, bad
        assert resp.json()['detailCode'] == '400.1.3 Illegal value'
    assert api.call('GET', path, params={'limit': 251}).status_code == 400
    assert api.call('POST', path, {}).status_code == 405


def test_sources_auth_limit_and_faults(make_sim):
    sim = make_sim(rate_limit=3, rate_window=30)
    api = Api(sim.base_url)
    assert api.call('GET', '/v2024/sources', auth=False).status_code == 401
    assert [api.call('GET', '/v2024/sources').status_code for dummy in range(4)] == [200, 200, 200, 429]
    assert api.call('GET', '/sources/v1').status_code == 200  # v1 is its own budget
    counters = api.sim('GET', 'counters')
    assert counters['requests']['sources'] == {'401': 1, '200': 4, '429': 1} and counters['rateLimited'] == 1
    api.sim('PUT', 'faults', {'sources': {'error_rate': 1.0, 'error_statuses': [503]}})
    assert api.call('GET', '/sources/v1').status_code == 503
    api.sim('PUT', 'faults', {'sources': {'throttle_rate': 1.0}})
    assert api.call('GET', '/beta/sources').status_code == 429
