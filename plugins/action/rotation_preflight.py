# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of rotation_preflight: the state directory of a run, and whether its secrets stay off disk."""

from __future__ import annotations

import os

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.pipelining import action_problems
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils import role_settings
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import state_dir
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

from ansible.executor import module_common

ARGUMENT_SPEC = {
    'state_dir': {'type': 'str', 'default': ''},
    'shard': {'type': 'str', 'default': ''},
    'require_pipelining': {'type': 'bool', 'default': True},
    'connection_of': {'type': 'str', 'default': 'sailpoint_isc.passwords.isc_rotation'},
    # the role's settings, checked first (as rotation_settings): one task, one line in the log
    'settings': {'type': 'dict', 'options': role_settings.SETTINGS_SPEC},
}
OMIT_PREFIX = '__omit_place_holder__'


class ActionModule(ControllerAction):
    def run(self, tmp=None, task_vars=None):
        del tmp
        result, args = self.start(task_vars, ARGUMENT_SPEC)
        problems = role_settings.settings_problems(args['settings'], task_vars) if args['settings'] else []
        if problems:
            result.update(failed=True, msg='; '.join(problems) + '. Nothing was read or written')
            return result
        if args['require_pipelining']:
            found = action_problems(self)
            if found:
                result.update(failed=True, msg='this run would write secrets (new passwords, API client secrets) to '
                              "Ansible's temporary files, because Ansible cannot pipeline its modules here: %s. "
                              'Nothing was read, generated or sent' % '; '.join(found))
                return result
        explicit = (args['state_dir'] or '').strip()
        if explicit:
            result.update(changed=False, state_dir=os.path.abspath(os.path.expanduser(explicit)), default=False)
            return result
        base_url, tenant = self._connection_of(args['connection_of'])
        try:
            directory = state_dir.default_state_dir(os.environ, base_url, tenant, args['shard'])
        except (IscError, ValueError) as exc:
            result.update(failed=True, msg='the default state directory depends on the tenant and the shard: %s. '
                          'Nothing was read or written' % exc)
            return result
        places = [os.environ.get('PWD'), os.getcwd(), (task_vars or {}).get('playbook_dir')]
        problem, warnings = state_dir.legacy_problem(directory, state_dir.legacy_state_dirs(
            [p for p in places if p], args['shard']))
        result.update(changed=False, state_dir=directory, default=True)
        if warnings:
            result['warnings'] = warnings
        problem = problem or state_dir.other_shard_problem(directory)
        if problem:
            result.update(failed=True, msg=problem)
        return result

    def _connection_of(self, action):
        """base_url and tenant as the modules of the isc group get them: module_defaults, else SAIL_BASE_URL."""
        try:
            if hasattr(module_common, '_apply_action_arg_defaults'):  # ansible-core 2.19 and later
                defaults = module_common._apply_action_arg_defaults(action, self._task, {}, self._templar)
            else:  # ansible-core 2.16 to 2.18
                defaults = module_common.get_action_args_with_defaults(
                    action, {}, self._task.module_defaults, self._templar, action_groups=self._task._parent._play._action_groups)
        except Exception:  # pylint: disable=broad-except  # a default that does not template: the environment decides
            defaults = {}

        def given(name):
            value = defaults.get(name)
            return value if isinstance(value, str) and value.strip() and not value.startswith(OMIT_PREFIX) else None
        base_url, tenant = given('base_url'), given('tenant')
        if tenant:
            return None, tenant
        return base_url or os.environ.get('SAIL_BASE_URL'), None
