"""Discovery in the ISC simulator: search over the identities index, the accounts list, account reload,
and what ISC's aggregation knows of each account's password (``passwordLastSet``).

The model: every account has a *live* time of its last password change (set when a set-password change is
applied, or by ``/__sim/native-change``, a change made outside ISC) and the time ISC *shows* (the last
aggregation). The shown time catches up with the live one ``aggregation_delay`` seconds after the change,
``reload_delay`` seconds after ``POST /accounts/v1/{id}/reload``, or at once on ``/__sim/aggregate``.
"""

import fnmatch
import hashlib
import re
import time
import uuid
from datetime import datetime, timezone

from .seed import DEFAULT_FEATURES, derived_id, sha256_hex
from .state import Reply, _bool_param, _int_param, bad_request, iso, not_found

SEARCH_LIMIT = 10000          # ISC's largest page and its window without searchAfter
ACCOUNTS_LIMIT = 250
OPERATIONS = ('search', 'accounts', 'account_reload', 'machine_accounts')
SIM_PATHS = ('/__sim/discovery', '/__sim/native-change', '/__sim/aggregate')
DAY = 86400.0


def seed_age_days(name):
    """A stable password age (0-179 days) for a seeded account without ``password_age_days``."""
    return int(hashlib.md5(name.encode('utf-8'), usedforsecurity=False).hexdigest()[:6], 16) % 180


class Record:
    """What discovery knows of one account beyond the seed: ids, flags and the two password times."""
    __slots__ = ('account_uuid', 'supports_change', 'created', 'live', 'shown', 'seen_changes', 'reload_at')

    def __init__(self, account_uuid, supports_change, created, live):
        self.account_uuid = account_uuid
        self.supports_change = supports_change
        self.created = created
        self.live = live
        self.shown = live
        self.seen_changes = 0
        self.reload_at = None


