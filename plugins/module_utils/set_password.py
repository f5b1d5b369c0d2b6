# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""The set-password engine of isc_set_password: check, encrypt, submit, wait and remember, for one or many."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import pick_account
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as _policy
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import error_result
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.fingerprint import FingerprintStore, STATE_CONFIRMED, STATE_PENDING, fingerprint_key
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operations import normalize_status, password_info, wait_for_statuses


class SetPasswordRun(object):
    """Plan, submit, wait and record for one or many set-password items."""

    def __init__(self, client, update_password='always', fingerprint_path=None, check_mode=False,
                 workers=4, wait=False, wait_timeout=300, poll_interval=5):
        self.client = client
        self.update_password = update_password
        # Every set made here is remembered, whatever update_password says: on_change compares
        # with "the last password this controller set successfully", in any mode.
        self.store = FingerprintStore(fingerprint_path)
        self.check_mode = check_mode
        self.workers = workers
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.warnings = []

    # phase 1: plan and submit one item (runs in a worker thread)
    def _one(self, item):
        user, source = item.get('user_name'), item.get('source_name')
        where = 'user %s on source %s' % (user, source) if user else 'identity %s' % item.get('identity_id')
        res = {'user_name': user, 'source_name': source, 'identity_id': item.get('identity_id'),
               'source_id': item.get('source_id'), 'account_id': item.get('account_id'),
               'account_name': None, 'public_key_id': item.get('public_key_id'), 'changed': False,
               'request_id': None, 'state': None, 'errors': [], 'source_ids': []}
        password = item.get('password')
        encrypted = item.get('encrypted_password')
        need_query = bool(password) or not (item.get('identity_id') and item.get('source_id') and item.get('account_id'))
        info = None
        if need_query:
            if not (user and source):
                raise IscError('user_name and source_name are required to look up %s'
                               % ('the public key and policy' if password else 'identity, source and account'))
            info = password_info(self.client, user, source)
            for field in ('identity_id', 'source_id'):
                if item.get(field) and info[field] and item[field] != info[field]:
                    raise IscError('%s %s does not match the %s ISC reports for %s (%s)'
                                   % (field, item[field], field, where, info[field]))
                res[field] = item.get(field) or info[field]
            res['account_id'], res['account_name'] = pick_account(info['accounts'], item.get('account_id'), where)
            if password:
                res['public_key_id'] = info['public_key_id']
                res['policy_unknown'] = info['policy']['unknown']
                problems = _policy.validate(password, info['policy'])
                if problems:
                    raise IscError('password does not meet the password policy of source %s: %s'
                                   % (source, '; '.join(problems)))
        elif password is None and encrypted is None:
            raise IscError('give password or encrypted_password')
        res['_key'] = fingerprint_key(self.client.base_url, res['source_id'], res['account_id'])
        # idempotency
        if self.update_password == 'on_change':
            if not password:
                raise IscError('update_password=on_change needs password (an encrypted_password cannot '
                               'be compared)')
            entry = self.store.get(res['_key'])
            if entry is not None and self.store.entry_matches(entry, password):
                if entry.get('state') != STATE_PENDING:
                    res['state'] = 'FINISHED'
                    res['note'] = 'password already set by this controller; not sent again'
                    return res
                rid = entry.get('request_id')
                try:
                    st = normalize_status(rid, self.client.password_change_status(rid)) if rid else None
                except IscError as exc:
                    if exc.status != 404:
                        raise
                    st = None
                if st and st['state'] in ('FINISHED', 'IN_PROGRESS'):
                    res.update(request_id=st['request_id'], state=st['state'], errors=st['errors'],
                               source_ids=st['source_ids'])
                    res['note'] = ('the same password was already submitted from this controller (request %s, %s); '
                                   'not sent again' % (rid, st['state']))
                    if st['state'] == 'FINISHED' and not self.check_mode:
                        try:
                            self.store.set_state(res['_key'], STATE_CONFIRMED)
                        except OSError:
                            pass  # stays pending: the next run asks ISC again
                    return res
        res['changed'] = True
        if self.check_mode:
            return res
        if password:
            encrypted = _encrypt(info['public_key'], password)
        try:
            answer = self.client.set_password(res['identity_id'], res['source_id'], res['account_id'],
                                              res['public_key_id'], encrypted)
        except IscOutcomeUnknown:
            # the account may now hold either password: the old fingerprint proves nothing
            self._remember(res['_key'], None, res)
            raise
        res['request_id'] = answer.get('requestId')
        res['state'] = answer.get('state') or 'IN_PROGRESS'
        res['_submitted'] = True
        return res

    def run(self, items):
        answers = self.client.map(self._one, items, workers=self.workers)
        results = []
        for item, ans in zip(items, answers):
            if isinstance(ans, Exception):
                r = {'user_name': item.get('user_name'), 'source_name': item.get('source_name'),
                     'identity_id': item.get('identity_id'), 'source_id': item.get('source_id'),
                     'account_id': item.get('account_id'), 'changed': False}
                r.update(error_result(ans))
                if isinstance(ans, IscOutcomeUnknown):
                    r['changed'] = True  # the change may have happened
                results.append(r)
            else:
                results.append(ans)
        submitted = [i for i, r in enumerate(results) if r.get('_submitted') and r.get('request_id')]
        if submitted:
            ids = [results[i]['request_id'] for i in submitted]
            first = [{'request_id': results[i]['request_id'], 'state': results[i]['state']}
                     for i in submitted]
            if self.wait:
                statuses = wait_for_statuses(self.client, ids, self.wait_timeout, self.poll_interval,
                                             workers=self.workers, first=first)
            elif len(items) == 1:
                # one status read for the source ids the change reaches; failures are not fatal
                # (skipped for batches, where it would double the request count)
                statuses = self.client.map(
                    lambda rid: normalize_status(rid, self.client.password_change_status(rid)), ids,
                    workers=self.workers)
            else:
                statuses = first
            for i, st in zip(submitted, statuses):
                r = results[i]
                if isinstance(st, Exception):
                    if self.wait:
                        self.warnings.append('could not read the status of request %s: %s' % (r['request_id'], st))
                    continue
                r['state'] = st.get('state') or r['state']
                r['errors'] = st.get('errors') or []
                r['source_ids'] = st.get('source_ids') or []
        for item, r in zip(items, results):
            key = r.pop('_key', None)
            was_submitted = r.pop('_submitted', False)
            if r.get('failed'):
                continue
            if not r.get('source_ids') and r.get('source_id') and was_submitted:
                r['source_ids'] = [r['source_id']]
            if was_submitted and r.get('state') == 'FAILED':
                r['failed'] = True
                r['msg'] = ('set-password for %s finished FAILED (request %s): %s'
                            % (r.get('account_name') or r.get('account_id'), r.get('request_id'),
                               '; '.join(r.get('errors') or []) or 'no error text from ISC'))
            elif was_submitted and self.wait and r.get('state') == 'IN_PROGRESS':
                self.warnings.append('the password change for %s (request %s) was still IN_PROGRESS after '
                                     'wait_timeout; ISC keeps retrying it - check it later with '
                                     'sailpoint_isc.passwords.isc_password_status'
                                     % (r.get('account_name') or r.get('account_id'), r.get('request_id')))
            if was_submitted and key:
                self._remember(key, item.get('password'), r)
        return results

    def _remember(self, key, password, r):
        """Record what a submitted change did to the account, in any update_password mode.

        FINISHED: confirmed fingerprint. IN_PROGRESS with a request id: pending fingerprint,
        resolved by the next on_change run. Anything else (FAILED, outcome unknown, or a password
        given encrypted, which cannot be fingerprinted): the entry is dropped, so that the next
        on_change run submits. A file that cannot be written is a warning, not a failure: the
        change itself was made.
        """
        state = r.get('state')
        try:
            if password and state == 'FINISHED':
                self.store.record(key, password, STATE_CONFIRMED)
            elif password and state == 'IN_PROGRESS' and r.get('request_id'):
                self.store.record(key, password, STATE_PENDING, r['request_id'])
            else:
                self.store.forget(key)
        except (OSError, ValueError) as exc:
            self.warnings.append(
                'the password change for %s was submitted, but the fingerprint file %s could not be updated '
                '(%s); update_password=on_change may decide wrongly for this account until the file is '
                'writable again (delete it to start over: the next on_change run then submits once)'
                % (r.get('account_name') or r.get('account_id'), self.store.path, exc))


def _encrypt(public_key, password):
    """The password encrypted for set-password. crypto.py is imported here, when a password is encrypted: a module
    run that fails its argument checks never imports cryptography."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import crypto as _crypto
    try:
        return _crypto.encrypt_password(public_key, password)
    except _crypto.PasswordEncryptionError as exc:
        raise IscError(str(exc))


def diff_for(result):
    account = result.get('account_name') or result.get('account_id')
    after = '<will change>' if result.get('changed') else '<unchanged>'
    return {'before': {'account': account, 'password': '<current>'},
            'after': {'account': account, 'password': after}}
