"""What every HTTP handler shares: the application's keys, body validation, who is asking."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hall_server.core.access import Principal, Role
from hall_server.guard.credentials import device_token_of
from hall_server.hall import Hall
from hall_server.http.errors import ApiError
from hall_server.http.hub import Hub
from hall_server.store.accounts import Accounts
from hall_server.store.devices import device_of_token

if TYPE_CHECKING:
    from hall_server.alarms import Alarms
    from hall_server.appointments import Appointments
    from hall_server.device_hub import DeviceHub
    from hall_server.ratings import Ratings
    from hall_server.webhooks import Webhooks

COOKIE = "hallq_session"  # the session token, for pages

# what the app module puts on the application for handlers to reach
HALL = web.AppKey("hall", Hall)
ACCOUNTS = web.AppKey("accounts", Accounts)
HUB = web.AppKey("hub", Hub)
APPOINTMENTS: web.AppKey[Appointments] = web.AppKey("appointments")
RATINGS: web.AppKey[Ratings] = web.AppKey("ratings")
ALARMS: web.AppKey[Alarms] = web.AppKey("alarms")
DEVICES: web.AppKey[DeviceHub] = web.AppKey("devices")
WEBHOOKS: web.AppKey[Webhooks] = web.AppKey("webhooks")

M = TypeVar("M", bound=BaseModel)
BODY_TIMEOUT_S = 10.0
MAX_DEPTH = 20  # no request of the API nests deeper than 3


def _too_deep(raw: bytes) -> bool:
    """Brackets nested beyond MAX_DEPTH (outside strings), found in one pass before parsing:
    Python's parser would recurse on them (and raise, or take the CPU)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # the usual case, at C speed
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


async def body(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body: 400 if it is not JSON, 422 if it has the wrong shape."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):  # a client trickling its body holds nothing
            raw = await request.read()
    except TimeoutError:
        raise ApiError(408, "body_timeout", "the request body came too slowly") from None
    if _too_deep(raw):
        raise ApiError(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise ApiError(
            422,
            "invalid_field",
            f"{where}: {err['msg']}",
            field=where,
            params={"detail": err["msg"]},
        ) from None


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def principal(request: web.Request) -> Principal | None:
    token = token_of(request)
    return request.app[ACCOUNTS].principal(token) if token else None


_DEVICE: web.RequestKey[str | None] = web.RequestKey("device")


def device_of(request: web.Request) -> str | None:
    """The paired device asking (kiosk ``K`` or ``pad:W``), from its Bearer token or cookie."""
    if _DEVICE not in request:
        token = device_token_of(request)
        store = request.app[HALL].store
        request[_DEVICE] = device_of_token(store, token) if token else None
    return request[_DEVICE]


def credentialed(request: web.Request) -> bool:
    """Staff, or a paired kiosk or pad: the writers the per-client limits do not count."""
    return device_of(request) is not None or principal(request) is not None


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
