# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes of one identity, one at a time, and which of them an account holds last (used by rotation.py, reach.py
and planning.py).

Internal to the sailpoint_isc.passwords collection; may change without notice.

A change reaches the accounts of its identity on the sources of its sync group as the group is when ISC applies it,
and ISC's status tells no time. When a source joins a group while two changes of one identity run, both reach the
same accounts and which password an account holds would be a guess. So the order is made known:
  apply   the changes of one identity are sent one after another (Turns): the next goes out once the one before
          is terminal (FINISHED, FAILED, or never sent); after one that may still be running at ISC (IN_PROGRESS at
          the timeout, status or outcome unknown) the others are not sent this run (DEFERRED)
  plan    an identity whose change is still running at ISC gets no new change (planning.decide_members: waiting)
  settle  an account that two changes of the run reached holds the later one's password (settle_overlaps)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections

DEFERRED = 'DEFERRED'  # the outcome state of a change not sent: an earlier change of its identity may still be running
BLOCKING = ('IN_PROGRESS', 'STATUS_UNKNOWN', 'UNKNOWN')  # raw apply states of a change that may still be running
MAY_HOLD = ('FINISHED', 'UNKNOWN', 'IN_PROGRESS', 'STATUS_UNKNOWN')  # settled states of a change that may have set it


def identity_of(group):
    return group.get('identity_id') or group['group']


class Turns(object):
    """The changes of each identity in the order they are sent, one at a time."""

    def __init__(self, groups):
        self.units = collections.OrderedDict()
        for group in groups:
            self.units.setdefault(identity_of(group), []).append(group)
        self.queues = dict((ident, collections.deque(unit[1:])) for ident, unit in self.units.items())

    def firsts(self):
        """Units for client_pool.Assignment: the first change of each identity (the others follow it, on its lane)."""
        return [[unit[0]] for unit in self.units.values()]

    def cost(self, unit):
        return len(self.units[identity_of(unit[0])])

    def after(self, group, state):
        """(the next change of the identity to send, or None; the changes not to send this run) once ``group`` ended
        in ``state``."""
        queue = self.queues.get(identity_of(group))
        if not queue:
            return None, []
        if state in BLOCKING:
            held = list(queue)
            queue.clear()
            return None, held
        return queue.popleft(), []


def deferred_because(group):
    return ('not sent: the change of this identity sent before it (%s) may still be running at ISC, and two changes of '
            'one identity that a sync group may join must not run at once; the next run sends it once that one is '
            'settled' % group['group'])


def settle_overlaps(outcomes, held=None):
    """An account that several changes of this run may have set holds the password of the one sent last (the changes
    of an identity go out one after another). The others let go of it: out of their ``keys`` (so no commit, ledger
    event or report row of theirs names it), listed in ``overtaken``. Where it holds an earlier change's escrowed
    pending, the later change's escrow for it (reach_escrow) supersedes that pending when the earlier may have set
    it (``supersede`` {key: attempt}), else that pending is discarded first: returns those discards.
    held: {key: attempt} escrowed this run for changes an earlier apply phase sent (sent before these): a key one of
    these changes reached beyond its plan that holds such a pending gets the same supersede."""
    last = {}
    for outcome in sorted((o for o in outcomes if o.get('sent') is not None and o['state'] in MAY_HOLD),
                          key=lambda o: o['sent']):
        for key in outcome['keys']:
            last[key] = outcome
    discards = []
    for outcome in outcomes:
        for key in [k for k in outcome['keys'] if k in last and last[k] is not outcome]:
            final = last[key]
            outcome['keys'].remove(key)
            outcome.setdefault('overtaken', []).append(key)
            if key in (outcome.get('reached') or {}):
                del outcome['reached'][key]  # reached beyond its plan, then by a later change: no escrow of its own
                continue
            if key not in (final.get('reached') or {}) or not outcome.get('attempt'):
                continue
            if outcome['state'] in MAY_HOLD or outcome.get('resend'):
                final.setdefault('supersede', {})[key] = outcome['attempt']
            else:
                discards.append({'attempt': outcome['attempt'], 'keys': [key]})
    for key, attempt in sorted((held or {}).items()):
        final = last.get(key)
        if final is not None and key in (final.get('reached') or {}) and attempt != final.get('attempt'):
            final.setdefault('supersede', {}).setdefault(key, attempt)
    return discards


def defer_blocked(outcomes, users_of):
    """Changes held back (to plan again) of an identity whose other change may still be running are not planned
    again this run: DEFERRED. users_of(outcome) names its identities. Returns the user names so deferred."""
    busy = set()
    for outcome in outcomes:
        if outcome['state'] in BLOCKING:
            busy.update(users_of(outcome))
    deferred = set()
    for outcome in outcomes:
        if outcome['state'] == 'REPLAN' and busy & set(users_of(outcome)):
            outcome['state'] = DEFERRED
            outcome['errors'] = list(outcome.get('errors') or []) + [
                'another change of this identity may still be running at ISC: planned again by the next run']
            deferred.update(users_of(outcome))
    return deferred
