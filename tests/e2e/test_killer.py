"""The kill helper (killer.py) kills what the kill tests say it kills.

A synthetic process tree shaped like Ansible's (a worker in a session of its own running an exec'd
module, a process that ignores SIGTERM, a double-forked orphan, a process that keeps forking) and real
ansible-playbook runs are crashed and controller-only killed; every process is checked in /proc. The
progress probes are checked on a store, a journal and counters written here.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import killer
from conftest import PlaybookRunner, write_playbook
from hostile_helpers import write_store
from killer import no_stray_processes  # autouse: nothing a test starts outlives it # noqa: F401 # pylint: disable=unused-import

TREE = r'''
import os, signal, sys, time

OUT = sys.argv[1]


def note(role):
    with open(OUT, 'a') as handle:
        handle.write('%s %d\n' % (role, os.getpid()))


def forever():
    while True:
        time.sleep(1)


def child(body):
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


def plain():
    note('plain')
    forever()


def stubborn():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    note('stubborn')
    forever()


def module():
    note('module')
    os.execv(sys.executable, [sys.executable, '-c', 'import time\nwhile True: time.sleep(1)'])


def worker():  # like Ansible's WorkerProcess: a session of its own, a module running below it
    os.setsid()
    note('worker')
    child(module)
    forever()


def orphan():
    os.setsid()
    time.sleep(0.3)  # by now its parent has exited: re-parented
    note('orphan %d' % os.getppid())
    forever()


def daemon():  # double fork: its child outlives it
    child(orphan)


def spawner():  # keeps starting short-lived children
    note('spawner')
    while True:
        child(lambda: time.sleep(0.05))
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.01)


note('root')
for body in (plain, stubborn, worker, daemon, spawner):
    child(body)
forever()
'''

ROLES = ('root', 'plain', 'stubborn', 'worker', 'module', 'orphan', 'spawner')

SLEEP_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: a module that runs a while
      ansible.builtin.command: sleep {{ seconds }}
"""


def start_tree(workdir, **popen_kwargs):
    out = os.path.join(workdir, 'tree-%d.txt' % time.monotonic_ns())
    proc = killer.spawn([sys.executable, '-c', TREE, out], **popen_kwargs)

    def roles():
        if not os.path.exists(out):
            return None
        found = {}
        with open(out) as handle:
            for line in handle:
                words = line.split()
                found[words[0]] = killer.process(int(words[-1] if words[0] != 'orphan' else words[2]))
                if words[0] == 'orphan':
                    found['orphan-ppid'] = int(words[1])
        return found if set(ROLES) <= set(found) else None
    return proc, killer.wait_for(roles, timeout=30, proc=proc, what='the whole tree')


def gone(procs):
    return [p.describe() for p in procs if killer.alive(p)]


def test_descendants_include_setsid_sessions_and_crash_kills_every_process(workdir):
    assert killer.SUBREAPER, 'the test process is a child subreaper (Linux prctl)'
    proc, roles = start_tree(workdir)
    below = {p.pid: p for p in killer.descendants(proc.pid)}
    for role in ('plain', 'stubborn', 'worker', 'module', 'spawner'):
        assert roles[role].pid in below, (role, sorted(below))
    root = roles['root']
    assert roles['worker'].sid != root.sid and below[roles['module'].pid].sid == roles['worker'].sid
    # the double-forked orphan was re-parented to this test process, not to init
    assert roles['orphan-ppid'] == os.getpid() == killer.process(roles['orphan'].pid).ppid
    assert roles['orphan'].pid not in below

    report = killer.crash(proc)

    everyone = [roles[r] for r in ROLES]
    assert gone(everyone) == []
    assert proc.returncode == -signal.SIGKILL
    assert killer.tagged(proc.kill_tag) == [] and killer.descendants(proc.pid) == []
    killed = set(p.pid for p in report.killed)
    assert set(p.pid for p in everyone) <= killed
    assert set(p.pid for p in report.other_sessions()) >= {roles['worker'].pid, roles['module'].pid, roles['orphan'].pid}


