# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""password_config.py: declared fields, compare, diff, merge, lookups and the dictionary limits."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import password_config as pc
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.api import OP_SOURCES
from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.errors import IscError

CURRENT = {'id': 'p1', 'name': 'Service', 'dateCreated': 1, 'lastUpdated': 2, 'created': 'c', 'modified': 'm',
           'minLength': 12, 'maxLength': 64, 'useDictionary': False, 'description': None,
           'sourceIds': ['s1', 's2']}


# ---- declared / to_options ----------------------------------------------------------------------------

def test_declared_keeps_only_the_options_set():
    params = dict((option, None) for option, _f, _k in pc.POLICY_FIELDS)
    params.update(min_length=8, use_dictionary=False, name='ignored', description=None)
    assert pc.declared(params, pc.POLICY_FIELDS) == {'minLength': 8, 'useDictionary': False}


def test_argument_spec_has_no_defaults():
    spec = pc.argument_spec(pc.POLICY_FIELDS)
    assert len(spec) == 24 and all('default' not in s for s in spec.values())
    assert spec['min_length'] == {'type': 'int'} and spec['use_dictionary'] == {'type': 'bool'}


def test_to_options_only_fields_present():
    assert pc.to_options({'minLength': 8, 'other': 1}, pc.POLICY_FIELDS) == {'min_length': 8}


def test_policy_options_sources_by_name_and_timestamps():
    out = pc.policy_options(CURRENT, {'s1': 'AD'})
    assert out['name'] == 'Service' and out['id'] == 'p1' and out['sources'] == ['AD', 's2']
    assert out['min_length'] == 12 and out['description'] is None
    assert (out['date_created'], out['last_updated'], out['created'], out['modified']) == (1, 2, 'c', 'm')
    assert pc.policy_options({'name': 'N'}) == {'name': 'N'}


# ---- changes / diff -----------------------------------------------------------------------------------

def test_changes_only_declared_fields_that_differ():
    assert pc.changes({'minLength': 12, 'useDictionary': True}, CURRENT) == {'useDictionary': (False, True)}
    assert pc.changes({}, CURRENT) == {}
    assert pc.changes({'minLength': 8}, None) == {'minLength': (None, 8)}


def test_changes_false_is_not_none():
    assert pc.changes({'useDictionary': False}, {}) == {'useDictionary': (None, False)}


def test_changes_source_ids_unordered():
    assert pc.changes({'sourceIds': ['s2', 's1']}, CURRENT) == {}
    assert pc.changes({'sourceIds': ['s1']}, CURRENT) == {'sourceIds': (['s1', 's2'], ['s1'])}
    assert pc.changes({'sourceIds': []}, {'sourceIds': None}) == {}
    assert pc.changes({'sourceIds': []}, CURRENT) == {'sourceIds': (['s1', 's2'], [])}


def test_diff_holds_only_the_changes():
    d = pc.diff({'minLength': (12, 16), 'useDictionary': (False, True)}, 'policy Service')
    assert d == {'before': {'minLength': 12, 'useDictionary': False}, 'after': {'minLength': 16, 'useDictionary': True},
                 'before_header': 'policy Service', 'after_header': 'policy Service'}
    assert pc.diff({}, 'h')['before'] == {} and pc.diff({}, 'h')['after'] == {}


# ---- merged -------------------------------------------------------------------------------------------

def test_merged_keeps_undeclared_and_drops_read_only():
    body = pc.merged(CURRENT, {'minLength': 16})
    assert body == {'name': 'Service', 'minLength': 16, 'maxLength': 64, 'useDictionary': False, 'description': None,
                    'sourceIds': ['s1', 's2']}
    assert CURRENT['minLength'] == 12  # the current object is not changed


def test_merged_from_nothing_and_other_read_only():
    assert pc.merged(None, {'a': 1}) == {'a': 1}
    assert pc.merged({'id': 'g', 'created': 'x', 'name': 'G'}, {}, read_only=('id', 'created')) == {'name': 'G'}


# ---- find ---------------------------------------------------------------------------------------------

ITEMS = [{'id': 'a', 'name': 'One'}, {'id': 'b', 'name': 'Two'}, {'id': 'c', 'name': 'Two'},
         {'id': 'd', 'name': 'a'}]


def test_find_by_name_or_id():
    assert pc.find(ITEMS, 'One', 'policy')['id'] == 'a'
    assert pc.find(ITEMS, 'c', 'policy')['name'] == 'Two'
    assert pc.find(ITEMS, 'one', 'policy') is None  # case-sensitive
    assert pc.find([], 'x', 'policy') is None


def test_find_an_id_wins_over_a_name_spelled_the_same():
    assert pc.find(ITEMS, 'a', 'policy')['id'] == 'a'


def test_find_duplicate_names_fail_with_the_ids():
    with pytest.raises(IscError) as exc:
        pc.find(ITEMS, 'Two', 'password policy')
    assert "are named 'Two'" in str(exc.value)
    assert 'b, c' in str(exc.value) and 'give the id' in str(exc.value)


