"""Seed data of the ISC simulator: load the YAML description and build the in-memory world."""

import hashlib
import os

import yaml

from .authz import client_rights
from .policy import normalize_policy

DEFAULT_SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seed.yaml')
BULK_PREFIX = 'svc-bulk-'
DEFAULT_FEATURES = ('AUTHENTICATE', 'PROVISIONING', 'PASSWORD', 'SEARCH')  # a source's features unless the seed says


def derived_id(kind, name):
    """A stable 32-hex id for an object without an explicit id in the seed."""
    return hashlib.md5(('%s:%s' % (kind, name)).encode('utf-8'), usedforsecurity=False).hexdigest()


def sha256_hex(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


class Source:
    def __init__(self, name, source_id, policy, account_id_template, applications):
        self.name = name
        self.id = source_id
        self.own_policy = policy
        self.policy = policy
        self.has_policy = False     # the seed gave it a ``policy:`` (it gets a policy object of its own)
        self.account_id_template = account_id_template
        self.applications = applications
        self.sync_group = None
        self.features = list(DEFAULT_FEATURES)  # GET /sources; without PASSWORD discovery calls it unrotatable


class SyncGroup:
    def __init__(self, group_id, name, policy_id, policy, sources, created, modified):
        self.id = group_id
        self.name = name
        self.policy_id = policy_id
        self.policy = policy
        self.sources = sources
        self.created = created
        self.modified = modified

    def to_api(self):
        return {
            'id': self.id,
            'name': self.name,
            'passwordPolicyId': self.policy_id,
            'sourceIds': [s.id for s in self.sources],
            'created': self.created,
            'modified': self.modified,
        }


class Account:
    __slots__ = ('identity', 'source', 'account_id', 'account_name', 'initial_hash', 'password_hash',
                 'last_changed', 'change_count')

    def __init__(self, identity, source, account_id, account_name, password):
        self.identity = identity
        self.source = source
        self.account_id = account_id
        self.account_name = account_name
        self.initial_hash = sha256_hex(password)
        self.password_hash = self.initial_hash
        self.last_changed = None
        self.change_count = 0

    def restore(self):
        self.password_hash = self.initial_hash
        self.last_changed = None
        self.change_count = 0

    def to_sim(self):
        return {
            'identityId': self.identity.id,
            'userName': self.identity.name,
            'sourceId': self.source.id,
            'sourceName': self.source.name,
            'accountId': self.account_id,
            'accountName': self.account_name,
            'passwordSha256': self.password_hash,
            'lastChanged': self.last_changed,
            'changeCount': self.change_count,
        }


class Identity:
    def __init__(self, name, identity_id):
        self.name = name
        self.id = identity_id
        self.accounts = {}  # source id -> [Account]
        self.attributes = {}    # identity attributes (matched by policy-holder selectors)
        self.capabilities = []  # user levels, e.g. ORG_ADMIN (what a PAT of this identity may do)


class ApiClient:
    def __init__(self, client_id, secret, client_type, user):
        self.client_id = client_id
        self.secret = secret
        self.type = client_type
        self.user = user
        self.rights = {'scope': ['sp:scopes:all'], 'levels': None, 'owner': None}  # the seed's: authz.client_rights


class World:
    """Everything the seed defines. Mutated only under the simulator's state lock."""

    def __init__(self):
        self.tenant = {}
        self.clients = {}
        self.sources = {}          # name -> Source
        self.sources_by_id = {}
        self.sync_groups = []
        self.identities = {}       # name -> Identity
        self.identities_by_id = {}
        self.accounts = []

    # -- building -------------------------------------------------------------------------
    def add_source(self, spec):
        name = _req_str(spec, 'name', 'sources[]')
        if name in self.sources:
            raise ValueError('duplicate source %r' % name)
        source = Source(
            name,
            str(spec.get('id') or derived_id('source', name)),
            normalize_policy(spec.get('policy'), 'source %s policy' % name),
            str(spec.get('account_id_template') or '{name}'),
            list(spec.get('applications') or []),
        )
        source.has_policy = spec.get('policy') is not None
        if spec.get('features') is not None:
            source.features = [str(f) for f in spec['features']]
        self.sources[name] = source
        self.sources_by_id[source.id] = source

    def identity(self, name, identity_id=None):
        ident = self.identities.get(name)
        if ident is None:
            ident = Identity(name, str(identity_id or derived_id('identity', name)))
            if ident.id in self.identities_by_id:
                raise ValueError('duplicate identity id %r' % ident.id)
            self.identities[name] = ident
            self.identities_by_id[ident.id] = ident
        return ident

    def add_account(self, ident, source_name, password, account_id=None, account_name=None):
        source = self.sources.get(source_name)
        if source is None:
            raise ValueError('account of %s refers to unknown source %r' % (ident.name, source_name))
        account_name = account_name or ident.name
        account_id = account_id or source.account_id_template.format(name=account_name)
        account = Account(ident, source, str(account_id), str(account_name), str(password))
        ident.accounts.setdefault(source.id, []).append(account)
        self.accounts.append(account)
        return account

    def add_fleet(self, prefix, count, source_names, password_template, width, each_source=False, start=1):
        for number in range(start, start + count):
            name = '%s%0*d' % (prefix, width, number)
            ident = self.identity(name)
            targets = source_names if each_source else [source_names[(number - start) % len(source_names)]]
            for source_name in targets:
                self.add_account(ident, source_name, password_template.format(name=name))

    def find_account(self, ident, source, account_id):
        for account in ident.accounts.get(source.id, []):
            if account.account_id == account_id:
                return account
        return None


def _req_str(spec, key, where):
    value = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError('%s: %r must be a non-empty string' % (where, key))
    return value


def load_seed(path=None):
    path = path or DEFAULT_SEED
    with open(path, encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError('seed %s must be a YAML mapping' % path)
    return data


def build_world(data, fleet_size=0):
    """Build a World from seed data (a dict as loaded from YAML) plus ``fleet_size`` bulk accounts."""
    world = World()
    tenant = dict(data.get('tenant') or {})
    tenant.setdefault('name', 'sim')
    tenant.setdefault('org', tenant['name'])
    tenant.setdefault('pod', 'sim01-local')
    tenant.setdefault('tenant_id', derived_id('tenant', tenant['name']))
    world.tenant = tenant

    for spec in data.get('api_clients') or []:
        client = ApiClient(_req_str(spec, 'client_id', 'api_clients[]'), _req_str(spec, 'client_secret', 'api_clients[]'),
                           spec.get('type', 'client'), spec.get('user'))
        if client.type not in ('client', 'pat'):
            raise ValueError('api client %s: type must be client or pat' % client.client_id)
        client.rights = client_rights(spec, client.type)  # scope and user levels (authz.py)
        world.clients[client.client_id] = client

    for spec in data.get('sources') or []:
        world.add_source(spec)

    build_sync_groups(world, data)

    for spec in data.get('identities') or []:
        ident = world.identity(_req_str(spec, 'name', 'identities[]'), spec.get('id'))
        attributes = spec.get('attributes') or {}
        capabilities = spec.get('capabilities') or []
        if not isinstance(attributes, dict) or not isinstance(capabilities, list):
            raise ValueError('identity %s: attributes must be a mapping and capabilities a list' % ident.name)
        ident.attributes = {str(k): str(v) for k, v in attributes.items()}
        ident.capabilities = [str(c) for c in capabilities]
        for acc in spec.get('accounts') or []:
            world.add_account(ident, _req_str(acc, 'source', 'account of %s' % ident.name),
                              _req_str(acc, 'password', 'account of %s' % ident.name),
                              acc.get('account_id'), acc.get('account_name'))

    fleets = data.get('fleets') or []
    if data.get('fleet'):
        fleets = [data['fleet']] + list(fleets)
    for spec in fleets:
        world.add_fleet(_req_str(spec, 'prefix', 'fleet'), int(spec.get('count', 0)), list(spec['sources']),
                        spec.get('password', 'Init-{name}-Aa1!x'), int(spec.get('width', 3)),
                        bool(spec.get('each_source', False)))

    if fleet_size:
        if not fleets:
            raise ValueError('fleet_size needs a fleet in the seed (its sources are used)')
        main = fleets[0]
        world.add_fleet(main.get('bulk_prefix', BULK_PREFIX), int(fleet_size), list(main['sources']),
                        main.get('password', 'Init-{name}-Aa1!x'), max(5, len(str(fleet_size))))
    return world


def build_sync_groups(world, data):
    """(Re)build the seed's sync groups: every source leaves its group first (used again by a state reset)."""
    for source in world.sources.values():
        source.sync_group = None
        source.policy = source.own_policy
    world.sync_groups = []
    for spec in data.get('sync_groups') or []:
        name = _req_str(spec, 'name', 'sync_groups[]')
        members = []
        for source_name in spec.get('sources') or []:
            source = world.sources.get(source_name)
            if source is None:
                raise ValueError('sync group %s refers to unknown source %r' % (name, source_name))
            if source.sync_group is not None:
                raise ValueError('source %s is in two sync groups' % source_name)
            members.append(source)
        if len(members) < 2:
            raise ValueError('sync group %s needs at least two sources' % name)
        group = SyncGroup(str(spec.get('id') or derived_id('syncgroup', name)), name,
                          str(spec.get('password_policy_id') or derived_id('policy', name)),
                          normalize_policy(spec.get('policy'), 'sync group %s policy' % name), members,
                          spec.get('created'), spec.get('modified', spec.get('created')))
        for source in members:
            source.sync_group = group
            if group.policy:
                source.policy = group.policy
        world.sync_groups.append(group)
