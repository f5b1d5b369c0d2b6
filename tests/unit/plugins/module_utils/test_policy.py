# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy parsing, validation and (property-style) generation."""

from __future__ import annotations

import random
import string

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy import (
    SPECIAL_CHARS,
    PolicyError,
    generate,
    longest_run,
    parse_policies,
    validate,
)

SPEC_EXAMPLE = ['passwordRepeatedChar is 3', 'passwordMinAlpha is 1', 'passwordMinLength is 5',
                'passwordMinNumeric is 1']


def test_parse_spec_example():
    assert parse_policies(SPEC_EXAMPLE) == {'max_repeated_chars': 3, 'min_alpha': 1, 'min_length': 5,
                                            'min_numeric': 1, 'unknown': []}


def test_parse_all_known_keys_and_unknowns():
    strings = ['passwordMinLength is 12', 'passwordMaxLength is 64', 'passwordMinAlpha is 2',
               'passwordMinNumeric is 2', 'passwordMinUpper is 1', 'passwordMinLower is 1',
               'passwordMinSpecial is 1', 'passwordMinCharType is 3', 'passwordRepeatedChar is 2',
               'checkPasswordsAgainstDictionary is true', 'garbage', 'passwordMinLength is many',
               'passwordMaxLength is 0', 'passwordMinCharType is -1']
    p = parse_policies(strings)
    assert p['min_length'] == 12 and p['max_length'] == 64 and p['min_char_types'] == 3
    assert p['min_upper'] == p['min_lower'] == p['min_special'] == 1
    assert p['max_repeated_chars'] == 2 and p['min_numeric'] == 2 and p['min_alpha'] == 2
    assert p['unknown'] == ['checkPasswordsAgainstDictionary is true', 'garbage', 'passwordMinLength is many']


def test_parse_empty():
    assert parse_policies(None) == {'unknown': []}


def test_validate_names_rules_not_values():
    policy = parse_policies(['passwordMinLength is 10', 'passwordMinUpper is 2', 'passwordMinSpecial is 1',
                             'passwordRepeatedChar is 2', 'passwordMaxLength is 12', 'passwordMinCharType is 4'])
    secret = 'aaab'
    problems = validate(secret, policy)
    text = ' '.join(problems)
    assert secret not in text
    for rule in ('min_length', 'min_upper', 'min_special', 'max_repeated_chars', 'min_char_types'):
        assert rule in text
    assert validate('Abcdefgh1!XY', policy) == []
    assert any('max_length' in p for p in validate('Abcdefgh1!XYz', policy))


@pytest.mark.parametrize('pw,fragment', [('pass:word1', "':'"), ('pässword1', 'ASCII'), ('a' * 246, '245'),
                                         ('ab\tc', 'control')])
def test_validate_isc_rules(pw, fragment):
    assert any(fragment in p for p in validate(pw, {}))


def test_longest_run():
    assert longest_run('passsword') == 3 and longest_run('') == 0 and longest_run('abc') == 1


def _random_policy(rng):
    p = {}
    for key in ('min_upper', 'min_lower', 'min_numeric', 'min_special', 'min_alpha'):
        if rng.random() < 0.6:
            p[key] = rng.randint(0, 4)
    if rng.random() < 0.7:
        p['min_length'] = rng.randint(1, 40)
    if rng.random() < 0.5:
        p['max_repeated_chars'] = rng.randint(1, 4)
    if rng.random() < 0.5:
        p['min_char_types'] = rng.randint(1, 4)
    if rng.random() < 0.5:
        classes = ('min_upper', 'min_lower', 'min_numeric', 'min_special')
        with_min = len([k for k in classes if p.get(k)])
        low = max(p.get('min_length', 1), sum(p.get(k, 0) for k in classes)
                  + max(0, p.get('min_alpha', 0) - p.get('min_upper', 0) - p.get('min_lower', 0))
                  + max(0, p.get('min_char_types', 0) - with_min), 4)
        p['max_length'] = rng.randint(low, low + 30)
    p['unknown'] = []
    return p


def test_generated_passwords_always_validate():
    rng = random.Random(20240101)
    for dummy in range(1500):
        policy = _random_policy(rng)
        excl = ''.join(rng.sample(SPECIAL_CHARS + 'abcXYZ019', rng.randint(0, 6)))
        pw = generate(policy, exclude_chars=excl, rng=rng)
        assert validate(pw, policy) == [], (policy, excl)
        assert ':' not in pw and ' ' not in pw and all(c not in pw for c in excl)
        assert all(c in string.ascii_letters + string.digits + SPECIAL_CHARS for c in pw)
        assert len(pw.encode('utf-8')) <= 245
        # the default length is 20, or the policy's minimum when longer, capped by its maximum
        expected = max(policy.get('min_length', 0), 20)
        if 'max_length' in policy:
            expected = min(expected, policy['max_length'])
        assert len(pw) == expected, (policy, excl, len(pw), expected)


def test_default_length():
    assert len(generate({})) == 20
    assert len(generate({'min_length': 30})) == 30
    assert len(generate({'max_length': 12})) == 12
    assert len(generate({}, length=245)) == 245


def test_default_rng_is_system_random():
    a, b = generate({}), generate({})
    assert a != b


def test_generate_impossible_requests():
    with pytest.raises(PolicyError):
        generate({'min_special': 1}, exclude_chars=SPECIAL_CHARS)
    with pytest.raises(PolicyError):
        generate({'min_length': 10, 'max_length': 12}, length=8)
    with pytest.raises(PolicyError):
        generate({'min_upper': 5, 'min_numeric': 5, 'max_length': 8})
    with pytest.raises(PolicyError):
        generate({}, length=246)
