# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RSA PKCS#1 v1.5 encryption round trip with a test key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.crypto import (
    PasswordEncryptionError,
    encrypt_password,
)
from ansible_collections.sailpoint_isc.passwords.tests.unit.plugins.module_utils.fakes import KEY, PUBLIC_KEY_B64


@pytest.mark.parametrize('password', ['myPassword', 'x', 'Pässwörd€', 'a' * 245])
def test_round_trip(password):
    enc = encrypt_password(PUBLIC_KEY_B64, password)
    assert '\n' not in enc and '-' not in enc and '_' not in enc
    raw = base64.b64decode(enc, validate=True)
    assert len(raw) == 256
    assert KEY.decrypt(raw, padding.PKCS1v15()).decode('utf-8') == password


def test_randomised():
    assert encrypt_password(PUBLIC_KEY_B64, 'same') != encrypt_password(PUBLIC_KEY_B64, 'same')


def test_too_long_rejected_without_showing_it():
    pw = 'Z' * 246
    with pytest.raises(PasswordEncryptionError) as e:
        encrypt_password(PUBLIC_KEY_B64, pw)
    assert '245' in str(e.value) and pw not in str(e.value)
    with pytest.raises(PasswordEncryptionError):
        encrypt_password(PUBLIC_KEY_B64, '€' * 82)  # 246 bytes


def test_bad_key():
    with pytest.raises(PasswordEncryptionError, match='public key'):
        encrypt_password('AIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA', 'secretpw')
    with pytest.raises(PasswordEncryptionError, match='public key'):
        encrypt_password('', 'secretpw')
