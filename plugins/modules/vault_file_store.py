#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_file_store
short_description: Keep rotated passwords in a local file encrypted with Ansible Vault
version_added: 0.1.0
description:
  - The default secret store of the P(sailpoint_isc.passwords.service_account_rotation#role) role.
  - One JSON document, encrypted with Ansible Vault using the vault password of the run, holding per
    account the C(current) password and, while a change is in flight, the C(pending) one.
  - Writes merge into the existing document under a file lock and replace the file atomically with mode
    C(0600); a store that cannot be decrypted or parsed stops the task with a clear error and is never
    overwritten.
  - Runs on the controller (action plugin); the vault password comes from C(--vault-password-file),
    C(--vault-id) or C(ANSIBLE_VAULT_PASSWORD_FILE).
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  path:
    description: Path of the encrypted store file on the controller.
    type: path
    required: true
  op:
    description:
      - V(check) decrypts the store and returns the keys that hold a pending password.
      - V(pending) escrows the password of each record as pending for each of its keys.
      - V(commit) makes the pending password of each key current.
      - V(discard) drops the pending password of each key; the current one stays.
      - V(read_pending) and V(read_current) return passwords for O(keys); the result is always hidden
        from output (C(no_log)).
    type: str
    required: true
    choices: [check, pending, commit, discard, read_pending, read_current]
  records:
    description: For O(op=pending), the records to escrow.
    type: list
    elements: dict
    default: []
    suboptions:
      keys:
        description: Account keys (C(source/user) or C(source/user#account_id)) sharing this password.
        type: list
        elements: str
      password:
        description: The new password.
        type: str
  keys:
    description: Account keys for O(op=commit), O(op=discard), O(op=read_pending) and O(op=read_current).
    type: list
    elements: str
    default: []
  vault_id:
    description: Vault id whose password encrypts the store; the first vault secret of the run when omitted.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change; the file is not written.
  diff_mode:
    support: none
    description: Will return details on what has changed when in diff mode.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller; the store file is a controller path.
notes:
  - Back the store file up like any other secret; without the vault password its content cannot be recovered.
'''

EXAMPLES = r'''
- name: Show which accounts hold a pending password
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: check
  register: store

- name: Read the current password of one account
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: read_current
    keys: [Corp-AD/svc-app-001]
  register: current
  no_log: true
'''

RETURN = r'''
pending_keys:
  description: Keys holding a pending password (O(op=check)).
  returned: when O(op=check)
  type: list
  elements: str
  sample: [Corp-AD/svc-app-001]
accounts:
  description: Number of accounts in the store (O(op=check)).
  returned: when O(op=check)
  type: int
  sample: 60
updated:
  description: Keys whose entry changed.
  returned: when O(op) is V(pending), V(commit) or V(discard)
  type: list
  elements: str
passwords:
  description: Key to password mapping; never shown in output.
  returned: when O(op) is V(read_pending) or V(read_current)
  type: dict
'''
