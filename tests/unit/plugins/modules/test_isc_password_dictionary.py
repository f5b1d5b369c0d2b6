# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""isc_password_dictionary: compared by content (sets), written in the user's order, ISC's limits before
sending, words or src, locale, state absent, check mode, diff, the PAT hint on 403 (fake ISC transport)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sailpoint_isc.passwords.plugins.modules import isc_password_dictionary
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import (
    CONN,
    FakeResponse,
    FakeSession,
    run_module,
)

PATH = '/v2024/password-dictionary'


class Resp(FakeResponse):
    """A FakeResponse with ``content``, as IscClient.call reads a text answer."""

    @property
    def content(self):
        return self.text.encode('utf-8')


def uploaded(data):
    """The text of the multipart part ``file`` of a PUT body."""
    body = data.decode('utf-8')
    match = re.search(r'name="file".*?\r\n\r\n(.*)\r\n--', body, re.S)
    assert match, body
    return match.group(1)


def tenant(text='locale=en_US\nqwerty\npassword\n'):
    """A fake ISC that keeps one dictionary file (None: never uploaded, GET answers 404)."""
    state = {'text': text}

    def get(*_args):
        if state['text'] is None:
            return Resp(404, {'detailCode': '404 Not found', 'messages': [{'text': 'No password dictionary'}]})
        return Resp(200, text=state['text'])

    def put(_method, _url, _json, data, headers):
        assert headers['Content-Type'].startswith('multipart/form-data; boundary=')
        state['text'] = uploaded(data)
        return Resp(200, text='')

    session = FakeSession({('GET', PATH): get, ('PUT', PATH): put})
    session.state = state
    return session


def puts(session):
    return [c for c in session.calls if c['method'] == 'PUT']


def run(args, capsys, monkeypatch, session=None, **kw):
    session = session if session is not None else tenant()
    return run_module(isc_password_dictionary.main, dict(CONN, **args), capsys, monkeypatch, session=session, **kw)


# ---- compared by content -------------------------------------------------------------------------

def test_same_words_in_another_order_with_repeats_is_unchanged(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'words': ['password', ' qwerty ', 'password']}, capsys, monkeypatch, s)
    assert res['changed'] is False and puts(s) == []
    assert res['words_count'] == 2 and res['locale'] == 'en_US' and res['added'] == 0 and res['removed'] == 0


def test_comments_and_blank_lines_of_the_tenant_are_not_words(capsys, monkeypatch):
    s = tenant('# made by hand\n\nlocale=en_US\n# banned\nqwerty\n\npassword\n')
    res, dummy = run({'words': ['qwerty', 'password']}, capsys, monkeypatch, s)
    assert res['changed'] is False and res['locale'] == 'en_US' and puts(s) == []


def test_change_writes_the_users_order_and_keeps_the_tenants_locale(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'words': ['zebra', 'qwerty', 'acme', 'zebra']}, capsys, monkeypatch, s, diff=True)
    assert res['changed'] is True
    assert s.state['text'] == 'locale=en_US\nzebra\nqwerty\nacme\n'
    assert (res['added'], res['removed'], res['words_count']) == (2, 1, 3)
    assert res['added_words'] == ['acme', 'zebra'] and res['removed_words'] == ['password']
    assert res['diff']['before'] == 'password\n' and res['diff']['after'] == 'acme\nzebra\n'
    assert 'removed' in res['diff']['before_header'] and 'added' in res['diff']['after_header']


def test_rerun_is_idempotent(capsys, monkeypatch):
    s = tenant(None)
    first, dummy = run({'words': ['a1', 'b2'], 'locale': 'fr_FR'}, capsys, monkeypatch, s)
    second, dummy = run({'words': ['b2', 'a1'], 'locale': 'fr_FR'}, capsys, monkeypatch, s)
    assert first['changed'] is True and second['changed'] is False and len(puts(s)) == 1
    assert s.state['text'] == 'locale=fr_FR\na1\nb2\n'


