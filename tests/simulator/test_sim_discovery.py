"""Discovery in the simulator (search_api.py): search paging past 10,000, the query subset, the accounts list, and
passwordLastSet moving only after an aggregation (delay, reload or /__sim/aggregate), native changes included."""

import time

from .helpers import Api, wait_terminal

IDENTITIES = {'indices': ['identities'], 'query': {'query': '*'}, 'sort': ['id'],
              'queryResultFilter': {'includes': ['id']}}


def _search(api, query, limit=10000, **extra):
    body = dict(IDENTITIES, query={'query': query}, **extra)
    resp = api.call('POST', '/search/v1?limit=%d&count=true' % limit, body)
    assert resp.status_code == 200, resp.text
    return resp


def _names(api, query):
    body = dict(IDENTITIES, query={'query': query}, sort=['name'], queryResultFilter={'includes': ['name']})
    return [d['name'] for d in api.call('POST', '/search/v1?limit=10000', body).json()]


def _last_set(api, user, source):
    body = dict(IDENTITIES, query={'query': 'name:"%s"' % user}, queryResultFilter={})
    doc = api.call('POST', '/search/v1', body).json()[0]
    return [a for a in doc['accounts'] if a['source']['name'] == source][0]


def test_search_pages_past_10000_with_search_after(make_sim):
    api = Api(make_sim(fleet_size=10100).base_url)
    first = _search(api, '*')
    total = int(first.headers['X-Total-Count'])
    assert total > 10000 and len(first.json()) == 10000
    # the window: offset + limit beyond 10,000 is refused, searchAfter is the way on
    assert api.call('POST', '/search/v1?limit=10000&offset=1', IDENTITIES).status_code == 400
    rest = api.call('POST', '/search/v1?limit=10000', dict(IDENTITIES, searchAfter=[first.json()[-1]['id']])).json()
    ids = [d['id'] for d in first.json() + rest]
    assert len(ids) == total == len(set(ids)) and ids == sorted(ids)
    assert api.call('POST', '/search/v1', dict(IDENTITIES, sort=[], searchAfter=['x'])).status_code == 400


def test_query_subset(api):
    assert _names(api, '@accounts(source.name:"HR-Feed")') == ['feed-reader']
    both = ['Abby.Smith', 'Carl.Jones', 'feed-reader']
    assert _names(api, '@accounts(source.name:"HR-Feed" OR source.name:"My-AD")') == both
    assert _names(api, '@accounts(source.name:"My-AD") AND attributes.department:Finance') == ['Carl.Jones']
    assert _names(api, '@accounts(source.name:("My-AD" OR "HR-Feed")) AND NOT name:Abby.Smith') == both[1:]
    assert _names(api, 'name:svc-sync-0*') == ['svc-sync-0%d' % n for n in range(1, 7)]
    # date ranges: feed-reader's password is 400 days old, kiosk-display's 300 (seed.yaml)
    assert _names(api, '@accounts(passwordLastSet:[* TO now-299d])') == ['feed-reader', 'kiosk-display']
    assert _names(api, '@accounts(passwordLastSet:<now-350d)') == ['feed-reader']
    assert 'feed-reader' not in _names(api, '@accounts(passwordLastSet:[now-200d TO now])')
    assert _names(api, '@accounts(supportsPasswordChange:false)') == ['feed-reader', 'kiosk-display']
    assert api.call('POST', '/search/v1', dict(IDENTITIES, query={'query': '(name:x'})).status_code == 400
    assert api.call('POST', '/search/v1', dict(IDENTITIES, indices=['roles'])).status_code == 400


def test_accounts_filters(api):
    sources = {s['name']: s['id'] for s in api.call('GET', '/sources/v1').json()}
    filters = 'sourceId in ("%s","%s") and uncorrelated eq true' % (sources['Corp-AD'], sources['My-AD'])
    assert [a['name'] for a in api.call('GET', '/accounts/v1', params={'filters': filters}).json()] == ['svc-orphan-01']
    mine = api.call('GET', '/accounts/v1', params={'filters': 'sourceId eq "%s"' % sources['My-AD']}).json()
    assert sorted(a['name'] for a in mine) == ['Abby.Smith', 'Carl.Jones', 'Carl.Jones-adm']
    page = api.call('GET', '/accounts/v1', params={'limit': 2, 'offset': 1}).json()
    assert len(page) == 2
    assert api.call('GET', '/accounts/v1', params={'limit': 251}).status_code == 400
    assert api.call('GET', '/accounts/v1', params={'filters': 'isMachine eq true'}).status_code == 400


