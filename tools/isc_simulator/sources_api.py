"""A source's own connector configuration: GET and JSON-Patch one source, check-connection, test-configuration.

The seed's top-level ``connectors:`` list gives sources their ``connectorAttributes``. A source logs on to its
*target system* with the user name and password its configuration holds; the simulated target system is the
accounts of a seeded source (``target``, by default the source itself: an LDAP source's bind account is an
account of that directory). check-connection answers SUCCESS only when the configured user name is the
account id or name of a live account there and the configured password is that account's password now
(set-password changes it). A password is never kept or shown in plain text: it is kept as its SHA-256 (the
simulator's account hashes are SHA-256 too) and shown as cipher-text, as ISC does. A Credential Provider
reference (``secrets://vault/path/key``) is kept as written and resolved from the connector's
``vault_values`` (reference -> password, seed only).

Seed format::

    connectors:
      - source: Corp-LDAP
        type: LDAP                         # the source's ``type``
        target: Corp-LDAP                  # where the bind accounts live (default: the source)
        user_attribute: user               # which connectorAttributes hold the credential (defaults)
        password_attribute: password
        attributes: {host: ..., user: "uid=svc,...", password: "..."}
"""

import copy
import hashlib
import hmac
import json
import secrets
import time

from .seed import sha256_hex
from .state import Reply, bad_request, not_found

OPERATIONS = ('source', 'source_update', 'check_connection', 'test_configuration')
IMMUTABLE = ('id', 'type', 'authoritative', 'created', 'modified', 'connector', 'connectorClass', 'passwordPolicies')
VAULT_PREFIX = 'secrets://'
CREATED = '2023-03-16T04:00:00Z'


def _is_secret_name(name):
    return 'password' in name.lower() or 'secret' in name.lower()


def _unescape(token):
    return token.replace('~1', '/').replace('~0', '~')


def _split(pointer):
    if pointer == '':
        return []
    if not isinstance(pointer, str) or not pointer.startswith('/'):
        raise ValueError('%r is not a JSON Pointer (it must start with "/")' % (pointer,))
    return [_unescape(t) for t in pointer[1:].split('/')]


def _parent(doc, tokens):
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ValueError('path /%s does not exist' % '/'.join(tokens))
    return node


def _get(doc, tokens):
    node = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(node, dict) and last in node:
        return node[last]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        return node[int(last)]
    raise ValueError('path /%s does not exist' % '/'.join(tokens))


def _add(doc, tokens, value):
    node = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and (last == '-' or (last.isdigit() and int(last) <= len(node))):
        node.insert(len(node) if last == '-' else int(last), value)
    else:
        raise ValueError('cannot add at /%s' % '/'.join(tokens))


def _remove(doc, tokens):
    _get(doc, tokens)
    node = _parent(doc, tokens)
    if isinstance(node, dict):
        return node.pop(tokens[-1])
    return node.pop(int(tokens[-1]))


def apply_patch(doc, operations):
    """RFC 6902 on a copy of ``doc``; raises ValueError (nothing applied) on any bad or failed operation."""
    doc = copy.deepcopy(doc)
    if not isinstance(operations, list):
        raise ValueError('the body must be a JSON array of patch operations')
    for n, op in enumerate(operations):
        if not isinstance(op, dict) or not isinstance(op.get('op'), str) or not isinstance(op.get('path'), str):
            raise ValueError('operation %d must be an object with "op" and "path"' % n)
        kind, tokens = op['op'], _split(op['path'])
        if not tokens:
            raise ValueError('operation %d: the whole source cannot be replaced by a patch' % n)
        moved = _split(op['from']) if kind in ('move', 'copy') and isinstance(op.get('from'), str) else None
        for where in (tokens,) + ((moved,) if kind == 'move' and moved else ()):
            if where and where[0] in IMMUTABLE:
                raise ValueError('operation %d: /%s is immutable' % (n, where[0]))
        if kind in ('add', 'replace', 'test') and 'value' not in op:
            raise ValueError('operation %d (%s) needs a "value"' % (n, kind))
        if kind == 'add':
            _add(doc, tokens, copy.deepcopy(op['value']))
        elif kind == 'replace':
            _remove(doc, tokens)
            _add(doc, tokens, copy.deepcopy(op['value']))
        elif kind == 'remove':
            _remove(doc, tokens)
        elif kind == 'test':
            if _get(doc, tokens) != op['value']:
                raise ValueError('operation %d: test of %s failed' % (n, op['path']))
        elif kind in ('move', 'copy'):
            if moved is None:
                raise ValueError('operation %d (%s) needs a "from" JSON Pointer' % (n, kind))
            value = _remove(doc, moved) if kind == 'move' else copy.deepcopy(_get(doc, moved))
            _add(doc, tokens, value)
        else:
            raise ValueError('operation %d: unknown op %r (add, remove, replace, move, copy, test)' % (n, kind))
    return doc


