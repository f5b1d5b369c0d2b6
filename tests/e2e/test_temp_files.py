"""Issue 22 item 3: no task of the role, and no isc_* module on its own, writes a password or a credential to a
temporary file, in any mode.

The API client secret is given the way issue 22 found it leaking: through module_defaults (isc_client_secret of
the shipped playbook). ANSIBLE_HOME, ANSIBLE_LOCAL_TEMP and ANSIBLE_REMOTE_TEMP point into the work directory;
a thread reads every file that appears below them while the run goes on (a module that is not pipelined lives
there as AnsiballZ_<module>.py, with its arguments, for as long as it runs), and the trees are read again after
the run and after a crash (killer.crash). Every text is searched for the client secret and for every password
the run escrowed (as is, escaped and in base64), on the oldest supported ansible-core, the project's and the
newest. Where Ansible cannot pipeline (ANSIBLE_KEEP_REMOTE_FILES, become_method su) the role refuses before
anything is generated or sent, naming the setting.
"""

import os
import subprocess
import threading

import pytest

import killer
from conftest import write_playbook
from cores import core_venv
from hostile_helpers import StoreWatcher
from killer import no_stray_processes  # autouse: nothing a test starts outlives it # noqa: F401 # pylint: disable=unused-import
from rotation_helpers import ROTATE, fleet, rotate_vars, write_accounts
from test_leaks import CLIENT_ID, CLIENT_SECRET, Canaries, canary_env  # noqa: F401 # pylint: disable=unused-import

# A verify hook whose module takes the new password as an argument (a stat of a path that names it): Ansible
# would write it to AnsiballZ_stat.py unless the role's tasks, its hooks included, are pipelined.
VERIFY_HOOK = """
- name: Look the password up as a module argument (test only)
  ansible.builtin.stat:
    path: "/nonexistent/{{ service_account_rotation_verify_password }}"
  no_log: true
"""

SU_PLAY = """
- name: The role under become_method su
  hosts: localhost
  connection: local
  gather_facts: false
  become: true
  become_method: su
  vars_files:
    - "{{ rotation_accounts_file }}"
  vars:
    service_account_rotation_state_dir: "{{ rotation_state_dir }}"
  roles:
    - role: sailpoint_isc.passwords.service_account_rotation
"""


# The modules on their own in a user's play, with Ansible's default (pipelining off): the new password and the client
# secret (module_defaults) are arguments; each module's action runs it pipelined (plugin_utils/pipelining.py)
MODULES_PLAY = """
- name: The modules on their own, pipelining left at Ansible's default (off)
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/sailpoint_isc.passwords.isc:
      client_id: "{{ canary_client_id }}"
      client_secret: "{{ canary_client_secret }}"
  tasks:
    - name: Set one password
      sailpoint_isc.passwords.isc_set_password:
        source_name: Corp-AD
        user_name: svc-app-001
        password: "{{ canary_password }}"
        wait: true
        poll_interval: 1
    - name: Read its policy
      sailpoint_isc.passwords.isc_password_info:
        source_name: Corp-AD
        user_name: svc-app-001
"""
MODULE_PASSWORD = 'Standalone-Canary-7wQ2!x'


class TreeWatcher(threading.Thread):
    """Reads every file below roots as it appears or changes, until stopped: path -> texts seen."""

    def __init__(self, roots, interval=0.005):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.seen = {}
        self._signatures = set()
        self._halt = threading.Event()

    def sweep(self):
        for root in self.roots:
            for directory, dummy, names in os.walk(root):
                for name in names:
                    path = os.path.join(directory, name)
                    try:
                        info = os.stat(path)
                        signature = (path, info.st_ino, info.st_mtime_ns, info.st_size)
                        if signature in self._signatures or info.st_size > (32 << 20):
                            continue
                        with open(path, 'rb') as handle:
                            text = handle.read().decode('utf-8', 'replace')
                    except OSError:
                        continue
                    self._signatures.add(signature)
                    self.seen.setdefault(path, []).append(text)

    def run(self):
        while not self._halt.is_set():
            self.sweep()
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(30)
        self.sweep()

    def findings(self, canaries):
        return sorted('%s: %s' % (path, sorted(set(kind for text in texts for kind in canaries.find(text))))
                      for path, texts in self.seen.items() if any(canaries.find(text) for text in texts))


