# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks choose the holders' API version through the filter, from api.py's table (one home)."""

from __future__ import annotations

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.filter.holders_api_version import FilterModule
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import API_VERSIONS, OP_SOURCE_POLICIES, serves

CHOOSE = FilterModule().filters()['holders_api_version']


@pytest.mark.parametrize('version', list(API_VERSIONS) + ['', None])
def test_the_filter_gives_a_version_that_reads_the_holders(version):
    chosen = CHOOSE(version)
    assert serves(chosen, OP_SOURCE_POLICIES)
    if version and serves(version, OP_SOURCE_POLICIES):
        assert chosen == version  # the play's own version when it can
    else:
        assert chosen == 'v2025'  # the playbooks' documented default (docs/password-config.md)
