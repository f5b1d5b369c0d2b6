# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The settings of the service_account_rotation role, checked in one task before anything is read or written.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import parse_shard
from ansible_collections.sailpoint_isc.passwords.plugins.plugin_utils.accounts_file import nearest

PREFIX = 'service_account_rotation_'
ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    'roles', 'service_account_rotation')
# numeric setting -> its least value
MINIMUM = {'workers': 1, 'batch_size': 1, 'max_attempts': 1, 'wait_timeout': 0, 'poll_interval': 0.1,
           'max_age_days': 0, 'password_length': 0, 'report_history': 0}
# set by the role's own tasks for its store and verify task files (docs/store-contract.md), not by users
INTERNAL = {'store_op', 'store_keys', 'store_records', 'store_result', 'store_overwrite', 'run_id', 'lease_holder',
            'lease_replaces', 'verify_account', 'verify_password'}
# the options of rotation_settings, and of rotation_preflight's settings
SETTINGS_SPEC = {
    'numbers': {'type': 'dict', 'default': {}},
    'shard': {'type': 'str', 'default': ''},
    'accounts_from': {'type': 'str', 'default': 'list'},
    'inventory_groups': {'type': 'list', 'elements': 'str', 'default': []},
    'accounts_given': {'type': 'int', 'default': 0},
}


def known_names():
    """Every variable the role reads: its argument specification and defaults, and what its tasks set."""
    names = set(PREFIX + name for name in INTERNAL)
    for path, pick in (('meta/argument_specs.yml', lambda d: d['argument_specs']['main']['options']),
                       ('defaults/main.yml', lambda d: d)):
        with open(os.path.join(ROLE, path)) as handle:
            names.update(pick(yaml.safe_load(handle)) or {})
    return names


def settings_problems(settings, task_vars):
    """Every problem of the role's settings (rotation_settings, or rotation_preflight's settings): one message."""
    task_vars = task_vars or {}
    return (unknown_variables(list(task_vars), known_names()) + number_problems(settings['numbers'])
            + shard_problems(settings['shard'])
            + accounts_from_problems(settings['accounts_from'], settings['inventory_groups'], settings['accounts_given'],
                                     task_vars.get('groups') or {}))


def unknown_variables(names, known):
    """Problems for the role variables nobody reads (a misspelling is otherwise silently ignored)."""
    out = []
    for name in sorted(names):
        # double underscore: the role's private facts
        if not name.startswith(PREFIX) or name.startswith(PREFIX + '_') or name in known:
            continue
        guess = nearest(name, known)
        out.append('%s is not a variable of the role%s' % (name, ('; did you mean %s?' % guess) if guess else
                                                           ' (see roles/service_account_rotation/README.md)'))
    return out


def number_problems(values):
    out = []
    for short, least in MINIMUM.items():
        if short not in values:
            continue
        value = values[short]
        try:
            ok = float(value) >= least
        except (TypeError, ValueError):
            ok = False
        if not ok:
            out.append('%s%s must be at least %s (got %s)' % (PREFIX, short, least, value))
    return out


def shard_problems(shard):
    try:
        parse_shard(shard)
    except ValueError:
        return ["%sshard must be 'i/N', shard i of N counted from 1 (for example '1/4', '2/4', '3/4' and '4/4' for "
                "four jobs), or '' for the whole fleet; got '%s'" % (PREFIX, shard)]
    return []


def accounts_from_problems(accounts_from, inventory_groups, accounts_given, groups):
    """Where the accounts come from: one place only, and inventory groups that exist (a typo would rotate nothing)."""
    if accounts_from == 'list':
        return []
    if accounts_from != 'inventory':
        return ["%saccounts_from must be 'list' or 'inventory' (got '%s')" % (PREFIX, accounts_from)]
    out = []
    if accounts_given:
        out.append('%saccounts_from is inventory but %saccounts lists %d accounts: give the accounts one way '
                   '(empty the list, or set %saccounts_from: list)' % (PREFIX, PREFIX, accounts_given, PREFIX))
    missing = [name for name in inventory_groups if name not in groups]
    if not inventory_groups or missing:
        out.append('%sinventory_groups names %s, which the inventory does not have: use the '
                   'sailpoint_isc.passwords.isc_accounts inventory plugin (-i isc_accounts.yml; docs/discovery.md), '
                   'whose groups are due, drift and unrotatable, or name groups of your inventory'
                   % (PREFIX, ', '.join(missing) if missing else 'no group'))
    return out
