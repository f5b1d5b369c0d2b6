# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The four modules: argument errors, check mode, diff, batch forms (fake ISC transport)."""

from __future__ import annotations

import base64
import json
import os

import yaml
from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.sailpoint_isc.passwords.plugins.modules import (
    isc_digit_token,
    isc_password_info,
    isc_password_status,
    isc_set_password,
)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import KEY
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import (
    CONN,
    SECRET,
    FakeResponse,
    FakeSession,
    info_body,
    run_module,
    warning_texts,
)

Q = '/v2024/query-password-info'
S = '/v2024/set-password'
ST = '/v2024/password-change-status/req-1'
GOOD_PW = 'Correct-Horse-42'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def isc(status_states=('FINISHED',), info=None):
    return FakeSession({
        ('POST', Q): FakeResponse(200, info or info_body()),
        ('POST', S): FakeResponse(202, {'requestId': 'req-1', 'state': 'IN_PROGRESS'}),
        ('GET', ST): [FakeResponse(200, {'requestId': 'req-1', 'state': s, 'errors': [] if s != 'FAILED' else ['boom'],
                                         'sourceIds': ['src-a', 'src-b']}) for s in status_states],
    })


# ---- metadata -------------------------------------------------------------------------------------

def test_every_module_is_in_the_action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as f:
        group = yaml.safe_load(f)['action_groups']['isc']
    mods = ['isc_digit_token', 'isc_password_info', 'isc_password_status', 'isc_set_password']
    assert set(mods) <= set(group)
    for m in mods:
        with open(os.path.join(ROOT, 'plugins', 'modules', m + '.py')) as f:
            doc = yaml.safe_load(f.read().split('DOCUMENTATION = r"""')[1].split('"""')[0])
        assert 'sailpoint_isc.passwords.isc' in doc['extends_documentation_fragment']


# ---- connection errors ----------------------------------------------------------------------------

def test_missing_connection(capsys, monkeypatch):
    res, s = run_module(isc_password_info.main, {'user_name': 'a', 'source_name': 'b', 'client_id': 'x',
                                                 'client_secret': 'y'}, capsys, monkeypatch)
    assert res['failed'] and 'base_url' in res['msg'] and 'SAIL_BASE_URL' in res['msg']
    assert s.calls == []


def test_malformed_base_url(capsys, monkeypatch):
    res, dummy = run_module(isc_password_info.main, dict(CONN, base_url='https://acme.api.identitynow.com/v2024',
                                                         user_name='a', source_name='b'), capsys, monkeypatch)
    assert res['failed'] and 'tenant root' in res['msg'] and 'exception' not in res


def test_env_fallback_and_tenant(capsys, monkeypatch):
    s = isc()
    args = {'tenant': 'acme', 'user_name': 'Abby.Smith', 'source_name': 'My-AD', 'token_cache': False}
    monkeypatch.setenv('SAIL_CLIENT_ID', 'cid-env')
    monkeypatch.setenv('SAIL_CLIENT_SECRET', SECRET)
    from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import client as client_mod
    monkeypatch.setattr(client_mod, '_new_session', lambda: s)
    from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.modules.modhelper import set_module_args
    import json
    import pytest
    set_module_args(args)
    with pytest.raises(SystemExit):
        isc_password_info.main()
    res = json.loads(capsys.readouterr().out)
    assert not res.get('failed'), res
    assert s.calls[0]['url'] == 'https://acme.api.identitynow.com/oauth/token'
    assert s.calls[0]['data']['client_id'] == 'cid-env'


def test_wrong_credentials(capsys, monkeypatch):
    s = FakeSession({('POST', '/oauth/token'): FakeResponse(401, {'error': 'invalid_client'})})
    res, dummy = run_module(isc_password_info.main, dict(CONN, user_name='a', source_name='b'), capsys, monkeypatch, s)
    assert res['failed'] and 'check client_id/client_secret' in res['msg']
    assert SECRET not in str(res)


