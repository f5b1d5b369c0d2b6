# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several API clients: the assignment of work (units never split, even by cost, stealing, a failed client's
unsent work moved on, nothing handed out twice), the pool's map, and the apply phase over a pool.

An item handed out again and again would make a loop run for ever: every loop here is bounded (drain, the
``watchdog`` clock given to apply, ``within`` around map), so such a defect fails its test in seconds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import collections
import threading
import time

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, rotation
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client_pool import (
    AllClientsFailed, Assignment, ClientPool, is_auth_failure, parse_api_clients)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.limiter import RateLimiter

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
SECRET = 'pool-secret-never-shown'


def drain(work, order):
    """Hand out everything, lanes taking turns in ``order``; lane -> items in the order taken. Fails, rather than
    looping for ever, as soon as more items come out than the assignment holds (one was handed out twice)."""
    held = sum(len(unit) for queue in work.queues.values() for unit in queue) + sum(len(c) for c in work.current.values())
    taken = collections.defaultdict(list)
    active = list(order)
    while active:
        for lane in list(active):
            item = work.next(lane)
            if item is None:
                active.remove(lane)
            else:
                taken[lane].append(item)
                assert sum(len(items) for items in taken.values()) <= held, 'handed out twice: %r' % dict(taken)
    return taken


def lane_of(taken):
    return dict((item, lane) for lane, items in taken.items() for item in items)


# ---------------------------------------------------------------------------------------------- Assignment

def test_a_unit_is_never_split_and_each_item_is_handed_out_once():
    # identity units: a sync group's one change, an identity's two accounts on one source, loners
    units = [['A-sync'], ['B-1', 'B-2'], ['C'], ['D-1', 'D-2', 'D-3'], ['E'], ['F-1', 'F-2']]
    taken = drain(Assignment(units, [0, 1, 2]), [0, 1, 2])
    everything = [item for items in taken.values() for item in items]
    assert sorted(everything) == sorted(item for unit in units for item in unit)
    where = lane_of(taken)
    for unit in units:
        assert len(set(where[item] for item in unit)) == 1, unit


def test_work_is_spread_evenly_by_cost():
    units = [['u%d-%d' % (u, i) for i in range(size)] for u, size in enumerate([5, 1, 1, 3, 2, 2, 4, 1, 1, 2, 3, 1])]
    work = Assignment(units, [0, 1, 2, 3])
    loads = [work.remaining(lane) for lane in range(4)]
    assert sum(loads) == 26
    assert max(loads) - min(loads) <= 1, loads
    # a cost other than the length: the units' requests
    work = Assignment([['x'], ['y'], ['z'], ['w']], [0, 1], cost=lambda unit: {'x': 3, 'y': 1, 'z': 1, 'w': 1}[unit[0]])
    assert sorted([list(work.queues[0]), list(work.queues[1])]) == [[['x']], [['y'], ['z'], ['w']]]


def test_an_idle_client_takes_a_whole_unit_another_has_not_started():
    work = Assignment([['a1', 'a2'], ['b'], ['c1', 'c2'], ['d']], [0, 1])
    first = work.next(1)
    lane0 = drain(work, [0])[0]
    # lane 0 drained its own units, then took lane 1's unstarted unit whole; lane 1 keeps the one it started
    got1 = [first] + drain(work, [1])[1]
    assert sorted(lane0 + got1) == ['a1', 'a2', 'b', 'c1', 'c2', 'd']
    for unit in (['a1', 'a2'], ['c1', 'c2']):
        assert set(unit) <= set(lane0) or set(unit) <= set(got1), (lane0, got1)
    assert len(lane0) > len(got1), 'the idle lane stole'


def test_a_failed_client_s_unsent_work_moves_to_the_others_and_nothing_is_handed_out_twice():
    units = [['p%d' % i] for i in range(9)] + [['s-1', 's-2']]
    work = Assignment(units, [0, 1, 2])
    sent = []
    sent.append(work.next(1))              # lane 1 sends one
    refused = work.next(1)                 # takes another, its token is refused: not sent
    work.give_back(1, refused)
    work.fail(1)
    assert work.next(1) is None, 'a failed client gets nothing'
    taken = drain(work, [0, 2])
    sent += [item for items in taken.values() for item in items]
    assert sorted(sent) == sorted(item for unit in units for item in unit), 'everything sent exactly once'
    assert refused in taken[0] + taken[2]
    where = lane_of(taken)
    assert where['s-1'] == where['s-2']
    # every lane gone: what is left is unsent
    work = Assignment(units, [0])
    work.next(0)
    work.fail(0)
    assert len(work.unsent()) == 10 and not work.pending()


