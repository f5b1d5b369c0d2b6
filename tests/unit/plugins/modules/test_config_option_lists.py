# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/password_config.yml names the options each section of a configuration file takes; those lists
must be the options of the module that applies the section (its argument spec, without the connection
options and the two the playbook sets itself), so a new module option cannot be forgotten there."""

from __future__ import annotations

import importlib
import os

import pytest
import yaml

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import connection_argument_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'password_config.yml')
SET_BY_THE_PLAYBOOK = {'release_only', 'declared_groups'}  # the sync groups' two passes
READ_ONLY_EXTRAS = {'password_sync_groups': {'id'}}  # written by the export, accepted, never sent


class Captured(Exception):
    pass


def argument_spec(module_name, monkeypatch):
    """The argument spec a module's main() builds, caught at AnsibleModule()."""
    module = importlib.import_module('ansible_collections.sailpoint_isc.passwords.plugins.modules.' + module_name)

    def capture(argument_spec, **_kwargs):
        raise Captured(argument_spec)
    monkeypatch.setattr(module, 'AnsibleModule', capture)
    with pytest.raises(Captured) as caught:
        module.main()
    return caught.value.args[0]


def play_vars():
    with open(PLAYBOOK) as handle:
        return yaml.safe_load(handle)[0]['vars']


@pytest.mark.parametrize('section', sorted(play_vars()['password_config_options']))
def test_each_section_takes_the_options_of_its_module(section, monkeypatch):
    variables = play_vars()
    module_name = variables['password_config_modules'][section].rsplit('.', 1)[1]
    spec = argument_spec(module_name, monkeypatch)
    own = set(spec) - set(connection_argument_spec()) - SET_BY_THE_PLAYBOOK
    listed = set(variables['password_config_options'][section]) - READ_ONLY_EXTRAS.get(section, set())
    assert listed == own, 'playbooks/password_config.yml, password_config_options.%s: missing %s, not options %s' % (
        section, sorted(own - listed), sorted(listed - own))
