# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation's reports: one row per account, the table in the job log, JSON and JUnit files.

Internal to the sailpoint_isc.passwords collection; may change without notice. Never a secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import os
import re

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import write_atomic
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import iso, parse_iso, utcnow

FAILING = ('failed', 'unknown', 'unverified', 'dependents_degraded', 'rolled_back')  # report statuses that are JUnit failures
SKIPPED = ('skipped', 'parked', 'pending', 'would rotate', 'retired', 'would retire')  # JUnit skipped


def summarize(decisions, reconciled, outcomes, check_mode=False, verify_failures=(), store_pending=(), retired=(),
              dependents=()):
    """One row per account: what happened to it in this run, and one for every key the store held pending when
    the run began (store_pending), listed or not. retired: the keys the store archived this run. Never a secret."""
    by_key, audit = {}, {}  # key -> (status, detail); key -> request id and seconds of its change
    for item in reconciled.get('finished', []) + reconciled.get('failed', []) + list(outcomes):
        for key in item['keys']:
            audit[key] = {'request_id': item.get('request_id'), 'seconds': item.get('seconds')}
    for item in reconciled.get('finished', []):
        _missed_rows(item, 'earlier change %s FINISHED' % item['request_id'], by_key)
        for key in item['keys']:
            by_key[key] = ('rotated', 'earlier change confirmed FINISHED (%s)' % item['request_id'])
            if item.get('beyond'):
                by_key[key] = ('unknown', 'earlier change %s FINISHED but also reached source(s) %s, whose accounts '
                               'now hold a password the store does not record' % (item['request_id'],
                                                                                  ', '.join(item['beyond'])))
    for item in reconciled.get('failed', []):
        for key in item['keys']:
            by_key[key] = ('failed', 'earlier change FAILED: %s' % '; '.join(item['errors']))
    for item in reconciled.get('waiting', []):
        for key in item['keys']:
            if item.get('state') == 'UNREADABLE':
                by_key[key] = ('unknown', item['reason'] + '; its password stays pending and the next run reads it again')
            else:  # still in flight: listed or not, the key is reported until its change is settled
                by_key[key] = ('pending', 'earlier change %s still %s at ISC; its password stays pending and a later '
                               'run settles it' % (item['request_id'], item.get('state') or 'IN_PROGRESS'))
    for outcome in outcomes:
        _outcome_rows(outcome, by_key)
    for failure in verify_failures or ():
        # ISC set the password (it is current in the store) but the target did not accept it.
        by_key[failure['key']] = ('unverified', 'ISC reports FINISHED but verification failed: %s'
                                  % failure.get('reason', 'the verify task failed'))
    rows, seen = [], set()
    for decision in decisions:
        action = decision.get('action')
        seen.add(decision['key'])
        if decision['key'] in by_key and action != 'retire':  # what its last change did is settled, then archived
            status, detail = by_key[decision['key']]
        elif action in ('rotate', 'resubmit', 'supersede'):
            status, detail = ('would rotate', decision['reason']) if check_mode else ('pending', decision['reason'])
        elif action == 'retire':
            status, detail = ('would retire' if check_mode else 'retired', decision['reason'])
            if not check_mode and decision['key'] not in set(retired or ()):
                status, detail = 'failed', detail + '; but the store did not archive it: its password stays pending'
        elif action == 'skip':
            status, detail = 'skipped', decision['reason']
        elif action == 'waiting':
            status, detail = 'pending', decision['reason']
        elif action == 'parked':
            status, detail = 'parked', decision['reason']
        else:
            status, detail = 'failed', decision.get('reason', '')
        if decision.get('unlisted') and 'not in the accounts list' not in detail:
            detail += ' (not in the accounts list: settling what an earlier run left)'
        rows.append(dict({'account': decision['key'], 'status': status, 'detail': detail},
                         **_audit_fields(audit.get(decision['key']))))
        if action in ('rotate', 'resubmit', 'supersede') and str(decision.get('reason')).startswith('drift'):
            rows[-1]['reason'] = 'drift'  # discovery: rotated because ISC saw a change behind our back
    for key in set(store_pending or ()) - seen - set(by_key):  # pending in the store: never without a row
        by_key[key] = ('pending', 'its password is pending in the store; a later run settles it')
    for key in sorted(set(by_key) - seen):  # settled this run, no longer listed
        status, detail = by_key[key]
        rows.append(dict({'account': key, 'status': status, 'detail': detail + ' (not in the accounts list)'},
                         **_audit_fields(audit.get(key))))
    _with_dependents(rows, dependents)
    counts = collections.Counter(r['status'] for r in rows)
    return rows, dict(counts)


