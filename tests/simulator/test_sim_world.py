"""POST /__sim/world (world.py): an account renamed or moved, a source deleted or without PASSWORD, an API client
narrowed or revoked; each answered by the API as ISC would, and undone by a state reset."""

from .helpers import Api, wait_terminal


def test_renamed_and_moved_accounts(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    info = api.info('Carl.Jones', 'My-AD')
    api.sim('POST', 'world', {'move': 'rename-account', 'userName': 'Carl.Jones', 'sourceName': 'My-AD',
                              'accountId': 'Carl.Jones-adm', 'newAccountId': 'CJ-admin', 'newAccountName': 'CJ-admin'})
    assert [a['accountName'] for a in api.info('Carl.Jones', 'My-AD')['accounts']] == ['Carl.Jones', 'CJ-admin']
    resp = api.set_password('Another1pass', user='Carl.Jones', info=info, account=1)
    assert resp.status_code == 400 and resp.json()['detailCode'] == '400.1.404 Referenced object not found'
    moved = api.sim('POST', 'world', {'move': 'move-account', 'userName': 'Carl.Jones', 'sourceName': 'My-AD',
                                      'accountId': 'CJ-admin', 'toUserName': 'Abby.Smith'})['moved']
    assert moved['userName'] == 'Abby.Smith'
    assert [a['accountName'] for a in api.info('Abby.Smith', 'My-AD')['accounts']] == ['Abby.Smith', 'CJ-admin']
    assert [a['accountName'] for a in api.info('Carl.Jones', 'My-AD')['accounts']] == ['Carl.Jones']
    api.sim('POST', 'reset', {'state': True})
    assert [a['accountName'] for a in api.info('Carl.Jones', 'My-AD')['accounts']] == ['Carl.Jones', 'Carl.Jones-adm']
    assert [a['accountName'] for a in api.info('Abby.Smith', 'My-AD')['accounts']] == ['Abby.Smith']


def test_a_change_accepted_before_the_move_completes_on_the_account(make_sim):
    sim = make_sim(completion_delay=0.5)
    api = Api(sim.base_url)
    resp = api.set_password('Moved-Pass-2026-Ab1!', user='svc-app-004', source='Corp-AD', info=api.info('svc-app-004', 'Corp-AD'))
    assert resp.status_code == 202
    api.sim('POST', 'world', {'move': 'move-account', 'userName': 'svc-app-004', 'sourceName': 'Corp-AD',
                              'toUserName': 'svc-app-001'})
    assert wait_terminal(api, resp.json()['requestId'])['state'] == 'FINISHED'
    assert [a['changeCount'] for a in api.accounts(userName='svc-app-001', sourceName='Corp-AD')] == [0, 1]
    assert api.query('svc-app-004', 'Corp-AD').status_code == 400


def test_deleted_source_and_source_without_password_feature(make_sim):
    sim = make_sim()
    api = Api(sim.base_url)
    info = api.info('svc-sync-01', 'Unix-LDAP')
    api.sim('POST', 'world', {'move': 'source-features', 'sourceName': 'Unix-LDAP', 'features': ['AUTHENTICATE']})
    resp = api.set_password('Nopass1word', user='svc-sync-01', source='Unix-LDAP', info=info)
    assert resp.status_code == 400 and 'PASSWORD' in resp.json()['messages'][0]['text']
    source_id = info['sourceId']
    api.sim('POST', 'world', {'move': 'delete-source', 'sourceName': 'Unix-LDAP'})
    assert api.query('svc-sync-01', 'Unix-LDAP').status_code == 400
    # the source's own operations answer as for any unknown source, and the connectors view leaves it out
    for method, path in (('GET', '/sources/v1/%s'), ('POST', '/sources/v1/%s/connector/check-connection')):
        assert api.call(method, path % source_id).status_code == 404, path
    assert source_id not in [c['sourceId'] for c in api.sim('GET', 'connectors')['connectors']]
    assert api.accounts(sourceName='Unix-LDAP') == []
    groups = api.call('GET', '/v2024/password-sync-groups').json()
    assert [g['sourceIds'] for g in groups if g['name'] == 'Unix Password Sync'] == [[api.info('svc-sync-01', 'Unix-Kerberos')['sourceId']]]
    api.sim('POST', 'reset', {'state': True})
    assert len(api.accounts(sourceName='Unix-LDAP')) == 6
    assert api.call('GET', '/sources/v1/' + source_id).status_code == 200
    assert api.set_password('Back1nplace', user='svc-sync-01', source='Unix-LDAP').status_code == 202


def test_api_client_narrowed_then_revoked(make_sim):
    sim = make_sim()
    api = Api(sim.base_url, client=('demo-client-id', 'demo-client-secret'))
    assert api.query('svc-app-001', 'Corp-AD').status_code == 200
    api.sim('POST', 'world', {'move': 'api-client', 'clientId': 'demo-client-id', 'scope': ['idn:password-info:read']})
    assert api.query('svc-app-001', 'Corp-AD').status_code == 200
    refused = api.set_password('Narrowed-Scope-2026-Ab1!', user='svc-app-001', source='Corp-AD')
    assert refused.status_code == 403, 'the token it holds is narrowed too'
    api.sim('POST', 'world', {'move': 'api-client', 'clientId': 'demo-client-id', 'revoked': True})
    assert api.query('svc-app-001', 'Corp-AD').status_code == 401
    resp = api.session.post(sim.base_url + '/oauth/token', data={'grant_type': 'client_credentials',
                            'client_id': 'demo-client-id', 'client_secret': 'demo-client-secret'})
    assert resp.status_code == 401
    api.sim('POST', 'world', {'move': 'api-client', 'clientId': 'demo-client-id', 'revoked': False})
    api.get_token()
    assert api.set_password('Narrowed-Scope-2026-Ab1!', user='svc-app-001', source='Corp-AD').status_code == 403
    api.sim('POST', 'reset', {'state': True})
    api.get_token()
    assert api.query('svc-app-001', 'Corp-AD').status_code == 200


def test_bad_moves_name_the_field(api):
    for body, part in (({'move': 'teleport'}, 'must be {"move"'), ({'move': 'delete-source'}, 'sourceName'),
                       ({'move': 'move-account', 'userName': 'Carl.Jones', 'sourceName': 'My-AD'}, 'accountId'),
                       ({'move': 'api-client', 'clientId': 'demo-client-id'}, 'scope'),
                       ({'move': 'api-client', 'clientId': 'demo-client-id', 'revoked': 'yes'}, 'revoked')):
        resp = api.call('POST', '/__sim/world', body, auth=False)
        assert resp.status_code == 400 and part in resp.json()['error'], (body, resp.text)
