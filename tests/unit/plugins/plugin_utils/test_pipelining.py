# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 22 item 3: every setting that stops Ansible from pipelining is named (the role then refuses)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.pipelining import problems

LOCAL = dict(keep_remote_files=False, connection='local', has_pipelining=True, always_pipeline=False, enabled=True)


def test_local_connection_with_pipelining_on_has_no_problem():
    assert problems(**LOCAL) == []
    assert problems(**dict(LOCAL, become='sudo')) == []
    assert problems(keep_remote_files=False, connection='winrm', has_pipelining=True, always_pipeline=True, enabled=False,
                    async_val=10) == []


@pytest.mark.parametrize('change, named', [
    ({'keep_remote_files': True}, 'ANSIBLE_KEEP_REMOTE_FILES'),
    ({'connection': 'paramiko_ssh', 'has_pipelining': False}, 'the connection paramiko_ssh cannot pipeline'),
    ({'become': 'su'}, 'the become method su cannot pipeline'),
    ({'become': 'community.general.machinectl', 'become_pipelining': False}, 'become method community.general.machinectl'),
    ({'enabled': False}, 'pipelining is off for the connection local'),
    ({'async_val': 30}, 'async'),
])
def test_each_setting_that_stops_pipelining_is_named(change, named):
    found = problems(**dict(LOCAL, **change))
    assert len(found) == 1 and named in found[0], found