def test_locale_change_alone_is_a_change_with_its_diff(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'words': ['qwerty', 'password'], 'locale': 'de_DE'}, capsys, monkeypatch, s, diff=True)
    assert res['changed'] is True and res['added'] == 0 and res['removed'] == 0 and res['locale'] == 'de_DE'
    assert res['diff']['before'] == 'locale=en_US\n' and res['diff']['after'] == 'locale=de_DE\n'
    assert s.state['text'] == 'locale=de_DE\nqwerty\npassword\n'


def test_empty_locale_drops_the_locale_line(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'words': ['qwerty', 'password'], 'locale': ''}, capsys, monkeypatch, s, diff=True)
    assert res['changed'] is True and res['locale'] is None and s.state['text'] == 'qwerty\npassword\n'
    assert res['diff']['before'] == 'locale=en_US\n' and res['diff']['after'] == ''


def test_check_mode_sends_nothing_and_predicts(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'words': ['qwerty', 'new1']}, capsys, monkeypatch, s, check_mode=True, diff=True)
    assert res['changed'] is True and puts(s) == []
    assert res['added_words'] == ['new1'] and res['removed_words'] == ['password'] and res['words_count'] == 2
    assert res['diff']['after'] == 'new1\n'


def test_big_lists_are_capped_in_the_result(capsys, monkeypatch):
    s = tenant('\n'.join('old%04d' % i for i in range(300)))
    res, dummy = run({'words': ['new%04d' % i for i in range(200)]}, capsys, monkeypatch, s, diff=True)
    assert res['added'] == 200 and res['removed'] == 300
    assert len(res['added_words']) == 50 and len(res['removed_words']) == 50
    assert res['added_words'][0] == 'new0000'
    assert res['diff']['after'].count('\n') == 200 and res['diff']['before'].count('\n') == 300


# ---- src ---------------------------------------------------------------------------------------------

def test_src_file_with_comments_and_locale(capsys, monkeypatch, tmp_path):
    src = tmp_path / 'dictionary.txt'
    src.write_text(u'\ufeff# banned words\n\nlocale=en_GB\n# the usual ones\nqwerty\n  colour\n', encoding='utf-8')
    s = tenant()
    res, dummy = run({'src': str(src)}, capsys, monkeypatch, s)
    assert res['changed'] is True and res['locale'] == 'en_GB'
    assert s.state['text'] == 'locale=en_GB\nqwerty\ncolour\n'


def test_src_locale_option_overrides_the_file(capsys, monkeypatch, tmp_path):
    src = tmp_path / 'dictionary.txt'
    src.write_text('locale=en_GB\nqwerty\npassword\n')
    res, dummy = run({'src': str(src), 'locale': 'en_US'}, capsys, monkeypatch)
    assert res['changed'] is False and res['locale'] == 'en_US'


def test_src_missing_names_where_it_is_read(capsys, monkeypatch, tmp_path):
    s = tenant()
    res, dummy = run({'src': str(tmp_path / 'nope.txt')}, capsys, monkeypatch, s)
    assert res['failed'] and 'delegate_to: localhost' in res['msg'] and s.calls == []


def test_src_not_utf8_fails(capsys, monkeypatch, tmp_path):
    src = tmp_path / 'latin1.txt'
    src.write_bytes(u'caf\xe9\n'.encode('latin-1'))
    s = tenant()
    res, dummy = run({'src': str(src)}, capsys, monkeypatch, s)
    assert res['failed'] and 'UTF-8' in res['msg'] and s.calls == []


def test_src_line_with_a_space_names_the_line(capsys, monkeypatch, tmp_path):
    src = tmp_path / 'dictionary.txt'
    src.write_text('qwerty\n\ntwo words\n')
    s = tenant()
    res, dummy = run({'src': str(src)}, capsys, monkeypatch, s)
    assert res['failed'] and 'src line 3' in res['msg'] and s.calls == []


# ---- bad input, before anything is sent ------------------------------------------------------------

@pytest.mark.parametrize('words,needle', [(['ok', 'two\nlines'], 'words[1] contains a line break'),
                                          (['a b'], 'space or tab'),
                                          (['#hash'], 'comment'),
                                          (['locale=fr'], 'locale option'),
                                          (['', '  '], 'holds no word'),
                                          (['x' * 129], 'longer than 128'),
                                          (['w%d' % i for i in range(2501)], 'at most 2500')])
