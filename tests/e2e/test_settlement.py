"""Issue 22, the settlement side, through ansible-playbook against the simulator: a pending password is
settled in a bounded number of runs whatever the world does (an expired request id, a tightened policy, an
account ISC no longer knows)."""

import json
import os
import time
import urllib.parse
import urllib.request

from ansible.parsing.vault import VaultLib, VaultSecret

from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import PlaybookRunner
from hostile_helpers import live_hash, report, rows, write_vault_file
from rotation_helpers import ROTATE, VAULT_PASSWORD, key_of, read_store, rotate_vars, sha, write_accounts


def one(user, source):
    return {'source_name': source, 'user_name': user}


def run(ansible, workdir, accounts, **extra):
    values = rotate_vars(workdir, write_accounts(workdir, accounts))
    values.update(extra)
    return ansible.run(ROTATE, values)


def test_expired_request_id_answering_400_1_404_is_settled_by_re_sending(simulator_factory, workdir):
    """Item 7: ISC forgot the request ids of changes still pending and answers 400 400.1.404 for them: the next
    run re-sends the escrowed passwords (not new ones) and commits them, instead of stopping every rotation of
    the state directory with a message about credentials."""
    simulator = simulator_factory('--completion-delay', '3', '--unknown-request-status', '400')
    ansible = PlaybookRunner(workdir, simulator)
    accounts = [one('svc-app-001', 'Corp-AD'), one('svc-app-002', 'Corp-LDAP')]
    first = run(ansible, workdir, accounts, service_account_rotation_wait_timeout=0, service_account_rotation_fail_on=[])
    assert first.returncode == 0, first.stdout[-3000:]
    pending = dict((key_of(a), read_store(workdir)[key_of(a)]['pending']) for a in accounts)
    assert all(pending.values())
    assert simulator.call('POST', '/__sim/forget-requests', {})['forgotten']
    second = run(ansible, workdir, accounts)
    assert second.returncode == 0, second.stdout[-3000:]
    assert 'credentials' not in second.stdout
    store = read_store(workdir)
    for account in accounts:
        assert store[key_of(account)] == dict(store[key_of(account)], current=pending[key_of(account)])
        assert 'pending' not in store[key_of(account)]
        assert sha(pending[key_of(account)]) == live_hash(simulator, account)
        assert rows(workdir)[key_of(account)]['status'] == 'rotated'
    assert simulator.requests_of('set_password') == 4, 'each escrowed password re-sent once'
    assert report(workdir)['totals'] == {'rotated': 2}


def _pat_call(simulator, method, path, body=None):
    """A password-configuration call with the seed's ORG_ADMIN personal access token (as an operator would make it)."""
    form = urllib.parse.urlencode({'grant_type': 'client_credentials', 'client_id': 'demo-pat-id',
                                   'client_secret': 'demo-pat-secret'}).encode()
    with urllib.request.urlopen(urllib.request.Request(simulator.base_url + '/oauth/token', data=form), timeout=30) as resp:
        token = json.loads(resp.read())['access_token']
    req = urllib.request.Request(simulator.base_url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b'null')


def tighten_policy(simulator, source, min_length):
    policy_id = simulator.call('GET', '/__sim/password-config')['effective'][source]
    policy = _pat_call(simulator, 'GET', '/v3/password-policies/' + policy_id)
    for field in ('id', 'dateCreated', 'lastUpdated', 'created', 'modified'):
        policy.pop(field, None)
    _pat_call(simulator, 'PUT', '/v3/password-policies/' + policy_id, dict(policy, minLength=min_length))


def full_store(workdir):
    vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD))])
    with open(os.path.join(workdir, 'rotation', 'store.vault'), 'rb') as handle:
        return json.loads(vault.decrypt(handle.read()))


