# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API table and the field tables against SailPoint's official OpenAPI documents (tests/spec, vendored
copies under their MIT licence): every path the client builds exists with the methods the collection uses,
the experimental header is sent exactly where a document declares it, and the modules' options cover
every writable field of the schemas they manage, with the right types."""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc

SPEC_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'spec')
YEAR_DOCUMENTS = {'v3': 'isc-v3-password.json', 'beta': 'isc-beta-password.json',
                  'v2024': 'isc-v2024-password.json', 'v2025': 'isc-v2025-password.json'}

# The methods the collection sends to each operation.
METHODS = {
    api.OP_QUERY: ('post',), api.OP_SET: ('post',), api.OP_STATUS: ('get',), api.OP_DIGIT: ('post',),
    api.OP_SYNC_GROUPS: ('get', 'post'), api.OP_SYNC_GROUP: ('get', 'put', 'delete'), api.OP_SOURCES: ('get',),
    api.OP_POLICIES: ('get', 'post'), api.OP_POLICY: ('get', 'put', 'delete'), api.OP_DICTIONARY: ('get', 'put'),
    api.OP_ORG_CONFIG: ('get', 'post', 'put'), api.OP_SOURCE_POLICIES: ('get',),
    api.OP_SOURCE_POLICIES_UPDATE: ('patch',),
    api.OP_SOURCE: ('get', 'patch'), api.OP_CHECK_CONNECTION: ('post',), api.OP_TEST_CONFIGURATION: ('post',),
    api.OP_SEARCH: ('post',), api.OP_ACCOUNTS: ('get',), api.OP_ACCOUNT_RELOAD: ('post',), api.OP_MACHINE_ACCOUNTS: ('get',),
}


def _load(name):
    with open(os.path.join(SPEC_DIR, name)) as handle:
        return json.load(handle)


def documents(version):
    """(base path, paths) of the documents of one API version, merged (v1 is one document per resource)."""
    if version == 'v1':
        paths = {}
        for path in sorted(glob.glob(os.path.join(SPEC_DIR, 'isc-v1-*.json'))):
            paths.update(_load(os.path.basename(path))['paths'])
        return '', paths
    doc = _load(YEAR_DOCUMENTS[version])
    return '/' + version, doc['paths']


def _template(path):
    return re.sub(r'\{[^}]+\}', '{}', path)


def _experimental_declared(doc_paths, operation):
    header = set()
    for parameter in operation.get('parameters', []):
        if '$ref' in parameter:
            continue
        if parameter.get('in') == 'header' and parameter.get('name') == 'X-SailPoint-Experimental':
            header.add(bool(parameter.get('required')))
    return header


@pytest.mark.parametrize('version', api.API_VERSIONS)
def test_every_path_the_client_builds_is_in_the_documents(version):
    prefix, paths = documents(version)
    by_template = dict((_template(p), ops) for p, ops in paths.items())
    for operation, path in api.API_LAYOUTS[version]['paths'].items():
        spec_path = path.replace('%s', '{}')
        assert spec_path.startswith(prefix)
        ops = by_template.get(_template(spec_path[len(prefix):]))
        assert ops is not None, '%s %s: %s is not in the documents' % (version, operation, path)
        for method in METHODS[operation]:
            assert method in ops, '%s %s: the documents have no %s %s' % (version, operation, method.upper(), path)
            declared = _experimental_declared(paths, ops[method])
            if api.experimental(version, operation):
                assert declared == {True}, '%s %s %s: the header is sent but not required' % (version, method, path)
            else:
                assert True not in declared, '%s %s %s: the documents require the header' % (version, method, path)


# The path each operation has in a version that puts its name first, for the reverse check below.
YEAR_PATHS = {
    api.OP_DIGIT: '/generate-password-reset-token/digit', api.OP_SOURCE_POLICIES: '/sources/{}/password-policies',
    api.OP_SOURCE_POLICIES_UPDATE: '/sources/{}/password-policies',
}


@pytest.mark.parametrize('version', sorted(YEAR_DOCUMENTS))
def test_what_the_table_says_a_version_lacks_the_documents_lack_too(version):
    """An operation missing from a row makes the modules refuse before sending: only right when the
    documents of that version do not have it either."""
    _prefix, paths = documents(version)
    by_template = dict((_template(p), ops) for p, ops in paths.items())
    for operation, path in YEAR_PATHS.items():
        if api.serves(version, operation):
            continue
        ops = by_template.get(path, {})
        assert not any(m in ops for m in METHODS[operation]), '%s has %s %s' % (version, METHODS[operation], path)


def _schema(name):
    return _load('isc-v2025-password.json')['components']['schemas'][name]


TYPES = {'int': 'integer', 'bool': 'boolean', 'str': 'string'}


def test_policy_options_cover_every_writable_field_of_the_dto():
    properties = _schema('PasswordPolicyV3Dto')['properties']
    managed_apart = {'name', 'sourceIds'}
    writable = set(properties) - set(pc.POLICY_READ_ONLY) - managed_apart
    assert set(field for _option, field, _kind in pc.POLICY_FIELDS) == writable
    for option, field, kind in pc.POLICY_FIELDS:
        assert properties[field]['type'] == TYPES[kind], option
        assert option == re.sub(r'(?<!^)(?=[A-Z])', '_', field).lower(), 'option %s is not the snake_case of %s' % (option, field)


def test_org_config_options_are_the_schema():
    properties = _schema('PasswordOrgConfig')['properties']
    assert set(field for _option, field, _kind in pc.ORG_CONFIG_FIELDS) == set(properties)
    for option, field, kind in pc.ORG_CONFIG_FIELDS:
        assert properties[field]['type'] == TYPES[kind], option
        if option in pc.ORG_CONFIG_RANGES:
            assert pc.ORG_CONFIG_RANGES[option] == (properties[field]['minimum'], properties[field]['maximum'])
