"""The board websocket over real connections: what boards and window screens hear, and that one
board that stops reading neither slows the others nor stays connected for ever."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hall_server.app import make_app
from hall_server.config import parse_config
from hall_server.http.common import HUB
from tests.support import add_demo_accounts

HALL = """
[hall]
id = "boards"
name = "大厅"
hours = ["00:00-24:00"]

[queue]
max_recalls = 100000

[[service]]
code = "pension"
prefix = "A"
name = "养老"
""" + "".join(f'\n[[window]]\nid = "{i}"\nservices = ["pension"]\n' for i in range(1, 5))


@dataclass
class Hall:
    app: web.Application
    base: str
    session: aiohttp.ClientSession
    db: Path
    tokens: dict[str, str] = field(default_factory=dict)

    async def issue(self, n: int = 1) -> None:
        auth = {"Authorization": f"Bearer {await self.token('1')}"}
        for _ in range(n):
            async with self.session.post(
                f"{self.base}/api/v1/tickets", json={"service": "pension"}, headers=auth
            ) as r:
                assert r.status == 201

    async def token(self, window: str) -> str:
        """The session of window `window`'s clerk (who may also take tickets for visitors)."""
        if window not in self.tokens:
            login = {"username": f"staff{window}", "password": "demo"}
            async with self.session.post(f"{self.base}/api/v1/auth/login", json=login) as r:
                self.tokens[window] = (await r.json())["token"]
        return self.tokens[window]

    async def act(self, window: str, action: str) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {await self.token(window)}"}
        async with self.session.post(
            f"{self.base}/api/v1/windows/{window}/{action}", headers=headers
        ) as r:
            assert r.status in (200, 204), await r.text()
            return (await r.json())["ticket"] if r.status == 200 else None

    async def board(self, query: str = "") -> Board:
        ws = await self.session.ws_connect(f"{self.base}/ws/board{query}")
        return Board(ws)


