# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ISC account, one key (accounts.flag_old_spellings): an account re-spelled in the accounts list (account_id
added, dropped, or given as its name instead of its id) while the ledger keeps its old key is refused, naming both."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import planning
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import ledger as ledger_mod
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.test_rotation import (
    FakeClient, accounts_for, fleet, run_all)


@pytest.fixture
def ledger(tmp_path):
    return ledger_mod.Ledger(str(tmp_path / 'state' / 'ledger.json')).load()


def listed(user, source, account_id=None):
    return planning.with_defaults([dict({'user_name': user, 'source_name': source},
                                        **({'account_id': account_id} if account_id else {}))], 30, 0, '')


@pytest.mark.parametrize('spelling', ['svc-000', 'CN=svc-000'])
def test_an_account_re_spelled_after_a_rotation_is_refused_naming_the_old_key(ledger, spelling):
    client = FakeClient(fleet(2))
    run_all(client, ledger, accounts_for(client))
    sent = len(client.sent)
    decisions = run_all(client, ledger, listed('svc-000', 'src-a', spelling) + listed('svc-001', 'src-b'),
                        force=True)[0]
    by_key = dict((d['key'], d) for d in decisions)
    new = 'src-a/svc-000#' + spelling
    assert by_key[new]['action'] == 'error'
    for part in ('same ISC account (CN=svc-000) as src-a/svc-000,', 'List it as src-a/svc-000 again',
                 'or retire src-a/svc-000'):
        assert part in by_key[new]['reason'], by_key[new]['reason']
    assert by_key['src-b/svc-001']['action'] == 'rotate'
    assert len(client.sent) == sent + 1, 'only the other account was sent'
    assert ledger.entry(new).get('state') != 'current'


def test_the_other_account_of_an_identity_and_a_retired_old_key_are_not_flagged(ledger):
    twins = {('carl', 'src-a'): ('idc', 'src-a', [{'accountId': 'CN=carl', 'accountName': 'carl'},
                                                  {'accountId': 'CN=carl-adm', 'accountName': 'carl-adm'}])}
    client = FakeClient(twins)
    run_all(client, ledger, listed('carl', 'src-a', 'CN=carl'))
    decisions = run_all(client, ledger, listed('carl', 'src-a', 'CN=carl-adm'))[0]
    assert [d['action'] for d in decisions] == ['rotate'], decisions
    client = FakeClient(fleet(1))
    run_all(client, ledger, listed('svc-000', 'src-a'))
    ledger.append('retired', ['src-a/svc-000'], reason='retired by hand')
    decisions = run_all(client, ledger, listed('svc-000', 'src-a', 'svc-000'))[0]
    assert [d['action'] for d in decisions] == ['rotate'], decisions
