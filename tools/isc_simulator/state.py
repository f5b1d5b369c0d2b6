"""The service logic of the ISC simulator, independent of HTTP.

Every public method of :class:`SimState` returns a :class:`Reply`; the HTTP layer only turns
replies into bytes.  All shared data is guarded by one lock (``SimState.lock``); nothing that
sleeps runs while it is held.
"""

import base64
import binascii
import heapq
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .config import PasswordConfig
from .policy import check_password, policy_strings
from .seed import build_world, sha256_hex

# ISC retries a change its source does not confirm after 5 s, 1, 3, 10, 30 and 90 minutes.
RETRY_SCHEDULE = (5, 60, 180, 600, 1800, 5400)

CHOICES = {
    'policy_rejection': ('async', 'submit'),
    'unknown_object_status': (400, 404),
    'unknown_request_status': (404, 400),
    'pat_query_info': ('forbid', 'allow'),
    'sync_failure': ('partial', 'atomic'),
    'sync_fanout': ('submit', 'completion'),
}
NUMBERS = {  # name: (type, minimum)
    'token_ttl': (float, 0.001),
    'rate_limit': (int, 0),
    'rate_window': (float, 0.001),
    'completion_delay': (float, 0.0),
    'latency': (float, 0.0),
    'time_scale': (float, 0.0),
    'key_grace': (float, 0.0),
    'aggregation_delay': (float, 0.0),  # discovery (search_api.py): a change shows in search this long after
    'reload_delay': (float, 0.0),       # ... or this long after an account reload
}


