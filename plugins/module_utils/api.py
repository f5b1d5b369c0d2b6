# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ISC API as this collection calls it: versions and the path of each operation, the terminal
states of a password change, the tenant root, and the defaults of the connection options.

A new API version is one row of API_LAYOUTS; everything that asks which version serves what
(operation_path, serves, experimental, API_VERSIONS) reads that table.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re
from urllib.parse import quote, urlsplit

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import CACHE_ROOT
# the operation names are imported from here (OP_TOKEN only re-exported: its path is TOKEN_PATH)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operation_names import (  # pylint: disable=unused-import
    OP_DICTIONARY,
    OP_DIGIT,
    OP_ACCOUNT_RELOAD,
    OP_ACCOUNTS,
    OP_MACHINE_ACCOUNTS,
    OP_ORG_CONFIG,
    OP_POLICIES,
    OP_POLICY,
    OP_QUERY,
    OP_SEARCH,
    OP_SET,
    OP_SOURCE_POLICIES,
    OP_SOURCE_POLICIES_UPDATE,
    OP_SOURCES,
    OP_STATUS,
    OP_SYNC_GROUP,
    OP_SYNC_GROUPS,
    OP_TOKEN,
    OP_SOURCE,
    OP_CHECK_CONNECTION,
    OP_TEST_CONFIGURATION,
)

# galaxy.yml's version (test_api.py checks that the two agree)
COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'sailpoint_isc.passwords/%s (Ansible)' % COLLECTION_VERSION

# The defaults of the connection options. IscClient, IscClient.from_module and the argument spec take
# them from here; the doc fragment (plugins/doc_fragments/isc.py) states them, checked by test_api.py.
CONNECTION_DEFAULTS = {
    'api_version': 'v2024',
    'validate_certs': True,
    'timeout': 30,
    'rate_limit': 100,
    'rate_window': 10,
    'max_retries': 5,
}
# token_cache has no argument-spec default: unset means this location, false means no cache.
DEFAULT_TOKEN_CACHE = CACHE_ROOT + '/tokens'  # files.expand: under $XDG_CACHE_HOME when set
# Where the rate limiter hands its budget on to the next task of a play, with or without a token cache.
DEFAULT_LIMITER_STATE = CACHE_ROOT + '/limiter'

TOKEN_PATH = '/oauth/token'  # the same for every API version
TERMINAL_STATES = ('FINISHED', 'FAILED')  # the states of a password change that do not change any more
SOURCE_FILTER_CHUNK = 50  # ids per `id in (...)` filter of one sources request
PAGE_LIMIT = 250  # the largest page ISC serves on its lists (limit/offset): policies, sync groups, sources, accounts
SOURCE_PAGE_LIMIT = PAGE_LIMIT


def client_arguments(params):
    """IscClient's keyword arguments from the connection options of a module (unset ones get their defaults)."""
    cache = params.get('token_cache')
    if cache is None:
        cache = DEFAULT_TOKEN_CACHE
    elif isinstance(cache, bool) or str(cache).strip().lower() in ('', 'false', 'no', 'off', '0', 'none'):
        cache = DEFAULT_TOKEN_CACHE if cache is True else None
    defaults = CONNECTION_DEFAULTS
    return dict(
        client_id=params.get('client_id'), client_secret=params.get('client_secret'),
        access_token=params.get('access_token'), api_version=params.get('api_version') or defaults['api_version'],
        validate_certs=params.get('validate_certs', defaults['validate_certs']), ca_path=params.get('ca_path'),
        timeout=params.get('timeout') or defaults['timeout'], rate_limit=params.get('rate_limit') or defaults['rate_limit'],
        rate_window=params.get('rate_window') or defaults['rate_window'],
        max_retries=params.get('max_retries') if params.get('max_retries') is not None else defaults['max_retries'],
        token_cache=cache)


