# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alternating accounts (issue 27 §2, docs/alternating.md): a logical credential with two accounts, one active.

Not a second engine but a store shape: an accounts-file row `alternate: {name, accounts: [A, B]}` becomes, for the
plan, the row of its inactive account (with the row's dependents and settings); the active one is not rotated. The
store keeps both accounts' entries and, under the logical key, a small record: which account is active, its user
name and password (what consumers read) and, per account, the change (its attempt id) whose password a flip
confirmed. A flip happens only when the inactive account's new password is committed (in this run, or by an earlier
run that no flip confirmed), its change is settled, and its dependents were applied with it in this run and all
passed; otherwise the active account, never touched, stays active ("rollback is do not flip").

Internal to the sailpoint_isc.passwords collection; may change without notice. Never a password here: the role builds
the store record (no_log) from what this module decides.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.dependents import problems_of as dependents_problems

# No account key lacks a '/', so a logical key can never name an account.
PREFIX = 'alternate:'
MEMBER_FIELDS = ('source_name', 'user_name', 'account_id')
# the row's fields beside `alternate`, given to the inactive account's row
SHARED = ('dependents', 'max_age_days', 'password_length', 'exclude_chars')
EXAMPLE = ('alternate: {name: app-db, accounts: [{source_name: <source>, user_name: <account A>}, '
           '{source_name: <source>, user_name: <account B>}]}')


def logical_key(name):
    """The store key of a logical credential: what consumers read."""
    return PREFIX + name


def is_alternate(row):
    return isinstance(row, dict) and 'alternate' in row


def _key(member):
    key = '%s/%s' % (member['source_name'], member['user_name'])
    return key + '#' + member['account_id'] if member.get('account_id') else key


def _member_problems(index, member):
    where = 'alternate.accounts[%d]' % index
    if not isinstance(member, dict):
        return ['%s is a %s; give a mapping with source_name and user_name' % (where, type(member).__name__)]
    out = ['%s: unknown field %r; an account of an alternate takes %s' % (where, f, ', '.join(MEMBER_FIELDS))
           for f in member if f not in MEMBER_FIELDS]
    for field in MEMBER_FIELDS:
        value = member.get(field)
        if field != 'account_id' and (not isinstance(value, str) or not value.strip()):
            out.append('%s: %s is missing; add "%s: <%s>"' % (where, field, field, field.replace('_', ' ')))
        elif value is not None and not isinstance(value, str):
            out.append('%s: %s is a %s; give it as text' % (where, field, type(value).__name__))
    return out


def problems_of(row):
    """What is wrong with one alternate row (a mapping with `alternate`), each with its fix; [] when nothing is."""
    alt, out = row.get('alternate'), []
    out += ['unknown field %r beside alternate; such a row takes %s (the two accounts go under alternate.accounts)'
            % (f, ', '.join(SHARED)) for f in row if f != 'alternate' and f not in SHARED]
    for field in ('max_age_days', 'password_length'):
        value = row.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            out.append('%s %r is not a whole number; give one' % (field, value))
    out += dependents_problems(row.get('dependents'))
    if not isinstance(alt, dict):
        return out + ['alternate is a %s; give a mapping: %s' % (type(alt).__name__, EXAMPLE)]
    out += ['alternate: unknown field %r; it takes name and accounts' % f for f in alt if f not in ('name', 'accounts')]
    name = alt.get('name')
    if not isinstance(name, str) or not name.strip():
        out.append('alternate.name is missing; add "name: <the logical credential, for example app-db>"')
    elif any(c in name for c in '/#') or any(ord(c) < 32 or ord(c) == 127 for c in name):
        out.append("alternate.name %r holds '/', '#' or a control character; give a plain name (the store key is "
                   "alternate:<name>)" % name)
    members = alt.get('accounts')
    if not isinstance(members, list) or len(members) != 2:
        return out + ['alternate.accounts must list exactly two accounts (got %s); give %s'
                      % (len(members) if isinstance(members, list) else type(members).__name__, EXAMPLE)]
    found = [p for i, m in enumerate(members) for p in _member_problems(i, m)]
    if not found and _key(members[0]) == _key(members[1]):
        found.append('alternate.accounts lists %s twice; give two different accounts' % _key(members[0]))
    return out + found


