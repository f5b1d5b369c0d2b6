"""The simulator's password configuration: policies, sync groups, dictionary, org config, source policy holders.

Bodies of the new operations are validated against the official documents (tests/spec), and the
link to the password operations is checked: what the policy objects say is what query-password-info
reports and set-password enforces.
"""

import copy
import time

import jsonschema
import pytest

from tools.isc_simulator import Simulator
from tools.isc_simulator.seed import load_seed

from .helpers import CLIENT, PAT, USER_PAT, Api, config_operation, config_path, to_json_schema

YEAR_VERSIONS = ('v3', 'beta', 'v2024', 'v2025')
ALL_VERSIONS = YEAR_VERSIONS + ('v1',)
EXPERIMENTAL = {'X-SailPoint-Experimental': 'true'}
MY_AD = '2c918083746f642c01746f990884012a'
GROUP_ID = '6881f631-3bd5-4213-9c75-8e05cc3e35dd'
GROUP_POLICY = '2c91808d744ba0ce01746f93b6204501'


def _spec(resp, version, resource, method, with_id=False, request=None):
    """Check status, response body and (when given) the request body against the official operation."""
    _doc, operation = config_operation(version, resource, method, with_id)
    assert str(resp.status_code) in operation['responses'], (version, resource, method, resp.status_code, resp.text)
    if request is not None:
        schema = operation['requestBody']['content']['application/json']['schema']
        jsonschema.validate(_null_selectors_dropped(resource, request), to_json_schema(schema))
    content = operation['responses'][str(resp.status_code)].get('content', {})
    if 'application/json' in content:
        assert resp.headers['Content-Type'].startswith('application/json')
        body = resp.json()
        jsonschema.validate(_null_selectors_dropped(resource, body), to_json_schema(content['application/json']['schema']))
        return body
    return resp.text


def _null_selectors_dropped(resource, body):
    """The documents' own example gives the whole-source holder ``"selectors": null``, which the schema (a
    non-nullable object) does not allow: such items are checked without that key."""
    if resource != 'holders' or not isinstance(body, list):
        return body
    return [{k: v for k, v in item.items() if not (k == 'selectors' and v is None)} if isinstance(item, dict) else item
            for item in copy.deepcopy(body)]


def _apis(sim, version='v2024'):
    return Api(sim.base_url, client=PAT, version=version), Api(sim.base_url, client=CLIENT, version=version)


def _error_text(resp):
    body = resp.json()
    return ' '.join([m['text'] for m in body['messages']] + [c['text'] for c in body['causes']])


def _policy_body(name, **fields):
    body = {'name': name, 'description': 'made by a test', 'minLength': 10, 'minNumeric': 1, 'sourceIds': []}
    body.update(fields)
    return body


def _headers(version):
    return EXPERIMENTAL if version in ('v2024', 'v2025', 'v1') else {}


# -- password policies ---------------------------------------------------------------------------------