def test_validate_certs_false_warns(capsys, monkeypatch):
    res, dummy = run_module(isc_password_info.main, dict(CONN, validate_certs=False, user_name='Abby.Smith',
                                                         source_name='My-AD'), capsys, monkeypatch, isc())
    assert any('validate_certs' in w for w in warning_texts(res))
    # given with every request, so that REQUESTS_CA_BUNDLE in the environment cannot turn checking back on
    assert dummy.calls and all(call['verify'] is False for call in dummy.calls)


# ---- isc_password_info -----------------------------------------------------------------------------

def test_info_single(capsys, monkeypatch):
    res, dummy = run_module(isc_password_info.main, dict(CONN, user_name='Abby.Smith', source_name='My-AD'),
                            capsys, monkeypatch, isc(), check_mode=True)
    assert res['changed'] is False
    assert res['identity_id'] == '2c9180835d2e5168015d32f890ca1581'
    assert res['policy'] == {'max_repeated_chars': 3, 'min_alpha': 1, 'min_length': 5, 'min_numeric': 1, 'unknown': []}
    assert res['accounts'][0]['account_name'] == 'Abby.Smith'


def test_info_unknown_user(capsys, monkeypatch):
    body = {'detailCode': '400.1.404 Referenced object not found', 'trackingId': 'tid9',
            'messages': [{'text': 'Identity nobody not found'}]}
    s = FakeSession({('POST', Q): FakeResponse(400, body)})
    res, dummy = run_module(isc_password_info.main, dict(CONN, user_name='nobody', source_name='My-AD'),
                            capsys, monkeypatch, s)
    assert res['failed']
    assert res['msg'] == ('query-password-info failed: HTTP 400 (400.1.404 Referenced object not found): '
                          'Identity nobody not found (trackingId tid9); '
                          'hint: check user_name and source_name: the user name and source display name as ISC spells them')


def test_info_batch_per_item_failure(capsys, monkeypatch):
    def handler(method, url, json, data, headers):
        if json['userName'] == 'ghost':
            return FakeResponse(400, {'messages': [{'text': 'not found'}]})
        return FakeResponse(200, info_body())
    s = FakeSession({('POST', Q): handler})
    queries = [{'user_name': 'u%d' % i, 'source_name': 'My-AD'} for i in range(5)]
    queries[2]['user_name'] = 'ghost'
    res, dummy = run_module(isc_password_info.main, dict(CONN, queries=queries, fail_on_item_error=False),
                            capsys, monkeypatch, s)
    assert not res.get('failed')
    assert [r['user_name'] for r in res['results']] == [q['user_name'] for q in queries]
    assert res['results'][2]['failed'] and 'not found' in res['results'][2]['msg']
    assert all(not r['failed'] for i, r in enumerate(res['results']) if i != 2)
    res, dummy = run_module(isc_password_info.main, dict(CONN, queries=queries), capsys, monkeypatch, s)
    assert res['failed'] and '1 of 5' in res['msg'] and len(res['results']) == 5


def test_info_mutually_exclusive(capsys, monkeypatch):
    res, dummy = run_module(isc_password_info.main, dict(CONN, user_name='a', source_name='b',
                                                         queries=[{'user_name': 'a', 'source_name': 'b'}]),
                            capsys, monkeypatch)
    assert res['failed'] and 'mutually exclusive' in res['msg']


# ---- isc_set_password -------------------------------------------------------------------------------

def sp_args(tmp_path, **kw):
    args = dict(CONN, user_name='Abby.Smith', source_name='My-AD', password=GOOD_PW,
                fingerprint_path=str(tmp_path / 'fp.json'))
    args.update(kw)
    return args


class KeptCapture:
    """capsys, keeping everything read through it: run_module drains the buffer, this keeps a copy."""

    def __init__(self, capsys):
        self._capsys = capsys
        self.out = ''
        self.err = ''

    def readouterr(self):
        captured = self._capsys.readouterr()
        self.out += captured.out
        self.err += captured.err
        return captured


