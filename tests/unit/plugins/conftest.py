# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the unit tests out of the home directory."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest


@pytest.fixture(autouse=True)
def no_limiter_hand_over_in_home(monkeypatch):
    """A client built by from_module hands its rate budget on through ~/.cache/sailpoint_isc/limiter; in a
    test it would read and leave another test's (fake) times there. Tests that want the hand-over give a path."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import client
    monkeypatch.setattr(client, 'DEFAULT_LIMITER_STATE', None)
