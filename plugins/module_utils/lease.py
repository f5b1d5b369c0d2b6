# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lease of a rotation state directory: one run at a time, and a kill leaves nothing ambiguous.

Internal to the sailpoint_isc.passwords collection; may change without notice.

Two files beside the ledger:
  <ledger>.lease      JSON naming the run that holds the state: run id, host, controller pid (and its
                      start time, so a recycled pid is not mistaken for the holder), start time.
  the state directory  flock()ed (the directory itself) by every rotation module for as long as it runs;
                      <ledger>.work.lock.holder names that module. A lock on a file would not survive its deletion
                      by hand (the next module would lock a new file beside the old lock); the directory's does.
                      Where a directory cannot be locked (NFS), <ledger>.work.lock is the lock, as before.

Why two: Ansible's workers call setsid(), so killing ansible-playbook (even its process group) can
leave the module of the running task alive, still sending set-passwords and journalling them. A
lease is stale only when its controller is gone AND no module holds the work lock; the lock is
released by the kernel when the module process ends, however it ends.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import threading
import time
import uuid

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.files import TIME_FORMAT, FileLock, write_atomic

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX
    HAS_FCNTL = False


# A lease also carries a heartbeat, renewed by every rotation module while it runs: the only sign of
# life a lease taken on another host can give (AWX runs every job in a new pod, under a new host name).
HEARTBEAT_EVERY = 60
DEFAULT_STALE_AFTER = 3600
# A live run can look silent for up to one heartbeat (and a little): three of them before it counts as gone.
MIN_STALE_AFTER = 3 * HEARTBEAT_EVERY


class LeaseError(Exception):
    """The lease could not be taken or is no longer ours; nothing was changed."""


def lease_path(ledger_path):
    return ledger_path + '.lease'


def work_lock_path(ledger_path):
    """Where the work lock's holder is named (``+ '.holder'``); the lock itself is on the state directory."""
    return ledger_path + '.work.lock'


# flock() answers these when another process holds the lock; anything else (EBADF: NFS locks no directory) is not.
BUSY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


def _flock_work(ledger_path, exclusive):
    """Try the work lock without waiting: (descriptor holding it or None, busy). The lock is on the state directory
    (no deletion of a file releases it); where a directory cannot be locked, on <ledger>.work.lock as before."""
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    directory = os.path.dirname(os.path.abspath(ledger_path))
    if exclusive and not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    path = work_lock_path(ledger_path)
    for target, flags in ((directory, os.O_RDONLY), (path, os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY)):
        try:
            fd = os.open(target, flags, 0o600)
        except FileNotFoundError:
            return None, False  # no state directory, or no lock file where the file is the lock: nobody holds it
        try:
            fcntl.flock(fd, mode)
            return fd, False
        except OSError as exc:
            os.close(fd)
            if exc.errno in BUSY_ERRNOS:
                return None, True
    return None, True  # neither can be locked: refuse rather than work unlocked


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)


