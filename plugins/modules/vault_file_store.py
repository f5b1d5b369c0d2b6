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
  - The default secret store of the P(sailpoint_isc.passwords.service_account_rotation#role) role; it implements
    store contract version 2 (C(docs/store-contract.md) in the collection).
  - One JSON document, encrypted with Ansible Vault, holding per account key the C(current) password and,
    while a change is in flight, the C(pending) one together with the attempt id that escrowed it.
  - A pending password is never replaced by the pending password of another attempt, and O(op=commit) and
    O(op=discard) settle only the attempt they name, so two runs cannot lose each other's passwords.
  - Writes merge into the existing document under a file lock and replace the file atomically (synced to disk)
    with mode C(0600) before the task returns; a store that cannot be decrypted or parsed stops the task with a
    clear error and is never overwritten.
  - The store is re-encrypted with the vault id and password that decrypted it, whatever other vault ids the
    run has; a new store is encrypted with O(vault_id) or the first vault password of the run.
  - Stores written by version 1 of this module are read; their pending passwords belong to the attempt
    V(legacy). The file is written in format version 2 on its next change.
  - Runs on the controller (action plugin); the vault password comes from C(--vault-password-file),
    C(--vault-id) or C(ANSIBLE_VAULT_PASSWORD_FILE).
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  path:
    description:
      - Path of the encrypted store file on the controller.
      - The run lease is kept beside it in C(<path>.lease) and the file lock in C(<path>.lock).
    type: path
    required: true
  op:
    description:
      - V(check) returns every key of the store that holds a pending password, with its attempt.
      - V(read_pending) and V(read_current) return passwords for O(keys) (V(read_pending) also their attempts);
        the result is always hidden from output (C(no_log)). Keys without such a password are left out.
      - V(pending) escrows the password of each record as pending for each of its keys. A key already holding
        the pending password of the same attempt is left as it is; a key holding the pending password of another
        attempt (or another password of the same attempt) fails the task and nothing at all is written.
      - V(commit) makes the pending password current for each key of each record whose pending belongs to the
        record's attempt; other keys are left alone and listed in RV(skipped).
      - V(discard) drops the pending password of each key of each record whose pending belongs to the record's
        attempt; the current password stays. Other keys are listed in RV(skipped).
      - V(lease_acquire) writes O(holder) as the lease of the store when there is none, when it is already this
        run's (O(run_id)), or when it belongs to the run named by O(replaces); otherwise the task fails naming
        the holder and changes nothing.
      - V(lease_release) removes the lease if it belongs to O(run_id); another run's lease is left alone.
    type: str
    required: true
    choices: [check, read_pending, read_current, pending, commit, discard, lease_acquire, lease_release]
  records:
    description:
      - For O(op=pending), O(op=commit) and O(op=discard), the records to escrow or settle, each a dict with
      - C(attempt), the id of the password change attempt the record belongs to (a non-empty opaque string);
      - C(keys), the account keys (C(source/user) or C(source/user#account_id), any printable characters)
        sharing the record's password;
      - C(password), the new password (O(op=pending) only).
      - Other fields of a record (the role passes its change groups as they are) are ignored.
    type: list
    elements: dict
    default: []
  keys:
    description:
      - Account keys for O(op=read_pending) and O(op=read_current).
      - Not accepted for O(op=commit) and O(op=discard), which settle only the attempt their O(records) name.
    type: list
    elements: str
    default: []
  vault_id:
    description:
      - Vault id whose password opens the store; any vault password of the run that decrypts it when omitted.
      - A new store is encrypted with this vault id, or with the first vault password of the run when omitted.
    type: str
  run_id:
    description: Id of this run, for O(op=lease_acquire) and O(op=lease_release); defaults to the C(run_id) of O(holder).
    type: str
  holder:
    description:
      - For O(op=lease_acquire), what the lease records about this run, written as given to C(<path>.lease).
      - Expected fields are C(run_id), C(host), C(pid) and C(started) (ISO 8601); any others are kept too. The
        message that refuses a second run names the first four.
      - C(run_id) is set to O(run_id) when that is given.
    type: dict
  replaces:
    description:
      - For O(op=lease_acquire), the run id of a lease that may be taken over because that run was found dead.
      - Empty means no lease of another run is taken over.
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change, and fails where the real run would; nothing is written.
  diff_mode:
    support: none
    description: Will return details on what has changed when in diff mode.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller; the store file is a controller path.
notes:
  - Back the store file up like any other secret; without the vault password its content cannot be recovered.
  - The lease file holds no secret (run id, host, pid, start time) and is not encrypted.
'''

EXAMPLES = r'''
- name: Show which accounts hold a pending password, and of which attempt
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: check
  register: store

- name: Escrow a new password before it is sent
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: pending
    records:
      - attempt: 20260101T0100Z-7f3a
        keys: [Corp-AD/svc-app-001]
        password: "{{ new_password }}"
  no_log: true

- name: Make it current once the change is confirmed
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: commit
    records:
      - attempt: 20260101T0100Z-7f3a
        keys: [Corp-AD/svc-app-001]

- name: Read the current password of one account
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: read_current
    keys: [Corp-AD/svc-app-001]
  register: current
  no_log: true

- name: Hold the store for this run
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: lease_acquire
    run_id: "{{ run_id }}"
    holder:
      run_id: "{{ run_id }}"
      host: "{{ inventory_hostname }}"
      pid: 4242
      started: "2026-01-01T01:00:00Z"
'''

RETURN = r'''
pending:
  description: Every key holding a pending password, mapped to the attempt it belongs to.
  returned: when O(op=check)
  type: dict
  sample: {"Corp-AD/svc-app-001": "20260101T0100Z-7f3a"}
pending_keys:
  description: The keys of RV(pending), sorted.
  returned: when O(op=check)
  type: list
  elements: str
  sample: [Corp-AD/svc-app-001]
accounts:
  description: Number of accounts in the store.
  returned: when O(op=check)
  type: int
  sample: 60
passwords:
  description: Key to password mapping for the requested keys that hold one; never shown in output.
  returned: when O(op) is V(read_pending) or V(read_current)
  type: dict
attempts:
  description: Key to attempt mapping of the pending passwords returned.
  returned: when O(op=read_pending)
  type: dict
  sample: {"Corp-AD/svc-app-001": "20260101T0100Z-7f3a"}
updated:
  description: Keys whose entry changed (escrowed, committed or discarded).
  returned: when O(op) is V(pending), V(commit) or V(discard)
  type: list
  elements: str
unchanged:
  description: Keys that already held the pending password of the same attempt.
  returned: when O(op=pending)
  type: list
  elements: str
skipped:
  description: Keys left alone because they hold no pending password of the record's attempt.
  returned: when O(op) is V(commit) or V(discard)
  type: list
  elements: str
lease:
  description: The lease after the operation (empty when released).
  returned: when O(op) is V(lease_acquire) or V(lease_release)
  type: dict
  sample: {"run_id": "20260101T0100Z-7f3a", "host": "ctl01", "pid": 4242, "started": "2026-01-01T01:00:00Z"}
replaced:
  description: The lease of the run named by O(replaces) that this run took over.
  returned: when O(op=lease_acquire) took over another run's lease
  type: dict
released:
  description: Whether this run's lease was removed.
  returned: when O(op=lease_release)
  type: bool
'''
