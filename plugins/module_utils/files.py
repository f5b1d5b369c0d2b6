# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local state files (store, ledger, reports, token cache, fingerprints): one way to write and lock them."""

from __future__ import annotations

import os
import tempfile

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX
    HAS_FCNTL = False


# How every timestamp the collection writes to its files (ledger, leases, store, progress log) looks: UTC, seconds.
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'

# The collection's cache root as documented; $XDG_CACHE_HOME/sailpoint_isc when XDG_CACHE_HOME is an absolute path.
CACHE_ROOT = '~/.cache/sailpoint_isc'


def cache_home(environ=None):
    """The cache root of this user: $XDG_CACHE_HOME/sailpoint_isc, else ~/.cache/sailpoint_isc."""
    xdg = (os.environ if environ is None else environ).get('XDG_CACHE_HOME')
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, 'sailpoint_isc')
    return os.path.expanduser(CACHE_ROOT)


def expand(path, environ=None):
    """``path`` with ~ expanded; a path under the documented cache root moves to cache_home() (XDG)."""
    path = str(path)
    if path == CACHE_ROOT or path.startswith(CACHE_ROOT + '/'):
        return cache_home(environ) + path[len(CACHE_ROOT):]
    return os.path.expanduser(path)


def ensure_private_dir(directory):
    """Create directory (and parents) as 0700 when missing."""
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)


def write_atomic(path, data, mode=0o600):
    """Replace path with data (str or bytes) so a reader or a crash sees the old or the new file, never half.

    Temp file in the same directory with the final mode from the start, fsync, rename, fsync the directory.
    """
    directory = os.path.dirname(os.path.abspath(path))
    ensure_private_dir(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-', suffix='.' + os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb' if isinstance(data, bytes) else 'w') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory):
    """Make a rename or unlink in directory durable (best effort: some filesystems refuse it)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class FileLock(object):
    """Exclusive advisory lock on a lock file (0600, directory made 0700).

    With ``required=False`` it degrades to no lock where fcntl is missing or the file cannot be
    made (caches that are safe to lose); with ``required=True`` it raises instead (the secret store).
    """

    def __init__(self, path, required=False):
        self.path = path
        self.required = required
        self._fd = None

    def __enter__(self):
        if not HAS_FCNTL:
            if self.required:
                raise OSError('file locking (fcntl) is not available on this system')
            return self
        try:
            ensure_private_dir(os.path.dirname(os.path.abspath(self.path)))
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None
            if self.required:
                raise
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        return False
