#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_account_info
short_description: List the accounts SailPoint Identity Security Cloud knows, with their password age and drift
version_added: 0.2.0
description:
  - The data of the P(sailpoint_isc.passwords.isc_accounts#inventory) inventory plugin in a play - one item per
    account on the chosen sources - read with C(POST /search/v1) over the identities index (sorted by id,
    paged with C(searchAfter)), C(GET /sources/v1) (features) and C(GET /accounts/v1) (uncorrelated accounts).
  - Each account is judged against the service_account_rotation role's ledger (O(ledger_path)) - C(due),
    C(drift) (ISC saw a password change after our last rotation, beyond O(drift_tolerance)) or
    C(unrotatable) (no C(PASSWORD) feature on the source, password change unsupported, or uncorrelated).
  - Search and the accounts list are per-resource v1 APIs; O(api_version) is not used (v1 is always called).
  - This module never changes anything and never returns a secret.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.read_only
options:
  sources:
    description: Names of the sources whose accounts are listed. Empty lists the accounts of every source.
    type: list
    elements: str
    default: []
  query:
    description: An extra search query (ISC's search syntax) joined with C(AND) to the sources query.
    type: str
  max_age_days:
    description: An account whose password is older than this (by ISC and by the ledger) is C(due).
    type: int
    default: 90
  ledger_path:
    description: The rotation role's ledger (C(ledger.json) in its state directory), read only.
    type: path
  drift_tolerance:
    description: Seconds ISC's C(passwordLastSet) may be later than the ledger's last rotation without being drift.
    type: int
    default: 600
  machine_accounts:
    description:
      - Also read C(GET /machine-accounts/v1) (experimental in v1) and add each machine account's owner, subtype,
        environment and classification to its item (RV(accounts[].machine_account)); its owner becomes
        RV(accounts[].owner).
      - ISC answers it for a user token only - a personal access token with the scope C(idn:mis-account:read).
    type: bool
    default: false
  verify:
    description:
      - Instead of listing, prove from ISC's side that finished password changes reached these accounts - each is
        reloaded (C(POST /accounts/v1/{id}/reload), which re-reads it from its source; no password changes and no
        logon to the target) and its C(passwordLastSet) must move past O(verify_since) within O(verify_timeout).
      - The service_account_rotation role sends this with C(service_account_rotation_verify_from_isc=true).
      - Skipped in check mode (a reload starts an aggregation).
    type: list
    elements: dict
    suboptions:
      key:
        description: "The account key of the ledger and the reports."
        type: str
        required: true
      source_name:
        description: "The source's name."
        type: str
        required: true
      user_name:
        description: "The identity's user name."
        type: str
        required: true
      account_id:
        description: "The native account id, when the identity has several accounts on the source."
        type: str
  verify_since:
    description: When the changes started (ISO-8601); required with O(verify).
    type: str
  verify_timeout:
    description: Seconds to wait for the aggregations after the reloads.
    type: int
    default: 120
  verify_poll:
    description: Seconds between two reads while waiting.
    type: int
    default: 2
seealso:
  - plugin: sailpoint_isc.passwords.isc_accounts
    plugin_type: inventory
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: What ISC knows of the service accounts on Corp-AD
  sailpoint_isc.passwords.isc_account_info:
    sources: [Corp-AD]
    ledger_path: "{{ lookup('env', 'HOME') }}/.local/state/sailpoint_isc/rotation/acme/all/ledger.json"
  delegate_to: localhost
  register: found

- name: Rotate what is due or drifted
  ansible.builtin.include_role:
    name: sailpoint_isc.passwords.service_account_rotation
  vars:
    service_account_rotation_accounts: "{{ found.accounts | selectattr('rotation_account') | selectattr('groups')
                                           | map(attribute='rotation_account') | list }}"
