# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource runner alone, with a resource kept in memory: which step runs when, what check mode skips,
and what the result reports when ISC answers nothing."""

from __future__ import annotations

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.resource import Resource


class Module:
    def __init__(self, params, check_mode=False):
        self.params, self.check_mode, self._diff = params, check_mode, False


class Thing(Resource):
    kind, result_key = 'thing', 'thing'

    def __init__(self, module, tenant, answer=True):
        Resource.__init__(self, module, client=None)
        self.tenant, self.answer, self.writes = tenant, answer, []

    def find(self):
        return self.tenant.get(self.params['name'])

    def wanted(self, current):
        return {'size': self.params['size']} if self.params.get('size') is not None else {}

    def create(self, body, fallback):
        self.writes.append(('create', body))
        return dict(body, id='new') if self.answer else fallback

    def update(self, current, body, fallback):
        self.writes.append(('update', body))
        return dict(body, answered=True) if self.answer else fallback

    def delete(self, current):
        self.writes.append(('delete', current['id']))

    def result(self, current, after, changed):
        return {'thing': after, 'created': current is None, 'fields': sorted(changed)}


TENANT = {'a': {'id': '1', 'name': 'a', 'size': 1, 'created': 'by ISC'}}


@pytest.mark.parametrize('check_mode', [False, True])
def test_create_update_delete_and_what_check_mode_skips(check_mode):
    created = Thing(Module({'name': 'b', 'size': 2}, check_mode), TENANT)
    out = created.run()
    assert out['changed'] and out['created'] and out['fields'] == ['name', 'size']
    assert out['thing'] == ({'name': 'b', 'size': 2} if check_mode else {'name': 'b', 'size': 2, 'id': 'new'})
    assert created.writes == ([] if check_mode else [('create', {'name': 'b', 'size': 2})])

    updated = Thing(Module({'name': 'a', 'size': 3}, check_mode), TENANT)
    out = updated.run()
    assert out['changed'] and out['fields'] == ['size']
    # PUT replaces the whole object: the tenant's fields go back, minus what ISC sets itself (read_only)
    body = {'name': 'a', 'size': 3, 'created': 'by ISC'}
    assert updated.writes == ([] if check_mode else [('update', dict((k, v) for k, v in body.items() if k != 'created'))])
    assert out['thing'] == (dict(TENANT['a'], size=3) if check_mode else {'name': 'a', 'size': 3, 'answered': True})

    deleted = Thing(Module({'name': 'a', 'state': 'absent'}, check_mode), TENANT)
    out = deleted.run()
    assert out['changed'] and out['thing'] == {} and out['diff']['before'] == {'name': 'a', 'size': 1}
    assert deleted.writes == ([] if check_mode else [('delete', '1')])


def test_nothing_to_do_sends_nothing():
    for params in ({'name': 'a', 'size': 1}, {'name': 'a'}, {'name': 'zz', 'state': 'absent'}):
        thing = Thing(Module(params), TENANT)
        out = thing.run()
        assert not out['changed'] and thing.writes == []


def test_an_empty_answer_reports_what_was_sent():
    thing = Thing(Module({'name': 'a', 'size': 5}), TENANT, answer=False)
    assert thing.run()['thing'] == dict(TENANT['a'], size=5)
    thing = Thing(Module({'name': 'c', 'size': 5}), TENANT, answer=False)
    assert thing.run()['thing'] == {'name': 'c', 'size': 5}
