"""A discovery fleet whose groups are known by construction (issue 26), for the 10,000-identity end-to-end test
(tests/e2e/test_discovery.py) and the bench's discover part.

Through the simulator's /__sim/ API only: every account is aged FRESH days but a known set, aged OLD; the rotation
ledger the inventory compares with is written here (some of the old ones rotated by us yesterday, so not due, others
120 days ago, so due); a few accounts rotated yesterday are changed natively and aggregated (drift); one more native
change hits an account whose own change is in flight (ours, so no drift). Unrotatable: what the seed makes so
(no password change, a source without PASSWORD, uncorrelated). Keys are ``<source>/<account name>``.
"""

import datetime
import json
import os

MAX_AGE_DAYS = 90   # the inventory's max_age_days the groups below assume
FRESH, OLD = 30, 200
EVERY = 97          # one fleet account in EVERY is aged OLD
NATIVE = 5


def _ago(days):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')  # the ledger's TIME_FORMAT (plugins/module_utils/files.py)


def build(call, ledger_path, prefix='svc-bulk-'):
    """Age the simulator's accounts, write the ledger, change NATIVE passwords natively and aggregate.

    call(method, path, body) -> the simulator's JSON answer. Returns the groups the inventory must show
    ({'due', 'drift', 'unrotatable'}: sets of keys) and 'accounts', the ids of every account ISC knows."""
    view = call('GET', '/__sim/discovery', None)
    bulk = sorted('%s/%s' % (a['sourceName'], a['accountName']) for a in view['accounts']
                  if a['accountName'].startswith(prefix))
    if len(bulk) < 200:
        raise ValueError('a discovery fleet needs at least 200 %s accounts (--fleet-size)' % prefix)
    unrotatable = set('%s/%s' % (a['sourceName'], a['accountName']) for a in view['accounts']
                      if not a['supportsPasswordChange'])
    unrotatable |= set('%s/%s' % (u['sourceName'], u['name']) for u in view['uncorrelated'])
    shared = {}  # identities with several accounts on one source: their hosts are named with the account id
    for a in view['accounts']:
        shared.setdefault((a['sourceName'], a['userName']), []).append('%s/%s' % (a['sourceName'], a['accountName']))
    aged = bulk[::EVERY]
    correlated = set('%s/%s' % (a['sourceName'], a['accountName']) for a in view['accounts'])
    several = sorted(k for keys in shared.values() if len(keys) > 1 for k in keys)
    old = set(aged) | (unrotatable & correlated) | set(several[:1])
    recent, stale = set(aged[::4]), set(aged[1::4])
    native = set(bulk[1::len(bulk) // NATIVE][:NATIVE])
    in_flight = bulk[7]
    if (native | {in_flight}) & old:
        raise ValueError('the native changes must hit fresh accounts')
    call('POST', '/__sim/discovery', {'password_age_days': dict((k, OLD) for k in old), 'default_age_days': FRESH})
    ledger = dict((key, {'state': 'current', 'attempts': 0, 'last_rotated': _ago(1)}) for key in recent | native)
    ledger.update((key, {'state': 'current', 'attempts': 0, 'last_rotated': _ago(120)}) for key in stale)
    ledger[in_flight] = {'state': 'pending', 'attempts': 1, 'last_rotated': _ago(100), 'submitted_at': _ago(0)}
    os.makedirs(os.path.dirname(ledger_path), exist_ok=True)
    with open(ledger_path, 'w') as handle:
        json.dump({'version': 1, 'accounts': ledger}, handle)
    for key in sorted(native | {in_flight}):
        source, user = key.split('/')
        call('POST', '/__sim/native-change', {'userName': user, 'sourceName': source})
    call('POST', '/__sim/aggregate', {})
    return {'due': old - recent - unrotatable, 'drift': native, 'unrotatable': unrotatable,
            'accounts': set(a['id'] for a in view['accounts'] + view['uncorrelated'])}


def found(inventory):
    """What an `ansible-inventory --list` answer shows: the groups as keys, and the account ids of its hosts (a list:
    an account listed twice shows)."""
    hostvars = inventory['_meta']['hostvars']

    def keys(group):
        return set('%s/%s' % (hostvars[h]['source_name'], hostvars[h]['isc_account']['account_name'])
                   for h in inventory.get(group, {}).get('hosts', []))
    groups = dict((group, keys(group)) for group in ('due', 'drift', 'unrotatable'))
    groups['accounts'] = [h['isc_account']['account_uuid'] for h in hostvars.values()]
    return groups


def differences(expected, inventory):
    """What the inventory gets wrong against the construction, as short sentences; [] when exact."""
    got = found(inventory)
    problems = []
    if len(got['accounts']) != len(set(got['accounts'])) or set(got['accounts']) != expected['accounts']:
        missing = expected['accounts'] - set(got['accounts'])
        problems.append('%d hosts for %d accounts (%d missing)'
                        % (len(got['accounts']), len(expected['accounts']), len(missing)))
    for group in ('due', 'drift', 'unrotatable'):
        if got[group] != expected[group]:
            problems.append('%s: %d missing (%s), %d extra (%s)' % (
                group, len(expected[group] - got[group]), ', '.join(sorted(expected[group] - got[group])[:3]),
                len(got[group] - expected[group]), ', '.join(sorted(got[group] - expected[group])[:3])))
    return problems
