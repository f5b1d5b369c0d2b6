# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the module isc_password_dictionary always pipelined: its arguments carry secrets (plugin_utils/pipelining.py)."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.pipelining import PipelinedModuleAction


class ActionModule(PipelinedModuleAction):
    pass
