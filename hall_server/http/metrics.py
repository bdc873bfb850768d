"""Figures for managers: live and per-window metrics (``/api/v1/metrics/*``)."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web

from hall_server import metrics
from hall_server.core.access import Role
from hall_server.http.common import HALL, ApiError, require

routes = web.RouteTableDef()


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
    day = _date(request)
    rows = await asyncio.to_thread(metrics.windows, hall.store, hall.config, day, hall.today())
    return web.json_response(rows)


@routes.get("/api/v1/metrics/live")
async def metrics_live(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(metrics.live(request.app[HALL]))
