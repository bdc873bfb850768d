"""Crash safety of a real ``hall-server`` process on a real SQLite file.

The server is killed with SIGKILL at random instants while kiosks issue tickets and clerks call,
finish and mark no-shows; after every restart on the same file, everything that was answered is
still there and nothing else appeared but the effects of the requests that were cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlite_utils import Database
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from hall_server.config import DEMO_CONFIG, load_config
from hall_server.store.db import connect
from hall_server.store.migrations import MIGRATIONS
from tests.support import ServerProcess, add_demo_accounts, bearer

KILL_CYCLES = 10
SERVICES = ["social-insurance", "medical-insurance", "household-registration", "civil-affairs"]
CLERKS = {"1": "staff1", "2": "staff2", "3": "staff3", "4": "staff4", "5": "staff5"}
KIOSK_CLIENTS = 4


@dataclass
class Model:
    """What the clients were told: tickets by id, and each window's current ticket."""

    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: dict[str, str | None] = field(default_factory=dict)
    #: requests cut off by the kill: ("issue", service) or (action, window)
    cut: list[tuple[str, str]] = field(default_factory=list)
    #: tickets acknowledged since the last restart
    fresh: list[dict[str, Any]] = field(default_factory=list)

    def issued(self, t: dict[str, Any]) -> None:
        self.tickets[t["id"]] = {**t, "status": "waiting"}
        self.fresh.append(t)

    def ended(self, window: str, status: str) -> None:
        held = self.current.get(window)
        if held:
            self.tickets[held]["status"] = status
        self.current[window] = None

    def called(self, window: str, t: dict[str, Any] | None) -> None:
        self.ended(window, "done")
        if t is not None:
            self.tickets[t["id"]].update(status="called", window=window)
            self.current[window] = t["id"]


async def kiosk(
    s: aiohttp.ClientSession, base: str, token: str, model: Model, rng: random.Random
) -> None:
    while True:
        service = rng.choice(SERVICES)
        auth = {"Authorization": f"Bearer {token}"}
        try:
            async with s.post(
                f"{base}/api/v1/tickets", json={"service": service}, headers=auth
            ) as r:
                body = await r.json()
        except (aiohttp.ClientError, TimeoutError):
            model.cut.append(("issue", service))
            return
        assert r.status == 201, body
        model.issued(body["ticket"])


async def clerk(
    s: aiohttp.ClientSession, base: str, window: str, token: str, model: Model, rng: random.Random
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        action = "call"
        if model.current.get(window) and rng.random() < 0.4:
            action = rng.choice(["finish", "no-show"])
        try:
            async with s.post(f"{base}/api/v1/windows/{window}/{action}", headers=headers) as r:
                body = await r.json() if r.status != 204 else None
        except (aiohttp.ClientError, TimeoutError):
            model.cut.append((action, window))
            return
        assert r.status in (200, 204), body
        if action == "call":
            model.called(window, body["ticket"] if body else None)
        else:
            model.ended(window, "done" if action == "finish" else "no_show")
        await asyncio.sleep(rng.uniform(0, 0.01))


async def burst_and_kill(
    server: ServerProcess, tokens: dict[str, str], model: Model, rng: random.Random
) -> None:
    """Kiosks and clerks hammer the server; it is SIGKILLed at a random instant among them."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        tasks = [
            asyncio.create_task(
                kiosk(s, server.url, tokens["manager"], model, random.Random(rng.random()))
            )
            for _ in range(KIOSK_CLIENTS)
        ]
        tasks += [
            asyncio.create_task(
                clerk(s, server.url, w, tokens[w], model, random.Random(rng.random()))
            )
            for w in CLERKS
        ]
        await asyncio.sleep(rng.uniform(0.15, 0.6))
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        await asyncio.gather(*tasks)
        server.proc.wait()


async def fetch_state(s: aiohttp.ClientSession, base: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with s.get(f"{base}/api/v1/tickets", headers=headers) as r:
        tickets = {t["id"]: t for t in await r.json()}
    async with s.get(f"{base}/api/v1/windows") as r:
        windows = {w["id"]: w["current"] for w in await r.json()}
    async with s.get(f"{base}/api/v1/services") as r:
        waiting = {sv["code"]: sv["waiting"] for sv in await r.json()}
    return {"tickets": tickets, "windows": windows, "waiting": waiting}


def check_file(db: Path) -> dict[str, str]:
    """The file a killed server left: intact, and its ticket table agrees with its log."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        status = dict(conn.execute("SELECT id, status FROM tickets"))
        issued = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(data, '$.ticket_id') FROM events WHERE type = 'ticket_issued'"
            )
        ]
        assert sorted(issued) == sorted(status), "ticket rows and issue events disagree"
        return status
    finally:
        conn.close()


