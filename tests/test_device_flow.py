"""Kiosk devices end to end: ``hall-server`` and ``hall-devices`` as real processes, the printer
and ID-card reader simulators on pty pairs (the agent opens them like /dev/ttyUSB0), pages
listening on real websockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from devices.sim.cards import RESIDENT
from devices.sim.links import PtyLink
from devices.sim.printer_sim import PrinterSimulator
from devices.sim.reader_sim import ReaderSimulator
from hall_server.cli import main
from hall_server.core.access import Role
from hall_server.store.accounts import Accounts
from hall_server.store.db import Store
from tests.support import ROOT, ServerProcess, kiosk_hall_toml, printed_tickets, wait_until

AGENT = [sys.executable, "-m", "devices.agent_cli"]
CONFIG = kiosk_hall_toml("示范村便民服务站", hall_id="flow", priority_age=60)


class Agent:
    """``hall-devices`` in a subprocess, its devices simulated in this one."""

    def __init__(self, server: ServerProcess, token: str, log: Path) -> None:
        self.printer, self.reader = PrinterSimulator(), ReaderSimulator()
        self.links = [PtyLink(self.printer), PtyLink(self.reader)]
        self.log = log
        cmd = [*AGENT, "--server", server.url]
        cmd += ["--kiosk", "k1", "--printer", self.links[0].address]
        cmd += ["--reader", self.links[1].address, "--status-every", "0.2"]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=out,
                cwd=ROOT,
                env={**os.environ, "HALLQ_DEVICE_TOKEN": token, "PYTHONUNBUFFERED": "1"},
            )

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(10)
        for link in self.links:
            link.close()
        return code

    def printed(self, number: str) -> list:
        return printed_tickets(self.printer, number)


@pytest.fixture
def hall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[ServerProcess, str, str]]:
    """A hall with kiosk k1 whose devices hang on a kiosk PC; its token and a manager token."""
    config = tmp_path / "hall.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "hall.db"
    main(["device", "add", "k1", "--db", str(db), "--config", str(config)])
    token = capsys.readouterr().out.splitlines()[0]  # line 2 is the pairing address
    store = Store(db)
    Accounts(store).add("manager", "demo", Role.MANAGER)
    store.close()
    server = ServerProcess(db, config).start()
    yield server, token, server.login("manager")
    server.stop()


def devices(server: ServerProcess, manager: str) -> dict:
    status, body = server.request("GET", "/api/v1/devices", token=manager)
    assert status == 200, body
    return {d["kiosk"]: d for d in body}


class PageListener:
    """Pages' websockets (the kiosk page and the hall board) in a thread, recording every
    message."""

    def __init__(self, server: ServerProcess) -> None:
        base = server.url.replace("http", "ws")
        self.urls = [f"{base}/ws/kiosk/k1", f"{base}/ws/board"]
        self.auth = {"Authorization": f"Bearer {server.paired('k1')}"}  # the paired kiosk
        self.messages: list[str] = []
        self.ready = 0
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.thread.start()
        wait_until(lambda: self.ready == len(self.urls), what="pages connected")

    async def _main(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        tasks = [asyncio.create_task(self._one(url)) for url in self.urls]
        await self.stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, url: str) -> None:
        async with connect(url, additional_headers=self.auth) as ws:
            self.ready += 1
            async for raw in ws:
                self.messages.append(raw)

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in map(json.loads, list(self.messages)) if m.get("type") == kind]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(5)


def test_card_then_ticket_at_the_kiosk_prints_it_in_gb18030_with_priority_and_no_clear_number(
    hall: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    server, token, manager = hall
    pages = PageListener(server)
    agent = Agent(server, token, tmp_path / "agent.log")
    try:
        wait_until(lambda: devices(server, manager)["k1"]["printer"] == "ok", what="printer ok")
        assert devices(server, manager)["k1"]["reader"] == "ok"
        agent.reader.place(RESIDENT)
        [card] = wait_until(lambda: pages.of_type("card"), what="card on the kiosk page")
        assert card["name_masked"] == "张*丰" and card["priority"] is True and card["age"] >= 60

        status, body = server.request(
            "POST",
            "/api/v1/tickets",
            {"service": "social-insurance", "kiosk": "k1"},
            token=server.paired("k1"),
        )
        assert status == 201, body
        ticket = body["ticket"]
        assert ticket["priority"] == "priority" and ticket["name_masked"] == "张*丰"
        [printed] = wait_until(lambda: agent.printed(ticket["number"]), what="ticket printed")
        url = f"{server.url}/t/{ticket['token']}"
        data = bytes(agent.printer.received)
        assert ticket["number"].encode() in data and "社会保障".encode("gb18030") in data
        assert "示范村便民服务站".encode("gb18030") in data
        assert b"\x1d(k" + (len(url) + 3).to_bytes(2, "little") + b"1P0" + url.encode() in data
        assert printed.qr_codes == [url] and printed.cut == "partial"
        wait_until(lambda: [m["state"] for m in pages.of_type("print")][-1:] == ["done"])
        assert pages.of_type("print")[0]["number"] == ticket["number"]
    finally:
        pages.close()
        assert agent.stop() == 0
        server.stop()

    clear = [RESIDENT.id_number, RESIDENT.name]
    for text in clear:
        for encoding in ("utf-8", "utf-16-le", "gb18030"):
            needle = text.encode(encoding)
            for f in tmp_path.glob("hall.db*"):
                assert needle not in f.read_bytes(), f"{text} in {f.name}"
    for raw in pages.messages:
        assert not any(text in raw for text in clear), raw
    assert RESIDENT.id_number not in server.log.read_text(encoding="utf-8", errors="replace")
    assert RESIDENT.id_number not in agent.log.read_text(encoding="utf-8", errors="replace")


def test_agent_reconnects_after_a_server_restart_and_prints_again(
    hall: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    server, token, manager = hall
    agent = Agent(server, token, tmp_path / "agent.log")
    try:
        wait_until(lambda: devices(server, manager)["k1"]["connected"], what="agent connected")
        _, first = server.request(
            "POST",
            "/api/v1/tickets",
            {"service": "social-insurance", "kiosk": "k1"},
            token=server.paired("k1"),
        )
        wait_until(lambda: agent.printed(first["ticket"]["number"]), what="first ticket")
        server.stop()
        server.start()
        manager = server.login("manager")
        state = wait_until(
            lambda: (d := devices(server, manager)["k1"])["printer"] == "ok" and d,
            what="agent back after the restart",
        )
        assert state["connected"] and state["mode"] == "agent"
        _, jobs = server.request("GET", "/api/v1/print-jobs", token=manager)
        assert [(j["number"], j["state"]) for j in jobs] == [(first["ticket"]["number"], "done")]
        _, second = server.request(
            "POST",
            "/api/v1/tickets",
            {"service": "social-insurance", "kiosk": "k1"},
            token=server.paired("k1"),
        )
        wait_until(lambda: agent.printed(second["ticket"]["number"]), what="after the restart")
        assert len(agent.printed(first["ticket"]["number"])) == 1
    finally:
        agent.stop()


def test_demo_kiosks_drive_their_simulated_devices_inside_the_server(server_process) -> None:
    server = server_process
    manager = server.login("manager")
    pages = PageListener(server)

    def simulate(action: str) -> None:
        status, body = server.request(
            "POST", "/api/v1/devices/k1/simulate", {"action": action}, token=manager
        )
        assert status == 200, body

    def take() -> dict:
        status, body = server.request(
            "POST",
            "/api/v1/tickets",
            {"service": "social-insurance", "kiosk": "k1"},
            token=server.paired("k1"),
        )
        assert status == 201, body
        return body["ticket"]

    def printed(number: str) -> list[dict]:
        _, tickets = server.request("GET", "/api/v1/devices/k1/printed", token=manager)
        return [t for t in tickets if number in t["lines"] and t["cut"]]

    try:
        state = wait_until(
            lambda: (d := devices(server, manager))["k1"]["printer"] == "ok" and d,
            what="local devices up",
        )
        assert state["k1"]["mode"] == "local" and state["k2"]["reader"] == "ok"
        simulate("place_card")
        wait_until(lambda: pages.of_type("card"), what="card read")
        ticket = take()
        assert ticket["priority"] == "priority"
        [out] = wait_until(lambda: printed(ticket["number"]), what="printed")
        assert out["qr_codes"] == [f"{server.url}/t/{ticket['token']}"]

        simulate("paper_out")
        wait_until(lambda: devices(server, manager)["k1"]["printer"] == "paper_out")
        failed = take()
        [note] = wait_until(
            lambda: [m for m in pages.of_type("printer") if m.get("number") == failed["number"]],
            what="the kiosk page told",
        )
        assert note["state"] == "paper_out"
        simulate("paper_ok")
        wait_until(lambda: devices(server, manager)["k1"]["printer"] == "ok")
        status, body = server.request("POST", f"/api/v1/tickets/{failed['token']}/reprint")
        assert status == 202, body
        wait_until(lambda: printed(failed["number"]), what="reprinted")
    finally:
        pages.close()