class Settings:
    """Run-time options; all of them can be read and changed through ``/__sim/config``."""

    def __init__(self, token_ttl=749, rate_limit=100, rate_window=10, completion_delay=1.0, latency=0.0,
                 time_scale=1.0, key_grace=600, policy_rejection='async', unknown_object_status=400,
                 pat_query_info='forbid', sync_failure='partial', unknown_request_status=404, sync_fanout='submit',
                 aggregation_delay=300.0, reload_delay=1.0):
        self.token_ttl = token_ttl
        self.aggregation_delay = aggregation_delay
        self.reload_delay = reload_delay
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.completion_delay = completion_delay
        self.latency = latency
        self.time_scale = time_scale
        self.key_grace = key_grace
        self.policy_rejection = policy_rejection
        self.unknown_object_status = unknown_object_status
        self.pat_query_info = pat_query_info
        self.sync_failure = sync_failure
        self.unknown_request_status = unknown_request_status
        self.sync_fanout = sync_fanout
        self.update(self.as_dict())  # validate

    def as_dict(self):
        return {name: getattr(self, name) for name in list(NUMBERS) + list(CHOICES)}

    def update(self, changes):
        clean = {}
        for name, value in changes.items():
            if name in NUMBERS:
                kind, minimum = NUMBERS[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                    raise ValueError('%s must be a number >= %s' % (name, minimum))
                if kind is int and value != int(value):
                    raise ValueError('%s must be an integer' % name)
                clean[name] = kind(value)
            elif name in CHOICES:
                if value not in CHOICES[name]:
                    raise ValueError('%s must be one of %s' % (name, ', '.join(str(c) for c in CHOICES[name])))
                clean[name] = value
            else:
                raise ValueError('unknown setting %r' % name)
        for name, value in clean.items():
            setattr(self, name, value)


class Reply:
    __slots__ = ('status', 'body', 'headers')

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


def tracking_id():
    return uuid.uuid4().hex


def error_dto(detail_code, text, causes=()):
    def message(msg):
        return {'locale': 'en-US', 'localeOrigin': 'DEFAULT', 'text': msg}
    return {
        'detailCode': detail_code,
        'trackingId': tracking_id(),
        'messages': [message(text)],
        'causes': [message(c) for c in causes],
    }


def bad_request(text, detail_code='400.1 Bad Request Content'):
    return Reply(400, error_dto(detail_code, text))


def not_found(text='The server did not find a current representation for the target resource.'):
    return Reply(404, error_dto('404 Not found', text))


def forbidden(cause):
    return Reply(403, error_dto('403 Forbidden', 'The server understood the request but refuses to authorize it.', [cause]))


def iso(timestamp):
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


class KeyPair:
    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_b64 = base64.b64encode(der).decode('ascii')
        self.key_id = base64.b64encode(str(uuid.uuid4()).encode('ascii')).decode('ascii')


class RateLimiter:
    """Sliding-window limiter: at most ``limit`` accepted requests per key in any ``window`` seconds."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hits = {}

    def reset(self):
        with self._lock:
            self._hits.clear()

    def check(self, key, limit, window, now):
        """Record a hit and return 0, or return the whole seconds to wait (>= 1) when over the limit."""
        if limit <= 0:
            return 0
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            while len(hits) > limit:  # the limit was lowered at run time
                hits.popleft()
            if len(hits) >= limit:
                return max(1, int(math.ceil(hits[0] + window - now)))
            hits.append(now)
            return 0


class ChangeRequest:
    def __init__(self, request_id, identity, source_ids, created):
        self.request_id = request_id
        self.identity = identity
        self.source_ids = source_ids
        self.created = created
        self.state = 'IN_PROGRESS'
        self.errors = []
        self.due = created
        self.final_state = 'FINISHED'
        self.final_errors = []
        self.apply = []       # accounts that get the new password when the request ends
        self.new_hash = None
        self.stuck = False
        self.origin = None    # (identity, source, account) named by the request: sync_fanout=completion reads its group then
        self.failing = ()     # names of failing member sources (fail_sources)
        self.status_reads = []  # when each GET of its status came (what a test of polling reads)

    def status(self):
        return {'requestId': self.request_id, 'state': self.state, 'errors': list(self.errors),
                'sourceIds': list(self.source_ids)}

    def to_sim(self):
        body = self.status()
        body.update({'identityId': self.identity.id, 'userName': self.identity.name, 'created': iso(self.created),
                     'completesAt': iso(self.due), 'stuck': self.stuck,
                     'statusReadsAt': [iso(when) for when in self.status_reads]})
        return body


class SimState:
    def __init__(self, seed_data, settings, fleet_size=0):
        self.lock = threading.RLock()
        self.settings = settings
        self.seed_data = seed_data
        self.world = build_world(seed_data, fleet_size)
        self.config = PasswordConfig(self.world, seed_data)   # policies, sync groups, dictionary, org config
        self.limiter = RateLimiter()
        self.keys = KeyPair()
        self.old_keys = {}           # key id -> (KeyPair, valid until)
        self.tokens = {}             # access token -> (client, expires at)
        self.requests = {}
        self._pending = []           # heap of (due, seq, ChangeRequest)
        self._seq = 0
        self.digit_tokens = []
        self._deleted = []           # undo steps of /__sim/delete-account, run by reset_state
        self.counters = None
        self.reset_counters()
        # (search_api imports this file)
        from .search_api import Discovery  # pylint: disable=import-outside-toplevel
        self.discovery = Discovery(self)

    # -- bookkeeping ------------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.counters = {'requests': {}, 'tokensIssued': 0, 'rateLimited': 0, 'passwordChangesApplied': 0}
            self.client_counters = {}  # client id -> operation -> status -> n (shown as "clients" once non-empty)

    def count(self, operation, status, client_id=None):
        with self.lock:
            per_op = self.counters['requests'].setdefault(operation, {})
            per_op[str(status)] = per_op.get(str(status), 0) + 1
            if client_id:
                mine = self.client_counters.setdefault(client_id, {}).setdefault(operation, {})
                mine[str(status)] = mine.get(str(status), 0) + 1

    def counters_snapshot(self):
        with self.lock:
            snap = dict(self.counters)
            snap['requests'] = {op: dict(v) for op, v in self.counters['requests'].items()}
            if self.client_counters:
                snap['clients'] = {cid: {op: dict(v) for op, v in ops.items()} for cid, ops in self.client_counters.items()}
            return snap

    def reset_state(self):
        with self.lock:
            for account in self.world.accounts:
                account.restore()
            while self._deleted:
                self._deleted.pop()()
            self.requests.clear()
            self._pending = []
            self.digit_tokens = []
            self.config.reset()
            self.discovery.reset()

    def settle(self, now=None):
        """Finish every change request whose completion time has passed."""
        now = time.time() if now is None else now
        with self.lock:
            while self._pending and self._pending[0][0] <= now:
                _due, _seq, req = heapq.heappop(self._pending)
                if self.settings.sync_fanout == 'completion' and req.origin is not None:
                    self._fan_out_now(req)
                for account in req.apply:
                    account.password_hash = req.new_hash
                    account.last_changed = iso(req.due)
                    account.change_count += 1
                    self.counters['passwordChangesApplied'] += 1
                req.state = req.final_state
                req.errors = list(req.final_errors)
                req.new_hash = None

    @staticmethod
    def _members(source):
        return list(source.sync_group.sources) if source.sync_group else [source]

    @staticmethod
    def _targets(ident, source, account, members):
        targets = [account]
        for member in members:
            if member is not source:
                targets.extend(ident.accounts.get(member.id, []))
        return targets

    def _fan_out_now(self, req):
        """sync_fanout=completion: the change reaches the members of the named source's group as it is now."""
        ident, source, account = req.origin
        members = self._members(source)
        req.source_ids = [m.id for m in members]
        targets = self._targets(ident, source, account, members)
        if req.final_state == 'FINISHED':
            req.apply = targets
        elif req.failing and self.settings.sync_failure == 'partial' and not req.stuck:
            req.apply = [a for a in targets if a.source.name not in req.failing]

    # -- keys -------------------------------------------------------------------------------
    def rotate_key(self):
        new = KeyPair()
        with self.lock:
            old = self.keys
            grace = self.settings.key_grace
            if grace > 0:
                self.old_keys[old.key_id] = (old, time.time() + grace)
            self.keys = new
        return {'publicKeyId': new.key_id, 'previousKeyId': old.key_id, 'previousKeyValidSeconds': grace}

    def _key_for(self, key_id, now):
        if key_id == self.keys.key_id:
            return self.keys
        entry = self.old_keys.get(key_id)
        if entry and entry[1] > now:
            return entry[0]
        return None

    # -- tokens -----------------------------------------------------------------------------
    def issue_token(self, client_id, client_secret):
        client = self.world.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret.encode('utf-8'), (client_secret or '').encode('utf-8')):
            return Reply(401, {'error': 'invalid_client', 'error_description': 'Bad client credentials'})
        now = time.time()
        ttl = self.settings.token_ttl
        token = secrets.token_urlsafe(48)
        jti = str(uuid.uuid4())
        tenant = self.world.tenant
        body = {
            'access_token': token,
            'token_type': 'bearer',
            'expires_in': max(1, int(math.ceil(ttl))),
            'scope': ' '.join(client.rights['scope']),  # what the seed granted (authz.py)
            'accessType': 'OFFLINE',
            'tenant_id': tenant['tenant_id'],
            'internal': False,
            'pod': tenant['pod'],
            'strong_auth_supported': False,
            'org': tenant['org'],
            'claims_supported': False,
            'enabled': True,
            'strong_auth': False,
            'jti': jti,
        }
        if client.type == 'pat' and client.user in self.world.identities:
            body['user_id'] = self.world.identities[client.user].id
            body['identity_id'] = self.world.identities[client.user].id
        with self.lock:
            if len(self.tokens) > 1000:
                self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now - 3600}
            self.tokens[token] = (client, now + ttl)
            self.counters['tokensIssued'] += 1
        return Reply(200, body)

    def authenticate(self, header):
        """Return (client, None) or (None, Reply 401) for an Authorization header value."""
        if not header:
            return None, Reply(401, {'error': 'JWT validation failed: no bearer token in the Authorization header'})
        scheme, _sep, token = header.strip().partition(' ')
        if scheme.lower() != 'bearer' or not token.strip():
            return None, Reply(401, {'error': 'JWT validation failed: the Authorization header is not a bearer token'})
        with self.lock:
            entry = self.tokens.get(token.strip())
        if entry is None:
            return None, Reply(401, {'error': 'JWT validation failed: JWT is invalid'})
        if entry[1] <= time.time():
            return None, Reply(401, {'error': 'JWT validation failed: JWT is expired'})
        return entry[0], None

    # -- operations ---------------------------------------------------------------------------
    def _unknown(self, text):
        if self.settings.unknown_object_status == 404:
            return not_found(text)
        return bad_request(text, '400.1.404 Referenced object not found')

    def query_password_info(self, client, body):
        problem = _require_strings(body, ('userName', 'sourceName'))
        if problem:
            return problem
        if client.type == 'pat' and self.settings.pat_query_info == 'forbid':
            return forbidden('query-password-info accepts only API client (client credentials) tokens, '
                             'not personal access tokens.')
        world = self.world
        ident = world.identities.get(body['userName'])
        source = world.sources.get(body['sourceName'])
        missing = []
        if ident is None:
            missing.append("userName '%s'" % body['userName'])
        if source is None:
            missing.append("sourceName '%s'" % body['sourceName'])
        if missing:
            return self._unknown('Referenced %s not found.' % ' and '.join(missing))
        with self.lock:
            accounts = ident.accounts.get(source.id, [])
            if not accounts:
                return self._unknown("Referenced userName '%s' has no account on sourceName '%s'." % (ident.name, source.name))
            keys = self.keys
            return Reply(200, {
                'identityId': ident.id,
                'sourceId': source.id,
                'publicKeyId': keys.key_id,
                'publicKey': keys.public_b64,
                'accounts': [{'accountId': a.account_id, 'accountName': a.account_name} for a in accounts],
                'policies': policy_strings(self.config.effective(source, ident)),
            })

    def set_password(self, client, body, stuck=False, fail=False, fail_sources=()):
        """Validate and accept a change. Returns the reply and, on 202, the ChangeRequest."""
        problem = _require_strings(body, ('identityId', 'sourceId', 'publicKeyId', 'encryptedPassword'), ('accountId',))
        if problem:
            return problem, None
        world = self.world
        now = time.time()
        ident = world.identities_by_id.get(body['identityId'])
        if ident is None:
            return bad_request("Referenced identityId '%s' not found." % body['identityId'],
                               '400.1.404 Referenced object not found'), None
        source = world.sources_by_id.get(body['sourceId'])
        if source is None:
            return bad_request("Referenced sourceId '%s' not found." % body['sourceId'],
                               '400.1.404 Referenced object not found'), None
        accounts = ident.accounts.get(source.id, [])
        if body.get('accountId') is None:
            if len(accounts) != 1:
                return bad_request('accountId is required: the identity has %d accounts on the source.' % len(accounts)), None
            account = accounts[0]
        else:
            account = world.find_account(ident, source, body['accountId'])
        if account is None:
            return bad_request("Referenced accountId '%s' not found on sourceId '%s' for identityId '%s'."
                               % (body.get('accountId'), source.id, ident.id), '400.1.404 Referenced object not found'), None
        if 'PASSWORD' not in source.features:  # e.g. removed by POST /__sim/world (world.py)
            return bad_request("The source '%s' does not support password management (no PASSWORD feature)." % source.name,
                               '400.1.3 Illegal value'), None
        if client.type == 'pat' and client.user != ident.name:
            return forbidden('A personal access token may only change the passwords of its own identity.'), None
        with self.lock:
            key = self._key_for(body['publicKeyId'], now)
        if key is None:
            return bad_request("Illegal value for publicKeyId: '%s' is unknown or no longer valid; query the password "
                               "info again for the current key." % body['publicKeyId'], '400.1.3 Illegal value'), None
        password = _decrypt(key, body['encryptedPassword'])
        if password is None:
            return bad_request('Illegal value for encryptedPassword: it could not be decrypted with the key of publicKeyId '
                               '(expected standard Base64 of RSA PKCS#1 v1.5 ciphertext of the UTF-8 password).',
                               '400.1.3 Illegal value'), None
        with self.lock:
            members = self._members(source)
            violations = (check_password(password, self.config.effective(source, ident))
                          + self.config.dictionary_violations(password, source, ident))
        if violations and self.settings.policy_rejection == 'submit':
            reply = bad_request('The password does not satisfy the password policy of the source: ' + '; '.join(violations))
            reply.body['causes'] = [{'locale': 'en-US', 'localeOrigin': 'DEFAULT', 'text': v} for v in violations]
            return reply, None

        with self.lock:
            req = ChangeRequest(uuid.uuid4().hex, ident, [m.id for m in members], now)
            req.new_hash = sha256_hex(password)
            delay = self.settings.completion_delay
            targets = self._targets(ident, source, account, members)
            req.origin = (ident, source, account)
            failing = [m.name for m in members if m.name in set(fail_sources)]
            req.failing = tuple(failing)
            if violations:
                req.final_state, req.final_errors = 'FAILED', violations
            elif stuck:
                req.stuck = True
                delay = sum(RETRY_SCHEDULE) * self.settings.time_scale
                req.final_state = 'FAILED'
                req.final_errors = ['Connector error: the source did not confirm the password change; gave up after %d '
                                    'attempts (retries after 5 s, 1, 3, 10, 30 and 90 min).' % (len(RETRY_SCHEDULE) + 1)]
            elif fail:
                req.final_state = 'FAILED'
                req.final_errors = ["Connector error: the source '%s' rejected the password change "
                                    "(simulated connector failure)." % source.name]
            elif failing:
                req.final_state = 'FAILED'
                req.final_errors = ["Connector error: the password change failed on source '%s' "
                                    "(simulated failing source)." % name for name in failing]
                if self.settings.sync_failure == 'partial':
                    req.apply = [a for a in targets if a.source.name not in failing]
            else:
                req.apply = targets
            req.due = now + delay
            self.requests[req.request_id] = req
            self._seq += 1
            heapq.heappush(self._pending, (req.due, self._seq, req))
        return Reply(202, {'requestId': req.request_id, 'state': 'IN_PROGRESS'}), req

    def password_change_status(self, request_id):
        self.settle()
        with self.lock:
            req = self.requests.get(request_id)
            if req is None and self.settings.unknown_request_status == 400:
                return bad_request("Referenced password change request '%s' not found." % request_id,
                                   '400.1.404 Referenced object not found')
            if req is None:
                return not_found("Password change request '%s' was not found." % request_id)
            req.status_reads.append(time.time())
            return Reply(200, req.status())

    def digit_token(self, body):
        if not isinstance(body, dict):
            return bad_request('The request body must be a JSON object.')
        problem = _require_strings(body, ('userId',))
        if problem:
            return problem
        with self.lock:
            org = dict(self.config.org_config) if self.config.org_config is not None else None
        if org is not None and not org['digitTokenEnabled']:
            return bad_request('Digit tokens are disabled for this tenant: the password org config has '
                               'digitTokenEnabled false.')
        default_length = org['digitTokenLength'] if org else 6
        default_duration = org['digitTokenDurationMinutes'] if org else 5
        length = body.get('length', default_length)
        duration = body.get('durationMinutes', default_duration)
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or not 6 <= length <= 18):
            return bad_request("Illegal value for length: it must be an integer from 6 to 18 inclusive.", '400.1.3 Illegal value')
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 60):
            return bad_request('Illegal value for durationMinutes: it must be an integer from 1 to 60 inclusive.',
                               '400.1.3 Illegal value')
        length = default_length if length is None else length
        duration = default_duration if duration is None else duration
        ident = self.world.identities.get(body['userId'])
        if ident is None:
            return self._unknown("Referenced userId '%s' not found." % body['userId'])
        token = ''.join(secrets.choice('0123456789') for dummy in range(length))
        request_id = str(uuid.uuid4())
        with self.lock:
            self.digit_tokens.append({'requestId': request_id, 'userId': ident.name, 'identityId': ident.id,
                                      'length': length, 'digitTokenSha256': sha256_hex(token),
                                      'expiresAt': iso(time.time() + duration * 60)})
        return Reply(200, {'digitToken': token, 'requestId': request_id})

    def sources(self, query):
        """GET /sources: the seed's sources, in seed order, optionally filtered by id or name (eq / in)."""
        try:
            limit = _int_param(query, 'limit', 250, 0, 250)
            offset = _int_param(query, 'offset', 0, 0, None)
            count = _bool_param(query, 'count')
            match = _source_filter((query.get('filters') or [''])[0])
        except ValueError as exc:
            return bad_request(str(exc), '400.1.3 Illegal value')
        found = [s for s in self.world.sources.values() if match(s)]
        headers = {'X-Total-Count': str(len(found))} if count else {}
        return Reply(200, [_source_api(s) for s in found[offset:offset + limit]], headers)

    # -- introspection ------------------------------------------------------------------------
    def accounts(self, user_name=None, source_name=None):
        self.settle()
        with self.lock:
            return [a.to_sim() for a in self.world.accounts
                    if (user_name is None or a.identity.name == user_name)
                    and (source_name is None or a.source.name == source_name)]

    def delete_account(self, user_name, source_name=None, account_id=None):
        """Delete an identity (no source_name) with its accounts, or its accounts on one source (all of them, or the
        one account_id names by id or name). ISC then answers 400.1.404 for them. Returns the deleted accounts."""
        world = self.world
        with self.lock:
            ident = world.identities.get(user_name)
            if ident is None:
                raise ValueError('unknown userName %r' % user_name)
            source = world.sources.get(source_name) if source_name is not None else None
            if source_name is not None and source is None:
                raise ValueError('unknown sourceName %r' % source_name)
            gone = [a for a in world.accounts if a.identity is ident and (source is None or a.source is source)
                    and account_id in (None, a.account_id, a.account_name)]
            if not gone:
                raise ValueError('%s has no such account to delete' % user_name)
            before_accounts, before_own = list(world.accounts), dict((k, list(v)) for k, v in ident.accounts.items())
            world.accounts = [a for a in world.accounts if a not in gone]
            for sid in list(ident.accounts):
                ident.accounts[sid] = [a for a in ident.accounts[sid] if a not in gone]
            if source is None:
                del world.identities[ident.name]
                del world.identities_by_id[ident.id]

            def undo():
                world.accounts = before_accounts
                ident.accounts = before_own
                world.identities[ident.name] = ident
                world.identities_by_id[ident.id] = ident
            self._deleted.append(undo)
            return [a.to_sim() for a in gone]

    def forget_requests(self, request_ids=None):
        """ISC's retention: the change requests named (all when None) are no longer known to a status read.
        A change still running goes on and completes as it would have (only its id is forgotten)."""
        with self.lock:
            ids = list(self.requests) if request_ids is None else [i for i in request_ids if i in self.requests]
            for request_id in ids:
                del self.requests[request_id]
            return ids

    def request_list(self):
        self.settle()
        with self.lock:
            return [r.to_sim() for r in self.requests.values()]

    def in_progress(self):
        """How many change requests are IN_PROGRESS (after settling) and when the last of them completes."""
        self.settle()
        with self.lock:
            dues = [due for due, _seq, _req in self._pending]
            return {'changesInProgress': len(dues), 'lastCompletesAt': iso(max(dues)) if dues else None}


