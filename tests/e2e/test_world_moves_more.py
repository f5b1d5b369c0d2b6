"""Red team, round 2: the world moves in ways the simulator had no hook for (POST /__sim/world, world.py): an
account renamed or moved to another identity, a source deleted or its PASSWORD feature removed, the API client
narrowed or revoked, while changes are pending and during a run. The rule each time: no live password only in the
archive or nowhere (lost), no pending password left for ever (stranded), the refusal naming the account, what moved
and what the operator does."""

import os
import signal
import subprocess

import pytest

import killer
from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import PlaybookRunner
from hostile_helpers import rows
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, sha, write_accounts
from test_escrow import one, run
from test_settlement import _pat_call, tighten_policy
from test_world_moves import everywhere, leave_pending


def move(simulator, **body):
    return simulator.call('POST', '/__sim/world', body)['moved']


def held_hash(simulator, account):
    """The account's live password (its hash) at the simulator; account_id matches its id or name."""
    digest = [r['passwordSha256'] for r in simulator.accounts(userName=account['user_name'], sourceName=account['source_name'])
              if account.get('account_id') in (None, r['accountId'], r['accountName'])]
    assert len(digest) == 1, (account, digest)
    return digest[0]


def held(simulator, workdir, account, as_key=None):
    """(held as current or pending under the key, held anywhere in the store) for the account's live password."""
    entry = read_store(workdir).get(as_key or key_of(account), {})
    digest = held_hash(simulator, account)
    return digest in [sha(p) for p in (entry.get('current'), entry.get('pending')) if p], digest in everywhere(workdir)


@pytest.mark.xfail(strict=True, reason='ISC answers a renamed or moved account as unknown (400.1.404 or its account_id '
                   'gone): the run retires the key, so the live password is only in the archive, never current; '
                   'following the account needs its stable ISC id (search/accounts), not yet read')
