"""The one mapping from errors to JSON answers: domain errors by their kind, HTTP errors under
``/api/`` by their status, anything unexpected as a logged 500 that says nothing inside."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hall_server.core.errors import DomainError, Kind
from hall_server.hall import HallUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: dict[Kind, int] = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "too_many": 429,
    "unavailable": 503,
}


class ApiError(web.HTTPException):
    """An error answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": {"code": code, "message": message, **extra}}),
            content_type="application/json",
        )


def error_json(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/ every failure is JSON and none is a 500 for bad input."""
    api = request.path.startswith("/api/")
    try:
        return await handler(request)
    except ApiError:
        raise
    except DomainError as e:
        return web.json_response(
            {"error": {"code": e.code, "message": e.message, **e.values}}, status=STATUS[e.kind]
        )
    except HallUnavailable as e:
        return error_json(503, "store_unavailable", str(e))
    except web.HTTPException as e:
        if not api or e.status < 400:
            raise
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return error_json(e.status, codes.get(e.status, "http_error"), e.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not api:
            raise
        return error_json(500, "internal_error", "the server failed; the error is logged")
