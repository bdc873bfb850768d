"""How fast do webhooks reach a receiver, and how soon after it comes back from an outage?

A real ``hall-server`` (subprocess, fresh SQLite file, default retry rules) and, in this
process, a real receiver that verifies every signature with the ``standardwebhooks`` library.
Printed: tickets/s issued with no receiver and with one (what the outbox costs the ticket
path), deliveries/s of a backlog in order to one receiver, beside plain sequential signed POSTs
from this process to the same receiver (the ceiling of in-order delivery, one request at a
time); and after an outage (port closed) with tickets issued meanwhile, the delay from the
receiver's return to its first message and to its backlog drained.

    python benchmarks/bench_webhooks.py [--tickets 2000] [--outage 20]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from common import ROOT, ServerProcess, table
from standardwebhooks.webhooks import Webhook

from hall_server.config import DEMO_CONFIG, load_config
from tests.support import add_demo_accounts


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.ids: list[str] = []
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        msg = Webhook(self.secret).verify(await request.read(), dict(request.headers))
        self.ids.append(msg["id"])
        return web.Response(status=204)


async def issue(server: ServerProcess, n: int, clients: int = 20) -> float:
    """Issue ``n`` tickets from ``clients`` concurrent clients of a clerk's session (a paired
    kiosk is held to 60 tickets a minute; staff are not); tickets/s."""
    url = server.url
    auth = {"Authorization": f"Bearer {server.login('manager')}"}
    async with aiohttp.ClientSession(headers=auth) as s:
        left = iter(range(n))

        async def one() -> None:
            for _ in left:
                async with s.post(url + "/api/v1/tickets", json={"service": "tax"}) as r:
                    assert r.status == 201, await r.text()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        return n / (time.perf_counter() - t0)


async def until(predicate: Any, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


async def plain_posts(receiver: Receiver, n: int) -> float:
    """Sequential signed POSTs to the receiver from here: the in-order ceiling."""
    signer = Webhook(receiver.secret)
    async with aiohttp.ClientSession() as s:
        t0 = time.perf_counter()
        for i in range(n):
            now = datetime.now(UTC)
            body = f'{{"id":"bench_{i}","type":"ticket.issued","at":"","hall":"h","data":{{}}}}'
            headers = {
                "webhook-id": f"bench_{i}",
                "webhook-timestamp": str(math.floor(now.timestamp())),
                "webhook-signature": signer.sign(f"bench_{i}", now, body),
            }
            async with s.post(
                f"http://127.0.0.1:{receiver.port}/hook", data=body, headers=headers
            ) as r:
                assert r.status == 204
        return n / (time.perf_counter() - t0)


async def run(tickets: int, outage: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="hallq-bench-webhooks-"))
    config = load_config(DEMO_CONFIG)
    rows: list[list[str]] = []

    # tickets/s without any receiver
    add_demo_accounts(work / "none.db", config)
    server = ServerProcess(work / "none.db", demo=True).start()
    try:
        rate = await issue(server, tickets)
    finally:
        server.stop()
    rows.append(["POST /api/v1/tickets, no webhook receiver", f"{rate:,.0f}", "", ""])

    receiver = Receiver()
    await receiver.start()
    db = work / "hall.db"
    add_demo_accounts(db, config)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hall_server.cli",
            "webhook",
            "add",
            f"http://127.0.0.1:{receiver.port}/hook",
            "--events",
            "ticket.issued",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    receiver.secret = out.stdout.strip()
    server = ServerProcess(db, demo=True).start()
    try:
        await asyncio.sleep(2.5)  # the server finds the receiver
        t0 = time.perf_counter()
        rate = await issue(server, tickets)
        rows.append(["POST /api/v1/tickets, one receiver", f"{rate:,.0f}", "", ""])
        await until(lambda: len(receiver.ids) >= tickets)
        total = time.perf_counter() - t0
        rows.append(
            [
                "deliveries while issuing (issue start to last delivered)",
                f"{tickets / total:,.0f}",
                "",
                "",
            ]
        )

        # a backlog: the receiver away while tickets are issued, then back
        await receiver.stop()
        t_down = time.perf_counter()
        await issue(server, tickets)
        await asyncio.sleep(max(0.0, outage - (time.perf_counter() - t_down)))
        before = len(receiver.ids)
        await receiver.start()
        first = await until(lambda: len(receiver.ids) > before)
        drained = await until(lambda: len(receiver.ids) >= 2 * tickets)  # after the first
        drain_rate = (2 * tickets - before) / drained
        rows.append(
            [
                f"backlog of {tickets:,} after a {outage:g} s outage: drained in order",
                f"{drain_rate:,.0f}",
                f"{first:.1f}",
                f"{drained:.1f}",
            ]
        )
        rows.append(
            [
                "baseline: sequential signed POSTs from this process",
                f"{await plain_posts(receiver, tickets):,.0f}",
                "",
                "",
            ]
        )
    finally:
        server.stop()
        await receiver.stop()
    print(f"webhooks, {tickets:,} tickets per line, default retry rules, files in {work}")
    print(table(["what", "per second", "first after return s", "then drained s"], rows))
    hall = [i for i in receiver.ids if i.startswith("msg_")]
    print(f"the hall's messages received: {len(hall):,}, unique {len(set(hall)):,}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=2000)
    p.add_argument("--outage", type=float, default=20.0, help="seconds the receiver is away")
    args = p.parse_args()
    asyncio.run(run(args.tickets, args.outage))


if __name__ == "__main__":
    main()