def test_killpg_alone_leaves_the_setsid_worker_and_its_module_alive(workdir):
    """Why the kill tests need killer.crash: the old kill (the process group) misses setsid()'d processes."""
    proc, roles = start_tree(workdir, start_new_session=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    time.sleep(0.3)
    assert gone([roles['plain'], roles['stubborn'], roles['spawner']]) == []
    survivors = [roles['worker'], roles['module'], roles['orphan']]
    assert len(gone(survivors)) == 3, 'outside the process group: not killed'
    killer.reap_all(keep=[p.pid for p in survivors])  # the group's zombies, re-parented here
    killer.crash(proc)  # the tag finds them even though their parent chain to proc is gone
    assert gone(survivors) == []


def test_crash_stops_a_tree_that_keeps_forking(workdir):
    """The freeze-then-kill loop settles on a tree that forks all the time (no child escapes)."""
    for dummy in range(3):
        proc, roles = start_tree(workdir)
        time.sleep(0.2)
        report = killer.crash(proc)
        assert gone([roles[r] for r in ROLES]) == [] and len(report) >= len(ROLES)


def test_reaper_kills_every_leftover_descendant_but_what_ran_before_it(workdir):
    server = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])  # e.g. a session-wide server
    try:
        with killer.Reaper() as reaper:
            proc, roles = start_tree(workdir)
        assert gone([roles[r] for r in ROLES]) == []
        assert server.poll() is None, 'the reaper killed a process that ran before it'
        assert set(p.pid for p in killer.descendants(os.getpid())) <= set(reaper.before)
        proc.wait(5)
    finally:
        server.kill()
        server.wait()


