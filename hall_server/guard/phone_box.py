"""Sealing the phone number a visitor leaves with a 差评, so that a manager can call back.

Why encrypted and not hashed like ID numbers: a hash answers "is this the same number", which
booking needs; a follow-up needs the number itself, and a keyed hash of 10^11 phone numbers is
no protection once the key is known anyway. So the number is sealed with AES-256-GCM (the
``cryptography`` library's AEAD, nothing hand-made) under a key derived with HKDF-SHA256 from
the hall's identity key (``guard/keys.py``: outside the database, 0600, or from the
environment). One key to keep, back up and rotate; a copy of the database alone opens nothing.

A sealed value is ``version (1 byte) | nonce (12) | ciphertext+tag``. The rating's ticket id is
the associated data: a sealed number copied onto another rating does not open there. A key
that changed since the number was sealed raises :class:`Unreadable` (the number is then lost,
which for data kept at most a month is the honest outcome).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_INFO = b"hallq rating phone v1"


class Unreadable(Exception):
    """The sealed number does not open with this hall's key (changed key, or tampered)."""


class PhoneBox:
    def __init__(self, identity_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(identity_key)
        self._aead = AESGCM(key)

    def seal(self, number: str, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, number.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        if sealed[:1] != _VERSION:
            raise Unreadable("unknown sealed-number version")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], bound_to.encode()).decode()
        except InvalidTag:
            raise Unreadable("the number does not open with this hall's key") from None
