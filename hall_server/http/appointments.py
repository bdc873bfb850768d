"""Online booking and its look-ups: ``/api/v1/appointments*`` (check-in happens when a ticket
is taken, ``tickets.py``)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.access import Role
from hall_server.http.common import APPOINTMENTS, HALL, ApiError, body, require
from hall_server.http.params import day_param, service_param

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class BookRequest(_Body):
    service: str = Field(min_length=1, max_length=64)
    date: date
    slot: str = Field(pattern=r"^\d\d:\d\d$")
    name: str = Field(min_length=1, max_length=40)
    id_number: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=20)
    item: str | None = Field(default=None, max_length=32)


@routes.get("/api/v1/appointments/days")
async def appointment_days(request: web.Request) -> web.Response:
    days = request.app[APPOINTMENTS].bookable_days()
    return web.json_response([{"date": d.isoformat(), "weekday": d.isoweekday()} for d in days])


@routes.get("/api/v1/appointments/slots")
async def appointment_slots(request: web.Request) -> web.Response:
    service = service_param(request)
    day = day_param(request)
    if day is None:
        raise ApiError(422, "invalid_date", "date=YYYY-MM-DD is required")
    return web.json_response(request.app[APPOINTMENTS].slots(service, day))


@routes.post("/api/v1/appointments")
async def book(request: web.Request) -> web.Response:
    req = await body(request, BookRequest)
    out = await request.app[APPOINTMENTS].book(
        req.service,
        req.date,
        req.slot,
        req.name,
        id_number=req.id_number,
        phone=req.phone,
        item=req.item,
    )
    return web.json_response(out, status=201)


@routes.get("/api/v1/appointments")
async def appointment_list(request: web.Request) -> web.Response:
    require(request, Role.STAFF)
    day = day_param(request, default=request.app[HALL].today())
    assert day is not None
    return web.json_response(request.app[APPOINTMENTS].listing(day))


@routes.get("/api/v1/appointments/{code}")
async def appointment(request: web.Request) -> web.Response:
    return web.json_response(request.app[APPOINTMENTS].lookup(request.match_info["code"]))


@routes.get("/api/v1/appointments/{code}/qr.svg")
async def appointment_qr(request: web.Request) -> web.Response:
    svg = request.app[APPOINTMENTS].qr_svg(request.match_info["code"])
    return web.Response(text=svg, content_type="image/svg+xml")


@routes.delete("/api/v1/appointments/{code}")
async def cancel_appointment(request: web.Request) -> web.Response:
    return web.json_response(await request.app[APPOINTMENTS].cancel(request.match_info["code"]))
