"""How fresh is the city dashboard? Hall action → the dashboard's websocket frame.

A real ``hall-hub serve`` (subprocess), on SQLite or PostgreSQL, knows the 244 halls of the
work plan's city (``city_hub.demo.network``). A probe hall runs here, a real ``Hall`` with its
real ``Pusher``; a dashboard client here holds ``/ws/city`` as the city account. Each probe is
one hall action (a ticket issued, then called, alternately) timed from just before the action
to the first ``hall`` frame of that hall showing the new number of people waiting: the hall
writes the event, its pusher sends it with its state, the hub stores and folds it and pushes
the frame. Per engine, on a fresh hub for each kind of load:

- baseline: the probe hall alone (the other 243 registered, silent);
- ``--load halls``: the other 243 halls, real ``Hall`` + ``Pusher`` each in a second process,
  pushing while visitors arrive at ``--rate`` tickets/s over the city and clerks call and
  finish them; then at four times that rate;
- ``--load simulated``: the other 243 halls simulated in a second process, each pushing a few
  events and its state every second whatever happens (243 pushes/s, the hub's worst steady
  case: every push is a transaction).

    python benchmarks/bench_hub_freshness.py [--engine sqlite|postgresql|both]
        [--load halls|simulated|both] [--probes 60] [--rate 12] [--dir /var/tmp]

``--rate`` is tickets per second over the whole city; a day of 100,000 tickets over a nine
hour day averages 3.1 a second, so the default 12 is about four times the average hour.
PostgreSQL is ``$HALLQ_TEST_POSTGRES`` or a throwaway server from ``scripts/pg.sh``; the hub
CPU column is the hub process only (PostgreSQL's own work is in its server processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import ROOT, cpu_cell, cpu_s, latency_cells, table

from city_hub.auth import add_user, new_token, token_hash
from city_hub.demo import Point, catalog, hall_config, network
from city_hub.store import Hall as HubHall
from city_hub.store import open_store
from hall_server.core.engine import EngineError
from hall_server.hall import Hall
from hall_server.network import Pusher
from hall_server.store.db import Store
from tests.hub_support import HubProcess, new_database, throwaway_postgres

PROBE = "town-01"
HEADERS = ["engine", "network", "halls online", "tickets/s", "p50 ms", "p99 ms", "max ms",
           "missed", "frames/s", "hub CPU"]  # fmt: skip


async def register(db: str) -> tuple[list[Point], dict[str, str]]:
    """The city's halls with fresh push tokens, and the city account."""
    services, _ = catalog()
    points = network([s["code"] for s in services])
    store = await open_store(db)
    tokens = {}
    try:
        for p in points:
            tokens[p.id] = new_token()
            hall = HubHall(p.id, p.name, p.level, p.parent, p.lat, p.lon)
            await store.add_hall(hall, token_hash(tokens[p.id]), time.time())
        await add_user(store, "city", "bench", "city", None)
    finally:
        await store.close()
    return points, tokens


async def start_hall(
    p: Point, hub: str, token: str, folder: Path, push_every_s: float | None
) -> tuple[Hall, Pusher]:
    services, _ = catalog()
    config = hall_config(p, services, hub, token, "http://127.0.0.1:9", push_every_s)
    hall = Hall(config, Store(folder / f"{p.id}.db"))
    await hall.start()
    assert config.network is not None
    pusher = Pusher(hall, config.network)
    pusher.start()
    return hall, pusher


# -- the loaded network (a second process) -------------------------------------------------------


def _others() -> list[Point]:
    services, _ = catalog()
    return [p for p in network([s["code"] for s in services]) if p.id != PROBE]


async def halls_worker(hub: str, tokens_file: str, folder: str, push_every_s: float | None) -> None:
    """243 halls pushing; visitors arrive at the rate in ``folder/rate`` (a second, over the
    city; reread every second), clerks serve; ``folder/issued`` counts what was issued."""
    tokens = json.loads(Path(tokens_file).read_text())
    points = _others()
    halls = []
    for i in range(0, len(points), 20):
        halls += await asyncio.gather(
            *(
                start_hall(p, hub, tokens[p.id], Path(folder), push_every_s)
                for p in points[i : i + 20]
            )
        )
    weights = [p.windows for p in points]  # bigger halls get more visitors
    rng = random.Random(1)
    rate_file, issued_file = Path(folder) / "rate", Path(folder) / "issued"
    rate, issued, checked = float(rate_file.read_text()), 0, time.monotonic()
    print("ready", flush=True)
    while True:
        await asyncio.sleep(rng.expovariate(rate))
        if time.monotonic() - checked > 1:
            rate, checked = float(rate_file.read_text()), time.monotonic()
            issued_file.write_text(str(issued))
        hall, _ = rng.choices(halls, weights)[0]
        try:
            service = rng.choice(hall.config.service).code
            await hall.issue(service)
            issued += 1
            window = rng.choice(hall.config.window).id
            if hall.engine.window(window).current:
                await hall.act(window, "finish", "bench")
            await hall.act(window, "call", "bench")
        except EngineError:
            pass


