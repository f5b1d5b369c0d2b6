# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of rotation_accounts_file: find an accounts file and check it row by row."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.accounts_file import check_text

ARGUMENT_SPEC = {'path': {'type': 'str', 'required': True}}


class ActionModule(ControllerAction):
    def run(self, tmp=None, task_vars=None):
        del tmp
        result, args = self.start(task_vars, ARGUMENT_SPEC)
        given = (args['path'] or '').strip()
        # relative to the working directory, as rotation_state_dir (rotation_preflight): never the collection's playbooks
        path = os.path.abspath(os.path.expanduser(given))
        result.update(changed=False, path=path)
        if not given:
            result.update(failed=True, msg='rotation_accounts_file is not set: pass -e rotation_accounts_file=/path/to/'
                          'accounts.yml (a YAML file that sets service_account_rotation_accounts; see '
                          'playbooks/accounts.example.yml; relative paths are taken from the working directory)')
            return result
        if not os.path.isfile(path):
            result.update(failed=True, msg='accounts file %s: Could not find it (%s); relative paths are taken from the '
                          'working directory %s, not the playbook\'s; give an absolute path or run from its directory'
                          % (path, 'a directory' if os.path.isdir(path) else 'no such file', os.getcwd()))
            return result
        try:
            # decrypts a vault-encrypted file as include_vars would
            data, _shown = self._loader._get_file_contents(path)  # pylint: disable=protected-access
        except AnsibleError as exc:
            result.update(failed=True, msg='accounts file %s cannot be read: %s' % (path, to_text(exc).splitlines()[0]))
            return result
        problems = check_text(to_text(data, errors='surrogate_or_strict'), path)
        if problems:
            result.update(failed=True, msg='; '.join(problems) + '. Nothing was read or sent')
        return result
