#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: rotation_lease
short_description: Hold the run lease of a password rotation state directory
version_added: 0.2.0
description:
  - Used by the P(sailpoint_isc.passwords.service_account_rotation#role) role so that one run at a time works on a
    state directory (ledger and store). A second run fails at once, naming the holder, and changes nothing.
  - The lease is a file beside the ledger (C(<ledger_path>.lease)) naming the run id, host, controller pid and start
    time, with a heartbeat. It is stale when that controller process is gone and no rotation module of that run still
    holds the work lock (a C(flock) on the state directory, which deleting files cannot release; its holder is named
    in C(<ledger_path>.work.lock.holder)), or, when it was taken on another host, when its heartbeat is older than
    O(stale_after); a stale lease is taken over, with a warning.
  - Ansible's worker processes outlive a killed C(ansible-playbook), so a module in the middle of a phase keeps the
    state directory to itself until it ends, whatever happened to its controller.
  - Runs on the controller (action plugin).
author:
  - sailpoint_isc.passwords maintainers (@sailpoint-isc)
options:
  ledger_path:
    description: The rotation ledger; the lease and the work lock live beside it.
    type: path
    required: true
  state:
    description:
      - V(acquired) takes the lease for a new run and returns its C(run_id).
      - V(released) gives it back; only the run named by O(run_id) can release it.
    type: str
    required: true
    choices: [acquired, released]
  run_id:
    description: The run id returned when the lease was acquired (O(state=released)).
    type: str
  stale_after:
    description:
      - Seconds without a heartbeat after which a lease taken on another host is taken over (O(state=acquired)).
        Its processes cannot be checked from here; every rotation module renews the heartbeat once a minute while it
        runs. AWX/AAP runs every job in a new pod under a new host name, so this is how a killed job's lease ends.
      - At least 180 (three heartbeats), because a live run renews its heartbeat only once a minute. Raise it when the role's
        tasks between two rotation modules (a long verify hook) may take longer.
    type: int
    default: 3600
  store_path:
    description:
      - The built-in store (M(sailpoint_isc.passwords.vault_file_store)) whose namespace lease is taken with the run
        lease (O(state=acquired), after it, with the same run id and holder) and given back with it
        (O(state=released), before it), so that a run opens and closes its leases in one task each.
      - When the store is leased by another run, the run lease just taken is given back and the task fails naming
        the holder; nothing was read or written. A store lease that cannot be given back fails the task, after the
        run lease was given back.
    type: path
  stats:
    description:
      - With O(state=released), data published as the play's statistics, as M(ansible.builtin.set_stats) does with
        its defaults (not per host, aggregated); also when giving back a lease fails.
      - Shown at the end of the log with C(ANSIBLE_SHOW_CUSTOM_STATS=true); in the job's artifacts on AWX/AAP.
    type: dict
attributes:
  check_mode:
    support: full
    description:
      - In check mode the lease is checked as a real run would check it (a run that still works refuses the check
        run, which then reads nothing), but it is neither taken, taken over nor written, and nothing is released.
      - RV(run_id) is then a new id that no lease holds, and RV(replaced) names the run whose stale lease a real
        run would take over.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller; the lease is a controller path.
notes:
  - Stale-lease detection reads C(/proc) and uses C(flock); it needs a Linux controller.
'''

EXAMPLES = r'''
- name: Take the lease of a rotation state directory
  sailpoint_isc.passwords.rotation_lease:
    ledger_path: /var/lib/isc-rotation/ledger.json
    state: acquired
  register: lease

- name: Give it back
  sailpoint_isc.passwords.rotation_lease:
    ledger_path: /var/lib/isc-rotation/ledger.json
    state: released
    run_id: "{{ lease.run_id }}"
'''

RETURN = r'''
run_id:
  description: Id of this run; the rotation modules check it before they change anything.
  returned: when O(state=acquired)
  type: str
holder:
  description: What the lease file now says (run_id, host, pid, pid_start, started).
  returned: when O(state=acquired)
  type: dict
replaced:
  description:
    - Run id of a stale lease that was taken over, or an empty string.
    - In check mode, the run id of the stale lease a real run would take over; nothing was taken over.
  returned: when O(state=acquired)
  type: str
taken:
  description: Whether the lease file now names this run; false in check mode, where no lease is taken.
  returned: when O(state=acquired)
  type: bool
released:
  description: Whether the lease was held by O(run_id) and has been removed.
  returned: when O(state=released)
  type: bool
'''