def _under(prefix, without=()):
    """The paths of the versions that put the version first (/v2024/set-password), minus ``without``."""
    paths = {
        OP_QUERY: '/query-password-info',
        OP_SET: '/set-password',
        OP_STATUS: '/password-change-status/%s',
        OP_DIGIT: '/generate-password-reset-token/digit',
        OP_SYNC_GROUPS: '/password-sync-groups',
        OP_SYNC_GROUP: '/password-sync-groups/%s',
        OP_SOURCES: '/sources',
        OP_POLICIES: '/password-policies',
        OP_POLICY: '/password-policies/%s',
        OP_DICTIONARY: '/password-dictionary',
        OP_ORG_CONFIG: '/password-org-config',
        OP_SOURCE_POLICIES: '/sources/%s/password-policies',
        OP_SOURCE_POLICIES_UPDATE: '/sources/%s/password-policies',
    }
    return dict((op, prefix + path) for op, path in paths.items() if op not in without)


# Where SailPoint's documents require the X-SailPoint-Experimental header: the digit token and the password
# policies on the year versions and v1 (not on v3 or beta, where the digit token is not experimental either).
_EXPERIMENTAL = (OP_DIGIT, OP_POLICIES, OP_POLICY)

# One row per API version, in the order the messages list them. ``paths``: the path of each operation
# below the tenant root (``%s`` is the id in the path); an operation missing from a row is not served by
# that version. ``experimental``: the operations that need the X-SailPoint-Experimental header there.
API_LAYOUTS = {
    'v2024': {'paths': _under('/v2024', without=(OP_SOURCE_POLICIES,)), 'experimental': _EXPERIMENTAL},
    'v2025': {'paths': _under('/v2025'), 'experimental': _EXPERIMENTAL},
    'v3': {'paths': _under('/v3', without=(OP_DIGIT, OP_SOURCE_POLICIES, OP_SOURCE_POLICIES_UPDATE)),
           'experimental': ()},
    'beta': {'paths': _under('/beta', without=(OP_SOURCE_POLICIES, OP_SOURCE_POLICIES_UPDATE)), 'experimental': ()},
    'v1': {'paths': {OP_QUERY: '/query-password-info/v1', OP_SET: '/set-password/v1',
                     OP_STATUS: '/password-change-status/v1/%s', OP_DIGIT: '/generate-password-reset-token/v1/digit',
                     OP_SYNC_GROUPS: '/password-sync-groups/v1', OP_SYNC_GROUP: '/password-sync-groups/v1/%s',
                     OP_SOURCES: '/sources/v1', OP_POLICIES: '/password-policies/v1',
                     OP_POLICY: '/password-policies/v1/%s', OP_DICTIONARY: '/password-dictionary/v1',
                     OP_ORG_CONFIG: '/password-org-config/v1',
                     OP_SOURCE_POLICIES: '/sources/v1/%s/password-policies',
                     OP_SOURCE_POLICIES_UPDATE: '/sources/v1/%s/password-policies',
                     # a source's connector (issue 28): only the v1 sources document is vendored to check it
                     OP_SOURCE: '/sources/v1/%s', OP_CHECK_CONNECTION: '/sources/v1/%s/connector/check-connection',
                     OP_TEST_CONFIGURATION: '/sources/v1/%s/connector/test-configuration',
                     OP_SEARCH: '/search/v1', OP_ACCOUNTS: '/accounts/v1', OP_ACCOUNT_RELOAD: '/accounts/v1/%s/reload',
                     OP_MACHINE_ACCOUNTS: '/machine-accounts/v1'},
           'experimental': _EXPERIMENTAL + (OP_MACHINE_ACCOUNTS,)},
}
API_VERSIONS = tuple(API_LAYOUTS)

# How messages call an operation a version does not serve ("has no digit-token operation").
_OPERATION_WORDS = {OP_DIGIT: 'digit-token', OP_SOURCE_POLICIES: 'read-the-policy-holders',
                    OP_SOURCE_POLICIES_UPDATE: 'policy-holders'}

