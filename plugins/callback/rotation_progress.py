# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rotation_progress
type: notification
short_description: Shows the progress of a long rotation in the job log while it runs
version_added: 0.1.0
description:
  - The apply phase of the P(sailpoint_isc.passwords.isc_rotation#module) module (run by the
    C(sailpoint_isc.passwords.service_account_rotation) role) sends every password change of a run in one
    task, and a task's output only appears when it ends.
  - With this callback enabled, the job log gets the newest progress line of that task (changes settled,
    in flight, rate, ETA) every O(interval) seconds while it runs. The lines carry no secret.
  - It prints nothing for any other task.
requirements:
  - Enable it with C(callbacks_enabled = sailpoint_isc.passwords.rotation_progress) in the C([defaults]) section
    of C(ansible.cfg), or C(ANSIBLE_CALLBACKS_ENABLED=sailpoint_isc.passwords.rotation_progress) in the
    environment (in AWX/AAP, in the job template's or the settings' environment variables).
  - The rotation runs on the controller (the role delegates nothing elsewhere), which is where the progress
    file is read.
options:
  interval:
    description: Seconds between two progress lines in the job log.
    type: float
    default: 20
    env:
      - name: SAIL_ROTATION_PROGRESS_INTERVAL
    ini:
      - section: sailpoint_isc_rotation_progress
        key: interval
"""

import os
import threading

from ansible.plugins.callback import CallbackBase

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.progress import pointer_path, read_pointer


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'sailpoint_isc.passwords.rotation_progress'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._stop = threading.Event()
        self._watcher = None
        self._shown = None  # the last line printed

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if self._watcher is None:
            try:
                os.unlink(pointer_path(os.getpid()))  # left by a killed module of an earlier process with this pid
            except OSError:
                pass
            self._watcher = threading.Thread(target=self._watch, name='rotation-progress', daemon=True)
            self._watcher.start()

    def _watch(self):
        # the modules name their progress log after this process: the controller (module_utils/progress.py)
        pid = os.getpid()
        interval = max(1.0, float(self.get_option('interval')))
        while not self._stop.wait(interval):
            line = newest_line(*read_pointer(pid))
            if line and line != self._shown:
                self._shown = line
                self._display.display('rotation progress: %s' % line)

    def v2_playbook_on_stats(self, stats):
        self._stop.set()


def newest_line(path, offset=0):
    """The last complete line of a progress log after offset (an earlier run's lines come before it), reading only
    its end; None when there is none."""
    if not path:
        return None
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(offset, size - 4096))
            tail = handle.read().decode('utf-8', 'replace')
    except OSError:
        return None
    lines = [line for line in tail.split('\n')[:-1] if line.strip()]
    return lines[-1] if lines else None
