# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""The one flow of the password-configuration modules: find, delete, create or update, check mode, diff.

A module declares its resource as a subclass of Resource (how to read it, what the user wants, how to
write it, how its result looks) and hands it to execute(); the order of the steps, what check mode skips
and how an ISC error becomes a result live here only.
"""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import fail_isc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.rights import EXPORT_JOB, preflight


class Resource:
    """One configuration resource. The defaults fit an object matched by name, listed and created at
    ``collection_op``, replaced whole (PUT) and deleted at ``item_op``."""

    kind = None  # what the diff's header calls it ('password policy')
    result_key = None  # the result's key for the object
    collection_op = item_op = None  # operation names (api.py)
    read_only = pc.POLICY_READ_ONLY  # API fields ISC sets itself: never sent back
    fail_fields = {'changed': False}  # what a failed run reports beside the error

    def __init__(self, module, client):
        self.module, self.client, self.params = module, client, module.params
        self.check_mode = module.check_mode

    @property
    def absent(self):
        return self.params.get('state') == 'absent'

    def header(self, current=None):
        return '%s %s' % (self.kind, current.get('name') if current else self.params['name'])

    # ---- what a resource declares: reading ----
    def find(self):
        """The tenant's object (None when there is none)."""
        raise NotImplementedError

    def wanted(self, current):
        """``{api_field: value}`` of what the user declared (may fail on what ISC would refuse)."""
        raise NotImplementedError

    def changes(self, wanted, current):
        """What differs, ``{field: (before, after)}``; empty when nothing does."""
        return pc.changes(wanted, current)

    # ---- writing: never called in check mode; create and update return the object after the write,
    # ISC's answer or, when it answers nothing, ``fallback`` (what check mode reports) ----
    def create(self, body, fallback):
        return self.client.call_json(self.collection_op, 'POST', json_body=body, shape=dict) or fallback

    def update(self, current, body, fallback):
        return self.client.call_json(self.item_op, 'PUT', current['id'], json_body=body, shape=dict) or fallback

    def delete(self, current):
        self.client.call(self.item_op, 'DELETE', current['id'])

    def new_body(self, wanted):
        return dict(name=self.params['name'], **wanted)

    def update_body(self, current, wanted, changed):
        return pc.merged(current, wanted, read_only=self.read_only)

    def expected(self, current, wanted):
        """The object after an update, as check mode (or an empty answer) reports it."""
        return dict(current, **wanted)

    # ---- results ----
    def result(self, current, after, changed):
        """The module's result besides ``changed``, diff included (``current`` None: it was created)."""
        raise NotImplementedError

    def gone(self, current):
        """The result of state=absent (called before the delete): the whole object before as the diff."""
        if current is None:
            return {self.result_key: {}}
        before = dict((k, v) for k, v in current.items() if k not in self.read_only)
        return {self.result_key: {}, 'diff': pc.whole_diff(before, {}, self.header(current))}

    # ---- the flow ----
    def run(self):
        current = self.find()
        if self.absent:
            out = dict(changed=current is not None, **self.gone(current))
            if current is not None and not self.check_mode:
                self.delete(current)
            return out
        return self.apply(current, self.wanted(current))

    def apply(self, current, wanted):
        """Create or update toward ``wanted`` (writes skipped in check mode); the module's result."""
        if current is None:
            body = self.new_body(wanted)
            changed = dict((field, (None, value)) for field, value in body.items())
            after = body
            if changed and not self.check_mode:
                after = self.create(body, body)
        else:
            changed = self.changes(wanted, current)
            after = current
            if changed:
                after = self.expected(current, wanted)
                if not self.check_mode:
                    after = self.update(current, self.update_body(current, wanted, changed), after)
        return dict(changed=bool(changed), **self.result(current, after, changed))


def _client(module):
    """The client of the connection options. IscClient is imported here, once the module has checked its arguments:
    a run that fails them never imports requests and cryptography."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    return IscClient.from_module(module)


def report(module, read, job=EXPORT_JOB):
    """The _info twins: connect, check the read rights, ``read(client)`` (a dict of results), exit unchanged."""
    client = _client(module)
    preflight(module, client, job)  # rights.py: before any request but the token's
    try:
        result = read(client)
    except IscError as exc:
        fail_isc(module, exc, changed=False)
    module.exit_json(changed=False, **result)


def execute(module, resource, job='password-config'):
    """Connect, check the token's rights (check mode needs only the read rights), run, exit."""
    client = _client(module)
    preflight(module, client, EXPORT_JOB if module.check_mode else job)  # rights.py: before any request but the token's
    instance = resource(module, client)
    try:
        result = instance.run()
    except IscError as exc:
        fail_isc(module, exc, **instance.fail_fields)
    module.exit_json(**result)
