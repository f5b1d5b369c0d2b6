"""The simulator refuses what SailPoint's documents do not allow a token (issue 25; authz.py)."""

import re

import pytest

from tools import least_privilege
from tools.isc_simulator import authz, server
from tools.isc_simulator.seed import load_seed

from .helpers import PAT, Api, config_path, wait_terminal

MY_AD = '2c918083746f642c01746f990884012a'


def _seed(*clients):
    data = load_seed()
    data['api_clients'] = list(data['api_clients']) + list(clients)
    return data


def _client(client_id, **rights):
    return dict(client_id=client_id, client_secret=client_id + '-secret', **rights)


def _api(sim, client_id, version='v2024'):
    return Api(sim.base_url, client=(client_id, client_id + '-secret'), version=version)


def _refusal(resp):
    """The text of a 403 in ISC's error shape (ErrorResponseDto with the reason as a cause)."""
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body['detailCode'] == '403 Forbidden' and re.match(r'^[0-9a-f]{32}$', body['trackingId'])
    assert body['messages'][0]['text'] == 'The server understood the request but refuses to authorize it.'
    return body['causes'][0]['text']


def test_token_answer_carries_the_granted_scope(make_sim):
    sim = make_sim(seed_data=_seed(_client('narrow', scope=['idn:password-info:read', 'idn:password-change:read'])))
    assert _api(sim, 'narrow').get_token()['scope'] == 'idn:password-info:read idn:password-change:read'
    assert Api(sim.base_url).get_token()['scope'] == 'sp:scopes:all'  # the seed's clients keep ISC's default


def test_one_listed_scope_suffices_and_a_missing_one_is_named(make_sim):
    sim = make_sim(seed_data=_seed(_client('reader', scope=['idn:password-info:read']),
                                   _client('manager', scope=['idn:password-sync-group:manage'])))
    reader = _api(sim, 'reader')
    info = reader.info()
    resp = reader.set_password('Another1pass', info=info)
    text = _refusal(resp)
    assert 'POST /v2024/set-password' in text and 'idn:password-change:manage' in text and 'reader' in text
    assert sim.counters()['requests']['set_password'] == {'403': 1}
    assert reader.call('GET', '/v2024/password-sync-groups').status_code == 403
    # the sync-group list lists read or manage: manage alone suffices
    assert _api(sim, 'manager').call('GET', '/v2024/password-sync-groups').status_code == 200
    # the same token on another API version: the same right, at that version's path
    text = _refusal(reader.call('GET', '/password-change-status/v1/nope'))
    assert 'GET /password-change-status/v1/{id}' in text and 'idn:password-change:read' in text


def test_scopes_all_grants_everything_and_user_only_operations_refuse_api_clients(sim):
    client, admin = Api(sim.base_url), Api(sim.base_url, client=PAT)
    request_id = client.set_password('Another1pass').json()['requestId']
    assert wait_terminal(client, request_id)['state'] == 'FINISHED'
    text = _refusal(client.call('GET', config_path('v2024', 'password-dictionary')))
    assert 'GET /v2024/password-dictionary needs a user token' in text and 'API client' in text and 'ORG_ADMIN' in text
    assert admin.call('GET', config_path('v2024', 'password-dictionary')).status_code == 404  # allowed: none yet


def test_user_levels_of_a_pat_and_of_an_api_clients_owner(make_sim):
    sim = make_sim(seed_data=_seed(_client('carl-pat', type='pat', user='Carl.Jones'),
                                   _client('owned-by-carl', owner='Carl.Jones'),
                                   _client('owned-by-abby', owner='Abby.Smith')))
    request_id = Api(sim.base_url).set_password('Another1pass').json()['requestId']
    path = '/v2024/password-change-status/' + request_id
    for who, name in (('carl-pat', "'Carl.Jones'"), ('owned-by-carl', "'Carl.Jones'")):
        text = _refusal(_api(sim, who).call('GET', path))
        assert 'ORG_ADMIN' in text and name in text, text
    assert _api(sim, 'owned-by-abby').call('GET', path).status_code == 200
    # beta documents no level for the status read: the same PAT reads it there
    assert _api(sim, 'carl-pat').call('GET', '/beta/password-change-status/' + request_id).status_code == 200
    # a PAT with the right level but not the scope is refused for the scope
    sim2 = make_sim(seed_data=_seed(_client('abby-narrow', type='pat', user='Abby.Smith', scope=['idn:password-policy:read'])))
    text = _refusal(_api(sim2, 'abby-narrow').call('GET', '/v2024/password-sync-groups'))
    assert 'idn:password-sync-group:read' in text


def test_every_route_the_simulator_serves_is_a_documented_operation():
    """authz.py matches requests to the table by path template: every route and method of server.ROUTES (but the
    token) is some documented operation, so a route added later is covered without a line in authz.py."""
    covered = set()
    for method, path in authz.RIGHTS:
        concrete = re.sub(r'\{[^}]+\}', 'x1', path)
        for index, (methods, pattern, _op) in enumerate(server.ROUTES):
            if method in methods and pattern.match(concrete):
                covered.add((index, method))
                assert authz.operation_of(method, concrete)[0] == path
    served = set((index, method) for index, (methods, _p, op) in enumerate(server.ROUTES) if op != 'token'
                 for method in methods)
    assert served - covered == set()


def test_the_document_slip_it_tolerates_is_still_a_slip(api):
    """Only GET /beta/sources is taken as an API-client operation against its document (authz.DOCUMENT_SLIPS)."""
    assert set(authz.RIGHTS[('GET', '/beta/sources')]['security']) == {'userAuth'}
    assert 'applicationAuth' in authz.RIGHTS[('GET', '/v3/sources')]['security']
    assert api.call('GET', '/beta/sources').status_code == 200


def test_seed_refuses_malformed_rights(make_sim):
    for bad in (dict(scope='sp:scopes:all'), dict(user_levels='ORG_ADMIN'), dict(type='pat', user='Abby.Smith', owner='x')):
        with pytest.raises(ValueError):
            make_sim(seed_data=_seed(_client('bad', **bad)))


# The generated files (tools/least_privilege.py). Here rather than under tests/unit: ansible-test units does
# not ship tools/.

def test_committed_table_is_what_the_documents_give():
    """Fails when a document in tests/spec/ changes (or is added) and the table was not generated again."""
    built = least_privilege.build_table()
    assert built == authz.RIGHTS
    with open(least_privilege.TABLE, encoding='utf-8') as handle:
        assert handle.read() == least_privilege.table_text(built)


def test_committed_page_is_the_generated_one():
    with open(least_privilege.PAGE, encoding='utf-8') as handle:
        assert handle.read() == least_privilege.page_text()
