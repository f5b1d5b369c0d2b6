# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""common.exit_json_many_secrets: the same output as Ansible's exit_json, without its quadratic masking."""

from __future__ import annotations

import json
import random

import pytest

from ansible.module_utils import basic

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.common import (
    NO_LOG_PLACEHOLDER,
    _masked,
    exit_json_many_secrets,
    occurring,
)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import set_module_args

SPEC = dict(
    groups=dict(type='list', elements='dict', options=dict(
        group=dict(type='str'),
        public_key=dict(type='str', no_log=False),
        password=dict(type='str', no_log=True),
    )),
    client_secret=dict(type='str', no_log=True),
)
CLIENT_SECRET = 'client-secret-Zq8'


def passwords(count, seed=7):
    rng = random.Random(seed)
    alphabet = 'abcdefghjkLMNPQR23456789-_!'
    # three lengths, and one short all-digit secret to show numbers are masked as Ansible masks them
    return ['31415'] + [''.join(rng.choice(alphabet) for _char in range(rng.choice((16, 20, 24)))) for _n in range(count - 1)]


def module_with(secrets):
    rng = random.Random(1)
    set_module_args({'groups': [{'group': 'g%d' % i, 'public_key': '%0200x' % rng.getrandbits(800), 'password': p}
                                for i, p in enumerate(secrets)],
                     'client_secret': CLIENT_SECRET})
    return basic.AnsibleModule(argument_spec=SPEC)


def result_with(secrets):
    """A result that carries some secrets: inside a text, as a whole text, inside a number, and the client secret."""
    return {
        'outcomes': [{'group': 'g%d' % i, 'state': 'FINISHED', 'seconds': 3.25, 'errors': []} for i in range(len(secrets))],
        'error_text': 'ISC said: bad password %s, try again' % secrets[3],
        'whole': secrets[5],
        'nested': [{'deeper': ['x', 'tail:' + secrets[9]]}],
        'number': 9314159,
        'client': 'sent with %s' % CLIENT_SECRET,
        'changed': True,
        'nothing': None,
    }


def output(capsys, action):
    with pytest.raises(SystemExit):
        action()
    basic._ANSIBLE_ARGS = None
    return json.loads(capsys.readouterr().out)


def test_the_output_is_what_exit_json_prints(capsys):
    secrets = passwords(60)
    stock = module_with(secrets)
    expected = output(capsys, lambda: stock.exit_json(**result_with(secrets)))
    fast = module_with(secrets)
    got = output(capsys, lambda: exit_json_many_secrets(fast, result_with(secrets), secrets))
    assert got == expected
    # and what exit_json prints masks them all
    text = json.dumps(got)
    assert not [s for s in secrets + [CLIENT_SECRET] if s in text]
    assert got['error_text'] == 'ISC said: bad password ********, try again'
    assert got['whole'] == NO_LOG_PLACEHOLDER
    assert got['number'] == NO_LOG_PLACEHOLDER
    # ansible-core 2.21 prints the echoed arguments only when the controller asks for them (at -vvv and up)
    if 'invocation' in expected:
        assert got['invocation']['module_args']['groups'][0]['password'] == NO_LOG_PLACEHOLDER
        assert got['invocation']['module_args']['client_secret'] == NO_LOG_PLACEHOLDER


def test_the_echoed_arguments_carry_no_password():
    """What exit_json_many_secrets echoes, whether or not this ansible-core prints it."""
    secrets = passwords(20)
    module = module_with(secrets)
    basic._ANSIBLE_ARGS = None
    echoed = json.dumps(_masked(module.params, set(secrets)))
    assert not [s for s in secrets if s in echoed]
    assert echoed.count(NO_LOG_PLACEHOLDER) == len(secrets)


def test_only_the_secrets_that_occur_stay_no_log_values(capsys):
    secrets = passwords(60)
    module = module_with(secrets)
    output(capsys, lambda: exit_json_many_secrets(module, result_with(secrets), secrets))
    assert set(secrets) & module.no_log_values == set([secrets[0], secrets[3], secrets[5], secrets[9]])
    assert CLIENT_SECRET in module.no_log_values


def test_occurring_finds_a_secret_anywhere_in_any_text():
    secrets = ['abcdefgh', 'XYZ12345678', 'never-there']
    value = {'a': ['..abcdefgh'], 'b': {'c': 'XYZ12345678..'}, 'n': 7, 'flag': False}
    assert occurring(secrets, value) == set(['abcdefgh', 'XYZ12345678'])
    assert occurring(secrets, {'only': 'abcdefg'}) == set()
    assert occurring(['1234'], {'n': 512345}) == set(['1234'])