# ---------------------------------------------------------------------------------------------- the pool

class Runaway(BaseException):
    """Ends a thread a test has given up on (not an Exception: map does not catch it)."""


class World(object):
    """The tenant: changes by request id, whoever submitted them; every request by client."""

    def __init__(self):
        self.lock = threading.Lock()
        self.changes = {}
        self.calls = collections.defaultdict(list)  # client id -> [(operation, arg)]
        self.sent = collections.Counter()  # account id -> set-passwords that reached ISC
        self.stopped = False  # set by within() when it gives up: every later request raises Runaway
        self.refused = threading.Event()  # a bad client has been refused once
        self.arrived = {}  # client id -> Event: an after_refusal client has taken its first item


def within(world, fn, *args, **kwargs):
    """fn(*args, **kwargs); fails the test, rather than hanging it, when fn has not returned in 5 s (an item handed
    out again and again; a map here takes well under a second). The threads it leaves behind are daemons, ended by
    their next request (Runaway)."""
    out = {}

    def call():
        try:
            out['value'] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            out['error'] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():
        world.stopped = True
        pytest.fail('%s did not return within 5 s' % getattr(fn, '__name__', fn))
    if 'error' in out:
        raise out['error']
    return out['value']


def watchdog(reads=2000):
    """A clock for apply that fails the test, rather than letting it run for ever, after ``reads`` reads (the applies
    here read it at most about 200 times)."""
    count = [0]

    def clock():
        count[0] += 1
        assert count[0] <= reads, 'apply still running after %d clock reads: is a change handed out again and again?' % reads
        return time.monotonic()
    return clock


def limiter(spent, paused=False):
    """A client's rate limiter (ISC's 100 requests / 10 s, its clock stopped) that has started ``spent`` requests in
    the window; ``paused``: and is held back by a 429."""
    budget = RateLimiter(limit=100, window=10, clock=lambda: 1000.0, sleep=lambda s: None)
    for _n in range(spent):
        budget.acquire()
    if paused:
        budget.pause(5)
    return budget


def by_client(world, op):
    """Client id -> how many ``op`` requests it sent."""
    return dict(collections.Counter(cid for cid, calls in world.calls.items() for name, _arg in calls if name == op))


class PoolClient(object):
    """One API client of the fake tenant; ``bad`` makes every request fail authentication like a wrong secret."""

    api_version = 'v2024'

    def __init__(self, world, client_id, bad=False, bad_after=None, limiter=None, after_refusal=False):
        self.world, self.client_id, self.bad, self.bad_after = world, client_id, bad, bad_after
        # answer only once a bad client was refused (at most 2 s): on a loaded machine the good clients' threads could
        # otherwise take every item before the bad client's thread first runs, and nothing would be moved
        # and only once every other such client has taken an item too (at most 2 s more), so each does some of the work
        self.after_refusal = after_refusal
        if after_refusal:
            world.arrived[client_id] = threading.Event()
        self.limiter = limiter  # read by the pool (spent, has_room); requests here do not go through it
        self.stats = {'requests': {}, 'tokens_fetched': 0}

    def _auth(self, op, arg):
        time.sleep(0.002)  # a request takes time: every client gets to take its share
        if self.after_refusal:
            self.world.refused.wait(2)
            self.world.arrived[self.client_id].set()
            for peer in self.world.arrived.values():
                peer.wait(2)
        if self.world.stopped:
            raise Runaway(op)
        with self.world.lock:
            if self.bad_after is not None and len(self.world.calls[self.client_id]) >= self.bad_after:
                self.bad = True
            if self.bad:
                self.world.refused.set()
                raise IscError('oauth-token failed: HTTP 401 invalid_client', status=401, operation='oauth-token')
            self.world.calls[self.client_id].append((op, arg))
            self.stats['requests'][op] = self.stats['requests'].get(op, 0) + 1

    def query_password_info(self, user_name, source_name):
        self._auth('query', user_name)
        return {'identityId': 'id-' + user_name, 'sourceId': source_name, 'publicKeyId': 'kid', 'publicKey': PUBLIC,
                'accounts': [{'accountId': 'CN=' + user_name}], 'policies': []}

    def set_password(self, identity_id, source_id, account_id, public_key_id, encrypted_password):
        self._auth('set', account_id)
        KEY.decrypt(base64.b64decode(encrypted_password), padding.PKCS1v15())
        with self.world.lock:
            rid = 'r%04d' % (len(self.world.changes) + 1)
            self.world.changes[rid] = account_id
            self.world.sent[account_id] += 1
        return {'requestId': rid, 'state': 'IN_PROGRESS'}

    def password_change_status(self, request_id):
        self._auth('status', request_id)
        return {'requestId': request_id, 'state': 'FINISHED', 'errors': [], 'sourceIds': []}

    def list_password_sync_groups(self):
        self._auth('sync_groups', None)
        return []

    def list_sources(self, ids):
        self._auth('sources', tuple(ids))
        return dict((i, 'name-' + i) for i in ids)

    def close(self):
        pass