def check_restart(model: Model, state: dict[str, Any], on_file: dict[str, str]) -> None:
    """The restarted hall holds exactly what was acknowledged, plus at most the effects of the
    requests the kill cut off."""
    tickets, windows = state["tickets"], state["windows"]
    assert {i: t["status"] for i, t in tickets.items()} == on_file
    number_of = {i: t["number"] for i, t in tickets.items()}

    for tid, t in model.tickets.items():
        assert tid in tickets, f"acknowledged ticket {t['number']} lost"
        assert (tickets[tid]["number"], tickets[tid]["token"]) == (t["number"], t["token"])

    extra = [t for tid, t in tickets.items() if tid not in model.tickets]
    cut_issues = [svc for kind, svc in model.cut if kind == "issue"]
    assert len(extra) <= len(cut_issues), "tickets appeared that nobody asked for"
    for t in extra:
        assert t["service"] in cut_issues

    for prefix in {t["number"][0] for t in tickets.values()}:
        seqs = sorted(int(n[1:]) for n in number_of.values() if n[0] == prefix)
        assert seqs == list(range(1, len(seqs) + 1)), f"{prefix}: duplicate or gap {seqs}"

    cut_windows = {w: action for action, w in model.cut if action != "issue"}
    moved: set[str] = set()
    for w, held in model.current.items():
        now = next((i for i, n in number_of.items() if n == windows[w]), None)
        action = cut_windows.get(w)
        if now == held:
            continue
        assert action is not None, f"window {w} holds {windows[w]}, acknowledged otherwise"
        if held:  # the cut-off action ended what the window held, in the same transaction
            ended = {"call": "done", "finish": "done", "no-show": "no_show"}[action]
            assert tickets[held]["status"] == ended
            moved.add(held)
        if now is not None:
            assert action == "call" and tickets[now]["window"] == w
            assert model.tickets.get(now, {"status": "waiting"})["status"] == "waiting"
            moved.add(now)
    for tid, t in tickets.items():
        if tid not in moved:
            expected = model.tickets.get(tid, {"status": "waiting"})["status"]
            assert t["status"] == expected, f"{t['number']} changed by itself"
    for code, count in state["waiting"].items():
        assert count == sum(
            1 for t in tickets.values() if t["service"] == code and t["status"] == "waiting"
        )


def rebase(model: Model, state: dict[str, Any]) -> None:
    """After the checks, what the server holds is the new acknowledged truth."""
    model.tickets = {i: dict(t) for i, t in state["tickets"].items()}
    number_to_id = {t["number"]: i for i, t in state["tickets"].items()}
    model.current = {w: number_to_id.get(n) if n else None for w, n in state["windows"].items()}
    model.cut, model.fresh = [], []


