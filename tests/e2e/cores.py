"""The ansible-core releases the collection supports at its edges, each in its own virtualenv.

Built once under build/core-venvs/ (pip, from PyPI) and reused. The project's own virtualenv runs
the core in requirements-dev.txt; these add the oldest supported one and the newest this machine runs.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

CORES = {
    # oldest supported core, on the interpreter the tests run with
    '2.16.19': sys.executable,
    # newest core this machine runs (2.21 needs Python 3.12+)
    '2.21.5': (sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.13.*/bin/python3.13')))
               or [shutil.which('python3.13') or ''])[-1],
}
PINS = ['requests==2.32.5', 'cryptography==46.0.7', 'PyYAML==6.0.3']


def core_venv(version):
    """The virtualenv of ansible-core `version`, created on first use; fails the test when it cannot be."""
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
    banner = subprocess.run([os.path.join(venv, 'bin', 'ansible-playbook'), '--version'], capture_output=True,
                            text=True, check=False).stdout
    assert '[core %s]' % version in banner, banner
    return venv
