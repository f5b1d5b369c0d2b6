"""Kill helper for the end-to-end kill tests: real crashes, controller-only kills, kill moments by progress.

Why not os.killpg: Ansible's worker processes call setsid(), so killing ansible-playbook's process group
leaves the worker and the module it runs alive (they go on sending set-passwords and writing the ledger
after the "crash"). This module finds processes by their parent chains in /proc instead, whatever
session or process group they are in.

Subreaper: importing this module makes the test process a child subreaper (prctl PR_SET_CHILD_SUBREAPER,
Linux). A process whose parent dies is then re-parented to the test process instead of init, so an
orphan is always found among the test process's descendants, and the test process can (and must) reap
it; reap_all() does that at exit (atexit) and the `no_stray_processes` fixture after every test of the
modules that import it. The attribute is not inherited by children; it only changes who becomes the
parent of orphans below the test process.

Kill API
  spawn(cmd, **popen_kwargs)   Popen with a tag in the environment (ISC_E2E_KILL_TAG), so a descendant
                               that lost its parent chain (double fork) is still found by its tag.
  descendants(pid)             every process descended from pid (parent chains), setsid()'d ones included.
  crash(proc)                  freeze (SIGSTOP) the controller and every descendant top-down until no new
                               process appears, SIGKILL them all, reap, assert none survives. Returns a
                               KillReport (what was killed: pids, sessions, command lines).
  kill_controller_only(proc)   SIGKILL only the ansible-playbook process; returns Survivors (its worker(s)
                               and the running module, which live on) to watch and finally .kill().
  reap_all(keep=())            kill and reap every descendant of the test process (except keep).
  Reaper()                     reap_all() sparing what ran when it was made (.reap(), or a with block).
  remote_tmp_dirs(procs)       the ansible-tmp-* directories killed workers left in the real user's
                               ~/.ansible/tmp (where the local connection puts them, whatever HOME says).

Progress probes (kill moments chosen by progress, not wall time)
  wait_for(predicate, timeout, proc=None)   poll until predicate() is truthy and return its value; raise
                                            Missed when the run ends first or the timeout passes.
  Progress(simulator, workdir)              what one run has done since it was created: set-passwords the
                                            simulator accepted, the role's store (escrowed / committed
                                            keys), the ledger journal's events.
  moment(progress, name, k)                 a predicate for a named moment: 'escrow' (new pending
                                            passwords in the store), 'apply' (k set-passwords accepted),
                                            'commit' (a new current password for some keys while others
                                            are still pending).
  progress.phase()                          after a kill: the writing phase the run was in (or None).
"""

import atexit
import collections
import ctypes
import json
import os
import pwd
import signal
import subprocess
import time
import uuid
import warnings

import pytest

from rotation_helpers import read_store

TAG_VAR = 'ISC_E2E_KILL_TAG'
PR_SET_CHILD_SUBREAPER = 36
STOPPED = ('T', 't')
DEAD = ('Z', 'X')


def _make_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


SUBREAPER = _make_subreaper()


class Missed(AssertionError):
    """A kill moment that never came: the run ended first, or the timeout passed."""


class Proc(collections.namedtuple('Proc', 'pid ppid pgid sid state start cmdline')):
    """One process as /proc showed it; (pid, start) identifies it even if the pid is reused later."""

    @property
    def ident(self):
        return (self.pid, self.start)

    def describe(self):
        return 'pid %d ppid %d sid %d state %s: %s' % (self.pid, self.ppid, self.sid, self.state, self.cmdline or '?')


