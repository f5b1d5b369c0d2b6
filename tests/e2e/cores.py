"""The ansible-core releases the collection supports at its edges, each in its own virtualenv.

Built once under build/core-venvs/ (pip, from PyPI) and reused: by the end-to-end tests (every pytest-xdist
worker; a lock makes the first one build and the others wait) and by tools/test_all.sh, whose ansible-test
stage runs sanity and units of each core from the same virtualenvs. `python tests/e2e/cores.py` builds them
all and prints one line per core ("<version> <python version> <venv>"). The project's own virtualenv runs
the core in requirements-dev.txt; these add the oldest supported one and the newest this machine runs.
"""

import fcntl
import glob
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(minor, fallback=''):
    """The newest Python 3.<minor> under ~/.pyenv, else on PATH, else fallback."""
    return (sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.%d.*/bin/python3.%d' % (minor, minor))))
            or [shutil.which('python3.%d' % minor) or fallback])[-1]


CORES = {
    # oldest supported core, on Python 3.12 (the newest it supports; the project's own core covers the tests'
    # interpreter): its sanity step in tools/test_all.sh runs every sanity test on 3.12, so no separate 3.12 step
    '2.16.19': _python(12, sys.executable),
    # newest core this machine runs (2.21 needs Python 3.12+)
    '2.21.5': _python(13),
}
PINS = ['requests==2.32.5', 'cryptography==46.0.7', 'PyYAML==6.0.3']


class CoreUnavailable(Exception):
    pass


def build(version):
    """The virtualenv of ansible-core `version`, created on first use (under a lock: xdist workers share it)."""
    python = CORES[version]
    if not python or not os.path.exists(python):
        raise CoreUnavailable('no interpreter for ansible-core %s here (looked for Python 3.13 under ~/.pyenv and on PATH)'
                              % version)
    root = os.path.join(REPO, 'build', 'core-venvs')
    venv = os.path.join(root, version)
    marker = os.path.join(venv, '.installed')
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, '.%s.lock' % version), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # the marker names the interpreter: a virtualenv built on another one is built again
        if not os.path.exists(marker) or open(marker).read() != python:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([python, '-m', 'venv', venv], check=True)
            subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check',
                            'ansible-core==%s' % version] + PINS, check=True)
            with open(marker, 'w') as handle:
                handle.write(python)
    banner = subprocess.run([os.path.join(venv, 'bin', 'ansible-playbook'), '--version'], capture_output=True,
                            text=True, check=False).stdout
    if '[core %s]' % version not in banner:
        raise CoreUnavailable('%s does not run ansible-core %s:\n%s' % (venv, version, banner))
    return venv


def core_venv(version):
    """build(), failing the test (not skipping it) when the core cannot be had."""
    import pytest
    try:
        return build(version)
    except CoreUnavailable as exc:
        pytest.fail(str(exc))


def main():
    for version in sorted(CORES):
        venv = build(version)
        pyv = subprocess.run([os.path.join(venv, 'bin', 'python'), '-c',
                              'import sys; print("%d.%d" % sys.version_info[:2])'],
                             capture_output=True, text=True, check=True).stdout.strip()
        print(version, pyv, venv)


if __name__ == '__main__':
    try:
        main()
    except (CoreUnavailable, subprocess.CalledProcessError) as exc:
        sys.exit(str(exc))
