# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a rotation keeps its store, ledger, reports and leases when service_account_rotation_state_dir is not set.

Internal to the sailpoint_isc.passwords collection; may change without notice.

The default depends on who runs (the user's XDG state directory), on which tenant (the API root the modules
talk to) and on the shard, never on the working directory: two starts of the same job (another checkout,
another cron line, an AWX project update) meet at the same lease instead of keeping two stores.

    $XDG_STATE_HOME/sailpoint_isc/rotation/<tenant>/all              every account
    $XDG_STATE_HOME/sailpoint_isc/rotation/<tenant>/shard-<i>-of-<N>  shard i of N

$XDG_STATE_HOME defaults to ~/.local/state. <tenant> is the API root's host (lower case), its port when it
is not the scheme's default, and its path, with every other character than letters, digits, '.', '-' and
'_' written '_': https://acme.api.identitynow.com -> acme.api.identitynow.com; http://127.0.0.1:8089 ->
127.0.0.1_8089. A shard is read with shard.parse_shard, so '01/4', '1/4' and ' 1 / 4' are one directory.
"""

from __future__ import annotations

import os
import re

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import normalize_base_url
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger, RotationError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.shard import parse_shard

VARIABLE = 'service_account_rotation_state_dir'
# Files that say a state directory holds the state of earlier runs.
STATE_FILES = ('ledger.json', 'store.vault')
_DEFAULT_PORTS = {'http': 80, 'https': 443}
_UNSAFE = re.compile(r'[^a-z0-9._-]')
_SHARD_DIR = re.compile(r'^(all|shard-(\d+)-of-(\d+))$')


def state_home(environ):
    """$XDG_STATE_HOME when it is an absolute path (the specification ignores relative ones), else ~/.local/state."""
    xdg = environ.get('XDG_STATE_HOME') or ''
    if os.path.isabs(xdg):
        return xdg
    home = environ.get('HOME') or os.path.expanduser('~')
    return os.path.join(home, '.local', 'state')


def tenant_label(base_url=None, tenant=None):
    """A directory name for the tenant an API root belongs to (see the module's docstring). Raises IscError."""
    url = normalize_base_url(base_url, tenant)
    scheme, rest = url.split('://', 1)
    netloc, _slash, path = rest.partition('/')
    netloc = netloc.rpartition('@')[2].lower()
    host, port = netloc, ''
    if not netloc.endswith(']') and ':' in netloc:
        host, port = netloc.rsplit(':', 1)
    if port and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme.lower()):
        port = ''
    label = host.strip('[]').rstrip('.') + ('_' + port if port else '') + ('_' + path.strip('/') if path.strip('/') else '')
    return _UNSAFE.sub('_', label.lower())


def shard_label(shard):
    """'all' for no shard, else 'shard-<i>-of-<N>'. Raises ValueError naming the fix for a malformed shard."""
    parsed = parse_shard(shard)
    return 'all' if parsed is None else 'shard-%d-of-%d' % parsed


def default_state_dir(environ, base_url=None, tenant=None, shard=None):
    """The default state directory of this user, tenant and shard."""
    return os.path.join(state_home(environ), 'sailpoint_isc', 'rotation', tenant_label(base_url, tenant), shard_label(shard))


def legacy_state_dirs(directories, shard=None):
    """Where releases before 1.x (issue 22) put the state by default, below each of directories (the working
    directory, the playbook's): rotation, or with a shard rotation-shard-<i>-of-<N> (the role) and the
    playbook's own spelling, which kept the shard as written ('01/4' -> rotation-shard-01-of-4)."""
    names = ['rotation']
    if shard is not None and str(shard).strip():
        index, count = parse_shard(shard)
        names = ['rotation-shard-%d-of-%d' % (index, count),
                 'rotation-shard-' + str(shard).replace(' ', '').replace('/', '-of-')]
    out = []
    for directory in directories:
        for name in names:
            path = os.path.abspath(os.path.join(directory, name))
            if directory and path not in out:
                out.append(path)
    return out


def holds_state(directory):
    """The state files (ledger, store) found in directory."""
    return [name for name in STATE_FILES if os.path.isfile(os.path.join(directory, name))]


def legacy_problem(state_dir, candidates):
    """(message or None, warnings) for a default state directory: a message when it holds no state while an
    old default location does (a run there would start afresh and rotate every account again); warnings
    naming old locations that still hold state when the new one has some too."""
    found = [(path, holds_state(path)) for path in candidates if os.path.abspath(path) != os.path.abspath(state_dir)]
    found = [(path, files) for path, files in found if files]
    if not found:
        return None, []
    if holds_state(state_dir):
        return None, ['%s still holds %s of earlier runs; it is no longer read or written (the default state directory '
                      'is %s). Delete it once you no longer need it' % (path, ' and '.join(files), state_dir)
                      for path, files in found]
    path, files = found[0]
    return ('%s is not set, and the default state directory no longer follows the working directory: it is now %s '
            '(per user, tenant and shard). %s holds the %s of earlier runs and %s holds none, so this run would start '
            'afresh and rotate every account again; it stopped, nothing was read or sent. Move the state to the new '
            'default while no run works on it (mkdir -p %s && mv %s %s), or keep it where it is: set %s (-e '
            'rotation_state_dir=%s with the shipped playbooks)'
            % (VARIABLE, state_dir, path, ' and '.join(files), state_dir, os.path.dirname(state_dir), path, state_dir,
               VARIABLE, path)), []


def _shard_count(label):
    """How many jobs a default directory's label splits the fleet into ('all': 1), or None for another name."""
    found = _SHARD_DIR.match(label)
    return None if not found else int(found.group(3) or 1)


def other_shard_problem(state_dir):
    """A message when a default directory of the same tenant under another shard count (another shard setting,
    not a sister job of this one) still has changes pending at ISC; None otherwise. Runs with the new setting
    never read that ledger: its pending passwords would be settled by no run, and the new run would send a
    second change for an account whose first one may still be in flight."""
    parent, mine = os.path.split(os.path.abspath(state_dir))
    count = _shard_count(mine)
    try:
        names = sorted(os.listdir(parent)) if count is not None else []
    except OSError:
        return None
    for name in names:
        if _shard_count(name) in (None, count):
            continue
        path = os.path.join(parent, name, 'ledger.json')
        try:
            ledger = Ledger(path).load()
        except (RotationError, OSError):
            continue  # a corrupt ledger stops its own shard's runs, with the way to repair it
        keys = sorted(k for k, e in ledger.accounts.items() if e.get('state') == 'pending')
        if keys:
            setting = "''" if name == 'all' else "'%s/%s'" % _SHARD_DIR.match(name).group(2, 3)
            return ('%s holds %d password change(s) still pending from runs with service_account_rotation_shard %s '
                    '(%s%s); runs with this shard setting never read it, so they would not settle them and could send '
                    'a second change while the first is in flight. Run once more with the shard setting %s (or with '
                    '%s=%s) until nothing is pending there, then change it. Nothing was read or sent'
                    % (os.path.dirname(path), len(keys), setting, ', '.join(keys[:5]),
                       ' and %d more' % (len(keys) - 5) if len(keys) > 5 else '', setting, VARIABLE,
                       os.path.dirname(path)))
    return None