def temp_roots(workdir):
    roots = {'ANSIBLE_HOME': os.path.join(workdir, 'ansible-home'),
             'ANSIBLE_LOCAL_TEMP': os.path.join(workdir, 'ansible-tmp'),
             'ANSIBLE_REMOTE_TEMP': os.path.join(workdir, 'remote-tmp')}
    for path in roots.values():
        os.makedirs(path, exist_ok=True)
    return roots


def secret_vars(workdir, accounts, **extra):
    """The client secret through module_defaults (the shipped playbook's isc_client_secret), not the environment."""
    return rotate_vars(workdir, write_accounts(workdir, accounts), isc_client_id=CLIENT_ID, isc_client_secret=CLIENT_SECRET,
                       service_account_rotation_poll_interval=0.5, **extra)


def run_env(ansible, roots, **extra):
    return dict(roots, SAIL_CLIENT_ID='', SAIL_CLIENT_SECRET='', **extra)


@pytest.mark.parametrize('core', ['project', '2.16.19', '2.21.5'])
def test_no_secret_in_ansible_temp_files_during_or_after_a_run(canary_env, workdir, core):  # noqa: F811 # pylint: disable=redefined-outer-name
    simulator, ansible, canaries = canary_env
    if core != 'project':
        ansible.use_venv(core_venv(core))
    roots = temp_roots(workdir)
    hook = write_playbook(workdir, 'verify.yml', VERIFY_HOOK)
    accounts = fleet(simulator, prefix='svc-app-', limit=3)
    values = secret_vars(workdir, accounts, service_account_rotation_verify_tasks=hook)
    watcher = TreeWatcher(sorted(roots.values()))
    with StoreWatcher(workdir, interval=0.01) as store:
        watcher.start()
        try:
            result = ansible.run(ROTATE, values, env=run_env(ansible, roots))
        finally:
            watcher.stop()
    assert result.returncode == 0, result.stdout[-4000:]
    assert result.stdout.count('Look the password up as a module argument') == len(accounts), 'the hook ran per account'
    assert simulator.requests_of('set_password') == len(accounts)
    assert simulator.counters()['tokensIssued'] >= 1, 'the canary client was used'
    passwords = store.passwords()
    assert len(passwords) == len(accounts)
    for value in passwords:
        canaries.add('password', value)
    assert watcher.seen, 'the watcher read the temporary trees'
    assert watcher.findings(canaries) == [], 'secrets in temporary files during or after the run'
    assert canaries.find(result.stdout + result.stderr) == []