def test_an_account_renamed_or_moved_while_its_change_is_pending_keeps_its_live_password(simulator_factory, workdir):
    """Changes are pending (the run ended while ISC worked); then an account listed by account_id is renamed
    natively and another moves to another identity. The next run settles both changes (nothing stays pending), but
    the store must still hold each account's live password as current under the key that names it."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    by_id, moving, plain = one('Carl.Jones', 'My-AD', 'Carl.Jones-adm'), one('svc-app-013', 'Corp-AD'), one('svc-app-010', 'Corp-AD')
    accounts = [by_id, moving, plain]
    leave_pending(ansible, workdir, accounts)
    move(simulator, move='rename-account', userName='Carl.Jones', sourceName='My-AD', accountId='Carl.Jones-adm',
         newAccountId='CJ-admin', newAccountName='CJ-admin')
    move(simulator, move='move-account', userName='svc-app-013', sourceName='Corp-AD', toUserName='svc-app-016')
    move(simulator, move='rename-account', userName='svc-app-010', sourceName='Corp-AD', newAccountId='CN=svc-app-010-r',
         newAccountName='svc-app-010-r')  # listed without account_id: the same key still names it
    settled = run(ansible, workdir, accounts, service_account_rotation_fail_on=[])
    assert settled.returncode == 0, settled.stdout[-3000:]
    assert [k for k, v in read_store(workdir).items() if v.get('pending')] == [], 'nothing stranded'
    assert held(simulator, workdir, plain) == (True, True)
    report = rows(workdir)
    for key in (key_of(by_id), key_of(moving)):
        assert 'renamed or moved to another identity rather than deleted' in report[key]['detail'], report[key]
    renamed, moved = dict(by_id, account_id='CJ-admin'), dict(moving, user_name='svc-app-016', account_id='svc-app-013')
    assert held(simulator, workdir, renamed, key_of(by_id))[1] and held(simulator, workdir, moved, key_of(moving))[1], \
        'at least in the archive'
    assert held(simulator, workdir, renamed, key_of(by_id)) == (True, True), 'current under the key that named it'
    assert held(simulator, workdir, moved, key_of(moving)) == (True, True)


def spawn_run(ansible, workdir, values):
    """Start the rotation (output to a file: a full pipe would stall it) -> (process, its output file)."""
    out = open(os.path.join(workdir, 'run-%d.out' % len(os.listdir(workdir))), 'w+')  # pylint: disable=consider-using-with
    proc = killer.spawn(ansible.command(ROTATE, values), cwd=workdir, env=ansible.env(), stdout=out,
                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return proc, out


def finished(proc, out):
    proc.wait(300)
    out.seek(0)
    with out:
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), '')


def frozen_at_escrow(ansible, simulator, workdir, accounts, while_frozen, **extra):
    """Run the rotation, freeze every process of it (SIGSTOP) once the plan's passwords are escrowed and before
    they are sent, call while_frozen(), let it go on (SIGCONT); returns the finished run."""
    progress = killer.Progress(simulator, workdir)
    simulator.set_faults({'sync_groups': {'latency': 2.0}})  # apply re-reads the groups right before sending
    proc, out = spawn_run(ansible, workdir, rotate_vars(workdir, write_accounts(workdir, accounts), **extra))
    killer.wait_for(killer.moment(progress, 'escrow'), timeout=120, proc=proc, what='the escrow')
    frozen = {}
    for dummy in range(3):  # again, for a process started while the others were being stopped
        for each in killer.tagged(proc.kill_tag):
            if each.pid not in frozen:
                os.kill(each.pid, signal.SIGSTOP)
                frozen[each.pid] = each
    try:
        assert progress.accepted() == 0, 'frozen before any set-password'
        simulator.set_faults({})
        while_frozen()
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    return finished(proc, out)


def create_group(simulator, name, sources):
    config = simulator.call('GET', '/__sim/password-config')
    ids = [r['sourceId'] for r in simulator.accounts() if r['sourceName'] in sources]
    _pat_call(simulator, 'POST', '/v3/password-sync-groups', {'name': name, 'passwordPolicyId': config['effective'][sources[0]],
                                                              'sourceIds': sorted(set(ids))})


def test_the_world_moves_between_plan_and_apply_and_the_client_is_revoked_mid_apply(simulator_factory, workdir):
    """Frozen (SIGSTOP) after the plan escrowed its passwords: a policy is tightened, a sync group is created that
    joins a listed account's source to another where its identity has an account, and a source loses its PASSWORD
    feature. Then, in another run, the API client is revoked once ISC accepted a first change. Nothing is lost or
    stranded: refused changes discard their never-applied passwords, the new group member is stored, a change sent
    before the revocation stays pending and the next run (the client let back in) settles it."""
    simulator = simulator_factory('--completion-delay', '1')
    ansible = PlaybookRunner(workdir, simulator)
    move(simulator, move='move-account', userName='svc-app-043', sourceName='Corp-AD', toUserName='svc-app-044')
    grouped, tight, no_feature = one('svc-app-044', 'Corp-LDAP'), one('svc-app-045', 'Oracle-DB'), one('Abby.Smith', 'My-AD')
    joined = one('svc-app-044', 'Corp-AD')
    seed = dict((key_of(a), held_hash(simulator, a)) for a in (tight, no_feature))

    def world_moves():
        tighten_policy(simulator, 'Oracle-DB', 28)
        create_group(simulator, 'Corp Sync', ['Corp-LDAP', 'Corp-AD'])
        move(simulator, move='source-features', sourceName='My-AD', features=['AUTHENTICATE'])
    # the verify task file is handed the password of the change planned again (replan.yml), not the held-back one's
    verified = os.path.join(workdir, 'verified.txt')
    verify = os.path.join(workdir, 'verify.yml')
    with open(verify, 'w') as handle:
        handle.write('- name: Note the hash of the password handed to verify\n'
                     '  ansible.builtin.lineinfile:\n    path: %s\n    create: true\n    mode: "0600"\n'
                     '    line: "{{ service_account_rotation_verify_account.key }} '
                     '{{ service_account_rotation_verify_password | hash(\'sha256\') }}"\n  no_log: true\n' % verified)
    done = frozen_at_escrow(ansible, simulator, workdir, [grouped, tight, no_feature], world_moves,
                            service_account_rotation_fail_on=[], service_account_rotation_verify_tasks=verify)
    assert done.returncode == 0, done.stdout[-3000:]
    report = rows(workdir)
    with open(verified) as handle:
        handed = dict(line.split() for line in handle.read().splitlines())
    assert handed == dict((key_of(a), held_hash(simulator, a)) for a in (grouped, joined)), 'verify got the re-planned password'
    assert report[key_of(grouped)]['status'] == 'rotated', report[key_of(grouped)]
    assert 'passwordMinLength is 28' in report[key_of(tight)]['detail'], report[key_of(tight)]
    assert 'does not support password management' in report[key_of(no_feature)]['detail'], report[key_of(no_feature)]
    for account in (tight, no_feature):
        assert report[key_of(account)]['status'] == 'failed' and held_hash(simulator, account) == seed[key_of(account)]
    assert held(simulator, workdir, grouped) == held(simulator, workdir, joined) == (True, True)
    assert held_hash(simulator, grouped) == held_hash(simulator, joined), 'one change reached both'
    assert [k for k, v in read_store(workdir).items() if v.get('pending')] == []

    revoked = [one('svc-app-%03d' % n, 'Oracle-DB') for n in (24, 27, 30, 33)]
    seed = dict((key_of(a), held_hash(simulator, a)) for a in revoked)
    values = rotate_vars(workdir, write_accounts(workdir, revoked), service_account_rotation_fail_on=[])
    progress = killer.Progress(simulator, workdir)
    simulator.set_faults({'set_password': {'latency': 1.0}})
    proc, out = spawn_run(ansible, workdir, values)
    killer.wait_for(killer.moment(progress, 'apply', 1), timeout=120, proc=proc, what='the first set-password')
    move(simulator, move='api-client', clientId='demo-client-id', revoked=True)
    done = finished(proc, out)
    assert done.returncode == 0, done.stdout[-3000:]
    report, store = rows(workdir), read_store(workdir)
    assert 'unknown' in set(r['status'] for r in report.values()), report
    for account in revoked:
        key = key_of(account)
        if report[key]['status'] == 'unknown':  # sent: its password may be live, kept pending
            assert 'oauth-token failed: HTTP 401' in report[key]['detail'] and store[key].get('pending'), report[key]
        else:  # never sent: discarded, the account untouched
            assert report[key]['status'] == 'failed' and 'not sent' in report[key]['detail'], report[key]
            assert not store.get(key, {}).get('pending') and held_hash(simulator, account) == seed[key]
    simulator.set_faults({})
    move(simulator, move='api-client', clientId='demo-client-id', revoked=False)
    settled = run(ansible, workdir, revoked)
    assert settled.returncode == 0, settled.stdout[-3000:]
    assert all(held(simulator, workdir, a) == (True, True) for a in revoked)
    assert [k for k, v in read_store(workdir).items() if v.get('pending')] == []