def _require_strings(body, required, optional=()):
    if not isinstance(body, dict):
        return bad_request('The request body must be a JSON object.')
    for name in required:
        if name not in body or body[name] is None:
            return bad_request("Required field '%s' is missing." % name)
    for name in required + tuple(optional):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            return bad_request("Field '%s' must be a string." % name)
    for name in required:
        if not body[name]:
            return bad_request("Field '%s' must not be empty." % name)
    return None


def _decrypt(key, text):
    try:
        raw = base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    try:
        plain = key.private.decrypt(raw, padding.PKCS1v15())
        password = plain.decode('utf-8')
    except ValueError:  # covers UnicodeDecodeError
        return None
    # OpenSSL's implicit rejection turns a bad ciphertext into random bytes; control characters
    # are a sure sign of that (and are never valid in a password).
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return None
    return password


def _int_param(query, name, default, minimum, maximum):
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise ValueError("Illegal value for query parameter '%s': not an integer." % name) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError("Illegal value for query parameter '%s': must be between %s and %s." % (name, minimum, maximum))
    return value


def _bool_param(query, name):
    values = query.get(name)
    if not values:
        return False
    if values[0].lower() in ('true', 'false'):
        return values[0].lower() == 'true'
    raise ValueError("Illegal value for query parameter '%s': must be true or false." % name)