@pytest.mark.parametrize('version', ALL_VERSIONS)
def test_policy_crud_on_every_version(openapi, sim, version):
    admin, client = _apis(sim, version)
    hdrs = _headers(version)
    resp = admin.call('GET', config_path(version, 'password-policies') + '?count=true', headers=hdrs)
    policies = _spec(resp, version, 'password-policies', 'GET')
    assert resp.headers['X-Total-Count'] == '6' and len(policies) == 6
    assert [p['name'] for p in policies if p['defaultPolicy']] == ['Default Policy']
    # experimental header: required on v2024, v2025 and v1, not on v3 and beta
    resp = admin.call('GET', config_path(version, 'password-policies'))
    if hdrs:
        assert resp.status_code == 400
        assert "requires the header 'X-SailPoint-Experimental: true'" in _spec(resp, version, 'password-policies', 'GET')[
            'messages'][0]['text']
    else:
        assert resp.status_code == 200
    # create, read, replace, delete
    request = _policy_body('Test policy', sourceIds=[MY_AD], useDictionary=True)
    resp = admin.call('POST', config_path(version, 'password-policies'), request, headers=hdrs)
    assert resp.status_code == 200, resp.text
    made = _spec(resp, version, 'password-policies', 'POST', request=request)
    assert len(made['id']) == 32 and int(made['id'], 16) >= 0
    assert made['minLength'] == 10 and made['maxRepeatedChars'] == -1 and made['sourceIds'] == [MY_AD]
    assert isinstance(made['dateCreated'], str if version in ('v3', 'beta') else int)  # as each document types it
    assert made['created'].endswith('Z') and not made['defaultPolicy']
    resp = client.call('GET', config_path(version, 'password-policies', made['id']), headers=hdrs)
    assert _spec(resp, version, 'password-policies', 'GET', True) == made
    request = {'name': 'Test policy renamed', 'minLength': 12}
    resp = admin.call('PUT', config_path(version, 'password-policies', made['id']), request, headers=hdrs)
    assert resp.status_code == 200, resp.text
    replaced = _spec(resp, version, 'password-policies', 'PUT', True, request=request)
    # PUT replaces the whole object: what the body leaves out is back to its default
    assert replaced['name'] == 'Test policy renamed' and replaced['minNumeric'] == 0 and replaced['sourceIds'] == []
    assert replaced['useDictionary'] is False and replaced['description'] is None
    assert replaced['id'] == made['id'] and replaced['dateCreated'] == made['dateCreated']
    resp = admin.call('DELETE', config_path(version, 'password-policies', made['id']), headers=hdrs)
    assert resp.status_code == 204 and resp.content == b''
    _spec(resp, version, 'password-policies', 'DELETE', True)
    for method in ('GET', 'PUT', 'DELETE'):
        resp = admin.call(method, config_path(version, 'password-policies', made['id']), request, headers=hdrs)
        assert resp.status_code == 404
        _spec(resp, version, 'password-policies', method, True)


def test_policy_list_pages_and_filters(sim):
    admin, client = _apis(sim, 'v2025')
    path = config_path('v2025', 'password-policies')
    everything = client.call('GET', path, headers=EXPERIMENTAL).json()
    page = client.call('GET', path + '?limit=2&offset=3&count=true', headers=EXPERIMENTAL)
    assert page.json() == everything[3:5] and page.headers['X-Total-Count'] == '6'
    resp = client.call('GET', path, headers=EXPERIMENTAL, params={'filters': 'name eq "Oracle-DB policy"'})
    assert [p['name'] for p in resp.json()] == ['Oracle-DB policy']
    assert resp.json()[0]['minLength'] == 16 and resp.json()[0]['maxLength'] == 30
    assert client.call('GET', path, headers=EXPERIMENTAL, params={'filters': 'name sw "O"'}).status_code == 400
    assert client.call('GET', path + '?limit=251', headers=EXPERIMENTAL).status_code == 400


def test_policy_writes_need_an_org_admin_pat(openapi, sim):
    admin, client = _apis(sim, 'v3')
    carl = Api(sim.base_url, client=USER_PAT, version='v3')
    body = _policy_body('Nope')
    for api, who in ((client, 'API client'), (carl, "'Carl.Jones'")):
        resp = api.call('POST', config_path('v3', 'password-policies'), body)
        assert resp.status_code == 403
        _spec(resp, 'v3', 'password-policies', 'POST')
        assert 'user token' in _error_text(resp) and 'ORG_ADMIN' in _error_text(resp) and who in _error_text(resp)
        one = api.call('GET', config_path('v3', 'password-policies', GROUP_POLICY))
        assert one.status_code == 200  # reads work with either kind of token
        for method in ('PUT', 'DELETE'):
            assert api.call(method, config_path('v3', 'password-policies', GROUP_POLICY), body).status_code == 403
    assert admin.call('POST', config_path('v3', 'password-policies'), body).status_code == 200