class Discovery:
    """Per-account discovery data of a SimState (guarded by the state's lock)."""

    def __init__(self, state):
        self.state = state
        self.reset()

    def reset(self):
        state = self.state
        now = time.time()
        specs = {}   # (identity name, source name, account name) -> the seed's account spec
        for ident in state.seed_data.get('identities') or []:
            for acc in ident.get('accounts') or []:
                specs[(ident.get('name'), acc.get('source'), acc.get('account_name') or ident.get('name'))] = acc
        self.records = {}
        self.by_uuid = {}
        for account in state.world.accounts:
            spec = specs.get((account.identity.name, account.source.name, account.account_name), {})
            age = spec.get('password_age_days', seed_age_days(account.source.name + '/' + account.account_name))
            rec = Record(derived_id('account', account.source.id + '/' + account.account_id),
                         bool(spec.get('supports_password_change', True)) and has_password(account.source),
                         iso(now - 400 * DAY), now - float(age) * DAY)
            rec.seen_changes = account.change_count
            self.records[account] = rec
            self.by_uuid[rec.account_uuid] = account
        self.uncorrelated = []
        for spec in state.seed_data.get('uncorrelated_accounts') or []:
            source = state.world.sources.get(spec.get('source'))
            if source is None or not spec.get('name'):
                raise ValueError('uncorrelated_accounts[]: needs name and a known source (got %r)' % (spec,))
            native = str(spec.get('account_id') or source.account_id_template.format(name=spec['name']))
            self.uncorrelated.append({'id': derived_id('account', source.id + '/' + native), 'name': spec['name'],
                                      'nativeIdentity': native, 'source': source})
        self.machine = [self._machine_item(spec) for spec in state.seed_data.get('machine_accounts') or []]

    def _machine_item(self, spec):
        """One item of GET /machine-accounts/v1 for a seed's machine_accounts entry (an account the seed has)."""
        known = [(a.source, a.account_id, a.account_name) for a in self.records if a.source.name == spec.get('source')]
        known += [(u['source'], u['nativeIdentity'], u['name']) for u in self.uncorrelated
                  if u['source'].name == spec.get('source')]
        found = [k for k in known if spec.get('name') in (k[1], k[2])]
        if len(found) != 1:
            raise ValueError('machine_accounts[]: %r names no single account of the seed' % (spec,))
        source, native, name = found[0]
        owner = spec.get('owner')
        created = iso(time.time() - 400 * DAY)
        return {'id': derived_id('machine-account', source.id + '/' + native), 'name': name, 'created': created,
                'modified': created, 'description': spec.get('description'), 'nativeIdentity': native, 'uuid': None,
                'classificationMethod': spec.get('classification', 'SOURCE'),
                'machineIdentity': {'id': derived_id('machine-identity', name), 'type': 'MACHINE_IDENTITY', 'name': name},
                'ownerIdentity': {'id': derived_id('identity', owner), 'type': 'IDENTITY', 'name': owner} if owner else None,
                'accessType': 'direct', 'subtype': spec.get('subtype'), 'environment': spec.get('environment'),
                'attributes': {}, 'connectorAttributes': {}, 'manuallyCorrelated': False, 'manuallyEdited': False,
                'locked': False, 'enabled': True, 'hasEntitlements': False,
                'source': {'id': source.id, 'type': 'SOURCE', 'name': source.name}}

    def refresh(self, now=None):
        """Take applied changes into the live times, and aggregate what is due to be aggregated."""
        now = time.time() if now is None else now
        state = self.state
        state.settle(now)
        delay = state.settings.aggregation_delay
        with state.lock:
            for account, rec in self.records.items():
                if account.change_count != rec.seen_changes:
                    rec.seen_changes = account.change_count
                    rec.live = _parse(account.last_changed) or now
                if rec.reload_at is not None and now >= rec.reload_at:
                    rec.shown, rec.reload_at = rec.live, None
                elif rec.shown < rec.live and now >= rec.live + delay:
                    rec.shown = rec.live

    def aggregate(self, source_name=None):
        self.refresh()
        with self.state.lock:
            done = 0
            for account, rec in self.records.items():
                if source_name in (None, account.source.name):
                    rec.shown = rec.live
                    done += 1
            return done

    def native_change(self, user_name, source_name, account_id=None):
        """A password changed outside ISC (a helpdesk reset): new live hash and time, seen at the next aggregation."""
        self.refresh()
        with self.state.lock:
            found = [a for a in self.records if a.identity.name == user_name and a.source.name == source_name
                     and account_id in (None, a.account_id, a.account_name)]
            if len(found) != 1:
                raise ValueError('%d accounts of %s on %s match; give accountId' % (len(found), user_name, source_name))
            account = found[0]
            account.password_hash = sha256_hex('native-' + uuid.uuid4().hex)
            self.records[account].live = time.time()
            return self._sim_view(account)

    def set_ages(self, ages, default=None):
        """Seed password ages at scale (``POST /__sim/discovery``): ``ages`` maps ``<source>/<account name>`` to days
        (an uncorrelated account has no passwordLastSet: refused); ``default``, when given, ages every other account.
        Both the live and the shown time are set, as after an aggregation."""
        self.refresh()
        now = time.time()
        with self.state.lock:
            by_key = dict(('%s/%s' % (a.source.name, a.account_name), a) for a in self.records)
            unknown = sorted(set(ages) - set(by_key))
            if unknown:
                raise ValueError('password_age_days: no correlated account %s (keys are <source>/<account name>)'
                                 % ', '.join(unknown[:5]))
            done = 0
            for key, account in by_key.items():
                days = ages.get(key, default)
                if days is None:
                    continue
                rec = self.records[account]
                rec.live = rec.shown = now - float(days) * DAY
                rec.reload_at = None
                done += 1
            return done

    def _sim_view(self, account):
        rec = self.records[account]
        return {'userName': account.identity.name, 'sourceName': account.source.name, 'accountId': account.account_id,
                'accountName': account.account_name, 'id': rec.account_uuid, 'identityId': account.identity.id,
                'passwordLastSet': iso(rec.shown), 'livePasswordLastSet': iso(rec.live),
                'supportsPasswordChange': rec.supports_change, 'passwordSha256': account.password_hash}

    def snapshot(self):
        self.refresh()
        with self.state.lock:
            return {'accounts': [self._sim_view(a) for a in self.records],
                    'uncorrelated': [{'id': u['id'], 'name': u['name'], 'sourceName': u['source'].name}
                                     for u in self.uncorrelated],
                    'sources': [{'name': s.name, 'features': features(s)} for s in self.state.world.sources.values()]}

    # -- documents -------------------------------------------------------------------------------
    def identity_docs(self):
        world = self.state.world
        tenant = world.tenant
        docs = []
        for ident in world.identities.values():
            accounts = [a for group in ident.accounts.values() for a in group]
            if not accounts:
                continue
            manager = ident.attributes.get('manager')
            docs.append({
                'id': ident.id, 'name': ident.name, 'displayName': ident.name, '_type': 'identity', 'type': 'identity',
                '_version': 'v2', 'pod': tenant['pod'], 'org': tenant['org'],
                'attributes': dict(ident.attributes, uid=ident.name),
                'manager': {'id': derived_id('identity', manager), 'name': manager, 'displayName': manager} if manager else None,
                'accounts': [self._account_doc(a) for a in accounts], 'accountCount': len(accounts),
                'disabled': False, 'locked': False})
        return docs

    def _account_doc(self, account):
        rec = self.records[account]
        source = account.source
        return {'id': rec.account_uuid, 'name': account.account_name, 'accountId': account.account_id,
                'source': {'id': source.id, 'name': source.name, 'type': 'Simulated Connector'},
                'disabled': False, 'locked': False, 'privileged': False, 'manuallyCorrelated': False,
                'passwordLastSet': iso(rec.shown), 'created': rec.created, 'supportsPasswordChange': rec.supports_change,
                'entitlementAttributes': None}

    def account_api(self, account=None, uncorrelated=None):
        """One item of GET /accounts/v1 (the Account schema's required fields)."""
        if account is not None:
            rec = self.records[account]
            source, native, name, acc_id = account.source, account.account_id, account.account_name, rec.account_uuid
            ident = account.identity
        else:
            source, native, name, acc_id = (uncorrelated['source'], uncorrelated['nativeIdentity'], uncorrelated['name'],
                                            uncorrelated['id'])
            ident = None
        created = iso(time.time() - 400 * DAY)
        item = {'id': acc_id, 'name': name, 'created': created, 'modified': created,
                'sourceId': source.id, 'sourceName': source.name,
                'attributes': {}, 'authoritative': False, 'disabled': False, 'locked': False, 'nativeIdentity': native,
                'systemAccount': False, 'uncorrelated': ident is None, 'manuallyCorrelated': False,
                'hasEntitlements': False, 'isMachine': False,
                'features': ', '.join(features(source))}
        if ident is not None:  # an uncorrelated account has neither field (not nullable in the document)
            item.update(identityId=ident.id, identity={'id': ident.id, 'type': 'IDENTITY', 'name': ident.name})
        return item


