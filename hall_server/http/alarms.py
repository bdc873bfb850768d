"""The alarm log: ``/api/v1/alarms`` and acknowledging one."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from hall_server.core.access import Role
from hall_server.http.common import ALARMS, HALL, ApiError, require, row_id

routes = web.RouteTableDef()


@routes.get("/api/v1/alarms")
async def alarms_list(request: web.Request) -> web.Response:
    """``?open=1``: alarms not yet cleared; otherwise the log of ``date`` (default today)."""
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    day = request.query.get("date") or hall.today().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ApiError(422, "invalid_date", "date must be YYYY-MM-DD") from None
    open_only = request.query.get("open") in ("1", "true")
    return web.json_response(request.app[ALARMS].list(day, open_only))


@routes.post("/api/v1/alarms/{id}/ack")
async def alarms_ack(request: web.Request) -> web.Response:
    who = require(request, Role.MANAGER)
    alarm_id = row_id(request, "unknown_alarm", "alarm")
    return web.json_response(request.app[ALARMS].acknowledge(alarm_id, who.username))