def test_pending_password_refused_by_a_tightened_policy_is_superseded(ansible, simulator, workdir):
    """Item 4: ISC applied P1 but its answer was lost; then the policy was tightened (min length 60). The next run
    sends a fresh compliant password instead of P1 (which ISC would fail for ever), keeps P1 until the new change
    is FINISHED, then as previous; the run passes and consumers read the new password."""
    account = one('svc-app-001', 'Corp-AD')
    simulator.set_faults({'set_password': {'drop_after_accept_rate': 1.0}})
    first = run(ansible, workdir, [account])
    assert first.returncode != 0 and rows(workdir)[key_of(account)]['status'] == 'unknown'
    p1 = read_store(workdir)[key_of(account)]['pending']
    assert sha(p1) == live_hash(simulator, account) and len(p1) < 60
    simulator.set_faults({})
    tighten_policy(simulator, 'Corp-AD', 60)
    second = run(ansible, workdir, [account])
    assert second.returncode == 0, second.stdout[-3000:]
    row = rows(workdir)[key_of(account)]
    assert row['status'] == 'superseded' and 'superseded' in row['detail'], row
    entry = read_store(workdir)[key_of(account)]
    assert 'pending' not in entry and entry['previous'] == p1 and len(entry['current']) >= 60
    assert sha(entry['current']) == live_hash(simulator, account)
    assert simulator.requests_of('set_password') == 2, 'P1 was not sent again: the fresh password was'
    logs = second.stdout + second.stderr + json.dumps(report(workdir))
    with open(os.path.join(workdir, 'rotation', 'ledger.json')) as handle:
        logs += handle.read()
    assert p1 not in logs and entry['current'] not in logs, 'no password in the output, the report or the ledger'
    third = run(ansible, workdir, [account])
    assert third.returncode == 0 and simulator.requests_of('set_password') == 2, 'settled for good'


def test_pending_account_isc_no_longer_knows_is_retired_and_archived(ansible, simulator, workdir):
    """Item 5: the identity of an account whose password is pending is deleted. The next run reports it retired once,
    archives its passwords (no current left for consumers), rotates the others and passes; later runs with the
    account still listed pass too, and send nothing for it."""
    gone, kept = one('svc-app-001', 'Corp-AD'), one('svc-app-004', 'Corp-AD')
    simulator.set_faults({'set_password': {'drop_after_accept_rate': 1.0}})
    first = run(ansible, workdir, [gone, kept])
    assert first.returncode != 0
    p1 = read_store(workdir)[key_of(gone)]['pending']
    simulator.set_faults({})
    simulator.call('POST', '/__sim/delete-account', {'userName': 'svc-app-001'})
    second = run(ansible, workdir, [gone, kept])
    assert second.returncode == 0, second.stdout[-3000:]
    assert rows(workdir)[key_of(gone)]['status'] == 'retired' and rows(workdir)[key_of(kept)]['status'] == 'rotated'
    document = full_store(workdir)
    assert key_of(gone) not in document['accounts'], 'consumers find no current for it'
    archived = document['archive'][key_of(gone)]
    assert len(archived) == 1 and archived[0]['pending'] == p1 and archived[0]['pending_attempt']
    assert p1 not in second.stdout + second.stderr
    # The store no longer holds kept's entry (a store replaced or edited by hand), then ISC forgets kept too: with
    # nothing to archive it is retired all the same, once, instead of failing every run (forced: not due, it is not read).
    document['accounts'].pop(key_of(kept))
    write_vault_file(workdir, json.dumps(document, sort_keys=True).encode())
    simulator.call('POST', '/__sim/delete-account', {'userName': kept['user_name']})
    sent = simulator.requests_of('set_password')
    for run_number in range(2):
        again = run(ansible, workdir, [gone, kept], service_account_rotation_force=True)
        assert again.returncode == 0, again.stdout[-3000:]
        assert rows(workdir)[key_of(gone)]['status'] == 'skipped' and 'retired' in rows(workdir)[key_of(gone)]['detail']
        assert rows(workdir)[key_of(kept)]['status'] == ('retired', 'skipped')[run_number], rows(workdir)[key_of(kept)]
    assert simulator.requests_of('set_password') == sent and len(full_store(workdir)['archive'][key_of(gone)]) == 1
    assert key_of(kept) not in full_store(workdir).get('archive', {}), 'nothing to archive: nothing invented'


