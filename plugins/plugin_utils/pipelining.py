# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether Ansible pipes a module to its interpreter here, and if not, which setting stops it.

Internal to the sailpoint_isc.passwords collection; may change without notice.

A module that is not pipelined is written, with its arguments, to a file under the remote temporary directory
(~/.ansible/tmp/ansible-tmp-*/AnsiballZ_<module>.py), and kept there with ANSIBLE_KEEP_REMOTE_FILES or after a
kill. The rotation's modules carry new passwords and API client secrets in their arguments, so the role runs
only where Ansible pipelines.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


def problems(keep_remote_files, connection, has_pipelining, always_pipeline, enabled, become=None,
             become_pipelining=True, async_val=0, native_async=False):
    """The settings (as messages) that stop Ansible from pipelining a module; empty when it pipelines."""
    found = []
    if keep_remote_files:
        found.append('ANSIBLE_KEEP_REMOTE_FILES (keep_remote_files in ansible.cfg) is on: Ansible then writes every '
                     'module with its arguments to a file and keeps it; unset it')
    if not has_pipelining and not always_pipeline:
        found.append('the connection %s cannot pipeline modules: run the role on a host with connection local (or '
                     'ssh)' % connection)
    if become and (become == 'su' or not become_pipelining):
        found.append('the become method %s cannot pipeline modules (become_method): run the role without become, '
                     'or with a become method that pipelines (sudo)' % become)
    if has_pipelining and not enabled and not always_pipeline and not (become and not become_pipelining):
        found.append('pipelining is off for the connection %s: a variable or setting with a higher precedence than '
                     "the role's ansible_pipelining: true turns it off (ansible_pipelining or ansible_%s_pipelining in "
                     'extra vars, ANSIBLE_PIPELINING, pipelining in ansible.cfg); remove it' % (connection, connection))
    if async_val and not native_async and not always_pipeline:
        found.append('the task runs with async (async: %s), which Ansible never pipelines: remove async' % async_val)
    return found


def action_problems(action):
    """problems() for the task an action plugin runs (its connection, become plugin and settings)."""
    from ansible import constants as C  # pylint: disable=import-outside-toplevel
    connection = action._connection
    try:
        enabled = connection.get_option('pipelining')
    except (KeyError, AttributeError, ValueError):
        enabled = getattr(action._play_context, 'pipelining', False)
    become = connection.become
    found = problems(
        keep_remote_files=bool(C.DEFAULT_KEEP_REMOTE_FILES),
        connection=getattr(connection, '_load_name', None) or getattr(connection, 'transport', '?'),
        has_pipelining=bool(getattr(connection, 'has_pipelining', False)),
        always_pipeline=bool(getattr(connection, 'always_pipeline_modules', False)),
        enabled=bool(enabled),
        become=become.name if become else None,
        become_pipelining=bool(getattr(become, 'pipelining', True)) if become else True,
        async_val=action._task.async_val,
        native_async=bool(getattr(connection, 'has_native_async', False)))
    if not found and not action._is_pipelining_enabled('new', wrap_async=bool(action._task.async_val)):
        found.append('Ansible would not pipeline modules on this connection (%s)' % getattr(connection, '_load_name', '?'))
    return found


class PipelinedModuleAction(ActionBase):
    """The action of a module whose arguments carry secrets (an API client secret, a password): it runs the module of
    its name always pipelined, so Ansible never writes it with its arguments to a temporary file, and refuses where
    Ansible cannot pipeline. Pipelining is off by default in Ansible; turning it on for this one task changes nothing
    else, and the module runs exactly as it would without this action."""

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super(PipelinedModuleAction, self).run(None, task_vars)
        self._connection.set_option('pipelining', True)
        found = action_problems(self)
        if found:
            result.update(failed=True, msg='%s takes secrets (an API client secret, a password) in its arguments, and '
                          'Ansible cannot pipeline it here, so it would write them to a temporary file: %s. Nothing was '
                          'sent' % (self._task.action, '; '.join(found)))
            return result
        result.update(self._execute_module(task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
