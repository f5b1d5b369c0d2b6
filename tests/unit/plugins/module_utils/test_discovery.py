# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""discovery.py (issue 26): search paging by sort + searchAfter past 10,000 documents, the uncorrelated accounts
read, and the classification of each account against the ledger (due, drift, unrotatable)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import discovery
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def ago(days=0, seconds=0):
    return (NOW - datetime.timedelta(days=days, seconds=seconds)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class Resp:
    def __init__(self, body):
        self.content = json.dumps(body).encode()
        self._body = body
        self.status_code = 200

    def json(self):
        return self._body


class FakeClient:
    """Answers search like ISC: sorted by id, at most `limit` documents, after searchAfter; 10,000 at most."""

    def __init__(self, identities=25001, uncorrelated=260):
        self.ids = ['%08d' % n for n in range(identities)]
        self.orphans = uncorrelated
        self.calls = []

    def call(self, operation, method, item_id=None, query=None, json_body=None, safe=None):
        self.calls.append((operation, query, json_body))
        assert operation == discovery.OP_SEARCH and safe is True  # a read: retried like one
        assert query['limit'] <= 10000 and json_body['sort'] == ['id']
        after = (json_body.get('searchAfter') or [''])[0]
        page = [i for i in self.ids if i > after][:query['limit']]
        return Resp([{'id': i, 'name': 'u' + i, 'accounts': []} for i in page])

    def call_json(self, operation, method, item_id=None, query=None, json_body=None, shape=object):
        self.calls.append((operation, query, json_body))
        if operation == discovery.OP_ACCOUNTS:
            assert 'uncorrelated eq true' in query['filters'] and query['limit'] == 250
            return [{'id': 'o%d' % n} for n in range(self.orphans)][query['offset']:query['offset'] + 250]
        return [{'id': 'S1', 'name': 'AD', 'features': ['PASSWORD']}]


def test_search_pages_past_10000_with_search_after():
    client = FakeClient()
    reader = discovery.Reader(client)
    docs = reader.identities('*')
    assert [d['id'] for d in docs] == client.ids
    assert reader.search_requests == 3  # 10,000 + 10,000 + 5,001
    assert [c[2].get('searchAfter') for c in client.calls] == [None, ['00009999'], ['00019999']]
    assert client.calls[0][2]['queryResultFilter']['includes'] == discovery.SEARCH_FIELDS


def test_exactly_10000_identities_take_two_searches_and_orphans_page_by_250():
    client = FakeClient(identities=10000)
    reader = discovery.Reader(client)
    assert len(reader.identities('*')) == 10000 and reader.search_requests == 2
    assert len(reader.uncorrelated(['S1'])) == 260


def test_search_query():
    assert discovery.search_query(['Corp-AD', 'My "AD"']) == '@accounts(source.name:"Corp-AD" OR source.name:"My \\"AD\\"")'
    assert discovery.search_query(None, 'attributes.department:IT') == '(@accounts(id:*)) AND (attributes.department:IT)'


def _doc(user, *accounts, manager=None):
    return {'id': 'id-' + user, 'name': user, 'manager': {'name': manager} if manager else None,
            'accounts': [dict({'id': 'acc-%s-%d' % (user, n), 'name': user, 'accountId': 'CN=%s%d' % (user, n),
                               'supportsPasswordChange': True}, **a) for n, a in enumerate(accounts)]}


AD = {'id': 'S1', 'name': 'AD'}
FEED = {'id': 'S2', 'name': 'Feed'}
LISTED = [{'id': 'S1', 'name': 'AD', 'features': ['PASSWORD']}, {'id': 'S2', 'name': 'Feed', 'features': ['SEARCH']}]


def _classify(docs, ledger, uncorrelated=(), **kw):
    records = discovery.classify(LISTED, docs, list(uncorrelated), ledger, NOW, **kw)
    return dict((r['host'], r) for r in records)


def test_classification_due_drift_unrotatable():
    docs = [
        _doc('old', {'source': AD, 'passwordLastSet': ago(100)}, manager='boss'),
        _doc('fresh', {'source': AD, 'passwordLastSet': ago(10)}),
        _doc('never', {'source': AD, 'passwordLastSet': None}),
        _doc('drifted', {'source': AD, 'passwordLastSet': ago(1)}),
        _doc('ours', {'source': AD, 'passwordLastSet': ago(5, -300)}),  # our change, 5 minutes after the ledger time
        _doc('kiosk', {'source': AD, 'passwordLastSet': ago(300), 'supportsPasswordChange': False}),
        _doc('feed', {'source': FEED, 'passwordLastSet': ago(400)}),
        _doc('two', {'source': AD, 'passwordLastSet': ago(200)}, {'source': AD, 'passwordLastSet': ago(2)}),
        _doc('ledger-old', {'source': AD, 'passwordLastSet': ago(100)}),
    ]
    ledger = {'AD/drifted': {'state': 'current', 'last_rotated': ago(20)[:19] + 'Z'},
              'AD/ours': {'state': 'current', 'last_rotated': ago(5)[:19] + 'Z'},
              'AD/ledger-old': {'state': 'current', 'last_rotated': ago(1)[:19] + 'Z'}}
    orphans = [{'id': 'o1', 'name': 'orphan', 'sourceId': 'S1', 'sourceName': 'AD', 'nativeIdentity': 'CN=orphan'}]
    by_host = _classify(docs, ledger, orphans)
    groups = dict((g, sorted(h for h, r in by_host.items() if g in r['groups'])) for g in discovery.GROUPS)
    assert groups == {'due': ['AD/never', 'AD/old', 'AD/two#CN=two0'],
                      'drift': ['AD/drifted'],
                      'unrotatable': ['AD/kiosk', 'AD/orphan', 'Feed/feed']}
    assert by_host['AD/drifted']['rotation_account'] == {'source_name': 'AD', 'user_name': 'drifted', 'rotate_reason': 'drift'}
    assert by_host['AD/drifted']['drift_seconds'] == 19 * 86400
    assert by_host['AD/two#CN=two1']['rotation_account'] == {'source_name': 'AD', 'user_name': 'two', 'account_id': 'CN=two1'}
    assert by_host['AD/old']['owner'] == 'boss' and by_host['AD/old']['last_rotated'] is None
    assert by_host['AD/kiosk']['rotation_account'] is None and 'password change' in by_host['AD/kiosk']['reason']
    assert 'PASSWORD' in by_host['Feed/feed']['reason'] and not by_host['AD/orphan']['correlated']
    totals = discovery.summary(list(by_host.values()))
    assert totals['AD'] == {'accounts': 10, 'managed': 3, 'due': 3, 'drift': 1, 'unrotatable': 2}
    # a larger tolerance hides the drift; only the chosen sources are listed
    assert 'drift' not in _classify(docs, ledger, drift_tolerance=20 * 86400)['AD/drifted']['groups']
    assert set(r['source_name'] for r in _classify(docs, ledger, orphans, sources=['Feed']).values()) == {'Feed'}


def test_pending_change_of_ours_is_not_drift():
    docs = [_doc('busy', {'source': AD, 'passwordLastSet': ago(0, 30)})]
    ledger = {'AD/busy': {'state': 'pending', 'last_rotated': ago(40)[:19] + 'Z', 'submitted_at': ago(0, 60)[:19] + 'Z'}}
    assert _classify(docs, ledger)['AD/busy']['groups'] == []


def test_ledger_and_unknown_sources(tmp_path):
    path = tmp_path / 'ledger.json'
    path.write_text(json.dumps({'version': 1, 'accounts': {'AD/a': {'last_rotated': '2026-01-01T00:00:00Z'}}}))
    (tmp_path / 'ledger.json.journal').write_text(json.dumps({'event': 'finished', 'keys': ['AD/b'],
                                                              'at': '2026-02-01T00:00:00Z'}) + '\n')
    assert sorted(discovery.load_ledger(str(path))) == ['AD/a', 'AD/b']
    assert discovery.load_ledger(None) == {} and discovery.load_ledger(str(tmp_path / 'none.json')) == {}

    class NoSuchSource(FakeClient):
        def call_json(self, *args, **kwargs):
            return [{'id': 'S1', 'name': 'AD'}]
    with pytest.raises(IscError, match='no source named Nope'):
        discovery.Reader(NoSuchSource()).sources(['AD', 'Nope'])


def test_machine_accounts_enrich_by_source_and_native_identity():
    records = [{'source_id': 's1', 'account_id': 'CN=a', 'owner': 'manager-of-a', 'machine_account': None},
               {'source_id': 's1', 'account_id': 'CN=b', 'owner': 'manager-of-b', 'machine_account': None},
               {'source_id': 's2', 'account_id': 'CN=a', 'owner': None, 'machine_account': None}]
    items = [{'nativeIdentity': 'CN=a', 'source': {'id': 's1', 'name': 'AD'}, 'ownerIdentity': {'name': 'Owner A'},
              'subtype': 'Application', 'environment': 'PRODUCTION', 'classificationMethod': 'SOURCE',
              'machineIdentity': {'name': 'app-a'}},
             {'nativeIdentity': 'CN=b', 'source': {'id': 's1'}, 'ownerIdentity': None, 'environment': 'TEST'}]
    discovery.enrich(records, discovery.machine_details(items))
    assert records[0]['machine_account'] == {'owner': 'Owner A', 'subtype': 'Application', 'environment': 'PRODUCTION',
                                             'classification': 'SOURCE', 'machine_identity': 'app-a'}
    assert records[0]['owner'] == 'Owner A'
    assert records[1]['machine_account']['environment'] == 'TEST' and records[1]['owner'] == 'manager-of-b'  # no owner: kept
    assert records[2]['machine_account'] is None  # the same native identity on another source is another account


def test_machine_accounts_are_read_per_source_with_paging():
    pages = [[{'nativeIdentity': str(n)} for n in range(250)], [{'nativeIdentity': 'last'}]]
    calls = []

    class Client:
        def call_json(self, operation, method, query=None, shape=None):
            calls.append((operation, method, dict(query)))
            return pages[len(calls) - 1]

    found = discovery.Reader(Client()).machine_accounts(['s1', 's2'])
    assert len(found) == 251
    assert [c[2]['offset'] for c in calls] == [0, 250]
    assert calls[0][:2] == ('list-machine-accounts', 'GET') and calls[0][2]['filters'] == 'source.id in ("s1","s2")'
