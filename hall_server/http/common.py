"""What every HTTP handler shares: JSON errors, body validation, who is asking."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hall_server.auth import COOKIE, Accounts, Principal, Role
from hall_server.core.engine import EngineError
from hall_server.hall import Hall, HallUnavailable
from hall_server.http.hub import Hub

log = logging.getLogger(__name__)

HALL = web.AppKey("hall", Hall)
ACCOUNTS = web.AppKey("accounts", Accounts)
HUB = web.AppKey("hub", Hub)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_KIND_STATUS = {"not_found": 404, "conflict": 409, "invalid": 422}


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
    except EngineError as e:
        if not api:
            raise
        return error_json(_KIND_STATUS.get(e.kind, 409), e.code, e.message)
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


async def body(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body: 400 if it is not JSON, 422 if it has the wrong shape."""
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise ApiError(422, "invalid_field", f"{where}: {err['msg']}", field=where) from None


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def principal(request: web.Request) -> Principal | None:
    token = token_of(request)
    return request.app[ACCOUNTS].principal(token) if token else None


def require(request: web.Request, role: Role) -> Principal:
    who = principal(request)
    if who is None:
        raise ApiError(401, "unauthorized", "log in first (Authorization: Bearer TOKEN)")
    if not who.at_least(role):
        raise ApiError(403, "forbidden", f"this needs the {role.value} role")
    return who


def row_id(request: web.Request, code: str, what: str) -> int:
    """A numeric ``{id}`` from the path; anything that cannot be a row id is simply unknown
    (beyond SQLite's integers the lookup itself would fail)."""
    raw = request.match_info["id"]
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 0 < value < 2**63:
        raise ApiError(404, code, f"no {what} {raw[:40]!r}")
    return value
