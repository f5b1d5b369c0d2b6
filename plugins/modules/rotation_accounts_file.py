#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rotation_accounts_file
short_description: Check an accounts file row by row before a rotation reads it
version_added: 0.2.0
description:
  - The first task of the C(sailpoint_isc.passwords.rotate_service_accounts) playbook, before the accounts file is read
    with M(ansible.builtin.include_vars).
  - Fails with one message naming the file, the row (its number, line and content), the field and the fix for every
    mistake of the file (up to ten) - an unknown field (with the nearest known one), a missing or empty
    C(source_name) or C(user_name), a number that is not one, a row that is not a mapping - or, for a YAML syntax
    error, its line, column and cause.
  - A relative O(path) is taken from the working directory, as the role's C(service_account_rotation_state_dir);
    never from the playbook's directory (inside the installed collection).
  - Reads a vault-encrypted file as M(ansible.builtin.include_vars) does. Runs on the controller (action plugin);
    writes nothing.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  path:
    description: The accounts file, a YAML file that sets C(service_account_rotation_accounts).
    type: str
    required: true
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc.controller_read_only
'''

EXAMPLES = r'''
- name: Check the accounts file
  sailpoint_isc.passwords.rotation_accounts_file:
    path: "{{ rotation_accounts_file }}"
  register: accounts_file

- name: Read it
  ansible.builtin.include_vars:
    file: "{{ accounts_file.path }}"
'''

RETURN = r'''
path:
  description: The absolute path of the accounts file.
  returned: always
  type: str
  sample: /home/ops/rotation/accounts.yml
'''
