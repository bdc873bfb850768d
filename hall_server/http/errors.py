"""The one mapping from errors to JSON answers: domain errors by their kind, HTTP errors under
``/api/`` by their status, anything unexpected as a logged 500 that says nothing inside.

Every answer is ``{"error": {"code", "message", ...}}`` with the message from the catalogs
(``error.<code>``) in the request's language (`api_lang`), so a Chinese screen showing the
API's message shows Chinese.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hall_server.core.errors import DomainError, Kind
from hall_server.hall import HallUnavailable
from hall_server.http.lang import api_lang
from hall_server.i18n import error_message

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
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ApiError(web.HTTPException):
    """An error of the web layer itself (credentials, a body that is not JSON...), answered
    like a domain error: ``params`` fill the catalog's placeholders, ``extra`` are added to the
    answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status_code = status
        super().__init__(reason=None)
        self.code, self.message, self.params, self.extra = code, message, params or {}, extra
        self.answer_headers = headers or {}  # e.g. Retry-After on a 429


def error_json(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """The error answer, its message translated (``message`` is the English fallback)."""
    text = error_message(api_lang(request), code, {**(extra or {}), **(params or {})}, message)
    return web.json_response(
        {"error": {"code": code, "message": text, **(extra or {})}}, status=status
    )


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/ every failure is JSON and none is a 500 for bad input."""
    api = request.path.startswith("/api/")
    try:
        return await handler(request)
    except ApiError as e:
        resp = error_json(request, e.status, e.code, e.message, e.params, e.extra)
        resp.headers.update(e.answer_headers)
        return resp
    except DomainError as e:
        return error_json(request, STATUS[e.kind], e.code, e.message, e.params, e.values)
    except HallUnavailable as e:
        return error_json(request, 503, "store_unavailable", str(e))
    except web.HTTPException as e:
        if not api or e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        resp = error_json(request, e.status, code, e.reason, {"status": e.status})
        if "Allow" in e.headers:  # a 405 says what is allowed (RFC 9110)
            resp.headers["Allow"] = e.headers["Allow"]
        return resp
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not api:
            raise
        return error_json(request, 500, "internal_error", "the server failed; the error is logged")
