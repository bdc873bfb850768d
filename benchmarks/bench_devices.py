"""How long do a card read and a ticket print take through the whole system, next to the wire?

A real ``hall-server`` subprocess, the device agent (``run_agent``, the code ``hall-devices``
runs) in this process, and both simulators on pty pairs with wire-time emulation at 115200 baud:
the reader simulator holds each reply back for its time on the wire, and the printer simulator
takes each chunk only after the time it needs to arrive at line speed. Two paths, each next to
the same device driven alone (no server, no agent) and to the bare wire time of its bytes, the
physical limit:

- card placed -> card message at the server (observed on the kiosk page's websocket). The
  reader polls every ``--poll`` seconds, so half a poll is added on average: cards are placed
  at random instants.
- ticket request (``POST /api/v1/tickets`` at the kiosk) -> last byte (the cut) at the printer.

    python benchmarks/bench_devices.py [--n 40] [--poll 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ServerProcess, kiosk_hall_toml, percentile, table

from devices import sam
from devices.agent import DeviceLoop, run_agent
from devices.escpos_ticket import TicketPrint, render_ticket
from devices.printer import Printer
from devices.reader import CardReader
from devices.sam import Card
from devices.sim.cards import RESIDENT
from devices.sim.links import PtyLink
from devices.sim.printer_sim import PrinterSimulator
from devices.sim.reader_sim import ReaderSimulator
from hall_server.core import idnumber
from hall_server.store.db import Store
from hall_server.store.devices import add_token

BAUD = 115200
CONFIG = kiosk_hall_toml("示范镇公共服务中心", hall_id="bench")


def visitor(i: int) -> Card:
    """A different card for every round: one person may hold one ticket per service."""
    first17 = f"11010519491231{i % 1000:03d}"
    return replace(RESIDENT, id_number=first17 + idnumber.check_digit(first17))


def wire_s(n_bytes: int) -> float:
    return n_bytes * 10 / BAUD  # 8N1: ten bit times per byte


class WirePrinter:
    """The printer simulator behind a 115200-baud line; notes when each ticket's cut arrived."""

    def __init__(self) -> None:
        self.sim = PrinterSimulator()
        self.cut_at: list[float] = []

    def receive(self, data: bytes, send: Callable[[bytes], None]) -> None:
        time.sleep(wire_s(len(data)))
        before = len(self.sim.tickets)
        self.sim.receive(data, send)
        if len(self.sim.tickets) > before:
            self.cut_at.append(time.perf_counter())


def card_wire_s() -> float:
    """Every byte of find, select and read, both ways."""
    commands = 3 * len(sam.command_frame(sam.Op.FIND_CARD))
    found = len(sam.reply_frame(sam.Status.CARD_FOUND, bytes(4)))
    selected = len(sam.reply_frame(sam.Status.SUCCESS, bytes(8)))
    data = sam.pack_read_data(sam.CardData(sam.encode_text(RESIDENT), bytes(sam.PHOTO_LEN)))
    return wire_s(commands + found + selected + len(sam.reply_frame(sam.Status.SUCCESS, data)))


def sample_ticket() -> TicketPrint:
    return TicketPrint(
        "示范镇公共服务中心",
        "社会保障",
        "A001",
        3,
        "约 5–10 分钟",
        "2026-05-06 09:31",
        "http://192.168.1.10:8080/t/" + "x" * 24,
        "优先办理",
    )


def reader_alone(n: int, poll: float) -> list[float]:
    """Card placed -> on_card, the driver alone."""
    sim = ReaderSimulator(baudrate=BAUD, wire_time=True)
    got = threading.Event()
    with PtyLink(sim) as link:
        reader = CardReader(link.address, poll_interval=poll, on_card=lambda c: got.set())
        reader.start()
        out = []
        for _ in range(n):
            time.sleep(random.uniform(0, poll))
            got.clear()
            t0 = time.perf_counter()
            sim.place(RESIDENT)
            got.wait(5)
            out.append(time.perf_counter() - t0)
            sim.remove()
            time.sleep(2 * poll)
        reader.stop()
    return out