def _outcome_rows(outcome, by_key):
    """The rows of the keys one change of this run reached (and of those it missed)."""
    status = {'FINISHED': 'rotated', 'FAILED': 'failed', 'REJECTED': 'failed', 'REPLAN': 'failed',
              'IN_PROGRESS': 'pending', 'UNKNOWN': 'unknown', 'STATUS_UNKNOWN': 'unknown',
              'DEFERRED': 'pending'}.get(outcome['state'], 'unknown')
    detail = outcome['state'] + (' ' + outcome['request_id'] if outcome.get('request_id') else '')
    if outcome.get('errors'):
        detail += ': ' + '; '.join(outcome['errors'])
    if status == 'rotated' and outcome.get('supersedes'):
        status = 'superseded'
        detail += ('; a fresh password superseded the escrowed one of attempt %s, which ISC refused: the new one is '
                   'current, the old one previous' % outcome['supersedes'])
    if outcome.get('beyond'):
        status = 'unknown'
        detail += ('; the change also reached source(s) %s, whose accounts now hold a password the store does not '
                   'record' % ', '.join(outcome['beyond']))
    for key in outcome['keys']:
        by_key[key] = (status, detail + ('; not planned for it: its source joined the password sync group after the '
                                         'plan, the change reached it and the store holds its password'
                                         if key in (outcome.get('reached') or {}) else ''))
    _missed_rows(outcome, detail, by_key)


def _missed_rows(item, detail, by_key):
    """Rows of the planned keys a change did not reach (their source left its password sync group in between)."""
    for key in item.get('missed') or ():
        if item.get('resend'):
            by_key[key] = ('unknown', '%s; its source left the password sync group before the change was applied: the '
                                      're-sent password stays pending and a later run sends it to this account' % detail)
        else:
            by_key[key] = ('skipped', '%s; its source left the password sync group before the change was applied: ISC '
                                      'did not change it, it keeps its current password' % detail)


def _with_dependents(rows, dependents):
    """Each account's dependents (issue 27, dependents.rows()) in its row: their outcomes, their status when they set
    one (dependents_degraded, rolled_back), else the account's own status with their detail added."""
    by_key = dict((row['key'], row) for row in dependents or ())
    for row in rows:
        found = by_key.get(row['account'])
        if found:
            row.update(status=found['status'] or row['status'], dependents=found['dependents'],
                       detail='%s; dependents: %s' % (row['detail'], found['detail']))


def _audit_fields(found):
    out = {}
    if found and found.get('request_id'):
        out['request_id'] = found['request_id']
    if found and found.get('seconds') is not None:
        out['seconds'] = found['seconds']
    return out


# statuses the job log counts but does not list ('superseded' and 'retired' are listed: the world changed under them)
QUIET_STATUSES = ('rotated', 'skipped')
SUMMARY_ROWS = 50  # rows the job log lists at most; the JSON and JUnit reports hold every row


def render_table(rows, counts, limit=SUMMARY_ROWS):
    """The job log's summary: the rows that need a look (capped), then the totals. Fits any fleet size."""
    shown = [r for r in rows if r['status'] not in QUIET_STATUSES]
    lines = []
    if shown:
        width = max([len('account')] + [len(r['account']) for r in shown[:limit]])
        lines.append('%-*s  %-12s  %s' % (width, 'account', 'status', 'detail'))
        lines += ['%-*s  %-12s  %s' % (width, r['account'], r['status'], r['detail'][:320]) for r in shown[:limit]]
        if len(shown) > limit:
            lines.append('... and %d more accounts that are not %s: every row is in the JSON and JUnit reports'
                         % (len(shown) - limit, ' or '.join(QUIET_STATUSES)))
    lines.append('totals: ' + ', '.join('%s=%d' % kv for kv in sorted(counts.items())))
    return lines


def _run_copy(path, stamp):
    """runs/<name>-<stamp><ext> beside path: every run's report is kept, path itself is the latest."""
    directory, name = os.path.split(path)
    base, ext = os.path.splitext(name)
    return os.path.join(directory, 'runs', '%s-%s%s' % (base, stamp, ext))


def _prune(path, keep):
    """Keep the newest `keep` run copies of the report at path (names sort by time)."""
    directory = os.path.dirname(_run_copy(path, 'x'))
    base, ext = os.path.splitext(os.path.basename(path))
    if not os.path.isdir(directory):
        return
    mine = sorted(n for n in os.listdir(directory) if n.startswith(base + '-') and n.endswith(ext))
    for name in mine[:max(0, len(mine) - keep)]:
        os.unlink(os.path.join(directory, name))


