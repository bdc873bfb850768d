"""Every websocket in one place: boards and consoles, kiosks, the manager's dashboard and the
kiosks' device agents. Each starts with a snapshot and then passes the hub's messages its
filter accepts (``feed.py``); the agent link speaks the device protocol (``docs in
device_hub.py``).

``/ws/kiosk/{kiosk}`` starts with ``{"type": "snapshot", "kiosk": K, "services": [...],
"printer": STATE}`` (``printer`` null when none is fitted, absent without devices), then
passes the hall's ``state`` and ``heartbeat`` messages and every message whose ``kiosk`` is K.
The device layer publishes on the hub, for the kiosk page:

- ``{"type": "card", "kiosk": K, "name_masked": "张*三", "priority": bool}``: a card was read;
  the next ticket taken at K carries it (the page shows the masked name, never the number).
- ``{"type": "card_removed", "kiosk": K}``: the pending identity expired or was used.
- ``{"type": "printer", "kiosk": K, "state": "ok|paper_out|paper_low|offline|error",
  "number": "A012" (optional: the ticket whose printing failed)}``: the ticket screen then
  tells the visitor to keep or photograph the on-screen ticket.
- ``{"type": "print", "kiosk": K, "ticket": ID, "state": ..., "reason": ...}``: the ticket's
  print job; when it failed the ticket screen says why in plain words and offers 重新打印
  (``POST /api/v1/tickets/{token}/reprint``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from hall_server import metrics
from hall_server.core.access import Role
from hall_server.device_hub import DeviceHub
from hall_server.http.common import (
    ALARMS,
    DEVICES,
    HALL,
    HUB,
    ApiError,
    device_of,
    principal,
    require,
)
from hall_server.http.feed import LIVE_TYPES, board_filter, kiosk_filter, state_message
from hall_server.store.devices import kiosk_of_token

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class WsLink:
    """An agent's websocket."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, msg: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(msg, ensure_ascii=False))

    async def close(self) -> None:
        await self.ws.close(code=4001, message=b"replaced or shutting down")


@routes.get("/ws/board")
async def board_ws(request: web.Request) -> web.WebSocketResponse:
    hall = request.app[HALL]
    window = request.query.get("window")
    if window is not None and window not in hall.windows_cfg:
        raise web.HTTPNotFound(text=f"no window {window!r}")
    # no permessage-deflate: browsers ask for it, but a zlib context per board is 4x the memory
    # and compressing each small message once per board slows the fan-out (benchmarks/)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096, compress=False)
    await ws.prepare(request)
    snapshot = hall.snapshot()
    snapshot["window"] = window
    snapshot["staff"] = principal(request) is not None
    abort = request.transport.abort if request.transport else None
    board = board_filter(window)

    def console(m: dict[str, Any]) -> bool:  # a console also lists tickets kiosks did not print
        return board(m) or (m.get("type") == "print" and m.get("state") in ("failed", "done"))

    accepts = console if snapshot["staff"] else board
    transport = request.transport if isinstance(request.transport, asyncio.Transport) else None
    await request.app[HUB].serve(ws, snapshot, accepts, abort=abort, transport=transport)
    return ws


@routes.get("/ws/kiosk/{kiosk}")
async def kiosk_ws(request: web.Request) -> web.WebSocketResponse:
    hall = request.app[HALL]
    kiosk = request.match_info["kiosk"]
    if kiosk not in hall.kiosks:
        raise web.HTTPNotFound(text=f"no kiosk {kiosk!r}")
    if device_of(request) != kiosk:  # card reads and print progress are the kiosk's own
        raise web.HTTPUnauthorized(text=f"only kiosk {kiosk}'s paired devices listen here")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    snapshot = {**state_message(hall), "type": "snapshot", "kiosk": kiosk}
    devices = request.app.get(DEVICES)
    kd = devices.kiosks.get(kiosk) if devices else None
    if kd is not None:  # so the page can warn before issuing that its printer is off
        snapshot["printer"] = kd.printer_view()
    await request.app[HUB].serve(ws, snapshot, kiosk_filter(kiosk))
    return ws


@routes.get("/ws/manager")
async def manager_ws(request: web.Request) -> web.WebSocketResponse:
    """Live alarms, calls and queue states for the dashboard (managers only)."""
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    snapshot = {
        "type": "snapshot",
        "live": metrics.live(hall),
        "alarms": request.app[ALARMS].list(open_only=True),
    }
    await request.app[HUB].serve(ws, snapshot, lambda m: m.get("type") in LIVE_TYPES)
    return ws


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


@routes.get("/ws/agent")
async def agent_ws(request: web.Request) -> web.WebSocketResponse:
    """A kiosk's ``hall-devices`` agent; the token decides which kiosk it is."""
    devices = request.app[DEVICES]
    token = _bearer(request)
    if token is None:
        raise ApiError(
            401,
            "missing_token",
            "send Authorization: Bearer TOKEN (hall-server device add KIOSK creates it)",
        )
    kiosk = kiosk_of_token(devices.store, token)
    if kiosk is None:
        raise ApiError(401, "bad_token", "this device token is not valid")
    wanted = request.query.get("kiosk")
    if wanted is not None and wanted != kiosk:
        raise ApiError(
            403,
            "wrong_kiosk",
            f"this token belongs to kiosk {kiosk}, not {wanted}",
            params={"kiosk": kiosk},
        )
    kd = devices.kiosks.get(kiosk)
    if kd is None:
        raise ApiError(
            404,
            "unknown_kiosk",
            f"kiosk {kiosk} is not in the hall configuration",
            params={"kiosk": kiosk},
        )
    if kd.mode == "local":
        raise ApiError(
            409,
            "local_devices",
            f"kiosk {kiosk}'s devices are driven by the server",
            params={"kiosk": kiosk},
        )
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=1 << 20)
    await ws.prepare(request)
    link = WsLink(ws)
    await devices.connect(kiosk, link, "agent")
    log.info("kiosk %s: agent connected from %s", kiosk, request.remote)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                log.warning("kiosk %s: agent sent something that is not JSON", kiosk)
                continue
            if isinstance(data, dict):
                await devices.receive(kiosk, data, link)
    finally:
        await devices.disconnect(kiosk, link)
        log.info("kiosk %s: agent disconnected", kiosk)
    return ws


async def close_agents(devices: DeviceHub) -> None:
    """On shutdown: the agents' websockets never end by themselves."""
    for kd in devices.kiosks.values():
        if isinstance(kd.link, WsLink):
            await kd.link.close()
