# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shards: a deterministic share of the accounts for one of N jobs (service_account_rotation_shard).

Internal to the sailpoint_isc.passwords collection; may change without notice.

A shard is written ``i/N``: shard i of N, counted from 1 (``1/4``, ``2/4``, ``3/4``, ``4/4``). ``1/1`` is
the whole fleet, and so is an empty shard. Every account belongs to exactly one shard of N.
"""

from __future__ import annotations

import hashlib
import re

VARIABLE = 'service_account_rotation_shard'
_SHARD = re.compile(r'^\s*([0-9]+)\s*/\s*([0-9]+)\s*$')


def parse_shard(text):
    """(i, n) from 'i/N' (1 <= i <= N), or None for '' or None (no sharding); ValueError saying the fix."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    if not text.strip():
        return None
    match = _SHARD.match(text)
    example = "for example '1/4', '2/4', '3/4' and '4/4' for four jobs, or '' for the whole fleet"
    if not match:
        raise ValueError("%s must be 'i/N' (shard i of N, counted from 1), %s; got %r"
                         % (VARIABLE, example, text))
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ValueError("%s %r: N, the number of shards, must be at least 1 (%s)" % (VARIABLE, text, example))
    if index < 1:
        raise ValueError("%s %r: shards are counted from 1, so i must be at least 1 (%s)" % (VARIABLE, text, example))
    if index > count:
        raise ValueError("%s %r: there are only %d shards, so i must be at most %d (%s)"
                         % (VARIABLE, text, count, count, example))
    return index, count


def shard_of(user_name, count):
    """The shard (1..count) of an identity's user name.

    sha256 of the user name, stripped and lower-cased (one identity written 'Carl.Jones' on one line of the
    accounts file and 'carl.jones' on another still lands in one shard), read as an integer, modulo count.
    Never Python's hash(): it is salted per process, so two jobs would disagree on who owns an account.
    """
    digest = hashlib.sha256((user_name or '').strip().lower().encode('utf-8')).hexdigest()
    return int(digest, 16) % count + 1


def in_shard(user_name, shard):
    """Whether the account of this identity user name belongs to shard (i, n); every account when shard is None.

    The shard is chosen by the identity's user name, never by source or account: a password sync group
    only ever shares one password between the accounts of ONE identity, and the rotation engine finds
    the members of a sync group that nobody listed through that identity. So every sync group stays
    whole in one shard, and so do two accounts of one identity on one source (Carl.Jones and
    Carl.Jones-adm, told apart by account_id): two shards never change the same password.
    """
    if shard is None:
        return True
    index, count = shard
    return shard_of(user_name, count) == index


def select(accounts, shard):
    """The accounts (dicts with user_name) of shard (i, n), in their order; all of them when shard is None."""
    return [acct for acct in accounts if in_shard(acct['user_name'], shard)]


def setting(text):
    """The shard setting as the ledger records it: 'i/N', or '' for the whole fleet (so '01/4' and '1/4' agree)."""
    shard = parse_shard(text)
    return '%d/%d' % shard if shard and shard[1] > 1 else ''


def change_warning(recorded, now, ledger_path):
    """The warning for a run whose shard setting differs from the one its ledger recorded; None when they agree."""
    if recorded is None or recorded == now:
        return None

    def say(value):
        return "'%s' (shard %s of %s)" % ((value,) + tuple(value.split('/'))) if value else "'' (the whole fleet)"
    return ('%s changed: the ledger %s was last written by a run with %s, this run has %s. Accounts move between '
            'jobs with their shard: those this state directory no longer rotates keep their current password in its '
            'store only, and those it rotates for the first time are due at once. Meant: check the stores of the '
            "other shards' state directories (each shard setting has its own by default); otherwise set %s back to %s"
            % (VARIABLE, ledger_path, say(recorded), say(now), VARIABLE, "'%s'" % recorded))