@pytest.mark.parametrize('body,field', [
    ({'minLength': 8}, 'name'),
    (_policy_body(''), 'name'),
    (_policy_body('My-AD policy'), 'name'),          # duplicate name
    (_policy_body('X', minLength='8'), 'minLength'),
    (_policy_body('X', minLength=-2), 'minLength'),
    (_policy_body('X', maxRepeatedChars=1.5), 'maxRepeatedChars'),
    (_policy_body('X', minCharacterTypes=5), 'minCharacterTypes'),
    (_policy_body('X', minLength=20, maxLength=10), 'maxLength'),
    (_policy_body('X', useDictionary='yes'), 'useDictionary'),
    (_policy_body('X', defaultPolicy=True), 'defaultPolicy'),
    (_policy_body('X', sourceIds=['0' * 32]), 'sourceIds'),
    (_policy_body('X', sourceIds='abc'), 'sourceIds'),
    (_policy_body('X', minLenght=8), 'minLenght'),   # unknown field
])
def test_policy_validation_names_the_field(openapi, sim, body, field):
    admin, _client = _apis(sim, 'beta')
    resp = admin.call('POST', config_path('beta', 'password-policies'), body)
    assert resp.status_code == 400, resp.text
    _spec(resp, 'beta', 'password-policies', 'POST')
    assert field in _error_text(resp)


def test_policy_delete_refusals(openapi, sim):
    admin, _client = _apis(sim, 'v1')
    resp = admin.call('DELETE', config_path('v1', 'password-policies', GROUP_POLICY), headers=EXPERIMENTAL)
    assert resp.status_code == 400 and 'Unix Password Sync' in _error_text(resp)
    _spec(resp, 'v1', 'password-policies', 'DELETE', True)
    default = [p for p in admin.call('GET', config_path('v1', 'password-policies'), headers=EXPERIMENTAL).json()
               if p['defaultPolicy']][0]
    resp = admin.call('DELETE', config_path('v1', 'password-policies', default['id']), headers=EXPERIMENTAL)
    assert resp.status_code == 400 and 'default' in _error_text(resp)


# -- sync groups ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('version', ALL_VERSIONS)
def test_sync_group_crud_on_every_version(openapi, sim, version):
    admin, client = _apis(sim, version)
    ids = {s['name']: s['id'] for s in client.call('GET', '/sources/v1').json()}
    request = {'name': 'Corp Sync', 'passwordPolicyId': GROUP_POLICY, 'sourceIds': [ids['Corp-AD'], ids['Corp-LDAP']]}
    resp = admin.call('POST', config_path(version, 'password-sync-groups'), request)  # no experimental header needed
    assert resp.status_code == 200, resp.text
    made = _spec(resp, version, 'password-sync-groups', 'POST', request=request)
    assert made['sourceIds'] == request['sourceIds'] and made['created'] and made['id']
    resp = client.call('GET', config_path(version, 'password-sync-groups') + '?count=true')
    listed = _spec(resp, version, 'password-sync-groups', 'GET')
    assert resp.headers['X-Total-Count'] == '2' and listed[1] == made
    resp = client.call('GET', config_path(version, 'password-sync-groups'), params={'filters': 'name eq "Corp Sync"'})
    assert resp.json() == [made]
    assert client.call('GET', config_path(version, 'password-sync-groups') + '?offset=1&limit=1').json() == [made]
    request = {'name': 'Corp Sync 2', 'passwordPolicyId': GROUP_POLICY,
               'sourceIds': [ids['Corp-AD'], ids['Corp-LDAP'], ids['Oracle-DB']]}
    resp = admin.call('PUT', config_path(version, 'password-sync-groups', made['id']), request)
    changed = _spec(resp, version, 'password-sync-groups', 'PUT', True, request=request)
    assert changed['name'] == 'Corp Sync 2' and len(changed['sourceIds']) == 3 and changed['created'] == made['created']
    resp = admin.call('DELETE', config_path(version, 'password-sync-groups', made['id']))
    assert resp.status_code == 204
    _spec(resp, version, 'password-sync-groups', 'DELETE', True)
    resp = client.call('GET', config_path(version, 'password-sync-groups', made['id']))
    assert resp.status_code == 404
    _spec(resp, version, 'password-sync-groups', 'GET', True)
    resp = admin.call('DELETE', config_path(version, 'password-sync-groups', made['id']))
    assert resp.status_code == 400  # DELETE lists no 404: the referenced-object 400, as elsewhere
    assert _spec(resp, version, 'password-sync-groups', 'DELETE', True)['detailCode'] == '400.1.404 Referenced object not found'


