# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""The glue every module shares: the connection options, input checks, and ISC errors as module results."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.module_utils.basic import env_fallback

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import API_VERSIONS, CONNECTION_DEFAULTS
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError, IscOutcomeUnknown


def connection_argument_spec():
    """The connection/auth options every module accepts (documented in the isc doc fragment)."""
    return dict(
        base_url=dict(type='str', fallback=(env_fallback, ['SAIL_BASE_URL'])),
        tenant=dict(type='str'),
        client_id=dict(type='str', fallback=(env_fallback, ['SAIL_CLIENT_ID'])),
        client_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['SAIL_CLIENT_SECRET'])),
        access_token=dict(type='str', no_log=True),
        api_version=dict(type='str', default=CONNECTION_DEFAULTS['api_version'], choices=list(API_VERSIONS)),
        validate_certs=dict(type='bool', default=CONNECTION_DEFAULTS['validate_certs']),
        ca_path=dict(type='path'),
        timeout=dict(type='int', default=CONNECTION_DEFAULTS['timeout']),
        rate_limit=dict(type='int', default=CONNECTION_DEFAULTS['rate_limit']),
        rate_window=dict(type='int', default=CONNECTION_DEFAULTS['rate_window']),
        max_retries=dict(type='int', default=CONNECTION_DEFAULTS['max_retries']),
        token_cache=dict(type='raw', no_log=False),
    )


def isc_argument_spec(**specific):
    spec = connection_argument_spec()
    spec.update(specific)
    return spec


WHAT_TO_GIVE = {
    'user_name': "the identity's user name as ISC spells it",
    'source_name': 'the source display name as ISC spells it',
    'user_id': "the identity's user name as ISC spells it",
    'account_id': 'the native account id, or leave account_id out',
    'password': 'the new password',
    'encrypted_password': 'the encrypted password, or use password',
}


def check_not_empty(module, values, prefix=''):
    """Fail on options given as empty strings, before anything is sent (ISC would refuse them)."""
    for name, value in values.items():
        if isinstance(value, str) and (value == '' if 'password' in name else not value.strip()):
            module.fail_json(msg='%s%s is empty: give %s' % (prefix, name, WHAT_TO_GIVE.get(name, 'a value')))


def error_fields(exc):
    """What a module result says about an ISC error besides its message: HTTP status, tracking id, and for an
    unknown outcome the ids of the account that may have changed."""
    fields = {}
    if isinstance(exc, IscError):
        if exc.status is not None:
            fields['status'] = exc.status
        if exc.tracking_id:
            fields['tracking_id'] = exc.tracking_id
    if isinstance(exc, IscOutcomeUnknown):
        fields.update(outcome_unknown=True, identity_id=exc.identity_id, source_id=exc.source_id,
                      account_id=exc.account_id, public_key_id=exc.public_key_id)
    return fields


def error_result(exc):
    """Per-item failure fields for an IscError (or any exception)."""
    return dict(error_fields(exc), failed=True, msg=str(exc))


def fail_isc(module, exc, **result):
    """Fail the module with an ISC error: its message, and its fields (error_fields) beside the result."""
    module.fail_json(msg=str(exc), **dict(result, **error_fields(exc)))


def exit_batch(module, items, failed_what, key='results', changed=False, **extra):
    """The end of a batch form: every item carries ``failed`` (False unless it says so); when some failed and
    fail_on_item_error is set the task fails naming the first, else it exits with all of them."""
    for item in items:
        item.setdefault('failed', False)
    failed = [item for item in items if item['failed']]
    if failed and module.params['fail_on_item_error']:
        module.fail_json(msg='%d of %d %s; first: %s' % (len(failed), len(items), failed_what, failed[0]['msg']),
                         **dict({'changed': changed, key: items}, **extra))
    module.exit_json(**dict({'changed': changed, key: items}, **extra))


NO_LOG_PLACEHOLDER = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def _texts(value):
    """Every text Ansible's no_log masking looks into: strings, numbers as text; dict keys too, to be safe."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, bytes):
            yield item.decode('utf-8', 'replace')
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, Mapping):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        else:
            yield str(item)


def occurring(secrets, value):
    """The secrets found in some text of value (as the whole text or inside it), in time linear in value's size."""
    by_length = {}
    for secret in secrets:
        if secret:
            by_length.setdefault(len(secret), set()).add(secret)
    found = set()
    for text in _texts(value):
        for length, bucket in by_length.items():
            for start in range(len(text) - length + 1):
                if text[start:start + length] in bucket:
                    found.add(text[start:start + length])
    return found


def _masked(value, secrets):
    if isinstance(value, str):
        return NO_LOG_PLACEHOLDER if value in secrets else value
    if isinstance(value, Mapping):
        return dict((key, _masked(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_masked(item, secrets) for item in value]
    return value


def exit_json_many_secrets(module, result, secrets):
    """module.exit_json(**result) for a module that took many no_log values (apply's passwords), in linear time.

    Before it prints a result, Ansible looks for every no_log value in every text of it and of the echoed
    arguments: with N passwords and a result that grows with N that is quadratic, seconds at a thousand
    changes and minutes at ten thousand. Here the secrets are replaced in the echoed arguments (as Ansible
    would), and only those that still occur somewhere stay no_log values, so Ansible masks the same texts
    with a short list. The output is the same as exit_json's.
    """
    secrets = set(s for s in secrets if s)
    result = dict(result, invocation={'module_args': _masked(module.params, secrets)})
    module.no_log_values.difference_update(secrets - occurring(secrets, result))
    module.exit_json(**result)
