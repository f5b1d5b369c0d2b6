# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases of the module isc_rotation: one function per phase, and ``run`` that picks one for a module run.

Internal to the sailpoint_isc.passwords collection; may change without notice.

Each phase function takes the module's parameters (``params``), the ledger and, for the phases that talk to ISC,
the client (an IscClient or a ClientPool, built by ``run`` from the class returned by the function the module hands
in: this file never imports the client). It returns the module's result; ``run`` adds the client's stats and exits
the module.

The phases hand each other four structures through the role: ``reconciled`` (reconcile -> plan, record and the
role's store steps), ``decisions`` (plan -> record and the role), ``groups`` (plan -> the role's escrow and apply)
and ``outcomes`` (apply -> record and the role). The module's options of those names take them back as the earlier
phase returned them. Their fields are written once,
in CONTRACT below (tests/unit/plugins/module_utils/test_phase_contract.py checks the code and the module's RETURN
against it).
"""

from __future__ import annotations

import traceback

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import exit_json_many_secrets, fail_isc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, lease

# Each phase imports the module_utils it uses inside its function, and the client is built from the class only
# when a phase talks to ISC: a module run compiles every file it imports from source (AnsiballZ has no bytecode
# cache), so record, retire and a failed argument check should not pay for the engines, requests and cryptography.

# The phases' contract: per structure, per field, whether it is always there (or when) and what it holds.
# A record is {attempt, keys}: the store operation on those keys' password of that attempt (commit or discard).
CONTRACT = {
    'reconciled': {  # rotation.reconcile: what an earlier run left pending, settled before anything is planned
        'finished': ('always', 'requests that ended FINISHED (items, below)'),
        'failed': ('always', 'requests that ended FAILED, whose password can never have reached a source (items)'),
        'waiting': ('always', 'requests still IN_PROGRESS, or UNREADABLE this run (items)'),
        'orphans': ('always', 'keys whose escrowed pending password must be read back and re-sent'),
        'abandoned': ('always', 'keys the ledger had pending with nothing escrowed in the store'),
        'commit_records': ('always', 'store commits for the finished requests (records)'),
        'discard_records': ('always', 'store discards for the failed requests, and keys a finished one missed (records)'),
    },
    'reconciled item': {  # one request of reconciled's finished, failed and waiting
        'request_id': ('always', 'the request id of the earlier change'),
        'keys': ('always', 'the account keys it changes (without those it missed)'),
        'attempt': ('always', "the attempt id of its password in the store ('legacy' before attempts)"),
        'state': ('always', "ISC's state of the request, or UNREADABLE"),
        'errors': ('when read', "ISC's errors"),
        'source_ids': ('when read', 'the sources ISC applied it to (sourceIds)'),
        'beyond': ('when it reached sources beyond the plan', 'those source ids'),
        'missed': ('when finished short of planned sources', 'the planned keys it did not reach'),
        'reason': ('when UNREADABLE', 'why the status could not be read'),
    },
    'decision': {  # planning.plan: one per account of this run, in the order of the accounts list
        'key': ('always', 'the account key (source/user, or source/user/account id)'),
        'source_name': ('always', 'the source display name'),
        'user_name': ('always', 'the identity user name'),
        'account_id': ('always', 'the native account id, or null when the identity has one account there'),
        'group': ('always', 'the change (shared password) it belongs to'),
        'action': ('always', 'one of planning.GROUP_PRECEDENCE, or supersede'),
        'reason': ('always', 'why, for the report'),
        'unlisted': ('when not in the accounts list', 'true: its sync group changes it too'),
    },
    'group': {  # planning.plan: one per change to send (the role escrows it, then apply sends it)
        'group': ('always', 'the change: one account, or an identity\'s accounts on a password sync group'),
        'keys': ('always', 'the account keys it changes'),
        'identity_id': ('always', 'the ISC identity id'),
        'source_id': ('always', 'the source of the account set-password names'),
        'account_id': ('always', 'that native account id'),
        'public_key_id': ('always', 'the key id of query-password-info'),
        'public_key': ('always', 'the public key the password is encrypted with'),
        'reuse_pending': ('always', 'a re-send: the password escrowed under attempt, which apply reads itself'),
        'attempt': ('always', 'the attempt id that names its password in the store (one attempt, one password)'),
        'password': ('when not a re-send', 'the new password (a re-send carries none: apply joins the pending '
                                           'passwords read back from the store to it by attempt, resend.py)'),
        'supersedes': ('when it replaces an escrowed password ISC now refuses', 'that attempt'),
        'sources': ('always', 'the source ids the change is planned to reach'),
        'names': ('always', 'per key, its source name, user name and account id'),
        'key_sources': ('always', 'per key, the source id of its account'),
        'why': ('always', 'due, forced, drift or resend (the role sets rollback for a change back)'),
    },
    'outcome': {  # rotation.apply (Apply.settle), completed by reach.settle_applied: one per planned change
        'group': ('always', 'the change (the group id of the plan)'),
        'keys': ('always', 'the account keys it changed (reach and overlap move keys in and out)'),
        'attempt': ('always', 'the attempt id of its password in the store'),
        'state': ('always', 'FINISHED, FAILED, REJECTED, IN_PROGRESS, STATUS_UNKNOWN, UNKNOWN, REPLAN or DEFERRED'),
        'request_id': ('always', 'the request id, or null when none is known'),
        'errors': ('always', "ISC's errors, or why it was not sent or not settled"),
        'resend': ('always', 'whether it re-sent an escrowed password'),
        'sources': ('always', 'the source ids the plan counted on'),
        'supersedes': ('always', 'the attempt whose escrowed password it replaces, or null'),
        'sent': ('always', 'its place in the send order, or null when it was not sent'),
        'seconds': ('always', 'from its submission to its outcome'),
        'source_ids': ('when a status was read', 'the sources ISC applied it to (sourceIds)'),
        'refused': ('when REJECTED', 'whether ISC refused it with a 400 that is not an unknown account'),
        'beyond': ('when it reached unplanned sources', 'those source ids'),
        'missed': ('when it missed planned sources', 'the planned keys it did not reach'),
        'reached': ('when it reached accounts beyond the plan', 'those keys, with what reach.py knows of them'),
        'overtaken': ('when a later change of the identity reached its keys', 'those keys'),
        'supersede': ('when keys it reached beyond the plan hold an earlier change\'s pending',
                      '{key: attempt}: its escrow for them supersedes that pending (reach_escrow)'),
    },
}

# the options that must be at least this much (the argument spec cannot say it)
MINIMUMS = (('workers', 1), ('batch_size', 1), ('max_attempts', 1), ('wait_timeout', 0),
            ('max_age_days', 0), ('password_length', 0), ('report_history', 0))


def run(module, client_class):
    """The whole module run: check the bounds, run the phase, exit with its result or fail with a clear message.
    ``client_class`` is a function that returns the client class (IscClient), called only by a phase that talks to ISC."""
    check_bounds(module)
    try:
        result = run_phase(module, client_class)
        if module.params['phase'] in ('plan', 'apply'):
            # the passwords it took (new, and escrowed ones to re-send) are no_log values: Ansible's masking of the
            # result would be quadratic
            exit_json_many_secrets(module, result, [group['password'] for group in module.params['groups']]
                                   + list(module.params['pending_passwords'].values()))
        module.exit_json(**result)
    except (IscError, ledger_mod.RotationError, lease.LeaseError) as exc:
        if not isinstance(exc, lease.LeaseError):  # refused by a lease: the state is another run's
            failed_report(module, str(exc))
        fail_isc(module, exc)
    except (OSError, ValueError) as exc:
        failed_report(module, 'rotation %s phase failed: %s' % (module.params['phase'], exc))
        module.fail_json(msg='rotation %s phase failed: %s' % (module.params['phase'], exc),
                         exception=traceback.format_exc())


def check_bounds(module):
    for name, minimum in MINIMUMS:
        if module.params[name] < minimum:
            module.fail_json(msg='%s must be at least %d (got %d); with the role, set service_account_rotation_%s'
                             % (name, minimum, module.params[name], name))
    if module.params['poll_interval'] <= 0:
        module.fail_json(msg='poll_interval must be above 0 (got %s); with the role, set '
                             'service_account_rotation_poll_interval' % module.params['poll_interval'])


def run_phase(module, client_class):
    params = module.params
    phase = params['phase']
    # one module at a time per state directory, and only for the run that holds the lease; the lock is
    # held until this process ends, even if the controller that started it was killed
    lease.WorkLock(params['ledger_path'], params['run_id'], phase).take()
    ledger = ledger_mod.Ledger(params['ledger_path']).load()
    if phase == 'retire':
        return retire(params, ledger, module.check_mode)
    if phase == 'record':
        return record(params, ledger, module.check_mode, module.warn)

    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client_pool import pool_from_module
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight
    # one client (the connection options), or several (api_clients / SAIL_API_CLIENTS): client_pool.py
    client = pool_from_module(module, client_class())
    preflight(module, client, 'rotation')  # rights.py: before any request but the token's
    if phase == 'reconcile':
        result = reconcile(params, client, ledger)
    elif phase == 'plan':
        result = plan(params, client, ledger, module.warn)
        if len(client.clients) > 1:
            client.check()  # every client failed authentication: say so, naming them, rather than fail each account
    else:
        if module.check_mode:
            return dict(changed=bool(params['groups']), outcomes=[], commit_records=[], discard_records=[])
        result = apply(params, client, ledger)
    result['stats'] = dict(client.stats)
    result['failed_clients'] = dict(client.failed)
    return result


def retire(params, ledger, check_mode):
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import settlement
    keys = settlement.retire_by_hand(ledger, params['retire_keys'], params['run_id'], check_mode)
    return dict(changed=True, retired=keys)


def record(params, ledger, check_mode, warn):
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import alternate, audit, recording, report as report_mod
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api_clients import failure_lines
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import setting as shard_setting
    who = audit.who(params['job_id'], audit.client_ids(params['api_clients'], params.get('client_id')))
    if not check_mode:
        reconciled = params['reconciled'] or {}
        if ledger.shard is not None or params['outcomes'] or params['retired'] or any(
                reconciled.get(kind) for kind in ('finished', 'failed', 'abandoned')):
            # saved with the records: the next plan compares (a run that recorded nothing leaves the file as it was)
            ledger.shard = shard_setting(params['shard'])
        alternate.record(ledger, params['alternates'], run_id=params['run_id'], who=who)  # saved by recording.record
        recording.record(ledger, params['reconciled'] or {}, params['outcomes'], params['max_attempts'],
                         run_id=params['run_id'], retired=params['retired'], who=who)
    rows, totals = report_mod.summarize(params['decisions'], params['reconciled'] or {}, params['outcomes'],
                                        check_mode=check_mode, verify_failures=params['verify_failures'],
                                        store_pending=params['store_pending'], retired=params['retired'],
                                        dependents=params['dependents'])
    if not check_mode:
        report_mod.write_reports(rows, totals, params['report_json'], params['report_junit'], started=params['started'],
                                 run_id=params['run_id'], keep_runs=params['report_history'],
                                 failed_clients=params['failed_clients'], who=who,
                                 alternates=alternate.report_rows(params['alternates']))
    for line in failure_lines(params['failed_clients']):
        warn(line)  # a warning Ansible shows (and AWX counts), not a line inside a debug message
    return dict(changed=False, rows=rows, totals=totals, who=who,
                summary=failure_lines(params['failed_clients']) + report_mod.render_table(rows, totals))


def reconcile(params, client, ledger):
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import rotation
    return dict(changed=False, started=ledger_mod.iso(ledger_mod.utcnow()),
                reconciled=rotation.reconcile(client, ledger, params['store_pending'], workers=params['workers']))


def plan(params, client, ledger, warn):
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import planning
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_SYNC_GROUPS, serves
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import (
        change_warning as shard_change_warning, parse_shard, select as shard_select, setting as shard_setting)
    result = dict(changed=False)
    reconciled = params['reconciled']
    if reconciled is None:
        # nothing escrowed to read back (the role's case when the store holds nothing pending): reconcile here
        result.update(reconcile(params, client, ledger))
        reconciled = result['reconciled']
        if reconciled['orphans']:
            # their escrowed passwords must be re-sent, never replaced: the role reads them back first
            raise ledger_mod.RotationError(
                '%d escrowed password(s) must be read back from the store and re-sent (%s): run the reconcile '
                'phase, read them back, and pass its result as reconciled' % (len(reconciled['orphans']),
                                                                              ', '.join(reconciled['orphans'][:5])))
    # without the sync groups accounts that share a password would get different ones; api.py's table
    # says which API versions serve them (today every one). Read only when some account is queried.
    sync_groups = client.list_password_sync_groups if serves(client.api_version, OP_SYNC_GROUPS) else None
    # names that would make keys ambiguous are refused in the whole list (row numbers as the user wrote them,
    # and two spellings of one identity may fall into different shards)
    planning.check_names(params['accounts'])
    warning = shard_change_warning(ledger.shard if ledger.accounts else None, shard_setting(params['shard']),
                                   params['ledger_path'])
    if warning:
        warn(warning)
    # this job's share of the accounts (shard.py: by identity, so sync groups stay whole)
    accounts = planning.with_defaults(shard_select(params['accounts'], parse_shard(params['shard'])),
                                      params['max_age_days'], params['password_length'], params['exclude_chars'])
    if params['replan_users']:
        # planning again the identities whose change was held back (reach.py): their accounts and orphans only
        accounts, reconciled = planning.only_users(accounts, reconciled, ledger, params['replan_users'],
                                                   params['replan_exclude'])
    decisions, groups = planning.plan(client, accounts, ledger, reconciled,
                                      force=params['force'], sync_groups=sync_groups,
                                      pending_passwords=params['pending_passwords'],
                                      pending_attempts=params['pending_attempts'],
                                      store_pending=params['store_pending'], workers=params['workers'])
    result.update(decisions=decisions, groups=groups)
    return result


def apply(params, client, ledger):
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import reach as reach_mod, rotation
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_SYNC_GROUPS, serves
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.progress import ProgressLog
    # progress.log beside the ledger, and live in the job log with the rotation_progress callback
    progress = ProgressLog(params['ledger_path'])
    # the sync groups are read again right before each change is sent (reach.py); a change whose reach moved
    # since the plan is held back, and the role plans its identity again
    check = reach_mod.ReachCheck(client.list_password_sync_groups) if serves(client.api_version, OP_SYNC_GROUPS) else None
    try:
        outcomes = rotation.apply(client, params['groups'], ledger, wait_timeout=params['wait_timeout'],
                                  poll_interval=params['poll_interval'], workers=params['workers'],
                                  batch_size=params['batch_size'], progress=progress, reach=check,
                                  run_id=params['run_id'], pending_passwords=params['pending_passwords'],
                                  pending_attempts=params['pending_attempts'])
    finally:
        progress.close()
    reached = reach_mod.settle_applied(client, outcomes, params['groups'], ledger,  # before the records: it moves keys
                                       read_groups=check.read_groups if check is not None else None,
                                       held_pending=params['held_pending'])
    commits, discards = rotation.outcome_records(outcomes)
    return dict(changed=bool(outcomes), outcomes=outcomes, progress=progress.lines[-1:], commit_records=commits,
                discard_records=discards + reached['discard_records'], reach_escrow=reached['reach_escrow'],
                replan_users=reached['replan_users'], replan_records=reached['replan_records'])


def failed_report(module, reason):
    """A run that stops before its plan still leaves a report: failed, with the reason (the job log's message).
    Only for a real run that holds the lease (a run id)."""
    params = module.params
    if params['phase'] not in ('reconcile', 'plan') or module.check_mode or not params['run_id']:
        return
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import audit, report as report_mod
    try:
        who = audit.who(params['job_id'], audit.client_ids(params['api_clients'], params.get('client_id')))
        report_mod.write_reports([], {'failed_before_plan': 1}, params['report_json'], params['report_junit'],
                                 started=params['started'], run_id=params['run_id'], keep_runs=params['report_history'],
                                 who=who, failure='the run stopped before its plan: %s' % reason)
    except (OSError, ValueError):
        pass  # the run's own failure is the message that matters
