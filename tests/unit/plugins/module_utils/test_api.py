# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API layout table, and the facts api.py holds once that others state too: galaxy.yml's version,
the doc fragment's defaults and the argument spec."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.doc_fragments.isc import ModuleDocFragment
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import api, auth
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import connection_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
OPTIONS = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']


def test_collection_version_is_galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        galaxy = yaml.safe_load(handle)
    assert api.COLLECTION_VERSION == galaxy['version']
    assert api.USER_AGENT == 'sailpoint_isc.passwords/%s (Ansible)' % galaxy['version']


@pytest.mark.parametrize('name', sorted(api.CONNECTION_DEFAULTS))
def test_doc_fragment_states_each_default(name):
    assert OPTIONS[name]['default'] == api.CONNECTION_DEFAULTS[name]


def test_doc_fragment_states_versions_token_cache_and_refresh_margin():
    assert OPTIONS['api_version']['choices'] == list(api.API_VERSIONS)
    assert 'default' not in OPTIONS['token_cache']
    token_cache = ' '.join(OPTIONS['token_cache']['description'])
    assert 'C(%s)' % api.DEFAULT_TOKEN_CACHE in token_cache
    assert 'less than %d seconds of its life remain' % auth.TOKEN_REFRESH_MARGIN in token_cache
    assert 'C(%s)' % api.DEFAULT_LIMITER_STATE in ' '.join(OPTIONS['rate_limit']['description'])


def test_argument_spec_defaults_are_the_api_defaults():
    spec = connection_argument_spec()
    for name, value in api.CONNECTION_DEFAULTS.items():
        assert spec[name]['default'] == value, name
    assert spec['api_version']['choices'] == list(api.API_VERSIONS)
    assert 'default' not in spec['token_cache']


def test_default_version_is_a_row():
    assert api.CONNECTION_DEFAULTS['api_version'] in api.API_VERSIONS
    assert api.API_VERSIONS == tuple(api.API_LAYOUTS)


OPERATIONS = (api.OP_QUERY, api.OP_SET, api.OP_STATUS, api.OP_DIGIT, api.OP_SYNC_GROUPS, api.OP_SOURCES,
              api.OP_SYNC_GROUP, api.OP_POLICIES, api.OP_POLICY, api.OP_DICTIONARY, api.OP_ORG_CONFIG,
              api.OP_SOURCE_POLICIES, api.OP_SOURCE_POLICIES_UPDATE,
              api.OP_SOURCE, api.OP_CHECK_CONNECTION, api.OP_TEST_CONFIGURATION)


def _year(v, digit=True, holders_get=True, holders_patch=True):
    """The paths of a version that puts its name first, as SailPoint's documents list them."""
    return ('/%s/query-password-info' % v, '/%s/set-password' % v, '/%s/password-change-status/r%%201' % v,
            '/%s/generate-password-reset-token/digit' % v if digit else None, '/%s/password-sync-groups' % v,
            '/%s/sources' % v, '/%s/password-sync-groups/r%%201' % v, '/%s/password-policies' % v,
            '/%s/password-policies/r%%201' % v, '/%s/password-dictionary' % v, '/%s/password-org-config' % v,
            '/%s/sources/r%%201/password-policies' % v if holders_get else None,
            '/%s/sources/r%%201/password-policies' % v if holders_patch else None,
            None, None, None)  # a source's connector: v1 only


PATHS = {
    'v2024': _year('v2024', holders_get=False),
    'v2025': _year('v2025'),
    'v3': _year('v3', digit=False, holders_get=False, holders_patch=False),
    'beta': _year('beta', holders_get=False, holders_patch=False),
    'v1': ('/query-password-info/v1', '/set-password/v1', '/password-change-status/v1/r%201',
           '/generate-password-reset-token/v1/digit', '/password-sync-groups/v1', '/sources/v1',
           '/password-sync-groups/v1/r%201', '/password-policies/v1', '/password-policies/v1/r%201',
           '/password-dictionary/v1', '/password-org-config/v1', '/sources/v1/r%201/password-policies',
           '/sources/v1/r%201/password-policies', '/sources/v1/r%201',
           '/sources/v1/r%201/connector/check-connection', '/sources/v1/r%201/connector/test-configuration'),
}


@pytest.mark.parametrize('version', sorted(PATHS))
def test_operation_paths_and_what_each_version_serves(version):
    assert set(PATHS) == set(api.API_VERSIONS)
    for operation, path in zip(OPERATIONS, PATHS[version]):
        assert api.serves(version, operation) is (path is not None), operation
        if path is not None:
            assert api.operation_path(version, operation, 'r 1') == path


def test_unserved_operation_fails_with_the_versions_that_serve_it():
    with pytest.raises(IscError) as e:
        api.operation_path('v3', api.OP_DIGIT)
    assert str(e.value) == ('generate-digit-token: api_version v3 has no digit-token operation; '
                            'use api_version v2024, v2025, beta or v1')
    assert e.value.operation == api.OP_DIGIT


def test_unknown_version():
    assert not api.serves('v9', api.OP_QUERY)
    with pytest.raises(IscError, match="api_version 'v9' is not supported; use one of v2024, v2025, v3, beta, v1"):
        api.operation_path('v9', api.OP_QUERY)


def test_experimental_header_per_version():
    for operation in (api.OP_DIGIT, api.OP_POLICIES, api.OP_POLICY):
        assert [v for v in api.API_VERSIONS if api.experimental(v, operation)] == ['v2024', 'v2025', 'v1']
    for operation in set(OPERATIONS) - {api.OP_DIGIT, api.OP_POLICIES, api.OP_POLICY}:
        assert not any(api.experimental(v, operation) for v in api.API_VERSIONS), operation