def test_account_deleted_after_its_pending_change_finished_is_retired_not_committed(simulator_factory, workdir):
    """Item 5, the other half: the run that sent the change ended before it FINISHED (its password pending, a request
    open); ISC applied it, then the identity was deleted. The next run settles the change and archives the applied
    password (no current left for consumers; reported retired, the ledger stops rotating it) instead of committing it
    as current (that later runs skip a retired account is test_pending_account_isc_no_longer_knows_is_retired_and_archived's)."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    gone, kept = one('svc-app-001', 'Corp-AD'), one('svc-app-004', 'Corp-AD')
    first = run(ansible, workdir, [gone, kept], service_account_rotation_wait_timeout=0, service_account_rotation_poll_interval=0.2,
                service_account_rotation_fail_on=[])
    assert first.returncode == 0, first.stdout[-3000:]
    applied = read_store(workdir)[key_of(gone)]['pending']
    deadline = time.time() + 60
    while simulator.call('GET', '/__sim/in-flight')['changesInProgress'] and time.time() < deadline:
        time.sleep(0.1)
    assert live_hash(simulator, gone) == sha(applied), 'ISC applied the change before the deletion'
    simulator.call('POST', '/__sim/delete-account', {'userName': gone['user_name']})
    again = run(ansible, workdir, [gone, kept])
    assert again.returncode == 0, again.stdout[-3000:]
    assert rows(workdir)[key_of(gone)]['status'] == 'retired', rows(workdir)[key_of(gone)]
    assert rows(workdir)[key_of(kept)]['status'] == 'rotated'  # its change FINISHED too: committed
    document = full_store(workdir)
    assert key_of(gone) not in document['accounts'], 'consumers find no current for it'
    archived = document['archive'][key_of(gone)]
    assert len(archived) == 1 and archived[0]['current'] == applied and 'pending' not in archived[0]
    assert simulator.requests_of('set_password') == 2


RETIRE = 'sailpoint_isc.passwords.retire_accounts'


def test_retire_accounts_playbook_refuses_an_open_request_and_archives(simulator_factory, workdir):
    """Item 5, by hand: retire_accounts.yml refuses a key whose change has a request open at ISC, changing nothing;
    once the rotation settled it, it moves the key's passwords to the archive and the ledger marks it retired."""
    simulator = simulator_factory('--completion-delay', '3')
    ansible = PlaybookRunner(workdir, simulator)
    account = one('svc-app-001', 'Corp-AD')
    first = run(ansible, workdir, [account], service_account_rotation_wait_timeout=0, service_account_rotation_fail_on=[])
    assert first.returncode == 0, first.stdout[-3000:]
    before = full_store(workdir)
    values = {'rotation_state_dir': os.path.join(workdir, 'rotation'), 'retire_keys': [key_of(account)]}
    refused = ansible.run(RETIRE, values)
    assert refused.returncode != 0 and 'a password change request is open at ISC' in refused.stdout, refused.stdout[-3000:]
    assert full_store(workdir) == before
    time.sleep(3.5)
    settled = run(ansible, workdir, [account])
    assert settled.returncode == 0, settled.stdout[-3000:]
    current = read_store(workdir)[key_of(account)]['current']
    checked = ansible.run(RETIRE, values, check=True)
    assert checked.returncode == 0 and 'Would retire' in checked.stdout and read_store(workdir)[key_of(account)]['current'] == current
    done = ansible.run(RETIRE, values)
    assert done.returncode == 0, done.stdout[-3000:]
    document = full_store(workdir)
    assert key_of(account) not in document['accounts'] and document['archive'][key_of(account)][-1]['current'] == current
    with open(os.path.join(workdir, 'rotation', 'ledger.json')) as handle:
        assert json.load(handle)['accounts'][key_of(account)]['state'] == 'retired'
    assert current not in done.stdout + checked.stdout + refused.stdout
    assert not os.path.exists(os.path.join(workdir, 'rotation', 'ledger.json.lease')), 'the lease is given back'
