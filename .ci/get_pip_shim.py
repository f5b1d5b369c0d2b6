"""Offline stand-in for ansible-test's get-pip bootstrap (its download host is unreachable here)."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
# ensurepip in a child process: in-process it sets PIP_CONFIG_FILE=/dev/null and pip loses /etc/pip.conf.
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
