"""Helpers shared by the simulator tests."""

import base64
import copy
import json
import os
import time

import requests
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENAPI_DIR = os.environ.get('ISC_OPENAPI_DIR') or os.path.join(os.path.dirname(REPO), 'shared', 'isc-openapi')
CLIENT = ('demo-client-id', 'demo-client-secret')
PAT = ('demo-pat-id', 'demo-pat-secret')
USER_PAT = ('demo-user-pat-id', 'demo-user-pat-secret')   # PAT of Carl.Jones, who is not an ORG_ADMIN

SPEC_FILES = {
    'v2024': 'isc-v2024-password.json',
    'v3': 'isc-v3-password.json',
    'beta': 'isc-beta-password.json',
    'v1': 'isc-v1-password-management.json',
    'v2025': 'isc-v2025-password.json',
}
# The password-configuration resources: per-resource v1 documents (year versions use SPEC_FILES)
CONFIG_V1_FILES = {
    'password-policies': 'isc-v1-password-policies.json',
    'password-sync-groups': 'isc-v1-password-sync-groups.json',
    'password-dictionary': 'isc-v1-password-dictionary.json',
    'password-org-config': 'isc-v1-password-configuration.json',
    'sources': 'isc-v1-sources-password.json',
}
# operation -> (method, path in the year-versioned specs, path in the v1 spec)
SPEC_PATHS = {
    'query_password_info': ('post', '/query-password-info', '/query-password-info/v1'),
    'set_password': ('post', '/set-password', '/set-password/v1'),
    'password_change_status': ('get', '/password-change-status/{id}', '/password-change-status/v1/{id}'),
    'digit_token': ('post', '/generate-password-reset-token/digit', '/generate-password-reset-token/v1/digit'),
    'sync_groups': ('get', '/password-sync-groups', None),
    'sync_group': ('get', '/password-sync-groups/{id}', None),
}


def wait_terminal(api, request_id, timeout=5.0):
    """The status of a change request once it is no longer IN_PROGRESS (or as it is after timeout seconds)."""
    deadline = time.time() + timeout
    while True:
        body = api.status(request_id).json()
        if body['state'] != 'IN_PROGRESS' or time.time() > deadline:
            return body
        time.sleep(0.05)


def encrypt(public_key_b64, password):
    key = load_der_public_key(base64.b64decode(public_key_b64))
    return base64.b64encode(key.encrypt(password.encode('utf-8'), padding.PKCS1v15())).decode('ascii')


def api_path(version, operation, ident=None):
    _method, year_path, v1_path = SPEC_PATHS[operation]
    path = '/' + version + year_path if version != 'v1' else v1_path
    return path.replace('{id}', ident) if ident is not None else path


class Api:
    """A tiny ISC client used by the tests."""

    def __init__(self, base_url, client=CLIENT, version='v2024', verify=True):
        self.base_url = base_url
        self.client = client
        self.version = version
        self.session = requests.Session()
        self.verify = verify  # passed per request: a CA-bundle environment variable would override session.verify
        self.token = None

    def get_token(self, client=None):
        client = client or self.client
        resp = self.session.post(self.base_url + '/oauth/token', timeout=10, verify=self.verify,
                                 data={'grant_type': 'client_credentials', 'client_id': client[0], 'client_secret': client[1]})
        resp.raise_for_status()
        self.token = resp.json()['access_token']
        return resp.json()

    def call(self, method, path, body=None, headers=None, raw=None, auth=True, **kwargs):
        if auth and self.token is None:
            self.get_token()
        hdrs = {'Authorization': 'Bearer %s' % self.token} if auth else {}
        hdrs.update(headers or {})
        if raw is not None:
            hdrs.setdefault('Content-Type', 'application/json')
            return self.session.request(method, self.base_url + path, data=raw, headers=hdrs, timeout=30, verify=self.verify,
                                        **kwargs)
        return self.session.request(method, self.base_url + path, json=body, headers=hdrs, timeout=30, verify=self.verify,
                                    **kwargs)

    def query(self, user='Abby.Smith', source='My-AD', version=None, **kwargs):
        return self.call('POST', api_path(version or self.version, 'query_password_info'),
                         {'userName': user, 'sourceName': source}, **kwargs)

    def info(self, user='Abby.Smith', source='My-AD'):
        resp = self.query(user, source)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def set_password(self, password, user='Abby.Smith', source='My-AD', account=0, version=None, info=None, **overrides):
        info = info or self.info(user, source)
        body = {'identityId': info['identityId'], 'sourceId': info['sourceId'], 'publicKeyId': info['publicKeyId'],
                'accountId': info['accounts'][account]['accountId'],
                'encryptedPassword': encrypt(info['publicKey'], password)}
        body.update(overrides)
        return self.call('POST', api_path(version or self.version, 'set_password'), body)

    def status(self, request_id, version=None):
        return self.call('GET', api_path(version or self.version, 'password_change_status', request_id))

    def digit(self, body, version=None, experimental=True):
        headers = {'X-SailPoint-Experimental': 'true'} if experimental else {}
        return self.call('POST', api_path(version or self.version, 'digit_token'), body, headers=headers)

    def sim(self, method, path, body=None):
        resp = self.session.request(method, self.base_url + '/__sim/' + path, json=body, timeout=10, verify=self.verify)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def accounts(self, **filters):
        query = '&'.join('%s=%s' % kv for kv in filters.items())
        return self.sim('GET', 'accounts' + ('?' + query if query else ''))['accounts']