class Board:
    """A board that reads everything into ``messages`` as it arrives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def calls(self) -> list[tuple[str, str, bool]]:
        return [(m["number"], m["window"], m["recall"]) for m in self.of("call")]

    async def close(self) -> None:
        await self.ws.close()
        await self.task


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for a condition on live connections, without guessing a sleep."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def start_hall(tmp_path: Path, **options: Any) -> AsyncIterator[Hall]:
    config = parse_config(HALL)
    db = tmp_path / "hall.db"
    add_demo_accounts(db, config)
    app = make_app(config, db, **options)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Hall(app, str(server.make_url("")).rstrip("/"), session, db)
    await server.close()


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[Hall]:
    async with start_hall(tmp_path) as h:
        yield h


def calls_on_file(db: Path) -> list[tuple[str, str, bool]]:
    """Calls and recalls in the order the log recorded them."""
    conn = sqlite3.connect(db)
    number = dict(
        conn.execute(
            "SELECT json_extract(data, '$.ticket_id'), json_extract(data, '$.number') "
            "FROM events WHERE type = 'ticket_issued'"
        )
    )
    out = [
        (number[tid], window, kind == "ticket_recalled")
        for kind, tid, window in conn.execute(
            "SELECT type, json_extract(data, '$.ticket_id'), json_extract(data, '$.window') "
            "FROM events WHERE type IN ('ticket_called', 'ticket_recalled') ORDER BY seq"
        )
    ]
    conn.close()
    return out


async def test_every_board_hears_the_same_calls_in_the_order_they_happened(hall: Hall) -> None:
    boards = [await hall.board() for _ in range(5)]
    await until(lambda: all(b.of("snapshot") for b in boards))
    await hall.issue(40)

    async def clerk(window: str) -> int:
        announced = 0
        while await hall.act(window, "call") is not None:
            announced += 1
            if int(window) % 2:
                await hall.act(window, "recall")
                announced += 1
        return announced

    total = sum(await asyncio.gather(*(clerk(w) for w in "1234")))
    expected = calls_on_file(hall.db)
    assert len(expected) == total and len({n for n, _, r in expected if not r}) == 40
    await until(lambda: all(len(b.of("call")) >= total for b in boards))
    for b in boards:
        assert b.calls() == expected
        assert b.messages[0]["type"] == "snapshot"
        call = b.of("call")[0]
        assert call["service"] == "pension" and call["at"] and call["window_name"]
    for b in boards:
        await b.close()


async def test_a_board_that_reconnects_gets_a_fresh_snapshot(hall: Hall) -> None:
    board = await hall.board()
    await until(lambda: bool(board.of("snapshot")))
    assert all(w["current"] is None for w in board.of("snapshot")[0]["windows"])
    await hall.issue(3)
    await hall.act("1", "call")
    await until(lambda: board.calls() == [("A001", "1", False)])
    await board.close()

    await hall.act("2", "call")
    await hall.act("1", "finish")
    await hall.act("3", "call")
    await hall.act("3", "recall")

    board = await hall.board()
    await until(lambda: bool(board.of("snapshot")))
    snapshot = board.of("snapshot")[0]
    current = {w["id"]: w["current"] for w in snapshot["windows"]}
    assert current == {"1": None, "2": "A002", "3": "A003", "4": None}
    heard = {(c["number"], c["window"], c["recall"]) for c in snapshot["calls"]}
    assert {("A001", "1", False), ("A002", "2", False), ("A003", "3", True)} <= heard
    assert snapshot["waiting"]["pension"] == []
    await hall.act("4", "call")  # nobody waits: no call goes out
    await hall.issue()
    await hall.act("4", "call")
    await until(lambda: board.calls() == [("A004", "4", False)])
    await board.close()


async def test_a_window_screen_hears_only_its_own_calls(hall: Hall) -> None:
    screens = {w: await hall.board(f"?window={w}") for w in "12"}
    everything = await hall.board()
    await until(lambda: all(b.of("snapshot") for b in [*screens.values(), everything]))
    assert screens["2"].of("snapshot")[0]["window"] == "2"
    await hall.issue(6)
    for w in "1231":
        await hall.act(w, "call")
    await hall.act("2", "recall")
    await until(lambda: len(everything.of("call")) == 5)
    await until(lambda: len(screens["1"].of("call")) == 2 and len(screens["2"].of("call")) == 2)
    assert screens["1"].calls() == [("A001", "1", False), ("A004", "1", False)]
    assert screens["2"].calls() == [("A002", "2", False), ("A002", "2", True)]
    assert [w for _, w, _ in everything.calls()] == ["1", "2", "3", "1", "2"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hall.board("?window=99")
    assert refused.value.status == 404
    for b in [*screens.values(), everything]:
        await b.close()


async def test_boards_receive_heartbeats(tmp_path: Path) -> None:
    async with start_hall(tmp_path, heartbeat_s=0.05) as hall:
        board = await hall.board("?window=1")
        await until(lambda: len(board.of("heartbeat")) >= 3)
        await board.close()


async def stalled_board(base: str) -> socket.socket:
    """A board that completes the websocket handshake and then never reads again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    host, port = base.removeprefix("http://").split(":")
    await loop.sock_connect(sock, (host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET /ws/board HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    head = await loop.sock_recv(sock, 4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def held_by_a_process(client: socket.socket) -> bool:
    """Whether the server's end of this loopback connection still belongs to a process: a
    socket nobody holds any more shows inode 0 in /proc/net/tcp."""
    peer = f"0100007F:{client.getsockname()[1]:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[2] == peer:
                return fields[9] != "0"
    return False


async def test_a_stalled_board_is_dropped_without_holding_up_the_others(tmp_path: Path) -> None:
    async with start_hall(tmp_path, hub_buffer=16) as hall:
        hub = hall.app[HUB]
        stalled = await stalled_board(hall.base)
        boards = [await hall.board() for _ in range(3)]
        await until(lambda: len(hub.clients) == 4)
        await hall.issue(4)
        for w in "1234":
            await hall.act(w, "call")
        sent = 4
        # each round is heard by every live board before the next: the stalled one holds
        # nobody up, until the hub notices it has fallen behind and lets it go
        while hub.dropped_total == 0:
            assert sent < 20000, "the stalled board was never dropped"
            await asyncio.gather(*(hall.act(w, "recall") for w in "1234"))
            sent += 4
            await until(lambda n=sent: all(len(b.of("call")) == n for b in boards), timeout=5)
        assert hub.dropped_total == 1 and len(hub.clients) == 3
        assert all(not b.ws.closed for b in boards)
        assert boards[0].calls() == calls_on_file(hall.db)
        assert boards[1].calls() == boards[0].calls() == boards[2].calls()

        # the server lets go of the connection while the board still does not read (the
        # kernel may still try to deliver what was sent), and the board then sees it end
        await until(lambda: not held_by_a_process(stalled))
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            with contextlib.suppress(ConnectionResetError):
                while await loop.sock_recv(stalled, 65536):
                    pass
        stalled.close()
        for b in boards:
            await b.close()


async def test_boards_read_every_size_of_pre_built_frame_in_order(hall: Hall) -> None:
    """Calls reach boards as frames built once and written to every socket: short, medium and
    long payloads (the three length encodings) arrive whole and in order."""
    boards = [await hall.board() for _ in range(3)]
    hub = hall.app[HUB]
    sizes = (10, 300, 70_000)
    for i, size in enumerate(sizes):
        hub.publish({"type": "call", "number": f"X{i}", "pad": "号" * size})
    for board in boards:
        await until(lambda b=board: len(b.of("call")) == len(sizes))
        got = board.of("call")
        assert [m["number"] for m in got] == ["X0", "X1", "X2"]
        assert [len(m["pad"]) for m in got] == list(sizes)


async def test_boards_end_on_the_latest_state_and_never_hear_an_older_one_after_a_newer(
    hall: Hall,
) -> None:
    """State messages go out as one frame written to every board (not a send per board): on
    every board they arrive in the order published, with the calls between them in place,
    and the last one heard is the latest, whether it was queued or written at once."""
    boards = [await hall.board() for _ in range(5)]
    await until(lambda: all(b.of("snapshot") for b in boards))
    hub = hall.app[HUB]
    for i in range(30):
        hub.publish({"type": "state", "seq": i, "waiting": {"pension": ["A001"] * i}})
        if i % 10 == 0:
            hub.publish({"type": "call", "number": f"X{i}", "window": "1"})
            await asyncio.sleep(0)  # some boards' senders run between messages
    for board in boards:
        await until(lambda b=board: b.of("state") and b.of("state")[-1]["seq"] == 29)
        order = [(m["type"], m.get("seq", m.get("number"))) for m in board.messages[1:]]
        seqs = [seq for kind, seq in order if kind == "state"]
        assert seqs == sorted(seqs), "an older state after a newer one"
        assert [n for kind, n in order if kind == "call"] == ["X0", "X10", "X20"]
        for number, k in (("X0", 0), ("X10", 10), ("X20", 20)):  # published after state k
            at = order.index(("call", number))
            assert all(seq <= k for kind, seq in order[:at] if kind == "state")
            assert all(seq > k for kind, seq in order[at:] if kind == "state")
    for b in boards:
        await b.close()
