# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A re-send: the password escrowed under one attempt (the store contract: one attempt, one password).

Internal to the sailpoint_isc.passwords collection; may change without notice.

The plan decides on attempt ids: a re-send group carries its ``attempt`` and no password. The apply phase takes the
pending passwords the role read back from the store and joins them to the groups by attempt id, so an escrowed
password crosses the role once, into apply, and never comes out of a module again.
"""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError


def unreadable(keys):
    """Why a re-send cannot go out (the plan's message, and apply's when the password is missing by then)."""
    return ('the store lists a pending password for %s but it could not be read back, or the members hold different '
            'ones; check the store' % ', '.join(keys))


def escrowed(holders, pending_passwords, attempt_of):
    """(password, attempt) that every holder's store escrowed, or None when that is not one readable password."""
    found = set((pending_passwords.get(key), attempt_of(key)) for key in holders)
    if len(found) != 1 or not next(iter(found))[0]:
        return None
    return next(iter(found))


def password_of(group, pending_passwords, pending_attempts):
    """The escrowed password of a re-send group, by its attempt; RotationError (the plan's message) when the pending
    passwords read back do not hold it. Never a new password: an escrowed attempt is sent as it is, or not at all."""
    holders = [key for key in group['keys'] if key in pending_passwords or key in pending_attempts]
    found = escrowed(holders, pending_passwords, lambda key: pending_attempts.get(key, 'legacy'))
    if found is None or found[1] != group['attempt']:
        raise RotationError(unreadable(holders or group['keys']))
    return found[0]