def _source_api(source):
    # the fields the Source schema requires (name, owner, connector) plus id; the simulator has no owners
    return {'id': source.id, 'name': source.name, 'owner': None, 'connector': 'isc-simulator',
            'features': list(source.features)}


_FILTER_VALUE = r'"((?:[^"\\]|\\.)*)"'
_FILTER_EQ = re.compile(r'^\s*(id|name)\s+eq\s+' + _FILTER_VALUE + r'\s*$')
_FILTER_IN = re.compile(r'^\s*(id|name)\s+in\s+\(\s*(' + _FILTER_VALUE + r'(?:\s*,\s*' + _FILTER_VALUE + r')*)\s*\)\s*$')


def _source_filter(text):
    """A predicate for ``filters`` of GET /sources: ``id``/``name`` with ``eq "x"`` or ``in ("x","y")``, nothing else."""
    if not text.strip():
        return lambda source: True
    eq = _FILTER_EQ.match(text)
    if eq:
        field, values = eq.group(1), {_unescape(eq.group(2))}
    else:
        within = _FILTER_IN.match(text)
        if not within:
            raise ValueError("Illegal value for query parameter 'filters': %r. The simulator understands id or name with "
                             'eq or in, e.g. id in ("a","b").' % text)
        field, values = within.group(1), {_unescape(v) for v in re.findall(_FILTER_VALUE, within.group(2))}
    return lambda source: getattr(source, field) in values


def _unescape(value):
    return re.sub(r'\\(.)', r'\1', value)
