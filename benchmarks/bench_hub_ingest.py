"""How fast does the city hub take in a whole day of a city, through the real protocol?

A day of a "1+21+N" city of 244 halls (one city center, 18 town centers, 225 village points;
about 100,000 tickets and their events: issued, called, started, finished, recalls and
no-shows, transfers) is pushed to a real ``hall-hub serve`` in a subprocess, as the halls push
it: ``POST /api/v1/ingest`` with each hall's push token, batches of 2,000 events in sequence
order, a few halls at a time. The hub stores every event idempotently, folds it into the
tickets' rows and acknowledges it. Measured on SQLite and on PostgreSQL, beside the raw insert
rate of the same engine in the same run (the same event rows into a bare table, in
transactions of the same size): what the engine alone can do.

    python benchmarks/bench_hub_ingest.py [--dir /var/tmp] [--pg postgresql://...] [--quick]

Without ``--pg`` (or ``$HALLQ_TEST_POSTGRES``) a throwaway PostgreSQL is started with
``scripts/pg.sh``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import ROOT, table

from city_hub.auth import token_hash
from city_hub.store import Hall, open_store
from tests.hub_support import HubProcess, new_database, throwaway_postgres

DAY = "2026-11-30"
T0 = 1_795_968_000.0  # 2026-11-30 08:00 +08:00
BATCH = 2000
CLIENTS = 8
#: (level, number of halls, tickets per hall, windows)
CITY = [("city", 1, 9_000, 60), ("town", 18, 2_500, 12), ("village", 225, 200, 2)]


def hall_day(rng: random.Random, tickets: int, windows: int) -> list[dict[str, Any]]:
    """One hall's day as its outbox sends it: events in time order with their sequence."""
    out: list[tuple[float, dict[str, Any]]] = [(T0, {"type": "day_opened", "day": DAY})]
    span = 8.5 * 3600
    free = [T0] * windows
    for i in range(tickets):
        issued = T0 + span * i / tickets
        tid, service = f"t{i}", rng.choice("abcd")
        out.append((issued, {"type": "ticket_issued", "ticket_id": tid, "service": service}))
        w = min(range(windows), key=free.__getitem__)
        called = max(issued, free[w]) + rng.uniform(5, 60)
        win = str(w + 1)
        out.append((called, {"type": "ticket_called", "ticket_id": tid, "window": win}))
        roll = rng.random()
        if roll < 0.06:  # two recalls, then not come
            for k in (1, 2):
                out.append((called + 30 * k, {"type": "ticket_recalled", "ticket_id": tid,
                                              "window": win}))  # fmt: skip
            end = called + 90
            out.append((end, {"type": "ticket_no_show", "ticket_id": tid, "window": win}))
        elif roll < 0.10:  # transferred to another service and served there
            end = called + 120
            sid = f"{tid}x"
            out.append((end, {"type": "ticket_transferred", "ticket_id": tid, "window": win,
                              "service": "a", "successor_id": sid}))  # fmt: skip
            out.append((end + 60, {"type": "ticket_called", "ticket_id": sid, "window": win}))
            end += 400
            out.append((end, {"type": "ticket_finished", "ticket_id": sid, "window": win}))
        else:
            out.append((called + 10, {"type": "ticket_started", "ticket_id": tid, "window": win}))
            end = called + rng.uniform(180, 900)
            out.append((end, {"type": "ticket_finished", "ticket_id": tid, "window": win}))
        free[w] = end
    out.append((T0 + 10 * 3600, {"type": "day_closed", "day": DAY}))
    out.sort(key=lambda x: x[0])
    return [{"seq": i + 1, "day": DAY, "at": at, **e} for i, (at, e) in enumerate(out)]


def city_day(seed: int = 1, scale: float = 1.0) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    halls = {}
    for level, count, tickets, windows in CITY:
        for k in range(count):
            halls[f"{level}-{k:03d}"] = hall_day(rng, max(1, int(tickets * scale)), windows)
    return halls


async def register(db: str, halls: dict[str, Any]) -> dict[str, str]:
    store = await open_store(db)
    tokens = {}
    try:
        for hall_id in halls:
            level = hall_id.split("-")[0]
            tokens[hall_id] = f"bench-token-{hall_id}-0123456789"
            await store.add_hall(Hall(hall_id, hall_id, level), token_hash(tokens[hall_id]), 0.0)
    finally:
        await store.close()
    return tokens


