"""The window console's commands: ``/api/v1/windows`` and ``/api/v1/windows/{window}/{action}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.access import Role
from hall_server.hall import WINDOW_ACTIONS
from hall_server.http.common import ACCOUNTS, HALL, ApiError, body, require

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TransferRequest(_Body):
    service: str = Field(min_length=1, max_length=64)


class PauseRequest(_Body):
    reason: str | None = Field(default=None, max_length=32)


class CallRequest(_Body):
    number: str | None = Field(default=None, max_length=16)


@routes.get("/api/v1/windows")
async def windows(request: web.Request) -> web.Response:
    return web.json_response(request.app[HALL].windows_view())


@routes.get("/api/v1/windows/{window}/clerk")
async def window_clerk(request: web.Request) -> web.Response:
    """Who works the window now, for its screen: staff name and number are shown publicly at
    the counter, as in every Chinese hall (nothing about visitors)."""
    window = request.match_info["window"]
    if window not in request.app[HALL].windows_cfg:
        raise ApiError(
            404, "unknown_window", f"no window {window[:40]!r}", params={"window": window[:40]}
        )
    return web.json_response({"window": window, "clerk": request.app[ACCOUNTS].clerk_at(window)})


@routes.post("/api/v1/windows/{window}/{action}")
async def window_action(request: web.Request) -> web.Response:
    window, action = request.match_info["window"], request.match_info["action"]
    if action == "clerk":  # read-only: a POST is the wrong method, not an unknown action
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])
    who = require(request, Role.STAFF)
    hall = request.app[HALL]
    if action not in WINDOW_ACTIONS:
        raise ApiError(404, "unknown_action", f"no window action {action!r}")
    if window not in hall.windows_cfg:
        raise ApiError(404, "unknown_window", f"no window {window!r}", params={"window": window})
    if not who.may_act_on(window):
        raise ApiError(403, "forbidden", f"{who.username} works at window {who.window}")
    kw: dict[str, Any] = {}
    if action == "transfer":
        kw["service"] = (await body(request, TransferRequest)).service
    elif action == "pause" and request.can_read_body:
        kw["reason"] = (await body(request, PauseRequest)).reason
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
