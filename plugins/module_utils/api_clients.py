# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API clients of a rotation run as the user names them (the api_clients option, or SAIL_API_CLIENTS), and the
lines that name the ones taken out of a run. Never a secret in a message.

Internal to the sailpoint_isc.passwords collection; may change without notice.

A file of its own, apart from client_pool.py, so that the record phase (the report's "who" and warnings) does not
compile the pool.
"""

from __future__ import annotations

import json

API_CLIENTS_ENV = 'SAIL_API_CLIENTS'  # ours: a JSON list of {"client_id", "client_secret"}


def failure_lines(failed):
    """One line per client taken out of the run, for the job log: ids and reasons, never a secret."""
    return ['API client %s failed authentication and was taken out of the run (its unsent work went to the other '
            'clients): %s' % kv for kv in sorted((failed or {}).items())]


def parse_api_clients(value, source):
    """[(client_id, client_secret)] from a list of dicts (or its JSON text); ValueError naming no secret."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError('%s is not JSON (%s): give a list like [{"client_id": "...", "client_secret": "..."}]'
                             % (source, exc.__class__.__name__))
    if not isinstance(value, list):
        raise ValueError('%s must be a list of {client_id, client_secret}' % source)
    out, seen = [], set()
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ValueError('%s[%d] must be a mapping with client_id and client_secret' % (source, index))
        cid, secret = entry.get('client_id'), entry.get('client_secret')
        if not isinstance(cid, str) or not cid.strip():
            raise ValueError('%s[%d]: client_id is empty' % (source, index))
        if not isinstance(secret, str) or not secret:
            raise ValueError('%s[%d] (%s): client_secret is empty' % (source, index, cid))
        if cid in seen:
            raise ValueError('%s: client %s is listed twice; ISC counts the budget per client id, so a second entry '
                             'adds nothing' % (source, cid))
        seen.add(cid)
        out.append((cid, secret))
    return out
