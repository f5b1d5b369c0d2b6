# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every reconcile, plan and apply that a unit test here runs hands over what the phases' contract says
(phases.CONTRACT): its results are checked on the way out."""

from __future__ import annotations

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import planning, reach, rotation
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.contract import check


@pytest.fixture(autouse=True)
def phase_contract(monkeypatch):
    reconcile, plan, run, settle_applied = rotation.reconcile, planning.plan, rotation.Apply.run, reach.settle_applied

    def checked_plan(*args, **kwargs):
        decisions, groups = plan(*args, **kwargs)
        return check('decision', decisions), check('group', groups)

    def checked_settle(client, outcomes, *args, **kwargs):
        found = settle_applied(client, outcomes, *args, **kwargs)
        check('outcome', outcomes)  # completed by reach (missed, reached, beyond) and overlap (overtaken)
        return found

    monkeypatch.setattr(rotation, 'reconcile', lambda *args, **kwargs: check('reconciled', reconcile(*args, **kwargs)))
    monkeypatch.setattr(planning, 'plan', checked_plan)
    monkeypatch.setattr(rotation.Apply, 'run', lambda self: check('outcome', run(self)))
    monkeypatch.setattr(reach, 'settle_applied', checked_settle)
