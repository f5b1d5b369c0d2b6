#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: vault_file_store
short_description: Keep rotated passwords in a local file encrypted with Ansible Vault
version_added: 0.1.0
description:
  - The default secret store of the P(sailpoint_isc.passwords.service_account_rotation#role) role; it implements
    store contract version 2 (C(docs/store-contract.md) in the collection).
  - One JSON document, encrypted with Ansible Vault, holding per account key the C(current) password,
    while a change is in flight the C(pending) one together with the attempt id that escrowed it, and after a
    commit the password that was current until then as C(previous) (for rollback, see O(keep_previous_days)).
  - Consumers read only C(current) (O(op=read_current)); a pending or previous password is never what they get.
  - A pending password is never replaced by the pending password of another attempt, and O(op=commit) and
    O(op=discard) settle only the attempt they name, so two runs cannot lose each other's passwords.
  - Writes merge into the existing document under a file lock and replace the file atomically (synced to disk)
    with mode C(0600) before the task returns; a store that cannot be decrypted or parsed stops the task with a
    clear error and is never overwritten.
  - The store is re-encrypted with the vault id and password that decrypted it, whatever other vault ids the
    run has; a new store is encrypted with O(vault_id) or the first vault password of the run.
  - O(op=import) bootstraps the store from passwords you already have; it sets C(current) only for keys with no
    current and no pending password, never touches a pending one, and refuses the whole import when a key holds a
    different current password unless O(overwrite=true).
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
      - V(read_pending), V(read_current) and V(read_previous) return passwords for O(keys) (V(read_pending) also
        their attempts, V(read_previous) since when they are previous); the result is always hidden from output
        (C(no_log)). Keys without such a password are left out. V(read_previous) is for an operator rolling back.
      - V(pending) escrows the password of each record as pending for each of its keys. A key already holding
        the pending password of the same attempt is left as it is; a key holding the pending password of another
        attempt (or another password of the same attempt) fails the task and nothing at all is written, unless the
        record's C(supersedes) names that attempt; then its pending password is kept under C(superseded) (read by no
        op) and the record's becomes pending. A commit then makes the last superseded password C(previous); a discard
        brings it back as the pending one.
      - V(commit) makes the pending password current for each key of each record whose pending belongs to the
        record's attempt; the password that was current becomes C(previous) (unless O(keep_previous_days=0)).
        Other keys are left alone and listed in RV(skipped).
      - V(discard) drops the pending password of each key of each record whose pending belongs to the record's
        attempt; the current password stays. Other keys are listed in RV(skipped).
      - V(import) makes the password of each record (or of O(passwords)) current for each key that has no current
        and no pending password (RV(updated)); a key that already has it is RV(unchanged); a key holding a pending
        password is never touched (RV(skipped)). A key holding a different current password, or given two
        passwords, fails the task and nothing at all is written, unless O(overwrite=true) replaces the current
        password (it becomes C(previous)).
      - V(retire) moves the whole entry of each key of each record (current, pending, previous and superseded
        passwords) to the store's C(archive), a list per key that no op reads and consumers never see, for an account
        ISC no longer knows. Keys with nothing to archive are listed in RV(skipped).
      - Every write (V(pending), V(commit), V(discard), V(import), V(retire)) first drops the previous passwords of the whole
        store that are O(keep_previous_days) old or older (RV(previous_dropped)).
      - V(lease_acquire) writes O(holder) as the lease of the store when there is none, when it is already this
        run's (O(run_id)), or when it belongs to the run named by O(replaces); otherwise the task fails naming
        the holder and changes nothing.
      - V(lease_release) removes the lease if it belongs to O(run_id); another run's lease is left alone.
    type: str
    required: true
    choices: [check, read_pending, read_current, read_previous, pending, commit, discard, import, retire, lease_acquire,
              lease_release]
  records:
    description:
      - For O(op=pending), O(op=commit), O(op=discard), O(op=import) and O(op=retire), the records to escrow, settle,
        import or retire, each a dict with
      - C(attempt), the id of the password change attempt the record belongs to (a non-empty opaque string; not
        for O(op=import) nor O(op=retire));
      - C(supersedes), optional for O(op=pending), the attempt whose pending password this record's replaces (and keeps);
      - C(keys), the account keys (C(source/user) or C(source/user#account_id), any printable characters)
        sharing the record's password;
      - C(password), the new password (O(op=pending)) or the current one (O(op=import)).
      - Other fields of a record (the role passes its change groups as they are) are ignored.
    type: list
    elements: dict
    default: []
  keys:
    description:
      - Account keys for O(op=read_pending), O(op=read_current) and O(op=read_previous).
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
  passwords:
    description:
      - For O(op=import), a mapping of account key to its current password; the same as one record per key in
        O(records), and may be given together with them.
    type: dict
  overwrite:
    description:
      - For O(op=import), replace a different current password instead of refusing the import. The replaced password
        becomes C(previous). Keys holding a pending password are still never touched.
    type: bool
    default: false
  keep_previous_days:
    description:
      - How long a previous password is kept after it was replaced, in days (fractions allowed, V(0.5) is twelve
        hours). Every write drops the previous passwords of the store that are this old or older.
      - V(0) keeps none; a commit then keeps no previous password either.
    type: float
    default: 30
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

- name: Bootstrap the store with passwords the accounts have today (keys with a current password are refused)
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: import
    passwords: "{{ known_passwords }}"  # {"Corp-AD/svc-app-001": "...", "Corp-AD/svc-app-002#2c91...": "..."}
  no_log: true

- name: Read the password an account had before its last rotation, to roll back
  sailpoint_isc.passwords.vault_file_store:
    path: "{{ playbook_dir }}/secrets/service-accounts.vault"
    op: read_previous
    keys: [Corp-AD/svc-app-001]
  register: previous
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
  returned: when O(op) is V(read_pending), V(read_current) or V(read_previous)
  type: dict
since:
  description: Key to the time (ISO 8601, UTC) its previous password was replaced, for the passwords returned.
  returned: when O(op=read_previous)
  type: dict
  sample: {"Corp-AD/svc-app-001": "2026-01-01T01:02:03Z"}
attempts:
  description: Key to attempt mapping of the pending passwords returned.
  returned: when O(op=read_pending)
  type: dict
  sample: {"Corp-AD/svc-app-001": "20260101T0100Z-7f3a"}
updated:
  description: Keys whose entry changed (escrowed, committed, discarded, imported or retired).
  returned: when O(op) is V(pending), V(commit), V(discard), V(import) or V(retire)
  type: list
  elements: str
unchanged:
  description: Keys that already held the pending password of the same attempt (V(pending)) or the imported password
    as current (V(import)).
  returned: when O(op) is V(pending) or V(import)
  type: list
  elements: str
skipped:
  description: Keys left alone because they hold no pending password of the record's attempt (V(commit), V(discard))
    or because they hold a pending password (V(import)), or hold nothing to archive (V(retire)).
  returned: when O(op) is V(commit), V(discard), V(import) or V(retire)
  type: list
  elements: str
previous_dropped:
  description: Keys whose previous password this write dropped because it was O(keep_previous_days) old.
  returned: when O(op) is V(pending), V(commit), V(discard) or V(import)
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