def group(n, identity=None, resend=False):
    """A planned change; a re-send carries its attempt and no password (apply joins it from the pending ones)."""
    found = {'group': 'g%d' % n, 'keys': ['src/u%d' % n], 'identity_id': identity or 'id%d' % n, 'source_id': 'src',
             'account_id': 'acct%d' % n, 'public_key_id': 'kid', 'public_key': PUBLIC, 'password': 'Pw-%d-aB3!xyz' % n,
             'attempt': 'att%d' % n, 'reuse_pending': resend, 'sources': ['src']}
    if resend:
        del found['password']
    return found


@pytest.fixture
def ledger(tmp_path):
    return ledger_mod.Ledger(str(tmp_path / 'state' / 'ledger.json')).load()


def test_map_spreads_the_items_and_moves_a_failed_client_s_items_to_the_others():
    world = World()
    pool = ClientPool([PoolClient(world, 'a', after_refusal=True), PoolClient(world, 'bad', bad=True),
                       PoolClient(world, 'c', after_refusal=True)])
    users = ['u%02d' % i for i in range(30)]
    results = within(world, pool.map, lambda u: pool.query_password_info(u, 'src'), users, workers=2)
    assert [r['identityId'] for r in results] == ['id-' + u for u in users]
    assert list(pool.failed) == ['bad']
    queried = [arg for cid in ('a', 'c') for op, arg in world.calls[cid] if op == 'query']
    assert sorted(queried) == users, 'each item done once, by the clients still in'
    # both took a share; how much each took depends on the threads' speed (an idle client steals unstarted work)
    assert min(len(world.calls['a']), len(world.calls['c'])) >= 1, dict((k, len(v)) for k, v in world.calls.items())
    assert pool.stats['by_client'] == {'a': len(world.calls['a']), 'bad': 0, 'c': len(world.calls['c'])}


def test_every_client_failing_names_their_ids_and_never_a_secret():
    world = World()
    pool = ClientPool([PoolClient(world, 'id-one', bad=True), PoolClient(world, 'id-two', bad=True)])
    results = within(world, pool.map, lambda u: pool.query_password_info(u, 'src'), ['x', 'y', 'z'])
    assert all(isinstance(r, AllClientsFailed) for r in results)
    with pytest.raises(AllClientsFailed) as caught:
        pool.list_sources(['s1'])
    assert 'id-one' in str(caught.value) and 'id-two' in str(caught.value)
    assert is_auth_failure(caught.value)
    # a pool of one behaves as that client: its own error, as before
    single = ClientPool([PoolClient(World(), 'only', bad=True)])
    with pytest.raises(IscError) as caught:
        single.list_password_sync_groups()
    assert not isinstance(caught.value, AllClientsFailed) and 'invalid_client' in str(caught.value)


def test_calls_outside_map_fail_over_to_the_next_client():
    world = World()
    pool = ClientPool([PoolClient(world, 'bad', bad=True), PoolClient(world, 'good')])
    assert pool.query_password_info('u1', 'src')['identityId'] == 'id-u1'
    assert list(pool.failed) == ['bad'] and world.calls['good'] == [('query', 'u1')]


