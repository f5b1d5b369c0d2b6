"""SailPoint's official Python SDK (1.x and 2.x) against the simulator.

Each SDK major version is pip-installed into its own cached ``--target`` directory under
``~/.cache/isc-sim-sdk/<version>`` (they cannot share one environment) and driven from a subprocess.
"""

import os
import subprocess
import sys
import textwrap

import pytest

CACHE = os.path.join(os.path.expanduser('~'), '.cache', 'isc-sim-sdk')

COMMON = '''
import base64, os, sys, time
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sailpoint.configuration import Configuration

def encrypt(key_b64, password):
    key = load_der_public_key(base64.b64decode(key_b64))
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()

config = Configuration()
assert config.access_token, 'no token'
config.experimental = True
config.suppress_experimental_warnings = True
'''

SCRIPT_1X = COMMON + '''
from sailpoint.v2024.api_client import ApiClient
from sailpoint.v2024.api.password_management_api import PasswordManagementApi
from sailpoint.v2024.exceptions import ApiException
from sailpoint.v2024.models.password_info_query_dto import PasswordInfoQueryDTO
from sailpoint.v2024.models.password_change_request import PasswordChangeRequest
from sailpoint.v2024.models.password_digit_token_reset import PasswordDigitTokenReset

api = PasswordManagementApi(ApiClient(config))
query = lambda: api.query_password_info(PasswordInfoQueryDTO(user_name='Abby.Smith', source_name='My-AD'))
set_pw = api.set_password
status = api.get_password_change_status
digit = lambda body: api.create_digit_token(body, x_sail_point_experimental='true')
'''

SCRIPT_2X = COMMON + '''
from sailpoint.password_management.api_client import ApiClient
from sailpoint.password_management.api.password_management_api import PasswordManagementApi
from sailpoint.password_management.exceptions import ApiException
from sailpoint.password_management.models.password_info_query_dto import PasswordInfoQueryDTO
from sailpoint.password_management.models.password_change_request import PasswordChangeRequest
from sailpoint.password_management.models.password_digit_token_reset import PasswordDigitTokenReset

api = PasswordManagementApi(ApiClient(config))
query = lambda: api.query_password_info_v1(PasswordInfoQueryDTO(user_name='Abby.Smith', source_name='My-AD'))
set_pw = api.set_password_v1
status = api.get_password_change_status_v1
digit = lambda body: api.create_digit_token_v1(body, x_sail_point_experimental='true')
'''

FLOW = '''
def change(password):
    info = query()
    req = PasswordChangeRequest(identity_id=info.identity_id, source_id=info.source_id, public_key_id=info.public_key_id,
                                account_id=info.accounts[0].account_id, encrypted_password=encrypt(info.public_key, password))
    try:
        accepted = set_pw(req)
    except ApiException as exc:
        return exc.status
    assert accepted.state == 'IN_PROGRESS', accepted
    for _ in range(100):
        result = status(accepted.request_id)
        if result.state != 'IN_PROGRESS':
            return result
        time.sleep(0.05)
    raise AssertionError('still IN_PROGRESS')

info = query()
assert info.identity_id == '2c918085744fec4301746f9a5bce4605' and info.policies, info
good = change('Sdk-Passw0rd-1')
assert good.state == 'FINISHED', good
bad = change('x1')
assert bad == 400 or bad.state == 'FAILED', bad
token = digit(PasswordDigitTokenReset(user_id='Abby.Smith', length=8, duration_minutes=5))
assert isinstance(token.digit_token, str) and len(token.digit_token) == 8 and token.digit_token.isdigit(), token
try:
    status('0' * 32)
    raise AssertionError('expected 404')
except ApiException as exc:
    assert exc.status == 404, exc.status
print('SDK-OK')
'''


def _install(version, skip_or_fail):
    """The SDK's --target directory, pip-installing it from PyPI on first use.

    Outside CI an unreachable PyPI skips the test (saying so); CI reaches PyPI, so there (CI=true)
    it is a failure: the only check against SailPoint's own client must not vanish quietly.
    """
    target = os.path.join(CACHE, version)
    if os.path.isdir(os.path.join(target, 'sailpoint')) and os.path.isdir(os.path.join(target, 'pydantic')):
        return target
    os.makedirs(target, exist_ok=True)
    try:
        result = subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile',
                                 '--target', target, 'sailpoint==%s' % version],
                                capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        skip_or_fail('installing sailpoint==%s from PyPI timed out after 600 s (is PyPI reachable?)' % version)
    if result.returncode != 0:
        skip_or_fail('could not pip-install sailpoint==%s into %s (PyPI unreachable?): %s'
                     % (version, target, result.stderr.strip()[-300:]))
    return target


@pytest.mark.parametrize('version,script', [('1.4.2', SCRIPT_1X), ('2.1.72', SCRIPT_2X)])
def test_official_sdk(make_sim, skip_or_fail, version, script):
    target = _install(version, skip_or_fail)
    sim = make_sim(completion_delay=0.2)
    env = dict(os.environ, SAIL_BASE_URL=sim.base_url, SAIL_CLIENT_ID='demo-client-id',
               SAIL_CLIENT_SECRET='demo-client-secret', PYTHONPATH=target)
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(script + FLOW)], env=env, cwd=target,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and 'SDK-OK' in result.stdout, result.stdout + result.stderr
    counters = sim.counters()['requests']
    assert counters['set_password']['202'] == 2 and counters['digit_token']['200'] == 1
    assert counters['password_change_status']['404'] == 1
