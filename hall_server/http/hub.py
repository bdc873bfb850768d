"""Fan-out of live messages to websocket clients (boards, staff consoles, dashboards).

Each client has a bounded buffer and its own sender task. Publishing never awaits a client:
a client whose buffer is full has fallen behind, so it is dropped; it reconnects and starts
again from a snapshot. One slow or dead board can therefore never delay the others.

``state`` messages (queue lengths, window states) describe the whole hall, so a client only
ever needs the latest: each client holds at most one, sent after its ordered messages. A call
is thus never queued behind a state message, and one that arrives drops the state it would
otherwise follow (every call brings a fresh state shortly after). The hall publishes one at
most every quarter second (``feed.board_listener``).

For clients without compression (boards) whose buffer is empty, a message (a call, a state)
is not queued at all: its websocket frame is built once and the same bytes are written to
every such client's transport in the publishing step, with no task switch and no frame
building per board (500 boards woken for every state message kept the loop from the
requests for tens of milliseconds, four times a second). Filters are asked once per message
and filter object: boards share theirs (``feed.board_filter``), so a kiosk's print progress
costs one call, not one per board.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Filter = Callable[[dict[str, Any]], bool]

#: Kernel send buffer per websocket: boards get a few kilobytes a second, a snapshot is ~10 kB.
SEND_BUFFER = 64 * 1024


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked (server to client) websocket text frame (RFC 6455 5.2)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


@dataclass(eq=False)
class Client:
    ws: web.WebSocketResponse
    accepts: Filter
    #: for a client without compression: where pre-built frames are written directly
    transport: asyncio.Transport | None = None
    pending: deque[str] = field(default_factory=deque)
    latest: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    abort: Callable[[], None] | None = None


class Hub:
    def __init__(self, buffer: int = 256, close_timeout: float = 2.0) -> None:
        self.buffer = buffer
        self.close_timeout = close_timeout
        self.clients: set[Client] = set()
        self.dropped_total = 0
        self._closing: set[asyncio.Task[None]] = set()

    def publish(self, message: dict[str, Any]) -> int:
        """Hand a message to every client that accepts it; returns the bytes handed out (its
        size times the clients that took it)."""
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        kind = message.get("type")
        frame: bytes | None = None
        verdicts: dict[Filter, bool] = {}
        taken = 0
        for client in list(self.clients):
            accepted = verdicts.get(client.accepts)
            if accepted is None:
                accepted = verdicts[client.accepts] = client.accepts(message)
            if not accepted:
                continue
            taken += 1
            if self._direct(client):
                frame = frame or text_frame(text)
                client.transport.write(frame)  # type: ignore[union-attr]
                if kind in ("call", "state"):
                    client.latest = None  # a state it held is older than what follows
                continue
            if kind == "state":
                client.latest = text
            elif len(client.pending) >= self.buffer:
                self._drop(client)
                continue
            else:
                client.pending.append(text)
                if kind == "call":
                    client.latest = None
            client.wake.set()
        return taken * len(text.encode()) if taken else 0

    @staticmethod
    def _direct(client: Client) -> bool:
        """May an ordered message skip the queue: nothing queued before it (what the sender
        took is already written), and the kernel keeps up."""
        t = client.transport
        return (
            t is not None
            and not client.pending
            and not t.is_closing()
            and t.get_write_buffer_size() < SEND_BUFFER
        )

    def _drop(self, client: Client) -> None:
        if client.dropped:
            return
        client.dropped = True
        self.clients.discard(client)
        self.dropped_total += 1
        log.info("dropping a websocket client that fell %d messages behind", self.buffer)
        task = asyncio.get_running_loop().create_task(
            self._close(client, 4000, b"fell behind; reconnect for a snapshot")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, client: Client, code: int, message: bytes) -> None:
        """Close politely; but a client that does not read cannot take the close frame, and its
        unsent data would hold the connection open for ever: after ``close_timeout`` it is cut."""
        try:
            async with asyncio.timeout(self.close_timeout):  # not wait_for: keeps cancellation
                await client.ws.close(code=code, message=message)
        except TimeoutError:
            if client.abort is not None:
                client.abort()
        except (ConnectionError, RuntimeError):
            pass

    async def serve(
        self,
        ws: web.WebSocketResponse,
        snapshot: dict[str, Any],
        accepts: Filter = lambda m: True,
        abort: Callable[[], None] | None = None,
        transport: asyncio.Transport | None = None,
    ) -> None:
        """Send the snapshot, then every accepted message, until the socket closes.

        The snapshot is queued before the client joins, in the same step, so no message can
        fall between the two. ``abort`` (the request transport's) cuts a client that stalls;
        ``transport`` (only for a socket without compression) takes pre-built frames.
        The kernel's send buffer is kept small, so a stalled client is noticed after a few
        hundred kilobytes rather than megabytes and costs little memory meanwhile."""
        sock = ws.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        client = Client(ws, accepts, transport, abort=abort)
        client.pending.append(json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")))
        client.wake.set()
        self.clients.add(client)
        sender = asyncio.create_task(self._send(client))
        try:
            async for _ in ws:  # clients only listen; reading notices the close
                pass
        finally:
            self.clients.discard(client)
            sender.cancel()

    async def _send(self, client: Client) -> None:
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.pending or client.latest is not None:
                    if client.pending:
                        text = client.pending.popleft()
                    else:
                        assert client.latest is not None  # the loop's condition
                        text, client.latest = client.latest, None
                    await client.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass

    async def heartbeats(self, every: float = 10.0) -> None:
        """Application-level heartbeats: browsers cannot see pings, so boards watch these to
        notice a dead connection and reconnect."""
        while True:
            await asyncio.sleep(every)
            self.publish({"type": "heartbeat"})

    async def close_all(self) -> None:
        """At shutdown, all at once: one stalled board must not hold up the others' goodbyes."""
        clients, self.clients = list(self.clients), set()
        await asyncio.gather(*(self._close(c, 1001, b"server shutdown") for c in clients))