class Connector:
    """One source's mutable configuration; secret attributes are held as (hash, cipher-text)."""

    def __init__(self, source, spec, key):
        self.source = source
        self.key = key
        self.type = str(spec.get('type') or 'Generic')
        self.target = spec.get('target') or source.name
        self.user_attribute = spec.get('user_attribute', 'user')
        self.password_attribute = spec.get('password_attribute', 'password')
        self.vault_values = {str(k): str(v) for k, v in (spec.get('vault_values') or {}).items()}
        self.description = spec.get('description', '%s source' % self.type)
        self.hashes = {}  # cipher-text -> SHA-256 of the password it stands for
        self.attributes = self._protect(dict(spec.get('attributes') or {}), {})
        self.modified = CREATED

    def _cipher(self, password):
        mac = hmac.new(self.key, password.encode('utf-8'), hashlib.sha256).hexdigest()
        return '2:ENC:' + mac[:40]

    def _protect(self, attributes, before):
        """Replace every new plain-text secret value with its cipher-text (kept values stay as they are)."""
        for name, value in attributes.items():
            if _is_secret_name(name) and isinstance(value, str) and not value.startswith(VAULT_PREFIX):
                if value in self.hashes and before.get(name) == value:
                    continue  # unchanged cipher-text
                cipher = self._cipher(value)
                self.hashes[cipher] = sha256_hex(value)
                attributes[name] = cipher
        return attributes

    def document(self):
        source = self.source
        vault = any(isinstance(v, str) and v.startswith(VAULT_PREFIX) for v in self.attributes.values())
        return {
            'id': source.id, 'name': source.name, 'description': self.description, 'owner': None,
            'type': self.type, 'connector': self.type.lower().replace(' ', '-'),
            'connectorClass': 'sailpoint.connector.%sConnector' % self.type.replace(' ', ''),
            'connectorAttributes': copy.deepcopy(self.attributes), 'features': ['PASSWORD', 'AUTHENTICATE'],
            'authoritative': False, 'healthy': True, 'status': 'SOURCE_STATE_HEALTHY', 'connectionType': 'direct',
            'credentialProviderEnabled': vault, 'category': 'CredentialProvider' if vault else None,
            'created': CREATED, 'modified': self.modified,
        }

    def patch(self, operations):
        doc = apply_patch(self.document(), operations)
        attributes = doc.get('connectorAttributes')
        if not isinstance(attributes, dict):
            raise ValueError('/connectorAttributes must stay an object')
        self.attributes = self._protect(attributes, self.attributes)
        if isinstance(doc.get('description'), str):
            self.description = doc['description']
        self.modified = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        return self.document()

    def bind(self, world):
        """(True, detail) when the configured credential logs on to a live account of the target system."""
        user = self.attributes.get(self.user_attribute)
        stored = self.attributes.get(self.password_attribute)
        if not isinstance(user, str) or not isinstance(stored, str):
            return False, 'no user name or password is configured'
        if stored.startswith(VAULT_PREFIX):
            plain = self.vault_values.get(stored)
            if plain is None:
                return False, 'the credential provider has no value for %s' % stored
            digest = sha256_hex(plain)
        else:
            digest = self.hashes.get(stored)
        target = world.sources.get(self.target)
        for account in world.accounts:
            if account.source is target and user in (account.account_id, account.account_name):
                if digest is not None and hmac.compare_digest(digest, account.password_hash):
                    return True, user
                return False, 'invalid credentials for %s' % user
        return False, 'no such user %s on %s' % (user, self.target)


class SourceConnectors:
    """The connectors of every seeded source (a source without a ``connectors:`` entry has no credential)."""

    def __init__(self, world, seed_data):
        self.world = world
        self.seed_data = seed_data
        self.key = secrets.token_bytes(32)
        self.reset()

    def reset(self):
        specs = {c.get('source'): c for c in (self.seed_data.get('connectors') or []) if isinstance(c, dict)}
        for name in specs:
            if name not in self.world.sources:
                raise ValueError('connectors: unknown source %r' % name)
        self.by_id = {s.id: Connector(s, specs.get(s.name, {}), self.key) for s in self.world.sources.values()}

    def live(self, source_id):
        """The connector of source_id while the source exists (a world move may delete it; reset brings it back)."""
        return self.by_id.get(source_id) if source_id in self.world.sources_by_id else None


def sim_view(state):
    """GET /__sim/connectors: per source the configured user, whether it logs on now (no faults), and the changes."""
    state.settle()
    with state.lock:
        out = []
        for connector in state.connectors.by_id.values():
            if state.connectors.live(connector.source.id) is None:
                continue
            ok, detail = connector.bind(state.world)
            out.append({'sourceId': connector.source.id, 'sourceName': connector.source.name,
                        'user': connector.attributes.get(connector.user_attribute), 'connects': ok, 'detail': detail,
                        'modified': connector.modified})
        return {'connectors': out}


def status_response(connector, ok, detail, started):
    return {'id': connector.source.id, 'name': connector.source.name, 'status': 'SUCCESS' if ok else 'FAILURE',
            'elapsedMillis': int((time.monotonic() - started) * 1000), 'details': {'message': detail}}


def handle(state, operation, ident, body, headers, faults, roll):
    """Answer one of OPERATIONS for source ``ident``; ``roll(rate)`` decides a fault (faults.py)."""
    started = time.monotonic()
    with state.lock:
        connector = state.connectors.live(ident)
        if connector is None:
            return not_found('Source %s was not found.' % ident)
        if operation == 'source':
            return Reply(200, connector.document())
        if operation == 'source_update':
            ctype = (headers.get('Content-Type') or '').split(';')[0].strip().lower()
            if ctype != 'application/json-patch+json':
                # 400, not 415: the document lists no 415 for this operation
                return bad_request('PATCH of a source needs Content-Type application/json-patch+json.')
            try:
                return Reply(200, connector.patch(json.loads(body.decode('utf-8')) if body else None))
            except (ValueError, UnicodeDecodeError) as exc:
                return bad_request(str(exc))
        ok, detail = connector.bind(state.world)
        user = connector.attributes.get(connector.user_attribute)
        if ok and (roll(faults.get('fail_rate')) or user in (faults.get('fail_users') or ())):
            ok, detail = False, 'the connector could not reach the target system (simulated fault)'
        return Reply(200, status_response(connector, ok, detail, started))
