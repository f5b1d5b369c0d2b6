# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines of a long rotation phase, readable while the phase runs. Never a secret.

A module's output only reaches the job log when the module ends. So the lines also go to
``progress.log`` beside the ledger (``tail -f``), and the module leaves a small pointer file, named
after the ansible-playbook process that runs it, from which the ``rotation_progress`` callback of that
controller finds the log and prints its newest line while the task is still running.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import CACHE_ROOT, TIME_FORMAT, expand, write_atomic
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.lease import controller_pid

POINTER_DIR = CACHE_ROOT + '/progress'


def pointer_path(pid):
    """Where the module running under controller ``pid`` names its progress log."""
    return os.path.join(expand(POINTER_DIR), '%d.json' % pid)


def read_pointer(pid):
    """(progress log, offset where the running phase's lines begin) named for controller ``pid``, or (None, 0)."""
    try:
        with open(pointer_path(pid)) as handle:
            pointer = json.load(handle)
        return pointer.get('path'), int(pointer.get('offset') or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None, 0


class ProgressLog:
    """Collects a phase's progress lines: for the module result, progress.log, and the callback."""

    def __init__(self, ledger_path, clock=time.time):
        self.path = os.path.join(os.path.dirname(ledger_path) or '.', 'progress.log')
        self.lines = []
        self._clock = clock
        self._started = clock()
        self._pointer = pointer_path(controller_pid())
        try:
            # the log keeps earlier runs' lines: the callback reads only what this phase appends after offset
            offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0
            write_atomic(self._pointer, json.dumps({'path': os.path.abspath(self.path), 'offset': offset}) + '\n')
        except OSError:
            self._pointer = None  # no live progress in the job log; progress.log still has it

    def __call__(self, line):
        line = '%s %s (%.0f s)' % (time.strftime(TIME_FORMAT, time.gmtime()), line,
                                   self._clock() - self._started)
        self.lines.append(line)
        with open(self.path, 'a') as handle:
            handle.write(line + '\n')

    def close(self):
        if self._pointer:
            try:
                os.unlink(self._pointer)
            except OSError:
                pass