"""

RETURN = r"""
accounts:
  description: One item per account, sorted by host name.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: "The account key, C(<source>/<user>) (C(#<account id>) when the identity has several there)."
      type: str
    source_name:
      description: "The source's name."
      type: str
    source_id:
      description: "The source's id."
      type: str
    ledger_key:
      description: "The account's key in the ledger (null when the ledger does not know it)."
      type: str
    user_name:
      description: "The identity's user name (C(attributes.uid), else its name)."
      type: str
    account_id:
      description: "The native account id."
      type: str
    account_name:
      description: "The account's name."
      type: str
    account_uuid:
      description: "ISC's id of the account."
      type: str
    identity_id:
      description: "The identity's id (null when uncorrelated)."
      type: str
    password_last_set:
      description: "ISC's C(passwordLastSet) (as fresh as its last aggregation)."
      type: str
    last_rotated:
      description: "The ledger's last rotation."
      type: str
    owner:
      description: "The machine account's owner with O(machine_accounts), else the identity's manager."
      type: str
    machine_account:
      description:
        - "With O(machine_accounts), what ISC's machine account adds - C(owner), C(subtype), C(environment),
          C(classification), C(machine_identity); null for an account that is no machine account, or without it."
      type: dict
    correlated:
      description: "Whether the account belongs to an identity."
      type: bool
    groups:
      description: "Any of C(due), C(drift), C(unrotatable)."
      type: list
      elements: str
    reason:
      description: "Why."
      type: str
    drift_seconds:
      description: "How much later ISC's change is than our rotation."
      type: int
    rotation_account:
      description: "The item for the role's accounts list (null when unrotatable)."
      type: dict
groups:
  description: The host names in each group.
  returned: success
  type: dict
  sample: {due: [Corp-AD/svc-app-001], drift: [], unrotatable: [HR-Feed/feed-reader]}
totals:
  description: Per source - accounts, managed (in the ledger), due, drift, unrotatable.
  returned: success
  type: dict
verified:
  description: With O(verify), the keys whose passwordLastSet moved past O(verify_since).
  returned: when verify is given
  type: list
  elements: str
unverified:
  description: With O(verify), the accounts without that proof, each with C(key) and C(reason).
  returned: when verify is given
  type: list
  elements: dict
search_requests:
  description: How many search requests were sent (10,000 identities per request).
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import discovery
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import RotationError


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            sources=dict(type='list', elements='str', default=[]), query=dict(type='str'),
            max_age_days=dict(type='int', default=90), ledger_path=dict(type='path'),
            drift_tolerance=dict(type='int', default=600), machine_accounts=dict(type='bool', default=False),
            verify=dict(type='list', elements='dict', options=dict(
                key=dict(type='str', required=True, no_log=False), source_name=dict(type='str', required=True),
                user_name=dict(type='str', required=True), account_id=dict(type='str'))),
            verify_since=dict(type='str'), verify_timeout=dict(type='int', default=120),
            verify_poll=dict(type='int', default=2)),
        required_by={'verify': 'verify_since'},
        supports_check_mode=True,
    )
    p = module.params
    if p['verify'] is not None:
        verify(module, p)
    if p['max_age_days'] < 0 or p['drift_tolerance'] < 0:
        module.fail_json(msg='max_age_days and drift_tolerance must be 0 or more')
    if any(not (s or '').strip() for s in p['sources']):
        module.fail_json(msg='sources has an empty name: give source names as ISC spells them')
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module, api_version=discovery.API_VERSION)
    preflight(module, client, 'account-discovery')  # rights.py: before any request but the token's
    if p['machine_accounts']:
        preflight(module, client, 'machine-account-details')
    try:
        records, stats = discovery.discover(client, p['sources'] or None, p['query'], p['ledger_path'],
                                            p['max_age_days'], p['drift_tolerance'], machine_accounts=p['machine_accounts'])
    except IscError as exc:
        fail_isc(module, exc, changed=False)
    except RotationError as exc:
        module.fail_json(msg='ledger_path: %s' % exc)
    groups = dict((g, [r['host'] for r in records if g in r['groups']]) for g in discovery.GROUPS)
    module.exit_json(changed=False, accounts=records, groups=groups, totals=discovery.summary(records),
                     search_requests=stats['search_requests'])


def verify(module, p):
    if module.check_mode or not p['verify']:
        module.exit_json(changed=False, verified=[], unverified=[], skipped=module.check_mode)
    # here, after check mode's exit: a run that sends nothing never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module, api_version=discovery.API_VERSION)
    preflight(module, client, 'verify-from-isc')
    try:
        verified, unverified = discovery.verify_changes(discovery.Reader(client), p['verify'], p['verify_since'],
                                                        max(0, p['verify_timeout']), max(1, p['verify_poll']))
    except IscError as exc:
        fail_isc(module, exc, changed=False)
    module.exit_json(changed=False, verified=verified, unverified=unverified)


if __name__ == '__main__':
    main()
