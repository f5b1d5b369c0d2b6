# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: holders_api_version
short_description: The ISC API version to read and write the password-policy holders of sources with
version_added: 0.2.0
description:
  - Only V(v2025) and V(v1) can read the password-policy holders of a source
    (C(GET /sources/{id}/password-policies)). This filter returns the version
    given when it is one of them, else V(v2025), so a play that uses another version for
    everything else still manages the holders.
  - The versions come from the collection's own table of API paths, the one the modules use.
options:
  _input:
    description: The API version the play uses (V(v2024), V(v2025), V(v3), V(beta), V(v1)), or empty.
    type: str
    required: true
seealso:
  - module: sailpoint_isc.passwords.isc_source_password_policies
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
"""

EXAMPLES = r"""
- name: Manage the holders of a source with the play's API version when it can
  sailpoint_isc.passwords.isc_source_password_policies:
    source: Active Directory
    holders:
      - policy: Service accounts
    api_version: "{{ isc_api_version | default('') | sailpoint_isc.passwords.holders_api_version }}"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: V(v2025) or V(v1).
  type: str
"""

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy_holders import reading_version


def holders_api_version(api_version):
    return reading_version(api_version or '')


class FilterModule:
    def filters(self):
        return {'holders_api_version': holders_api_version}
