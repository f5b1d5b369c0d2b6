# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""ISC password policy strings: parse them, check a password, generate a compliant one.

query-password-info returns policies as strings of the form ``"<key> is <value>"``, for
example ``"passwordMinLength is 5"``. Known keys become snake_case integers; anything else is
kept verbatim in ``unknown`` so callers can report it.
"""

from __future__ import annotations

import re
import secrets
import string

# The longest password ISC's encryption takes: RSA-2048 with PKCS#1 v1.5 padding, 256 - 11 bytes (crypto.py encrypts).
# Here, not in crypto.py, so that checking or generating a password does not import cryptography.
MAX_PASSWORD_BYTES = 245

# ISC's accepted special characters (space is accepted by ISC but never generated).
SPECIAL_CHARS = "~!@#$%^*()/_+-`={}\\|][;?,.&><'\""
FORBIDDEN_CHARS = ':'

KEY_MAP = {
    'passwordMinLength': 'min_length',
    'passwordMaxLength': 'max_length',
    'passwordMinAlpha': 'min_alpha',
    'passwordMinNumeric': 'min_numeric',
    'passwordMinUpper': 'min_upper',
    'passwordMinLower': 'min_lower',
    'passwordMinSpecial': 'min_special',
    'passwordMinCharType': 'min_char_types',
    'passwordRepeatedChar': 'max_repeated_chars',
}
RULES = tuple(KEY_MAP.values())

_POLICY_LINE = re.compile(r'^\s*([A-Za-z][A-Za-z0-9_.]*)\s+is\s+(.*?)\s*$')


def parse_policies(strings):
    """Turn ISC policy strings into ``{rule: int, ..., 'unknown': [str, ...]}``.

    Values that mean "not set" (negative numbers; 0 for max_length and max_repeated_chars)
    are left out. Unknown keys and strings that do not parse are listed in ``unknown``.
    """
    policy = {'unknown': []}
    for raw in strings or []:
        if not isinstance(raw, str):
            policy['unknown'].append(str(raw))
            continue
        m = _POLICY_LINE.match(raw)
        if not m or m.group(1) not in KEY_MAP:
            policy['unknown'].append(raw)
            continue
        name = KEY_MAP[m.group(1)]
        try:
            value = int(m.group(2))
        except ValueError:
            policy['unknown'].append(raw)
            continue
        if value < 0 or (value == 0 and name in ('max_length', 'max_repeated_chars')):
            continue
        policy[name] = value
    return policy


def _classes(password):
    upper = sum(1 for c in password if c in string.ascii_uppercase)
    lower = sum(1 for c in password if c in string.ascii_lowercase)
    digits = sum(1 for c in password if c in string.digits)
    special = sum(1 for c in password if c in SPECIAL_CHARS or c == ' ')
    return upper, lower, digits, special


def longest_run(password):
    best = run = 0
    prev = None
    for c in password:
        run = run + 1 if c == prev else 1
        prev = c
        best = max(best, run)
    return best


def validate(password, policy=None):
    """Return a list of rule violations (empty when the password is acceptable).

    Messages name the rule and the required value, never the password.
    """
    policy = policy or {}
    problems = []
    if password is None or password == '':
        return ['password is empty']
    if any(ord(c) > 127 for c in password):
        problems.append('contains non-ASCII characters (ISC accepts ASCII only)')
    elif any(ord(c) < 32 or ord(c) == 127 for c in password):
        problems.append('contains control characters')
    if FORBIDDEN_CHARS in password:
        problems.append("contains ':' which ISC does not accept")
    if len(password.encode('utf-8')) > MAX_PASSWORD_BYTES:
        problems.append('longer than %d UTF-8 bytes (the encryption limit)' % MAX_PASSWORD_BYTES)
    upper, lower, digits, special = _classes(password)
    n = len(password)
    checks = (
        ('min_length', n, 'min_length: needs at least %d characters'),
        ('min_alpha', upper + lower, 'min_alpha: needs at least %d letters'),
        ('min_numeric', digits, 'min_numeric: needs at least %d digits'),
        ('min_upper', upper, 'min_upper: needs at least %d uppercase letters'),
        ('min_lower', lower, 'min_lower: needs at least %d lowercase letters'),
        ('min_special', special, 'min_special: needs at least %d special characters'),
        ('min_char_types', sum(1 for x in (upper, lower, digits, special) if x),
         'min_char_types: needs at least %d of the 4 character types (upper, lower, digit, special)'),
    )
    for rule, actual, text in checks:
        need = policy.get(rule)
        if need and actual < need:
            problems.append(text % need)
    if policy.get('max_length') and n > policy['max_length']:
        problems.append('max_length: allows at most %d characters' % policy['max_length'])
    if policy.get('max_repeated_chars') and longest_run(password) > policy['max_repeated_chars']:
        problems.append('max_repeated_chars: allows at most %d identical characters in a row'
                        % policy['max_repeated_chars'])
    return problems


class PolicyError(ValueError):
    """No password can satisfy the request (contradictory policy, length or exclusions)."""


def generate(policy=None, length=None, exclude_chars='', rng=None):
    """Return a random password that satisfies ``policy`` (a dict from parse_policies)."""
    policy = policy or {}
    rng = rng or secrets.SystemRandom()
    exclude = set(exclude_chars or '') | set(FORBIDDEN_CHARS) | {' '}
    pools = {
        'upper': [c for c in string.ascii_uppercase if c not in exclude],
        'lower': [c for c in string.ascii_lowercase if c not in exclude],
        'digit': [c for c in string.digits if c not in exclude],
        'special': [c for c in SPECIAL_CHARS if c not in exclude],
    }
    need = {
        'upper': policy.get('min_upper', 0) or 0,
        'lower': policy.get('min_lower', 0) or 0,
        'digit': policy.get('min_numeric', 0) or 0,
        'special': policy.get('min_special', 0) or 0,
    }
    for cls, count in need.items():
        if count and not pools[cls]:
            raise PolicyError('the policy needs %s characters but exclude_chars removes them all' % cls)
    # letters beyond the upper/lower minimums
    alpha_extra = max(0, (policy.get('min_alpha', 0) or 0) - need['upper'] - need['lower'])
    if alpha_extra and not (pools['upper'] or pools['lower']):
        raise PolicyError('the policy needs letters but exclude_chars removes them all')
    # one of every available class for strength, unless that would not fit
    available = [c for c in pools if pools[c]]
    min_types = policy.get('min_char_types', 0) or 0
    if min_types > len(available):
        raise PolicyError('min_char_types is %d but only %d character types remain after exclude_chars'
                          % (min_types, len(available)))
    # character types the policy wants beyond the classes that already have a minimum
    extra_types = max(0, min_types - len([c for c in need if need[c]]))
    required = sum(need.values()) + alpha_extra + extra_types
    max_len = min(policy.get('max_length') or MAX_PASSWORD_BYTES, MAX_PASSWORD_BYTES)
    min_len = policy.get('min_length', 0) or 0
    if length is None:
        length = max(min_len, 20, required)
        length = min(length, max_len)
    else:
        length = int(length)
        if length < max(min_len, 1) or length > max_len:
            raise PolicyError('length %d is outside what the policy allows (%d to %d)'
                              % (length, max(min_len, 1), max_len))
    if required > length:
        raise PolicyError('the policy needs at least %d characters but allows at most %d'
                          % (required, length))
    if min_len > max_len:
        raise PolicyError('min_length %d is above max_length %d' % (min_len, max_len))

    for _attempt in range(200):
        chars = []
        for cls, count in need.items():
            chars.extend(rng.choice(pools[cls]) for _i in range(count))
        letters = pools['upper'] + pools['lower']
        chars.extend(rng.choice(letters) for _i in range(alpha_extra))
        present = set(cls for cls, count in need.items() if count)
        if alpha_extra:
            present.update(cls for cls in ('upper', 'lower') if cls in present)
        # add the missing classes one character each, as far as the length allows
        missing = [cls for cls in available if cls not in present]
        rng.shuffle(missing)
        for cls in missing:
            if len(chars) >= length:
                break
            chars.append(rng.choice(pools[cls]))
        everything = [c for cls in available for c in pools[cls]]
        while len(chars) < length:
            chars.append(rng.choice(everything))
        rng.shuffle(chars)
        candidate = ''.join(chars)
        if not validate(candidate, policy):
            return candidate
    raise PolicyError('could not generate a password for this policy; relax exclude_chars or '
                      'max_repeated_chars')


def merge_policies(policies):
    """The strictest combination of several parsed policies (members of one shared password)."""
    merged = {}
    for parsed in policies:
        for name, value in parsed.items():
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if name.startswith('max_'):
                if value > 0:
                    merged[name] = min(merged.get(name, value), value)
            else:
                merged[name] = max(merged.get(name, value), value)
    return merged
