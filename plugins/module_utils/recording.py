# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record phase of a rotation: fold the settled outcomes of reconcile and apply (rotation.py) into the ledger.

Internal to the sailpoint_isc.passwords collection; may change without notice.

A file of its own so that the record phase (a module run of its own) does not compile the reconcile and apply
engine; rotation.py imports it back, so ``rotation.record`` is the same function.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

COMMIT_STATES = ('FINISHED',)
DISCARD_STATES = ('FAILED', 'REJECTED')


def record(ledger, reconciled, outcomes, max_attempts=3, run_id=None, retired=(), who=None):
    """Fold settled outcomes into the ledger (after the store has committed, discarded or retired).
    retired: keys the store has archived because ISC no longer knows their account.
    who: the settling run's controller host and user, AWX job and API client ids (audit.who), for the history."""
    for item in reconciled.get('finished', []) + [o for o in outcomes if o['state'] in COMMIT_STATES]:
        ledger.append('finished', item['keys'], request_id=item.get('request_id'), run_id=run_id, who=who)
    for item in reconciled.get('failed', []) + [o for o in outcomes if o['state'] in DISCARD_STATES]:
        reason = '; '.join(item.get('errors') or []) or item.get('state', 'FAILED')
        ledger.append('failed', item['keys'], reason=reason, max_attempts=max_attempts,
                      request_id=item.get('request_id'), run_id=run_id, who=who)
    for outcome in outcomes:
        if outcome['state'] == 'UNKNOWN':
            # no request to poll: the next run re-sends the escrowed password
            refused = {'attempt': outcome.get('attempt'), 'reason': (outcome.get('errors') or ['refused'])[0]}
            ledger.append('unknown', outcome['keys'], reason='; '.join(outcome.get('errors') or []),
                          request_id=outcome.get('request_id'), run_id=run_id, who=who,
                          refused=refused if outcome.get('refused') and outcome.get('resend') else None)
    if retired:
        ledger.append('retired', sorted(retired), run_id=run_id, who=who,
                      reason='ISC no longer knows the account; its passwords are archived in the store')
    if reconciled.get('abandoned'):
        ledger.append('abandoned', reconciled['abandoned'])
    ledger.save()
