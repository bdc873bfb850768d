"""The window console's commands: ``/api/v1/windows`` and ``/api/v1/windows/{window}/{action}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hall_server.core.access import Role
from hall_server.core.engine import NOTE_MAX
from hall_server.hall import WINDOW_ACTIONS
from hall_server.http.common import ACCOUNTS, HALL, ApiError, body, require

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TransferRequest(_Body):
    """Exactly one target: another service, a window (its own line, called there first) or a
    colleague by login name = 工号 (called first wherever they call). ``note`` is for the next
    clerk only."""

    service: str | None = Field(default=None, min_length=1, max_length=64)
    to_window: str | None = Field(default=None, min_length=1, max_length=16)
    to_staff: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(
        default=None,
        max_length=5 * NOTE_MAX,  # the body's bound; the engine refuses beyond NOTE_MAX, in words
        description=f"for the next clerk only; at most {NOTE_MAX} characters (note_too_long)",
    )

    @field_validator("note")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        """Line breaks stay; other control characters (a pasted tab, an escape) go."""
        return None if v is None else "".join(c for c in v if c == "\n" or c.isprintable())


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
        req = await body(request, TransferRequest)
        kw.update(req.model_dump())
        if req.to_staff is not None and req.to_staff not in {
            c["username"] for c in request.app[ACCOUNTS].colleagues()
        }:
            raise ApiError(
                404,
                "unknown_staff",
                f"no colleague {req.to_staff!r}",
                field="to_staff",
                params={"staff": req.to_staff},
            )
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