def ansible_run(workdir, seconds, **env):
    """ansible-playbook running `sleep <seconds>` as a module; returns once the sleep runs. The module's
    payload (tempfile) goes below workdir; its remote tmp too if env says so."""
    runner = PlaybookRunner(workdir, None)
    playbook = write_playbook(workdir, 'sleep.yml', SLEEP_PLAY)
    env.setdefault('TMPDIR', os.path.join(workdir, 'tmp'))
    for path in env.values():
        os.makedirs(path, exist_ok=True)
    proc = killer.spawn(runner.command(playbook, {'seconds': seconds}, vault=False), cwd=workdir,
                        env=runner.env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    command = 'sleep %s' % seconds

    def module_running():
        return [p for p in killer.descendants(proc.pid) if p.cmdline == command]
    sleeper = killer.wait_for(module_running, timeout=120, proc=proc, what='the module')[0]
    return proc, sleeper


def test_crash_of_a_real_ansible_playbook_kills_its_setsid_worker_and_module(workdir):
    proc, sleeper = ansible_run(workdir, 600)
    root = killer.process(proc.pid)
    tree = killer.descendants(proc.pid)
    workers = [p for p in tree if p.ppid == proc.pid and p.sid != root.sid]
    assert workers, 'Ansible runs the task in a worker that called setsid(): %s' % tree
    assert sleeper.sid != root.sid

    report = killer.crash(proc)

    assert gone(tree + [root]) == [] and killer.tagged(proc.kill_tag) == []
    assert sleeper.pid in set(p.pid for p in report.other_sessions())
    assert set(p.pid for p in workers) <= set(p.pid for p in report.killed)
    # nothing cleaned up: the module's temporary directory (in the real user's ~, whatever HOME says) is left
    left = killer.remote_tmp_dirs(report.killed)
    assert left and left == killer.remote_tmp_dirs(workers), 'the crashed module left its temporary directory'
    assert glob.glob(os.path.join(left[0], 'AnsiballZ_command.py'))
    for path in left:
        shutil.rmtree(path)


def test_controller_only_kill_leaves_the_module_running_until_it_ends(workdir):
    proc, sleeper = ansible_run(workdir, 4, ANSIBLE_REMOTE_TEMP=os.path.join(workdir, 'remote-tmp'))
    survivors = killer.kill_controller_only(proc)

    assert proc.returncode == -signal.SIGKILL
    assert [p.pid for p in survivors.running('sleep 4')] == [sleeper.pid], 'the module lives on'
    assert any(p.ppid == os.getpid() for p in survivors.alive()), 're-parented to the test process'
    assert survivors.wait_gone(30, 'sleep 4'), 'the module ended on its own'
    survivors.kill()
    assert survivors.alive() == [] and killer.tagged(proc.kill_tag) == []


def test_wait_for_returns_the_value_or_says_the_moment_was_missed():
    ticks = iter(range(100))
    assert killer.wait_for(lambda: next(ticks) >= 3 and 'now', timeout=5, interval=0.001) == 'now'
    with pytest.raises(killer.Missed, match='within'):
        killer.wait_for(lambda: False, timeout=0.1)
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    with pytest.raises(killer.Missed, match='ended first'):
        killer.wait_for(lambda: False, timeout=30, proc=proc)


class FakeSimulator:
    def __init__(self):
        self.accepted = 0

    def counters(self):
        return {'requests': {'set_password': {'202': self.accepted, '429': 7}}}


def test_progress_moments_and_phases(workdir):
    sim = FakeSimulator()
    sim.accepted = 5  # earlier runs
    write_store(workdir, {'A/a': {'current': 'Old-a-1'}, 'A/b': {'current': 'Old-b-1'}, 'B/b': {'current': 'Old-b-1'}})
    progress = killer.Progress(sim, workdir)
    escrow, apply_2, commit = (killer.moment(progress, 'escrow'), killer.moment(progress, 'apply', 2),
                               killer.moment(progress, 'commit'))
    assert not escrow() and not apply_2() and not commit() and progress.phase() is None

    # escrow: a and the sync group b (two keys, one password) pending
    write_store(workdir, {'A/a': {'current': 'Old-a-1', 'pending': 'New-a-2'},
                          'A/b': {'current': 'Old-b-1', 'pending': 'New-b-2'},
                          'B/b': {'current': 'Old-b-1', 'pending': 'New-b-2'}})
    assert escrow() == ['A/a', 'A/b', 'B/b'] and progress.phase() == 'escrow'
    sim.accepted = 6
    assert not apply_2() and progress.phase() == 'apply'
    sim.accepted = 7
    assert apply_2() and progress.phase() is None, 'every change sent: no longer mid-way'

    # commit: a is current, b still pending (store contract v2 records are read too)
    write_store(workdir, {'A/a': {'current': 'New-a-2'},
                          'A/b': {'current': 'Old-b-1', 'pending': {'password': 'New-b-2', 'attempt': 'x1'}},
                          'B/b': {'current': 'Old-b-1', 'pending': {'password': 'New-b-2', 'attempt': 'x1'}}})
    assert commit() and progress.committed() == ['A/a'] and progress.phase() == 'commit'
    write_store(workdir, {'A/a': {'current': 'New-a-2'}, 'A/b': {'current': 'New-b-2'}, 'B/b': {'current': 'New-b-2'}})
    assert not commit() and progress.phase() is None

    with pytest.raises(ValueError):
        killer.moment(progress, 'plan')


def test_journal_events_count_whole_lines(workdir):
    os.makedirs(os.path.join(workdir, 'rotation'), exist_ok=True)
    with open(os.path.join(workdir, 'rotation', 'ledger.json.journal'), 'w') as handle:
        for event in ('submitting', 'submitted', 'submitting', 'submitted', 'submitting'):
            handle.write(json.dumps({'event': event, 'keys': ['k']}) + '\n')
        handle.write('{"event": "finis')  # cut short by a kill
    assert killer.journal_events(workdir) == {'submitting': 3, 'submitted': 2}
