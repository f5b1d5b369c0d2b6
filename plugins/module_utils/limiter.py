# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client-side rate limiter, and the small file through which one task of a play hands its recent
request times (timestamps only, no token, no secret) to the next, so that the budget outlives a task."""

from __future__ import annotations

import json
import os
import threading
import time

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import files
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import write_atomic


class RateLimiter(object):
    """Thread-safe sliding-window limiter: at most ``limit`` starts per ``window`` seconds.

    ``clock`` and ``sleep`` are injectable so tests need no real waiting. ``pause(seconds)``
    holds every caller back (used when ISC answers 429 with Retry-After). With a ``state_path``,
    ``load_state`` takes over the budget an earlier process left there and ``save_state`` leaves it.
    """

    def __init__(self, limit=100, window=10.0, clock=None, sleep=None, state_path=None):
        if limit < 1 or window <= 0:
            raise ValueError('rate_limit must be >= 1 and rate_window > 0')
        self.limit = int(limit)
        self.window = float(window)
        # A start holds its slot a little (1%, at most 0.1 s) longer than the window: ISC counts a
        # request when it arrives, later than it left here and by a varying delay, so a start exactly
        # one window after an older one could still land inside ISC's window and draw a 429.
        self.span = self.window + min(0.1, self.window * 0.01)
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._starts = []
        self._paused_until = 0.0
        self.waited = 0.0
        self.state_path = state_path

    def pause(self, seconds):
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def in_window(self):
        """Requests started in the current window: the part of the budget spent for now."""
        with self._lock:
            cutoff = self._clock() - self.span
            return sum(1 for t in self._starts if t > cutoff)

    def has_room(self):
        """Whether a request could start now without waiting: no 429 pause, fewer than ``limit`` starts in the window."""
        with self._lock:
            if self._clock() < self._paused_until:
                return False
        return self.in_window() < self.limit

    def snapshot(self):
        """Recent request starts and any 429 pause, so the next process of a play can honour them."""
        with self._lock:
            cutoff = self._clock() - self.span
            return {'starts': [t for t in self._starts if t > cutoff], 'paused_until': self._paused_until}

    def restore(self, state):
        """Take over the budget an earlier process of the same play used (see snapshot)."""
        with self._lock:
            cutoff = self._clock() - self.span
            starts = [float(t) for t in (state or {}).get('starts', []) if float(t) > cutoff]
            self._starts = sorted(self._starts + starts)[-self.limit:]
            self._paused_until = max(self._paused_until, float((state or {}).get('paused_until', 0.0)))

    def acquire(self):
        """Block until a request may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    cutoff = now - self.span
                    starts = self._starts
                    drop = 0
                    while drop < len(starts) and starts[drop] <= cutoff:
                        drop += 1
                    if drop:
                        del starts[:drop]
                    if len(starts) < self.limit:
                        starts.append(now)
                        self.waited += waited
                        return waited
                    wait = starts[0] + self.span - now
            wait = max(wait, 0.001)
            self._sleep(wait)
            waited += wait

    def load_state(self):
        """Take over the budget left in state_path, if any."""
        if not self.state_path:
            return
        try:
            with open(self.state_path) as handle:
                self.restore(json.load(handle))
        except (OSError, ValueError, TypeError):
            pass  # no state yet, or unreadable: start with a fresh budget

    def save_state(self):
        """Leave the budget in state_path for the next task of the play."""
        if not self.state_path:
            return
        try:
            write_atomic(self.state_path, json.dumps(self.snapshot()))
        except OSError:
            pass  # losing the hand-over only costs a 429 later, which is honoured


def state_path(directory, key, api_version):
    """The hand-over file of one budget: ISC counts per client and API version.

    ``key`` names the client without revealing it (auth.credentials_key); the file lives in
    ``directory`` whether or not tokens are cached.
    """
    return os.path.join(files.expand(directory), '%s.%s.limiter' % (key[:40], api_version))