def test_password_last_set_moves_after_aggregation_only(make_sim):
    api = Api(make_sim(completion_delay=0.1).base_url)
    api.sim('PATCH', 'config', {'reload_delay': 0.3})
    before = _last_set(api, 'Abby.Smith', 'My-AD')
    start = time.time()
    accepted = api.set_password('Rotated2026ok').json()
    assert wait_terminal(api, accepted['requestId'])['state'] == 'FINISHED'
    # FINISHED, but ISC has not aggregated the account yet (aggregation_delay 300 s by default)
    assert _last_set(api, 'Abby.Smith', 'My-AD')['passwordLastSet'] == before['passwordLastSet']
    assert api.call('POST', '/accounts/v1/%s/reload' % before['id']).status_code == 202
    assert _last_set(api, 'Abby.Smith', 'My-AD')['passwordLastSet'] == before['passwordLastSet']  # not yet
    time.sleep(0.4)
    moved = _last_set(api, 'Abby.Smith', 'My-AD')['passwordLastSet']
    assert moved > before['passwordLastSet'] and time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start - 1)) < moved


def test_native_change_shows_at_the_next_aggregation(make_sim):
    api = Api(make_sim().base_url)
    hash_before = api.accounts(userName='svc-app-002')[0]['passwordSha256']
    before = _last_set(api, 'svc-app-002', 'Corp-LDAP')['passwordLastSet']
    changed = api.sim('POST', 'native-change', {'userName': 'svc-app-002', 'sourceName': 'Corp-LDAP'})
    assert api.accounts(userName='svc-app-002')[0]['passwordSha256'] == changed['passwordSha256'] != hash_before
    assert _last_set(api, 'svc-app-002', 'Corp-LDAP')['passwordLastSet'] == before
    api.sim('PATCH', 'config', {'aggregation_delay': 0})  # the next aggregation is due now
    assert _last_set(api, 'svc-app-002', 'Corp-LDAP')['passwordLastSet'] == changed['livePasswordLastSet'] > before
    api.sim('PATCH', 'config', {'aggregation_delay': 300})
    api.sim('POST', 'native-change', {'userName': 'svc-app-003', 'sourceName': 'Oracle-DB'})
    assert api.sim('POST', 'aggregate', {'sourceName': 'Oracle-DB'})['aggregated'] > 0
    view = [a for a in api.sim('GET', 'discovery')['accounts'] if a['userName'] == 'svc-app-003'][0]
    assert view['passwordLastSet'] == view['livePasswordLastSet']
    api.sim('POST', 'reset', {'state': True})
    assert _last_set(api, 'svc-app-003', 'Oracle-DB')['passwordLastSet'] < view['passwordLastSet']


def test_seeding_password_ages(api):
    """POST /__sim/discovery ages accounts at scale: named ones, every other one by default; unknown keys are refused."""
    assert api.sim('POST', 'discovery', {'password_age_days': {'Corp-LDAP/svc-app-002': 200},
                                         'default_age_days': 10})['set'] > 60
    old = _names(api, '@accounts(passwordLastSet:[* TO now-199d])')
    assert old == ['svc-app-002'] and len(_names(api, '@accounts(passwordLastSet:[now-11d TO now-9d])')) > 60
    view = [a for a in api.sim('GET', 'discovery')['accounts'] if a['userName'] == 'svc-app-002'][0]
    assert view['passwordLastSet'] == view['livePasswordLastSet']  # as after an aggregation
    assert api.sim('POST', 'discovery', {'password_age_days': {'Oracle-DB/svc-app-003': 300}})['set'] == 1
    assert _names(api, '@accounts(passwordLastSet:[* TO now-199d])') == ['svc-app-002', 'svc-app-003']
    bad = api.call('POST', '/__sim/discovery', {'password_age_days': {'Corp-AD/svc-orphan-01': 1}})
    assert bad.status_code == 400 and 'svc-orphan-01' in bad.text
    assert api.call('POST', '/__sim/discovery', {'password_age_days': ['x']}).status_code == 400
