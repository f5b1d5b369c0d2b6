# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the phases' contract (phases.CONTRACT) on what the engines produce; conftest.py applies them to every
reconcile, plan and apply the unit tests run."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.phases import CONTRACT


def problems(kind, item):
    """What is wrong with one item against CONTRACT[kind]: fields it lacks that are always there, fields not written."""
    table = CONTRACT[kind]
    out = ['%s lacks %s' % (kind, field) for field, (when, _what) in table.items() if when == 'always' and field not in item]
    out += ['%s has %s, which phases.CONTRACT does not describe' % (kind, field) for field in item if field not in table]
    return out


def check(kind, items):
    """items (one structure or a list of them) as CONTRACT describes them; an AssertionError names each field."""
    found = []
    for item in items if isinstance(items, list) else [items]:
        found += problems(kind, item)
        if kind == 'group' and item.get('reuse_pending') and 'password' in item:
            found.append('a re-send group carries a password (only its attempt: apply reads the password itself)')
        if kind == 'reconciled':
            for part in ('finished', 'failed', 'waiting'):
                for entry in item.get(part) or []:
                    found += problems('reconciled item', entry)
    assert not found, 'the phases\' contract (module_utils/phases.py CONTRACT): %s' % '; '.join(sorted(set(found)))
    return items
