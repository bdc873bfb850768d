"""The hub's login follows the hall's rule (``hall_server.guard.login``): wrong passwords are
slowed per client and per client and name, and nobody can lock a supervisor out by guessing
at their name. A real ``hall-hub serve`` process, clients on their own loopback addresses
(127.0.0.N: the hub sees each as another client). On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from city_hub.auth import add_user
from city_hub.store import open_store
from tests.hub_support import HubProcess


@pytest.fixture
def hub(hub_db: str, tmp_path: Path) -> Iterator[HubProcess]:
    async def accounts() -> None:
        store = await open_store(hub_db)
        try:
            await add_user(store, "city", "city-pass", "city", None)
        finally:
            await store.close()

    asyncio.run(accounts())
    process = HubProcess(hub_db, tmp_path / "hub.log").start()
    yield process
    process.stop()


@pytest.fixture
async def client_at() -> AsyncIterator[Any]:
    """A client session from the loopback address 127.0.0.N."""
    sessions: list[aiohttp.ClientSession] = []

    def at(n: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.0.{n}", 0), limit=0)
        sessions.append(aiohttp.ClientSession(connector=connector))
        return sessions[-1]

    yield at
    for s in sessions:
        await s.close()


async def log_in(
    session: aiohttp.ClientSession, hub: HubProcess, password: str, lang: str = "zh"
) -> tuple[int, Any, str | None]:
    async with session.post(
        hub.url + "/api/v1/auth/login",
        json={"username": "city", "password": password},
        headers={"Accept-Language": lang},
    ) as r:
        return r.status, await r.json(), r.headers.get("Retry-After")


async def test_a_stranger_guessing_cannot_lock_the_city_supervisor_out(
    hub: HubProcess, client_at: Any
) -> None:
    stranger, supervisor = client_at(2), client_at(3)
    statuses = [(await log_in(stranger, hub, f"guess-{n}"))[0] for n in range(30)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    status, body, retry_after = await log_in(stranger, hub, "city-pass")
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert retry_after is not None and int(retry_after) >= 1  # the guesser is told how long
    assert body["error"]["message"] == "密码错误次数太多，请几分钟后再试"
    _, body, _ = await log_in(stranger, hub, "city-pass", lang="en")
    assert body["error"]["message"] == "Too many wrong passwords; wait a few minutes"
    status, body, _ = await log_in(supervisor, hub, "city-pass")  # at their own desk
    assert status == 200 and body["role"] == "city"


async def test_parallel_guesses_are_throttled_before_they_are_checked(
    hub: HubProcess, client_at: Any
) -> None:
    """40 guesses at once: only as many are checked as the budget has places (5), the rest
    are refused before any password is hashed (429, or 503 when the hashing pool is full)."""
    guesser = client_at(4)
    answers = await asyncio.gather(*(log_in(guesser, hub, f"guess-{n}") for n in range(40)))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(401) <= 5
    assert statuses.count(429) + statuses.count(503) == 40 - statuses.count(401)
    status, _, _ = await log_in(client_at(5), hub, "city-pass")
    assert status == 200