async def test_tickets_acknowledged_survive_sigkill_at_random_instants(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    seed = int.from_bytes(os.urandom(4))
    print(f"random seed {seed}")  # shown by pytest when the test fails
    rng = random.Random(seed)
    port = ServerProcess(db).port
    model = Model()
    tokens: dict[str, str] = {}
    for cycle in range(KILL_CYCLES + 1):
        with running(ServerProcess(db, demo=True, port=port)) as server:
            if not tokens:
                tokens = {w: server.login(user) for w, user in CLERKS.items()}
                tokens["manager"] = server.login("manager")
            on_file = check_file(db)
            async with aiohttp.ClientSession() as s:
                state = await fetch_state(s, server.url, tokens["manager"])
                check_restart(model, state, on_file)
                for t in model.fresh:
                    async with s.get(f"{server.url}/api/v1/tickets/{t['token']}") as r:
                        assert r.status == 200 and (await r.json())["number"] == t["number"]
            rebase(model, state)
            if cycle == KILL_CYCLES:
                break
            await burst_and_kill(server, tokens, model, rng)
            assert model.cut, "the kill should cut requests off"
    issued = len(model.tickets)
    assert issued > 10 * KILL_CYCLES, f"only {issued} tickets: the bursts did not run"
    assert any(t["status"] == "done" for t in model.tickets.values())
    assert any(t["status"] == "no_show" for t in model.tickets.values())


async def kiosk_tickets_until_one_is_answered(
    server: ServerProcess, kiosks: dict[str, str], staff: str
) -> dict[str, Any]:
    """Both paired kiosks and a clerk take tickets at once (the print jobs and the staff
    tickets crowd the writer); the server is SIGKILLed the moment a kiosk ticket's 201 is read.
    Returns that ticket."""
    answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def take(s: aiohttp.ClientSession, token: str, kiosk: bool) -> None:
        while not answered.done():
            async with s.post(
                f"{server.url}/api/v1/tickets", json={"service": "tax"}, headers=bearer(token)
            ) as r:
                body = await r.json()
            assert r.status == 201, body
            if kiosk and not answered.done():
                assert server.proc is not None
                os.kill(server.proc.pid, signal.SIGKILL)  # before anything else can happen
                answered.set_result(body["ticket"])

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        tasks = [asyncio.create_task(take(s, t, True)) for t in kiosks.values() for _ in "12"]
        tasks += [asyncio.create_task(take(s, staff, False)) for _ in "1234"]
        ticket = await answered
        await asyncio.gather(*tasks, return_exceptions=True)  # cut off by the kill
    assert server.proc is not None
    server.proc.wait()
    return ticket


async def test_a_kiosk_ticket_answered_before_a_sigkill_has_its_print_job_and_no_job_is_orphaned(
    tmp_path: Path,
) -> None:
    """A ticket and its print job are one commit: after a kill right behind a kiosk's 201,
    that ticket's job is on file, every kiosk ticket on file has exactly one job, and no job
    is on file without its ticket."""
    db = tmp_path / "hall.db"
    add_demo_accounts(db, load_config(DEMO_CONFIG))  # the demo's kiosks print (sim printers)
    server = ServerProcess(db)
    kiosks = {k: server.paired(k) for k in ("k1", "k2")}
    staff = ""
    for _ in range(4):
        with running(server):
            staff = staff or server.login("staff8")
            ticket = await kiosk_tickets_until_one_is_answered(server, kiosks, staff)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            jobs = conn.execute(
                "SELECT kiosk, number FROM print_jobs WHERE ticket_id = ?", (ticket["id"],)
            ).fetchall()
            assert jobs == [(ticket["kiosk"], ticket["number"])], "answered, but no print job"
            unprinted = conn.execute(
                "SELECT t.number, count(j.id) FROM tickets t LEFT JOIN print_jobs j "
                "ON j.ticket_id = t.id WHERE t.kiosk IS NOT NULL GROUP BY t.id "
                "HAVING count(j.id) != 1"
            ).fetchall()
            assert unprinted == [], "kiosk tickets without exactly one print job"
            orphans = conn.execute(
                "SELECT number FROM print_jobs WHERE ticket_id NOT IN (SELECT id FROM tickets)"
            ).fetchall()
            assert orphans == [], "print jobs whose ticket was never committed"
            (staff_tickets,) = conn.execute(
                "SELECT count(*) FROM tickets WHERE kiosk IS NULL"
            ).fetchone()
        finally:
            conn.close()
    assert staff_tickets > 0, "the clerk's tickets should have crowded the writer"


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """A started server, killed on the way out if the test failed before stopping it."""
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_sigterm_closes_connections_and_leaves_a_consistent_file(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    with running(ServerProcess(db, demo=True)) as server:
        token = server.login("staff8")
        issued = [
            server.request("POST", "/api/v1/tickets", {"service": "tax"}, token=token)[1]
            for _ in "12345"
        ]
        status, called = server.request("POST", "/api/v1/windows/8/call", token=token)
        assert status == 200
        idle = socket.create_connection(("127.0.0.1", server.port))
        idle.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.settimeout(10)
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        with ws_connect(f"ws://127.0.0.1:{server.port}/ws/board", open_timeout=5) as board:
            assert json.loads(board.recv(timeout=5))["type"] == "snapshot"
            started = time.monotonic()
            assert server.stop() == 0
            # the shutdown timeout is 5 s: an open board must not make the server wait it out
            assert time.monotonic() - started < 4, "shutdown waited for the open board"
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    board.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert idle.recv(65536) == b"", "the keep-alive connection was left open"
        idle.close()
    conn = connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    rows = dict(conn.execute("SELECT number, status FROM tickets"))
    conn.close()
    called_number = called["ticket"]["number"]
    assert rows == {
        t["ticket"]["number"]: "called" if t["ticket"]["number"] == called_number else "waiting"
        for t in issued
    }

    with running(server):
        windows = {w["id"]: w["current"] for w in server.request("GET", "/api/v1/windows")[1]}
        assert windows["8"] == called_number
        status, more = server.request(
            "POST", "/api/v1/tickets", {"service": "tax"}, token=server.paired("k1")
        )
        assert status == 201 and more["ticket"]["number"].endswith("006")
        assert server.stop() == 0


def test_a_database_from_a_newer_hallq_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        ServerProcess(db).start()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
def test_an_older_or_empty_database_is_migrated_forward(tmp_path: Path, version: int) -> None:
    """Version 0 is an empty file (as ``touch hall.db`` leaves it)."""
    db = tmp_path / "hall.db"
    db.touch()
    if version:
        conn = connect(db)
        for migration in MIGRATIONS[:version]:
            migration(Database(conn))
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()
    with running(ServerProcess(db)) as server:
        status, body = server.request(
            "POST", "/api/v1/tickets", {"service": "tax"}, token=server.paired("k1")
        )
        assert status == 201 and body["ticket"]["number"].endswith("001")
        assert server.stop() == 0
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    conn.close()
