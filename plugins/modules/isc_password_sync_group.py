#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_sync_group
short_description: Manage a password sync group of SailPoint Identity Security Cloud
version_added: 0.2.0
description:
  - Creates, updates or deletes one password sync group, matched by O(name).
  - A sync group ties the passwords of its member sources together. A set-password to an account on
    one member source changes the password on every member source (the rotation of one account is
    the rotation of all its accounts in the group), and the group's password policy applies to all
    members instead of each source's own policy. Deleting the group makes the members' passwords
    independent again; each source then follows its own policy.
  - A source can be in one sync group only. The module fails before sending anything when a source
    of O(sources) is already in another group, and names that group.
  - Only the options you set are compared and sent; an unset option is not managed and the tenant's
    value is kept. ISC replaces the whole group on update, so the module reads the group, lays the
    declared fields over it and writes it back.
  - Writing sync groups needs a user-context token, the personal access token (PAT) of an ORG_ADMIN;
    an API client's token gets 403. Reading them works with either.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reads the tenant and reports what would change; it sends no write.
  diff_mode:
    support: full
    details: The diff holds only the fields that change (API field names), ids of the policy and the sources.
options:
  name:
    description:
      - The name of the sync group; the match key (ISC's names are case-sensitive).
      - Two groups of this name on the tenant are an error; rename one of them first.
    type: str
    required: true
  password_policy:
    description:
      - The password policy of the group, by name or id (C(passwordPolicyId)).
      - Required when the group does not exist yet. Unset on an existing group means not managed,
        the tenant's value is kept.
    type: str
  sources:
    description:
      - The member sources, by display name or id (C(sourceIds)). Compared as a set; repeats are dropped.
      - Required (at least one source) when the group does not exist yet. Unset on an existing group
        means not managed, the tenant's value is kept.
    type: list
    elements: str
  state:
    description:
      - V(present) creates the group or brings the declared fields to their values; V(absent) deletes
        the group (nothing happens when there is none).
    type: str
    choices: [present, absent]
    default: present
  release_only:
    description:
      - Write only the part of the change that frees sources for other groups, so that a source can move from
        one group to another whatever the order of the writes (removals before additions).
      - With V(true) the group keeps those of its current sources that O(sources) declares, plus the declared
        sources no other group holds now; it is written only when that leaves at least two sources. Nothing is
        created or deleted and the policy is not changed. Run the task again without it to finish the change.
      - The playbook C(sailpoint_isc.passwords.password_config) runs every sync group of its file this way
        first (after the deletions), then as declared.
    type: bool
    default: false
  declared_groups:
    description:
      - The sync groups of the same configuration, by name, with the sources each declares (null for a group
        declared V(absent)). Used in check mode only, where a source another group holds now but no longer declares is taken
        as given up (the real run gives it up first, with O(release_only)), so the review of a move between groups
        shows the change instead of failing.
    type: dict
seealso:
  - module: sailpoint_isc.passwords.isc_password_sync_group_info
  - module: sailpoint_isc.passwords.isc_set_password
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Keep the Unix passwords in step, under the Unix policy (PAT from the environment)
  sailpoint_isc.passwords.isc_password_sync_group:
    tenant: acme
    client_id: "{{ lookup('ansible.builtin.env', 'ISC_PAT_ID') }}"
    client_secret: "{{ lookup('ansible.builtin.env', 'ISC_PAT_SECRET') }}"
    name: Unix Password Sync
    password_policy: Unix policy
    sources:
      - Unix-LDAP
      - Unix-Kerberos
  delegate_to: localhost

- name: Add a third member and review the change first (run with --check --diff)
  sailpoint_isc.passwords.isc_password_sync_group:
    name: Unix Password Sync
    sources: [Unix-LDAP, Unix-Kerberos, Unix-NIS]
  delegate_to: localhost

- name: Let the members' passwords go their own ways again
  sailpoint_isc.passwords.isc_password_sync_group:
    name: Unix Password Sync
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
sync_group:
  description:
    - The group as the tenant has it after the task (in check mode, as it would be); empty after
      O(state=absent). The id is null for a group check mode would create.
  returned: always
  type: dict
  contains:
    id:
      description: The id of the group.
      type: str
    name:
      description: The name of the group.
      type: str
    password_policy:
      description: The name of the group's policy (its id when the policy is not found).
      type: str
    password_policy_id:
      description: The id of the group's policy.
      type: str
    sources:
      description: The member sources by name (the id where ISC does not show the name).
      type: list
      elements: str
    source_ids:
      description: The ids of the member sources.
      type: list
      elements: str
    created:
      description: When the group was created (ISC's date-time).
      type: str
    modified:
      description: When the group was last changed (ISC's date-time).
      type: str
  sample:
    id: 6881f631-3bd5-4213-9c75-8e05cc3e35dd
    name: Unix Password Sync
    password_policy: Unix policy
    password_policy_id: 2c91808d744ba0ce01746f93b6204501
    sources: [Unix-LDAP, Unix-Kerberos]
    source_ids: [2c918084660f45d6016617daa9210584, 2c918084660f45d6016617daa9210500]
    created: "2023-03-16T04:00:00Z"
    modified: "2023-03-16T04:00:00Z"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_POLICIES, OP_SYNC_GROUP, OP_SYNC_GROUPS,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import EXPORT_JOB, preflight

KIND = 'password sync group'


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


def wanted_fields(module, client, policies):
    """``{api_field: value}`` of the declared options, with the policy and the sources resolved to ids."""
    p = module.params
    wanted = {}
    if p['password_policy'] is not None:
        wanted['passwordPolicyId'] = pc.policy_id(client, p['password_policy'], policies, module)
    if p['sources'] is not None:
        wanted['sourceIds'] = pc.source_ids(client, p['sources'], 'sources')
    return wanted


def check_input(module):
    """Bad input fails before anything is sent."""
    p = module.params
    if not (p['name'] or '').strip():
        module.fail_json(msg='name must not be empty: give the name of the sync group')
    if p['password_policy'] is not None and not p['password_policy'].strip():
        module.fail_json(msg='password_policy must not be empty: give a policy name or id, or leave it unset')
    if p['sources'] is not None and not [s for s in p['sources'] if s and str(s).strip()]:
        module.fail_json(msg='sources must name at least one source; to dissolve the group use state=absent')
    if p['sources'] is not None and any(not s or not str(s).strip() for s in p['sources']):
        module.fail_json(msg='sources holds an empty entry: give each source by name or id')


def releasing(client, groups, current, wanted_ids):
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


def run(module, client):
    p = module.params
    groups = pc.list_all(client, OP_SYNC_GROUPS)
    current = by_name(groups, p['name'])
    header = '%s %s' % (KIND, p['name'])
    if p['release_only']:
        if p['state'] == 'absent' or current is None or p['sources'] is None:
            return dict(changed=False, sync_group=pc.sync_group_views(client, [current])[0] if current else {})
        kept = releasing(client, groups, current, pc.source_ids(client, p['sources'], 'sources'))
        if kept is None:
            return dict(changed=False, sync_group=pc.sync_group_views(client, [current])[0])
        wanted = {'sourceIds': kept}
        changed = pc.changes(wanted, current)
        result = dict(current, **wanted)
        if not module.check_mode:
            body = pc.merged(current, wanted, read_only=pc.SYNC_GROUP_READ_ONLY)
            result = client.call_json(OP_SYNC_GROUP, 'PUT', current['id'], json_body=body, shape=dict) or result
        out = dict(changed=True, sync_group=pc.sync_group_views(client, [result])[0], diff=named_diff(client, changed, header))
        return out

    if p['state'] == 'absent':
        if current is None:
            return dict(changed=False, sync_group={})
        if not module.check_mode:
            client.call(OP_SYNC_GROUP, 'DELETE', current['id'])
        before = dict((k, v) for k, v in current.items() if k not in pc.SYNC_GROUP_READ_ONLY)
        return dict(changed=True, sync_group={}, diff={'before': before, 'after': {},
                                                       'before_header': header, 'after_header': header})

    if current is None:
        missing = [o for o in ('password_policy', 'sources') if p[o] is None]
        if missing:
            raise IscError('the %s %r does not exist yet and ISC needs %s to create it: set %s'
                           % (KIND, p['name'], ' and '.join(missing), ' and '.join(missing)))
    policies = pc.list_all(client, OP_POLICIES)
    wanted = wanted_fields(module, client, policies)
    if 'sourceIds' in wanted:
        released = None
        if module.check_mode and p['declared_groups']:
            released = dict((name, None if sources is None else pc.source_ids(client, sources, 'declared_groups'))
                            for name, sources in p['declared_groups'].items() if name != p['name'])
        check_membership(client, groups, current, wanted['sourceIds'], released)

    if current is None:
        body = dict(name=p['name'], **wanted)
        result = body
        if not module.check_mode:
            result = client.call_json(OP_SYNC_GROUPS, 'POST', json_body=body, shape=dict) or body
        changed = dict((f, (None, body[f])) for f in body)
    else:
        changed = pc.changes(wanted, current)
        result = current
        if changed:
            body = pc.merged(current, wanted, read_only=pc.SYNC_GROUP_READ_ONLY)
            result = dict(current, **wanted)
            if not module.check_mode:
                answer = client.call_json(OP_SYNC_GROUP, 'PUT', current['id'], json_body=body, shape=dict)
                result = answer or result
    out = dict(changed=bool(changed), sync_group=pc.sync_group_views(client, [result], policies)[0])
    if changed:
        out['diff'] = named_diff(client, changed, header)
        if current is None:
            out['diff']['before'] = {}
    return out


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            name=dict(type='str', required=True),
            password_policy=dict(type='str', no_log=False),  # a policy's name, no secret
            sources=dict(type='list', elements='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            release_only=dict(type='bool', default=False),
            declared_groups=dict(type='dict'),
        ),
        supports_check_mode=True,
    )
    check_input(module)
    client = IscClient.from_module(module)
    preflight(module, client, EXPORT_JOB if module.check_mode else 'password-config')  # rights.py: before any request but the token's
    try:
        result = run(module, client)
    except IscError as exc:
        fail_isc(module, exc, changed=False)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