def test_bad_words_fail_before_sending(capsys, monkeypatch, words, needle):
    s = tenant()
    res, dummy = run({'words': words}, capsys, monkeypatch, s)
    assert res['failed'] and needle in res['msg'], res['msg']
    assert s.calls == []


def test_2500_words_fit_with_a_locale_line_2501_do_not(capsys, monkeypatch):
    # SailPoint's documents: the locale line does not count against the 2,500 word lines
    s = tenant()
    words = ['w%d' % i for i in range(2500)]
    ok, dummy = run({'words': words, 'locale': 'en_US'}, capsys, monkeypatch, s, check_mode=True)
    assert ok['changed'] is True
    res, dummy = run({'words': words + ['w2500'], 'locale': 'en_US'}, capsys, monkeypatch, s)
    assert res['failed'] and '2501 words' in res['msg'] and puts(s) == []


def test_words_and_src_are_exclusive(capsys, monkeypatch, tmp_path):
    res, s = run({'words': ['a'], 'src': str(tmp_path / 'x')}, capsys, monkeypatch)
    assert res['failed'] and 'mutually exclusive' in res['msg'] and s.calls == []


def test_present_needs_words_or_src(capsys, monkeypatch):
    res, s = run({}, capsys, monkeypatch)
    assert res['failed'] and 'words' in res['msg'] and 'src' in res['msg'] and s.calls == []


def test_bad_locale(capsys, monkeypatch):
    res, s = run({'words': ['a'], 'locale': 'en US'}, capsys, monkeypatch)
    assert res['failed'] and 'locale' in res['msg'] and s.calls == []


# ---- absent ---------------------------------------------------------------------------------------

def test_absent_uploads_an_empty_file(capsys, monkeypatch):
    s = tenant()
    res, dummy = run({'state': 'absent'}, capsys, monkeypatch, s, diff=True)
    assert res['changed'] is True and s.state['text'] == ''
    assert (res['words_count'], res['removed'], res['locale']) == (0, 2, None)
    assert res['diff']['before'] == 'locale=en_US\npassword\nqwerty\n' and res['diff']['after'] == ''
    again, dummy = run({'state': 'absent'}, capsys, monkeypatch, s)
    assert again['changed'] is False and len(puts(s)) == 1


def test_absent_without_a_dictionary_is_unchanged(capsys, monkeypatch):
    s = tenant(None)
    res, dummy = run({'state': 'absent'}, capsys, monkeypatch, s)
    assert res['changed'] is False and puts(s) == []


def test_absent_refuses_words(capsys, monkeypatch):
    res, s = run({'state': 'absent', 'words': ['a']}, capsys, monkeypatch)
    assert res['failed'] and 'state=absent' in res['msg'] and s.calls == []


# ---- ISC errors, versions --------------------------------------------------------------------------

def test_api_client_gets_the_pat_hint(capsys, monkeypatch):
    s = FakeSession({('GET', PATH): Resp(403, {'detailCode': '403 Forbidden', 'messages': [{'text': 'Forbidden'}]})})
    res, dummy = run({'words': ['a']}, capsys, monkeypatch, s)
    assert res['failed'] and res['status'] == 403 and 'personal access token' in res['msg'] and puts(s) == []


@pytest.mark.parametrize('version,path', [('v3', '/v3/password-dictionary'), ('beta', '/beta/password-dictionary'),
                                          ('v2025', '/v2025/password-dictionary'), ('v1', '/password-dictionary/v1')])
def test_paths_of_every_version(capsys, monkeypatch, version, path):
    s = FakeSession({('GET', path): Resp(200, text='qwerty\n'), ('PUT', path): Resp(201, text='')})
    res, dummy = run({'api_version': version, 'words': ['qwerty', 'abc']}, capsys, monkeypatch, s)
    assert res['changed'] is True
    assert [c['method'] for c in s.calls if c['path'] == path] == ['GET', 'PUT']
    assert s.calls[1]['headers'].get('Accept') == 'text/plain'
    assert uploaded(puts(s)[0]['data']) == 'qwerty\nabc\n'
