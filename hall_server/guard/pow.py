"""A self-hosted proof of work for anonymous floods: no third-party captcha, nothing to load
from outside the hall.

When anonymous bookings come faster than a hall ever sees from real visitors (the ``book_all``
limit, counted over all clients), each further booking must carry the solution of a fresh
challenge: a nonce such that SHA-256 of ``challenge:nonce`` starts with ``difficulty`` zero
bits. A phone's browser finds one in about a second (``book.js``, Web Crypto); a script that
wanted the hall's 1,638 places pays that second for each, on top of the per-client and
per-number limits. Challenges are signed (no state until one is used), expire after two
minutes and are accepted once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

TTL_S = 120.0


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def solve(challenge: str, difficulty: int) -> str:
    """What a client does (tests and benchmarks use it too)."""
    n = 0
    while True:
        nonce = str(n)
        digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
        if leading_zero_bits(digest) >= difficulty:
            return nonce
        n += 1


class ProofOfWork:
    def __init__(self, difficulty: int = 14) -> None:
        self.difficulty = difficulty
        self._key = secrets.token_bytes(32)
        self._used: dict[str, float] = {}

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self) -> dict[str, Any]:
        body = f"{time.time() + TTL_S:.0f}.{secrets.token_hex(8)}"
        return {
            "challenge": f"{body}.{self._sign(body)}",
            "difficulty": self.difficulty,
            "expires_in_s": TTL_S,
        }

    def check(self, challenge: str, nonce: str) -> bool:
        """True once for a solved, unexpired challenge this server made."""
        body, _, signature = challenge.rpartition(".")
        expires, _, _ = body.partition(".")
        now = time.time()
        try:
            alive = float(expires) > now
        except ValueError:
            return False
        if not alive or not hmac.compare_digest(signature, self._sign(body)):
            return False
        digest = hashlib.sha256(f"{challenge}:{nonce[:32]}".encode()).digest()
        if leading_zero_bits(digest) < self.difficulty or challenge in self._used:
            return False
        self._used = {c: t for c, t in self._used.items() if t > now}
        self._used[challenge] = float(expires)
        return True
