# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A re-send through the role (issue 23 §1): the plan names the escrowed attempt and no password, the apply phase
and the role's verify step take the password read back from the store."""

from __future__ import annotations

import os

from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from hostile_helpers import live_hash, rows
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, sha, write_accounts
from test_rotation_role import VERIFY_TASKS


def test_a_re_sent_password_is_sent_and_verified_from_the_store(ansible, simulator, workdir):
    account = {'source_name': 'Corp-AD', 'user_name': 'svc-app-001'}
    verify = os.path.join(workdir, 'verify.yml')
    with open(verify, 'w') as handle:
        handle.write(VERIFY_TASKS)
    values = rotate_vars(workdir, write_accounts(workdir, [account]), service_account_rotation_verify_tasks=verify,
                         reject_user='nobody')
    simulator.set_faults({'set_password': {'drop_after_accept_rate': 1.0}})
    first = ansible.run(ROTATE, values)
    assert first.returncode != 0 and rows(workdir)[key_of(account)]['status'] == 'unknown', first.stdout[-3000:]
    pending = read_store(workdir)[key_of(account)]['pending']
    simulator.set_faults({})
    again = ansible.run(ROTATE, values)
    assert again.returncode == 0, again.stdout[-3000:]
    assert 'resubmit=1' in again.stdout
    # sent once more as it was escrowed, then verified on the target with that same password
    assert rows(workdir)[key_of(account)]['status'] == 'rotated'
    entry = read_store(workdir)[key_of(account)]
    assert 'pending' not in entry and entry['current'] == pending and sha(pending) == live_hash(simulator, account)
