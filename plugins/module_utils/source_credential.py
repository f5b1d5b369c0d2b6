# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""Rotate the credential a source logs on to its system with (issue 28; docs/connector-credentials.md).

Two stages, so that the caller escrows the new password between them (docs/store-contract.md):
``plan`` reads the source, refuses a Credential Provider reference and a source whose check-connection
fails, decides whether a rotation is due (the ledger file) and makes the new password; ``apply`` sets the
target account's password, PATCHes the source's user-name and password JSON Pointers, checks the connection
with retries, rolls back where it can, records the outcome and tells the caller what to do with the escrow
(``store_action``: commit, discard or keep).
"""

from __future__ import annotations

import json
import time
import uuid

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_CHECK_CONNECTION, OP_SOURCE, OP_SOURCES, filter_string)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import files
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as _ledger
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as _policy
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operations import password_info
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.set_password import SetPasswordRun

VAULT_PREFIX = 'secrets://'
PATCH_HEADERS = {'Content-Type': 'application/json-patch+json'}
HIDDEN = '<hidden>'


class SourceCredentialError(IscError):
    """A refusal before anything was written (the message says why and what to do)."""


def pointer_get(document, pointer):
    """The value at a JSON Pointer, or raise SourceCredentialError naming the pointer."""
    if not isinstance(pointer, str) or not pointer.startswith('/'):
        raise SourceCredentialError('%r is not a JSON Pointer: it must start with "/" (e.g. /connectorAttributes/user)'
                                    % (pointer,))
    node = document
    for token in pointer[1:].split('/'):
        token = token.replace('~1', '/').replace('~0', '~')
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SourceCredentialError('the source has nothing at %s: check user_pointer and password_pointer (the '
                                        'attributes of its connector, docs/connector-credentials.md)' % pointer)
    return node


class SourceCredential(object):
    """One source, its two (or one) bind accounts and the ledger of its rotations."""

    def __init__(self, client, params, check_mode=False):
        self.client = client
        self.p = params
        self.check_mode = check_mode
        self.accounts = params['accounts']
        self.strategy = params['strategy']
        self.source = None
        self.source_id = params.get('source_id')

    # -- reads ----------------------------------------------------------------------------------
    def read_source(self):
        if not self.source_id:
            found = self.client.call_json(OP_SOURCES, 'GET', query={'filters': 'name eq %s' % filter_string(
                self.p['source_name'])}, shape=list)
            if not found:
                raise SourceCredentialError('no source named %s: check source_name (the display name) or give '
                                            'source_id' % self.p['source_name'])
            self.source_id = found[0]['id']
        self.source = self.client.call_json(OP_SOURCE, 'GET', self.source_id, shape=dict)
        return self.source

    def configured_user(self):
        return pointer_get(self.source, self.p['user_pointer'])

    def check(self, attempts=1):
        """(True, detail) once check-connection answers SUCCESS within ``attempts``; a failed request counts as one."""
        detail = 'not checked'
        for attempt in range(max(1, attempts)):
            if attempt:
                time.sleep(self.p['check_delay'])
            try:
                answer = self.client.call_json(OP_CHECK_CONNECTION, 'POST', self.source_id, shape=dict)
            except IscError as exc:
                detail = 'check-connection did not answer: %s' % exc
                continue
            if answer.get('status') == 'SUCCESS':
                return True, 'SUCCESS'
            detail = 'check-connection answered %s' % (answer.get('status') or 'nothing')
            details = answer.get('details')
            if isinstance(details, dict) and isinstance(details.get('message'), str):
                detail += ': ' + details['message']
        return False, detail

    def account_of(self, user):
        for account in self.accounts:
            if account['user'] == user:
                return account
        return None

    # -- the ledger: when each source was last rotated, the outcome and the active account -----------
    def _ledger(self):
        path = self.p.get('ledger_path')
        if not path:
            return {}
        try:
            with open(path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return {}

    def record(self, outcome, active_user, attempt):
        path = self.p.get('ledger_path')
        if not path or self.check_mode:
            return
        data = self._ledger()
        entry = dict(data.get(self.source_id) or {})
        now = _ledger.iso(_ledger.utcnow())
        entry.update(source_name=self.source.get('name'), strategy=self.strategy, outcome=outcome,
                     active_user=active_user, attempt=attempt, last_attempt=now)
        if outcome == 'rotated':
            entry['last_rotated'] = now
        data[self.source_id] = entry
        files.write_atomic(path, json.dumps(data, indent=2, sort_keys=True).encode('utf-8'))

    def due(self):
        if self.p['force']:
            return True, 'force'
        entry = self._ledger().get(self.source_id) or {}
        last = _ledger.parse_iso(entry['last_rotated']) if entry.get('last_rotated') else None
        if last is None:
            return True, 'never rotated by this ledger'
        age_days = (_ledger.utcnow() - last).total_seconds() / 86400.0
        if age_days >= self.p['max_age_days']:
            return True, 'last rotated %.1f days ago (max_age_days %s)' % (age_days, self.p['max_age_days'])
        return False, 'last rotated %.1f days ago, within max_age_days %s' % (age_days, self.p['max_age_days'])

    # -- plan -------------------------------------------------------------------------------------
    def plan(self):
        self.read_source()
        secret = pointer_get(self.source, self.p['password_pointer'])
        if isinstance(secret, str) and secret.startswith(VAULT_PREFIX):
            raise SourceCredentialError(
                'source %s reads its credential from a Credential Provider (%s holds %s): rotate the vault entry '
                'instead, and mind its cache (ISC keeps a fetched value, by default for one day); nothing was '
                'changed' % (self.source.get('name'), self.p['password_pointer'], secret))
        active_user = self.configured_user()
        active = self.account_of(active_user)
        resume = self.p.get('resume_user')
        if active is None and not resume:
            raise SourceCredentialError('source %s logs on as %r, which is none of accounts[].user: list the account '
                                        'it uses now' % (self.source.get('name'), active_user))
        if self.strategy == 'same_account':
            target = self.accounts[0]
        elif resume:
            target = self.account_of(resume)
        else:
            target = [a for a in self.accounts if a is not active][0]
        ok, detail = self.check()
        result = {'source_id': self.source_id, 'source_name': self.source.get('name'), 'active_user': active_user,
                  'active_key': active.get('key') if active else None, 'target_user': target['user'],
                  'target_key': target.get('key'), 'preflight': detail, 'resume': bool(resume)}
        if not ok and not resume:
            # never rotate a broken source; a resumed change may have left it mid-way and is settled anyway
            raise SourceCredentialError('source %s fails its preflight check-connection (%s): fix the source first; '
                                        'nothing was changed' % (self.source.get('name'), detail))
        due, reason = (True, 'an escrowed password is being settled') if resume else self.due()
        result.update(due=due, reason=reason, changed=due)
        if due and not resume:
            if active is None or not active.get('password'):
                raise SourceCredentialError(
                    'the current password of %s (the account the source uses now) is not known: import it into the '
                    'store first (playbooks/import_store.yml), it is what a rollback sets back' % active_user)
            result['attempt'] = 'src-%s-%s' % (self.source_id, uuid.uuid4().hex[:12])
            if not self.check_mode:
                result['new_password'] = self.generate(target)
        result['diff'] = {'before': {'source': result['source_name'], 'user': active_user, 'password': HIDDEN},
                          'after': {'source': result['source_name'],
                                    'user': target['user'] if due else active_user,
                                    'password': '<new, hidden>' if due else HIDDEN}}
        return result

    def generate(self, target):
        policy = None
        if self.p.get('set_via') == 'isc':
            policy = password_info(self.client, target['user_name'], target['source_name'])['policy']
        try:
            return _policy.generate(policy, length=self.p.get('password_length') or None)
        except _policy.PolicyError as exc:
            raise SourceCredentialError('password_length: %s; nothing was changed' % exc)

    # -- apply ------------------------------------------------------------------------------------
    def set_target(self, target, password):
        """ISC set-password of the target account, waited for: (state, message)."""
        if self.p.get('set_via') != 'isc':
            return 'FINISHED', 'set by the caller'
        run = SetPasswordRun(self.client, wait=True, wait_timeout=self.p['wait_timeout'],
                             poll_interval=self.p['poll_interval'], workers=1)
        item = {'user_name': target['user_name'], 'source_name': target['source_name'],
                'account_id': target.get('account_id'), 'password': password}
        answer = run.run([item])[0]
        return answer.get('state') or 'UNKNOWN', answer.get('msg') or ''

    def patch(self, user, password, expect_user):
        ops = [{'op': 'test', 'path': self.p['user_pointer'], 'value': expect_user}]
        if self.strategy == 'alternate':
            ops.append({'op': 'replace', 'path': self.p['user_pointer'], 'value': user})
        ops.append({'op': 'replace', 'path': self.p['password_pointer'], 'value': password})
        try:
            self.client.call(OP_SOURCE, 'PATCH', self.source_id, data=json.dumps(ops), headers=PATCH_HEADERS)
        except IscError:
            # a PATCH retried after a lost answer fails its own test: it landed when the user is the one it set
            if user == expect_user or pointer_get(self.read_source(), self.p['user_pointer']) != user:
                raise

    def apply(self, password, attempt):
        self.read_source()
        now_user = self.configured_user()
        target = self.account_of(self.p['target_user'])
        if target is None:
            raise SourceCredentialError('target_user %r is none of accounts[].user' % self.p['target_user'])
        active = target if self.strategy == 'same_account' else [a for a in self.accounts if a is not target][0]
        res = {'source_id': self.source_id, 'source_name': self.source.get('name'), 'attempt': attempt,
               'target_user': target['user'], 'changed': True}
        landed = self.strategy == 'alternate' and now_user == target['user']
        if not landed:
            state, msg = self.set_target(target, password)
            if state != 'FINISHED':
                # FAILED: that password never reached the account; IN_PROGRESS/unknown: keep it escrowed
                action = 'discard' if state == 'FAILED' else 'keep'
                res.update(outcome='failed', active_user=now_user, store_action=action, set_state=state,
                           msg='set-password of %s ended %s; the source was not changed%s'
                               % (target['user'], state, (': ' + msg) if msg else ''))
                self.record('failed', now_user, attempt)
                return res
            self.patch(target['user'], password, now_user)
        ok, detail = self.check(self.p['check_retries'])
        if ok:
            res.update(outcome='rotated', active_user=target['user'], store_action='commit', check=detail)
            self.record('rotated', target['user'], attempt)
            return res
        res['check'] = detail
        if not active.get('password'):
            res.update(outcome='failed', active_user=target['user'], store_action='commit',
                       msg='check-connection failed with %s (%s) and the password of %s is not known, so the source '
                           'was not set back' % (target['user'], detail, active['user']))
            self.record('failed', target['user'], attempt)
            return res
        # roll back to the account whose password this attempt never touched (same_account: the old password)
        self.patch(active['user'], active['password'], target['user'])
        back, back_detail = self.check(self.p['check_retries'])
        if back:
            # alternate: the target holds the new password (set FINISHED); same_account: the old one works again
            action = 'commit' if self.strategy == 'alternate' else 'discard'
            res.update(outcome='rolled_back', active_user=active['user'], store_action=action,
                       msg='check-connection failed with %s after the change (%s); the source was set back to %s, '
                           'which connects' % (target['user'], detail, active['user']))
            self.record('rolled_back', active['user'], attempt)
            return res
        if self.strategy == 'same_account':
            # the account holds the new password: leave the source with it rather than with a refused one
            self.patch(target['user'], password, target['user'])
            state = ('the source holds the new password, which the account has (set-password FINISHED), but '
                     'check-connection fails with it (%s) and with the old one (%s)' % (detail, back_detail))
            active_user = target['user']
        else:
            state = ('check-connection failed with %s (%s) and, after the rollback, with %s too (%s): the source is '
                     'set to %s with its unchanged password'
                     % (target['user'], detail, active['user'], back_detail, active['user']))
            active_user = active['user']
        res.update(outcome='failed', active_user=active_user, store_action='commit', msg=state)
        self.record('failed', active_user, attempt)
        return res
