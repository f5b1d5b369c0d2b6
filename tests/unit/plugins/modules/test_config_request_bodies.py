# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the password-configuration modules send, checked against SailPoint's official documents
(tests/spec): each module runs in-process against the in-process simulator on every API version it
supports, every write is recorded on the wire, and its body must validate against the request-body
schema of the documented operation (JSON bodies; the dictionary's multipart form must carry the part the
document names), with the experimental header exactly where that operation declares it."""

from __future__ import annotations

import glob
import json
import os
import re
from urllib.parse import urlsplit

import pytest
import requests

from ansible_collections.sailpoint_isc.passwords.plugins.modules import (
    isc_password_dictionary,
    isc_password_org_config,
    isc_password_policy,
    isc_password_sync_group,
    isc_source_password_policies,
)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import run_module

jsonschema = pytest.importorskip('jsonschema')
sim_mod = pytest.importorskip('tools.isc_simulator')
# the simulator tests' OpenAPI helpers: $ref resolution, OpenAPI 3.0 schema to JSON Schema
from ansible_collections.sailpoint_isc.passwords.tests.simulator.helpers import (  # noqa: E402 pylint: disable=wrong-import-position
    _resolve,
    to_json_schema as json_schema,
)

SPEC_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'spec')
YEAR_DOCUMENTS = {'v3': 'isc-v3-password.json', 'beta': 'isc-beta-password.json',
                  'v2024': 'isc-v2024-password.json', 'v2025': 'isc-v2025-password.json'}
PAT = {'client_id': 'demo-pat-id', 'client_secret': 'demo-pat-secret', 'token_cache': False}
WRITES = ('POST', 'PUT', 'PATCH', 'DELETE')


class RecordingSession(requests.Session):
    """A real session that keeps every request the client sends."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def request(self, method, url, **kwargs):  # pylint: disable=arguments-differ
        self.sent.append({'method': method.upper(), 'path': urlsplit(url).path, 'json': kwargs.get('json'),
                          'data': kwargs.get('data'), 'headers': dict(kwargs.get('headers') or {})})
        return super().request(method, url, **kwargs)


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def documents(version):
    """[(base path, document)] of one API version."""
    if version == 'v1':
        return [('', _load(p)) for p in sorted(glob.glob(os.path.join(SPEC_DIR, 'isc-v1-*.json')))]
    return [('/' + version, _load(os.path.join(SPEC_DIR, YEAR_DOCUMENTS[version])))]


def documented_operation(version, method, path):
    """(document, operation) the documents give for ``method path``; fails when there is none."""
    for prefix, doc in documents(version):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix):]
        for template, operations in doc['paths'].items():
            if re.match('^' + re.sub(r'\\\{[^}]+\\\}', '[^/]+', re.escape(template)) + '$', rest):
                if method.lower() in operations:
                    return doc, _resolve(doc, operations[method.lower()])
    raise AssertionError('%s: %s %s is not in the documents' % (version, method, path))


def check_against_documents(version, request):
    doc, operation = documented_operation(version, request['method'], request['path'])
    header = [p for p in operation.get('parameters', []) if p.get('in') == 'header'
              and p.get('name') == 'X-SailPoint-Experimental' and p.get('required')]
    assert (request['headers'].get('X-SailPoint-Experimental') == 'true') == bool(header), request
    content = (operation.get('requestBody') or {}).get('content', {})
    if request['method'] == 'DELETE':
        return
    if 'application/json' in content:
        assert request['json'] is not None, request
        jsonschema.validate(request['json'], json_schema(content['application/json']['schema']))
    else:
        schema = content['multipart/form-data']['schema']
        data = request['data'].decode('utf-8')
        for part in schema.get('required') or schema['properties']:
            assert 'name="%s"' % part in data, request
        assert request['headers']['Content-Type'].startswith('multipart/form-data; boundary=')


@pytest.fixture(scope='module')
def simulator():
    sim = sim_mod.Simulator(completion_delay=0.2)
    base_url = sim.start()
    yield sim, base_url
    sim.stop()


def run(main, args, capsys, monkeypatch, base_url, version, check=True):
    session = RecordingSession()
    result, _session = run_module(main, dict(PAT, base_url=base_url, api_version=version, **args),
                                  capsys, monkeypatch, session=session)
    assert not result.get('failed'), result
    return result, [r for r in session.sent if r['method'] in WRITES and r['path'] != '/oauth/token']


@pytest.mark.parametrize('version', ['v2024', 'v2025', 'v3', 'beta', 'v1'])
def test_configuration_writes_match_the_documents(capsys, monkeypatch, simulator, version):
    """Policies, sync groups, the org config and the dictionary: create, update, delete."""
    sim, base_url = simulator
    sim.reset(state=True)
    checked = []
    name = 'Bodies %s' % version
    steps = [
        (isc_password_policy.main, {'name': name, 'min_length': 12, 'use_dictionary': True, 'sources': ['Oracle-DB']}),
        (isc_password_policy.main, {'name': name, 'min_length': 14, 'description': 'changed'}),
        (isc_password_sync_group.main, {'name': name, 'password_policy': name, 'sources': ['Oracle-DB', 'Corp-LDAP']}),
        (isc_password_sync_group.main, {'name': name, 'sources': ['Oracle-DB', 'Corp-LDAP', 'Corp-AD']}),
        (isc_password_org_config.main, {'digit_token_enabled': True, 'digit_token_length': 9}),
        (isc_password_org_config.main, {'digit_token_duration_minutes': 7}),
        (isc_password_dictionary.main, {'words': ['acme', 'winter'], 'locale': 'en_US'}),
        (isc_password_sync_group.main, {'name': name, 'state': 'absent'}),
        (isc_password_policy.main, {'name': name, 'state': 'absent'}),
    ]
    for main, args in steps:
        result, writes = run(main, args, capsys, monkeypatch, base_url, version)
        assert result['changed'] and writes, (main.__module__, args)
        for request in writes:
            check_against_documents(version, request)
            checked.append((request['method'], request['path']))
    # creations, updates (the dictionary's multipart PUT among them) and deletions were all checked
    assert set(method for method, _path in checked) == {'POST', 'PUT', 'DELETE'}
    assert len(checked) >= len(steps)


@pytest.mark.parametrize('version', ['v2025', 'v1'])
def test_policy_holder_writes_match_the_documents(capsys, monkeypatch, simulator, version):
    sim, base_url = simulator
    sim.reset(state=True)
    holders = [{'policy': 'Oracle-DB policy', 'selectors': {'identity_attr': [{'name': 'department', 'value': 'Finance'}]}},
               {'policy': 'My-AD policy'}]
    result, writes = run(isc_source_password_policies.main, {'source': 'My-AD', 'holders': holders},
                         capsys, monkeypatch, base_url, version)
    assert result['changed'] and [w['method'] for w in writes] == ['PATCH']
    check_against_documents(version, writes[0])


def test_a_body_the_documents_refuse_is_caught(simulator):
    """The check itself: a policy body with a count as a string fails its schema."""
    request = {'method': 'POST', 'path': '/v3/password-policies', 'json': {'name': 'x', 'minLength': 'twelve'},
               'data': None, 'headers': {}}
    with pytest.raises(jsonschema.ValidationError):
        check_against_documents('v3', request)
    request = dict(request, json={'name': 'x'}, headers={'X-SailPoint-Experimental': 'true'})
    with pytest.raises(AssertionError):
        check_against_documents('v3', request)  # v3 does not declare the header
