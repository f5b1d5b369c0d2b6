"""The Windows and Kubernetes dependent types (issue 27), contract-tested: no Windows host or cluster here, so every
task of the role that calls ansible.windows, community.windows or kubernetes.core is checked against that module's
own documentation, taken from the `ansible` package release the example stores use (test_store_contract): each
parameter is a documented option or alias, each literal value one of its choices, each required option given; and
win_service sets update_password: always (with its default, on_create, the password of an existing service silently
does not change). What runs on a POSIX host (file, systemd, http_health, tasks) is proven end to end by
test_dependents.py. One run of the role proves their preflight for real: with the collections installed but no
Windows host or cluster to answer, each such account is skipped naming why, and nothing is sent for it.
"""

import ast
import glob
import json
import os
import subprocess
import sys
import zipfile

import yaml

from conftest import COLLECTIONS, ensure_collection_link
from rotation_helpers import ROTATE, key_of, rotate_vars, write_accounts
from test_dependents import free_port
from test_store_contract import REPO, ansible_wheel, collections_from_wheel

TASKS = os.path.join(REPO, 'roles', 'service_account_rotation', 'tasks', 'dependents')
PLATFORM_COLLECTIONS = ('ansible.windows.', 'community.windows.', 'kubernetes.core.')


def _documentation(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'DOCUMENTATION':
            return yaml.safe_load(node.value.value)
    raise AssertionError('no DOCUMENTATION')


def platform_collections_path():
    """A collections path with ansible.windows, community.windows and kubernetes.core from the same wheel (cached)."""
    return collections_from_wheel(('ansible/windows', 'community/windows', 'kubernetes/core'), 'platform-collections')


def module_options(wheel, fqcn):
    """{option or alias: its documentation} of a module, its doc fragments' options included."""
    namespace, collection, name = fqcn.split('.')
    doc = _documentation(wheel.read('ansible_collections/%s/%s/plugins/modules/%s.py' % (namespace, collection, name)).decode())
    options = dict(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or ():
        fns, fcoll, fname = fragment.split('.')
        text = wheel.read('ansible_collections/%s/%s/plugins/doc_fragments/%s.py' % (fns, fcoll, fname)).decode()
        options.update(_documentation(text).get('options') or {})
    out = {}
    for option, spec in options.items():
        for alias in [option] + list(spec.get('aliases') or ()):
            out[alias] = spec
    return out


def platform_tasks():
    """(file, task name, module, its parameters) of every task of the dependents that calls a platform collection."""
    found = []
    for path in sorted(glob.glob(os.path.join(TASKS, '*.yml'))):
        with open(path, encoding='utf-8') as handle:
            for task in _flat(yaml.safe_load(handle) or ()):
                modules = [k for k in task if '.' in k]  # the role names every module by its FQCN (ansible-lint)
                assert len(modules) == 1, (path, task.get('name'), modules)
                if modules[0].startswith(PLATFORM_COLLECTIONS):
                    found.append((os.path.basename(path), task['name'], modules[0], task[modules[0]]))
    return found


def _flat(tasks):
    for task in tasks:
        if any(k in task for k in ('block', 'rescue', 'always')):
            for part in ('block', 'rescue', 'always'):
                yield from _flat(task.get(part) or ())
        else:
            yield task


def test_every_platform_task_passes_only_what_its_module_documents():
    wheel = zipfile.ZipFile(ansible_wheel())
    tasks = platform_tasks()
    used = set(module for _f, _n, module, _p in tasks)
    assert used == {'ansible.windows.win_service', 'ansible.windows.win_service_info', 'community.windows.win_scheduled_task',
                    'community.windows.win_scheduled_task_stat', 'community.windows.win_iis_webapppool',
                    'kubernetes.core.k8s', 'kubernetes.core.k8s_info'}, used
    problems = []
    for filename, name, module, params in tasks:
        options = module_options(wheel, module)
        where = '%s: %s (%s)' % (filename, name, module)
        for param, value in params.items():
            if param not in options:
                problems.append('%s: %s is not an option of the module' % (where, param))
                continue
            choices = options[param].get('choices')
            if choices and isinstance(value, (str, bool, int)) and '{{' not in str(value) and value not in choices:
                problems.append('%s: %s=%r is not one of %s' % (where, param, value, choices))
        for option, spec in options.items():
            if spec.get('required') and option not in params and not any(a in params for a in spec.get('aliases') or ()):
                problems.append('%s: the required option %s is missing' % (where, option))
    assert problems == []


def test_the_password_really_changes_and_never_shows():
    tasks = platform_tasks()
    setters = [(f, n, m, p) for f, n, m, p in tasks if 'password' in str(p)]
    assert {m for _f, _n, m, _p in setters} == {'ansible.windows.win_service', 'community.windows.win_scheduled_task',
                                                'community.windows.win_iis_webapppool', 'kubernetes.core.k8s'}
    for filename, _name, module, params in setters:
        if module == 'ansible.windows.win_service':
            assert params['update_password'] == 'always', filename
        if module == 'community.windows.win_scheduled_task':
            assert params['update_password'] is True and params['logon_type'] == 'password', filename
    # kubernetes.core.k8s answers with the patched Secret (the base64 password): its registered result is emptied
    # once counted, so no later task of the play carries it
    with open(os.path.join(TASKS, 'k8s_secret.yml'), encoding='utf-8') as handle:
        k8s_tasks = list(_flat(yaml.safe_load(handle)))
    registered = [t['register'] for t in k8s_tasks if 'kubernetes.core.k8s' in t]
    cleared = [t['ansible.builtin.set_fact'] for t in k8s_tasks if 'ansible.builtin.set_fact' in t]
    assert registered and all(any(c.get(r) == {} for c in cleared) for r in registered), (registered, cleared)
    # every module task that carries the password: no_log, no diff (your task file, included with the password as a
    # variable, sets its own, as the verify hook does)
    for path in glob.glob(os.path.join(TASKS, '*.yml')):
        with open(path, encoding='utf-8') as handle:
            for task in _flat(yaml.safe_load(handle) or ()):
                helper = any(m in task for m in ('ansible.builtin.set_fact', 'ansible.builtin.include_tasks'))
                if '__dep_passwords[' in str(task) and not helper:
                    assert task.get('no_log') is True and task.get('diff') is False, (path, task['name'])


def test_the_types_of_the_role_and_of_the_rules_agree():
    ensure_collection_link()
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import dependents  # pylint: disable=import-outside-toplevel
    with open(os.path.join(TASKS, 'apply_steps.yml'), encoding='utf-8') as handle:
        text = handle.read()
    for kind in dependents.TYPES:
        if kind != 'http_health':  # checked after the restarts, in apply_steps.yml itself
            assert "'%s'" % kind in text and os.path.exists(os.path.join(TASKS, kind + '.yml')), kind


def test_their_preflight_skips_what_cannot_be_reached_or_found(ansible, simulator, workdir):
    """Four Windows dependents on a local host alias (no PowerShell answers there), a Secret behind a kubeconfig-less
    kubernetes.core and one on an unreachable host: each account skipped naming why, 0 set-password for them; the
    account without dependents is rotated in the same run."""
    users = ['svc-app-%03d' % n for n in range(11, 18)]
    sources = ('Corp-AD', 'Corp-LDAP', 'Oracle-DB')
    accounts = [{'source_name': sources[(int(u[-3:]) - 1) % 3], 'user_name': u} for u in users]
    windows = [{'type': 'windows_service', 'service': 'AppSvc'}, {'type': 'scheduled_task', 'task': 'Nightly'},
               {'type': 'iis_app_pool', 'app_pool': 'AppPool'}]
    for acct, dep in zip(accounts, windows):
        acct['dependents'] = [dict(dep, host='winbox', username='CORP\\' + acct['user_name'])]
    accounts[3]['dependents'] = [{'type': 'k8s_secret', 'host': 'localhost', 'namespace': 'apps', 'secret': 'db',
                                  'secret_key': 'password', 'restart_workloads': ['deployment/api']}]
    accounts[4]['dependents'] = [{'type': 'k8s_secret', 'host': 'down-host', 'namespace': 'apps', 'secret': 'db',
                                  'secret_key': 'password'}]
    accounts[5]['dependents'] = [{'type': 'windows_service', 'host': 'down-host', 'service': 'AppSvc', 'username': 'x'}]
    inventory = os.path.join(workdir, 'inventory.yml')
    hosts = {'localhost': {'ansible_connection': 'local'}, 'winbox': {'ansible_connection': 'local'},
             'down-host': {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': free_port(),
                           'ansible_user': 'nobody', 'ansible_ssh_common_args': '-o ConnectTimeout=3 -o BatchMode=yes'}}
    with open(inventory, 'w') as handle:
        yaml.safe_dump({'all': {'hosts': hosts}}, handle)
    values = rotate_vars(workdir, write_accounts(workdir, accounts), service_account_rotation_force=True)
    cmd = ansible.command(ROTATE, values)
    cmd[cmd.index('localhost,')] = inventory
    env = ansible.env(ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([ensure_collection_link(), platform_collections_path()]))
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False)
    with open(os.path.join(workdir, 'rotation', 'report.json')) as handle:
        report = dict((r['account'], r) for r in json.load(handle)['accounts'])
    assert simulator.requests_of('set_password') == 1, result.stdout[-4000:]
    assert report[key_of(accounts[6])]['status'] == 'rotated', report
    why = dict((n, report[key_of(accounts[n])]) for n in range(6))
    assert all(row['status'] == 'skipped' and row['detail'].startswith('dependents preflight: ') for row in why.values()), why
    for n, kind in enumerate(['windows_service', 'scheduled_task', 'iis_app_pool', 'k8s_secret']):
        assert 'dependent %s: host %s could not be checked' % (kind, 'localhost' if n == 3 else 'winbox') in why[n]['detail'], why[n]
    assert 'dependent k8s_secret: host down-host is unreachable' in why[4]['detail'], why[4]
    assert 'dependent windows_service: host down-host is unreachable' in why[5]['detail'], why[5]
