"""Ten windows calling at once over real HTTP: no ticket is called twice and none is lost.

The hall runs as a real aiohttp server on a real SQLite file; kiosks and ten staff sessions (each
logged in at its own window) hit it concurrently while the windows share services, so they
compete for the same queues.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from hall_server.app import make_app
from hall_server.config import HallConfig, parse_config
from tests.support import add_demo_accounts, hall_toml

TICKETS = 400
KIOSKS = 8
WINDOWS = 10

SHARED_HALL = hall_toml(
    "繁忙大厅",
    [
        {"code": "pension", "prefix": "A", "name": "养老"},
        {"code": "medical", "prefix": "B", "name": "医保"},
        {"code": "household", "prefix": "C", "name": "户籍"},
    ],
    [["pension", "medical"]] * 4 + [["medical", "household"]] * 3 + [["household", "pension"]] * 3,
    hall_id="busy",
)


def shared_config() -> HallConfig:
    return parse_config(SHARED_HALL, "shared-hall")


async def issue_tickets(
    session: aiohttp.ClientSession, base: str, token: str, count: int, rng: random.Random
) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {token}"}
    out = []
    for _ in range(count):
        service = rng.choice(["pension", "medical", "household"])
        async with session.post(
            f"{base}/api/v1/tickets", json={"service": service}, headers=auth
        ) as r:
            assert r.status == 201, await r.text()
            out.append((await r.json())["ticket"])
    return out


async def work_window(
    session: aiohttp.ClientSession,
    base: str,
    window: str,
    token: str,
    issuing_done: asyncio.Event,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """A clerk: call, sometimes recall/start/no-show/finish, call again, until all are served."""
    headers = {"Authorization": f"Bearer {token}"}
    called: list[dict[str, Any]] = []

    async def act(action: str) -> aiohttp.ClientResponse:
        async with session.post(f"{base}/api/v1/windows/{window}/{action}", headers=headers) as r:
            await r.read()
            return r

    while True:
        done_before = issuing_done.is_set()
        async with session.post(f"{base}/api/v1/windows/{window}/call", headers=headers) as r:
            if r.status == 204:
                if done_before:
                    return called
                await asyncio.sleep(0.002)
                continue
            assert r.status == 200, await r.text()
            ticket = (await r.json())["ticket"]
        assert ticket["status"] == "called" and ticket["window"] == window
        called.append(ticket)
        steps = rng.choice([[], ["finish"], ["start", "finish"], ["recall", "finish"], ["no-show"]])
        for action in steps:
            r = await act(action)
            assert r.status == 200, (action, r.status)
        if not steps:
            continue
        # a finished window holds nothing: finishing again is refused, nothing else is touched
        assert (await act("finish")).status == 409


async def test_ten_windows_calling_concurrently_never_share_or_lose_a_ticket(
    tmp_path: Path,
) -> None:
    config = shared_config()
    db = tmp_path / "hall.db"
    add_demo_accounts(db, config)
    server = TestServer(make_app(config, db), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as s:
            tokens = []
            for i in range(1, WINDOWS + 1):
                login = {"username": f"staff{i}", "password": "demo"}
                async with s.post(f"{base}/api/v1/auth/login", json=login) as r:
                    assert r.status == 200
                    tokens.append((await r.json())["token"])
            issuing_done = asyncio.Event()
            clerks = [
                asyncio.create_task(
                    work_window(s, base, str(i), tokens[i - 1], issuing_done, random.Random(i))
                )
                for i in range(1, WINDOWS + 1)
            ]
            batches = await asyncio.gather(
                *(
                    issue_tickets(s, base, tokens[0], TICKETS // KIOSKS, random.Random(100 + k))
                    for k in range(KIOSKS)
                )
            )
            issuing_done.set()
            called_by_window = await asyncio.gather(*clerks)
            async with s.get(f"{base}/api/v1/services") as r:
                waiting = {sv["code"]: sv["waiting"] for sv in await r.json()}
            async with s.get(f"{base}/api/v1/windows") as r:
                windows = await r.json()
    finally:
        await server.close()

    issued = [t for batch in batches for t in batch]
    called = [t for calls in called_by_window for t in calls]
    assert len(issued) == TICKETS
    issued_ids = Counter(t["id"] for t in issued)
    called_ids = Counter(t["id"] for t in called)
    assert max(issued_ids.values()) == 1
    assert max(called_ids.values()) == 1, "a ticket was called twice"
    assert set(called_ids) == set(issued_ids), "a ticket was lost"
    assert len({t["number"] for t in issued}) == TICKETS
    assert len({t["token"] for t in issued}) == TICKETS
    for prefix in "ABC":
        seqs = sorted(int(t["number"][1:]) for t in issued if t["number"][0] == prefix)
        assert seqs == list(range(1, len(seqs) + 1))
    assert all(count == 0 for count in waiting.values())
    assert [w["current"] for w in windows] == [None] * WINDOWS
    assert all(len(c) > 0 for c in called_by_window), "a window never got a ticket"
    check_database(db, issued, called_by_window)


def check_database(
    db: Path, issued: list[dict[str, Any]], called_by_window: list[list[dict[str, Any]]]
) -> None:
    """The file agrees: one issue and one call event per ticket, in queue order per service."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, number, status, window, called_at FROM tickets").fetchall()
    assert len(rows) == TICKETS
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {t["id"] for t in issued}
    for calls, window in zip(called_by_window, range(1, WINDOWS + 1), strict=True):
        for t in calls:
            _, number, status, at_window, called_at = by_id[t["id"]]
            assert number == t["number"] and at_window == str(window) and called_at is not None
            assert status in {"done", "no_show"}, "the last call finishes what a window held"
    per_type = dict(
        conn.execute(
            "SELECT type, count(DISTINCT json_extract(data, '$.ticket_id')) FROM events "
            "WHERE type IN ('ticket_issued', 'ticket_called') GROUP BY type"
        ).fetchall()
    )
    assert per_type == {"ticket_issued": TICKETS, "ticket_called": TICKETS}
    calls_log = conn.execute(
        "SELECT json_extract(data, '$.ticket_id'), json_extract(data, '$.window') FROM events "
        "WHERE type = 'ticket_called' ORDER BY seq"
    ).fetchall()
    assert len(calls_log) == TICKETS, "a ticket_called event was written twice"
    seq_of = {t["id"]: (t["number"][0], int(t["number"][1:])) for t in issued}
    last: dict[str, int] = {}
    for ticket_id, _ in calls_log:
        prefix, seq = seq_of[ticket_id]
        assert seq > last.get(prefix, 0), f"{prefix}{seq} called out of issue order"
        last[prefix] = seq
    conn.close()
