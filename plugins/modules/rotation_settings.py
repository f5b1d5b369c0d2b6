#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rotation_settings
short_description: Check the settings of a password rotation before anything is read or written
version_added: 0.2.0
description:
  - The first task of the C(sailpoint_isc.passwords.service_account_rotation) role.
  - Refuses, in one message, every variable named C(service_account_rotation_*) that the role does not read (a
    misspelling such as C(service_account_rotation_forse) would otherwise be ignored), naming the nearest known one;
    the role's own facts (C(service_account_rotation__*)) are not checked.
  - Refuses a numeric setting below its least value and a shard that is not C(i/N) with C(1 <= i <= N).
  - With O(accounts_from=inventory), refuses an accounts list given as well and inventory groups the inventory does not
    have (a misspelt group would rotate nothing).
  - Runs on the controller (action plugin); reads the task's variables, writes nothing.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  numbers:
    description: The numeric settings by their short name (C(workers), C(batch_size), C(max_attempts), C(wait_timeout),
      C(poll_interval), C(max_age_days), C(password_length), C(report_history)).
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
    description: The inventory groups whose hosts are rotated when O(accounts_from=inventory).
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
- name: Check the settings
  sailpoint_isc.passwords.rotation_settings:
    numbers:
      workers: "{{ service_account_rotation_workers }}"
    shard: "{{ service_account_rotation_shard }}"
'''

RETURN = r'''
changed:
  description: Always false.
  returned: always
  type: bool
'''