def _stat(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            data = handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = data[data.rindex(b')') + 2:].split()
    # fields[0] is field 3 of proc(5): state, ppid, pgrp, session ... starttime is field 22
    return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
    except OSError:
        return ''


def process(pid, cmdline=True):
    """The process pid now, or None."""
    info = _stat(pid)
    if info is None:
        return None
    state, ppid, pgid, sid, start = info
    return Proc(pid, ppid, pgid, sid, state, start, _cmdline(pid) if cmdline else '')


def current(proc):
    """proc as it is now (None once it is gone, or if its pid now belongs to another process)."""
    now = process(proc.pid, cmdline=False)
    if now is None or now.start != proc.start:
        return None
    return now._replace(cmdline=proc.cmdline)


def alive(proc):
    """Running or stopped, not a zombie."""
    now = current(proc)
    return now is not None and now.state not in DEAD


def process_table():
    table = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            found = process(int(name), cmdline=False)
            if found is not None:
                table[found.pid] = found
    return table


def descendants(pid, table=None):
    """Every process descended from pid by parent chains, parents before children (pid itself excluded).

    setsid() and setpgid() do not change a process's parent, so workers and modules in sessions of their
    own are included. A process whose parent already died is re-parented (to this test process, the
    subreaper) and is no longer below pid: find it by its tag (tagged()) or freeze the tree first.
    """
    table = process_table() if table is None else table
    children = collections.defaultdict(list)
    for proc in table.values():
        children[proc.ppid].append(proc)
    out, seen, queue = [], {pid}, collections.deque([pid])
    while queue:
        for child in sorted(children.get(queue.popleft(), ()), key=lambda p: p.pid):
            if child.pid not in seen:
                seen.add(child.pid)
                out.append(child._replace(cmdline=_cmdline(child.pid)))
                queue.append(child.pid)
    return out


def tagged(tag, table=None):
    """Processes started from an environment carrying TAG_VAR=tag (spawn() sets it)."""
    if not tag:
        return []
    needle = ('%s=%s' % (TAG_VAR, tag)).encode()
    table = process_table() if table is None else table
    out = []
    for proc in table.values():
        try:
            with open('/proc/%d/environ' % proc.pid, 'rb') as handle:
                if needle in handle.read().split(b'\0'):
                    out.append(proc._replace(cmdline=_cmdline(proc.pid)))
        except OSError:
            continue
    return sorted(out, key=lambda p: p.start)


def spawn(cmd, **popen_kwargs):
    """subprocess.Popen(cmd) with a kill tag in its environment (proc.kill_tag)."""
    tag = uuid.uuid4().hex
    env = dict(popen_kwargs.pop('env', None) or os.environ)
    env[TAG_VAR] = tag
    proc = subprocess.Popen(cmd, env=env, **popen_kwargs)
    proc.kill_tag = tag
    return proc


def _signal(proc, sig):
    if current(proc) is None:
        return False
    try:
        os.kill(proc.pid, sig)
        return True
    except ProcessLookupError:
        return False


def _poll_until(condition, timeout, interval=0.005):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def _stopped_or_gone(proc):
    now = current(proc)
    return now is None or now.state in STOPPED + DEAD


def _freeze(collect, timeout=20):
    """SIGSTOP every process collect() returns, top-down, again and again until a round finds none new.

    A stopped process cannot fork or exit, so once a whole round finds nothing new the set is complete:
    no child can escape by being re-parented after its parent died.
    """
    frozen = collections.OrderedDict()
    deadline = time.monotonic() + timeout
    while True:
        new = [p for p in collect() if p.ident not in frozen]
        if not new:
            return list(frozen.values())
        for proc in new:
            _signal(proc, signal.SIGSTOP)
            frozen[proc.ident] = proc
        # a process in uninterruptible sleep stops when it returns; SIGKILL will take it either way
        _poll_until(lambda: all(_stopped_or_gone(p) for p in new), max(0.1, min(5, deadline - time.monotonic())))
        if time.monotonic() > deadline:
            return list(frozen.values())


def _reap(procs, popen=None, timeout=20):
    """Wait until every proc is gone, reaping the zombies that are children of this process."""
    me = os.getpid()
    remaining = list(procs)

    def settle():
        for proc in list(remaining):
            now = current(proc)
            if now is not None and now.state in DEAD:
                if popen is not None and proc.pid == popen.pid:
                    popen.poll()
                elif now.ppid == me:
                    try:
                        os.waitpid(proc.pid, os.WNOHANG)
                    except ChildProcessError:
                        pass
                now = current(proc)
            if now is None:
                remaining.remove(proc)
        return not remaining
    _poll_until(settle, timeout, interval=0.01)
    return remaining


def _survivor_error(what, survivors):
    return AssertionError('%s: %d process(es) survived:\n  %s' % (
        what, len(survivors), '\n  '.join(p.describe() for p in survivors)))


def _kill_all(collect, popen=None, what='kill'):
    frozen = _freeze(collect)
    for proc in frozen:
        _signal(proc, signal.SIGKILL)
    survivors = _reap(frozen, popen=popen)
    late = [p for p in collect() if p.ident not in set(q.ident for q in frozen)]
    if survivors or late:
        raise _survivor_error(what, survivors + late)
    return frozen


def real_home():
    """The effective user's home from the password database: Ansible's local connection expands the
    remote tmp (~/.ansible/tmp) there, whatever HOME says."""
    return pwd.getpwuid(os.getuid()).pw_dir


def remote_tmp_dirs(procs, root=None):
    """The ansible-tmp-<time>-<pid>-<random> directories that processes procs (the killed workers) made in
    Ansible's remote tmp (default: the real user's ~/.ansible/tmp): what a crash left behind."""
    root = root or os.path.join(real_home(), '.ansible', 'tmp')
    pids = set(str(p.pid) for p in procs)
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(os.path.join(root, name) for name in names
                  if name.startswith('ansible-tmp-') and name.split('-')[3:4] and name.split('-')[3] in pids)


class KillReport:
    """What a crash killed (as /proc showed each process just before the SIGKILL)."""

    def __init__(self, root, killed):
        self.root = root
        self.killed = killed

    def __len__(self):
        return len(self.killed)

    def other_sessions(self):
        """Killed processes outside the controller's session (setsid()'d workers and what they ran)."""
        return [p for p in self.killed if self.root is not None and p.sid != self.root.sid]

    def running(self, text):
        return [p for p in self.killed if text in p.cmdline]

    def __repr__(self):
        return 'KillReport(%s)' % '; '.join(p.describe() for p in self.killed)


def _tree(proc):
    """Collector for proc's whole tree: itself, its descendants by parent chain, and its tagged processes."""
    tag = getattr(proc, 'kill_tag', None)

    def collect():
        table = process_table()
        out = []
        root = table.get(proc.pid)
        if root is not None and proc.returncode is None:
            out.append(root._replace(cmdline=_cmdline(proc.pid)))
        out += descendants(proc.pid, table)
        seen = set(p.pid for p in out)
        out += [p for p in tagged(tag, table) if p.pid not in seen and p.pid != os.getpid()]
        return out
    return collect


def crash(proc):
    """Kill proc (a Popen, best from spawn()) and every process below it at once: nothing survives,
    nothing gets to clean up. Raises AssertionError listing survivors; returns a KillReport."""
    root = process(proc.pid) if proc.returncode is None else None
    killed = _kill_all(_tree(proc), popen=proc, what='crash of pid %d' % proc.pid)
    proc.wait(10)
    return KillReport(root, killed)


class Survivors:
    """The processes a controller-only kill left running (worker(s), the module), to watch and kill."""

    def __init__(self, procs, tag=None):
        self.procs = procs
        self.tag = tag

    def _collect(self):
        table = process_table()
        out, seen = [], set()
        for proc in self.procs:
            now = table.get(proc.pid)
            if now is not None and now.start == proc.start:
                for found in [now._replace(cmdline=proc.cmdline)] + descendants(proc.pid, table):
                    if found.pid not in seen:
                        seen.add(found.pid)
                        out.append(found)
        out += [p for p in tagged(self.tag, table) if p.pid not in seen and p.pid != os.getpid()]
        return out

    def alive(self):
        """The survivors (and anything they started since) still running; their zombies are reaped."""
        found = self._collect()
        _reap([p for p in found if p.state in DEAD], timeout=0)
        return [p for p in found if alive(p)]

    def running(self, text):
        return [p for p in self.alive() if text in p.cmdline]

    def wait_gone(self, timeout, text=''):
        """Wait until no survivor whose command line contains text is running."""
        return _poll_until(lambda: not self.running(text), timeout, interval=0.05)

    def kill(self):
        return _kill_all(self._collect, what='kill of the survivors')

    def __len__(self):
        return len(self.procs)


def kill_controller_only(proc):
    """SIGKILL only the ansible-playbook process; its workers and the running module live on."""
    tag = getattr(proc, 'kill_tag', None)
    root = process(proc.pid)
    below = []
    if root is not None and proc.returncode is None:
        _signal(root, signal.SIGSTOP)
        _poll_until(lambda: _stopped_or_gone(root), 5)
        below = descendants(proc.pid)  # complete: the stopped controller cannot start another worker
        _signal(root, signal.SIGKILL)
    proc.wait(10)
    return Survivors([p for p in below if alive(p)], tag)


def reap_all(keep=()):
    """Kill and reap every descendant of the test process (and the subtrees of keep are spared)."""
    me = os.getpid()
    keep = set(keep)

    def collect():
        table = process_table()
        spared = set(keep)
        for pid in keep:
            spared.update(p.pid for p in descendants(pid, table))
        return [p for p in descendants(me, table) if p.pid not in spared]
    return _kill_all(collect, what='reap_all')


class Reaper:
    """Kills what starts after it is made: reap() (or the end of a `with` block) kills every descendant of the test
    process but those running when it was made, e.g. a session-wide server another test on this worker started,
    such as the store contract's moto server, which reap_all() alone would kill."""

    def __init__(self):
        self.before = [p.pid for p in descendants(os.getpid())]

    def reap(self):
        return reap_all(keep=self.before)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reap()


def _reap_at_exit():
    try:
        reap_all()
    except AssertionError as exc:  # nothing more to do at exit than say so
        print('killer: %s' % exc)


atexit.register(_reap_at_exit)


@pytest.fixture(autouse=True)
def no_stray_processes():
    """After each test: kill whatever descendants the test left behind (and warn about the live ones).

    Processes running when the test began (a module- or session-scoped server: those fixtures are set up
    before this one) and their descendants are spared."""
    before = set(p.pid for p in descendants(os.getpid()))
    yield
    stray = [p for p in descendants(os.getpid()) if p.pid not in before]
    running = [p for p in stray if p.state not in DEAD]
    reap_all(keep=before)  # zombies re-parented to this process are only reaped
    if running:
        warnings.warn('killed %d process(es) the test left behind: %s'
                      % (len(running), '; '.join(p.describe() for p in running)))


# --------------------------------------------------------------------------- progress probes

def wait_for(predicate, timeout=60, interval=0.02, proc=None, what='the moment'):
    """Poll predicate() until it is truthy and return its value.

    Raises Missed if proc (a Popen) ends first or the timeout passes: a kill chosen by progress must
    never silently turn into a kill at some other moment.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise Missed('%s never came: the run ended first (rc %s)' % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise Missed('%s never came within %ss' % (what, timeout))
        time.sleep(interval)


def password_of(value):
    """A store field as a password: a string, or (store contract v2) a record holding one."""
    if isinstance(value, dict):
        return value.get('password')
    return value or None


def journal_events(workdir):
    """Counter of the ledger journal's events (submitting, submitted, finished ...); lines cut short skipped."""
    path = os.path.join(workdir, 'rotation', 'ledger.json.journal')
    counts = collections.Counter()
    try:
        with open(path) as handle:
            for line in handle:
                try:
                    counts[json.loads(line)['event']] += 1
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        pass
    return counts


class Progress:
    """What one run has done since this object was made: read from the simulator's counters, the role's
    store (<workdir>/rotation/store.vault) and the ledger journal. Make it just before starting the run."""

    def __init__(self, simulator, workdir):
        self.simulator = simulator
        self.workdir = workdir
        self.store_path = os.path.join(workdir, 'rotation', 'store.vault')
        self._signature, self._store = None, {}
        self.base_accepted = self._accepted_total()
        self.base_store = self.store()

    def _accepted_total(self):
        return int(self.simulator.counters()['requests'].get('set_password', {}).get('202', 0))

    def accepted(self):
        """set-password requests the simulator accepted (202) since this object was made."""
        return self._accepted_total() - self.base_accepted

    def store(self):
        """The store's accounts now (decrypted only when the file changed)."""
        for dummy in range(20):
            try:
                info = os.stat(self.store_path)
            except FileNotFoundError:
                return {}
            signature = (info.st_ino, info.st_mtime_ns, info.st_size)
            if signature == self._signature:
                return self._store
            try:
                self._store = read_store(self.workdir)
                self._signature = signature
                return self._store
            except (OSError, ValueError):
                time.sleep(0.01)  # replaced while being read
        raise AssertionError('the store %s could not be read' % self.store_path)

    def _field(self, store, key, field):
        return password_of((store.get(key) or {}).get(field))

    def escrowed(self):
        """Keys holding a pending password they did not hold when this object was made."""
        store = self.store()
        return sorted(k for k in store if self._field(store, k, 'pending')
                      and self._field(store, k, 'pending') != self._field(self.base_store, k, 'pending'))

    def committed(self):
        """Keys whose current password changed since this object was made."""
        store = self.store()
        return sorted(k for k in store if self._field(store, k, 'current')
                      and self._field(store, k, 'current') != self._field(self.base_store, k, 'current'))

    def pending(self):
        store = self.store()
        return sorted(k for k in store if self._field(store, k, 'pending'))

    def pending_passwords(self):
        """Distinct pending passwords: one per planned change (sync-group members share one)."""
        store = self.store()
        return set(self._field(store, k, 'pending') for k in self.pending())

    def journal(self):
        return journal_events(self.workdir)

    def phase(self):
        """The writing phase a run stopped in, judged from what it left (call after the kill):
        'commit' new current passwords for some keys while others are still pending,
        'apply'  some but not all escrowed changes accepted by the simulator,
        'escrow' new pending passwords and no set-password accepted yet,
        None     anything else (a read-only phase, or everything done)."""
        if self.committed() and self.pending():
            return 'commit'
        accepted = self.accepted()
        if self.pending() and 0 < accepted < len(self.pending_passwords()):
            return 'apply'
        if self.escrowed() and accepted == 0:
            return 'escrow'
        return None


MOMENTS = ('escrow', 'apply', 'commit')


def moment(progress, name, k=1):
    """A predicate that turns true at the named moment of the run progress watches:
    'escrow' the store holds new pending passwords (before or at the first set-password),
    'apply'  the simulator accepted at least k set-passwords of this run,
    'commit' some key's current password is new while other keys are still pending."""
    if name == 'escrow':
        return progress.escrowed
    if name == 'apply':
        return lambda: progress.accepted() >= k
    if name == 'commit':
        return lambda: bool(progress.committed() and progress.pending())
    raise ValueError('unknown moment %r (one of %s)' % (name, ', '.join(MOMENTS)))