def test_sync_group_validation_and_tokens(openapi, sim):
    admin, client = _apis(sim, 'v2025')
    ids = {s['name']: s['id'] for s in client.call('GET', '/v2025/sources').json()}
    path = config_path('v2025', 'password-sync-groups')
    good = {'name': 'G', 'passwordPolicyId': GROUP_POLICY, 'sourceIds': [ids['Corp-AD'], ids['Oracle-DB']]}
    cases = [
        (dict(good, passwordPolicyId='f' * 32), 'passwordPolicyId'),
        (dict(good, sourceIds=[ids['Corp-AD'], 'nope']), 'sourceIds'),
        (dict(good, sourceIds=[ids['Corp-AD']]), 'at least two'),
        (dict(good, sourceIds=[ids['Corp-AD'], ids['Unix-LDAP']]), 'Unix Password Sync'),  # already in a group
        (dict(good, name='Unix Password Sync'), 'name'),
        ({'passwordPolicyId': GROUP_POLICY, 'sourceIds': good['sourceIds']}, 'name'),
        (dict(good, extra=1), 'extra'),
    ]
    for body, text in cases:
        resp = admin.call('POST', path, body)
        assert resp.status_code == 400, body
        _spec(resp, 'v2025', 'password-sync-groups', 'POST')
        assert text in _error_text(resp), (body, _error_text(resp))
    for api in (client, Api(sim.base_url, client=USER_PAT)):
        resp = api.call('POST', path, good)
        assert resp.status_code == 403 and 'ORG_ADMIN' in _error_text(resp)
        assert api.call('PUT', config_path('v2025', 'password-sync-groups', GROUP_ID), good).status_code == 403
        assert api.call('DELETE', config_path('v2025', 'password-sync-groups', GROUP_ID)).status_code == 403
    resp = admin.call('PUT', config_path('v2025', 'password-sync-groups', 'nope'), good)
    assert resp.status_code == 404


# -- dictionary -----------------------------------------------------------------------------------------------

def _upload(api, version, text):
    return api.call('PUT', config_path(version, 'password-dictionary'), files={'file': ('dict.txt', text.encode('utf-8'))})


@pytest.mark.parametrize('version', ALL_VERSIONS)
def test_dictionary_round_trip(sim, version):
    admin, client = _apis(sim, version)
    path = config_path(version, 'password-dictionary')
    resp = admin.call('GET', path)
    assert resp.status_code == 404
    _spec(resp, version, 'password-dictionary', 'GET')
    text = 'locale=en_US\n# prohibited words\n\nqwerty\npassword\n'
    resp = _upload(admin, version, text)
    assert resp.status_code == 201
    _spec(resp, version, 'password-dictionary', 'PUT')
    assert _upload(admin, version, text + 'spring\n').status_code == 200
    resp = admin.call('GET', path)
    assert resp.status_code == 200 and resp.headers['Content-Type'].startswith('text/plain')
    assert _spec(resp, version, 'password-dictionary', 'GET') == text + 'spring\n'
    # read and write need an ORG_ADMIN's user token
    for api in (client, Api(sim.base_url, client=USER_PAT)):
        for resp in (api.call('GET', path), _upload(api, version, text)):
            assert resp.status_code == 403 and 'user token' in _error_text(resp)