def test_unknown_outcomes_and_other_refusals_are_not_auth_failures():
    assert not is_auth_failure(IscOutcomeUnknown('set-password: outcome unknown', status=401, operation='set-password'))
    assert not is_auth_failure(IscError('query-password-info failed: HTTP 403', status=403, operation='query-password-info'))
    assert is_auth_failure(IscError('set-password failed: HTTP 401', status=401, operation='set-password'))
    assert is_auth_failure(IscError('oauth-token failed: HTTP 400 invalid_client', status=400, operation='oauth-token'))


def test_parse_api_clients_checks_the_list_and_never_shows_a_secret():
    assert parse_api_clients('[{"client_id": "a", "client_secret": "%s"}]' % SECRET, 'SAIL_API_CLIENTS') == [('a', SECRET)]
    bad = ['{"client_id": "a", "client_secret": "%s"' % SECRET,   # not JSON
           [{'client_id': 'a', 'client_secret': SECRET}, {'client_id': 'a', 'client_secret': SECRET + '2'}],
           [{'client_id': '', 'client_secret': SECRET}], [{'client_id': 'a'}], {'client_id': 'a', 'client_secret': SECRET}]
    for value in bad:
        with pytest.raises(ValueError) as caught:
            parse_api_clients(value, 'api_clients')
        assert SECRET not in str(caught.value), caught.value


# ---------------------------------------------------------------------------------------------- apply over a pool

def test_apply_spreads_changes_keeps_an_identity_on_one_client_and_polls_through_the_submitter(ledger):
    world = World()
    pool = ClientPool([PoolClient(world, 'a'), PoolClient(world, 'b'), PoolClient(world, 'c')])
    # the twins first: as two units they would be the first change of two clients (stealing takes last units)
    groups = [group(100, identity='twin'), group(101, identity='twin')] + [group(i) for i in range(24)]
    outcomes = rotation.apply(pool, groups, ledger, wait_timeout=30, poll_interval=0.0, workers=2, clock=watchdog())
    assert [o['state'] for o in outcomes] == ['FINISHED'] * len(groups)
    assert sorted(world.sent) == sorted(g['account_id'] for g in groups) and set(world.sent.values()) == {1}
    sender = dict((arg, cid) for cid, calls in world.calls.items() for op, arg in calls if op == 'set')
    assert min(collections.Counter(sender.values()).values()) >= 5, collections.Counter(sender.values())
    assert sender['acct100'] == sender['acct101'], 'the changes of one identity go through one client'
    for cid, calls in world.calls.items():
        for op, rid in calls:
            if op == 'status':
                assert sender[world.changes[rid]] == cid, 'polled through the client that submitted it'


def test_apply_moves_the_unsent_changes_of_a_client_that_fails_and_sends_nothing_twice(ledger):
    world = World()
    # 'b' sends three requests, then its secret is revoked: later sets and polls are refused (401)
    pool = ClientPool([PoolClient(world, 'a'), PoolClient(world, 'b', bad_after=3), PoolClient(world, 'c')])
    lines = []
    groups = [group(i) for i in range(30)]
    outcomes = rotation.apply(pool, groups, ledger, wait_timeout=30, poll_interval=0.0, workers=2,
                              progress=lines.append, clock=watchdog())
    assert [o['state'] for o in outcomes] == ['FINISHED'] * len(groups)
    assert sorted(world.sent) == sorted(g['account_id'] for g in groups)
    assert set(world.sent.values()) == {1}, 'no set-password sent twice'
    assert list(pool.failed) == ['b'] and 0 < len(world.calls['b']) <= 3
    assert any('API client b failed authentication' in line for line in lines)


def test_apply_with_every_client_failing_rejects_what_was_never_sent_and_keeps_resends_pending(ledger):
    world = World()
    pool = ClientPool([PoolClient(world, 'x', bad=True), PoolClient(world, 'y', bad=True)])
    groups = [group(1), group(2, resend=True)]
    outcomes = rotation.apply(pool, groups, ledger, wait_timeout=30, poll_interval=0.0, clock=watchdog(),
                              pending_passwords={'src/u2': 'Pw-2-aB3!xyz'}, pending_attempts={'src/u2': 'att2'})
    assert not world.sent
    assert [o['state'] for o in outcomes] == ['REJECTED', 'UNKNOWN']  # a re-send may be live: stays pending
    assert all('x' in o['errors'][0] and 'y' in o['errors'][0] for o in outcomes)
    commits, discards = rotation.outcome_records(outcomes)
    assert commits == [] and discards == [{'attempt': 'att1', 'keys': ['src/u1']}]


