"""A city center's morning peak: does the hall stay fast whatever the number waiting?

A real ``hall-server`` runs a 100-window center (``common.city_toml``: the demo catalog) with
a clerk logged in at every window, 500 boards listening over real websockets (in client
processes) and 25 kiosks set up as a center has them: each kiosk's browser paired (a device
session, what ``hall-server device add K`` gives) and its printer behind a device agent with
its own token (simulated printers, in another process). A paired kiosk may take 60 tickets a
minute (``guard/limiter.py``), so 25 of them carry 20 tickets a second with room. First, with
nobody waiting and no other traffic, single tickets and calls give the unloaded figures.
Then, for each queue size, a staff session fills the queue and for ``--seconds`` the kiosks
issue 20 tickets a second (each with its print job, printed by its kiosk's agent) while
windows call 2 visitors a second, on a fixed schedule (a slow answer does not slow the
schedule down). Measured: ticket and call requests, send to answer; call to board, call sent
to the number read on every board.

    python benchmarks/bench_city_peak.py [--waiting 1000,5000] [--boards 500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from pathlib import Path

import aiohttp
from common import (
    BoardSwarm,
    KioskAgents,
    ServerProcess,
    city_toml,
    cpu_cell,
    cpu_s,
    percentile,
    raise_open_files,
    table,
)

from hall_server.config import parse_config
from hall_server.store.db import Store
from hall_server.store.devices import add_token
from tests.support import add_demo_accounts, paired

TICKETS_PER_S, CALLS_PER_S = 20.0, 2.0
KIOSKS = 25  # 60 tickets a minute each (the edge's limit): 25 carry 20 a second
TARGET_MS = {"ticket": 100.0, "call": 100.0, "board": 250.0}


class City:
    """The server, its clerks, its kiosks and its boards."""

    def __init__(self, directory: Path, boards: int) -> None:
        text = city_toml(100, kiosks=KIOSKS)
        (directory / "city.toml").write_text(text, encoding="utf-8")
        config = parse_config(text)
        self.services = [
            (s.code, float((s.model_extra or {}).get("share", 0.1))) for s in config.service
        ]
        self.windows = [w.id for w in config.window]
        db = directory / "city.db"
        add_demo_accounts(db, config)
        self.kiosks = {k.id: paired(db, k.id) for k in config.kiosk}  # their browsers
        store = Store(db)
        agent_tokens = {k.id: add_token(store, k.id) for k in config.kiosk}  # their PCs
        store.close()
        self.server = ServerProcess(directory / "city.db", config=directory / "city.toml").start()
        assert self.server.proc is not None
        self.pid = self.server.proc.pid
        # staffN works at window N (tests.support.add_demo_accounts)
        self.tokens = {w: self.server.login(f"staff{i}") for i, w in enumerate(self.windows, 1)}
        self.staff = self.server.login("manager")  # fills the queue: staff are not limited
        self.agents = KioskAgents(self.server.url, agent_tokens)
        self.swarm = BoardSwarm(self.server.url, boards) if boards else None

    def stop(self) -> tuple[list[list[tuple[str, float]]], int]:
        """Boards' calls heard, and tickets the kiosks' printers cut."""
        heard = self.swarm.stop() if self.swarm else []
        printed = self.agents.stop()
        self.server.stop()
        return heard, printed


def _spread(services: list[tuple[str, float]], n: int) -> list[str]:
    """``n`` services in proportion to their shares, interleaved."""
    total = sum(share for _, share in services)
    out: list[str] = []
    owed = dict.fromkeys((code for code, _ in services), 0.0)
    while len(out) < n:
        for code, share in services:
            owed[code] += share / total
            if owed[code] >= 1 and len(out) < n:
                owed[code] -= 1
                out.append(code)
    return out


async def _fill(session: aiohttp.ClientSession, url: str, services: list[str], staff: str) -> None:
    limit = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {staff}"}

    async def one(service: str) -> None:
        body = {"service": service}
        async with limit, session.post(f"{url}/api/v1/tickets", json=body, headers=headers) as r:
            assert r.status == 201, await r.text()

    await asyncio.gather(*(one(s) for s in services))


async def _load(
    city: City, waiting: int, seconds: float, tickets_per_s: float, calls_per_s: float
) -> dict[str, list[float]]:
    """Ticket and call latencies (ms) and the send time of every call, by number."""
    url = city.server.url
    out: dict[str, list[float]] = {"ticket": [], "call": []}
    sent: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _fill(session, url, _spread(city.services, waiting), city.staff)
        kiosks = itertools.cycle(city.kiosks.values())
        services = itertools.cycle(_spread(city.services, 997))
        windows = itertools.cycle(city.windows)

        async def ticket() -> None:
            body = {"service": next(services)}
            headers = {"Authorization": f"Bearer {next(kiosks)}"}  # a paired kiosk, as itself
            t0 = time.perf_counter()
            async with session.post(f"{url}/api/v1/tickets", json=body, headers=headers) as r:
                assert r.status == 201, await r.text()
                await r.read()
            out["ticket"].append((time.perf_counter() - t0) * 1000)

        async def call() -> None:
            window = next(windows)
            headers = {"Authorization": f"Bearer {city.tokens[window]}"}
            at, t0 = time.time(), time.perf_counter()
            async with session.post(f"{url}/api/v1/windows/{window}/call", headers=headers) as r:
                text = await r.text()
                assert r.status in (200, 204), f"window {window}: {r.status} {text}"
                body = json.loads(text) if r.status == 200 else {"ticket": None}
            out["call"].append((time.perf_counter() - t0) * 1000)
            if body["ticket"]:
                sent[body["ticket"]["number"]] = at

        async def every(rate: float, job: object) -> None:
            start, tasks = time.perf_counter(), []
            for i in range(round(seconds * rate)):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(job()))  # type: ignore[operator]
            await asyncio.gather(*tasks)

        jobs = []
        if tickets_per_s:
            jobs.append(every(tickets_per_s, ticket))
        if calls_per_s:
            jobs.append(every(calls_per_s, call))
        await asyncio.gather(*jobs)
    out["sent"] = sent  # type: ignore[assignment]
    return out


def _cells(values: list[float]) -> list[str]:
    return [f"{percentile(values, 50):.1f}", f"{percentile(values, 99):.1f}"]


def measure(directory: Path, waiting: int, boards: int, seconds: float) -> list[str]:
    city = City(directory, boards)
    try:
        cpu0, t0 = cpu_s(city.pid), time.monotonic()
        if waiting:
            got = asyncio.run(_load(city, waiting, seconds, TICKETS_PER_S, CALLS_PER_S))
        else:  # unloaded: one request at a time, nothing else going on
            got = asyncio.run(_load(city, 0, seconds, 2.0, 0.0))
            calls = asyncio.run(_load(city, len(city.windows) * 2, seconds, 0.0, 2.0))
            got["call"], got["sent"] = calls["call"], calls["sent"]
        cpu, elapsed = cpu_s(city.pid) - cpu0, time.monotonic() - t0
        time.sleep(1.0)  # stragglers
    finally:
        heard, printed = city.stop()
    sent: dict[str, float] = got["sent"]  # type: ignore[assignment]
    board = [(t - sent[n]) * 1000 for b in heard for n, t in b if n in sent]
    delivered = len(board) / max(1, len(sent) * boards)
    tickets = len(got["ticket"])
    label = f"{waiting:,} waiting, load" if waiting else "no load"
    return [
        label,
        *_cells(got["ticket"]),
        *_cells(got["call"]),
        *_cells(board),
        f"{100 * delivered:.1f}%",
        f"{printed}/{tickets}",
        cpu_cell(cpu, elapsed),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--waiting", default="1000,5000", help="queue sizes, comma-separated")
    p.add_argument("--boards", type=int, default=500)
    p.add_argument("--seconds", type=float, default=30.0, help="of load per queue size")
    p.add_argument("--quick", action="store_true", help="50 boards, 5 s, 200 waiting")
    args = p.parse_args()
    if args.quick:
        args.boards, args.seconds, args.waiting = 50, 5.0, "200"
    raise_open_files(args.boards + 1024)
    rows = []
    for waiting in (0, *(int(n) for n in args.waiting.split(","))):
        directory = Path(tempfile.mkdtemp(prefix="hallq-city-"))
        rows.append(measure(directory, waiting, args.boards, args.seconds))
    print(
        f"100-window center, {args.boards} boards; load: {TICKETS_PER_S:g} kiosk tickets/s and "
        f"{CALLS_PER_S:g} calls/s for {args.seconds:g} s (latencies in ms, send to answer; "
        "board: call sent to number read)"
    )
    headers = [
        "",
        "ticket p50",
        "p99",
        "call p50",
        "p99",
        "board p50",
        "p99",
        "heard",
        "printed",
        "CPU",
    ]
    print(table(headers, rows))
    worst = {
        "ticket": max(float(r[2]) for r in rows[1:]),
        "call": max(float(r[4]) for r in rows[1:]),
        "board": max(float(r[6]) for r in rows[1:]),
    }
    met = all(worst[k] <= TARGET_MS[k] for k in TARGET_MS)
    print(
        "targets under load: ticket and call p99 <= 100 ms, call -> board p99 <= 250 ms: "
        + ("met" if met else "NOT met")
        + f" (worst {worst['ticket']:.0f}, {worst['call']:.0f}, {worst['board']:.0f} ms)"
    )


if __name__ == "__main__":
    main()