_VERSION_SEGMENT = re.compile(r'^(v\d+|beta|cc)$', re.IGNORECASE)
_TENANT = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]*$')


def check_api_version(api_version):
    """Raise IscError with the choices unless API_LAYOUTS has a row for api_version."""
    if api_version not in API_LAYOUTS:
        raise IscError('api_version %r is not supported; use one of %s'
                       % (api_version, ', '.join(API_VERSIONS)))


def serves(api_version, operation):
    """Whether api_version has the operation (False for an unknown version)."""
    return operation in API_LAYOUTS.get(api_version, {}).get('paths', {})


def experimental(api_version, operation):
    """Whether the operation needs the X-SailPoint-Experimental header on api_version."""
    return operation in API_LAYOUTS.get(api_version, {}).get('experimental', ())


def operation_path(api_version, operation, request_id=None):
    """The path (below the tenant root) of one operation for one API layout."""
    check_api_version(api_version)
    paths = API_LAYOUTS[api_version]['paths']
    if operation not in paths:
        serving = [version for version in API_VERSIONS if serves(version, operation)]
        choices = ', '.join(serving[:-1]) + ' or ' + serving[-1] if len(serving) > 1 else ''.join(serving)
        raise IscError('%s: api_version %s has no %s operation; use api_version %s'
                       % (operation, api_version, _OPERATION_WORDS.get(operation, operation), choices),
                       operation=operation)
    path = paths[operation]
    if '%s' in path:
        path = path % quote(str(request_id), safe='')
    return path


def normalize_base_url(base_url=None, tenant=None):
    """Return the tenant API root (no trailing slash) or raise IscError with the fix."""
    if base_url and tenant:
        raise IscError('base_url and tenant are mutually exclusive: give one of them')
    if tenant:
        tenant = tenant.strip()
        if not _TENANT.match(tenant):
            raise IscError('tenant %r is not a tenant name (letters, digits and dashes, e.g. "acme"); '
                           'give the full URL in base_url instead' % tenant)
        return 'https://%s.api.identitynow.com' % tenant
    if not base_url:
        raise IscError('no ISC connection: set base_url (or the SAIL_BASE_URL environment variable) '
                       'or tenant')
    url = base_url.strip().rstrip('/')
    m = re.match(r'^(https?)://([^/\s?#]+)(/[^?#\s]*)?$', url, re.IGNORECASE)
    if not m:
        raise IscError('base_url %r is malformed: give the tenant API root, e.g. '
                       'https://acme.api.identitynow.com' % base_url)
    path = m.group(3) or ''
    last = path.rstrip('/').rsplit('/', 1)[-1] if path else ''
    if last and _VERSION_SEGMENT.match(last):
        raise IscError('base_url %r ends with the API version segment /%s: give the tenant root '
                       '(e.g. %s) and choose the version with api_version'
                       % (base_url, last, url[:-(len(last) + 1)]))
    return url


def _is_loopback_host(host):
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1), where plain http stays on this machine."""
    host = (host or '').rstrip('.').lower()
    if host == 'localhost':
        return True
    try:
        address = ipaddress.ip_address(host.split('%', 1)[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def plain_http_warning(base_url):
    """The warning for a plain http:// tenant root anywhere but on this machine (the local simulator), or None."""
    parts = urlsplit(base_url)
    if parts.scheme.lower() != 'http' or _is_loopback_host(parts.hostname):
        return None
    return ('base_url %s uses plain http://: the client secret, the access tokens and the encrypted passwords '
            'travel unencrypted to %s, where anyone on the path can read them or swap the public key the '
            'passwords are encrypted with; use https:// (also towards a TLS-terminating proxy)'
            % (base_url, parts.hostname))


def filter_string(value):
    """A value as a string literal of ISC's filter syntax: double quotes, backslash escapes."""
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
