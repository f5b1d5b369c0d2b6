# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the collection's action plugins that do all their work on the controller."""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Runs on the controller: no file transfer, no connection to the host."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def start(self, task_vars, argument_spec):
        """The base result and the task's arguments, checked against argument_spec."""
        result = super(ControllerAction, self).run(None, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec)
        return result, args
