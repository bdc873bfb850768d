"""How fresh is the city dashboard? From a hall action to the dashboard's websocket frame.

A real hub (``hall-hub serve``, SQLite or PostgreSQL) with 244 registered halls: three real
``hall-server`` processes with a ``[network]`` table (default push settings), and 241
simulated halls pushing through the same protocol at a city's morning peak (each a batch of a
few events and its live state every second, what a busy hall's pusher sends). A city
dashboard is connected to ``/ws/city``. The benchmark takes a ticket at one of the real halls
and times the frame in which the dashboard sees that hall's queue grow; beside it, in the same
run, the same ticket reaching the hall's own board (``/ws/board``), the hall's live path.

    python benchmarks/bench_hub_freshness.py [--samples 60] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import latency_cells, table

from city_hub.auth import add_user, token_hash
from city_hub.store import Hall, open_store
from hall_server.config import load_config
from hall_server.store.db import Store
from hall_server.store.devices import add_token
from tests.hub_support import HubProcess, new_database, throwaway_postgres
from tests.support import ServerProcess, add_demo_accounts, hall_toml

REAL = ["real-0", "real-1", "real-2"]
FAKE = [f"sim-{i:03d}" for i in range(241)]
SERVICES = [
    {"code": "a", "prefix": "A", "name": "社会保障"},
    {"code": "b", "prefix": "B", "name": "户籍"},
]


async def setup_hub(db: str) -> dict[str, str]:
    store = await open_store(db)
    tokens = {}
    try:
        for h in REAL + FAKE:
            tokens[h] = f"fresh-token-{h}-0123456789"
            level = "town" if h in REAL else "village"
            await store.add_hall(Hall(h, h, level, lat=23.0, lon=113.0), token_hash(tokens[h]), 0)
        await add_user(store, "city", "city-pass", "city", None)
    finally:
        await store.close()
    return tokens


def start_hall(tmp: Path, hall_id: str, hub_url: str, token: str) -> tuple[ServerProcess, str]:
    d = tmp / hall_id
    d.mkdir()
    (d / "hub.token").write_text(token)
    toml = hall_toml(hall_id, SERVICES, [["a", "b"], ["b", "a"]], hall_id=hall_id, kiosks=["k1"])
    toml += f'\n[network]\nhub = "{hub_url}"\ntoken_file = "{d / "hub.token"}"\n'
    (d / "hall.toml").write_text(toml)
    add_demo_accounts(d / "hall.db", load_config(d / "hall.toml"))
    store = Store(d / "hall.db")
    kiosk = add_token(store, "k1")
    store.close()
    return ServerProcess(d / "hall.db", d / "hall.toml").start(), kiosk


async def simulated_hall(
    session: aiohttp.ClientSession, url: str, hall: str, token: str, stop: asyncio.Event
) -> None:
    """A busy hall's pusher: every second a few events and the live state."""
    rng = random.Random(hall)
    seq, n, waiting = 0, 0, 0
    day = time.strftime("%Y-%m-%d")
    await asyncio.sleep(rng.random())
    while not stop.is_set():
        now = time.time()
        events = []
        if seq == 0:
            seq += 1
            events.append({"seq": seq, "day": day, "type": "day_opened", "at": now})
        for _ in range(rng.randint(1, 3)):
            n += 1
            seq += 1
            events.append(
                {
                    "seq": seq,
                    "day": day,
                    "type": "ticket_issued",
                    "at": now,
                    "ticket_id": f"t{n}",
                    "service": "a",
                }
            )
            waiting += 1
            if n > 2:
                seq += 1
                events.append(
                    {
                        "seq": seq,
                        "day": day,
                        "type": "ticket_called",
                        "at": now,
                        "ticket_id": f"t{n - 2}",
                        "window": "1",
                    }
                )
                waiting -= 1
        state = {
            "at": now,
            "day": day,
            "open_now": True,
            "waiting": waiting,
            "open_windows": 1,
            "longest_wait_s": 30.0,
            "catalog_version": None,
            "services": [
                {
                    "service": "a",
                    "waiting": waiting,
                    "longest_wait_s": 30.0,
                    "open_windows": 1,
                    "eta_s": 300.0,
                    "open": True,
                }
            ],
        }
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with session.post(
                url + "/api/v1/ingest",
                json={"hall": hall, "events": events, "state": state},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                await r.read()
        await asyncio.sleep(max(0.0, 1.0 - (time.time() - now)))


async def measure(
    hub: HubProcess,
    halls: dict[str, tuple[ServerProcess, str]],
    tokens: dict[str, str],
    samples: int,
) -> tuple[list[float], list[float], int]:
    stop = asyncio.Event()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        fakes = [
            asyncio.create_task(simulated_hall(session, hub.url, h, tokens[h], stop)) for h in FAKE
        ]
        async with session.post(
            hub.url + "/api/v1/auth/login", json={"username": "city", "password": "city-pass"}
        ) as r:
            city = (await r.json())["token"]
        seen_hub: dict[str, list[tuple[float, int]]] = {h: [] for h in REAL}
        seen_board: dict[str, list[tuple[float, int]]] = {h: [] for h in REAL}
        frames = 0

        async def dashboard() -> None:
            nonlocal frames
            async with session.ws_connect(
                hub.url + "/ws/city", headers={"Authorization": f"Bearer {city}"}
            ) as ws:
                async for msg in ws:
                    m = msg.json()
                    frames += 1
                    if m["type"] == "hall" and m["hall"]["id"] in seen_hub:
                        seen_hub[m["hall"]["id"]].append(
                            (time.perf_counter(), m["hall"]["waiting"])
                        )

        async def board(h: str, server: ServerProcess) -> None:
            async with session.ws_connect(server.url + "/ws/board") as ws:
                async for msg in ws:
                    m = msg.json()
                    if m.get("type") in ("state", "snapshot", "queue"):
                        total = sum(s["waiting"] for s in m.get("services", []))
                        seen_board[h].append((time.perf_counter(), total))

        watchers = [asyncio.create_task(dashboard())]
        watchers += [asyncio.create_task(board(h, s)) for h, (s, _) in halls.items()]
        await asyncio.sleep(5)  # every simulated hall has pushed; sockets have their snapshots
        hub_ms, board_ms = [], []
        for i in range(samples):
            h = REAL[i % len(REAL)]
            server, kiosk = halls[h]
            t0 = time.perf_counter()
            async with session.post(
                server.url + "/api/v1/tickets",
                json={"service": "a", "kiosk": "k1"},
                headers={"Authorization": f"Bearer {kiosk}"},
            ) as r:
                assert r.status == 201, await r.text()
            # the queue length the ticket made: the board's first state after it tells it
            want = None
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                after = [(t, w) for t, w in seen_board[h] if t > t0]
                if after:
                    want = after[0][1]
                    board_ms.append((after[0][0] - t0) * 1000)
                    break
                await asyncio.sleep(0.002)
            while want is not None and time.perf_counter() < deadline:
                hit = [t for t, w in seen_hub[h] if t > t0 and w >= want]
                if hit:
                    hub_ms.append((hit[0] - t0) * 1000)
                    break
                await asyncio.sleep(0.002)
            await asyncio.sleep(random.uniform(0.3, 0.8))
        stop.set()
        for t in watchers + fakes:
            t.cancel()
        await asyncio.gather(*watchers, *fakes, return_exceptions=True)
    return hub_ms, board_ms, frames


def run(engine: str, server_url: str | None, tmp: Path, samples: int) -> list[list[Any]]:
    db = new_database(engine, server_url, tmp)
    tokens = asyncio.run(setup_hub(db))
    hub = HubProcess(db, tmp / f"hub-{engine}.log").start()
    halls: dict[str, tuple[ServerProcess, str]] = {}
    try:
        (tmp / engine).mkdir(exist_ok=True)
        for h in REAL:
            halls[h] = start_hall(tmp / engine, h, hub.url, tokens[h])
        started = time.perf_counter()
        hub_ms, board_ms, frames = asyncio.run(measure(hub, halls, tokens, samples))
        elapsed = time.perf_counter() - started
    finally:
        for server, _ in halls.values():
            server.stop()
        hub.stop()
    return [
        [f"{engine}: hall ticket -> city dashboard", len(hub_ms), *latency_cells(hub_ms)],
        [f"{engine}: same ticket -> hall's own board", len(board_ms), *latency_cells(board_ms)],
        [
            f"({len(FAKE)} simulated halls pushing every second; dashboard frames/s)",
            "",
            f"{frames / elapsed:.0f}",
            "",
        ],
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=60)
    p.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = p.parse_args()
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as d:
        if args.engine in ("sqlite", "both"):
            rows += run("sqlite", None, Path(d), args.samples)
        if args.engine in ("postgresql", "both"):
            url = os.environ.get("HALLQ_TEST_POSTGRES")
            if url:
                rows += run("postgresql", url, Path(d), args.samples)
            else:
                with throwaway_postgres() as url:
                    rows += run("postgresql", url, Path(d), args.samples)
    print("\nFreshness: a ticket taken at a hall, seen on the city dashboard (target p99 <= 2 s)")
    print(table(["path", "samples", "p50 ms", "p99 ms"], rows))


if __name__ == "__main__":
    main()
