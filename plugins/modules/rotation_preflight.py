#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rotation_preflight
short_description: Check where a password rotation may run and find its state directory
version_added: 0.2.0
description:
  - The first task of the P(sailpoint_isc.passwords.service_account_rotation#role) role and of the import playbook,
    before anything is read, generated, written or sent.
  - Refuses (O(require_pipelining)) when Ansible cannot pipeline modules on this host with these settings
    (C(ANSIBLE_KEEP_REMOTE_FILES), a connection or become method without pipelining, C(async), pipelining turned off
    with a higher precedence than the role's C(ansible_pipelining=true)). A module that is not pipelined is written
    with its arguments, new passwords and API client secrets among them, to a file under Ansible's remote temporary
    directory. The message names the setting.
  - Returns the state directory. O(state_dir) when given; otherwise the default, which depends on the user, the tenant
    and the shard and never on the working directory,
    C(${XDG_STATE_HOME:-~/.local/state}/sailpoint_isc/rotation/<tenant>/all) or C(.../<tenant>/shard-<i>-of-<N>).
    C(<tenant>) is the API root's host, its port when not the default and its path (C(acme.api.identitynow.com),
    C(127.0.0.1_8089)), from C(module_defaults) of the C(group/sailpoint_isc.passwords.isc) (C(base_url) or C(tenant))
    or C(SAIL_BASE_URL).
  - When the default holds no ledger and no store but an old default location (C(rotation) or
    C(rotation-shard-<i>-of-<N>) below the working directory or the playbook's directory) does, it fails naming both
    and how to move the state, rather than start afresh and rotate every account again.
  - With O(settings), first checks the settings of the role as M(sailpoint_isc.passwords.rotation_settings) does
    (one task, one line in the log).
  - Runs on the controller (action plugin); writes nothing.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  state_dir:
    description: The state directory chosen by the user; empty for the default (see above).
    type: str
    default: ''
  shard:
    description: The run's shard, C(i/N), or empty; spellings of one shard (C(01/4), C(1/4), C( 1 / 4)) give one directory.
    type: str
    default: ''
  require_pipelining:
    description: Refuse when Ansible would not pipeline a module on this host (see above).
    type: bool
    default: true
  connection_of:
    description: The module whose C(module_defaults) (its action group's) name the tenant.
    type: str
    default: sailpoint_isc.passwords.isc_rotation
  settings:
    description:
      - The role's settings, checked before anything else; the options of M(sailpoint_isc.passwords.rotation_settings).
      - Any problem fails the task with one message naming every problem.
    type: dict
    suboptions:
      numbers:
        description: The numeric settings by their short name (C(workers), C(batch_size), C(max_attempts),
          C(wait_timeout), C(poll_interval), C(max_age_days), C(password_length), C(report_history)).
        type: dict
        default: {}
      shard:
        description: The run's shard, C(i/N), or empty for the whole fleet.
        type: str
        default: ''
      accounts_from:
        description: Where the role takes its accounts from, C(list) or C(inventory).
        type: str
        default: list
      inventory_groups:
        description: The inventory groups whose hosts are rotated when O(settings.accounts_from=inventory).
        type: list
        elements: str
        default: []
      accounts_given:
        description: How many accounts the role's accounts list holds.
        type: int
        default: 0
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc.controller_read_only
'''

EXAMPLES = r'''
- name: Find the state directory, refuse where secrets would reach temporary files
  sailpoint_isc.passwords.rotation_preflight:
    shard: "2/4"
  vars:
    ansible_pipelining: true
  register: preflight
'''

RETURN = r'''
state_dir:
  description: The absolute state directory of this run.
  returned: success
  type: str
default:
  description: Whether RV(state_dir) is the default (O(state_dir) was empty).
  returned: success
  type: bool
'''
