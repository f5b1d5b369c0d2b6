"""Failures of the rotation role are readable on the oldest and the newest ansible-core it supports.

The plan and apply tasks carry passwords and run with no_log, which hides a failing task's message
(on ansible-core 2.16 all of it: "censored"). The role therefore lets those tasks' failures through
to a task that carries no secret and fails with the reason. The whole bad-input suite
(test_bad_input.py) runs on each core of cores.CORES; this file adds the one failure that must name
its cause even though the token request is made inside a no_log task, and checks the secret stays hidden.
"""

import pytest

from cores import CORES, core_venv
from rotation_helpers import ROTATE, rotate_vars, write_accounts


@pytest.mark.parametrize('version', sorted(CORES))
def test_a_wrong_secret_is_named_and_hidden_on_every_supported_core(ansible, workdir, version):
    ansible.use_venv(core_venv(version))
    accounts = write_accounts(workdir, [{'source_name': 'Corp-AD', 'user_name': 'svc-app-001'}])
    result = ansible.run(ROTATE, rotate_vars(workdir, accounts, isc_client_secret='not-the-secret'), timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'check client_id/client_secret' in out, 'the reason is not shown on ansible-core %s:\n%s' % (version, out[-4000:])
    assert 'not-the-secret' not in out
