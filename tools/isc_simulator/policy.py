"""Password policy model of the ISC simulator.

Policies are dictionaries keyed by the IdentityIQ constraint names that ISC shows in
``PasswordInfo.policies`` (``passwordMinLength`` ...).  A key that is absent, ``None`` or
not positive is an unset constraint and is left out of the policy strings.
"""

import string

# Canonical order of the policy strings (ISC does not document an order; clients must not rely on it).
POLICY_KEYS = (
    'passwordMinLength',
    'passwordMaxLength',
    'passwordMinAlpha',
    'passwordMinNumeric',
    'passwordMinUpper',
    'passwordMinLower',
    'passwordMinSpecial',
    'passwordMinCharType',
    'passwordRepeatedChar',
)

# Printable ASCII except letters and digits, plus space: ISC's documented special set. ':' is forbidden.
SPECIAL_CHARS = frozenset(' ' + string.punctuation) - {':'}


def normalize_policy(raw, where='policy'):
    """Validate a policy mapping from the seed and return a clean dict of set constraints."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError('%s must be a mapping' % where)
    policy = {}
    for key, value in raw.items():
        if key not in POLICY_KEYS:
            raise ValueError('%s: unknown policy key %r (known: %s)' % (where, key, ', '.join(POLICY_KEYS)))
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError('%s: %s must be an integer' % (where, key))
        if value > 0:
            policy[key] = value
    if policy.get('passwordMinCharType', 0) > 4:
        raise ValueError('%s: passwordMinCharType must be at most 4' % where)
    return policy


def policy_strings(policy):
    """Render the ``"<key> is <value>"`` strings ISC returns in PasswordInfo.policies."""
    return ['%s is %d' % (key, policy[key]) for key in POLICY_KEYS if policy.get(key)]


def _longest_run(text):
    longest = 0
    run = 0
    previous = None
    for char in text:
        run = run + 1 if char == previous else 1
        previous = char
        longest = max(longest, run)
    return longest


def check_password(password, policy):
    """Return the list of rule violations (never containing the password) for ``password``."""
    errors = []
    if not password:
        return ['Password must not be empty']
    if any(ord(c) > 127 for c in password):
        errors.append('Password contains non-ASCII characters, which are not allowed')
    if ':' in password:
        errors.append("Password contains ':', which is not allowed")
    length = len(password)
    alpha = sum(1 for c in password if c.isascii() and c.isalpha())
    numeric = sum(1 for c in password if c.isascii() and c.isdigit())
    upper = sum(1 for c in password if c.isascii() and c.isupper())
    lower = sum(1 for c in password if c.isascii() and c.islower())
    special = sum(1 for c in password if c in SPECIAL_CHARS)
    counts = {
        'passwordMinAlpha': alpha,
        'passwordMinNumeric': numeric,
        'passwordMinUpper': upper,
        'passwordMinLower': lower,
        'passwordMinSpecial': special,
    }

    def broken(key):
        errors.append('Password does not meet the policy rule "%s is %d"' % (key, policy[key]))

    if policy.get('passwordMinLength') and length < policy['passwordMinLength']:
        broken('passwordMinLength')
    if policy.get('passwordMaxLength') and length > policy['passwordMaxLength']:
        broken('passwordMaxLength')
    for key, count in counts.items():
        if policy.get(key) and count < policy[key]:
            broken(key)
    if policy.get('passwordMinCharType'):
        types = sum(1 for n in (upper, lower, numeric, special) if n > 0)
        if types < policy['passwordMinCharType']:
            broken('passwordMinCharType')
    if policy.get('passwordRepeatedChar') and _longest_run(password) > policy['passwordRepeatedChar']:
        broken('passwordRepeatedChar')
    return errors
