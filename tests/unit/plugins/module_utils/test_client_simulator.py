# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IscClient against the in-process ISC simulator (skipped where the simulator is not importable,
e.g. under ansible-test, which tests a copy without tools/)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request

import pytest

sim_mod = pytest.importorskip('tools.isc_simulator')
if not hasattr(sim_mod, 'Simulator'):
    pytest.skip('tools.isc_simulator has no Simulator yet', allow_module_level=True)

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import TERMINAL_STATES  # noqa: E402
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient  # noqa: E402
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError  # noqa: E402
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import encrypt_password  # noqa: E402
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import policy  # noqa: E402


@pytest.fixture(scope='module')
def sim():
    kwargs = {}
    try:
        simulator = sim_mod.Simulator(completion_delay=0.2)
    except TypeError:
        simulator = sim_mod.Simulator(**kwargs)
    base_url = simulator.start()
    yield base_url
    stop = getattr(simulator, 'stop', None)
    if stop:
        stop()


def _get(base_url, path):
    with urllib.request.urlopen(base_url.rstrip('/') + path, timeout=10) as resp:
        return json.loads(resp.read().decode('utf-8'))


def _client(base_url, **kw):
    return IscClient(base_url, client_id='demo-client-id', client_secret='demo-client-secret', **kw)


def _final_state(client, request_id):
    """The state of a change once it is terminal (the simulator completes one in 0.2 s), or after 30 s."""
    deadline = time.time() + 30
    while True:
        state = client.password_change_status(request_id).get('state')
        if state in TERMINAL_STATES or time.time() >= deadline:
            return state
        time.sleep(0.2)


def _account_hashes(base_url):
    data = _get(base_url, '/__sim/accounts')
    accounts = data.get('accounts', data) if isinstance(data, dict) else data
    return json.dumps(accounts)


def test_full_cycle(sim):
    c = _client(sim)
    info = c.query_password_info('Abby.Smith', 'My-AD')
    parsed = policy.parse_policies(info.get('policies'))
    new_pw = policy.generate(parsed)
    assert policy.validate(new_pw, parsed) == []
    enc = encrypt_password(info['publicKey'], new_pw)
    acct = info['accounts'][0]['accountId']
    answer = c.set_password(info['identityId'], info['sourceId'], acct, info['publicKeyId'], enc)
    assert answer.get('requestId')
    assert _final_state(c, answer['requestId']) == 'FINISHED'
    assert hashlib.sha256(new_pw.encode('utf-8')).hexdigest() in _account_hashes(sim)
    assert c.stats['tokens_fetched'] == 1


def test_unknown_status_is_404(sim):
    c = _client(sim)
    with pytest.raises(IscError) as e:
        c.password_change_status('0' * 32)
    assert e.value.status == 404


def test_wrong_secret(sim):
    c = IscClient(sim, client_id='demo-client-id', client_secret='wrong-secret-value')
    with pytest.raises(IscError, match='check client_id/client_secret'):
        c.query_password_info('Abby.Smith', 'My-AD')


def test_200_batch_queries_at_default_limit(sim):
    c = _client(sim)
    out = c.map(lambda dummy: c.query_password_info('Abby.Smith', 'My-AD')['identityId'], range(200), workers=8)
    failed = [o for o in out if isinstance(o, Exception)]
    assert not failed, failed[:3]
    assert len(out) == 200
    assert c.stats['tokens_fetched'] == 1


@pytest.mark.parametrize('version', ['v3', 'beta', 'v1'])
def test_other_layouts(sim, version):
    c = _client(sim, api_version=version)
    info = c.query_password_info('Abby.Smith', 'My-AD')
    enc = encrypt_password(info['publicKey'], policy.generate(policy.parse_policies(info.get('policies'))))
    answer = c.set_password(info['identityId'], info['sourceId'], info['accounts'][0]['accountId'],
                            info['publicKeyId'], enc)
    assert _final_state(c, answer['requestId']) == 'FINISHED'
    assert isinstance(c.list_password_sync_groups(), list)


@pytest.mark.parametrize('version', ['v2024', 'beta', 'v1'])
def test_digit_token(sim, version):
    out = _client(sim, api_version=version).generate_digit_token('Abby.Smith', 8, 5)
    assert isinstance(out['digitToken'], str) and len(out['digitToken']) == 8 and out['digitToken'].isdigit()
