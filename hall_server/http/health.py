"""``GET /api/v1/health``: is the hall up, and is its store writing."""

from __future__ import annotations

from aiohttp import web

from hall_server import __version__
from hall_server.http.common import HALL

routes = web.RouteTableDef()


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
