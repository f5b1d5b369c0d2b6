# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dependents of a rotated password (issue 27): the accounts file's rules for them, which are due in a run,
and what their outcomes make of an account's status. The role's tasks/dependents*.yml do the work on the hosts.

Internal to the sailpoint_isc.passwords collection; may change without notice. Never a secret here: the
password reaches the dependents' tasks only, with no_log.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# type -> (required options, optional options); every type also takes COMMON
TYPES = {
    'file': (('path',), ('regexp', 'line', 'template', 'restart_command', 'service')),
    'systemd': (('environment_file', 'variable'), ('unit', 'restart_command')),
    'http_health': (('url',), ('status_code', 'retries', 'delay', 'timeout')),
    'tasks': (('tasks',), ()),
    # contract-tested against their modules' documented options (no Windows host or cluster in the tests)
    'windows_service': (('service', 'username'), ()),
    'scheduled_task': (('task', 'username'), ('task_path',)),
    'iis_app_pool': (('app_pool', 'username'), ()),
    'k8s_secret': (('namespace', 'secret', 'secret_key'), ('restart_workloads', 'kubeconfig', 'context')),
}
# the types whose host is a POSIX host (the preflight stats their target there)
POSIX_TYPES = ('file', 'systemd', 'http_health', 'tasks')
COMMON = ('type', 'host', 'order')
INT_OPTIONS = ('order', 'status_code', 'retries', 'delay', 'timeout')
HINTS = {
    'path': '<path of the config file on the host>',
    'environment_file': '<the unit\'s EnvironmentFile path>',
    'variable': '<the variable that holds the password, for example DB_PASSWORD>',
    'url': '<http(s) URL that answers healthy>',
    'tasks': '<path of your task file>',
    'host': '<an inventory host name>',
    'service': '<the Windows service name>',
    'username': '<the account as Windows knows it, for example CORP\\svc-app-001>',
    'task': '<the scheduled task name>',
    'app_pool': '<the IIS application pool name>',
    'namespace': '<the Kubernetes namespace>',
    'secret': '<the Secret name>',
    'secret_key': '<the key of the Secret that holds the password>',
}
WORKLOAD_KINDS = {'deployment': 'Deployment', 'statefulset': 'StatefulSet', 'daemonset': 'DaemonSet'}
POLICIES = ('roll_forward', 'rollback')


def target(dep):
    """What a dependent updates, for its id and the reports (never a secret)."""
    if dep.get('type') == 'k8s_secret':
        return '%s/%s.%s' % (dep.get('namespace'), dep.get('secret'), dep.get('secret_key'))
    for name in ('path', 'environment_file', 'url', 'tasks', 'service', 'task', 'app_pool'):
        if dep.get(name):
            return str(dep[name])
    return ''


def dependent_id(dep):
    """A dependent's name in the ledger and the reports: type, host and target; stable when the list is reordered."""
    return '%s %s:%s' % (dep.get('type'), dep.get('host'), target(dep))


def problems_of(deps):
    """What is wrong with one account's dependents list, each with its fix; [] when nothing is."""
    if deps is None:
        return []
    if not isinstance(deps, list):
        return ['dependents is a %s; give a list of mappings, each with type and host' % type(deps).__name__]
    out, seen = [], set()
    for index, dep in enumerate(deps):
        where = 'dependents[%d]' % index
        if not isinstance(dep, dict):
            out.append('%s is a %s, not a mapping; write "- type: file" with "host: %s" below it'
                       % (where, type(dep).__name__, HINTS['host']))
            continue
        kind = dep.get('type')
        if kind not in TYPES:
            out.append('%s: type %r is not one of %s; set type to one of them' % (where, kind, ', '.join(sorted(TYPES))))
            continue
        required, optional = TYPES[kind]
        for name in ('host',) + required:
            value = dep.get(name)
            if not isinstance(value, str) or not value.strip():
                out.append('%s (%s): %s is missing; add "%s: %s"' % (where, kind, name, name, HINTS.get(name, '<text>')))
        for name, value in dep.items():
            if name not in COMMON + required + optional:
                out.append('%s (%s): unknown option %r; a %s dependent takes %s'
                           % (where, kind, name, kind, ', '.join(COMMON[1:] + required + optional)))
            elif name in INT_OPTIONS and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                out.append('%s (%s): %s %r is not a whole number; give one' % (where, kind, name, value))
        if kind == 'file' and bool(dep.get('template')) == bool(dep.get('line')):
            out.append('%s (file): give either line (with regexp) or template, not %s'
                       % (where, 'both' if dep.get('template') else 'neither'))
        elif kind == 'file' and dep.get('line') and not dep.get('regexp'):
            out.append('%s (file): line needs regexp, the line it replaces (for example "^password=")' % where)
        elif kind == 'file' and dep.get('line') and '{password}' not in dep['line']:
            out.append('%s (file): line must hold the placeholder {password} where the password goes' % where)
        out.extend(_workload_problems(where, dep) if kind == 'k8s_secret' else [])
        if kind == 'file' and dep.get('restart_command') and dep.get('service'):
            out.append('%s (file): give restart_command or service, not both' % where)
        ident = dependent_id(dep)
        if ident in seen:
            out.append('%s: %s is listed twice for this account; remove one' % (where, ident))
        seen.add(ident)
    return out