async def simulated_worker(hub: str, tokens_file: str, folder: str) -> None:
    """243 simulated halls, each pushing every second a few events and its live state (what a
    busy hall's pusher on a fixed one-second cycle sends); ``folder/issued`` counts tickets."""
    tokens = json.loads(Path(tokens_file).read_text())
    issued_file = Path(folder) / "issued"
    issued = 0
    stop = asyncio.Event()

    async def hall(session: aiohttp.ClientSession, p: Point) -> None:
        nonlocal issued
        rng = random.Random(p.id)
        seq, n, waiting = 0, 0, 0
        await asyncio.sleep(rng.random())
        while not stop.is_set():
            now = time.time()
            day = time.strftime("%Y-%m-%d")
            events: list[dict[str, Any]] = []
            if seq == 0:
                seq += 1
                events.append({"seq": seq, "day": day, "type": "day_opened", "at": now})
            for _ in range(rng.randint(1, 3)):
                n, seq, waiting = n + 1, seq + 1, waiting + 1
                events.append({"seq": seq, "day": day, "type": "ticket_issued", "at": now,
                               "ticket_id": f"t{n}", "service": p.services[0]})  # fmt: skip
                if n > 2:
                    seq, waiting = seq + 1, waiting - 1
                    events.append({"seq": seq, "day": day, "type": "ticket_called", "at": now,
                                   "ticket_id": f"t{n - 2}", "window": "1"})  # fmt: skip
            service = {"service": p.services[0], "waiting": waiting, "longest_wait_s": 30.0,
                       "open_windows": 1, "eta_s": 300.0, "open": True}  # fmt: skip
            state = {"at": now, "day": day, "open_now": True, "waiting": waiting,
                     "open_windows": 1, "longest_wait_s": 30.0, "catalog_version": None,
                     "services": [service]}  # fmt: skip
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.post(
                    hub + "/api/v1/ingest",
                    json={"hall": p.id, "events": events, "state": state},
                    headers={"Authorization": f"Bearer {tokens[p.id]}"},
                ) as r:
                    await r.read()
                    if r.status == 200:
                        issued += sum(e["type"] == "ticket_issued" for e in events)
            await asyncio.sleep(max(0.0, 1.0 - (time.time() - now)))

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(hall(session, p)) for p in _others()]
        print("ready", flush=True)
        while True:
            await asyncio.sleep(1)
            issued_file.write_text(str(issued))
            if any(t.done() for t in tasks):
                await asyncio.gather(*tasks)  # a crashed hall ends the run with its error


# -- the probe -----------------------------------------------------------------------------------


