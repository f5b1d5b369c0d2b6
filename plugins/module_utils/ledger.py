# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation ledger: per-account state of the service_account_rotation role, and account keys.

Internal to the sailpoint_isc.passwords collection; may change without notice.
The ledger never holds a password: only states, request ids, timestamps and errors.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import threading

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import TIME_FORMAT, write_atomic

LEDGER_VERSION = 1
HISTORY_LIMIT = 20  # settled changes kept per account in the ledger (the audit trail)


class RotationError(Exception):
    """A problem that stops the phase before anything is changed."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime(TIME_FORMAT)


def parse_iso(text):
    return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)


class Ledger:
    """Per-account rotation state: a JSON snapshot plus an append-only journal.

    Events are journalled (one fsynced line each) the moment they happen, so a process killed
    right after set-password answered still leaves its request id on disk. `save()` folds the
    journal into a new snapshot.
    """

    def __init__(self, path):
        self.path = path
        self.journal_path = path + '.journal'
        self.accounts = {}
        self.shard = None  # the shard setting of the run that last recorded ('' for the whole fleet); None: never
        self._lock = threading.Lock()
        self._journal = None

    def load(self):
        if os.path.exists(self.path):
            try:
                with open(self.path) as handle:
                    data = json.load(handle)
                if not isinstance(data, dict) or not isinstance(data.get('accounts'), dict):
                    raise ValueError('no "accounts" mapping')
            except ValueError as exc:
                raise RotationError(
                    'rotation ledger %s is corrupt (%s); restore it from backup or move it aside '
                    '(the secret store still holds every password) and re-run' % (self.path, exc))
            self.accounts = data['accounts']
            self.shard = data.get('shard')
        if os.path.exists(self.journal_path):
            with open(self.journal_path) as handle:
                for line in handle:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash: the event never completed
                    self._apply(event)
        return self

    def entry(self, key):
        return self.accounts.get(key, {})

    def _apply(self, event):
        kind = event['event']
        for key in event['keys']:
            entry = self.accounts.setdefault(key, {'attempts': 0})
            if event.get('run_id') and kind in ('finished', 'failed', 'unknown', 'retired'):
                # the audit trail: when, which request, how it ended, which run (never a secret)
                history = entry.setdefault('history', [])
                # run_id settled it; sent_by sent it (another run when that one was killed), why, and who settled
                sent = entry.get('sent') or {}
                history.append({'at': event['at'], 'outcome': {'finished': 'rotated'}.get(kind, kind),
                                'request_id': event.get('request_id'), 'run_id': event['run_id'],
                                'sent_by': sent.get('run_id'), 'why': sent.get('why'), 'who': event.get('who')})
                del history[:-HISTORY_LIMIT]
            if kind == 'submitting':
                # which attempt (store pending) this request carries, whether its password may already be
                # live (a re-send), and which sources the plan expected it to reach
                entry.update(state='pending', request_id=None, group=event.get('group'), submitted_at=event['at'],
                             attempt=event.get('attempt'), resend=bool(event.get('resend')),
                             sources=event.get('sources') or [])
                entry['sent'] = {'run_id': event.get('run_id'), 'why': event.get('why')}
                if (event.get('names') or {}).get(key):
                    entry['names'] = event['names'][key]
                if (event.get('key_sources') or {}).get(key):
                    entry['source_id'] = event['key_sources'][key]  # the source of its account: did the change reach it
            elif kind == 'submitted':
                entry.update(state='pending', request_id=event['request_id'], submitted_at=event['at'])
            elif kind == 'unknown':
                entry.update(state='pending', request_id=event.get('request_id'), last_error=event.get('reason'))
                if event.get('refused'):  # ISC refused a re-send of this attempt: the next plan supersedes it
                    entry['refused'] = event['refused']
            elif kind == 'finished':
                entry.update(state='current', request_id=None, last_rotated=event['at'], attempts=0, last_error=None,
                             last_request_id=event.get('request_id'))
                entry.pop('refused', None)
            elif kind == 'retired':
                # ISC no longer knows the account: its passwords are archived in the store; listed again and known
                # again to ISC, it is a new account (never rotated by this ledger)
                entry.update(state='retired', request_id=None, retired_at=event['at'], last_rotated=None, attempts=0,
                             last_error=event.get('reason'))
                entry.pop('refused', None)
            elif kind == 'failed':
                entry['attempts'] = entry.get('attempts', 0) + 1
                parked = entry['attempts'] >= event.get('max_attempts', 3)
                entry.update(state='parked' if parked else 'failed', request_id=None, last_error=event.get('reason'))
            elif kind == 'abandoned':
                entry.update(state='current' if entry.get('last_rotated') else 'unmanaged', request_id=None)
            elif kind == 'unpark':
                entry.update(state='failed', attempts=0)
            elif kind == 'switched':
                # issue 27 §2 (module_utils/alternate.py): an alternating credential made this account active; once
                # per change (attempt), however many runs report it (a run killed before its record leaves it to the next)
                if entry.get('switched') != event.get('attempt'):
                    entry['switched'] = event.get('attempt')
                    history = entry.setdefault('history', [])
                    history.append({'at': event['at'], 'outcome': 'switched', 'alternate': event.get('alternate'),
                                    'from': event.get('previous'), 'attempt': event.get('attempt'),
                                    'run_id': event.get('run_id'), 'switched_by': event.get('switched_by'),
                                    'who': event.get('who')})
                    del history[:-HISTORY_LIMIT]
            elif kind == 'dependents':
                # issue 27 (module_utils/dependents.py): the dependents still to apply (a marker the next run reads),
                # and each one's outcome in the audit trail
                entry['dependents_due'] = list(event.get('due') or [])
                if event.get('run_id') and event.get('outcomes') is not None:
                    history = entry.setdefault('history', [])
                    history.append({'at': event['at'], 'outcome': event.get('status') or 'dependents',
                                    'dependents': event['outcomes'], 'run_id': event['run_id']})
                    del history[:-HISTORY_LIMIT]

    def append(self, kind, keys, **fields):
        event = dict(fields, event=kind, keys=list(keys))
        event.setdefault('at', iso(utcnow()))
        line = json.dumps(event, sort_keys=True) + '\n'
        with self._lock:
            self._apply(event)
            if self._journal is None:
                directory = os.path.dirname(os.path.abspath(self.journal_path))
                if not os.path.isdir(directory):
                    os.makedirs(directory, 0o700)
                fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._journal = os.fdopen(fd, 'a')
            self._journal.write(line)
            self._journal.flush()
            os.fsync(self._journal.fileno())

    def save(self):
        with self._lock:
            data = {'version': LEDGER_VERSION, 'accounts': self.accounts}
            if self.shard is not None:
                data['shard'] = self.shard
            write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True) + '\n')
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if os.path.exists(self.journal_path):
                os.unlink(self.journal_path)
