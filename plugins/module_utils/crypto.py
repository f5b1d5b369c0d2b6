# -*- coding: utf-8 -*-
# Copyright: contributors to sailpoint_isc.passwords
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal to the sailpoint_isc.passwords collection. Not a public API: names and behaviour
# may change in any release without notice.

"""Encrypt a password for ISC set-password.

ISC hands out an RSA public key (standard Base64 of a DER SubjectPublicKeyInfo) in
query-password-info and expects the password encrypted with RSAES-PKCS1-v1_5 and sent as
standard, unwrapped Base64.
"""

from __future__ import annotations

import base64
import binascii
import traceback

try:
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test import sanity
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.sailpoint_isc.passwords.plugins.module_utils.policy import MAX_PASSWORD_BYTES


class PasswordEncryptionError(ValueError):
    """The password cannot be encrypted; the message never contains the password."""


def encrypt_password(public_key_b64, password):
    """Return standard Base64 (no line breaks) of RSA-PKCS#1-v1.5(password as UTF-8)."""
    if not HAS_CRYPTOGRAPHY:
        raise PasswordEncryptionError('the cryptography Python library is required to encrypt passwords')
    if password is None or password == '':
        raise PasswordEncryptionError('password is empty')
    data = password.encode('utf-8')
    if len(data) > MAX_PASSWORD_BYTES:
        raise PasswordEncryptionError(
            'password is longer than %d bytes in UTF-8 (the RSA-2048 PKCS#1 v1.5 limit); '
            'choose a shorter password' % MAX_PASSWORD_BYTES)
    if not public_key_b64:
        raise PasswordEncryptionError('ISC returned no public key to encrypt the password with')
    try:
        der = base64.b64decode(''.join(str(public_key_b64).split()), validate=True)
        key = load_der_public_key(der)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise PasswordEncryptionError('the public key from ISC is not a Base64 DER RSA public key (%s)'
                                      % type(exc).__name__)
    if not isinstance(key, rsa.RSAPublicKey):
        raise PasswordEncryptionError('the public key from ISC is not an RSA key')
    limit = key.key_size // 8 - 11
    if len(data) > limit:
        raise PasswordEncryptionError('password is longer than %d bytes in UTF-8, the limit for this '
                                      '%d-bit key' % (limit, key.key_size))
    ciphertext = key.encrypt(data, padding.PKCS1v15())
    return base64.b64encode(ciphertext).decode('ascii')