def printer_alone(n: int) -> list[float]:
    """print_ticket called -> last byte at the printer, the driver alone."""
    wired = WirePrinter()
    with PtyLink(wired) as link:
        printer = Printer(link.address, baudrate=BAUD)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            printer.print_ticket(sample_ticket())
            out.append(wired.cut_at[-1] - t0)
        printer.close()
    return out


async def through_the_hall(n: int, poll: float) -> tuple[list[float], list[float]]:
    tmp = Path(tempfile.mkdtemp(prefix="hallq-bench-devices-"))
    (tmp / "hall.toml").write_text(CONFIG, encoding="utf-8")
    store = Store(tmp / "hall.db")
    token = add_token(store, "k1")
    store.close()
    server = ServerProcess(tmp / "hall.db", tmp / "hall.toml").start()
    wired = WirePrinter()
    reader_sim = ReaderSimulator(baudrate=BAUD, wire_time=True)
    links = [PtyLink(wired), PtyLink(reader_sim)]
    loop = DeviceLoop.open(
        "k1",
        f"{links[0].address}?baudrate={BAUD}",
        links[1].address,
        reader_settings={"poll_interval": poll},
        server_url=server.url,
    )
    agent = asyncio.create_task(run_agent(server.url, "k1", token, loop))
    cards: list[float] = []
    prints: list[float] = []
    try:
        async with (
            # the kiosk's own credential: its page hears its card reads and takes its tickets
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
            http.ws_connect(server.url.replace("http", "ws") + "/ws/kiosk/k1") as page,
        ):

            async def next_message(kind: str, **match: object) -> dict:
                while True:
                    msg = json.loads((await page.receive(timeout=10)).data)
                    if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
                        return msg

            await next_message("device", printer="ok", reader="ok")
            for i in range(n):
                await asyncio.sleep(random.uniform(0, poll))
                t0 = time.perf_counter()
                reader_sim.place(visitor(i))
                await next_message("card")
                cards.append(time.perf_counter() - t0)
                reader_sim.remove()

                done = len(wired.cut_at)
                t0 = time.perf_counter()
                body = {"service": "social-insurance", "kiosk": "k1"}
                async with http.post(f"{server.url}/api/v1/tickets", json=body) as r:
                    assert r.status == 201, await r.text()
                    number = (await r.json())["ticket"]["number"]
                await next_message("print", number=number, state="done")
                assert len(wired.cut_at) == done + 1, "exactly one ticket per request"
                prints.append(wired.cut_at[-1] - t0)
    finally:
        agent.cancel()
        await asyncio.gather(agent, return_exceptions=True)
        await asyncio.to_thread(loop.close)
        for link in links:
            link.close()
        server.stop()
    return cards, prints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="repetitions of each path")
    parser.add_argument("--poll", type=float, default=0.25, help="reader poll interval (s)")
    args = parser.parse_args()
    random.seed(1)
    cards, prints = asyncio.run(through_the_hall(args.n, args.poll))
    alone_cards = reader_alone(args.n, args.poll)
    alone_prints = printer_alone(args.n)
    ticket_bytes = len(render_ticket(sample_ticket()))

    def row(name: str, values: list[float], wire: float) -> list[object]:
        ms = [v * 1000 for v in values]
        return [name, len(ms), percentile(ms, 50), percentile(ms, 99), wire * 1000]

    print(f"{BAUD} baud, wire-time emulation on, reader poll {args.poll * 1000:.0f} ms")
    print(
        table(
            ["path", "n", "p50 ms", "p99 ms", "wire ms"],
            [
                row("card placed -> server (agent, websocket)", cards, card_wire_s()),
                row("card placed -> driver callback (alone)", alone_cards, card_wire_s()),
                row(
                    f"ticket request -> last byte printed ({ticket_bytes} B)",
                    prints,
                    wire_s(ticket_bytes),
                ),
                row("print_ticket -> last byte (driver alone)", alone_prints, wire_s(ticket_bytes)),
            ],
        )
    )


if __name__ == "__main__":
    main()