def check(accounts):
    """Problems of every alternate row, 'accounts[i]: ...'; a logical name or an account used twice too."""
    out, names, keys = [], {}, {}
    for index, row in enumerate(accounts):
        if not is_alternate(row):
            if isinstance(row, dict) and row.get('source_name') and row.get('user_name'):
                keys.setdefault(_key(row).casefold(), index)
            continue
        found = problems_of(row)
        out += ['accounts[%d]: %s' % (index, p) for p in found]
        if found:
            continue
        first = names.setdefault(row['alternate']['name'], index)
        if first != index:
            out.append('accounts[%d]: alternate %r is also accounts[%d]; give each logical credential one name'
                       % (index, row['alternate']['name'], first))
    for index, row in enumerate(accounts):  # an account is in one row only: two rows would rotate it twice
        if is_alternate(row) and not problems_of(row):
            for member in row['alternate']['accounts']:
                first = keys.setdefault(_key(member).casefold(), index)
                if first != index:
                    out.append('accounts[%d]: %s is also accounts[%d]; an account belongs to one row only'
                               % (index, _key(member), first))
    return out


def _unconfirmed(entry, confirmed):
    """Whether an account's current password, from a settled change (its attempt), is one no flip has confirmed."""
    attempt = (entry or {}).get('attempt')
    return (entry or {}).get('state') == 'current' and bool(attempt) and attempt != confirmed


def expand(accounts, records, entries):
    """(the rows the plan rotates, the alternates).

    accounts: the role's list; records: logical key -> {active, confirmed} (the store's records, passwords left out);
    entries: the ledger's accounts. Each alternate row becomes its inactive account's row; the first account is active
    until a flip has written a record. Each alternate: {name, key, accounts, active, inactive, user_name, confirmed,
    dependents (whether it has some), again (its inactive account waits for a flip: its dependents are applied
    again)}."""
    rows, alternates = [], []
    for row in accounts:
        if not is_alternate(row):
            rows.append(row)
            continue
        members = row['alternate']['accounts']
        keys = [_key(m) for m in members]
        record = records.get(logical_key(row['alternate']['name'])) or {}
        active = record.get('active') if record.get('active') in keys else keys[0]
        inactive = keys[1 - keys.index(active)]
        member = members[keys.index(inactive)]
        confirmed = dict((k, v) for k, v in (record.get('confirmed') or {}).items() if k in keys)
        rows.append(dict(((k, row[k]) for k in SHARED if k in row), **dict((k, member[k]) for k in MEMBER_FIELDS
                                                                           if member.get(k))))
        alternates.append({'name': row['alternate']['name'], 'key': logical_key(row['alternate']['name']),
                           'accounts': keys, 'active': active, 'inactive': inactive, 'user_name': member['user_name'],
                           'confirmed': confirmed, 'dependents': bool(row.get('dependents')),
                           'again': _unconfirmed(entries.get(inactive), confirmed.get(inactive)),
                           'unrecorded': _unrecorded(record, active, inactive, confirmed, entries)})
    return rows, alternates


def _unrecorded(record, active, other, confirmed, entries):
    """The switch the store's record shows and the ledger never recorded (its run was killed after writing the record,
    before its record phase): {from, to, attempt, run_id, at} for this run to record, else None."""
    attempt = confirmed.get(active)
    if record.get('active') != active or not attempt or (entries.get(active) or {}).get('switched') == attempt:
        return None
    switched = record.get('switched') or {}
    return {'from': other, 'to': active, 'attempt': attempt, 'run_id': switched.get('run_id'), 'at': switched.get('at')}


def flips(alternates, entries, committed, held, rows):
    """The alternates whose inactive account becomes active now: [{key, name, active, previous, user_name, confirmed}]
    (decide() says why the others do not)."""
    return [d['flip'] for d in decide(alternates, entries, committed, held, rows) if d['switched']]


