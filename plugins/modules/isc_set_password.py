#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_set_password
short_description: Set an account password through SailPoint Identity Security Cloud
version_added: 0.1.0
description:
  - Sets the password of an account on a source managed by ISC, using ISC's set-password operation.
  - From O(user_name) and O(source_name) the module finds the identity, source, account, encryption key
    and password policy itself (query-password-info), checks the password against the policy,
    encrypts it locally (RSA PKCS#1 v1.5) and submits it. The clear password never leaves this host.
  - ISC applies the change asynchronously. With O(wait=true) the module waits until ISC reports
    C(FINISHED) or C(FAILED).
  - When the source belongs to a password sync group, ISC changes the password on every source of
    the group; RV(source_ids) lists the sources the change reached.
  - Many accounts can be set in one task with O(passwords); they are pipelined under one rate limiter.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.batch
attributes:
  check_mode:
    support: full
    details:
      - Check mode queries ISC and validates the password against the policy, but sends no change.
      - C(changed) is predicted truthfully; with O(update_password=on_change) it compares fingerprints.
  diff_mode:
    support: full
    details: The diff shows the account and whether its password changes, never a password.
options:
  user_name:
    description:
      - Login name of the user (ISC C(userName)).
      - Needed with O(password) (to fetch the key and the policy), or to resolve the IDs when
        O(identity_id), O(source_id) or O(account_id) are not all given.
    type: str
  source_name:
    description:
      - Display name of the source (ISC C(sourceName)).
    type: str
  identity_id:
    description:
      - ISC identity ID. Checked against the one ISC reports when O(user_name) is also given.
    type: str
  source_id:
    description:
      - ISC source ID. Checked against the one ISC reports when O(source_name) is also given.
    type: str
  account_id:
    description:
      - Native ID (or display name) of the account to change, as listed by
        M(sailpoint_isc.passwords.isc_password_info).
      - Required when the identity has several accounts on the source; the error then lists them.
    type: str
  password:
    description:
      - The new password, in clear. It is checked against the source's policy and encrypted
        before it is sent.
      - ASCII only, no C(:), at most 245 bytes.
      - Mutually exclusive with O(encrypted_password).
    type: str
  encrypted_password:
    description:
      - A password already encrypted with the key of O(public_key_id) (standard Base64 of RSA
        PKCS#1 v1.5). It cannot be checked against the policy.
    type: str
  public_key_id:
    description:
      - ID of the key O(encrypted_password) was encrypted with. Required with O(encrypted_password).
    type: str
  update_password:
    description:
      - V(always) submits the password on every run and reports C(changed=true).
      - V(on_change) submits it only when it differs from the last password this controller set
        successfully for the account, in either mode, as remembered in O(fingerprint_path). ISC cannot
        tell which password an account has, so a change made elsewhere (by hand, by another
        controller, or with another O(fingerprint_path)) is not noticed. It needs O(password) (an
        O(encrypted_password) cannot be compared).
      - In either mode, each change this module submits with O(password) updates that memory.
        When ISC reports C(FINISHED) (with O(wait=true), or already at the one status read a single
        change gets without it) the fingerprint is recorded as set. When ISC accepted the change but
        has not finished it (O(wait=false), or still C(IN_PROGRESS) after O(wait_timeout)) it is
        recorded as pending with the request ID, and the next V(on_change) run asks ISC for that
        request's state - C(FINISHED) or C(IN_PROGRESS) counts as already set, C(FAILED) or an
        unknown request submits again. A change that C(FAILED), whose outcome is unknown (see the
        notes), or that was made with O(encrypted_password) (which cannot be fingerprinted) forgets
        the account's fingerprint, so the next V(on_change) run submits.
      - So V(always) followed by V(on_change) with the same password reports C(changed=false) and
        sends nothing.
      - Check mode reads the fingerprints but writes none.
    type: str
    choices: [always, on_change]
    default: always
  fingerprint_path:
    description:
      - File that remembers, per account, a fingerprint of the last password this module set
        (see O(update_password)). It is written after every change submitted with O(password),
        whatever O(update_password) is, and read with O(update_password=on_change).
      - It holds, per account, a random salt and a PBKDF2-HMAC-SHA256 digest (200,000 iterations)
        of the password, never the password. Accounts are keyed by a SHA-256 digest of the base URL,
        source ID and account ID, never by name. Mode 0600 in a 0700 directory, updated under a lock
        with an atomic rename, so one file can serve several plays.
      - Default C($XDG_CACHE_HOME/sailpoint_isc/fingerprints.json), or
        C(~/.cache/sailpoint_isc/fingerprints.json) when E(XDG_CACHE_HOME) is not set, on the host
        the module runs on (the controller with C(delegate_to=localhost)), in the home of the user
        it runs as.
      - In AWX or Ansible Automation Platform a job runs in a container that is thrown away when the
        job ends, home directory included, so with the default V(on_change) submits on every job.
        Put the file on the persistent storage the jobs keep their state on, next to the rotation
        state directory (for example C(/var/lib/isc-rotation/fingerprints.json)); set it in
        C(module_defaults) under C(sailpoint_isc.passwords.isc_set_password), not under the
        C(group/sailpoint_isc.passwords.isc) action group (its other modules do not take this option).
      - Losing the file is safe - each account's next V(on_change) run submits once. When the file
        cannot be written after a change, the module warns and still reports the change.
    type: path
  wait:
    description:
      - Wait until ISC reports the change C(FINISHED) or C(FAILED).
      - A change still C(IN_PROGRESS) after O(wait_timeout) is not a failure (ISC keeps retrying a
        source for about two hours); it is returned with its RV(request_id) and a warning.
      - C(FAILED) fails the task with ISC's errors.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 300
  poll_interval:
    description: Seconds between status checks with O(wait=true); the first reads come sooner (after 1 s, then twice as long each time, up to this).
    type: int
    default: 5
  passwords:
    description:
      - Batch form. One entry per account; results come back in RV(results) in the same order.
      - Each entry takes the options of the single form; O(update_password), O(wait) and the
        connection options apply to all entries.
      - Mutually exclusive with the single-form options.
    type: list
    elements: dict
    suboptions:
      user_name:
        description: Login name of the user.
        type: str
      source_name:
        description: Display name of the source.
        type: str
      identity_id:
        description: ISC identity ID.
        type: str
      source_id:
        description: ISC source ID.
        type: str
      account_id:
        description: Native ID or display name of the account.
        type: str
      password:
        description: The new password in clear.
        type: str
      encrypted_password:
        description: The new password already encrypted.
        type: str
      public_key_id:
        description: ID of the key O(passwords[].encrypted_password) was encrypted with.
        type: str
notes:
  - Idempotency. ISC cannot read a password back, so with the default O(update_password=always)
    every run submits the password and reports changed. Use O(update_password=on_change), or decide
    "due or not" before calling the module (as the rotation role does).
  - Outcome unknown. A set-password request is never repeated automatically once it may have
    reached ISC (a timeout or dropped connection after sending, or an HTTP 5xx). The task then
    fails with a message saying the outcome is unknown and returns RV(identity_id), RV(source_id),
    RV(account_id) and RV(public_key_id) so that you can reconcile (check the account, or submit
    again with the same password).
  - Keep passwords out of logs with C(no_log=true) on tasks that template them from variables.
seealso:
  - module: sailpoint_isc.passwords.isc_password_info
  - module: sailpoint_isc.passwords.isc_password_status
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Set a password and wait for ISC to finish
  sailpoint_isc.passwords.isc_set_password:
    base_url: https://acme.api.identitynow.com
    client_id: "{{ isc_client_id }}"
    client_secret: "{{ isc_client_secret }}"
    user_name: Abby.Smith
    source_name: My-AD
    password: "{{ new_password }}"
    wait: true
  delegate_to: localhost
  no_log: true
  register: change

- name: Submit only when the password differs from the last one set from here
  sailpoint_isc.passwords.isc_set_password:
    tenant: acme
    user_name: svc-backup
    source_name: Corp AD
    account_id: "CN=svc-backup,OU=Service,DC=corp,DC=example,DC=com"
    # Generated once, then read back from the file on every run: a stable password, so the task
    # is idempotent. The file must outlive the job like the fingerprints do (isc_state_dir: a
    # persistent directory, in AWX the rotation state directory). It holds the password in clear
    # (mode 0600): keep it private, or use a vaulted variable instead.
    # No ':' in the character set (ISC refuses ':'); the fixed 'Aa1-' meets the usual character
    # class rules, and the module checks the source's policy before sending anything.
    password: "{{ 'Aa1-' ~ lookup('ansible.builtin.password', isc_state_dir ~ '/passwords/svc-backup',
                  length=20, chars=['ascii_letters', 'digits', '.-_']) }}"
    update_password: on_change
    fingerprint_path: "{{ isc_state_dir }}/fingerprints.json"
  delegate_to: localhost
  no_log: true