def process_start(pid):
    """Start time of a process in clock ticks since boot (Linux), or None when it cannot be read."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    return int(stat[stat.rindex(')') + 2:].split()[19])


def process_alive(pid, start=None):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.EPERM:  # it exists, owned by someone else
            return True
        return False
    if start is not None:
        current = process_start(pid)
        if current is not None and current != start:
            return False  # the pid was recycled by an unrelated process
    try:
        with open('/proc/%d/stat' % pid) as handle:
            if handle.read().rsplit(')', 1)[-1].split()[0] == 'Z':
                return False  # a zombie does no more work
    except (IOError, OSError, IndexError):
        pass
    return True


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except (IOError, OSError):
        return ''


def _parent(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            stat = handle.read()
        return int(stat[stat.rindex(')') + 2:].split()[1])
    except (IOError, OSError, ValueError):
        return 0


def controller_pid(start=None):
    """The pid of the outermost ansible-playbook process this one descends from, else our parent.

    Outermost: Ansible's forked workers carry the same command line as the controller itself.
    """
    pid = start or os.getpid()
    found, seen = None, 0
    while pid > 1 and seen < 32:
        if 'ansible-playbook' in _cmdline(pid):
            found = pid
        elif found:
            break
        pid = _parent(pid)
        seen += 1
    return found or os.getppid()


def describe(holder):
    return 'run %s (host %s, pid %s, started %s)' % (
        holder.get('run_id'), holder.get('host'), holder.get('pid'), holder.get('started'))


def read(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError):
        return None
    except ValueError:
        return {}  # cut short or corrupt: nobody can be named, treated as a dead holder
    return data if isinstance(data, dict) else {}


def work_in_progress(ledger_path):
    """Who holds the work lock right now (the recorded holder), or None when nobody does."""
    if not HAS_FCNTL:
        return None
    fd, busy = _flock_work(ledger_path, exclusive=False)
    if fd is not None:
        os.close(fd)  # closing drops the shared lock
    return read(work_lock_path(ledger_path) + '.holder') or {'pid': '?'} if busy else None


def check_stale_after(stale_after):
    """Refuse a stale_after under MIN_STALE_AFTER: a run between two heartbeats would look dead."""
    if stale_after is None or stale_after < MIN_STALE_AFTER:
        raise LeaseError('stale_after must be at least %d seconds, three heartbeats of %d s (got %s): a live run '
                         'renews its lease only every %d s, so a shorter limit takes over runs that still work'
                         % (MIN_STALE_AFTER, HEARTBEAT_EVERY, stale_after, HEARTBEAT_EVERY))


def _judge(ledger_path, current, host, now, stale_after):
    """Whether a new run may take the lease from current (what the lease file holds, None when free).

    Returns the run id taken over (None when the lease is free); raises LeaseError when it is still held."""
    path = lease_path(ledger_path)
    if current is None:
        return None
    if current and current.get('host') not in (None, host):
        # its processes cannot be seen from here: only its heartbeat tells whether it still works
        silent = now - float(current.get('heartbeat') or 0)
        limit = float(current.get('stale_after') or stale_after)
        if not current.get('heartbeat') or silent < limit:
            raise LeaseError(
                'the rotation state %s is leased by %s on another host%s. A lease from another host is taken '
                'over after %d s without a sign of life (service_account_rotation_lease_stale_after); if that '
                'run is gone for sure, delete %s and run again'
                % (os.path.dirname(path) or '.', describe(current),
                   ', last sign of life %d s ago' % silent if current.get('heartbeat') else '', limit, path))
        return current.get('run_id') or 'unknown'
    if current and process_alive(current.get('pid'), current.get('pid_start')):
        raise LeaseError(
            'another rotation is running on %s: %s. One run at a time holds a state directory; this run '
            'changed nothing. Wait for it to end (or stop it) and run again'
            % (os.path.dirname(path) or '.', describe(current)))
    busy = work_in_progress(ledger_path)
    if busy is not None:
        raise LeaseError(
            'the rotation %s ended without releasing %s, and its %s phase is still running in module '
            'process %s (Ansible workers outlive a killed ansible-playbook). It is still sending and '
            'recording changes; this run changed nothing. Wait for that process to end, then run again'
            % (describe(current), path, busy.get('phase', 'current'), busy.get('pid') if busy.get('pid') != '?' else
               '? (its .holder file was deleted; `fuser -v %s` names the process holding the state directory)'
               % (os.path.dirname(path) or '.')))
    return current.get('run_id') or 'unknown'


def _holder(host, pid, now, stale_after):
    return {'run_id': uuid.uuid4().hex, 'host': host, 'pid': pid, 'pid_start': process_start(pid),
            'started': _now(), 'heartbeat': now, 'stale_after': stale_after}


def acquire(ledger_path, hostname=None, pid=None, stale_after=DEFAULT_STALE_AFTER, now=None):
    """Take the lease for a new run. Returns (holder, replaced run id or None). Raises LeaseError."""
    check_stale_after(stale_after)
    path = lease_path(ledger_path)
    host = hostname or socket.gethostname()
    pid = pid or controller_pid()
    now = time.time() if now is None else now
    holder = _holder(host, pid, now, stale_after)
    with FileLock(path + '.lock', required=True):
        replaced = _judge(ledger_path, read(path), host, now, stale_after)
        write_atomic(path, json.dumps(holder, sort_keys=True) + '\n', 0o600)
    return holder, replaced


def probe(ledger_path, hostname=None, pid=None, stale_after=DEFAULT_STALE_AFTER, now=None):
    """What acquire would do, for a check run: the same refusals, but nothing is taken over or written (not even
    a lock file). Returns (the holder a real run would write, the run id a real run would take over, or None)."""
    check_stale_after(stale_after)
    host = hostname or socket.gethostname()
    pid = pid or controller_pid()
    now = time.time() if now is None else now
    return _holder(host, pid, now, stale_after), _judge(ledger_path, read(lease_path(ledger_path)), host, now,
                                                        stale_after)


def beat(ledger_path, run_id, now=None):
    """Renew the heartbeat of run_id's lease. Returns False when run_id no longer holds it."""
    path = lease_path(ledger_path)
    with FileLock(path + '.lock', required=True):
        current = read(path)
        if not current or current.get('run_id') != run_id:
            return False
        current['heartbeat'] = time.time() if now is None else now
        write_atomic(path, json.dumps(current, sort_keys=True) + '\n', 0o600)
    return True


