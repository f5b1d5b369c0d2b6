# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several API clients in one rotation run: each with its own token and limiter, the work spread over them.

Internal to the sailpoint_isc.passwords collection; may change without notice.

ISC's budget is per client id (100 requests / 10 s), so a run with N clients has N budgets. A
ClientPool holds one IscClient per API client (each keeps its own token, token cache entry and limiter
hand-over file: both are named after the client, see auth.credentials_key and limiter.state_path) and
looks like one IscClient to reconcile and plan: ``map`` spreads the items over the clients, and the
operations called inside it go through the client of the calling thread. ``Assignment`` decides who
does what: units of work (everything that shares a password, or one identity's changes) are never split
between clients, each client gets about the same cost, an idle client takes over whole units another
has not started, and the unsent work of a client that fails authentication moves to the others.
A pool of one client behaves as that client alone.
"""

from __future__ import annotations

import collections
import os
import threading

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api_clients import API_CLIENTS_ENV, parse_api_clients
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operation_names import OP_TOKEN


def is_auth_failure(exc):
    """Whether an error says the client itself cannot authenticate (bad secret, 401 after a refresh).

    Such an error is an answer: the request it came with was refused (or, for a token, nothing else was
    sent), so the work can go to another client. An unknown outcome never is one.
    """
    if not isinstance(exc, IscError) or isinstance(exc, IscOutcomeUnknown):
        return False
    return exc.status == 401 or (exc.operation == OP_TOKEN and exc.status in (400, 401, 403))


class AllClientsFailed(IscError):
    """Every API client of the run failed authentication; names their ids, never a secret."""


class Assignment(object):
    """Units of work spread over lanes (one lane per API client).

    ``units`` is a list of lists of items; a unit is handed to one lane as a whole. Units go to the lane
    with the least cost so far, largest first (``cost(unit)``, default its length; ``spent`` counts what a lane
    has already used of its budget, so a client that has just been busy gets less); each lane works its
    units in their original order. ``next(lane)`` hands out the next item of a lane, or steals a whole
    unit the busiest lane has not started. ``fail(lane)`` takes a lane out: its unsent items (those
    handed back with ``give_back``, and the units it had not started) go to the remaining lanes; with
    none left they are ``unsent()``. Every item is handed out once, unless it is given back.
    """

    def __init__(self, units, lanes, cost=len, spent=None):
        self._cost = cost
        self.lanes = list(lanes)
        self._spent = dict(spent or {})  # lane -> cost it has already spent (its budget used for now)
        self.queues = dict((lane, collections.deque()) for lane in self.lanes)
        self.current = dict((lane, collections.deque()) for lane in self.lanes)
        self._unsent = []
        self._spread([list(u) for u in units if u])

    def remaining(self, lane):
        """The cost a lane has not started yet (its current unit counts by its items left)."""
        return sum(self._cost(u) for u in self.queues[lane]) + len(self.current[lane])

    def _spread(self, units):
        if not self.lanes:
            self._unsent.extend(item for unit in units for item in unit)
            return
        load = dict((lane, self.remaining(lane) + self._spent.get(lane, 0)) for lane in self.lanes)
        chosen = {}
        for index in sorted(range(len(units)), key=lambda i: -self._cost(units[i])):
            lane = min(self.lanes, key=lambda other: (load[other], self.lanes.index(other)))
            chosen[index] = lane
            load[lane] += self._cost(units[index])
        for index, unit in enumerate(units):
            self.queues[chosen[index]].append(unit)

    def next(self, lane, steal=True):
        """The next item for ``lane``, or None when nothing is left that it may take. With ``steal`` false (its
        budget is spent for now: work it took from another lane would wait where it is), only its own."""
        if lane not in self.lanes:
            return None
        if not self.current[lane]:
            if self.queues[lane]:
                self.current[lane].extend(self.queues[lane].popleft())
            else:
                if not steal:
                    return None
                victims = [other for other in self.lanes if other != lane and self.queues[other]]
                if not victims:
                    return None
                victim = max(victims, key=lambda other: (sum(self._cost(u) for u in self.queues[other]), -self.lanes.index(other)))
                self.current[lane].extend(self.queues[victim].pop())  # its last unit: the one it would start last
        return self.current[lane].popleft()

    def give_back(self, lane, item):
        """An item ``lane`` took but did not send: first in line again (for another lane if this one failed)."""
        if lane in self.lanes:
            self.current[lane].appendleft(item)
        else:
            self._spread([[item]])

    def fail(self, lane):
        """Take ``lane`` out; its unsent work goes to the others, its current unit staying whole."""
        if lane not in self.lanes:
            return
        leftovers = ([list(self.current[lane])] if self.current[lane] else []) + list(self.queues[lane])
        self.lanes.remove(lane)
        del self.queues[lane], self.current[lane]
        self._spread(leftovers)

    def pending(self):
        """Whether any lane still has an item to hand out."""
        return any(self.queues[lane] or self.current[lane] for lane in self.lanes)

    def unsent(self):
        """Items no lane can take any more (every lane failed)."""
        return list(self._unsent)


class ClientPool(object):
    """Several IscClients of one tenant, used as one; see the module docstring."""

    def __init__(self, clients):
        if not clients:
            raise ValueError('a client pool needs at least one client')
        self.clients = list(clients)
        self.failed = collections.OrderedDict()  # client id -> why it was taken out (no secret)
        self._errors = {}  # lane -> the error that took it out
        self._lock = threading.RLock()
        self._local = threading.local()
        self.api_version = getattr(self.clients[0], 'api_version', None)

    # ---- lanes ------------------------------------------------------------------------------------
    def name(self, lane):
        return getattr(self.clients[lane], 'client_id', None) or 'client %d' % (lane + 1)

    def alive(self):
        with self._lock:
            return [lane for lane in range(len(self.clients)) if lane not in self._errors]

    def spent(self, per_item=1.0):
        """Per client still in the run, its requests in the current rate window, in items of ``per_item`` requests."""
        out = {}
        for lane in self.alive():
            limiter = getattr(self.clients[lane], 'limiter', None)
            out[lane] = limiter.in_window() / float(per_item) if limiter is not None else 0
        return out

    def has_room(self, lane):
        """Whether the client could send a request now without waiting for its rate limiter (or a 429 pause)."""
        limiter = getattr(self.clients[lane], 'limiter', None)
        return limiter is None or limiter.has_room()

    def fail_lane(self, lane, error):
        """Take a client out of the run after it failed authentication. True when it was still in."""
        with self._lock:
            if lane in self._errors:
                return False
            self._errors[lane] = error
            self.failed[self.name(lane)] = str(error)
            return True

    def all_failed_error(self):
        """The error of a run whose every client failed authentication (a pool of one: that client's error)."""
        if len(self.clients) == 1 and 0 in self._errors:
            return self._errors[0]
        return AllClientsFailed('every API client failed authentication: %s. Check their ids and secrets '
                                '(service_account_rotation_api_clients or %s); nothing more was sent'
                                % ('; '.join('%s (%s)' % kv for kv in self.failed.items()), API_CLIENTS_ENV),
                                status=401, operation=OP_TOKEN)

    def check(self):
        """Raise when every client failed authentication."""
        if not self.alive():
            raise self.all_failed_error()

    # ---- one IscClient to reconcile and plan ------------------------------------------------------
    def _current(self):
        lane = getattr(self._local, 'lane', None)
        return self.clients[lane] if lane is not None else None

    def _first(self, method, *args):
        """A call outside map: through the first client still in the run, the next one on an auth failure."""
        bound = self._current()
        if bound is not None:
            return getattr(bound, method)(*args)
        while True:
            alive = self.alive()
            if not alive:
                raise self.all_failed_error()
            try:
                return getattr(self.clients[alive[0]], method)(*args)
            except IscError as exc:
                if not is_auth_failure(exc):
                    raise
                self.fail_lane(alive[0], exc)

    def query_password_info(self, user_name, source_name):
        return self._first('query_password_info', user_name, source_name)

    def password_change_status(self, request_id):
        return self._first('password_change_status', request_id)

    def list_password_sync_groups(self):
        return self._first('list_password_sync_groups')

    def list_sources(self, ids):
        return self._first('list_sources', ids)

    def map(self, fn, items, workers=4, unit_of=None):
        """Run fn(item) over the clients, ``workers`` threads each; results in input order, each a value or the
        IscError. Inside fn the pool's operations go through the thread's client. Items of one ``unit_of``
        key go to one client. An item whose client fails authentication is given to another; when none is
        left, the items not done get the all-failed error."""
        items = list(items)
        if not items:
            return []
        units = collections.OrderedDict()
        for index, item in enumerate(items):
            units.setdefault(unit_of(item) if unit_of else index, []).append(index)
        work = Assignment(units.values(), self.alive(), spent=self.spent())
        results = [None] * len(items)
        done = [False] * len(items)
        cond = threading.Condition()
        busy = [0]

        def run(lane):
            self._local.lane = lane
            try:
                while True:
                    with cond:
                        while True:
                            # another client's item only when this one's budget has room: taken by a client that
                            # must wait anyway, it would wait longer than where it was
                            index = work.next(lane, steal=self.has_room(lane))
                            if index is not None:
                                busy[0] += 1
                                break
                            if lane not in work.lanes or not (busy[0] or work.pending()):
                                cond.notify_all()
                                return
                            cond.wait(0.2)  # an item of a failing client may still come back
                    try:
                        value = fn(items[index])
                    except IscError as exc:
                        value = exc
                    except Exception as exc:  # noqa: BLE001 - one item must never abort the others
                        value = IscError('%s: %s' % (type(exc).__name__, exc))
                    with cond:
                        busy[0] -= 1
                        if is_auth_failure(value):
                            work.give_back(lane, index)
                            self.fail_lane(lane, value)
                            work.fail(lane)
                            cond.notify_all()
                            return
                        results[index], done[index] = value, True
                        cond.notify_all()
            finally:
                self._local.lane = None

        threads = [threading.Thread(target=run, args=(lane,)) for lane in work.lanes
                   for _n in range(max(1, min(int(workers or 1), len(items))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index in range(len(items)):
            if not done[index]:
                results[index] = self.all_failed_error()
        return results

    # ---- bookkeeping ------------------------------------------------------------------------------
    @property
    def stats(self):
        """Every client's stats added up, and the requests each client sent (by client id)."""
        total = {'requests': {}, 'by_client': {}}
        for lane, client in enumerate(self.clients):
            for key, value in client.stats.items():
                if key == 'requests':
                    for op, n in value.items():
                        total['requests'][op] = total['requests'].get(op, 0) + n
                    if len(self.clients) > 1:
                        total['by_client'][self.name(lane)] = sum(value.values())
                else:
                    total[key] = total.get(key, 0) + value
        if not total['by_client']:
            del total['by_client']
        return total

    def close(self):
        for client in self.clients:
            client.close()


def as_pool(client):
    """A ClientPool for a client, or the pool itself."""
    return client if isinstance(client, ClientPool) else ClientPool([client])


def pool_from_module(module, client_class):
    """The run's clients: the api_clients option, else SAIL_API_CLIENTS, else the one client of the connection
    options (as every module). Fails the module with a message that names no secret."""
    given, source = module.params.get('api_clients') or [], 'api_clients'
    if not given and os.environ.get(API_CLIENTS_ENV, '').strip():
        given, source = os.environ[API_CLIENTS_ENV], API_CLIENTS_ENV
    if not given:
        return ClientPool([client_class.from_module(module)])
    try:
        pairs = parse_api_clients(given, source)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for _cid, secret in pairs:
        module.no_log_values.add(secret)  # from the environment they are no option Ansible knows to hide
    if module.params.get('access_token'):
        module.fail_json(msg='access_token and %s exclude each other: a given token belongs to one client' % source)
    return ClientPool([client_class.from_module(module, client_id=cid, client_secret=secret, access_token=None)
                       for cid, secret in pairs])
