# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What discovery sends, checked against SailPoint's official documents (issue 26, Done means: requests validate
against the official documents). isc_account_info runs in-process against the in-process simulator: a listing with
machine-account details (a personal access token), and a verify whose change start lies ahead (so it reloads the
account). Every request but the token's must be a documented operation of the v1 documents in tests/spec, with only
documented query parameters, each valid by its schema (limits within their maximum), a JSON body exactly where the
operation has one and valid by its schema, and the experimental header exactly where the operation requires it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_account_info
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import run_module
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.test_config_request_bodies import (
    PAT,
    RecordingSession,
    _resolve,
    documented_operation,
    json_schema,
)

jsonschema = pytest.importorskip('jsonschema')
sim_mod = pytest.importorskip('tools.isc_simulator')


class QuerySession(RecordingSession):
    """The recording session, keeping each request's query string as well."""

    def request(self, method, url, **kwargs):  # pylint: disable=arguments-differ
        response = super().request(method, url, **kwargs)
        self.sent[-1]['query'] = parse_qsl(urlsplit(url).query)
        return response


def _typed(value, schema):
    if schema.get('type') == 'integer':
        return int(value)
    if schema.get('type') == 'boolean':
        return {'true': True, 'false': False}.get(value, value)
    return value


def check(request):
    doc, operation = documented_operation('v1', request['method'], request['path'])
    parameters = [_resolve(doc, p) for p in operation.get('parameters', [])]
    query = dict((p['name'], p) for p in parameters if p['in'] == 'query')
    for name, value in request['query']:
        assert name in query, (request['method'], request['path'], name)
        jsonschema.validate(_typed(value, query[name]['schema']), json_schema(query[name]['schema']))
    required = [p for p in parameters if p['in'] == 'header' and p['name'] == 'X-SailPoint-Experimental' and p.get('required')]
    assert (request['headers'].get('X-SailPoint-Experimental') == 'true') == bool(required), request
    content = (operation.get('requestBody') or {}).get('content', {})
    if 'application/json' in content:
        assert request['json'] is not None, request
        jsonschema.validate(request['json'], json_schema(content['application/json']['schema']))
    else:
        assert request['json'] is None and not request['data'], request


@pytest.fixture(scope='module')
def simulator():
    sim = sim_mod.Simulator(completion_delay=0.2, fleet_size=10)
    base_url = sim.start()
    yield base_url
    sim.stop()


def _sent(args, capsys, monkeypatch, base_url):
    session = QuerySession()
    result, _session = run_module(isc_account_info.main, dict(PAT, base_url=base_url, **args), capsys, monkeypatch,
                                  session=session)
    assert not result.get('failed'), result
    return result, [r for r in session.sent if r['path'] != '/oauth/token']


def test_discovery_requests_match_the_documents(capsys, monkeypatch, simulator):
    listing, sent = _sent({'machine_accounts': True, 'query': 'attributes.department:IT OR name:svc-*'}, capsys,
                          monkeypatch, simulator)
    assert listing['accounts'] and listing['search_requests'] == 1
    verify = [{'key': 'Corp-LDAP/svc-app-002', 'source_name': 'Corp-LDAP', 'user_name': 'svc-app-002'}]
    result, more = _sent({'verify': verify, 'verify_since': '2999-01-01T00:00:00Z', 'verify_timeout': 0}, capsys,
                         monkeypatch, simulator)
    assert result['unverified'] and not result['verified']  # passwordLastSet cannot be past a future start
    sent += more
    kinds = sorted(set((r['method'], r['path'].split('/')[1]) for r in sent))
    assert kinds == [('GET', 'accounts'), ('GET', 'machine-accounts'), ('GET', 'sources'), ('POST', 'accounts'),
                     ('POST', 'search')], kinds
    for request in sent:
        check(request)