async def push(url: str, halls: dict[str, list], tokens: dict[str, str]) -> float:
    """Every hall's day through ``POST /api/v1/ingest``, ``CLIENTS`` halls at a time; seconds."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for h in halls:
        queue.put_nowait(h)

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            h = queue.get_nowait()
            events = halls[h]
            for i in range(0, len(events), BATCH):
                batch = events[i : i + BATCH]
                async with session.post(
                    url + "/api/v1/ingest",
                    json={"hall": h, "events": batch},
                    headers={"Authorization": f"Bearer {tokens[h]}"},
                ) as r:
                    answer = await r.json()
                    assert r.status == 200, answer
                    assert answer["acked"] == batch[-1]["seq"], answer

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    return time.perf_counter() - started


async def raw_insert(db: str, halls: dict[str, list]) -> float:
    """The same event rows into a bare table, ``BATCH`` per transaction; seconds."""
    rows = [
        (h, e["seq"], e["day"], e["at"], e["type"], json.dumps(e, ensure_ascii=False))
        for h, events in halls.items()
        for e in events
    ]
    ddl = (
        "CREATE TABLE raw_events (hall_id TEXT, seq BIGINT, day TEXT, at DOUBLE PRECISION, "
        "type TEXT, data TEXT, PRIMARY KEY (hall_id, seq))"
    )
    started = time.perf_counter()
    if db.startswith("postgresql://"):
        import asyncpg

        conn = await asyncpg.connect(db)
        try:
            await conn.execute(ddl)
            started = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                chunk = rows[i : i + BATCH]
                await conn.execute(
                    "INSERT INTO raw_events SELECT * FROM unnest($1::text[], $2::int8[], "
                    "$3::text[], $4::float8[], $5::text[], $6::text[])",
                    *(list(col) for col in zip(*chunk, strict=True)),
                )
            return time.perf_counter() - started
        finally:
            await conn.close()
    from hall_server.store.db import connect

    conn = connect(db)
    conn.execute(ddl)
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO raw_events VALUES (?, ?, ?, ?, ?, ?)", rows[i : i + BATCH])
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


async def check(db: str, halls: dict[str, list]) -> int:
    """Every hall's events all counted: returns the tickets the hub derived."""
    store = await open_store(db)
    try:
        progress = {h["id"]: h["applied_seq"] for h in await store.halls()}
        assert all(progress[h] == len(e) for h, e in halls.items()), "events missing"
        tickets = 0
        for h in halls:
            tickets += sum(len(v) for v in (await store.day_rows(h, DAY, DAY)).values())
        return tickets
    finally:
        await store.close()


def run(engine: str, server: str | None, tmp: Path, halls: dict[str, list]) -> list[Any]:
    db = new_database(engine, server, tmp)
    tokens = asyncio.run(register(db, halls))
    hub = HubProcess(db, tmp / f"hub-{engine}.log").start()
    try:
        seconds = asyncio.run(push(hub.url, halls, tokens))
    finally:
        hub.stop()
    tickets = asyncio.run(check(db, halls))
    raw_s = asyncio.run(raw_insert(new_database(engine, server, tmp), halls))
    n = sum(len(e) for e in halls.values())
    return [
        engine,
        len(halls),
        tickets,
        n,
        seconds,
        n / seconds,
        n / raw_s,
        f"{raw_s / seconds:.0%}",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=None, help="where the SQLite files go (default: a temp dir)")
    p.add_argument("--pg", default=os.environ.get("HALLQ_TEST_POSTGRES"), help="PostgreSQL URL")
    p.add_argument("--quick", action="store_true", help="a tenth of the traffic")
    args = p.parse_args()
    halls = city_day(scale=0.1 if args.quick else 1.0)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        rows.append(run("sqlite", None, Path(d), halls))
        if args.pg:
            rows.append(run("postgresql", args.pg, Path(d), halls))
        else:
            with throwaway_postgres() as url:
                rows.append(run("postgresql", url, Path(d), halls))
    print(f"\nA city's day into the hub over HTTP (batches of {BATCH}, {CLIENTS} halls at once)")
    print(table(["engine", "halls", "tickets", "events", "seconds", "events/s via hub",
                 "raw insert events/s", "hub/raw"], rows))  # fmt: skip
    print(f"(root: {ROOT})")


if __name__ == "__main__":
    main()