# why a credential did not switch, in the order they are asked (a failed or unverified change is also held)
REASONS = ('failed', 'unverified', 'unsettled', 'not due', 'rolled_back', 'degraded')


def _why_not(alt, entries, committed, held, row, failed, unverified):
    """The reason (one of REASONS) the inactive account of alt does not become active now, or None when it does."""
    new = alt['inactive']
    if new in failed:
        return 'failed'
    if new in unverified:
        return 'unverified'
    if new in held:
        return 'unsettled'
    if not (entries.get(new) or {}).get('attempt') or not (new in committed or alt['again']):
        return 'not due'
    if not alt['dependents']:
        return None
    if row is not None and row.get('status') in ('rolled_back', 'rolling_back'):
        return 'rolled_back'
    if row is None or row.get('status') or not row.get('dependents') or any(
            str(d.get('outcome')).startswith('failed') for d in row['dependents']):
        return 'degraded'
    return None


def decide(alternates, entries, committed, held, rows, failed=(), unverified=(), run_id=None, at=None):
    """Per alternate, whether its inactive account becomes active now, for the switch, the report and the ledger:
    [{name, key, from, to, switched, reason, flip, earlier}]. reason: None when it switches, else one of REASONS.

    entries: the ledger's accounts (the attempt of each account's last change); committed: keys whose new password the
    store committed in this run; held: keys whose change is unsettled; rows: this run's dependents rows
    (module_utils/dependents.rows); failed: keys whose change failed; unverified: keys whose change a verification did
    not prove. The inactive account's password must be committed in this run, or be one an earlier run committed and
    no flip confirmed (again); it must not be held; and when the row has dependents, they were applied with it in this
    run and all passed. flip (when switched): {key, name, active, previous, user_name, confirmed, run_id, at}, confirmed
    with the attempt of the password switched to. earlier: a switch an earlier run made and never recorded (or None)."""
    by_key = dict((r['key'], r) for r in rows)
    out = []
    for alt in alternates:
        new = alt['inactive']
        reason = _why_not(alt, entries, committed, held, by_key.get(new), set(failed), set(unverified))
        item = {'name': alt['name'], 'key': alt['key'], 'from': alt['active'], 'to': new, 'switched': reason is None,
                'reason': reason, 'flip': None, 'earlier': alt.get('unrecorded')}
        if reason is None:
            attempt = entries[new]['attempt']
            item['flip'] = {'key': alt['key'], 'name': alt['name'], 'active': new, 'previous': alt['active'],
                            'user_name': alt['user_name'], 'confirmed': dict(alt['confirmed'], **{new: attempt}),
                            'attempt': attempt, 'run_id': run_id, 'at': at}
        out.append(item)
    return out


def record(ledger, decisions, run_id=None, who=None):
    """The switches of this run's decisions (and those an earlier run made and never recorded) in the ledger's history
    of the account that became active: once per change (the ledger skips a switch it holds). Never a secret."""
    for item in decisions or ():
        earlier, flip = item.get('earlier'), item.get('flip')
        if earlier:
            ledger.append('switched', [earlier['to']], alternate=item['name'], previous=earlier['from'],
                          attempt=earlier['attempt'], switched_by=earlier.get('run_id'), run_id=run_id, who=who,
                          **({'at': earlier['at']} if earlier.get('at') else {}))
        if item.get('switched') and flip:
            ledger.append('switched', [flip['active']], alternate=item['name'], previous=flip['previous'],
                          attempt=flip['attempt'], switched_by=flip.get('run_id') or run_id, run_id=run_id, who=who,
                          **({'at': flip['at']} if flip.get('at') else {}))


def report_rows(decisions):
    """The JSON report's "alternates": per credential name, key, from, to, switched and reason (why not), and the
    switch an earlier run made that this run recorded (earlier: from, to, run_id, at). Never a secret."""
    out = []
    for item in decisions or ():
        row = dict((k, item.get(k)) for k in ('name', 'key', 'from', 'to', 'switched', 'reason'))
        if item.get('earlier'):
            row['earlier'] = dict((k, item['earlier'].get(k)) for k in ('from', 'to', 'run_id', 'at'))
        out.append(row)
    return out
