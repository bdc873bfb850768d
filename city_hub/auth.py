"""Hub accounts and who may see what.

``city`` sees and manages everything; ``manager`` with a scope sees that hall and the halls
under it (a town center sees its villages). Passwords are scrypt-hashed and session tokens
stored as SHA-256, exactly as on a hall (``hall_server.auth``); push tokens likewise.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hall_server.http.errors import ApiError
from hall_server.store.accounts import hash_password, verify_password

from .store import HubStore

ROLES = ("city", "manager")
COOKIE = "hallq_hub_session"
SESSION_TTL_S = 12 * 3600


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    scope: str | None

    def sees(self, hall_id: str, parents: dict[str, str | None]) -> bool:
        """City sees all; a manager their scope and every hall below it."""
        if self.role == "city":
            return True
        seen: set[str] = set()
        at: str | None = hall_id
        while at is not None and at not in seen:
            if at == self.scope:
                return True
            seen.add(at)
            at = parents.get(at)
        return False

    def visible(self, halls: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        halls = list(halls)
        parents = {h["id"]: h["parent"] for h in halls}
        return [h for h in halls if self.sees(h["id"], parents)]


async def add_user(
    store: HubStore, username: str, password: str, role: str, scope: str | None
) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or len(password) < 4:
        raise ValueError("a user needs a name (at most 64 characters) and a password of 4 or more")
    if role == "manager" and not scope:
        raise ValueError("a manager needs --scope HALL_ID")
    await store.add_user(username, hash_password(password), role, scope, time.time())


class Lockout:
    """Wrong passwords per user name: after ``MAX_FAILURES`` within ``WINDOW_S`` logins of that
    name are refused until the oldest failure ages out (the hub is on a public network)."""

    MAX_FAILURES = 5
    WINDOW_S = 300.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, list[float]] = {}

    def locked(self, username: str) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(username, []) if now - t < self.WINDOW_S]
        if recent:
            self._failures[username] = recent
        else:
            self._failures.pop(username, None)
        return len(recent) >= self.MAX_FAILURES

    def failed(self, username: str) -> None:
        self._failures.setdefault(username, []).append(self.clock())


async def login(
    store: HubStore, lockout: Lockout, username: str, password: str
) -> tuple[str, dict[str, Any]]:
    if lockout.locked(username):
        raise ApiError(429, "too_many_attempts", "too many wrong passwords; wait a few minutes")
    user = await store.user(username)
    stored = user["password_hash"] if user else hash_password("x")  # same cost either way
    ok = await asyncio.to_thread(verify_password, password, stored)
    if not (user and ok):
        lockout.failed(username)
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    token = new_token()
    await store.add_session(token_hash(token), username, time.time() + SESSION_TTL_S)
    return token, user


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


async def principal(request: web.Request, store: HubStore) -> Principal | None:
    token = token_of(request)
    if not token:
        return None
    user = await store.session_user(token_hash(token), time.time())
    return Principal(user["username"], user["role"], user["scope"]) if user else None


async def require(request: web.Request, store: HubStore, role: str | None = None) -> Principal:
    who = await principal(request, store)
    if who is None:
        raise ApiError(401, "unauthorized", "log in first (Authorization: Bearer TOKEN)")
    if role == "city" and who.role != "city":
        raise ApiError(403, "forbidden", "this needs the city role")
    return who