def test_set_password_wait_finished(capsys, monkeypatch, tmp_path):
    s = isc(('IN_PROGRESS', 'FINISHED'))
    kept = KeptCapture(capsys)
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, wait=True, poll_interval=1), kept, monkeypatch, s)
    assert res['changed'] and res['state'] == 'FINISHED' and res['request_id'] == 'req-1'
    assert res['source_ids'] == ['src-a', 'src-b']
    sent = [c for c in s.calls if c['path'] == S][0]['json']
    assert set(sent) == {'identityId', 'sourceId', 'accountId', 'publicKeyId', 'encryptedPassword'}
    assert KEY.decrypt(base64.b64decode(sent['encryptedPassword']), padding.PKCS1v15()).decode() == GOOD_PW
    # the module's real output (the JSON Ansible reads, invocation included) and anything it wrote to stderr
    assert '"request_id": "req-1"' in kept.out
    assert GOOD_PW not in kept.out + kept.err
    # ansible-core 2.21 no longer echoes the arguments; where they are echoed, the password is masked
    if 'invocation' in res:
        assert res['invocation']['module_args']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_set_password_failed_state_fails(capsys, monkeypatch, tmp_path):
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, wait=True), capsys, monkeypatch, isc(('FAILED',)))
    assert res['failed'] and 'FAILED' in res['msg'] and 'boom' in res['msg'] and res['request_id'] == 'req-1'


def test_set_password_still_in_progress_warns(capsys, monkeypatch, tmp_path):
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, wait=True, wait_timeout=10, poll_interval=5),
                            capsys, monkeypatch, isc(('IN_PROGRESS',)))
    assert not res.get('failed') and res['state'] == 'IN_PROGRESS' and res['request_id'] == 'req-1'
    assert any('IN_PROGRESS' in w and 'req-1' in w for w in warning_texts(res))


def test_set_password_policy_violation(capsys, monkeypatch, tmp_path):
    bad = 'abc'
    s = isc()
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, password=bad), capsys, monkeypatch, s)
    assert res['failed'] and 'min_length' in res['msg'] and 'min_numeric' in res['msg']
    assert s.count('POST', S) == 0


def test_set_password_check_mode_sends_nothing(capsys, monkeypatch, tmp_path):
    s = isc()
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path), capsys, monkeypatch, s, check_mode=True, diff=True)
    assert res['changed'] is True and res['state'] is None
    assert s.count('POST', S) == 0 and s.count('POST', Q) == 1
    assert res['diff']['after'] == {'account': 'Abby.Smith', 'password': '<will change>'}
    assert GOOD_PW not in str(res)


def test_set_password_several_accounts_need_account_id(capsys, monkeypatch, tmp_path):
    accounts = [{'accountId': 'CN=a', 'accountName': 'abby-a'}, {'accountId': 'CN=b', 'accountName': 'abby-b'}]
    s = isc(info=info_body(accounts=accounts))
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path), capsys, monkeypatch, s)
    assert res['failed'] and 'abby-a' in res['msg'] and 'abby-b' in res['msg'] and 'account_id' in res['msg']
    s = isc(info=info_body(accounts=accounts))
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, account_id='abby-b'), capsys, monkeypatch, s)
    assert not res.get('failed') and res['account_id'] == 'CN=b'


def test_set_password_outcome_unknown(capsys, monkeypatch, tmp_path):
    s = isc()
    s.handlers[('POST', S)] = FakeResponse(502, None, text='')
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path), capsys, monkeypatch, s)
    assert res['failed'] and 'outcome unknown' in res['msg']
    assert res['identity_id'] and res['account_id'] and res['public_key_id']
    assert s.count('POST', S) == 1


