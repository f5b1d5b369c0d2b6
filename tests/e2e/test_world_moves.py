"""Issue 22, red team: the world (and the operator) moves between a run that leaves passwords pending and the
next one. Each test leaves changes pending (wait_timeout 0 with a completion delay: the run ends while ISC still
works, as after a crash past apply), changes one thing, and checks that no password is lost or stranded."""

import os

from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import PlaybookRunner
from hostile_helpers import file_bytes, rows, state_path
from rotation_helpers import ROTATE, fleet, key_of, read_store, rotate_vars, sha, write_accounts
from test_run_state import default_dir, no_state_dir
from test_escrow import one, run
from test_settlement import RETIRE, full_store


LEAVE_PENDING = {'service_account_rotation_wait_timeout': 0, 'service_account_rotation_fail_on': [],
                 'service_account_rotation_force': True}


def leave_pending(ansible, workdir, accounts):
    first = run(ansible, workdir, accounts, **LEAVE_PENDING)
    assert first.returncode == 0, first.stdout[-3000:]
    store = read_store(workdir)
    pending = dict((key_of(a), store[key_of(a)].get('pending')) for a in accounts)
    assert all(pending.values()), pending
    return pending


def everywhere(workdir):
    """Every password the store holds anywhere (entries and archive), as hashes."""
    out = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            out.add(sha(value))
    walk(full_store(workdir))
    return out


def live(simulator, user, source):
    return [r['passwordSha256'] for r in simulator.accounts(userName=user, sourceName=source)]


def held_everywhere(simulator, workdir, accounts):
    """Keys whose live password is nowhere in the store (entries and archive)."""
    hashes = everywhere(workdir)
    return [key_of(a) for a in accounts if not all(h in hashes for h in live(simulator, a['user_name'], a['source_name']))]


def test_ledger_moved_aside_after_a_corrupt_read_loses_nothing(simulator_factory, workdir):
    """The ledger is cut short by hand while changes are pending: the run stops naming the file and the way out
    (restore it, or move it aside) and changes nothing; moved aside as told, the next run settles every escrowed
    password from the store alone (a sync group's two accounts included), leaving nothing pending."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = [one('svc-app-001', 'Corp-AD'), one('svc-sync-01', 'Unix-LDAP'), one('svc-sync-01', 'Unix-Kerberos')]
    leave_pending(ansible, workdir, accounts)
    path = state_path(workdir, 'ledger.json')
    with open(path, 'r+') as handle:
        handle.truncate(len(handle.read()) // 2)
    store_before = file_bytes(state_path(workdir, 'store.vault'))
    stopped = run(ansible, workdir, accounts)
    assert stopped.returncode != 0
    message = ' '.join(stopped.stdout.split())
    for part in (path + ' is corrupt', 'restore it from backup or move it aside'):
        assert part in message, (part, stopped.stdout[-3000:])
    assert file_bytes(state_path(workdir, 'store.vault')) == store_before
    assert simulator.requests_of('set_password') == 2
    os.rename(path, path + '.aside')
    settled = run(ansible, workdir, accounts)
    assert settled.returncode == 0, settled.stdout[-3000:]
    assert held_everywhere(simulator, workdir, accounts) == []
    assert [k for k, v in read_store(workdir).items() if v.get('pending')] == []
    assert set(r['status'] for r in rows(workdir).values()) == {'rotated'}


def test_shard_setting_changed_while_changes_are_pending_is_refused_until_settled(simulator_factory, workdir):
    """The default state directory follows the shard setting: after a whole-fleet run left changes pending, a run
    of the split job (shard 1/2, its own directory) would never settle them and could send a second change while
    the first is in flight. It is refused, naming the directory, the pending keys and the setting to run once
    more; the run with that setting settles them, and then the split job runs."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = fleet(simulator, prefix='svc-app-', limit=4)
    env = {'XDG_STATE_HOME': os.path.join(workdir, 'xdg-state')}
    values = no_state_dir(rotate_vars(workdir, write_accounts(workdir, accounts)))
    first = ansible.run(ROTATE, dict(values, **LEAVE_PENDING), env=env)
    assert first.returncode == 0, first.stdout[-3000:]
    sent = simulator.requests_of('set_password')
    whole = default_dir(workdir, simulator)
    stopped = ansible.run(ROTATE, dict(values, service_account_rotation_shard='1/2'), env=env)
    assert stopped.returncode != 0
    message = ' '.join(stopped.stdout.split())
    for part in ('%s holds 4 password change(s) still pending' % whole, key_of(accounts[0]),
                 "Run once more with the shard setting ''", 'Nothing was read or sent'):
        assert part in message, (part, stopped.stdout[-3000:])
    assert simulator.requests_of('set_password') == sent
    assert not os.path.exists(os.path.join(os.path.dirname(whole), 'shard-1-of-2', 'ledger.json'))
    settle = ansible.run(ROTATE, values, env=env)
    assert settle.returncode == 0, settle.stdout[-3000:]
    split = ansible.run(ROTATE, dict(values, service_account_rotation_shard='1/2'), env=env)
    assert split.returncode == 0, split.stdout[-3000:]


def test_an_account_re_spelled_while_its_change_is_pending_is_refused_until_the_old_key_is_retired(
        simulator_factory, workdir):
    """The accounts file changes between runs: an account whose change is pending is listed again with its account
    name as account_id (a new key for the same ISC account). Rotating it under the new key would leave the old key's
    entry 'current' with a password the account no longer holds; the run settles the old key's change and refuses
    the new spelling, naming both and the way out, sending nothing for it; once the old key is retired (its
    passwords archived), the new key rotates."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    old, other = one('svc-app-002', 'Corp-LDAP'), one('svc-app-003', 'Oracle-DB')
    pending = leave_pending(ansible, workdir, [old, other])
    new = one('svc-app-002', 'Corp-LDAP', 'svc-app-002')
    refused = run(ansible, workdir, [new, other])
    assert refused.returncode != 0
    row = rows(workdir)[key_of(new)]
    assert row['status'] == 'failed', row
    for part in ('names the same ISC account (uid=svc-app-002,', 'as %s,' % key_of(old), 'retire %s' % key_of(old)):
        assert part in row['detail'], (part, row)
    store = read_store(workdir)
    assert sha(store[key_of(old)]['current']) == sha(pending[key_of(old)]) == live(simulator, 'svc-app-002', 'Corp-LDAP')[0]
    assert key_of(new) not in store and simulator.requests_of('set_password') == 2
    retired = ansible.run(RETIRE, {'rotation_state_dir': os.path.join(workdir, 'rotation'), 'retire_keys': [key_of(old)]})
    assert retired.returncode == 0, retired.stdout[-3000:]
    rotated = run(ansible, workdir, [new, other])
    assert rotated.returncode == 0, rotated.stdout[-3000:]
    store = read_store(workdir)
    assert sha(store[key_of(new)]['current']) == live(simulator, 'svc-app-002', 'Corp-LDAP')[0]
    assert key_of(old) not in store and held_everywhere(simulator, workdir, [new, other]) == []