# ---- lookups with a fake client -----------------------------------------------------------------------

class FakeClient(object):
    """call_json for the sources filter (``name in (...)`` / ``id in (...)``) and pages of a list."""

    def __init__(self, sources=None, pages=None):
        self.sources = sources or {}
        self.pages = pages or []
        self.calls = []

    def call_json(self, operation, method, item_id=None, query=None, json_body=None, shape=object):
        self.calls.append((operation, method, item_id, dict(query or {})))
        if operation == OP_SOURCES:
            field, values = re.match(r'^(name|id) in \((.*)\)$', query['filters']).groups()
            values = re.findall(r'"([^"]*)"', values)
            return [{'id': i, 'name': n} for i, n in self.sources.items() if (n if field == 'name' else i) in values]
        offset = query['offset']
        return self.pages[offset // pc.PAGE_SIZE] if offset // pc.PAGE_SIZE < len(self.pages) else []

    def list_sources(self, ids):
        return dict((i, self.sources[i]) for i in ids if self.sources.get(i))


def test_source_ids_by_name_and_id_in_order_without_repeats():
    client = FakeClient({'id-ad': 'AD', 'id-ldap': 'LDAP'})
    assert pc.source_ids(client, ['LDAP', 'id-ad', 'AD', 'LDAP']) == ['id-ldap', 'id-ad']
    assert pc.source_ids(client, []) == [] and pc.source_ids(client, None) == []


def test_source_ids_name_asked_first_then_only_the_rest_by_id():
    client = FakeClient({'id-ad': 'AD'})
    pc.source_ids(client, ['AD', 'id-ad'])
    filters = [c[3]['filters'] for c in client.calls]
    assert filters == ['name in ("AD","id-ad")', 'id in ("id-ad")']


def test_source_ids_a_name_wins_over_an_id_spelled_the_same():
    client = FakeClient({'id-1': 'id-2', 'id-2': 'Other'})
    assert pc.source_ids(client, ['id-2']) == ['id-1']


def test_source_ids_unknown_fails_naming_the_option():
    with pytest.raises(IscError) as exc:
        pc.source_ids(FakeClient({'id-ad': 'AD'}), ['AD', 'Nope'], option='sources')
    assert str(exc.value).startswith("sources: no source is named or has the id 'Nope'")


def test_source_names_keeps_out_what_isc_does_not_name():
    client = FakeClient({'id-ad': 'AD', 'id-x': None})
    assert pc.source_names(client, ['id-ad', 'id-x']) == {'id-ad': 'AD'}
    assert pc.source_names(client, []) == {}


def test_list_all_reads_every_page():
    full = [{'id': str(i)} for i in range(pc.PAGE_SIZE)]
    client = FakeClient(pages=[full, [{'id': 'last'}]])
    items = pc.list_all(client, 'password-policies')
    assert len(items) == pc.PAGE_SIZE + 1 and items[-1] == {'id': 'last'}
    assert [c[3]['offset'] for c in client.calls] == [0, pc.PAGE_SIZE]


def test_list_all_stops_on_an_empty_answer():
    assert pc.list_all(FakeClient(pages=[None]), 'password-policies') == []


def test_policy_id_by_name_and_unknown():
    policies = [{'id': 'p1', 'name': 'Service'}]
    assert pc.policy_id(None, 'Service', policies) == 'p1'
    with pytest.raises(IscError) as exc:
        pc.policy_id(None, 'Nope', policies)
    assert 'create it first' in str(exc.value)


# ---- dictionary ---------------------------------------------------------------------------------------

def test_dictionary_words_and_text_round_trip():
    locale, words = pc.dictionary_words('locale=en\n  apple \n\nbanana\n')
    assert (locale, words) == ('en', ['apple', 'banana'])
    assert pc.dictionary_text(locale, words) == 'locale=en\napple\nbanana\n'
    assert pc.dictionary_words('') == (None, []) and pc.dictionary_text(None, []) == ''


def test_dictionary_limits_exactly():
    assert pc.dictionary_problems(None, ['w'] * 2500) is None
    assert '2501 words' in pc.dictionary_problems(None, ['w'] * 2501)
    assert pc.dictionary_problems(None, ['x' * 128]) is None


def test_dictionary_locale_line_does_not_count():
    # SailPoint's documents: the locale, comment and empty lines are not counted against the 2,500
    assert pc.dictionary_problems('en', ['w'] * 2500) is None
    problem = pc.dictionary_problems('en', ['w'] * 2501)
    assert '2501 words' in problem and 'locale line does not count' in problem


def test_dictionary_long_words_named_by_position():
    problem = pc.dictionary_problems(None, ['ok', 'x' * 129, 'ok', 'y' * 200])
    assert 'words 2, 4' in problem and '128 characters' in problem
    assert 'word 1 ' in pc.dictionary_problems(None, ['x' * 129])
