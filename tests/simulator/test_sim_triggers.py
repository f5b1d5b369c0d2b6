"""Moments a test chooses (/__sim/triggers) and when a change reads its sync group (sync_fanout): issue 22 item 1.

An identity with accounts on both members of the Unix sync group and on Corp-LDAP, outside it. A trigger changes
the group when the Nth request of an operation arrives or is answered; with ``sync_fanout: completion`` a change
reaches the members of the group as it is when the change completes, and its status lists those sources.
"""

import hashlib

import pytest

from tools.isc_simulator.seed import load_seed

from .helpers import Api, wait_terminal

UNIX = 'Unix Password Sync'


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def three_source_seed():
    seed = load_seed()
    seed['identities'].append({'name': 'svc-tri', 'accounts': [
        {'source': 'Unix-LDAP', 'password': 'Tri-ldap-Aa1x'}, {'source': 'Unix-Kerberos', 'password': 'Tri-krb-Aa1x'},
        {'source': 'Corp-LDAP', 'password': 'Tri-corp-Aa1x'}]})
    return seed


def group_sources(api):
    groups = api.call('GET', '/v2024/password-sync-groups').json()
    return sorted(next(g for g in groups if g['name'] == UNIX)['sourceIds'])


def source_ids(api):
    return dict((a['sourceName'], a['sourceId']) for a in api.accounts(userName='svc-tri'))


def hashes(api):
    return dict((a['sourceName'], a['passwordSha256']) for a in api.accounts(userName='svc-tri'))


@pytest.fixture
def tri(make_sim):
    def start(**kwargs):
        sim = make_sim(seed_data=three_source_seed(), **kwargs)
        return sim, Api(sim.base_url)
    return start


def test_a_trigger_changes_the_group_before_the_answer_is_sent(tri):
    sim, api = tri()
    ids = source_ids(api)
    api.sim('PUT', 'triggers', {'triggers': [{'operation': 'query_password_info', 'count': 2, 'sync_group': UNIX,
                                              'sources': ['Unix-LDAP', 'Unix-Kerberos', 'Corp-LDAP']}]})
    api.info('svc-tri', 'Unix-LDAP')
    assert group_sources(api) == sorted([ids['Unix-LDAP'], ids['Unix-Kerberos']])  # the first query: not yet
    api.info('svc-tri', 'Unix-LDAP')
    assert group_sources(api) == sorted(ids.values())  # the second one was answered after the change
    state = api.sim('GET', 'triggers')
    assert state['triggers'] == [] and state['fired'][0]['applied'] is True
    assert api.info('svc-tri', 'Corp-LDAP')['policies'] == api.info('svc-tri', 'Unix-LDAP')['policies']  # the group policy


@pytest.mark.parametrize('fanout, reached', [('submit', ['Unix-Kerberos', 'Unix-LDAP']),
                                             ('completion', ['Corp-LDAP', 'Unix-Kerberos', 'Unix-LDAP'])])
def test_a_source_joining_between_send_and_completion(tri, fanout, reached):
    sim, api = tri(sync_fanout=fanout, completion_delay=0.5)
    ids = source_ids(api)
    api.sim('PUT', 'triggers', {'triggers': [{'operation': 'set_password', 'moment': 'after', 'sync_group': UNIX,
                                              'sources': ['Unix-LDAP', 'Unix-Kerberos', 'Corp-LDAP']}]})
    resp = api.set_password('Joined-Aa1xyz', user='svc-tri', source='Unix-LDAP')
    assert resp.status_code == 202
    final = wait_terminal(api, resp.json()['requestId'])
    assert final['state'] == 'FINISHED'
    assert sorted(final['sourceIds']) == sorted(ids[name] for name in reached)
    changed = sorted(name for name, digest in hashes(api).items() if digest == sha('Joined-Aa1xyz'))
    assert changed == reached


def test_a_source_leaving_between_send_and_completion_keeps_its_password(tri):
    sim, api = tri(sync_fanout='completion', completion_delay=0.5)
    api.sim('PUT', 'triggers', {'triggers': [
        {'operation': 'sources', 'moment': 'before', 'sync_group': UNIX, 'sources': ['Unix-LDAP', 'Unix-Kerberos', 'Corp-LDAP']},
        {'operation': 'set_password', 'moment': 'after', 'sync_group': UNIX, 'sources': ['Unix-LDAP', 'Unix-Kerberos']}]})
    api.call('GET', '/v2024/sources')
    assert len(group_sources(api)) == 3
    final = wait_terminal(api, api.set_password('Left-Aa1xyz', user='svc-tri', source='Unix-LDAP').json()['requestId'])
    assert final['state'] == 'FINISHED' and len(final['sourceIds']) == 2
    assert hashes(api)['Corp-LDAP'] == sha('Tri-corp-Aa1x') and hashes(api)['Unix-Kerberos'] == sha('Left-Aa1xyz')


def test_bad_triggers_are_refused_and_reset_clears_them(tri):
    sim, api = tri()
    for body in ({'triggers': [{'operation': 'nope', 'sync_group': UNIX, 'sources': []}]},
                 {'triggers': [{'operation': 'set_password', 'count': 0, 'sync_group': UNIX, 'sources': []}]},
                 {'triggers': [{'operation': 'set_password', 'sync_group': UNIX, 'sources': 'Unix-LDAP'}]},
                 {'nope': []}):
        resp = api.session.put(sim.base_url + '/__sim/triggers', json=body, timeout=10)
        assert resp.status_code == 400, body
    api.sim('PUT', 'triggers', {'triggers': [{'operation': 'set_password', 'sync_group': 'No such', 'sources': []}]})
    api.sim('POST', 'reset')
    assert api.sim('GET', 'triggers') == {'triggers': [], 'fired': []}
    # a trigger whose change ISC would refuse is recorded as not applied
    api.sim('PUT', 'triggers', {'triggers': [{'operation': 'sources', 'sync_group': UNIX, 'sources': ['Unix-LDAP']}]})
    api.call('GET', '/v2024/sources')
    fired = api.sim('GET', 'triggers')['fired']
    assert fired[0]['applied'] is False and 'at least two sources' in fired[0]['error']