def test_a_client_whose_budget_is_spent_takes_nothing_from_the_others():
    work = Assignment([['a'], ['b'], ['c'], ['d']], [0, 1])
    assert drain(work, [0]) == {0: ['a', 'c', 'd', 'b']}  # with room, an idle client steals (the last unit first)
    work = Assignment([['a'], ['b'], ['c'], ['d']], [0, 1])
    assert [work.next(0, steal=False) for _n in range(3)] == ['a', 'c', None], 'its own only'
    assert [work.next(1, steal=False) for _n in range(3)] == ['b', 'd', None]


def test_the_limiter_says_when_a_request_could_start_without_waiting():
    now = [1000.0]
    limiter = RateLimiter(limit=2, window=10, clock=lambda: now[0], sleep=lambda s: None)
    assert limiter.has_room()
    limiter.acquire()
    limiter.acquire()
    assert not limiter.has_room()
    now[0] += 10.2
    assert limiter.has_room()
    limiter.pause(5)
    assert not limiter.has_room(), 'a 429 pause: no room'
    pool = ClientPool([PoolClient(World(), 'p')])
    assert pool.has_room(0), 'a client without a limiter always has room'


def test_a_client_that_has_just_spent_its_budget_gets_less_work():
    work = Assignment([['u%d' % i] for i in range(20)], [0, 1], spent={0: 6})
    assert (work.remaining(0), work.remaining(1)) == (7, 13)


# ---------------------------------------------------------------------------------------------- the budget where it is used

def test_apply_a_client_without_room_takes_no_change_from_the_others(ledger):
    """apply asks each client's budget: one that has used its whole window gets no change (spent) and steals none
    (has_room); one in a 429 pause that has spent 8 requests (4 changes, at 2 requests each) gets 4 changes fewer
    and sends only its own. The budget-bound client is lane 0: apply fills lane 0 first, while the other lane has
    not started a unit, so a steal would be certain."""
    world = World()
    pool = ClientPool([PoolClient(world, 'full', limiter=limiter(100)), PoolClient(world, 'a', limiter=limiter(0))])
    groups = [group(i) for i in range(12)]
    outcomes = rotation.apply(pool, groups, ledger, wait_timeout=30, poll_interval=0.0, workers=8, clock=watchdog())
    assert [o['state'] for o in outcomes] == ['FINISHED'] * len(groups)
    assert world.calls['full'] == [] and by_client(world, 'set') == {'a': 12}
    world = World()
    pool = ClientPool([PoolClient(world, 'paused', limiter=limiter(8, paused=True)), PoolClient(world, 'b', limiter=limiter(0))])
    groups = [group(100 + i) for i in range(10)]
    outcomes = rotation.apply(pool, groups, ledger, wait_timeout=30, poll_interval=0.0, workers=8, clock=watchdog())
    assert [o['state'] for o in outcomes] == ['FINISHED'] * len(groups)
    assert by_client(world, 'set') == {'paused': 3, 'b': 7}


def test_map_a_client_without_room_takes_no_item_from_the_others():
    """map asks each client's budget too: a client that has used its whole window queries nothing (and steals
    nothing: its threads start first, while the other's items wait); of two clients in a 429 pause (no room, so
    neither takes the other's items, whatever the threads' timing), the one that has spent 4 requests gets 4 items
    fewer."""
    world = World()
    pool = ClientPool([PoolClient(world, 'full', limiter=limiter(100)), PoolClient(world, 'a', limiter=limiter(0))])
    users = ['u%02d' % i for i in range(20)]
    results = within(world, pool.map, lambda u: pool.query_password_info(u, 'src'), users, workers=2)
    assert [r['identityId'] for r in results] == ['id-' + u for u in users]
    assert world.calls['full'] == [] and by_client(world, 'query') == {'a': 20}
    world = World()
    pool = ClientPool([PoolClient(world, 'paused', limiter=limiter(4, paused=True)),
                       PoolClient(world, 'b', limiter=limiter(0, paused=True))])
    results = within(world, pool.map, lambda u: pool.query_password_info(u, 'src'), users[:10], workers=4)
    assert [r['identityId'] for r in results] == ['id-' + u for u in users[:10]]
    assert by_client(world, 'query') == {'paused': 3, 'b': 7}
