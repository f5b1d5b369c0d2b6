# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's status names live in module_utils/report.py (FAILING, SKIPPED); the role repeats the ones that
fail a play in its defaults and its argument spec. They must agree, or a renamed status silently stops failing."""

from __future__ import annotations

import os

import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(ROOT, 'roles', 'service_account_rotation')


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


def test_the_role_fails_on_the_statuses_the_report_calls_failures():
    option = load('meta', 'argument_specs.yml')['argument_specs']['main']['options']['service_account_rotation_fail_on']
    assert load('defaults', 'main.yml')['service_account_rotation_fail_on'] == list(report.FAILING)
    assert option['default'] == list(report.FAILING)
    # every status a user may list is one the report writes
    assert set(option['choices']) <= set(report.FAILING + report.SKIPPED), sorted(set(option['choices']) - set(report.FAILING + report.SKIPPED))
