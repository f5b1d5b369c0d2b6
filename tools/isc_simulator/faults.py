"""Fault injection configuration and decisions."""

import random
import threading

import yaml

OPERATIONS = ('token', 'query_password_info', 'set_password', 'password_change_status', 'digit_token', 'sync_groups',
              'sources', 'password_policies', 'password_dictionary', 'password_org_config', 'source_password_policies',
              'source', 'source_update', 'check_connection', 'test_configuration', 'search', 'accounts', 'account_reload')
COMMON_KEYS = ('latency', 'latency_jitter', 'error_rate', 'error_statuses', 'drop_rate', 'throttle_rate')
SET_PASSWORD_KEYS = ('drop_after_accept_rate', 'stuck_rate', 'fail_rate', 'fail_sources', 'not_applied_rate')
RATE_KEYS = ('error_rate', 'drop_rate', 'throttle_rate', 'drop_after_accept_rate', 'stuck_rate', 'fail_rate',
             'not_applied_rate')
CHECK_CONNECTION_KEYS = ('fail_rate', 'fail_users')  # check-connection answers FAILURE (all, or for these users)
DEFAULT_ERROR_STATUSES = (500, 502, 503)


def _check_section(name, section):
    if not isinstance(section, dict):
        raise ValueError('faults.%s must be a mapping' % name)
    allowed = COMMON_KEYS + (SET_PASSWORD_KEYS if name in ('set_password', 'all') else ())
    allowed += CHECK_CONNECTION_KEYS if name == 'check_connection' else ()
    clean = {}
    for key, value in section.items():
        if key not in allowed:
            raise ValueError('faults.%s: unknown key %r (allowed: %s)' % (name, key, ', '.join(allowed)))
        where = 'faults.%s.%s' % (name, key)
        if key in ('fail_sources', 'fail_users'):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError('%s must be a list of names' % where)
            clean[key] = list(value)
        elif key == 'error_statuses':
            if (not isinstance(value, list) or not value
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 500 <= v <= 599 for v in value)):
                raise ValueError('%s must be a non-empty list of 5xx status codes' % where)
            clean[key] = list(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError('%s must be a number >= 0' % where)
            if key in RATE_KEYS and value > 1:
                raise ValueError('%s is a fraction and must be between 0 and 1' % where)
            clean[key] = float(value)
    return clean


def validate_faults(config):
    """Check a fault configuration (dict, as from YAML/JSON) and return a normalised copy."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError('the fault configuration must be a mapping')
    clean = {}
    for name, section in config.items():
        if name == 'random_seed':
            if section is not None and (isinstance(section, bool) or not isinstance(section, (int, str))):
                raise ValueError('faults.random_seed must be an integer or a string')
            clean[name] = section
        elif name in OPERATIONS or name == 'all':
            clean[name] = _check_section(name, section or {})
        else:
            raise ValueError('faults: unknown operation %r (known: all, %s)' % (name, ', '.join(OPERATIONS)))
    return clean


def load_faults_file(path):
    with open(path, encoding='utf-8') as handle:
        return validate_faults(yaml.safe_load(handle) or {})


class Faults:
    """The active fault configuration plus the random source used to decide each fault."""

    def __init__(self, config=None):
        self._lock = threading.Lock()
        self._config = {}
        self._random = random.Random()
        self.replace(config)

    def replace(self, config):
        clean = validate_faults(config)
        with self._lock:
            self._config = clean
            self._random = random.Random(clean.get('random_seed'))

    def snapshot(self):
        with self._lock:
            return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self._config.items()}

    def settings(self, operation):
        """The effective settings of one operation: the ``all`` section overlaid by the operation's own."""
        with self._lock:
            merged = dict(self._config.get('all', {}))
            merged.update(self._config.get(operation, {}))
            return merged

    def roll(self, rate):
        """True with probability ``rate``."""
        if not rate:
            return False
        with self._lock:
            return self._random.random() < rate

    def uniform(self, upper):
        with self._lock:
            return self._random.uniform(0, upper)

    def choice(self, items):
        items = list(items)
        with self._lock:
            return items[min(len(items) - 1, int(self._random.random() * len(items)))]