def _workload_problems(where, dep):
    workloads = dep.get('restart_workloads')
    if workloads is None:
        return []
    if not isinstance(workloads, list) or not all(isinstance(w, str) and w.partition('/')[0].lower() in WORKLOAD_KINDS
                                                  and w.partition('/')[2] for w in workloads):
        return ['%s (k8s_secret): restart_workloads is a list of "<kind>/<name>", kind one of %s (for example '
                '"deployment/app"); got %r' % (where, ', '.join(WORKLOAD_KINDS), workloads)]
    return []


def account_problems(acct):
    """What is wrong with an account's dependents_policy and password_history_forbids_reuse, each with its fix."""
    out = []
    policy = acct.get('dependents_policy')
    if policy is not None and policy not in POLICIES:
        out.append('dependents_policy %r is not one of %s; set one of them' % (policy, ', '.join(POLICIES)))
    forbids = acct.get('password_history_forbids_reuse')
    if forbids is not None and not isinstance(forbids, bool):
        out.append('password_history_forbids_reuse %r is not true or false; give one' % (forbids,))
    return out


def check(accounts):
    """Problems of every account's dependents, one per row as 'accounts[i]: ...' (the style of check_names)."""
    out = []
    for index, acct in enumerate(accounts):
        if not isinstance(acct, dict):
            continue
        for problem in account_problems(acct) + problems_of(acct.get('dependents')):
            out.append('accounts[%d]: %s' % (index, problem))
    return out


def policy_of(acct, default='roll_forward'):
    """The account's dependents policy: its own dependents_policy, else the run's."""
    return acct.get('dependents_policy') or default or 'roll_forward'


def ordered(deps):
    """Dependents in the order they are applied: by order (default 0), then as listed."""
    return [d for _i, d in sorted(enumerate(deps or []), key=lambda pair: (pair[1].get('order') or 0, pair[0]))]


def restart_key(dep):
    """(host, what restarts) for a dependent that restarts something, else None: one restart per key and run."""
    kind = dep.get('type')
    if kind == 'windows_service':
        return '%s windows service:%s' % (dep['host'], dep['service'])
    if kind == 'iis_app_pool':
        return '%s app pool:%s' % (dep['host'], dep['app_pool'])
    if kind == 'k8s_secret':  # one rollout restart per namespace and list of workloads
        workloads = sorted(w.lower() for w in dep.get('restart_workloads') or ())
        return '%s k8s:%s/%s' % (dep['host'], dep['namespace'], ','.join(workloads)) if workloads else None
    if kind == 'scheduled_task':
        return None  # the task reads its password at its next run
    if dep.get('restart_command'):
        return '%s command:%s' % (dep['host'], dep['restart_command'])
    name = dep.get('service') or dep.get('unit')
    return '%s service:%s' % (dep['host'], name) if name else None


def _labelled(deps, key):
    """Each dependent with its account key, id and restart key (restart: '' when it restarts nothing)."""
    # user_name: the account's, for a file's {user_name} (an alternating credential's dependents get the account too)
    user = key.partition('/')[2].partition('#')[0]
    return [dict(d, key=key, id=dependent_id(d), restart=restart_key(d) or '', workloads=_workloads(d), user_name=user)
            for d in deps]


def _workloads(dep):
    """A k8s_secret's restart_workloads as [{kind, name}] for kubernetes.core.k8s; [] for the other types."""
    out = []
    for text in dep.get('restart_workloads') or () if dep.get('type') == 'k8s_secret' else ():
        kind, _slash, name = text.partition('/')
        out.append({'kind': WORKLOAD_KINDS[kind.lower()], 'name': name})
    return out


