"""Hub accounts and who may see what.

``city`` sees and manages everything; ``manager`` with a scope sees that hall and the halls
under it (a town center sees its villages). Passwords are scrypt-hashed and session tokens
stored as SHA-256, exactly as on a hall (``hall_server.auth``); push tokens likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hall_server.guard.limiter import Limiter
from hall_server.guard.login import checked_login
from hall_server.guard.passwords import HashPool
from hall_server.http.errors import ApiError
from hall_server.store.accounts import hash_password, password_matches

from .store import HubStore

ROLES = ("city", "manager")
COOKIE = "hallq_hub_session"
SESSION_TTL_S = 12 * 3600
SESSION_SWEEP_S = 3600.0


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


async def login(
    store: HubStore,
    limiter: Limiter,
    hashing: HashPool,
    client: str,
    username: str,
    password: str,
) -> tuple[str, dict[str, Any]]:
    """A session for a right password, under the hall's login rule (``hall_server.guard.login``:
    wrong passwords slowed per client and per client and name, no lockout of the name, which
    would let anyone lock the city's supervisors out)."""
    user = await store.user(username)
    stored = user["password_hash"] if user else None
    ok = await checked_login(
        limiter,
        hashing,
        client,
        username,
        lambda: user if password_matches(password, stored) else None,
    )
    if ok is None:
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    token, now = new_token(), time.time()
    await store.drop_expired_sessions(now)  # a hub that people log into keeps no dead ones
    await store.add_session(token_hash(token), username, now + SESSION_TTL_S)
    return token, ok


async def sweep_sessions(store: HubStore, every: float = SESSION_SWEEP_S) -> None:
    """Delete ended sessions now and then, also on a hub nobody logs into (from the app's
    lifecycle, as a task)."""
    while True:
        with contextlib.suppress(Exception):  # the database away: try again next round
            await store.drop_expired_sessions(time.time())
        await asyncio.sleep(every)


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
