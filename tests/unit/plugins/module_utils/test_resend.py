# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A re-send crosses fewer boundaries (issue 23 §1): the plan names its attempt and no password; apply joins the
pending passwords read back from the store to it by attempt id, and refuses it, sending nothing, when they do not
hold it (never a new password for an escrowed attempt)."""

from __future__ import annotations

import json
import random

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod, planning, resend, rotation
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_rotation import (
    FakeClient, accounts_for, fleet)


@pytest.fixture
def ledger(tmp_path):
    return ledger_mod.Ledger(str(tmp_path / 'state' / 'ledger.json')).load()


def lost_then_planned(ledger):
    """Two accounts; svc-000's change is lost (UNKNOWN) and its escrowed password P1 is planned again as a re-send,
    svc-001 is forced to a new password. Returns (client, groups, P1, key, attempt)."""
    client = FakeClient(fleet(2), unknown_on=['CN=svc-000'])
    reconciled = rotation.reconcile(client, ledger, {})
    _d, groups = planning.plan(client, accounts_for(client), ledger, reconciled, rng=random.Random(3))
    first = next(g for g in groups if g['keys'] == ['src-a/svc-000'])
    rotation.record(ledger, reconciled, rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0))
    client.unknown_on = set()
    key, attempt = first['keys'][0], first['attempt']
    reconciled = rotation.reconcile(client, ledger, {key: attempt})
    decisions, groups = planning.plan(client, accounts_for(client), ledger, reconciled, force=True, rng=random.Random(4),
                                      pending_passwords={key: first['password']}, pending_attempts={key: attempt},
                                      store_pending={key: attempt})
    assert [d['action'] for d in decisions] == ['resubmit', 'rotate']
    return client, groups, first['password'], key, attempt


def test_the_plan_names_the_attempt_of_a_re_send_and_carries_no_escrowed_password(ledger):
    _client, groups, p1, key, attempt = lost_then_planned(ledger)
    again = next(g for g in groups if g['keys'] == [key])
    assert again['reuse_pending'] and again['attempt'] == attempt and 'password' not in again
    assert p1 not in json.dumps(groups), 'the escrowed password came out of the plan'


def test_apply_joins_the_escrowed_password_to_its_re_send_by_attempt(ledger):
    client, groups, p1, key, attempt = lost_then_planned(ledger)
    new = next(g for g in groups if g['keys'] != [key])['password']
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0,
                              pending_passwords={key: p1, 'src-b/other': 'not-this-one'},
                              pending_attempts={key: attempt, 'src-b/other': 'another-attempt'})
    assert [o['state'] for o in outcomes] == ['FINISHED', 'FINISHED']
    assert sorted(sent[3] for sent in client.sent[-2:]) == sorted([p1, new])


@pytest.mark.parametrize('case', ['missing', 'empty', 'another attempt', 'members disagree'])
def test_apply_refuses_a_re_send_it_cannot_read_and_sends_nothing_for_it(ledger, case):
    """The plan's message; the outcome leaves the escrow pending for the next run (no discard, no new password),
    and the other changes go out."""
    client, groups, p1, key, attempt = lost_then_planned(ledger)
    passwords, attempts = {
        'missing': ({}, {}),
        'empty': ({key: ''}, {key: attempt}),
        'another attempt': ({key: p1}, {key: 'f' * 32}),
        'members disagree': ({key: p1, 'src-a/twin': 'other'}, {key: attempt, 'src-a/twin': 'g' * 32}),
    }[case]
    if case == 'members disagree':
        groups = [dict(g, keys=g['keys'] + ['src-a/twin']) if g['keys'] == [key] else g for g in groups]
    sent_before = len(client.sent)
    outcomes = rotation.apply(client, groups, ledger, wait_timeout=5, poll_interval=0.0,
                              pending_passwords=passwords, pending_attempts=attempts)
    refused = next(o for o in outcomes if key in o['keys'])
    assert refused['state'] == 'UNKNOWN' and refused['request_id'] is None and refused['sent'] is None
    holders = sorted(set(passwords) | set(attempts))
    assert refused['errors'][0] == resend.unreadable([k for k in refused['keys'] if k in holders] or refused['keys'])
    assert 'could not be read back' in refused['errors'][0] and 'stays pending' in refused['errors'][-1]
    assert [s[2] for s in client.sent[sent_before:]] == ['CN=svc-001'], 'only the other change went out'
    commits, discards = rotation.outcome_records(outcomes)
    assert key not in [k for r in commits + discards for k in r['keys']], 'the escrow of the attempt was settled'