def test_dictionary_limits(sim):
    admin, _client = _apis(sim, 'v1')
    words = '\n'.join('word%d' % n for n in range(2500))
    assert _upload(admin, 'v1', 'locale=de_DE\n# comment\n\n' + words + '\n# another\n').status_code == 201
    resp = _upload(admin, 'v1', words + '\nword2500\n')
    assert resp.status_code == 400 and '2500' in _error_text(resp)
    resp = _upload(admin, 'v1', 'ok\n' + 'x' * 129 + '\n')
    assert resp.status_code == 400 and '128' in _error_text(resp)
    assert _upload(admin, 'v1', 'ok\n' + 'x' * 128 + '\n').status_code == 200
    assert 'whitespace' in _error_text(_upload(admin, 'v1', 'two words\n'))
    assert _upload(admin, 'v1', 'locale=en_US\n# only a locale\n').status_code == 200  # no word: empties it
    assert admin.call('GET', config_path('v1', 'password-dictionary')).text.strip() == 'locale=en_US\n# only a locale'
    resp = admin.call('PUT', config_path('v1', 'password-dictionary'), files={'file': ('d.txt', b'caf\xe9\n')})
    assert resp.status_code == 400 and 'UTF-8' in _error_text(resp)
    resp = admin.call('PUT', config_path('v1', 'password-dictionary'), raw='qwerty', headers={'Content-Type': 'text/plain'})
    assert resp.status_code == 400 and 'multipart' in _error_text(resp)
    resp = admin.call('PUT', config_path('v1', 'password-dictionary'), files={'words': ('d.txt', b'qwerty\n')})
    assert resp.status_code == 400 and "'file'" in _error_text(resp)


def test_dictionary_is_enforced_by_policies_that_use_it(sim):
    admin, _client = _apis(sim, 'v3')
    api = Api(sim.base_url, version='v3')
    _upload(admin, 'v3', 'spring\n')
    policy = admin.call('GET', config_path('v3', 'password-policies'), params={'filters': 'name eq "My-AD policy"'}).json()[0]
    assert api.set_password('Spring2099x').status_code == 202  # the policy does not use the dictionary yet
    body = {k: v for k, v in policy.items() if k not in ('id', 'dateCreated', 'lastUpdated', 'created', 'modified')}
    body['useDictionary'] = True
    assert admin.call('PUT', config_path('v3', 'password-policies', policy['id']), body).status_code == 200
    api.sim('PUT', 'config', {'policy_rejection': 'submit'})
    resp = api.set_password('MySpring2099x')
    assert resp.status_code == 400 and 'dictionary' in _error_text(resp)


# -- org config and the digit token -------------------------------------------------------------------------------

@pytest.mark.parametrize('version', ALL_VERSIONS)
def test_org_config(openapi, sim, version):
    admin, client = _apis(sim, version)
    path = config_path(version, 'password-org-config')
    resp = client.call('GET', path)
    defaults = _spec(resp, version, 'password-org-config', 'GET')
    assert defaults == {'customInstructionsEnabled': False, 'digitTokenEnabled': False,
                        'digitTokenDurationMinutes': 5, 'digitTokenLength': 6}
    assert api_digit(client, version) == 200  # no config written yet: digit tokens work as before
    request = {'digitTokenEnabled': True, 'digitTokenLength': 9}
    resp = client.call('POST', path, request)  # an API client may manage it
    made = _spec(resp, version, 'password-org-config', 'POST', request=request)
    assert made == dict(defaults, digitTokenEnabled=True, digitTokenLength=9)
    resp = admin.call('POST', path, request)
    assert resp.status_code == 400 and 'already exists' in _error_text(resp)
    request = {'digitTokenDurationMinutes': 12}
    resp = admin.call('PUT', path, request)
    assert _spec(resp, version, 'password-org-config', 'PUT', request=request) == dict(made, digitTokenDurationMinutes=12)
    for body, field in (({'digitTokenDurationMinutes': 61}, 'digitTokenDurationMinutes'),
                        ({'digitTokenLength': 5}, 'digitTokenLength'), ({'digitTokenEnabled': 'no'}, 'digitTokenEnabled'),
                        ({'digitTokenLength': 19}, 'digitTokenLength'), ({'colour': 1}, 'colour')):
        resp = admin.call('PUT', path, body)
        assert resp.status_code == 400 and field in _error_text(resp)
        _spec(resp, version, 'password-org-config', 'PUT')
    assert Api(sim.base_url, client=USER_PAT).call('PUT', path, {'digitTokenLength': 7}).status_code == 403
    if version != 'v3':
        token = client.digit({'userId': 'Abby.Smith'}, version=version).json()['digitToken']
        assert len(token) == 9  # the org config's length is the default
        client.call('PUT', path, {'digitTokenEnabled': False})
        resp = client.digit({'userId': 'Abby.Smith'}, version=version)
        assert resp.status_code == 400 and 'digitTokenEnabled' in _error_text(resp)


