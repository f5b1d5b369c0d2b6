# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""The rules of isc_password_sync_group: a group is matched by name, a source is in one group at most,
and a group keeps at least two sources (ISC's rules); input checks before anything is sent."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

KIND = 'password sync group'


def input_problem(params):
    """What is wrong with the options before anything is sent, as a message naming the fix; None when nothing."""
    sources = params['sources']
    if not (params['name'] or '').strip():
        return 'name must not be empty: give the name of the sync group'
    if params['password_policy'] is not None and not params['password_policy'].strip():
        return 'password_policy must not be empty: give a policy name or id, or leave it unset'
    if sources is not None and not [s for s in sources if s and str(s).strip()]:
        return 'sources must name at least one source; to dissolve the group use state=absent'
    if sources is not None and any(not s or not str(s).strip() for s in sources):
        return 'sources holds an empty entry: give each source by name or id'
    return None


def by_name(groups, name):
    """The group named ``name`` (the match key), None when there is none; two of that name are an error."""
    named = [g for g in groups if g.get('name') == name]
    if len(named) > 1:
        raise IscError('%d %ss are named %r (ids %s): rename all but one, then run again'
                       % (len(named), KIND, name, ', '.join(str(g.get('id')) for g in named)))
    return named[0] if named else None


def check_membership(client, groups, current, wanted_ids, released=None):
    """Fail before sending when a wanted source is already in another group (ISC keeps a source in one).

    released: {group name: source ids it declares, or None when declared absent} (check mode): a source such a
    group holds and no longer declares is given up before this group is written."""
    mine = current.get('id') if current else None
    released = released or {}
    for group in groups:
        if group.get('id') == mine:
            continue
        keeps = group.get('sourceIds') or ()
        if group.get('name') in released:  # declared by the same configuration: it keeps only what it declares
            keeps = [i for i in keeps if i in (released[group['name']] or ())]
        taken = [i for i in wanted_ids if i in keeps]
        if taken:
            names = pc.source_names(client, taken)
            raise IscError('sources: %s %s already in the %s %r, and a source can be in one group only: '
                           'take it out of that group first (or delete that group)'
                           % (', '.join(repr(names.get(i, i)) for i in taken), 'is' if len(taken) == 1 else 'are',
                              KIND, group.get('name')))


def declared_elsewhere(client, params):
    """{group name: its declared source ids, or None when declared absent} of the other groups of the same
    configuration (declared_groups), as check mode needs them; None outside check mode's use."""
    return dict((name, None if sources is None else pc.source_ids(client, sources, 'declared_groups'))
                for name, sources in params['declared_groups'].items() if name != params['name'])


def releasing(groups, current, wanted_ids):
    """The sources of ``current`` after its removals alone: those it keeps, plus the wanted ones no other group
    holds; None when nothing would be freed or fewer than two sources would remain (ISC needs two)."""
    held = set(i for g in groups if g.get('id') != current.get('id') for i in g.get('sourceIds') or ())
    have = list(current.get('sourceIds') or ())
    kept = [i for i in have if i in wanted_ids] + [i for i in wanted_ids if i not in have and i not in held]
    if set(kept) == set(have) or len(set(kept)) < 2:
        return None
    return kept


def named_diff(client, changed, header):
    """--diff of a sync group: the sources by name (as the options give them) beside their ids."""
    out = pc.diff(changed, header)
    if 'sourceIds' in changed:
        names = pc.source_names(client, [i for ids in changed['sourceIds'] for i in ids or ()])
        for side in ('before', 'after'):
            ids = out[side].get('sourceIds')
            if ids is not None:
                out[side]['sources'] = [names.get(i, i) for i in ids]
    return out