def release(ledger_path, run_id):
    """Drop the lease if run_id holds it. Returns True when it did."""
    path = lease_path(ledger_path)
    with FileLock(path + '.lock', required=True):
        current = read(path)
        if current is None or current.get('run_id') != run_id:
            return False
        os.unlink(path)
    return True


class WorkLock(object):
    """Held by a rotation module for its whole life; checks that its run still holds the lease.

    The lock is never released explicitly on success: the process ends and the kernel drops it,
    so a module that outlives a killed controller keeps the state directory to itself.
    """

    def __init__(self, ledger_path, run_id, phase):
        self.ledger_path = ledger_path
        self.run_id = run_id
        self.phase = phase
        self._fd = None

    def take(self):
        if not self.run_id:
            return self  # called outside the role (no lease): nothing to check
        current = read(lease_path(self.ledger_path))
        if not current or current.get('run_id') != self.run_id:
            raise LeaseError('this run (%s) no longer holds the lease of %s%s; it stops before changing anything'
                             % (self.run_id, self.ledger_path,
                                ': it is held by ' + describe(current) if current else ''))
        if not HAS_FCNTL:
            return self
        path = work_lock_path(self.ledger_path)
        self._fd, busy = _flock_work(self.ledger_path, exclusive=True)
        if busy:
            busy = read(path + '.holder') or {}
            raise LeaseError('another rotation module (pid %s, run %s, phase %s) is still working on %s; this run '
                             'changed nothing' % (busy.get('pid'), busy.get('run_id'), busy.get('phase'),
                                                  self.ledger_path))
        write_atomic(path + '.holder', json.dumps({'pid': os.getpid(), 'run_id': self.run_id, 'phase': self.phase,
                                                   'since': _now()}) + '\n', 0o600)
        beat(self.ledger_path, self.run_id)
        # a sign of life for as long as this module works (a daemon thread: it ends with the process)
        pulse = threading.Thread(target=self._pulse, name='lease-heartbeat')
        pulse.daemon = True
        pulse.start()
        return self

    def _pulse(self):
        while True:
            time.sleep(HEARTBEAT_EVERY)
            try:
                if not beat(self.ledger_path, self.run_id):
                    return
            except (IOError, OSError):
                continue