def api_digit(api, version):
    if version == 'v3':
        return 200
    return api.digit({'userId': 'Abby.Smith'}, version=version).status_code


# -- policy holders of a source ---------------------------------------------------------------------------------------

def test_holder_routes_and_tokens(openapi, sim):
    admin, client = _apis(sim, 'v2025')
    for version in ('v2025', 'v1'):
        resp = admin.call('GET', config_path(version, 'holders', MY_AD) + '?count=true')
        holders = _spec(resp, version, 'holders', 'GET', True)
        assert holders == [{'policyId': holders[0]['policyId'], 'policyName': 'My-AD policy', 'selectors': None}]
        assert resp.headers['X-Total-Count'] == '1'
        resp = client.call('GET', config_path(version, 'holders', MY_AD))  # GET: user token only
        assert resp.status_code == 403 and 'user token' in _error_text(resp)
        assert admin.call('GET', config_path(version, 'holders', 'nope')).status_code == 404
    assert client.call('GET', config_path('v2024', 'holders', MY_AD)).status_code == 405  # PATCH only on v2024
    assert client.call('PATCH', config_path('beta', 'holders', MY_AD), []).status_code == 404
    policy_id = admin.call('GET', config_path('v2025', 'holders', MY_AD)).json()[0]['policyId']
    request = [{'policyId': policy_id, 'policyName': 'My-AD policy', 'selectors': None}]
    for version in ('v2024', 'v2025', 'v1'):
        resp = client.call('PATCH', config_path(version, 'holders', MY_AD), request)  # PATCH: either kind
        assert _spec(resp, version, 'holders', 'PATCH', True, request=request) == request
        resp = client.call('PATCH', config_path(version, 'holders', 'nope'), request)
        assert resp.status_code == 404
        _spec(resp, version, 'holders', 'PATCH', True)
    assert Api(sim.base_url, client=USER_PAT).call('PATCH', config_path('v1', 'holders', MY_AD), request).status_code == 403
    for body, field in (({'policyId': policy_id}, 'array'), ([{'policyId': 'nope'}], 'policyId'),
                        ([{'policyId': policy_id, 'selectors': {'identityAttr': []}}], 'selectors'),
                        ([{'policyId': policy_id, 'selectors': None}, {'policyId': policy_id, 'selectors': None}],
                         'selectors')):
        resp = client.call('PATCH', config_path('v1', 'holders', MY_AD), body)
        assert resp.status_code == 400 and field in _error_text(resp)


def test_selector_holder_applies_to_matching_identities_only(sim):
    admin, client = _apis(sim, 'v2025')
    strict = admin.call('POST', config_path('v2025', 'password-policies'),
                        _policy_body('Finance strict', minLength=20), headers=EXPERIMENTAL).json()
    whole = admin.call('GET', config_path('v2025', 'holders', MY_AD)).json()[0]
    body = [whole, {'policyId': strict['id'], 'selectors': {'identityAttr': [{'name': 'department', 'value': 'Finance'}]}}]
    resp = client.call('PATCH', config_path('v2025', 'holders', MY_AD), body)
    assert resp.status_code == 200 and resp.json()[1]['policyName'] == 'Finance strict'
    assert 'passwordMinLength is 20' in client.info('Carl.Jones', 'My-AD')['policies']   # department Finance
    assert 'passwordMinLength is 8' in client.info('Abby.Smith', 'My-AD')['policies']    # department IT
    client.sim('PUT', 'config', {'policy_rejection': 'submit'})
    assert client.set_password('Short2025abc', user='Carl.Jones').status_code == 400
    assert client.set_password('Short2025abc', user='Abby.Smith').status_code == 202
    # a PATCH without a whole-source holder leaves the source to the default policy
    client.call('PATCH', config_path('v2025', 'holders', MY_AD), [])
    assert client.info('Abby.Smith', 'My-AD')['policies'] == []