def due(accounts, entries, committed, held):
    """The dependents to apply in this run, [{key, dependents}] in account order.

    accounts: [{key, dependents, policy}] (the listed accounts that have some); entries: key -> ledger entry;
    committed: keys whose new password the store committed in this run (all their dependents);
    held: keys whose change is still unsettled after this run (none of theirs: the password may not be live).
    An account the ledger marks (dependents_due: a run was killed before its dependents, or some failed) gets the
    marked ones again with the store's current password, without a new set-password."""
    out = []
    # committed wins: an escrowed password an earlier run left (an orphan, held until settled) that this run sent again
    # and committed is live now, and its dependents are due
    committed = set(committed)
    held = set(held) - committed
    for acct in accounts:
        deps = ordered(acct.get('dependents'))
        if not deps or acct['key'] in held:
            continue
        if acct['key'] in committed:
            out.append({'key': acct['key'], 'dependents': _labelled(deps, acct['key']), 'why': 'rotated',
                        'policy': acct.get('policy') or 'roll_forward'})
            continue
        entry = entries.get(acct['key']) or {}
        marked = set(entry.get('dependents_due') or ())
        # current, or failed (a later change failed and was discarded: the store's current password is still live)
        if marked and entry.get('state') in ('current', 'failed'):
            again = [d for d in deps if dependent_id(d) in marked]
            if again:
                # marked again: the new password is kept whatever the policy (no rollback of an earlier run's change)
                out.append({'key': acct['key'], 'dependents': _labelled(again, acct['key']), 'why': 'again',
                            'policy': 'roll_forward'})
    return out


def _listed(deps):
    return '; '.join('%s %s' % (d['id'], d['outcome']) for d in deps)


def rows(results):
    """Per account: status, detail and the dependents' outcomes, for the report; and the ledger's due marker.

    results: [{key, why, dependents: [{id, outcome}]}] where outcome is updated / restarted / healthy or
    'failed: <task name>'. Policy rollback adds rollback: 'started' (the change back is escrowed, about to be sent),
    'done' (the previous password is live again; dependents are then the outcomes on it, failed_before the ones that
    failed on the new password) or why it could not be done (the new password is kept, as roll_forward)."""
    out = []
    for res in results:
        deps = res['dependents']
        failed = [d for d in deps if str(d['outcome']).startswith('failed')]
        rollback, before = res.get('rollback'), res.get('failed_before') or []
        due = [d['id'] for d in failed]
        if rollback == 'started':
            status, due = 'rolling_back', []
            detail = ('%d dependent(s) failed on the new password (%s); rolling back: the previous password is escrowed '
                      'and set again through ISC' % (len(failed), _listed(failed)))
        elif rollback == 'done' and not failed and not before:
            # none of its own failed: another account of its password change (a password sync group) took it back
            status = 'rolled_back'
            detail = ('its dependents passed, but it shares its password change (a password sync group) with an account '
                      'whose dependents failed on the new password: the previous password was set again through ISC for '
                      'all of them (policy rollback) and the %d dependent(s) applied with it' % len(deps))
        elif rollback == 'done' and not failed:
            status = 'rolled_back'
            detail = ('%d dependent(s) failed on the new password (%s): the previous password was set again through ISC '
                      '(policy rollback) and the %d dependent(s) applied with it' % (len(before), _listed(before), len(deps)))
        elif rollback == 'done':
            status = 'dependents_degraded'
            detail = ('rolled back to the previous password through ISC after %d dependent(s) failed on the new one, but '
                      '%d of %d failed on the previous one too (%s); the next run applies those again'
                      % (len(before), len(failed), len(deps), _listed(failed)))
        elif failed:
            status = 'dependents_degraded'
            detail = ('%d of %d dependent(s) failed (%s); the new password is kept (%s) and the next run applies the '
                      'failed ones again, with no new set-password'
                      % (len(failed), len(deps), _listed(failed),
                         'rollback not done: %s' % rollback if rollback else 'roll_forward'))
        else:
            status = None  # the account's own status stands
            detail = '%d dependent(s) %s' % (len(deps), 'updated again' if res.get('why') == 'again' else 'updated')
        out.append({'key': res['key'], 'status': status, 'detail': detail, 'due': due,
                    'dependents': [{'id': d['id'], 'outcome': d['outcome']} for d in deps]})
    return out
