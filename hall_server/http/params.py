"""Query parameters more than one resource reads."""

from __future__ import annotations

from datetime import date
from typing import overload

from aiohttp import web

from hall_server.http.common import HALL, ApiError


@overload
def day_param(request: web.Request, name: str = "date", *, default: date) -> date: ...
@overload
def day_param(request: web.Request, name: str, default: date) -> date: ...
@overload
def day_param(request: web.Request, name: str = "date", default: None = None) -> date | None: ...
def day_param(request: web.Request, name: str = "date", default: date | None = None) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_date", f"{name} must be YYYY-MM-DD") from None


def service_param(request: web.Request) -> str:
    service = request.query.get("service", "")
    if service not in request.app[HALL].services:
        raise ApiError(404, "unknown_service", f"no service {service!r}")
    return service