# -- the link to the password operations --------------------------------------------------------------------------

def test_policy_changes_what_query_reports_and_set_password_enforces(sim):
    admin, client = _apis(sim, 'v2025')
    oracle = client.info('svc-app-003', 'Oracle-DB')
    assert 'passwordMinLength is 16' in oracle['policies'] and 'passwordMinSpecial is 1' not in oracle['policies']
    client.sim('PUT', 'config', {'policy_rejection': 'submit'})
    assert client.set_password('Abcdefgh12345678', user='svc-app-003', source='Oracle-DB').status_code == 202
    # a new policy linked to Oracle-DB takes the source over
    made = admin.call('POST', config_path('v2025', 'password-policies'),
                      _policy_body('Oracle strict', minLength=20, minSpecial=1, sourceIds=[oracle['sourceId']]),
                      headers=EXPERIMENTAL).json()
    info = client.info('svc-app-003', 'Oracle-DB')
    assert info['policies'] == ['passwordMinLength is 20', 'passwordMinNumeric is 1', 'passwordMinSpecial is 1']
    resp = client.set_password('Abcdefgh1234567890xy', user='svc-app-003', source='Oracle-DB', info=info)
    assert resp.status_code == 400 and 'passwordMinSpecial' in _error_text(resp)
    assert client.set_password('Abcdefgh123456789-xy', user='svc-app-003', source='Oracle-DB').status_code == 202
    seeded = admin.call('GET', config_path('v2025', 'password-policies'), headers=EXPERIMENTAL,
                        params={'filters': 'name eq "Oracle-DB policy"'}).json()[0]
    assert seeded['sourceIds'] == []  # a source is linked to one policy
    # PUT on the new policy changes the answer again; deleting it falls back to the default policy
    admin.call('PUT', config_path('v2025', 'password-policies', made['id']),
               _policy_body('Oracle strict', minLength=24, sourceIds=[oracle['sourceId']]), headers=EXPERIMENTAL)
    assert client.info('svc-app-003', 'Oracle-DB')['policies'] == ['passwordMinLength is 24', 'passwordMinNumeric is 1']
    admin.call('DELETE', config_path('v2025', 'password-policies', made['id']), headers=EXPERIMENTAL)
    assert client.info('svc-app-003', 'Oracle-DB')['policies'] == []


def test_api_sync_group_fans_out_set_password(sim):
    admin, client = _apis(sim, 'v1')
    # deleting the seeded group makes the members independent (they keep its policy directly)
    assert admin.call('DELETE', config_path('v1', 'password-sync-groups', GROUP_ID)).status_code == 204
    info = client.info('svc-sync-01', 'Unix-LDAP')
    assert 'passwordMinLength is 10' in info['policies']
    resp = client.set_password('Independent2025x', user='svc-sync-01', source='Unix-LDAP', info=info)
    _wait(client, resp.json()['requestId'])
    changed = {a['sourceName']: a['changeCount'] for a in client.accounts(userName='svc-sync-01')}
    assert changed == {'Unix-LDAP': 1, 'Unix-Kerberos': 0}
    # a group made through the API fans out like the seeded one did, under its policy
    ids = [info['sourceId'], client.info('svc-sync-01', 'Unix-Kerberos')['sourceId']]
    my_ad_policy = client.call('GET', config_path('v1', 'holders', MY_AD)).status_code  # client: 403 (user token)
    assert my_ad_policy == 403
    policy = admin.call('POST', config_path('v1', 'password-policies'), _policy_body('Unix again', minLength=11),
                        headers=EXPERIMENTAL).json()
    group = admin.call('POST', config_path('v1', 'password-sync-groups'),
                       {'name': 'Unix again', 'passwordPolicyId': policy['id'], 'sourceIds': ids}).json()
    info = client.info('svc-sync-01', 'Unix-LDAP')
    assert info['policies'] == ['passwordMinLength is 11', 'passwordMinNumeric is 1']
    resp = client.set_password('Together2025xy', user='svc-sync-01', source='Unix-LDAP', info=info)
    status = _wait(client, resp.json()['requestId'])
    assert status['state'] == 'FINISHED' and sorted(status['sourceIds']) == sorted(group['sourceIds'])
    changed = {a['sourceName']: a['changeCount'] for a in client.accounts(userName='svc-sync-01')}
    assert changed == {'Unix-LDAP': 2, 'Unix-Kerberos': 1}


