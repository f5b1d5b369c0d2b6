#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: isc_password_status
short_description: Read the state of password change requests on SailPoint Identity Security Cloud
version_added: 0.1.0
description:
  - Reads ISC's password-change-status for one or many request IDs returned by
    M(sailpoint_isc.passwords.isc_set_password).
  - Optionally waits until every request is C(FINISHED) or C(FAILED).
  - This module never changes anything.
extends_documentation_fragment:
  - sailpoint_isc.passwords.isc
  - sailpoint_isc.passwords.isc.attributes
  - sailpoint_isc.passwords.isc.batch
  - sailpoint_isc.passwords.isc.read_only
options:
  request_id:
    description:
      - One request ID. Mutually exclusive with O(request_ids).
    type: str
  request_ids:
    description:
      - Several request IDs; RV(statuses) keeps their order. An unknown ID is reported on its own
        entry and does not stop the others.
    type: list
    elements: str
  wait:
    description:
      - Wait until every request is C(FINISHED) or C(FAILED), or until O(wait_timeout).
      - Requests still C(IN_PROGRESS) at the timeout are returned as such, with a warning.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 300
  poll_interval:
    description: Seconds between polls with O(wait=true); the first reads come sooner (after 1 s, then twice as long each time, up to this).
    type: int
    default: 5
notes:
  - With O(request_ids), an item fails (see O(fail_on_item_error)) when its request could not be read,
    for example an unknown ID. A request in state C(FAILED) is a result, not an error.
seealso:
  - module: sailpoint_isc.passwords.isc_set_password
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Read one request
  sailpoint_isc.passwords.isc_password_status:
    tenant: acme
    client_id: "{{ isc_client_id }}"
    client_secret: "{{ isc_client_secret }}"
    request_id: 089899f13a8f4da7824996191587bab9
  delegate_to: localhost
  register: status

- name: Wait for a batch of changes
  sailpoint_isc.passwords.isc_password_status:
    request_ids: "{{ batch.results | map(attribute='request_id') | select | list }}"
    wait: true
    wait_timeout: 600
  delegate_to: localhost
  register: statuses
"""

RETURN = r"""
statuses:
  description: One entry per request in input order.
  returned: always
  type: list
  elements: dict
  contains:
    request_id:
      description: The request ID.
      type: str
    state:
      description: C(IN_PROGRESS), C(FINISHED) or C(FAILED).
      type: str
    errors:
      description: Error strings ISC reported.
      type: list
      elements: str
    source_ids:
      description: Sources the change covers (several for a password sync group).
      type: list
      elements: str
    failed:
      description: True when this request could not be read.
      type: bool
    msg:
      description: Why the request could not be read.
      type: str
state:
  description: State of the request (single form).
  returned: single form
  type: str
  sample: FINISHED
errors:
  description: Errors of the request (single form).
  returned: single form
  type: list
  elements: str
source_ids:
  description: Source IDs of the request (single form).
  returned: single form
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import error_result, exit_batch, isc_argument_spec
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.operations import wait_for_statuses
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import preflight


def main():
    module = AnsibleModule(
        argument_spec=isc_argument_spec(
            request_id=dict(type='str'),
            request_ids=dict(type='list', elements='str'),
            wait=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=300),
            poll_interval=dict(type='int', default=5),
            workers=dict(type='int', default=4),
            fail_on_item_error=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('request_id', 'request_ids')],
        required_one_of=[('request_id', 'request_ids')],
        supports_check_mode=True,
    )
    p = module.params
    single = p['request_id'] is not None
    ids = [p['request_id']] if single else list(p['request_ids'])
    if any(not i or not str(i).strip() for i in ids):
        module.fail_json(msg='request_id values must not be empty')
    # here, after the argument checks: a run that fails them never imports requests and cryptography
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    client = IscClient.from_module(module)
    preflight(module, client, 'password-status')  # rights.py: before any request but the token's
    answers = wait_for_statuses(client, ids, p['wait_timeout'] if p['wait'] else 0, p['poll_interval'],
                                workers=p['workers'])
    statuses = []
    for rid, ans in zip(ids, answers):
        if isinstance(ans, Exception):
            entry = {'request_id': rid, 'state': None, 'errors': [], 'source_ids': []}
            entry.update(error_result(ans))
        else:
            entry = dict(ans, failed=False)
        statuses.append(entry)
    if p['wait']:
        pending = [s['request_id'] for s in statuses if s.get('state') == 'IN_PROGRESS']
        if pending:
            module.warn('still IN_PROGRESS after wait_timeout: %s' % ', '.join(pending))
    if single:
        s = statuses[0]
        if s.get('failed'):
            module.fail_json(msg=s['msg'], changed=False, statuses=statuses)
        module.exit_json(changed=False, statuses=statuses, state=s['state'], errors=s['errors'],
                         source_ids=s['source_ids'])
    exit_batch(module, statuses, 'requests could not be read', key='statuses')


if __name__ == '__main__':
    main()
