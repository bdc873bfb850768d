"""Reports for any range of days: ``/api/v1/metrics/report`` as JSON, CSV or Excel, and
``/api/v1/metrics/summary``: the headline figures beside the previous period, and the trend."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp import web

from hall_server import reports
from hall_server.core import reports as figures
from hall_server.core.access import Role
from hall_server.http.common import ACCOUNTS, HALL, require

routes = web.RouteTableDef()


def report_args(request: web.Request) -> tuple[date, date, str]:
    q = request.query
    start, end = figures.parse_range(q.get("from"), q.get("to"), request.app[HALL].today())
    by = q.get("by", "window")
    if by not in figures.DIMENSIONS:
        raise figures.ReportError(
            "invalid_dimension", f"by must be one of {', '.join(figures.DIMENSIONS)}"
        )
    return start, end, by


async def report(request: web.Request) -> dict[str, Any]:
    start, end, by = report_args(request)
    hall = request.app[HALL]
    names = request.app[ACCOUNTS].display_names() if by == "staff" else None
    return await asyncio.to_thread(
        reports.report, hall.store, hall.config, start, end, hall.today(), by, names
    )


@routes.get("/api/v1/metrics/report")
async def report_json(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(await report(request))


@routes.get("/api/v1/metrics/summary")
async def summary_json(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    q = request.query
    start, end = figures.parse_range(q.get("from"), q.get("to"), hall.today())
    return web.json_response(
        await asyncio.to_thread(
            reports.summary, hall.store, hall.config, start, end, hall.today(), hall.clock()
        )
    )


@routes.get("/api/v1/metrics/report.{fmt:csv|xlsx}")
async def report_file(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    rep = await report(request)
    lang = "en" if request.query.get("lang") == "en" else "zh"
    fmt = request.match_info["fmt"]
    name = f"hallq-{rep['by']}-{rep['from']}-{rep['to']}.{fmt}"
    if fmt == "csv":
        body, ctype = reports.to_csv(rep, lang), "text/csv; charset=utf-8"
    else:
        hall = request.app[HALL]
        start, end = date.fromisoformat(rep["from"]), date.fromisoformat(rep["to"])
        summary = await asyncio.to_thread(
            reports.summary, hall.store, hall.config, start, end, hall.today(), hall.clock()
        )
        body = await asyncio.to_thread(reports.to_xlsx, rep, lang, summary)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=body,
        headers={"Content-Type": ctype, "Content-Disposition": f'attachment; filename="{name}"'},
    )
