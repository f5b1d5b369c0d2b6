"""Failures of the rotation role are readable on the oldest and the newest ansible-core it supports.

The plan and apply tasks carry passwords and run with no_log, which hides a failing task's message
(on ansible-core 2.16 all of it: "censored"). The role therefore lets those tasks' failures through
to a task that carries no secret and fails with the reason. Each core runs from its own virtualenv,
built once under build/core-venvs/ (pip, from PyPI).
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from rotation_helpers import ROTATE, rotate_vars, write_accounts

CORES = {
    # oldest supported core, on the interpreter the tests run with
    '2.16.19': sys.executable,
    # newest core this machine runs (2.21 needs Python 3.12+)
    '2.21.5': (sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.13.*/bin/python3.13')))
               or [shutil.which('python3.13') or ''])[-1],
}
PINS = ['requests==2.32.5', 'cryptography==46.0.7', 'PyYAML==6.0.3']


def core_venv(version):
    python = CORES[version]
    if not python or not os.path.exists(python):
        pytest.fail('no interpreter for ansible-core %s here (looked for Python 3.13 under ~/.pyenv and on PATH)'
                    % version)
    venv = os.path.join(REPO, 'build', 'core-venvs', version)
    marker = os.path.join(venv, '.installed')
    if not os.path.exists(marker):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, '-m', 'venv', venv], check=True)
        subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check',
                        'ansible-core==%s' % version] + PINS, check=True)
        open(marker, 'w').close()
    return venv


def run_with_core(ansible, version, extra):
    venv = core_venv(version)
    cmd = ansible.command(ROTATE, extra)
    cmd[0] = os.path.join(venv, 'bin', 'ansible-playbook')
    env = ansible.env(ANSIBLE_PYTHON_INTERPRETER=os.path.join(venv, 'bin', 'python'),
                      PATH=os.path.join(venv, 'bin') + os.pathsep + os.environ.get('PATH', ''))
    return subprocess.run(cmd, cwd=ansible.workdir, env=env, capture_output=True, text=True, timeout=600, check=False)


CASES = {
    # a wrong client secret: the first token request is made by the plan task, which runs with no_log
    'wrong-secret': ({'isc_client_secret': 'not-the-secret'}, [{'source_name': 'Corp-AD', 'user_name': 'svc-app-001'}],
                     'check client_id/client_secret'),
    # a listed account the plan cannot take: an empty user name
    'empty-user': ({}, [{'source_name': 'Corp-AD', 'user_name': ' '}], 'user_name is empty'),
}


@pytest.mark.parametrize('version', sorted(CORES))
@pytest.mark.parametrize('case', sorted(CASES))
def test_role_failures_are_readable_on_every_supported_core(ansible, workdir, version, case):
    values, accounts, expected = CASES[case]
    extra = rotate_vars(workdir, write_accounts(workdir, accounts), **values)
    result = run_with_core(ansible, version, extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert '[core %s]' % version in subprocess.run(
        [os.path.join(core_venv(version), 'bin', 'ansible-playbook'), '--version'], capture_output=True, text=True,
        check=False).stdout
    assert expected in out, 'the reason is not shown on ansible-core %s:\n%s' % (version, out[-4000:])
    assert 'not-the-secret' not in out
