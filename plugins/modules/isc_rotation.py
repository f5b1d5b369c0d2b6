#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: isc_rotation
short_description: One phase of a bulk service-account password rotation on SailPoint ISC
version_added: 0.1.0
description:
  - The engine behind the P(sailpoint_isc.passwords.service_account_rotation#role) role. Each run of this module
    is one phase of C(reconcile -> plan -> apply -> record); the role writes the secret store between phases
    (escrow before apply, commit or discard after).
  - All requests of a phase are pipelined in this one process under one rate limiter, so a rotation of N
    accounts costs a fixed number of module runs, not N.
  - Use the role rather than calling this module directly; its inputs are the previous phase's outputs.
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
options:
  phase:
    description:
      - V(reconcile) polls the request ids an earlier run left pending in the ledger.
      - V(plan) queries every account, decides which are due, groups accounts that share a password and
        generates one new policy-compliant password per group.
      - V(apply) submits set-password for every group and polls until each change is terminal or
        O(wait_timeout) passes; request ids are journalled in the ledger as soon as they are known.
      - V(record) folds outcomes into the ledger and writes the reports.
      - V(retire) marks O(retire_keys) retired in the ledger, for C(playbooks/retire_accounts.yml), which then archives
        their passwords in the store; refused, changing nothing, while any of them has a change request open at ISC.
    type: str
    required: true
    choices: [reconcile, plan, apply, record, retire]
  ledger_path:
    description: The rotation ledger (JSON, no secrets) on the host that runs this module.
    type: path
    required: true
  run_id:
    description:
      - The run id of the lease the role holds (M(sailpoint_isc.passwords.rotation_lease)). When set, the phase
        first checks that this run still holds the lease of O(ledger_path) and takes the work lock beside it for
        as long as it runs, so no two modules ever work on one state directory.
    type: str
  store_pending:
    description:
      - Account key to attempt id, for every key whose secret store holds a pending password (O(phase=reconcile)
        and O(phase=plan)); with O(phase=record), as the store was when the run began; each of these keys gets a row
        in the report, listed or not.
    type: dict
    default: {}
  reconciled:
    description:
      - The C(reconciled) result of the reconcile phase (O(phase=plan) and O(phase=record)), as that phase returned it.
        Its fields, like those of O(decisions) and O(outcomes), are the phases' contract, written once as C(CONTRACT)
        in C(plugins/module_utils/phases.py).
      - When O(phase=plan) and this is omitted, the plan phase reconciles first and returns C(reconciled) and
        C(started) itself. The role does that when the store holds no pending password (nothing can need reading
        back), which saves a module run.
    type: dict
  accounts:
    description:
      - The accounts to consider (O(phase=plan)); the role fills in defaults.
    type: list
    elements: dict
    default: []
    suboptions:
      source_name:
        description: Source display name.
        type: str
        required: true
      user_name:
        description: Identity user name.
        type: str
        required: true
      account_id:
        description: Native account id, needed when the identity has several accounts on the source.
        type: str
      max_age_days:
        description: Rotate when the last rotation is at least this old; O(max_age_days) when omitted.
        type: int
      password_length:
        description: Length of generated passwords; O(password_length) when omitted.
        type: int
      exclude_chars:
        description: Characters never used in this account's passwords, on top of O(exclude_chars).
        type: str
      rotate_reason:
        description:
          - V(drift) rotates the account whatever its age and reports the reason C(drift), because ISC saw its
            password change after our last rotation (the P(sailpoint_isc.passwords.isc_accounts#inventory) C(drift) group).
        type: str
        choices: [drift]
      dependents:
        description:
          - What uses the account's password (issue 27); the role's dependents phase applies them. The plan only checks
            them (C(docs/dependents.md)).
        type: list
        elements: dict
      dependents_policy:
        description: The account's dependents policy (C(docs/dependents.md)); the role reads it, the plan ignores it.
        type: str
        choices: [roll_forward, rollback]
      password_history_forbids_reuse:
        description: The target refuses a password it had (the role refuses policy V(rollback) for it); the plan ignores it.
        type: bool
  max_age_days:
    description: Default maximum password age in days (O(phase=plan)).
    type: int
    default: 90
  password_length:
    description: Default length of generated passwords; V(0) means the policy minimum, at least 20 (O(phase=plan)).
    type: int
    default: 0
  exclude_chars:
    description: Characters never used in generated passwords (O(phase=plan)).
    type: str
    default: ''
  force:
    description: Rotate every account now, whatever its age; parked accounts are retried too (O(phase=plan)).
    type: bool
    default: false
  shard:
    description:
      - Plan only this share of O(accounts) (O(phase=plan)), written V(i/N) (shard i of N, counted from 1, so
        V(1/4) to V(4/4) for four jobs); empty for every account.
      - An account's shard is the sha256 of its identity's user name (lower-cased) modulo N, plus 1, the same in
        every process and Python version. Sharding by the identity keeps a password sync group, and two accounts
        of one identity on one source, in one shard.
      - Each shard must have its own O(ledger_path) and secret store (with the role, its own
        C(service_account_rotation_state_dir)); the role sets it as C(service_account_rotation_shard).
      - O(phase=record) keeps it in the ledger; O(phase=plan) warns, naming both, when it differs from the one the
        ledger kept (the role then needs it in both phases).
    type: str
    default: ''
  replan_users:
    description:
      - Plan only the accounts of these identities (user names), and only their escrowed passwords to re-send
        (O(phase=plan)). The role passes the C(replan_users) result of the apply phase, whose changes were held back
        because their password sync group changed after the plan.
    type: list
    elements: str
    default: []
  replan_exclude:
    description:
      - Account keys left out of O(replan_users) (O(phase=plan)), the keys of the changes this run already sent.
    type: list
    elements: str
    default: []
  held_pending:
    description:
      - Account key to attempt id of the passwords this run escrowed for changes an earlier apply phase sent
        (O(phase=apply)); the role passes them when it applies the changes planned again, so that an account one of
        those reached beyond its plan gets the later password over the earlier one (kept as previous).
    type: dict
    default: {}
  groups:
    description:
      - The C(groups) result of the plan phase (O(phase=apply)); its fields are C(CONTRACT['group']) in
        C(plugins/module_utils/phases.py).
    type: list
    elements: dict
    default: []
    suboptions:
      group:
        description: Group id.
        type: str
        required: true
      keys:
        description: Account keys sharing the password.
        type: list
        elements: str
        required: true
      identity_id:
        description: ISC identity id.
        type: str
        required: true
      source_id:
        description: ISC source id.
        type: str
        required: true
      account_id:
        description: Native account id.
        type: str
        required: true
      public_key_id:
        description: Key id from query-password-info.
        type: str
        required: true
      public_key:
        description: Public key from query-password-info.
        type: str
        required: true
      reuse_pending:
        description: The password is the one already escrowed as pending (a re-send of a lost request).
        type: bool
        default: false
      attempt:
        description: The attempt id that names this password in the store.
        type: str
        required: true
      supersedes:
        description:
          - The attempt whose escrowed password this change replaces because ISC now refuses it (a tightened policy,
            a refused re-send); the store keeps that password until this change is FINISHED.
        type: str
      sources:
        description: Source ids the change is planned to reach (all sources of a password sync group).
        type: list
        elements: str
        default: []
      names:
        description: Per account key, its source name, user name and account id (kept in the ledger).
        type: dict
        default: {}
      key_sources:
        description:
          - Per account key, the source id of its account, to tell which accounts a change reached once ISC reports
            the sources it applied (C(sourceIds)); kept in the ledger.
        type: dict
        default: {}
      password:
        description:
          - The new password to set; required unless O(groups[].reuse_pending) (a re-send carries only its
            O(groups[].attempt), whose escrowed password the apply phase takes from O(pending_passwords)).
        type: str
      why:
        description:
          - Why the change is sent (V(due), V(forced), V(drift) or V(resend)), from the plan; kept in the ledger with
            the run that sent it, for each settled change's history entry.
        type: str
  pending_passwords:
    description:
      - Escrowed pending passwords by account key, read from the store for the reconcile phase's C(orphans)
        (O(phase=plan) and O(phase=apply)); those accounts are re-sent the same password.
      - The plan checks that they can be read back and still satisfy the policy, and puts only their attempt ids in
        its C(groups); the apply phase joins them to the re-send groups by attempt id. A re-send whose password is
        not here at apply time is not sent (outcome V(UNKNOWN), it stays pending for the next run), never replaced by
        a new password.
    type: dict
    default: {}
  pending_attempts:
    description: The attempt id of each password in O(pending_passwords) (O(phase=plan) and O(phase=apply)).
    type: dict
    default: {}
  batch_size:
    description: Changes submitted and not yet settled at any one time, per API client.
    type: int
    default: 100
  api_clients:
    description:
      - Several API clients of the tenant for this run (O(phase=reconcile), O(phase=plan), O(phase=apply)), each with
        its own token and its own rate limit at ISC (100 requests per 10 s per client id), so N clients give the run
        N times the budget. The requests are spread over them; the changes of one identity (a password sync group
        among them) always go through one client, and a change is polled through the client that sent it.
      - A client that fails authentication (a wrong secret, a 401 after a token refresh) is taken out of the run and
        the work it had not sent goes to the others (a request ISC refused changed nothing); the result's
        C(failed_clients) and the report name it. When every client fails, the phase fails naming their ids.
      - When empty, the environment variable E(SAIL_API_CLIENTS) (a JSON list of the same mappings, as an AWX/AAP
        credential can inject it) is read; when that is empty too, the one client of O(client_id) and
        O(client_secret) is used, as by every other module. The base URL and the other connection options are
        shared by all clients. Not together with O(access_token).
    type: list
    elements: dict
    default: []
    suboptions:
      client_id:
        description: The API client's id.
        type: str
        required: true
      client_secret:
        description: The API client's secret.
        type: str
        required: true
  failed_clients:
    description:
      - API client ids taken out of the run by the earlier phases, with the reason (O(phase=record)); the report
        names them.
    type: dict
    default: {}
  job_id:
    description:
      - The AWX/AAP job id of the run (the role passes C(awx_job_id) or C(tower_job_id)), for the report's C(who)
        with the controller host and user and the API client ids (O(phase=record)).
    type: str
    default: ''
  wait_timeout:
    description: Seconds to wait for each change to reach FINISHED or FAILED; later ones stay pending.
    type: int
    default: 300
  poll_interval:
    description: Seconds between status polls of one change (the first poll waits this long too).
    type: float
    default: 2.0
  workers:
    description: Requests in flight at once in every phase; the rate limiter paces them.
    type: int
    default: 4
  max_attempts:
    description: Failed attempts after which an account is parked until O(force) (O(phase=record)).
    type: int
    default: 3
  decisions:
    description:
      - The C(decisions) result of the plan phase (O(phase=record)), as that phase returned it (its fields - C(CONTRACT)
        in C(plugins/module_utils/phases.py)).
    type: list
    elements: dict
    default: []
  outcomes:
    description:
      - The C(outcomes) result of the apply phase (O(phase=record)), as that phase returned it (its fields - C(CONTRACT)
        in C(plugins/module_utils/phases.py)).
    type: list
    elements: dict
    default: []
  retire_keys:
    description: Account keys to mark retired (O(phase=retire)).
    type: list
    elements: str
    default: []
  retired:
    description:
      - Account keys the store archived in this run (its answer to the C(retire) operation) because ISC no longer
        knows their account (O(phase=record)); they are reported C(retired) and the ledger stops rotating them.
    type: list
    elements: str
    default: []
  verify_failures:
    description:
      - Accounts whose new password ISC set but the role's verify task file rejected (O(phase=record)), as
        C(key) and C(reason). They are reported as C(unverified); the new password stays current in the store.
    type: list
    elements: dict
    default: []
  dependents:
    description:
      - The outcomes of the accounts' dependents in this run (O(phase=record)), as the role's dependents phase gives
        them (C(key), C(status), C(detail), C(dependents)); in the reports.
    type: list
    elements: dict
    default: []
  alternates:
    description:
      - Per alternating credential, whether it switched to its other account in this run and why not (O(phase=record)),
        as the role's module P(sailpoint_isc.passwords.rotation_alternate#module) decides it (its C(op=flip)); the JSON
        report lists them and the ledger's history of the account that became active records each switch once.
    type: list
    elements: dict
    default: []
  started:
    description: When the run began (the C(started) result of O(phase=reconcile)), for the JSON report (O(phase=record)).
    type: str
  report_json:
    description:
      - Where to write the JSON report (O(phase=record)); none when omitted.
      - When O(phase=reconcile) or O(phase=plan) fails in a run that holds the lease (O(run_id)), it writes a report
        too, with no accounts, C(failed_before_plan) 1 as its only total and the reason in C(failure) (and one failing
        case in the JUnit report).
    type: path
  report_junit:
    description: Where to write the JUnit XML report (O(phase=record)); none when omitted.
    type: path
  report_history:
    description:
      - Reports of this many runs are kept (O(phase=record)), as C(runs/report-<UTC time>-<run id>.json) and
        C(.xml) beside O(report_json) and O(report_junit), which always hold the latest run. V(0) keeps only the
        latest.
    type: int
    default: 30
attributes:
  check_mode:
    support: partial
    details: V(reconcile) and V(plan) run in check mode (read-only); V(apply) sends nothing; V(record) writes nothing.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
# Normally called by the service_account_rotation role; a plan on its own shows what is due.
- name: Plan a rotation (read-only)
  sailpoint_isc.passwords.isc_rotation:
    phase: plan
    ledger_path: /var/lib/isc-rotation/ledger.json
    accounts:
      - source_name: Corp-AD
        user_name: svc-app-001
        max_age_days: 30
  check_mode: true
  no_log: true
  register: plan
'''

RETURN = r'''
reconciled:
  description: Earlier changes now settled or still running (O(phase=reconcile)).
  returned: when O(phase=reconcile), or O(phase=plan) without O(reconciled)
  type: dict
  contains:
    finished:
      description: Requests that ended FINISHED, with the keys they changed.
      type: list
      elements: dict
    failed:
      description: Requests that ended FAILED, with ISC's errors.
      type: list
      elements: dict
    waiting:
      description: Requests still IN_PROGRESS.
      type: list
      elements: dict
    orphans:
      description:
        - Keys with an escrowed pending password whose outcome is unknown or that may already be live; re-sent
          with that password.
      type: list
      elements: str
    abandoned:
      description: Keys the ledger had pending with nothing escrowed in the store.
      type: list
      elements: str
    commit_records:
      description: Store commits for the FINISHED requests, as C(attempt) and C(keys).
      type: list
      elements: dict
    discard_records:
      description: Store discards for the FAILED requests whose password can never have reached a source.
      type: list
      elements: dict
decisions:
  description:
    - Per account, the planned action (rotate, resubmit, supersede, retire, skip, waiting, parked, error) and why.
    - V(supersede) sends a fresh password in place of an escrowed one ISC now refuses; V(retire) marks an account
      ISC no longer knows, whose passwords the role then archives in the store.
  returned: when O(phase=plan)
  type: list
  elements: dict
groups:
  description:
    - One entry per shared password to set, including the generated password; register with no_log.
    - A re-send (C(reuse_pending)) carries its C(attempt) and no password; the apply phase reads it from
      O(pending_passwords). Fields as C(CONTRACT['group']) in C(plugins/module_utils/phases.py).
  returned: when O(phase=plan)
  type: list
  elements: dict
started:
  description: When this run began (UTC, ISO 8601); the role passes it on to the report.
  returned: when O(phase=reconcile), or O(phase=plan) without O(reconciled)
  type: str
progress:
  description:
    - The last progress line of the phase (changes settled, in flight, rate), with the time since it began.
    - While the phase runs, a line every 5 seconds is appended to C(progress.log) beside O(ledger_path), so a
      long run can be followed with C(tail -f); the callback plugin P(sailpoint_isc.passwords.rotation_progress#callback)
      prints them in the job log as they come.
  returned: when O(phase=apply)
  type: list
  elements: str
outcomes:
  description:
    - Per group, the final state, request id and errors. V(FINISHED) is committed; V(FAILED) and V(REJECTED)
      are discarded (only when the password can never have reached a source); V(IN_PROGRESS),
      V(STATUS_UNKNOWN) and V(UNKNOWN) stay pending for the next run; V(REPLAN) was not sent (its sync group
      changed after the plan); V(DEFERRED) was not sent because the change of its identity sent before it may still
      be running (the changes of one identity go out one after another), and the next run sends it.
    - C(missed) lists planned keys the change did not reach, C(reached) the keys it reached beyond the plan,
      C(overtaken) the keys a later change of the identity reached after it (they hold that one's password).
  returned: when O(phase=apply)
  type: list
  elements: dict
commit_records:
  description: Store commits for the FINISHED changes, as C(attempt) and C(keys).
  returned: when O(phase=apply)
  type: list
  elements: dict
discard_records:
  description:
    - Store discards for the changes whose password can never have reached a source, and for the planned accounts
      a change did not reach because their source left its password sync group before the change was applied.
  returned: when O(phase=apply)
  type: list
  elements: dict
reach_escrow:
  description:
    - Accounts a change reached beyond the plan (their source joined its password sync group after the sync groups
      were last read), as C(group), C(attempt) and C(keys). The role escrows that group's password as pending for
      them before it commits; C(commit_records) already names them.
  returned: when O(phase=apply)
  type: list
  elements: dict
replan_users:
  description:
    - Identities (user names) whose change was not sent because its password sync group changed after the plan
      (outcome state V(REPLAN)); the role plans them again, once, with the groups as they are now.
  returned: when O(phase=apply)
  type: list
  elements: str
replan_records:
  description: Store discards for the changes held back (never sent), as C(attempt) and C(keys).
  returned: when O(phase=apply)
  type: list
  elements: dict
rows:
  description:
    - The report, one row per account (account, status, detail), with the request id and the seconds the change
      took when the account was changed this run.
  returned: when O(phase=record)
  type: list
  elements: dict
totals:
  description: Number of accounts per status.
  returned: when O(phase=record)
  type: dict
summary:
  description: The report as an aligned text table.
  returned: when O(phase=record)
  type: list
  elements: str
stats:
  description:
    - Requests sent by operation, 429s absorbed, retries and tokens fetched by this phase, added up over the API
      clients; with several clients, C(by_client) holds the requests each client id sent.
  returned: when requests were sent
  type: dict
retired:
  description: The keys marked retired (O(phase=retire)).
  returned: when O(phase=retire)
  type: list
  elements: str
failed_clients:
  description: API client ids that failed authentication in this phase and were taken out of it, with the reason.
  returned: when O(phase=reconcile), O(phase=plan) or O(phase=apply)
  type: dict
who:
  description:
    - Who ran the rotation and where, also in the JSON report - C(controller_host), C(controller_user), C(awx_job_id)
      (O(job_id), null when empty) and C(api_clients) (the ids of the run's API clients, never a secret).
  returned: when O(phase=record)
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import phases


def client_class():
    """IscClient, imported only by a phase that talks to ISC (record, retire and a failed argument check never import
    requests and cryptography, most of a short module run's CPU)."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    return IscClient


def main():
    argument_spec = isc_argument_spec()
    argument_spec.update(
        phase=dict(type='str', required=True, choices=['reconcile', 'plan', 'apply', 'record', 'retire']),
        ledger_path=dict(type='path', required=True),
        run_id=dict(type='str'),
        store_pending=dict(type='dict', default={}),
        reconciled=dict(type='dict'),
        accounts=dict(type='list', elements='dict', default=[], options=dict(
            source_name=dict(type='str', required=True),
            user_name=dict(type='str', required=True),
            account_id=dict(type='str'),
            max_age_days=dict(type='int'),
            password_length=dict(type='int', no_log=False),
            exclude_chars=dict(type='str'),
            rotate_reason=dict(type='str', choices=['drift']),
            dependents=dict(type='list', elements='dict'),
            dependents_policy=dict(type='str', choices=['roll_forward', 'rollback']),
            password_history_forbids_reuse=dict(type='bool'),
        )),
        max_age_days=dict(type='int', default=90),
        password_length=dict(type='int', default=0, no_log=False),
        exclude_chars=dict(type='str', default=''),
        force=dict(type='bool', default=False),
        shard=dict(type='str', default=''),
        replan_users=dict(type='list', elements='str', default=[]),
        replan_exclude=dict(type='list', elements='str', default=[], no_log=False),
        held_pending=dict(type='dict', default={}, no_log=False),
        groups=dict(type='list', elements='dict', default=[], options=dict(
            group=dict(type='str', required=True),
            keys=dict(type='list', elements='str', required=True, no_log=False),
            identity_id=dict(type='str', required=True),
            source_id=dict(type='str', required=True),
            account_id=dict(type='str', required=True),
            public_key_id=dict(type='str', required=True, no_log=False),
            public_key=dict(type='str', required=True, no_log=False),
            reuse_pending=dict(type='bool', default=False),
            attempt=dict(type='str', required=True),
            supersedes=dict(type='str'),
            sources=dict(type='list', elements='str', default=[]),
            names=dict(type='dict', default={}),
            key_sources=dict(type='dict', default={}, no_log=False),
            password=dict(type='str', no_log=True),
            why=dict(type='str'),
        ), required_if=[('reuse_pending', False, ('password',))]),
        pending_passwords=dict(type='dict', default={}, no_log=True),
        pending_attempts=dict(type='dict', default={}),
        batch_size=dict(type='int', default=100),
        api_clients=dict(type='list', elements='dict', default=[], options=dict(
            client_id=dict(type='str', required=True),
            client_secret=dict(type='str', required=True, no_log=True),
        )),
        failed_clients=dict(type='dict', default={}),
        job_id=dict(type='str', default=''),
        wait_timeout=dict(type='int', default=300),
        poll_interval=dict(type='float', default=2.0),
        workers=dict(type='int', default=4),
        max_attempts=dict(type='int', default=3),
        decisions=dict(type='list', elements='dict', default=[]),
        outcomes=dict(type='list', elements='dict', default=[]),
        retired=dict(type='list', elements='str', default=[], no_log=False),
        retire_keys=dict(type='list', elements='str', default=[], no_log=False),
        verify_failures=dict(type='list', elements='dict', default=[]),
        dependents=dict(type='list', elements='dict', default=[]),
        alternates=dict(type='list', elements='dict', default=[]),
        started=dict(type='str'),
        report_json=dict(type='path'),
        report_junit=dict(type='path'),
        report_history=dict(type='int', default=30),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    phases.run(module, client_class)  # module_utils/phases.py: one function per phase


if __name__ == '__main__':
    main()