def write_reports(rows, counts, json_path=None, junit_path=None, started=None, run_id=None, keep_runs=30,
                  now=None, failed_clients=None, who=None, failure=None, alternates=None):
    """The JSON and JUnit reports: at their paths (the latest run) and, when keep_runs, one copy per run
    under runs/ beside them, with a UTC timestamp in the name; older copies beyond keep_runs are removed.
    failed_clients: {client id: reason} of the API clients taken out of the run (authentication failed).
    who: the controller host and user, the AWX job id and the API client ids of the run (audit.who).
    failure: why a run stopped before its plan (no rows then): the JSON's "failure", one failing JUnit case.
    alternates: per alternating credential, its switch or why not (alternate.report_rows): the JSON's "alternates"."""
    now = now or utcnow()
    stamp = now.strftime('%Y%m%dT%H%M%SZ') + ('-' + run_id[:8] if run_id else '')
    elapsed = max(0.0, (now - parse_iso(started)).total_seconds()) if started else 0.0
    outputs = []
    if json_path:
        report = {'generated': iso(now), 'started': started, 'run_id': run_id, 'totals': counts,
                  'api_clients_failed': dict(failed_clients or {}), 'who': who, 'accounts': rows}
        if failure:
            report['failure'] = failure
        if alternates:
            report['alternates'] = alternates
        outputs.append((json_path, json.dumps(report, indent=1) + '\n'))
    if junit_path:
        run_row = [{'account': 'run/' + (run_id or ''), 'status': 'failed', 'detail': failure}] if failure else []
        outputs.append((junit_path, _junit(rows + run_row, elapsed)))
    for path, text in outputs:
        write_atomic(path, text, 0o644)
        if keep_runs:
            write_atomic(_run_copy(path, stamp), text, 0o644)
            _prune(path, keep_runs)


# characters XML 1.0 cannot carry, not even as a character reference
_NOT_XML = re.compile(u'[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def _xml_safe(text):
    """text with every character XML 1.0 forbids written as a visible escape (\\x07), so the file always parses."""
    return _NOT_XML.sub(lambda m: '\\x%02x' % ord(m.group()) if ord(m.group()) < 256 else '\\u%04x' % ord(m.group()),
                        '%s' % (text,))


# xml.sax.saxutils is imported where it is used: it imports urllib.request, which a run without a JUnit report
# (and a module run compiles every import from source) need not pay for
def quoteattr(text):
    from xml.sax.saxutils import quoteattr as _quoteattr
    return _quoteattr(_xml_safe(text))


def escape(text):
    from xml.sax.saxutils import escape as _escape
    return _escape(_xml_safe(text))


def _junit(rows, elapsed):
    failures = sum(1 for r in rows if r['status'] in FAILING)
    skipped = sum(1 for r in rows if r['status'] in SKIPPED)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="service_account_rotation" tests="%d" failures="%d" skipped="%d" time="%.3f">'
           % (len(rows), failures, skipped, elapsed),
           '  <testsuite name="service_account_rotation" tests="%d" failures="%d" errors="0" skipped="%d" time="%.3f">'
           % (len(rows), failures, skipped, elapsed)]
    for row in rows:
        # classname = the source, so CI report viewers group accounts by source; time = the change's own
        out.append('    <testcase classname=%s name=%s time="%.3f">'
                   % (quoteattr(row['account'].split('/', 1)[0]), quoteattr(row['account']), row.get('seconds') or 0))
        props = ([('request_id', row['request_id'])] if row.get('request_id') else []) + [
            ('dependent ' + d['id'], d['outcome']) for d in row.get('dependents') or ()]
        if props:
            out.append('      <properties>%s</properties>' % ''.join(
                '<property name=%s value=%s/>' % (quoteattr(name), quoteattr(value)) for name, value in props))
        if row['status'] in FAILING:
            out.append('      <failure message=%s>%s</failure>' % (quoteattr(row['status']), escape(row['detail'])))
        elif row['status'] in SKIPPED:
            out.append('      <skipped message=%s/>' % quoteattr('%s: %s' % (row['status'], row['detail'])))
        if row.get('request_id'):
            out.append('      <system-out>%s</system-out>' % escape('%s: %s (request %s)' % (
                row['status'], row['detail'], row['request_id'])))
        out.append('    </testcase>')
    out += ['  </testsuite>', '</testsuites>']
    return '\n'.join(out) + '\n'
