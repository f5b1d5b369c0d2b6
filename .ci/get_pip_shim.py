"""Offline stand-in for ansible-test's get-pip bootstrap (its download host is unreachable here).

ansible-test runs it in each new virtualenv (created without pip) with the pip it wants, e.g. pip==24.2. It runs
that install with the pip wheel the interpreter bundles for ensurepip, straight from the wheel: one pip run, where
ensurepip and then an upgrade were two (about 6 CPU-s a virtualenv, 3 with one run; a clean CI run creates some 35).
In a child process, so that pip reads /etc/pip.conf (ensurepip in-process sets PIP_CONFIG_FILE=/dev/null).
"""
import glob
import os
import subprocess
import sys

import ensurepip

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
bundled = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))
if not bundled:  # an interpreter without the bundled wheel: ensurepip finds its own way, then the requested pip
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
    if args:
        subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
else:
    if not any(not a.startswith('-') for a in args):  # no package named: the bundled pip itself
        args.append(bundled[-1])
    subprocess.check_call([sys.executable, os.path.join(bundled[-1], 'pip'), 'install'] + args)
