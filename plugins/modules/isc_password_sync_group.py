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
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import sync_group as sg
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_POLICIES, OP_SYNC_GROUP, OP_SYNC_GROUPS,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource, execute


class SyncGroup(Resource):
    """A password sync group, matched by name; release_only gives up sources only (the first pass of a file)."""

    kind, result_key, collection_op, item_op = sg.KIND, 'sync_group', OP_SYNC_GROUPS, OP_SYNC_GROUP
    read_only = pc.SYNC_GROUP_READ_ONLY
    policies = None  # the tenant's policies once read (release_only never reads them before the result)

    def run(self):
        if not self.params['release_only']:
            return Resource.run(self)
        current, p = self.find(), self.params
        kept = None
        if p['state'] == 'present' and current is not None and p['sources'] is not None:
            kept = sg.releasing(self.groups, current, pc.source_ids(self.client, p['sources'], 'sources'))
        if kept is None:
            return dict(changed=False, sync_group=pc.sync_group_views(self.client, [current])[0] if current else {})
        return self.apply(current, {'sourceIds': kept})

    def find(self):
        self.groups = pc.list_all(self.client, OP_SYNC_GROUPS)
        return sg.by_name(self.groups, self.params['name'])

    def wanted(self, current):
        p, wanted = self.params, {}
        missing = [o for o in ('password_policy', 'sources') if p[o] is None]
        if current is None and missing:
            raise IscError('the %s %r does not exist yet and ISC needs %s to create it: set %s'
                           % (sg.KIND, p['name'], ' and '.join(missing), ' and '.join(missing)))
        self.policies = pc.list_all(self.client, OP_POLICIES)
        if p['password_policy'] is not None:
            wanted['passwordPolicyId'] = pc.policy_id(self.client, p['password_policy'], self.policies, self.module)
        if p['sources'] is not None:
            wanted['sourceIds'] = pc.source_ids(self.client, p['sources'], 'sources')
            released = sg.declared_elsewhere(self.client, p) if self.check_mode and p['declared_groups'] else None
            sg.check_membership(self.client, self.groups, current, wanted['sourceIds'], released)
        return wanted

    def result(self, current, after, changed):
        out = {'sync_group': pc.sync_group_views(self.client, [after], self.policies)[0]}
        if changed:
            out['diff'] = sg.named_diff(self.client, changed, self.header(current))
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
    problem = sg.input_problem(module.params)
    if problem:
        module.fail_json(msg=problem)
    execute(module, SyncGroup)


if __name__ == '__main__':
    main()