- name: Set many passwords in one task
  sailpoint_isc.passwords.isc_set_password:
    passwords:
      - {user_name: svc-backup, source_name: Corp AD, password: "{{ pw_backup }}"}
      - {user_name: svc-report, source_name: Corp AD, password: "{{ pw_report }}"}
    wait: true
    fail_on_item_error: false
  delegate_to: localhost
  no_log: true
  register: batch
"""

RETURN = r"""
identity_id:
  description: ISC identity ID of the account owner.
  returned: single form, when known
  type: str
source_id:
  description: ISC source ID.
  returned: single form, when known
  type: str
account_id:
  description: Native ID of the account changed.
  returned: single form, when known
  type: str
account_name:
  description: Display name of the account.
  returned: single form, when known
  type: str
public_key_id:
  description: ID of the key the password was encrypted with.
  returned: single form, when known
  type: str
request_id:
  description: ISC's ID of the password change request; use it with M(sailpoint_isc.passwords.isc_password_status).
  returned: single form, when a change was submitted
  type: str
  sample: 089899f13a8f4da7824996191587bab9
state:
  description: C(IN_PROGRESS), C(FINISHED) or C(FAILED); null in check mode.
  returned: single form
  type: str
errors:
  description: Error strings ISC reported for the change.
  returned: single form
  type: list
  elements: str
