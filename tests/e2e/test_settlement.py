"""Issue 22, the settlement side, through ansible-playbook against the simulator: a pending password is
settled in a bounded number of runs whatever the world does (an expired request id, a tightened policy, an
account ISC no longer knows)."""

from killer import no_stray_processes  # autouse: nothing outlives a test # noqa: F401 # pylint: disable=unused-import
from conftest import PlaybookRunner
from hostile_helpers import live_hash, report, rows
from rotation_helpers import ROTATE, key_of, read_store, rotate_vars, sha, write_accounts


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