def features(source):
    return list(getattr(source, 'features', None) or DEFAULT_FEATURES)


def has_password(source):
    return 'PASSWORD' in features(source)


def _parse(text):
    if not text:
        return None
    return datetime.strptime(text.replace('Z', '+0000'), '%Y-%m-%dT%H:%M:%S.%f%z').timestamp()


def _parse_date(text, now):
    """A range bound: ``*``, ``now``, ``now-90d``/``now-12h``, or an ISO date (time optional)."""
    text = text.strip().strip('"')
    if text == '*':
        return None
    m = re.match(r'^now(?:([+-])(\d+)([dhm]))?$', text)
    if m:
        if not m.group(1):
            return now
        step = {'d': DAY, 'h': 3600.0, 'm': 60.0}[m.group(3)] * int(m.group(2))
        return now + step if m.group(1) == '+' else now - step
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f%z', '%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d'):
        try:
            value = datetime.strptime(text.replace('Z', '+0000'), fmt)
        except ValueError:
            continue
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    raise ValueError('not a date: %r' % text)


# -- the query subset: field:value, "phrases", field:(a OR b), field:[a TO b], AND/OR/NOT, (), @accounts(...) --
_TOKEN = re.compile(r'\s*(?:(\[[^\]]*\]|\{[^}]*\})|("(?:[^"\\]|\\.)*")|(@\w+\()|([()])|(:)|([^\s()":\[\]{}]+))')


