"""The city live: every hall's latest state in memory, pushed to dashboards over ``/ws/city``.

Messages (JSON), server to client:

- ``{"type": "snapshot", "at": ISO, "catalog_version": N|null, "halls": [HALL, ...]}`` first,
  and again whenever the client fell behind (its buffer is dropped rather than grown);
- ``{"type": "hall", "hall": HALL}`` when a hall's state or status changes (a push from the hall,
  or the hall going ``stale``/``offline`` because nothing was heard);
- ``{"type": "catalog", "version": N}`` when a new catalog is published;
- ``{"type": "heartbeat", "at": ISO}`` every ``HEARTBEAT_S`` seconds.

``HALL`` is an element of ``GET /api/v1/halls`` (``id, name, level, parent, lat, lon, status,
last_seen, waiting, open_windows, longest_wait_s, catalog_version``) plus ``open_now``, ``day``,
``state_at``, ``followups`` (``{open, overdue}``: 差评 still to answer), ``alarms_open``,
``name_en``, ``public_url`` (where visitors book, or null) and
``services``: ``[{service, waiting, longest_wait_s, open_windows, eta_s, open}]``. A manager's
socket hears only the halls of their scope. The socket needs a login
(session cookie, ``Authorization: Bearer``, or ``?token=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .auth import Principal
from .figures import hall_view, iso
from .store import HubStore

HEARTBEAT_S = 15.0
CLIENT_BUFFER = 512


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    who: Principal
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_BUFFER)
    )
    behind: bool = False


class Network:
    """The halls as the hub knows them now; rows refreshed from the store, states as pushed."""

    def __init__(self, store: HubStore, clock: Callable[[], float] = time.time) -> None:
        self.store, self.clock = store, clock
        self.rows: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.catalog_version: int | None = None
        self.clients: set[_Client] = set()

    async def refresh(self) -> None:
        """Reread the registry (``hall-hub hall add`` writes it from another process)."""
        self.rows = {r["id"]: r for r in await self.store.halls()}
        cat = await self.store.catalog()
        self.catalog_version = cat[0] if cat else None
        self._changed(list(self.rows))

    def parents(self) -> dict[str, str | None]:
        return {h: r["parent"] for h, r in self.rows.items()}

    def pushed(self, hall_id: str, state: dict[str, Any] | None, profile: dict | None) -> None:
        """A hall was heard (with its new state, if it sent one)."""
        row = self.rows.get(hall_id)
        if row is None:
            return
        now = self.clock()
        row["last_seen"] = now
        if state is not None:
            row["state"], row["state_at"] = state, now
            row["catalog_version"] = state.get("catalog_version")
        if profile is not None:
            row["profile"] = profile
        self._changed([hall_id])

    def _changed(self, ids: list[str]) -> None:
        now = self.clock()
        for h in ids:
            view = hall_view(self.rows[h], now)
            if self.views.get(h) != view:
                self.views[h] = view
                self.broadcast({"type": "hall", "hall": view}, h)

    async def tick(self, every: float = 2.0) -> None:
        """Statuses change with time alone; heartbeats keep proxies from closing sockets."""
        last_beat = 0.0
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await self.refresh()
            if self.clock() - last_beat >= HEARTBEAT_S:
                last_beat = self.clock()
                self.broadcast({"type": "heartbeat", "at": iso(last_beat)})

    # -- clients --

    def snapshot(self, who: Principal) -> dict[str, Any]:
        parents = self.parents()
        return {
            "type": "snapshot",
            "at": iso(self.clock()),
            "catalog_version": self.catalog_version,
            "halls": [v for h, v in sorted(self.views.items()) if who.sees(h, parents)],
        }

    def broadcast(self, message: dict[str, Any], hall_id: str | None = None) -> None:
        parents = self.parents() if hall_id else {}
        for c in list(self.clients):
            if hall_id is not None and not c.who.sees(hall_id, parents):
                continue
            try:
                c.queue.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop what it has, send a snapshot instead
                c.behind = True
                while not c.queue.empty():
                    c.queue.get_nowait()
                c.queue.put_nowait(self.snapshot(c.who))

    async def serve(self, request: web.Request, who: Principal) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        client = _Client(ws, who)
        client.queue.put_nowait(self.snapshot(who))
        self.clients.add(client)

        async def send() -> None:
            while True:
                await ws.send_json(await client.queue.get())

        sender = asyncio.create_task(send())
        try:
            async for _ in ws:  # the client says nothing; reading notices it leaving
                pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        return ws

    async def close_all(self) -> None:
        for c in list(self.clients):
            await c.ws.close()
