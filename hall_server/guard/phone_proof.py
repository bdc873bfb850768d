"""Proof that a booker holds the phone they give: a six-digit code sent by SMS.

The code goes out through a pluggable sender: `LogSender` writes it to the server log (the
demo and the tests read it there), `HttpSender` posts it to the hall's SMS gateway as JSON
``{"phone": "138...", "text": "..."}``. Codes live ten minutes in memory (a restart simply
asks the visitor for a new one), are kept as keyed hashes, used once, and a phone gets five
tries at its code. Sending is limited per phone and per client by the caller.

Only a proven phone makes a booking *verified*; missed appointments count towards a
suspension only on verified bookings, so nobody can get a stranger suspended by booking in
their name and staying away.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)

CODE_TTL_S = 600.0
MAX_TRIES = 5


class Sender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class LogSender:
    """Writes the text to the log: for the demo and tests, never for a real hall."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent = [*self.sent[-99:], (phone, text)]
        log.warning("SMS to %s: %s", phone, text)


class HttpSender:
    """Posts ``{"phone", "text"}`` to the hall's SMS gateway; any 2xx answer is success."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url, self.timeout = url, aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, phone: str, text: str) -> None:
        async with (
            aiohttp.ClientSession(timeout=self.timeout) as http,
            http.post(self.url, json={"phone": phone, "text": text}) as r,
        ):
            r.raise_for_status()


@dataclass
class _Pending:
    digest: bytes
    expires_at: float
    tries: int = 0


class PhoneProof:
    def __init__(self, sender: Sender, hall_name: str) -> None:
        self.sender, self.hall_name = sender, hall_name
        self._key = secrets.token_bytes(32)
        self._pending: dict[str, _Pending] = {}

    def _digest(self, phone: str, code: str) -> bytes:
        return hmac.new(self._key, f"{phone}:{code}".encode(), hashlib.sha256).digest()

    async def send_code(self, phone: str) -> None:
        now = time.time()
        self._pending = {p: v for p, v in self._pending.items() if v.expires_at > now}
        code = f"{secrets.randbelow(10**6):06d}"
        self._pending[phone] = _Pending(self._digest(phone, code), now + CODE_TTL_S)
        text = f"【{self.hall_name}】预约验证码 {code}，10 分钟内有效。如非本人操作，请忽略。"
        await self.sender.send(phone, text)

    def check(self, phone: str, code: str) -> bool:
        """True once for the right code within its time; five wrong tries spend it."""
        held = self._pending.get(phone)
        if held is None or held.expires_at < time.time():
            return False
        held.tries += 1
        if hmac.compare_digest(held.digest, self._digest(phone, code.strip())):
            del self._pending[phone]
            return True
        if held.tries >= MAX_TRIES:
            del self._pending[phone]
        return False


def sender_of(kind: str, url: str | None) -> Sender | None:
    if kind == "log":
        return LogSender()
    if kind == "http":
        if not url:
            raise ValueError("security.sms_url is needed for the http sender")
        return HttpSender(url)
    return None