# -- OpenAPI schema handling -----------------------------------------------------------------------

_SPECS = {}


def load_spec(version):
    path = os.path.join(OPENAPI_DIR, SPEC_FILES[version])
    if path not in _SPECS:
        with open(path, encoding='utf-8') as handle:
            _SPECS[path] = json.load(handle)
    return _SPECS[path]


def _resolve(doc, node):
    if isinstance(node, dict):
        if '$ref' in node:
            target = doc
            for part in node['$ref'].lstrip('#/').split('/'):
                target = target[part]
            return _resolve(doc, target)
        return {k: _resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v) for v in node]
    return node


def to_json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema (nullable, example(s) dropped)."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ('example', 'examples', 'nullable', 'xml')}
    if node.get('nullable'):
        if 'type' in out:
            out['type'] = [out['type'], 'null'] if isinstance(out['type'], str) else list(out['type']) + ['null']
        if 'enum' in out and None not in out['enum']:
            out['enum'] = list(out['enum']) + [None]
    return out


def operation_spec(version, operation):
    method, year_path, v1_path = SPEC_PATHS[operation]
    doc = load_spec(version)
    path = v1_path if version == 'v1' else year_path
    return doc, copy.deepcopy(doc['paths'][path][method])


def response_schema(version, operation, status):
    """Return (listed status codes, JSON schema of the body for ``status`` or None)."""
    doc, op = operation_spec(version, operation)
    responses = op['responses']
    listed = set(responses)
    if str(status) not in responses:
        return listed, None
    resp = _resolve(doc, responses[str(status)])
    schema = resp.get('content', {}).get('application/json', {}).get('schema')
    return listed, to_json_schema(schema) if schema is not None else None


def config_template(version, resource, with_id=False):
    """The spec's path of a configuration resource: ``/password-policies/{id}`` or ``/password-policies/v1/{id}``;
    resource ``holders`` is ``/sources/{sourceId}/password-policies``."""
    if resource == 'holders':
        return '/sources/{sourceId}/password-policies' if version != 'v1' else '/sources/v1/{sourceId}/password-policies'
    return '/' + resource + ('/v1' if version == 'v1' else '') + ('/{id}' if with_id else '')


def config_path(version, resource, ident=None):
    """The URL path of a configuration resource (``ident``: the policy/group id or, for holders, the source id)."""
    path = config_template(version, resource, ident is not None or resource == 'holders')
    path = path.replace('{id}', ident or '').replace('{sourceId}', ident or '')
    return path if version == 'v1' else '/' + version + path


def config_operation(version, resource, method, with_id=False):
    """(document, operation object with $refs resolved) of a configuration operation."""
    name = CONFIG_V1_FILES['sources' if resource == 'holders' else resource] if version == 'v1' else SPEC_FILES[version]
    path = os.path.join(OPENAPI_DIR, name)
    if path not in _SPECS:
        with open(path, encoding='utf-8') as handle:
            _SPECS[path] = json.load(handle)
    doc = _SPECS[path]
    return doc, _resolve(doc, doc['paths'][config_template(version, resource, with_id)][method.lower()])
