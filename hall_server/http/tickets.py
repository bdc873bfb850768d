"""The REST API of the contract (``shared/spec/api-v1.md``) and the board websocket."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server import __version__, metrics
from hall_server.appointments import APPOINTMENTS
from hall_server.auth import COOKIE, SESSION_TTL_S, Role
from hall_server.core.identity import InvalidCard, identity_from_card
from hall_server.hall import WINDOW_ACTIONS
from hall_server.http.common import (
    ACCOUNTS,
    HALL,
    HUB,
    ApiError,
    body,
    principal,
    require,
    token_of,
)
from hall_server.http.feed import board_filter

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TicketRequest(_Body):
    service: str | None = Field(default=None, min_length=1, max_length=64)
    kiosk: str | None = Field(default=None, max_length=64)
    appointment: str | None = Field(default=None, max_length=64)
    id_card: dict[str, Any] | None = None


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    window: str | None = Field(default=None, max_length=16)


class TransferRequest(_Body):
    service: str = Field(min_length=1, max_length=64)


class CallRequest(_Body):
    number: str | None = Field(default=None, max_length=16)


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    return web.json_response(
        {
            "status": "ok" if hall.broken is None else "failing",
            "hall": hall.config.hall.id,
            "name": hall.config.hall.name,
            "version": __version__,
            "day": hall.engine.day,
            "open": hall.is_open(),
        },
        status=200 if hall.broken is None else 503,
    )


# -- auth -----------------------------------------------------------------------------------


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    req = await body(request, LoginRequest)
    accounts = request.app[ACCOUNTS]
    if accounts.locked_out(req.username):
        raise ApiError(429, "too_many_attempts", "too many wrong passwords; wait a few minutes")
    user = await asyncio.to_thread(accounts.check, req.username, req.password)
    if user is None:
        accounts.failed(req.username)
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    windows = json.loads(user["windows"] or "[]")
    window = req.window or (windows[0] if windows else None)
    hall = request.app[HALL]
    if window is not None:
        if window not in hall.windows_cfg:
            raise ApiError(404, "unknown_window", f"no window {window!r}")
        if user["role"] == Role.STAFF and windows and window not in windows:
            raise ApiError(403, "forbidden", f"{req.username} may not work at window {window}")
    token = accounts.open_session(user["username"], window)
    resp = web.json_response(
        {
            "token": token,
            "role": user["role"],
            "username": user["username"],
            "window": window,
            "windows": windows,
        }
    )
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=SESSION_TTL_S)
    return resp


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        request.app[ACCOUNTS].close_session(token)
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE)
    return resp


@routes.get("/api/v1/auth/me")
async def me(request: web.Request) -> web.Response:
    who = require(request, Role.STAFF)
    return web.json_response(
        {"username": who.username, "role": who.role, "window": who.window, "windows": who.windows}
    )


# -- visitors ---------------------------------------------------------------------------------


@routes.get("/api/v1/services")
async def services(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    out = hall.services_view()
    if request.query.get("items"):
        by_code = hall.services
        for s in out:
            s["items"] = [i.model_dump() for i in by_code[s["code"]].items]
    return web.json_response(out)


@routes.post("/api/v1/tickets")
async def issue_ticket(request: web.Request) -> web.Response:
    req = await body(request, TicketRequest)
    hall = request.app[HALL]
    identity = None
    if req.id_card is not None:
        try:
            identity = identity_from_card(req.id_card, hall.identity_key, hall.today())
        except InvalidCard as e:
            raise ApiError(422, e.code, e.message) from None
    ticket, checkin = await request.app[APPOINTMENTS].issue(
        req.service, kiosk=req.kiosk, identity=identity, code=req.appointment
    )
    return web.json_response({"ticket": hall.ticket_view(ticket), **checkin}, status=201)


@routes.get("/api/v1/tickets/{token}")
async def ticket_progress(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    t = hall.engine.by_token_latest(request.match_info["token"])
    if t is not None:
        return web.json_response(hall.public_view(t))
    row = hall.store.ticket_by_token(request.match_info["token"])
    if row is None:
        raise ApiError(404, "unknown_ticket", "no ticket has this token")
    return web.json_response(
        {
            "number": row["number"],
            "service": row["service"],
            "status": row["status"],
            "position": None,
            "eta_s": None,
            "window": row["window"],
        }
    )


@routes.delete("/api/v1/tickets/{token}")
async def cancel_ticket(request: web.Request) -> web.Response:
    """The visitor gives up their place (from the progress page)."""
    hall = request.app[HALL]
    t = hall.engine.by_token_latest(request.match_info["token"])
    if t is None:
        raise ApiError(404, "unknown_ticket", "no live ticket has this token")
    await hall.cancel(t, "visitor")
    return web.json_response(hall.public_view(t))


# -- staff ------------------------------------------------------------------------------------


@routes.get("/api/v1/windows")
async def windows(request: web.Request) -> web.Response:
    return web.json_response(request.app[HALL].windows_view())


@routes.post("/api/v1/windows/{window}/{action}")
async def window_action(request: web.Request) -> web.Response:
    who = require(request, Role.STAFF)
    hall = request.app[HALL]
    window, action = request.match_info["window"], request.match_info["action"]
    if action not in WINDOW_ACTIONS:
        raise ApiError(404, "unknown_action", f"no window action {action!r}")
    if window not in hall.windows_cfg:
        raise ApiError(404, "unknown_window", f"no window {window!r}")
    if not who.may_act_on(window):
        raise ApiError(403, "forbidden", f"{who.username} works at window {who.window}")
    kw: dict[str, Any] = {}
    if action == "transfer":
        kw["service"] = (await body(request, TransferRequest)).service
    elif action == "call" and request.can_read_body:
        kw["number"] = (await body(request, CallRequest)).number
    ticket = await hall.act(window, action, who.username, **kw)
    if ticket is None:
        if action == "call":
            return web.Response(status=204)
        return web.json_response({"ticket": None, "window": _window(hall, window)})
    return web.json_response({"ticket": hall.ticket_view(ticket), "window": _window(hall, window)})


def _window(hall: Any, window: str) -> dict[str, Any]:
    return next(w for w in hall.windows_view() if w["id"] == window)


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """Today's tickets, for consoles: optionally by ``service`` and ``status``."""
    require(request, Role.STAFF)
    hall = request.app[HALL]
    service, status = request.query.get("service"), request.query.get("status")
    out = [
        hall.ticket_view(t)
        for t in hall.engine.tickets.values()
        if (not service or t.service == service) and (not status or t.status == status)
    ]
    out.sort(key=lambda t: t["issued_at"])
    return web.json_response(out)


# -- managers ---------------------------------------------------------------------------------


def _date(request: web.Request) -> date:
    raw = request.query.get("date")
    if not raw:
        return request.app[HALL].today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_date", "date must be YYYY-MM-DD") from None


@routes.get("/api/v1/metrics/windows")
async def metrics_windows(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    day = _date(request).isoformat()
    return web.json_response(await asyncio.to_thread(metrics.windows, hall.store.path, day))


@routes.get("/api/v1/metrics/live")
async def metrics_live(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(metrics.live(request.app[HALL]))


# -- board websocket ----------------------------------------------------------------------------


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

    await request.app[HUB].serve(ws, snapshot, console if snapshot["staff"] else board, abort=abort)
    return ws
