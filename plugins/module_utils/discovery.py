# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery: the service accounts ISC knows, read from search (identities index), the accounts list
(uncorrelated accounts, which search never shows) and the sources (their features), and classified
against the rotation ledger: due, drift (changed behind our back) and unrotatable.

Shared by the isc_accounts inventory plugin and the isc_account_info module. Read-only; never a secret.
"""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.accounts import account_key
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import (
    OP_ACCOUNT_RELOAD, OP_ACCOUNTS, OP_MACHINE_ACCOUNTS, OP_SEARCH, OP_SOURCES, PAGE_LIMIT, SOURCE_PAGE_LIMIT,
    client_arguments, filter_string,
    normalize_base_url,
)
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.ledger import Ledger

SEARCH_PAGE = 10000     # ISC's largest search page; beyond 10,000 results only sort + searchAfter reach
ACCOUNTS_PAGE = PAGE_LIMIT  # GET /accounts/v1's largest page
ID_CHUNK = 50           # source ids per `sourceId in (...)` filter
API_VERSION = 'v1'      # search and accounts are per-resource v1 APIs (their own rate budget)
# The fields of an identity document discovery reads (queryResultFilter keeps the answers small).
SEARCH_FIELDS = ['id', 'name', 'attributes.uid', 'manager.name', 'accounts.id', 'accounts.name', 'accounts.accountId',
                 'accounts.source', 'accounts.passwordLastSet', 'accounts.supportsPasswordChange']
GROUPS = ('due', 'drift', 'unrotatable')


def make_client(params, warn=None):
    """An IscClient on the v1 APIs from connection options (the modules' names)."""
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.client import IscClient
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import DEFAULT_LIMITER_STATE
    kwargs = client_arguments(params)
    kwargs.update(api_version=API_VERSION, warn=warn, limiter_state=DEFAULT_LIMITER_STATE)
    return IscClient(normalize_base_url(params.get('base_url'), params.get('tenant')), **kwargs)


def parse_time(text):
    """An ISO-8601 time (ISC's or the ledger's) as an aware datetime, or None."""
    if not text:
        return None
    text = str(text).replace('Z', '+00:00')
    text = re.sub(r'\.(\d+)', lambda m: '.' + (m.group(1) + '000000')[:6], text)
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def search_query(sources=None, extra=None):
    """The search query: identities with an account on one of the sources (all sources when none), and extra."""
    if sources:
        query = '@accounts(%s)' % ' OR '.join('source.name:%s' % filter_string(name) for name in sources)
    else:
        query = '@accounts(id:*)'
    return '(%s) AND (%s)' % (query, extra) if extra else query


class Reader:
    """The three reads of discovery through one IscClient (its limiter, token and retries)."""

    def __init__(self, client):
        self.client = client
        self.search_requests = 0

    def sources(self, names=None):
        """[{id, name, features}] of every source (or of the named ones), paged by 250."""
        found, offset = [], 0
        while True:
            query = {'limit': SOURCE_PAGE_LIMIT, 'offset': offset}
            if names:
                query['filters'] = 'name in (%s)' % ','.join(filter_string(n) for n in names)
            page = self.client.call_json(OP_SOURCES, 'GET', query=query, shape=list) or []
            found.extend(s for s in page if isinstance(s, dict))
            if len(page) < SOURCE_PAGE_LIMIT:
                break
            offset += SOURCE_PAGE_LIMIT
        if names:
            missing = sorted(set(names) - set(s.get('name') for s in found))
            if missing:
                raise IscError('sources: ISC has no source named %s (or this API client may not read it); check the '
                               'names in the sources option' % ', '.join(missing))
        return found

    def identities(self, query, page_size=SEARCH_PAGE):
        """Every identity document the query matches: pages of page_size sorted by id, then searchAfter."""
        docs, after = [], None
        while True:
            body = {'indices': ['identities'], 'query': {'query': query}, 'sort': ['id'],
                    'queryResultFilter': {'includes': SEARCH_FIELDS}}
            if after is not None:
                body['searchAfter'] = [after]
            self.search_requests += 1
            page = _call_json_safe(self.client, OP_SEARCH, 'POST', query={'limit': page_size}, json_body=body)
            docs.extend(d for d in page if isinstance(d, dict))
            if len(page) < page_size or not page[-1].get('id'):
                return docs
            after = page[-1]['id']

    def uncorrelated(self, source_ids):
        """The uncorrelated accounts of the sources (search never shows them)."""
        return self._per_source(OP_ACCOUNTS, 'sourceId in (%s) and uncorrelated eq true', source_ids)

    def machine_accounts(self, source_ids):
        """The machine accounts of the sources (owner, subtype, environment): a user token only, experimental in v1."""
        return self._per_source(OP_MACHINE_ACCOUNTS, 'source.id in (%s)', source_ids)

    def _per_source(self, operation, filter_format, source_ids):
        """Every item of a list operation for the sources: ID_CHUNK source ids per filter, pages of ACCOUNTS_PAGE."""
        found = []
        ids = list(source_ids)
        for start in range(0, len(ids), ID_CHUNK):
            filters = filter_format % ','.join(filter_string(i) for i in ids[start:start + ID_CHUNK])
            offset = 0
            while True:
                page = self.client.call_json(operation, 'GET', query={'filters': filters, 'limit': ACCOUNTS_PAGE,
                                                                      'offset': offset}, shape=list) or []
                found.extend(a for a in page if isinstance(a, dict))
                if len(page) < ACCOUNTS_PAGE:
                    break
                offset += ACCOUNTS_PAGE
        return found

    def reload(self, account_uuid):
        """Ask ISC to re-read one account from its source now (202 and a task)."""
        return self.client.call_json(OP_ACCOUNT_RELOAD, 'POST', item_id=account_uuid)


def _call_json_safe(client, operation, method, query=None, json_body=None):
    resp = client.call(operation, method, query=query, json_body=json_body, safe=True)
    body = resp.json() if resp.content else []
    if not isinstance(body, list):
        raise IscError('%s failed: unexpected response shape (a list of documents was expected)' % operation,
                       operation=operation)
    return body


def load_ledger(path):
    """{account key: ledger entry} of the role's ledger (snapshot plus journal); {} without a path or file."""
    if not path:
        return {}
    return Ledger(path).load().accounts


def _ledger_entry(ledger, source, user, account_id, account_name, only_one):
    for key in (account_key(source, user, account_id), account_key(source, user, account_name)):
        if key in ledger:
            return key, ledger[key]
    key = account_key(source, user)
    if only_one and key in ledger:
        return key, ledger[key]
    return None, {}


def collect(reader, sources=None, extra_query=None):
    """(source list, identity documents, uncorrelated accounts) as ISC has them."""
    listed = reader.sources(sources)
    docs = reader.identities(search_query(sources, extra_query))
    wanted = [s['id'] for s in listed if s.get('id')]
    return listed, docs, reader.uncorrelated(wanted)


def classify(listed, docs, uncorrelated, ledger, now, max_age_days=90, drift_tolerance=600, sources=None):
    """One record per account of the chosen sources, with its groups. No secret is read or returned."""
    by_id = dict((s.get('id'), s) for s in listed)
    wanted = set(sources or []) or set(s.get('name') for s in listed)
    max_age = datetime.timedelta(days=max_age_days)
    tolerance = datetime.timedelta(seconds=drift_tolerance)
    records = []
    for doc in docs:
        user = (doc.get('attributes') or {}).get('uid') or doc.get('name')
        accounts = [a for a in doc.get('accounts') or [] if isinstance(a, dict)
                    and (a.get('source') or {}).get('name') in wanted]
        per_source = {}
        for acc in accounts:
            per_source[acc['source']['name']] = per_source.get(acc['source']['name'], 0) + 1
        for acc in accounts:
            source = acc['source']
            only_one = per_source[source['name']] == 1
            key, entry = _ledger_entry(ledger, source['name'], user, acc.get('accountId'), acc.get('name'), only_one)
            record = {'source_name': source['name'], 'source_id': source.get('id'), 'user_name': user,
                      'account_id': acc.get('accountId'), 'account_name': acc.get('name'), 'account_uuid': acc.get('id'),
                      'identity_id': doc.get('id'), 'owner': (doc.get('manager') or {}).get('name'),
                      'password_last_set': acc.get('passwordLastSet'), 'last_rotated': entry.get('last_rotated'),
                      'ledger_key': key, 'correlated': True, 'machine_account': None,
                      'host': account_key(source['name'], user, None if only_one else acc.get('accountId'))}
            features = (by_id.get(source.get('id')) or {}).get('features') or []
            why = None
            if 'PASSWORD' not in features:
                why = 'source %s has no PASSWORD feature' % source['name']
            elif acc.get('supportsPasswordChange') is False:
                why = 'the connector does not support password change for this account'
            _judge(record, entry, why, now, max_age, tolerance, only_one)
            records.append(record)
    for acc in uncorrelated:
        source = by_id.get(acc.get('sourceId')) or {'name': acc.get('sourceName')}
        if source.get('name') not in wanted:
            continue
        record = {'source_name': source.get('name'), 'source_id': acc.get('sourceId'), 'user_name': acc.get('name'),
                  'account_id': acc.get('nativeIdentity'), 'account_name': acc.get('name'), 'account_uuid': acc.get('id'),
                  'identity_id': None, 'owner': None, 'password_last_set': None, 'last_rotated': None, 'ledger_key': None,
                  'correlated': False, 'machine_account': None, 'host': account_key(source.get('name'), acc.get('name'))}
        _judge(record, {}, 'uncorrelated: no identity, so set-password cannot reach it', now, max_age, tolerance, True)
        records.append(record)
    records.sort(key=lambda r: r['host'])
    return records


def _judge(record, entry, unrotatable, now, max_age, tolerance, only_one):
    """Set the record's groups (due, drift, unrotatable), reasons and the role's accounts-list item."""
    isc = parse_time(record['password_last_set'])
    ours = parse_time(entry.get('last_rotated'))
    if entry.get('state') == 'pending':  # our own change in flight: ISC may already show it
        stamps = [t for t in (ours, parse_time(entry.get('submitted_at'))) if t]
        ours = max(stamps) if stamps else None
    record['groups'] = []
    record['drift_seconds'] = None
    if unrotatable:
        record['groups'].append('unrotatable')
        record['reason'] = unrotatable
        record['rotation_account'] = None
        return
    reasons = []
    if ours and isc and isc > ours + tolerance:
        record['groups'].append('drift')
        record['drift_seconds'] = int((isc - ours).total_seconds())
        reasons.append('ISC saw a password change at %s, after our last rotation at %s' % (
            record['password_last_set'], entry.get('last_rotated')))
    stamps = [t for t in (isc, ours) if t]
    newest = max(stamps) if stamps else None
    if newest is None or now - newest >= max_age:
        record['groups'].append('due')
        reasons.append('password never set as far as ISC knows' if newest is None
                       else 'password last set %d days ago' % (now - newest).days)
    record['reason'] = '; '.join(reasons) or 'current'
    item = {'source_name': record['source_name'], 'user_name': record['user_name']}
    if not only_one:
        item['account_id'] = record['account_id']
    if 'drift' in record['groups']:
        item['rotate_reason'] = 'drift'
    record['rotation_account'] = item


def machine_details(items):
    """{(source id, native identity): what a machine account adds} from GET /machine-accounts/v1 items."""
    details = {}
    for item in items:
        source_id = (item.get('source') or {}).get('id')
        owner = (item.get('ownerIdentity') or {}).get('name')
        details[(source_id, item.get('nativeIdentity'))] = {
            'owner': owner, 'subtype': item.get('subtype'), 'environment': item.get('environment'),
            'classification': item.get('classificationMethod'),
            'machine_identity': (item.get('machineIdentity') or {}).get('name')}
    return details


def enrich(records, details):
    """Add each account's machine-account details; its owner replaces the identity's manager (a closer answer to
    "who answers for this account"). Records without a machine account are left as they are."""
    for record in records:
        found = details.get((record['source_id'], record['account_id']))
        if found:
            record['machine_account'] = found
            record['owner'] = found['owner'] or record['owner']
    return records


def summary(records):
    """Totals per source: accounts, managed (in the ledger), due, drift, unrotatable."""
    totals = {}
    for record in records:
        row = totals.setdefault(record['source_name'], {'accounts': 0, 'managed': 0, 'due': 0, 'drift': 0,
                                                        'unrotatable': 0})
        row['accounts'] += 1
        row['managed'] += 1 if record['ledger_key'] else 0
        for group in GROUPS:
            row[group] += 1 if group in record['groups'] else 0
    return totals


def discover(client, sources=None, extra_query=None, ledger_path=None, max_age_days=90, drift_tolerance=600, now=None,
             machine_accounts=False):
    """Everything in one call: (records, stats). stats: request counts per kind."""
    reader = Reader(client)
    listed, docs, uncorrelated = collect(reader, sources, extra_query)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    records = classify(listed, docs, uncorrelated, load_ledger(ledger_path), now, max_age_days, drift_tolerance,
                       sources)
    if machine_accounts:
        enrich(records, machine_details(reader.machine_accounts([s['id'] for s in listed if s.get('id')])))
    return records, {'search_requests': reader.search_requests, 'identities': len(docs)}


def _shown(reader, items):
    """{key: (account uuid, passwordLastSet)} of the items as ISC's search shows them now."""
    found = {}
    for start in range(0, len(items), 50):
        chunk = items[start:start + 50]
        sources = sorted(set(i['source_name'] for i in chunk))
        users = ' OR '.join(filter_string(u) for u in sorted(set(i['user_name'] for i in chunk)))
        for doc in reader.identities('%s AND name:(%s)' % (search_query(sources), users)):
            user = (doc.get('attributes') or {}).get('uid') or doc.get('name')
            for acc in doc.get('accounts') or []:
                source = (acc.get('source') or {}).get('name')
                for item in chunk:
                    if (item['source_name'], item['user_name']) == (source, user) and \
                            item.get('account_id') in (None, acc.get('accountId'), acc.get('name')):
                        found[item['key']] = (acc.get('id'), acc.get('passwordLastSet'))
    return found


def verify_changes(reader, items, since, timeout=120, poll=2, sleep=time.sleep, clock=time.time):
    """Proof from ISC's side that FINISHED changes reached their accounts: reload each account, wait for the
    aggregation, and check that passwordLastSet moved past ``since`` (the change's start). No logon to the target.

    items: [{key, source_name, user_name, account_id}]. Returns (verified keys, [{key, reason}] unverified).
    """
    start = parse_time(since)
    if start is None:
        raise IscError('verify: since %r is not an ISO-8601 time' % (since,))

    def moved(entry):
        stamp = parse_time(entry[1])
        return stamp is not None and stamp > start

    shown = _shown(reader, items)
    for key, entry in sorted(shown.items()):
        if not moved(entry):
            reader.reload(entry[0])
    deadline = clock() + timeout
    while any(not moved(entry) for entry in shown.values()) and clock() < deadline:
        sleep(poll)
        shown.update(_shown(reader, [i for i in items if i['key'] in shown and not moved(shown[i['key']])]))
    unverified = []
    for item in items:
        entry = shown.get(item['key'])
        if entry is None:
            unverified.append({'key': item['key'], 'reason': 'ISC search does not show the account, so its '
                               'passwordLastSet cannot prove the change'})
        elif not moved(entry):
            unverified.append({'key': item['key'], 'reason': 'ISC reports FINISHED but the account\'s passwordLastSet (%s) '
                               'did not move past the change start (%s) within %d s of a reload'
                               % (entry[1], since, timeout)})
    bad = set(u['key'] for u in unverified)
    return [i['key'] for i in items if i['key'] not in bad], unverified