def test_set_password_on_change(capsys, monkeypatch, tmp_path):
    args = sp_args(tmp_path, update_password='on_change', wait=True)
    s = isc()
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert res['changed'] and s.count('POST', S) == 1
    assert GOOD_PW not in (tmp_path / 'fp.json').read_text()
    # same password again: nothing sent, in check mode and for real
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s, check_mode=True)
    assert res['changed'] is False
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s, diff=True)
    assert res['changed'] is False and s.count('POST', S) == 1
    assert res['diff']['after']['password'] == '<unchanged>'
    # another password: predicted and sent
    args2 = dict(args, password='Other-Horse-43')
    res, dummy = run_module(isc_set_password.main, args2, capsys, monkeypatch, s, check_mode=True)
    assert res['changed'] is True and s.count('POST', S) == 1
    res, dummy = run_module(isc_set_password.main, args2, capsys, monkeypatch, s)
    assert res['changed'] is True and s.count('POST', S) == 2


def test_set_password_on_change_pending_resolved(capsys, monkeypatch, tmp_path):
    args = sp_args(tmp_path, update_password='on_change')
    s = isc(('IN_PROGRESS',))
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert res['changed'] and res['state'] == 'IN_PROGRESS'
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert res['changed'] is False and s.count('POST', S) == 1
    s.handlers[('GET', ST)] = [FakeResponse(200, {'requestId': 'req-1', 'state': 'FAILED', 'errors': ['x']})]
    res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert res['changed'] is True and s.count('POST', S) == 2


def fingerprint_entries(path):
    with open(str(path)) as f:
        return json.load(f)['entries']


def test_set_password_always_then_on_change_sends_nothing(capsys, monkeypatch, tmp_path):
    # the option text: on_change compares with "the last password this controller set successfully",
    # whatever mode set it
    s = isc()
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, wait=True), capsys, monkeypatch, s)
    assert res['changed'] and res['state'] == 'FINISHED' and s.count('POST', S) == 1
    assert [e['state'] for e in fingerprint_entries(tmp_path / 'fp.json').values()] == ['confirmed']
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, update_password='on_change'),
                            capsys, monkeypatch, s)
    assert res['changed'] is False and s.count('POST', S) == 1
    assert 'not sent again' in res['note']


def test_set_password_always_without_wait_is_pending_until_isc_finishes(capsys, monkeypatch, tmp_path):
    # accepted but not finished: remembered as pending with its request id; the next on_change
    # run asks ISC, which now reports FINISHED: nothing sent, the entry is confirmed
    s = isc(('IN_PROGRESS', 'FINISHED'))
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path), capsys, monkeypatch, s)
    assert res['changed'] and res['state'] == 'IN_PROGRESS'
    entries = fingerprint_entries(tmp_path / 'fp.json')
    assert [(e['state'], e['request_id']) for e in entries.values()] == [('pending', 'req-1')]
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, update_password='on_change'),
                            capsys, monkeypatch, s)
    assert res['changed'] is False and res['state'] == 'FINISHED' and s.count('POST', S) == 1
    assert [e['state'] for e in fingerprint_entries(tmp_path / 'fp.json').values()] == ['confirmed']


def test_set_password_failed_unknown_or_encrypted_change_forgets_the_fingerprint(capsys, monkeypatch, tmp_path):
    on_change = sp_args(tmp_path, update_password='on_change', wait=True)
    info = info_body()
    cases = [
        # a change that FAILED (in always mode)
        ('failed', sp_args(tmp_path, password='Other-Horse-43', wait=True), ('FAILED',), None),
        # a change whose outcome is unknown
        ('unknown', sp_args(tmp_path, password='Other-Horse-43'), ('FINISHED',), FakeResponse(502, None, text='')),
        # a change made with an encrypted password (cannot be fingerprinted)
        ('encrypted', dict(CONN, identity_id=info['identityId'], source_id=info['sourceId'],
                           account_id=info['accounts'][0]['accountId'], encrypted_password='ENC', public_key_id='k',
                           fingerprint_path=str(tmp_path / 'fp.json')), ('FINISHED',), None),
    ]
    for name, args, states, set_answer in cases:
        s = isc()
        run_module(isc_set_password.main, on_change, capsys, monkeypatch, s)
        assert len(fingerprint_entries(tmp_path / 'fp.json')) == 1, name
        s = isc(states)
        if set_answer is not None:
            s.handlers[('POST', S)] = set_answer
        res, dummy = run_module(isc_set_password.main, args, capsys, monkeypatch, s)
        assert s.count('POST', S) == 1, name
        assert fingerprint_entries(tmp_path / 'fp.json') == {}, name
        # the account may no longer hold GOOD_PW: on_change submits it again
        s = isc()
        res, dummy = run_module(isc_set_password.main, on_change, capsys, monkeypatch, s)
        assert res['changed'] and s.count('POST', S) == 1, name


