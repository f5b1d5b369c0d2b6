# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of rotation_settings: the role's settings checked in one task, one line in the log."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils import role_settings

ARGUMENT_SPEC = role_settings.SETTINGS_SPEC


class ActionModule(ControllerAction):
    def run(self, tmp=None, task_vars=None):
        del tmp
        result, args = self.start(task_vars, ARGUMENT_SPEC)
        problems = role_settings.settings_problems(args, task_vars)
        result['changed'] = False
        if problems:
            result.update(failed=True, msg='; '.join(problems) + '. Nothing was read or written')
        return result
