# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who ran a rotation and where, for its report: the controller host and user, the AWX job, the API clients.

Internal to the sailpoint_isc.passwords collection; may change without notice.
"""

from __future__ import annotations

import getpass
import os
import socket

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api_clients import API_CLIENTS_ENV, parse_api_clients


def client_ids(api_clients, client_id):
    """The ids of the run's API clients, as pool_from_module picks them; never a secret."""
    given, source = api_clients or [], 'api_clients'
    if not given and os.environ.get(API_CLIENTS_ENV, '').strip():
        given, source = os.environ[API_CLIENTS_ENV], API_CLIENTS_ENV
    if not given:
        return [client_id] if client_id else []
    try:
        return [cid for cid, _secret in parse_api_clients(given, source)]
    except ValueError:
        return []


def who(job_id, ids):
    """The run's "who": controller host and user, AWX/AAP job id (tower_job_id or awx_job_id), API client ids."""
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-except  # no login name and no passwd entry (a container's uid)
        user = str(os.getuid())
    return {'controller_host': socket.gethostname(), 'controller_user': user, 'awx_job_id': str(job_id or '') or None,
            'api_clients': list(ids)}
