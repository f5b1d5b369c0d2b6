# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""ISC's answers as the modules return them: password info with its parsed policy, and status polling."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import isc_accounts
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import TERMINAL_STATES
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy as _policy


def password_info(client, user_name, source_name):
    info = client.query_password_info(user_name, source_name)
    return {
        'user_name': user_name,
        'source_name': source_name,
        'identity_id': info.get('identityId'),
        'source_id': info.get('sourceId'),
        'public_key_id': info.get('publicKeyId'),
        'public_key': info.get('publicKey'),
        'accounts': isc_accounts(info),
        'policies': list(info.get('policies') or []),
        'policy': _policy.parse_policies(info.get('policies') or []),
    }


def normalize_status(request_id, status):
    return {
        'request_id': status.get('requestId') or request_id,
        'state': status.get('state'),
        'errors': list(status.get('errors') or []),
        'source_ids': list(status.get('sourceIds') or []),
    }


def _now(client):
    return client.clock()


def wait_for_statuses(client, request_ids, timeout, poll_interval, workers=4, first=None):
    """Poll many request ids until each is terminal or the timeout passes.

    Returns a list in input order: normalized status dicts, or IscError for ids that failed.
    ``first`` may hold already known statuses (same order) to avoid one round of polling.
    """
    deadline = _now(client) + timeout
    results = list(first) if first is not None else [None] * len(request_ids)
    delay = 1.0  # poll sooner first (a change often completes in a second or two), then back off to poll_interval
    while True:
        todo = [i for i, r in enumerate(results)
                if request_ids[i] and (r is None or (isinstance(r, dict) and r.get('state') not in TERMINAL_STATES))]
        if not todo:
            return results
        answers = client.map(lambda i: normalize_status(request_ids[i], client.password_change_status(request_ids[i])),
                             todo, workers=workers)
        for i, ans in zip(todo, answers):
            results[i] = ans
        todo = [i for i, r in enumerate(results)
                if request_ids[i] and isinstance(r, dict) and r.get('state') not in TERMINAL_STATES]
        if not todo or _now(client) >= deadline:
            return results
        client.sleep(max(0.0, min(delay, poll_interval, deadline - _now(client))))
        delay *= 2