def test_no_secret_in_ansible_temp_files_after_a_crash(canary_env, workdir):  # noqa: F811 # pylint: disable=redefined-outer-name
    simulator, ansible, canaries = canary_env
    roots = temp_roots(workdir)
    accounts = fleet(simulator, prefix='svc-app-')
    values = secret_vars(workdir, accounts, service_account_rotation_force=True)
    progress = killer.Progress(simulator, workdir)
    watcher = TreeWatcher(sorted(roots.values()))
    with StoreWatcher(workdir, interval=0.01) as store:
        watcher.start()
        proc = killer.spawn(ansible.command(ROTATE, values), cwd=workdir, env=ansible.env(**run_env(ansible, roots)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            killer.wait_for(killer.moment(progress, 'apply', 2), timeout=300, proc=proc, what='apply')
        finally:
            killer.crash(proc)
            watcher.stop()
    passwords = store.passwords()
    assert passwords
    for value in passwords:
        canaries.add('escrowed password', value)
    assert watcher.findings(canaries) == [], 'secrets in temporary files during the run or after the crash'


@pytest.mark.parametrize('core', ['project', '2.16.19', '2.21.5'])
def test_keep_remote_files_is_refused_before_anything_is_generated_or_sent(canary_env, workdir, core):  # noqa: F811 # pylint: disable=redefined-outer-name
    simulator, ansible, canaries = canary_env
    if core != 'project':
        ansible.use_venv(core_venv(core))
    roots = temp_roots(workdir)
    values = secret_vars(workdir, fleet(simulator, prefix='svc-app-', limit=2))
    result = ansible.run(ROTATE, values, env=run_env(ansible, roots, ANSIBLE_KEEP_REMOTE_FILES='1'))
    assert result.returncode != 0
    assert 'ANSIBLE_KEEP_REMOTE_FILES' in result.stdout and 'Nothing was read, generated or sent' in result.stdout, \
        result.stdout[-3000:]
    assert sum(sum(v.values()) for v in simulator.counters()['requests'].values()) == 0, 'nothing sent, not even a token request'
    assert not os.path.exists(os.path.join(workdir, 'rotation')), 'nothing written'
    watcher = TreeWatcher(sorted(roots.values()))
    watcher.sweep()
    assert watcher.findings(canaries) == []


@pytest.mark.parametrize('core', ['project', '2.16.19', '2.21.5'])
def test_standalone_modules_run_pipelined_and_refuse_where_they_cannot(canary_env, workdir, core):  # noqa: F811 # pylint: disable=redefined-outer-name
    """Each isc_* module's action runs it pipelined even where the play leaves pipelining off (Ansible's default,
    which would put AnsiballZ_isc_set_password.py with the password and client secret under the temporary
    directory), and refuses, sending nothing, where Ansible cannot pipeline (ANSIBLE_KEEP_REMOTE_FILES)."""
    simulator, ansible, canaries = canary_env
    if core != 'project':
        ansible.use_venv(core_venv(core))
    canaries.add('password', MODULE_PASSWORD)
    roots = temp_roots(workdir)
    play = write_playbook(workdir, 'modules.yml', MODULES_PLAY)
    values = {'canary_client_id': CLIENT_ID, 'canary_client_secret': CLIENT_SECRET, 'canary_password': MODULE_PASSWORD}
    refused = ansible.run(play, values, env=run_env(ansible, roots, ANSIBLE_KEEP_REMOTE_FILES='1', ANSIBLE_PIPELINING='False'),
                          vault=False)
    assert refused.returncode != 0 and 'ANSIBLE_KEEP_REMOTE_FILES' in refused.stdout and 'Nothing was sent' in refused.stdout, \
        refused.stdout[-3000:]
    assert sum(sum(v.values()) for v in simulator.counters()['requests'].values()) == 0, 'nothing sent, not even a token request'
    watcher = TreeWatcher(sorted(roots.values()))
    watcher.start()
    try:
        result = ansible.run(play, values, env=run_env(ansible, roots, ANSIBLE_PIPELINING='False'), vault=False)
    finally:
        watcher.stop()
    assert result.returncode == 0, result.stdout[-3000:]
    assert simulator.requests_of('set_password') == 1 and 'changed: [localhost]' in result.stdout
    assert watcher.findings(canaries) == [], 'secrets in temporary files'
    assert not any('AnsiballZ' in path for path in watcher.seen), sorted(watcher.seen)
    assert canaries.find(result.stdout + result.stderr + refused.stdout + refused.stderr) == []


def test_become_su_is_refused_naming_the_become_method(ansible, simulator, workdir):
    values = rotate_vars(workdir, write_accounts(workdir, fleet(simulator, prefix='svc-app-', limit=2)))
    result = ansible.run(write_playbook(workdir, 'su.yml', SU_PLAY), values)
    assert result.returncode != 0
    assert 'become method su cannot pipeline' in result.stdout, result.stdout[-3000:]
    assert sum(sum(v.values()) for v in simulator.counters()['requests'].values()) == 0
    assert not os.path.exists(os.path.join(workdir, 'rotation'))