def test_fingerprint_path_option_and_default_location(capsys, monkeypatch, tmp_path):
    home = tmp_path / 'home'
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.delenv('XDG_CACHE_HOME', raising=False)
    s = isc()
    args = sp_args(tmp_path, wait=True)
    del args['fingerprint_path']
    # default: ~/.cache/sailpoint_isc/fingerprints.json of the user the module runs as
    run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert len(fingerprint_entries(home / '.cache' / 'sailpoint_isc' / 'fingerprints.json')) == 1
    # default under XDG_CACHE_HOME when set
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    run_module(isc_set_password.main, args, capsys, monkeypatch, s)
    assert len(fingerprint_entries(tmp_path / 'xdg' / 'sailpoint_isc' / 'fingerprints.json')) == 1
    # fingerprint_path: that file only (a persistent state directory in AWX); ~ is expanded
    state = home / 'state'
    chosen = dict(args, fingerprint_path='~/state/fingerprints.json')
    res, dummy = run_module(isc_set_password.main, dict(chosen, update_password='on_change'), capsys, monkeypatch, s)
    assert res['changed'] and s.count('POST', S) == 3
    assert sorted(os.listdir(str(state))) == ['fingerprints.json', 'fingerprints.json.lock']
    res, dummy = run_module(isc_set_password.main, dict(chosen, update_password='on_change'), capsys, monkeypatch, s)
    assert res['changed'] is False and s.count('POST', S) == 3
    # the file names no account and holds no password
    text = (state / 'fingerprints.json').read_text()
    assert GOOD_PW not in text and 'Abby' not in text and 'CN=' not in text