source_ids:
  description:
    - Sources the change reached (several for a password sync group), as reported by ISC.
  returned: single form
  type: list
  elements: str
outcome_unknown:
  description: True when the request may or may not have been processed (see the notes).
  returned: on an outcome-unknown failure
  type: bool
results:
  description:
    - Batch form; one entry per item of O(passwords) in input order, with the single-form fields
      plus C(user_name), C(source_name), C(changed), and C(failed)/C(msg) for an item that failed.
  returned: batch form
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import check_not_empty, exit_batch, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.set_password import SetPasswordRun, diff_for
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight

ITEM_FIELDS = ('user_name', 'source_name', 'identity_id', 'source_id', 'account_id', 'password',
               'encrypted_password', 'public_key_id')


def main():
    item_spec = dict(
        user_name=dict(type='str'),
        source_name=dict(type='str'),
        identity_id=dict(type='str'),
        source_id=dict(type='str'),
        account_id=dict(type='str'),
        password=dict(type='str', no_log=True),
        encrypted_password=dict(type='str', no_log=True),
        public_key_id=dict(type='str', no_log=False),
    )
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            update_password=dict(type='str', default='always', choices=['always', 'on_change'], no_log=False),
            fingerprint_path=dict(type='path'),
            wait=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=300),
            poll_interval=dict(type='int', default=5),
            passwords=dict(type='list', elements='dict', options=dict(item_spec), no_log=False,
                           mutually_exclusive=[('password', 'encrypted_password')],
                           required_one_of=[('password', 'encrypted_password')],
                           required_together=[('encrypted_password', 'public_key_id')]),
            workers=dict(type='int', default=4),
            fail_on_item_error=dict(type='bool', default=True),
            **item_spec
        ),
        mutually_exclusive=[('password', 'encrypted_password')] + [('passwords', f) for f in ITEM_FIELDS],
        required_one_of=[('password', 'encrypted_password', 'passwords')],
        required_together=[('encrypted_password', 'public_key_id')],
        supports_check_mode=True,
    )
    p = module.params
    if p['wait_timeout'] < 0 or p['poll_interval'] < 1:
        module.fail_json(msg='wait_timeout must be >= 0 and poll_interval >= 1')
    single = p['passwords'] is None
    items = [dict((f, p[f]) for f in ITEM_FIELDS)] if single else p['passwords']
    for n, item in enumerate(items):
        where = '' if single else 'passwords[%d]: ' % n
        check_not_empty(module, dict((f, item.get(f)) for f in ITEM_FIELDS), prefix=where)
        if item.get('password') and not (item.get('user_name') and item.get('source_name')):
            module.fail_json(msg='%suser_name and source_name are required with password (to fetch the '
                                 'encryption key and the policy)' % where)
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module)
    preflight(module, client, 'set-password')  # rights.py: before any request but the token's
    run = SetPasswordRun(client, update_password=p['update_password'], fingerprint_path=p['fingerprint_path'],
                         check_mode=module.check_mode, workers=p['workers'], wait=p['wait'],
                         wait_timeout=p['wait_timeout'], poll_interval=p['poll_interval'])
    results = run.run(items)
    for warning in run.warnings:
        module.warn(warning)
    changed = any(r.get('changed') for r in results)
    unknown = sorted(set(u for r in results for u in (r.pop('policy_unknown', None) or [])))
    if unknown:
        module.warn('these policy rules from ISC are not checked before sending (ISC checks them): %s'
                    % ', '.join(unknown))

    if single:
        result = results[0]
        extra = {}
        if module._diff:
            extra['diff'] = diff_for(result)
        if result.pop('failed', False):
            msg = result.pop('msg')
            result['changed'] = result.get('changed', False)
            module.fail_json(msg=msg, **dict(result, **extra))
        module.exit_json(**dict(result, **extra))

    extra = {}
    if module._diff:
        extra['diff'] = [diff_for(r) for r in results if not r.get('failed')]
    exit_batch(module, results, 'password changes failed', changed=changed, **extra)


if __name__ == '__main__':
    main()
