# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with given arguments and a fake ISC transport."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils import client as client_mod
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import (
    BASE,
    SECRET,
    FakeClock,
    FakeResponse,
    FakeSession,
    info_body,
)

__all__ = ['BASE', 'SECRET', 'FakeResponse', 'FakeSession', 'info_body', 'run_module', 'CONN', 'warning_texts']

CONN = {'base_url': BASE, 'client_id': 'cid-123', 'client_secret': SECRET, 'token_cache': False}


def _reset_warnings():
    try:
        from ansible.module_utils.common import warnings as w
        for name in ('_global_warnings', '_global_deprecations'):
            getattr(w, name).clear()
    except (ImportError, AttributeError):
        pass


def warning_texts(result):
    out = []
    for w in result.get('warnings') or []:
        out.append(w if isinstance(w, str) else str(w.get('event', {}).get('msg', w)))
    return out


def set_module_args(args):
    args = dict(args)
    args.setdefault('_ansible_remote_tmp', '/tmp')
    args.setdefault('_ansible_keep_remote_files', False)
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    if hasattr(basic, '_ANSIBLE_PROFILE'):
        basic._ANSIBLE_PROFILE = 'legacy'


def run_module(main, args, capsys, monkeypatch, session=None, check_mode=False, diff=False):
    """Return (result_dict, session). ``session`` defaults to an empty FakeSession."""
    session = session if session is not None else FakeSession()
    clock = FakeClock()
    monkeypatch.setattr(client_mod, '_new_session', lambda: session)
    monkeypatch.setattr(client_mod, 'DEFAULT_CLOCK', clock)
    monkeypatch.setattr(client_mod, 'DEFAULT_SLEEP', clock.sleep)
    _reset_warnings()
    # A module runs apart from the controller: once a test of this session has imported controller code (an
    # action plugin), ansible-core 2.19+ would send the module's warnings to the controller's display instead
    # of the result. Ask for the module-side behaviour whatever ran before.
    try:
        from ansible.module_utils import _internal
        if hasattr(_internal, 'is_controller'):
            monkeypatch.setattr(_internal, 'is_controller', False)
    except ImportError:
        pass
    for var in ('SAIL_BASE_URL', 'SAIL_CLIENT_ID', 'SAIL_CLIENT_SECRET'):
        monkeypatch.delenv(var, raising=False)
    full = dict(args)
    if check_mode:
        full['_ansible_check_mode'] = True
    if diff:
        full['_ansible_diff'] = True
    set_module_args(full)
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    basic._ANSIBLE_ARGS = None
    return json.loads(out), session