class Dashboard:
    """A city dashboard's socket; remembers when each frame of the probe hall arrived."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.waiting: int | None = None
        self.changed = asyncio.Event()
        self.frames = 0

    async def run(self, session: aiohttp.ClientSession) -> None:
        ws_url = self.url.replace("http", "ws") + f"/ws/city?token={self.token}"
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            async for msg in ws:
                m = json.loads(msg.data)
                self.frames += 1
                halls = m["halls"] if m["type"] == "snapshot" else [m.get("hall")]
                for h in halls:
                    if h and h["id"] == PROBE:
                        self.waiting = h["waiting"]
                        self.changed.set()

    async def until(self, waiting: int, timeout: float = 30) -> float:
        async with asyncio.timeout(timeout):
            while self.waiting != waiting:
                self.changed.clear()
                await self.changed.wait()
        return time.perf_counter()


async def probe(hall: Hall, board: Dashboard, n: int, timeout: float) -> list[float]:
    """``n`` actions at the probe hall, alternately issue and call, each timed to the frame
    showing the hall's new number of people waiting; a frame later than ``timeout`` counts as
    ``timeout`` (a hub that does not keep up)."""
    out = []
    window = hall.config.window[0].id
    service = hall.config.service[0].code
    rng = random.Random(2)
    for i in range(n):
        await asyncio.sleep(rng.uniform(0.3, 1.3))  # out of step with the pusher's cycle
        t0 = time.perf_counter()
        if i % 2 == 0 or hall.engine.waiting(service) == 0:
            await hall.issue(service)
        else:
            if hall.engine.window(window).current:
                await hall.act(window, "finish", "bench")
            await hall.act(window, "call", "bench")
        want = sum(hall.engine.waiting(s.code) for s in hall.config.service)
        try:
            out.append((await board.until(want, timeout)) - t0)
        except TimeoutError:
            out.append(timeout)
    return out


async def start_worker(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line.strip() == "ready", line
    return proc


async def measure(
    args: argparse.Namespace, engine: str, db: str, load: str, folder: Path
) -> list[list[Any]]:
    """One fresh hub on ``db``: the baseline, then ``load``'s rows."""
    points, tokens = await register(db)
    hub = HubProcess(db, folder / "hub.log").start()
    assert hub.proc is not None
    hub_pid = hub.proc.pid
    tokens_file = folder / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    rows: list[list[Any]] = []
    worker: subprocess.Popen[str] | None = None
    async with aiohttp.ClientSession() as session:
        async with session.post(
            hub.url + "/api/v1/auth/login", json={"username": "city", "password": "bench"}
        ) as r:
            token = (await r.json())["token"]
        board = Dashboard(hub.url, token)
        reader = asyncio.create_task(board.run(session))
        p = next(p for p in points if p.id == PROBE)
        hall, pusher = await start_hall(p, hub.url, tokens[PROBE], folder, args.push_every)
        steps = [("baseline: one hall", 0.0)]
        if load == "halls":
            steps += [(f"243 halls, {r:g} tickets/s asked", r) for r in (args.rate, args.rate * 4)]
        else:
            steps += [("243 simulated halls pushing every second", 1.0)]
        try:
            await board.until(0, 30)
            for name, rate in steps:
                if rate and load == "halls":
                    (folder / "rate").write_text(str(rate))
                if rate and worker is None:
                    common = [hub.url, str(tokens_file), str(folder)]
                    if load == "halls":
                        every = str(args.push_every or 0)
                        worker = await start_worker("--halls-worker", *common, every)
                    else:
                        worker = await start_worker("--simulated-worker", *common)
                if rate:
                    await asyncio.sleep(args.warmup)
                issued0 = _issued(folder)
                cpu0, frames0, t0 = cpu_s(hub_pid), board.frames, time.perf_counter()
                lat = [x * 1000 for x in await probe(hall, board, args.probes, args.timeout)]
                elapsed = time.perf_counter() - t0
                rows.append(
                    [
                        engine,
                        name,
                        await _online(session, hub.url),
                        f"{(_issued(folder) - issued0) / elapsed:.1f}",
                        *latency_cells(lat),
                        f"{max(lat):.0f}",
                        sum(x >= args.timeout * 1000 for x in lat),
                        f"{(board.frames - frames0) / elapsed:.0f}",
                        cpu_cell(cpu_s(hub_pid) - cpu0, elapsed),
                    ]
                )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(30)
            await pusher.stop()
            await hall.stop()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            hub.stop()
    return rows


def _issued(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int((folder / "issued").read_text())
    return 0


async def _online(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url + "/api/v1/halls") as r:
        return sum(h["status"] == "online" for h in (await r.json())["halls"])


def run(args: argparse.Namespace, pg_url: str | None) -> list[list[Any]]:
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    loads = ["halls", "simulated"] if args.load == "both" else [args.load]
    rows: list[list[Any]] = []
    for engine in engines:
        for load in loads:
            folder = Path(tempfile.mkdtemp(prefix=f"hallq-fresh-{engine}-{load}-", dir=args.dir))
            db = new_database(engine, pg_url, folder)
            rows += asyncio.run(measure(args, engine, db, load, folder))
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--halls-worker":
        hub, tokens, folder, every = sys.argv[2:6]
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(halls_worker(hub, tokens, folder, float(every) or None))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--simulated-worker":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(simulated_worker(*sys.argv[2:5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--load", choices=["halls", "simulated", "both"], default="both")
    ap.add_argument("--probes", type=int, default=60)
    ap.add_argument("--rate", type=float, default=12.0, help="tickets/s over the city")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    ap.add_argument(
        "--timeout", type=float, default=10.0, help="a frame later than this is missed (s)"
    )
    ap.add_argument(
        "--push-every", type=float, help="the halls' push_every_s (default: 1 s, villages 2 s)"
    )
    ap.add_argument("--dir", default=os.environ.get("TMPDIR"), help="where the databases go")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    if args.engine == "sqlite":
        rows = run(args, None)
    else:
        with throwaway_postgres() as url:
            rows = run(args, url)
    print(
        f"\nHall action -> city dashboard frame ({args.probes} probes per row; load average "
        f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)\n"
    )
    print(table(HEADERS, rows))
    print(f"\ntarget: p99 <= 2000 ms; missed: no frame within {args.timeout:g} s")


if __name__ == "__main__":
    main()
