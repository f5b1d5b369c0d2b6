# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The password-policy holders of a source (which policy applies to which identities, by identity
attribute selectors): the versions that can read them, their comparison without regard to order, and
their views for module results. Used by isc_source_password_policies and its _info twin."""

from __future__ import annotations

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    API_VERSIONS, OP_SOURCE_POLICIES, OP_SOURCE_POLICIES_UPDATE, serves,
)


def reading_versions():
    """The API versions that can read the holders of a source (api.py's table: v2025 and v1)."""
    return [v for v in API_VERSIONS if serves(v, OP_SOURCE_POLICIES)]


def reading_version(api_version):
    """``api_version`` when it can read the holders, else the first version that can (the playbooks' choice)."""
    return api_version if api_version in reading_versions() else reading_versions()[0]


def version_problem(module_name, api_version, compares=True):
    """Why this api_version cannot run the module (None when it can): reading, and so comparing, needs the GET."""
    if serves(api_version, OP_SOURCE_POLICIES):
        return None
    reading = reading_versions()
    if not serves(api_version, OP_SOURCE_POLICIES_UPDATE):
        what = 'has neither reading nor writing them'
    else:
        what = 'can only write them' + (', so the module could not compare and every run would be a change'
                                        if compares else '')
    return ('%s needs api_version %s: only %s can read the password-policy holders of a source '
            '(GET /sources/{id}/password-policies); api_version %s %s. Set api_version: %s on this task'
            % (module_name, ' or '.join(reading), ' and '.join(reading), api_version, what, reading[0]))


def attrs(selectors):
    """The identity attributes of API selectors as a sorted tuple of (name, value)."""
    return tuple(sorted((str(a.get('name')), str(a.get('value')))
                        for a in ((selectors or {}).get('identityAttr') or ()) if isinstance(a, dict)))


def key(holder):
    """A holder as something to compare: its policy id and its attributes, without regard to order."""
    return (str(holder.get('policyId')), attrs(holder.get('selectors')))


def comparable(holders, default_id):
    """The holders as a sorted list of keys; without a holder of the whole source (no selectors), the
    tenant's default policy holds it, as ISC lists it."""
    keys = [key(h) for h in holders]
    if default_id and not [k for k in keys if not k[1]]:
        keys.append((str(default_id), ()))
    return sorted(keys)


def views(holders, policies, with_ids=True):
    """Holders as modules return them (snake_case, the policy by name); without ids they are valid
    ``holders`` of isc_source_password_policies."""
    names = pc.policy_names(policies)
    out = []
    for holder in holders:
        pid = holder.get('policyId')
        pairs = [{'name': n, 'value': v} for n, v in attrs(holder.get('selectors'))]
        view = {'policy': names.get(pid) or holder.get('policyName') or pid,
                'selectors': {'identity_attr': pairs} if pairs else None}
        if with_ids:
            view['policy_id'] = pid
        out.append(view)
    return out


def input_problem(params):
    """What is wrong with isc_source_password_policies' options before anything is sent, as a message naming
    the fix; None when nothing."""
    if not (params['source'] or '').strip():
        return 'source must not be empty: give the source by display name or id'
    if params['state'] == 'absent' and params['holders'] is not None:
        return 'state=absent removes every holder: leave holders unset (or use holders: [] with state=present)'
    seen, whole = {}, None
    for n, holder in enumerate(params['holders'] or ()):
        if not (holder['policy'] or '').strip():
            return 'holders[%d].policy must not be empty: give a policy name or id' % n
        pairs = [(a['name'], a['value']) for a in ((holder.get('selectors') or {}).get('identity_attr') or ())]
        if any(not (name or '').strip() for name, _v in pairs):
            return 'holders[%d].selectors.identity_attr has an attribute without a name' % n
        ident = (holder['policy'], tuple(sorted(pairs)))
        if ident in seen:
            return 'holders[%d] repeats holders[%d] (same policy, same selectors): drop one' % (n, seen[ident])
        seen[ident] = n
        if not pairs:
            if whole is not None:
                return ('holders[%d] and holders[%d] both lack selectors: only one policy can hold the whole source; '
                        'give the other one selectors (selectors.identity_attr)' % (whole, n))
            whole = n
    return None


def wanted(holders, policies, policy_id):
    """The holders as ISC takes them: policy id and name, and selectors when the policy applies to some
    identities only. A holder of every identity has no selectors key: the documents' schema types
    selectors as an object (their example shows null, which the schema does not allow).
    ``policy_id(ref)`` resolves a policy name or id."""
    names = pc.policy_names(policies)
    body = []
    for holder in holders:
        pid = policy_id(holder['policy'])
        identity_attr = [{'name': a['name'], 'value': a['value']}
                         for a in ((holder.get('selectors') or {}).get('identity_attr') or ())]
        entry = {'policyId': pid, 'policyName': names.get(pid)}
        if identity_attr:
            entry['selectors'] = {'identityAttr': identity_attr}
        body.append(entry)
    return body