def _wait(api, request_id):
    for dummy in range(50):
        status = api.status(request_id).json()
        if status['state'] != 'IN_PROGRESS':
            return status
        time.sleep(0.05)
    raise AssertionError('still IN_PROGRESS')


def test_reset_restores_the_seed_configuration(sim):
    admin, client = _apis(sim, 'v3')
    before = client.sim('GET', 'password-config')
    assert before['orgConfig'] is None and before['dictionary'] is None
    assert before['effective']['Unix-LDAP'] == GROUP_POLICY and len(before['policies']) == 6
    admin.call('POST', config_path('v3', 'password-policies'), _policy_body('Extra', sourceIds=[MY_AD]))
    admin.call('DELETE', config_path('v3', 'password-sync-groups', GROUP_ID))
    _upload(admin, 'v3', 'qwerty\n')
    admin.call('POST', config_path('v3', 'password-org-config'), {'digitTokenEnabled': True})
    after = client.sim('GET', 'password-config')
    assert after != before and after['syncGroups'] == [] and after['orgConfig']['digitTokenEnabled']
    client.sim('POST', 'reset', {'state': True})
    assert client.sim('GET', 'password-config') == before
    assert client.info()['policies'] == ['passwordMinLength is 8', 'passwordMinAlpha is 1', 'passwordMinNumeric is 1',
                                         'passwordRepeatedChar is 3']


# -- v2025 on the password operations -------------------------------------------------------------------------

def test_v2025_serves_what_v2024_serves(sim):
    api = Api(sim.base_url, version='v2025')
    info = api.info()
    resp = api.set_password('Summer2099ok', info=info)
    assert resp.status_code == 202 and api.status(resp.json()['requestId']).status_code == 200
    assert api.digit({'userId': 'Abby.Smith'}).status_code == 200
    resp = api.digit({'userId': 'Abby.Smith'}, experimental=False)
    assert resp.status_code == 400 and 'X-SailPoint-Experimental' in _error_text(resp)
    assert len(api.call('GET', '/v2025/password-sync-groups').json()) == 1
    assert api.call('GET', '/v2025/sources', params={'filters': 'name eq "My-AD"'}).json()[0]['id'] == MY_AD
    assert api.call('GET', '/v2026/sources').status_code == 404


def test_seed_configuration_fields(make_sim):
    seed = load_seed()
    seed['sources'].append({'name': 'Bare'})  # no policy: the default policy governs it
    seed['identities'].append({'name': 'Bare.User', 'accounts': [{'source': 'Bare', 'password': 'x'}]})
    seed.update({'default_policy': {'passwordMinLength': 9}, 'password_dictionary': 'locale=en_US\nqwerty\n',
                 'password_org_config': {'digitTokenEnabled': True, 'digitTokenLength': 8}})
    sim = make_sim(seed_data=seed)
    api = Api(sim.base_url)
    assert api.info('Bare.User', 'Bare')['policies'] == ['passwordMinLength is 9']
    config = api.sim('GET', 'password-config')
    assert config['dictionary'] == 'locale=en_US\nqwerty\n' and config['orgConfig']['digitTokenLength'] == 8
    assert len(api.digit({'userId': 'Abby.Smith'}).json()['digitToken']) == 8
    seed['password_org_config'] = {'digitTokenLength': 99}
    with pytest.raises(ValueError, match='digitTokenLength'):
        Simulator(seed_data=seed)
