# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module run that does not talk to ISC imports neither the client nor requests nor cryptography, and the record
phase of isc_rotation none of the engines it does not use (issue 21: AnsiballZ compiles every imported file from
source on every run, so what a run imports is most of its CPU). Each case runs main() in a fresh Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

RUNNER = r'''
import importlib, json, sys
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
name, args = sys.argv[1], json.loads(sys.argv[2])
args.update(_ansible_remote_tmp=sys.argv[3], _ansible_keep_remote_files=False)
basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
if hasattr(basic, '_ANSIBLE_PROFILE'):
    basic._ANSIBLE_PROFILE = 'legacy'
module = importlib.import_module('ansible_collections.sailpoint_isc.passwords.plugins.modules.' + name)
try:
    module.main()
except SystemExit:
    pass
sys.stderr.write('\nIMPORTED ' + json.dumps(sorted(sys.modules)) + '\n')
'''
UTILS = 'ansible_collections.sailpoint_isc.passwords.plugins.module_utils.'
HEAVY = ('requests', 'urllib3', 'cryptography')


def run(name, args, tmp_path):
    """(the module's result, the names of the modules the run imported)"""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('SAIL_'))  # no credentials from outside
    env['PYTHONPATH'] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run([sys.executable, '-c', RUNNER, name, json.dumps(args), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    imported = json.loads(proc.stderr.rsplit('\nIMPORTED ', 1)[1])
    return json.loads(proc.stdout), imported


def heavy(imported):
    return sorted(m for m in imported if m.split('.')[0] in HEAVY or m == UTILS + 'client')


@pytest.mark.parametrize('name,args,msg', [
    ('isc_rotation', {}, 'missing required arguments: ledger_path, phase'),
    ('isc_password_info', {}, 'one of the following is required: user_name, queries'),
    ('isc_set_password', {}, 'one of the following is required: password, encrypted_password, passwords'),
    ('isc_password_status', {'request_id': ''}, 'request_id values must not be empty'),
])
def test_a_run_that_fails_its_argument_checks_imports_no_client(tmp_path, name, args, msg):
    result, imported = run(name, args, tmp_path)
    assert result['failed'] and msg in result['msg'], result
    assert heavy(imported) == []


@pytest.mark.parametrize('phase,args', [
    ('record', {}),
    ('retire', {'retire_keys': ['My-AD/Abby.Smith']}),
])
def test_record_and_retire_import_no_client_and_no_engine_they_do_not_use(tmp_path, phase, args):
    result, imported = run('isc_rotation', dict(args, phase=phase, ledger_path=str(tmp_path / 'ledger.json')), tmp_path)
    assert not result.get('failed'), result
    assert heavy(imported) == []
    unused = ['rotation', 'planning', 'reach', 'client_pool', 'rights', 'progress']
    if phase == 'record':
        unused.append('settlement')
    assert sorted(m for m in imported if m in [UTILS + u for u in unused]) == []


def test_a_phase_that_talks_to_isc_does_import_the_client(tmp_path):
    """The other side, so the cases above cannot pass because nothing is ever seen."""
    result, imported = run('isc_rotation', {'phase': 'plan', 'ledger_path': str(tmp_path / 'ledger.json'),
                                            'base_url': 'http://127.0.0.1:9', 'client_id': '', 'client_secret': ''},
                           tmp_path)
    assert result['failed'] and 'no ISC credentials' in result['msg'], result
    assert UTILS + 'client' in heavy(imported) and 'requests' in heavy(imported)