def test_fingerprint_file_that_cannot_be_written_warns(capsys, monkeypatch, tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('')
    s = isc()
    res, dummy = run_module(isc_set_password.main, sp_args(tmp_path, wait=True, fingerprint_path=str(blocker / 'fp.json')),
                            capsys, monkeypatch, s)
    assert not res.get('failed') and res['changed'] and res['state'] == 'FINISHED'
    assert any('fingerprint file' in w and 'could not be updated' in w for w in warning_texts(res))


def test_set_password_encrypted_form(capsys, monkeypatch, tmp_path):
    s = isc()
    res, dummy = run_module(isc_set_password.main, dict(CONN, identity_id='i', source_id='s', account_id='a',
                                                        encrypted_password='ENC', public_key_id='k'),
                            capsys, monkeypatch, s)
    assert res['changed'] and s.count('POST', Q) == 0
    assert [c for c in s.calls if c['path'] == S][0]['json']['encryptedPassword'] == 'ENC'


def test_set_password_argspec_errors(capsys, monkeypatch, tmp_path):
    res, dummy = run_module(isc_set_password.main, dict(CONN, user_name='a', source_name='b', password='Clear-Text-1',
                                                        encrypted_password='Cipher-Text-1', public_key_id='k'),
                            capsys, monkeypatch)
    assert res['failed'] and 'mutually exclusive' in res['msg']
    assert 'Clear-Text-1' not in str(res) and 'Cipher-Text-1' not in str(res)
    res, dummy = run_module(isc_set_password.main, dict(CONN, password='Pw-123456'), capsys, monkeypatch)
    assert res['failed'] and 'user_name and source_name are required' in res['msg']


def test_set_password_batch(capsys, monkeypatch, tmp_path):
    def handler(method, url, json, data, headers):
        if json['userName'] == 'ghost':
            return FakeResponse(400, {'messages': [{'text': 'not found'}]})
        return FakeResponse(200, dict(info_body(), identityId='id-' + json['userName']))
    s = isc()
    s.handlers[('POST', Q)] = handler
    items = [{'user_name': 'u%d' % i, 'source_name': 'My-AD', 'password': 'Batch-Pass-%d' % i} for i in range(6)]
    items[3]['user_name'] = 'ghost'
    items[4]['password'] = 'short'
    res, dummy = run_module(isc_set_password.main, dict(CONN, passwords=items, fail_on_item_error=False, wait=True,
                                                        fingerprint_path=str(tmp_path / 'f.json')),
                            capsys, monkeypatch, s)
    assert [r['user_name'] for r in res['results']] == [i['user_name'] for i in items]
    assert res['results'][3]['failed'] and res['results'][4]['failed']
    assert 'min_length' in res['results'][4]['msg'] or 'min_numeric' in res['results'][4]['msg']
    ok = [r for i, r in enumerate(res['results']) if i not in (3, 4)]
    assert all(r['state'] == 'FINISHED' and r['changed'] and not r['failed'] for r in ok)
    assert s.count('POST', S) == 4
    assert 'Batch-Pass' not in str(res)


# ---- isc_digit_token -----------------------------------------------------------------------------

def test_digit_token_length_checked(capsys, monkeypatch):
    res, s = run_module(isc_digit_token.main, dict(CONN, user_id='Abby.Smith', length=5), capsys, monkeypatch)
    assert res['failed'] and res['msg'].startswith('length must be between 6 and 18')
    assert s.calls == []


def test_digit_token(capsys, monkeypatch):
    s = FakeSession({('POST', '/v2024/generate-password-reset-token/digit'):
                     FakeResponse(200, {'digitToken': '09087713', 'requestId': 'e1'})})
    res, dummy = run_module(isc_digit_token.main, dict(CONN, user_id='Abby.Smith', length=8), capsys, monkeypatch, s)
    assert res['changed'] and res['digit_token'] == '09087713' and res['request_id'] == 'e1'
    assert '09087713' not in res.get('msg', '') and not res.get('warnings')
    assert s.calls[-1]['headers']['X-SailPoint-Experimental'] == 'true'


def test_digit_token_check_mode(capsys, monkeypatch):
    s = FakeSession()
    res, dummy = run_module(isc_digit_token.main, dict(CONN, user_id='Abby.Smith'), capsys, monkeypatch, s, check_mode=True)
    assert res['changed'] and res['digit_token'] is None
    assert all(c['path'] == '/oauth/token' for c in s.calls)


def test_digit_token_v3(capsys, monkeypatch):
    res, s = run_module(isc_digit_token.main, dict(CONN, user_id='A', api_version='v3'), capsys, monkeypatch)
    assert res['failed'] and 'v3' in res['msg'] and s.calls == []


# ---- isc_password_status -------------------------------------------------------------------------

def test_status_single_and_unknown(capsys, monkeypatch):
    s = isc(('FINISHED',))
    res, dummy = run_module(isc_password_status.main, dict(CONN, request_id='req-1'), capsys, monkeypatch, s)
    assert res['changed'] is False and res['state'] == 'FINISHED' and res['source_ids'] == ['src-a', 'src-b']
    res, dummy = run_module(isc_password_status.main, dict(CONN, request_id='nope'), capsys, monkeypatch, s)
    assert res['failed'] and 'HTTP 404' in res['msg']


def test_status_list_wait(capsys, monkeypatch):
    s = isc(('IN_PROGRESS', 'FINISHED'))
    res, dummy = run_module(isc_password_status.main, dict(CONN, request_ids=['req-1', 'nope'], wait=True,
                                                           poll_interval=1, fail_on_item_error=False),
                            capsys, monkeypatch, s)
    assert not res.get('failed')
    assert res['statuses'][0]['state'] == 'FINISHED'
    assert res['statuses'][1]['failed'] and res['statuses'][1]['request_id'] == 'nope'