def _tokens(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError('cannot read the query at %r' % text[pos:pos + 20])
        pos = m.end()
        kinds = ('range', 'phrase', 'nested', 'paren', 'colon', 'word')
        out.extend((kind, value) for kind, value in zip(kinds, m.groups()) if value is not None)
    return out


class _Parser:
    def __init__(self, text, now):
        self.toks = _tokens(text)
        self.i = 0
        self.now = now

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek()[0] is not None:
            raise ValueError('unexpected %r' % (self.peek()[1],))
        return node

    def expr(self):
        parts = [self.conj()]
        while self.peek()[0] is not None and self.peek() != ('paren', ')'):
            if self.peek() == ('word', 'OR'):
                self.take()
            parts.append(self.conj())   # juxtaposition means OR (query_string's default operator)
        return ('or', parts) if len(parts) > 1 else parts[0]

    def conj(self):
        parts = [self.unary()]
        while self.peek() in (('word', 'AND'), ('word', '&&')):
            self.take()
            parts.append(self.unary())
        return ('and', parts) if len(parts) > 1 else parts[0]

    def unary(self):
        kind, value = self.take()
        if (kind, value) in (('word', 'NOT'), ('word', '!')):
            return ('not', self.unary())
        if (kind, value) == ('paren', '('):
            node = self.expr()
            self.close()
            return node
        if kind == 'nested':
            node = ('nested', value[1:-1], self.expr())
            self.close()
            return node
        if kind == 'word' and value == '*':
            return ('all',)
        if kind in ('word', 'phrase') and self.peek() == ('colon', ':'):
            self.take()
            return self.value_of(value.strip('"'))
        if kind in ('word', 'phrase'):
            return ('match', 'name', _literal(kind, value))
        raise ValueError('unexpected %r' % (value,))

    def close(self):
        if self.take() != ('paren', ')'):
            raise ValueError('a parenthesis is not closed')

    def value_of(self, field):
        kind, value = self.take()
        if kind == 'range':
            low, sep, high = value[1:-1].partition(' TO ')
            if not sep:
                raise ValueError('a range needs "TO": %r' % value)
            return ('range', field, _parse_date(low, self.now), _parse_date(high, self.now))
        if (kind, value) == ('paren', '('):
            values = []
            while self.peek() != ('paren', ')'):
                k, v = self.take()
                if k is None:
                    raise ValueError('a parenthesis is not closed')
                if (k, v) != ('word', 'OR'):
                    values.append(('match', field, _literal(k, v)))
            self.take()
            return ('or', values)
        if kind in ('word', 'phrase'):
            if kind == 'word' and value[:1] in '<>':
                op, rest = (value[:2], value[2:]) if value[1:2] == '=' else (value[:1], value[1:])
                return ('cmp', field, op, _parse_date(rest, self.now))
            return ('match', field, _literal(kind, value))
        raise ValueError('field %s has no value' % field)


def _literal(kind, value):
    return ('exact', value[1:-1].replace('\\"', '"')) if kind == 'phrase' else ('word', value)


def _values(doc, path):
    """The values at a dotted path (lists are searched through)."""
    current = [doc]
    for part in path.split('.'):
        nxt = []
        for item in current:
            if isinstance(item, list):
                item = [i.get(part) for i in item if isinstance(i, dict)]
                nxt.extend(v for v in item if v is not None)
            elif isinstance(item, dict) and item.get(part) is not None:
                nxt.append(item[part])
        current = [v for x in nxt for v in (x if isinstance(x, list) else [x])]
    return current


def _matches(node, doc):
    kind = node[0]
    if kind == 'all':
        return True
    if kind == 'or':
        return any(_matches(n, doc) for n in node[1])
    if kind == 'and':
        return all(_matches(n, doc) for n in node[1])
    if kind == 'not':
        return not _matches(node[1], doc)
    if kind == 'nested':
        return any(_matches(node[2], item) for item in doc.get(node[1]) or [] if isinstance(item, dict))
    values = _values(doc, node[1])
    if kind == 'match':
        how, wanted = node[2]
        for value in values:
            text = str(value).lower() if not isinstance(value, bool) else str(value).lower()
            if how == 'word' and ('*' in wanted or '?' in wanted):
                if fnmatch.fnmatchcase(text, wanted.lower()):
                    return True
            elif text == wanted.lower():
                return True
        return False
    stamps = [_parse(v) for v in values if isinstance(v, str) and v[:1].isdigit()]
    if kind == 'range':
        return any((node[2] is None or s >= node[2]) and (node[3] is None or s <= node[3]) for s in stamps)
    op, bound = node[2], node[3]
    return any({'<': s < bound, '<=': s <= bound, '>': s > bound, '>=': s >= bound}[op] for s in stamps)


def _project(doc, includes, excludes):
    def keep(path, value, inc):
        if isinstance(value, dict):
            kept = {k: v2 for k, v2 in ((k, keep(path + [k], v, inc)) for k, v in value.items()) if v2 is not _DROP}
            return kept if kept or not value or not path else _DROP
        if isinstance(value, list) and value and isinstance(value[0], dict):
            kept = [v2 for v2 in (keep(path, v, inc) for v in value) if v2 is not _DROP]
            return kept or _DROP
        dotted = '.'.join(path)
        if inc and not any(dotted == f or dotted.startswith(f + '.') for f in inc):
            return _DROP
        if any(dotted == f or dotted.startswith(f + '.') for f in excludes):
            return _DROP
        return value
    return keep([], doc, includes)


_DROP = object()


# -- HTTP operations ----------------------------------------------------------------------------------
def handle(state, operation, method, ident, query, body):
    try:
        if operation == 'search':
            return _search(state, query, body)
        if operation == 'accounts':
            return _accounts(state, query)
        if operation == 'machine_accounts':
            return _machine_accounts(state, query)
        return _reload(state, ident)
    except ValueError as exc:
        return bad_request(str(exc), '400.1.3 Illegal value')


def _int(query, name, default, maximum):
    return _int_param(query, name, default, 0, maximum)


def _search(state, query, body):
    if not isinstance(body, dict):
        raise ValueError('The request body must be a JSON object (Search).')
    limit = _int(query, 'limit', 250, SEARCH_LIMIT)
    offset = _int(query, 'offset', 0, None)
    count = _bool_param(query, 'count')
    indices = body.get('indices') or ['identities']
    if indices not in (['identities'], ['*']):
        raise ValueError("The simulator searches only the identities index (indices: ['identities']).")
    text = ((body.get('query') or {}).get('query') or '*')
    tree = _Parser(text, time.time()).parse()
    sort = body.get('sort') or []
    after = body.get('searchAfter')
    if after is not None and (not sort or not isinstance(after, list) or len(after) != len(sort)):
        raise ValueError('searchAfter needs sort, with one value per sort field.')
    if after is None and offset + limit > SEARCH_LIMIT:
        raise ValueError('Result window is too large: offset + limit must be at most %d; page with sort and '
                         'searchAfter beyond it.' % SEARCH_LIMIT)
    disc = state.discovery
    disc.refresh()
    with state.lock:
        docs = [d for d in disc.identity_docs() if _matches(tree, d)]
    keys = []
    for field in sort:
        desc = field.startswith('-')
        keys.append((field.lstrip('+-'), desc))
    for field, desc in reversed(keys):
        docs.sort(key=lambda d, f=field: str((_values(d, f) or [''])[0]), reverse=desc)
    total = len(docs)
    if after is not None:
        def beyond(doc):
            for (field, desc), mark in zip(keys, after):
                value = str((_values(doc, field) or [''])[0])
                if value != str(mark):
                    return value < str(mark) if desc else value > str(mark)
            return False
        docs = [d for d in docs if beyond(d)]
    docs = docs[offset:offset + limit]
    rf = body.get('queryResultFilter') or {}
    if rf.get('includes') or rf.get('excludes'):
        docs = [_project(d, rf.get('includes') or [], rf.get('excludes') or []) for d in docs]
    return Reply(200, docs, {'X-Total-Count': str(total)} if count else {})


_ACC_FILTER = re.compile(r'^\s*(sourceId|identityId|id)\s+(eq|in)\s+(\(.*?\)|"[^"]*")\s*$')
_UNCORRELATED = re.compile(r'^\s*uncorrelated\s+eq\s+(true|false)\s*$')


def _accounts(state, query):
    limit = _int(query, 'limit', ACCOUNTS_LIMIT, ACCOUNTS_LIMIT)
    offset = _int(query, 'offset', 0, None)
    count = _bool_param(query, 'count')
    text = (query.get('filters') or [''])[0]
    tests = []
    for part in [p for p in re.split(r'\s+and\s+', text) if p.strip()]:
        m, u = _ACC_FILTER.match(part), _UNCORRELATED.match(part)
        if m:
            wanted = set(re.findall(r'"([^"]*)"', m.group(3)))
            tests.append(lambda item, f=m.group(1), w=wanted: item[f] in w)
        elif u:
            tests.append(lambda item, flag=u.group(1) == 'true': item['uncorrelated'] is flag)
        else:
            raise ValueError("Illegal value for query parameter 'filters': %r. The simulator understands sourceId, "
                             'identityId or id with eq or in, and uncorrelated eq true|false, joined by and.' % part)
    disc = state.discovery
    disc.refresh()
    with state.lock:
        items = [disc.account_api(account=a) for a in disc.records]
        items += [disc.account_api(uncorrelated=u) for u in disc.uncorrelated]
    found = [i for i in items if all(t(i) for t in tests)]
    return Reply(200, found[offset:offset + limit], {'X-Total-Count': str(len(found))} if count else {})


_MACHINE_FILTER = re.compile(r'^\s*(source\.id|source\.name|nativeIdentity|environment)\s+(eq|in)\s+(\(.*?\)|"[^"]*")\s*$')


def _machine_accounts(state, query):
    limit = _int(query, 'limit', ACCOUNTS_LIMIT, ACCOUNTS_LIMIT)
    offset = _int(query, 'offset', 0, None)
    tests = []
    for part in [p for p in re.split(r'\s+and\s+', (query.get('filters') or [''])[0]) if p.strip()]:
        m = _MACHINE_FILTER.match(part)
        if not m:
            raise ValueError("Illegal value for query parameter 'filters': %r. The simulator understands source.id, "
                             'source.name, nativeIdentity or environment with eq or in, joined by and.' % part)
        wanted = set(re.findall(r'"([^"]*)"', m.group(3)))
        first, _dot, rest = m.group(1).partition('.')
        tests.append(lambda item, a=first, b=rest, w=wanted: (item[a][b] if b else item[a]) in w)
    with state.lock:
        found = [dict(i) for i in state.discovery.machine if all(t(i) for t in tests)]
    headers = {'X-Total-Count': str(len(found))} if _bool_param(query, 'count') else {}
    return Reply(200, found[offset:offset + limit], headers)


def _reload(state, account_id):
    disc = state.discovery
    disc.refresh()
    with state.lock:
        account = disc.by_uuid.get(account_id)
        if account is None:
            return not_found("Account '%s' was not found." % account_id)
        disc.records[account].reload_at = time.time() + state.settings.reload_delay
    return Reply(202, {'id': uuid.uuid4().hex})


def sim_request(state, key, data, query):
    """The /__sim/ endpoints of discovery: GET and POST discovery, POST native-change, POST aggregate."""
    disc = state.discovery
    data = data if isinstance(data, dict) else {}
    if key == ('GET', '/__sim/discovery'):
        return Reply(200, disc.snapshot())
    if key == ('POST', '/__sim/discovery'):
        ages, default = data.get('password_age_days') or {}, data.get('default_age_days')
        if not isinstance(ages, dict) or not all(isinstance(v, (int, float)) for v in ages.values()) or \
                not (default is None or isinstance(default, (int, float))):
            raise ValueError('the body must be {"password_age_days": {"<source>/<account name>": days}, '
                             '"default_age_days"?: days}')
        return Reply(200, {'set': disc.set_ages(ages, default)})
    if key == ('POST', '/__sim/native-change'):
        if not isinstance(data.get('userName'), str) or not isinstance(data.get('sourceName'), str):
            raise ValueError('the body must be {"userName", "sourceName", optional "accountId"}')
        return Reply(200, disc.native_change(data['userName'], data['sourceName'], data.get('accountId')))
    if key == ('POST', '/__sim/aggregate'):
        return Reply(200, {'aggregated': disc.aggregate(data.get('sourceName'))})
    return Reply(404, {'error': 'Unknown simulator endpoint %s %s' % key})
