# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's own expressions, read from its task files, for the unit tests that template them as the role does."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

TASKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'roles', 'service_account_rotation',
                     'tasks')


def task_expressions(*path):
    """The set_fact expressions and task vars of one task file of the role (path under tasks/), by name."""
    with open(os.path.join(TASKS, *path)) as handle:
        tasks = yaml.safe_load(handle)
    out = {}
    for task in tasks:
        out.update(task.get('ansible.builtin.set_fact') or {})
        out.update(task.get('vars') or {})
    return out
