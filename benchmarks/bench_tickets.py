"""How many tickets a second does the hall issue, durably, over real HTTP?

A real ``hall-server`` (the demo hall) runs in a subprocess on a fresh SQLite file; this process
posts ``POST /api/v1/tickets`` from 1 and from 50 concurrent keep-alive clients for a few
seconds each and prints tickets/s, latency percentiles and the server's CPU use. Beside them,
measured in the same run on the same disk: the raw rate of durable SQLite commits (WAL,
``synchronous=FULL``, one small insert per transaction), which is what one ticket per commit
could at best reach, and the rate of rows committed in batches of 50, which is what group
commit can approach.

Then tickets with and without a print job, side by side on the same hall: 50 paired kiosks
(each kiosk's browser paired, its device agent connected from another process) against 50
clients of one clerk's session. Each kiosk ticket's print job is saved in the ticket's own
commit, then sent to the kiosk's agent, whose progress reports (printing, done) are saved too;
the agents report each job printed at once (``KioskAgents(instant=True)``: fifty simulated
printers rendering on the benchmark's own two cores would measure the simulators). A paired
kiosk may take 60 tickets a minute (``guard/limiter.py``), which holds a real kiosk to its
printer's pace; these lines measure the commit path, so their hall's ``[security.limits]``
lets each kiosk take more (the hall's own setting; the edge itself is unchanged).

    python benchmarks/bench_tickets.py [--seconds 10] [--dir /var/tmp] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import aiohttp
from common import (
    DEMO_TOML,
    KioskAgents,
    ServerProcess,
    cpu_cell,
    cpu_s,
    latency_cells,
    table,
    with_kiosks,
)

from hall_server.config import parse_config
from hall_server.store.db import Store, connect
from hall_server.store.devices import add_token
from tests.support import add_demo_accounts, paired

SERVICES = ["social-insurance", "medical-insurance", "household-registration", "tax", "general"]
TARGET = 2000
PRINTING_KIOSKS = 50
FAST_KIOSKS = '\n[security.limits]\nkiosk_ticket = "100000/minute"\n'


def sqlite_rate(directory: Path, seconds: float, batch: int) -> float:
    """Rows a second committed durably, ``batch`` rows per transaction."""
    path = directory / f"raw-{batch}.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at REAL, data TEXT)")
    row = (time.time(), '{"type":"ticket_issued","service":"tax","number":"H001"}')
    rows, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (at, data) VALUES (?, ?)", [row] * batch)
        conn.execute("COMMIT")
        rows += batch
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


async def hall_load(
    url: str, kiosks: int, clerks: list[str], seconds: float, issuers: list[str]
) -> tuple[int, float, list[float]]:
    """``kiosks`` clients posting tickets back to back, the i-th with ``issuers[i % n]``'s
    credential, while each clerk (a session token) calls the next visitor in a loop; returns
    (tickets, elapsed, ticket latencies)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=kiosks + len(clerks))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def kiosk(rng: random.Random, issuer: str) -> None:
            auth = {"Authorization": f"Bearer {issuer}"}
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.post(
                    f"{url}/api/v1/tickets", json={"service": rng.choice(SERVICES)}, headers=auth
                ) as r:
                    await r.read()
                    if r.status != 201:
                        raise RuntimeError(f"ticket refused: {r.status}")
                latencies.append(time.perf_counter() - t0)

        async def clerk(window: int, token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            while time.perf_counter() < deadline:
                async with session.post(
                    f"{url}/api/v1/windows/{window}/call", headers=headers
                ) as r:
                    await r.read()
                    if r.status == 204:
                        await asyncio.sleep(0.001)

        started = time.perf_counter()
        await asyncio.gather(
            *(kiosk(random.Random(i), issuers[i % len(issuers)]) for i in range(kiosks)),
            *(clerk(i, token) for i, token in enumerate(clerks, start=1)),
        )
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies


def measure(directory: Path, name: str, kiosks: int, windows: int, seconds: float) -> list[str]:
    """One line of the table, on a fresh hall (a queue left by another line would weigh)."""
    server = ServerProcess(directory / f"{name}.db", demo=True).start()
    assert server.proc is not None
    try:
        clerks = [server.login(f"staff{i}") for i in range(1, windows + 1)]
        cpu0 = cpu_s(server.proc.pid)
        # issued with a staff session: staff are not limited per minute as a kiosk is
        issuer = [server.login("admin")]
        count, elapsed, lat = asyncio.run(hall_load(server.url, kiosks, clerks, seconds, issuer))
        cpu = cpu_s(server.proc.pid) - cpu0
        _, services = server.request("GET", "/api/v1/services")
        assert services is not None
        waiting = sum(sv["waiting"] for sv in services)
    finally:
        server.stop()
    who = f"{kiosks} kiosk{'s' * (kiosks > 1)}" + (f", {windows} windows calling" * bool(windows))
    return [
        f"hallq: POST /api/v1/tickets, {who}",
        f"{count / elapsed:,.0f}",
        *latency_cells([v * 1000 for v in lat]),
        cpu_cell(cpu, elapsed),
        f"{waiting:,} waiting",
    ]


def measure_printing(directory: Path, name: str, seconds: float, print_jobs: bool) -> list[str]:
    """50 clients on a hall with 50 kiosks whose agents are connected: as the kiosks (each
    ticket a print job) or as one clerk (no print job)."""
    folder = directory / name
    folder.mkdir()
    text = with_kiosks(DEMO_TOML.read_text(encoding="utf-8"), PRINTING_KIOSKS) + FAST_KIOSKS
    (folder / "hall.toml").write_text(text, encoding="utf-8")
    config = parse_config(text)
    db = folder / "hall.db"
    add_demo_accounts(db, config)
    browsers = [paired(db, k.id) for k in config.kiosk]
    store = Store(db)
    agent_tokens = {k.id: add_token(store, k.id) for k in config.kiosk}
    store.close()
    server = ServerProcess(db, folder / "hall.toml").start()
    assert server.proc is not None
    agents = KioskAgents(server.url, agent_tokens, instant=True)
    try:
        issuers = browsers if print_jobs else [server.login("admin")]
        cpu0 = cpu_s(server.proc.pid)
        count, elapsed, lat = asyncio.run(
            hall_load(server.url, PRINTING_KIOSKS, [], seconds, issuers)
        )
        cpu = cpu_s(server.proc.pid) - cpu0
    finally:
        printed = agents.stop()
        server.stop()
    conn = connect(db)
    (jobs,) = conn.execute("SELECT count(*) FROM print_jobs").fetchone()
    conn.close()
    who = "50 kiosks, a print job each" if print_jobs else "50 clients of a clerk, no print job"
    return [
        f"hallq: {who}",
        f"{count / elapsed:,.0f}",
        *latency_cells([v * 1000 for v in lat]),
        cpu_cell(cpu, elapsed),
        f"{jobs:,} jobs, {printed:,} printed",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="per measurement (default 10)")
    p.add_argument("--dir", type=Path, default=None, help="where the SQLite files go")
    p.add_argument("--quick", action="store_true", help="2 s per measurement")
    args = p.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    directory = Path(tempfile.mkdtemp(prefix="hallq-bench-", dir=args.dir))

    one = sqlite_rate(directory, seconds, 1)
    fifty = sqlite_rate(directory, seconds, 50)
    rows = [
        ["sqlite: 1 insert per durable commit", f"{one:,.0f}", "", "", "", ""],
        ["sqlite: 50 inserts per durable commit", f"{fifty:,.0f}", "", "", "", ""],
        measure(directory, "one", 1, 0, seconds),
        measure(directory, "fifty", 50, 0, seconds),
        measure(directory, "busy", 50, 11, seconds),
        measure_printing(directory, "clerk", seconds, print_jobs=False),
        measure_printing(directory, "kiosks", seconds, print_jobs=True),
    ]
    print(f"durable ticket issuing, {seconds:g} s per line, files in {directory}")
    headers = ["what", "per second", "p50 ms", "p99 ms", "server CPU", "at end"]
    print(table(headers, rows))
    rate = [float(r[1].replace(",", "")) for r in rows[-2:]]
    print(f"kiosk tickets (print job each) at {rate[1] / rate[0]:.2f}x the rate of a clerk's")
    best = max(float(r[1].replace(",", "")) for r in rows[2:5])
    goal = min(TARGET, one / 2)
    verdict = "meets" if best >= goal else "MISSES"
    print(
        f"target: {TARGET:,} tickets/s or half the raw commit rate ({one / 2:,.0f}/s): "
        f"{verdict} ({best:,.0f}/s)"
    )


if __name__ == "__main__":
    main()
