"""The hub's HTTP API (``shared/spec/hub-v1.md``), the halls' ingest and the city websocket.

Errors are the halls' (``hall_server.web``): ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.reports import ReportError, parse_range
from hall_server.guard.edge import LIMITER, client_key
from hall_server.guard.passwords import PASSWORDS
from hall_server.http.common import body
from hall_server.http.errors import ApiError
from hall_server.network import OUTBOX_FIELDS, RATING_FIELDS, CatalogRejected, check_catalog

from . import __version__, figures
from .auth import COOKIE, SESSION_TTL_S, login, principal, require, token_hash, token_of
from .fold import Logged
from .live import Network
from .store import HubStore

routes = web.RouteTableDef()
STORE = web.AppKey("store", HubStore)
NETWORK = web.AppKey("network", Network)
MAX_EVENTS = 20_000
MAX_CATALOG_ITEMS = 10_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class CatalogRequest(BaseModel):
    """Shapes are checked by ``check_catalog``, which names the entry at fault."""

    services: Any = None
    items: Any = None


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    hall: str = Field(min_length=1, max_length=64)
    events: list[Any] = Field(default=[], max_length=MAX_EVENTS)  # checked in _logged
    ratings: list[dict[str, Any]] = Field(default=[], max_length=MAX_EVENTS)
    state: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None


def _store(request: web.Request) -> HubStore:
    return request.app[STORE]


def _day(raw: str | None) -> str:
    try:
        return (date.fromisoformat(raw) if raw else _today()).isoformat()
    except ValueError:
        raise ApiError(422, "invalid_date", "date must be YYYY-MM-DD") from None


def _today() -> date:
    return datetime.now(ZoneInfo(figures.DEFAULT_TZ)).date()


# -- anyone ------------------------------------------------------------------------------------


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    net = request.app[NETWORK]
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "engine": _store(request).engine,
            "halls": len(net.rows),
        }
    )


@routes.get("/api/v1/halls")
async def halls(request: web.Request) -> web.Response:
    net = request.app[NETWORK]
    net._changed(list(net.rows))  # statuses as of now
    keys = (
        "id",
        "name",
        "level",
        "parent",
        "lat",
        "lon",
        "status",
        "last_seen",
        "waiting",
        "open_windows",
        "longest_wait_s",
        "catalog_version",
        "open_now",
        "day",
        "followups",
        "alarms_open",
    )
    return web.json_response(
        {"halls": [{k: v[k] for k in keys} for _, v in sorted(net.views.items())]}
    )


@routes.get("/api/v1/near")
async def near(request: web.Request) -> web.Response:
    q = request.query
    item = q.get("item", "").strip()
    if not item or len(item) > 64:
        raise ApiError(422, "invalid_item", "item must be an item code")
    lat = lon = None
    if "lat" in q or "lon" in q:
        try:
            lat, lon = float(q["lat"]), float(q["lon"])
        except (KeyError, ValueError):
            raise ApiError(422, "invalid_location", "lat and lon must both be degrees") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ApiError(422, "invalid_location", "lat and lon are out of range")
    net = request.app[NETWORK]
    cat = await _store(request).catalog()
    answer = figures.near(
        list(net.rows.values()), item, cat[1] if cat else None, lat, lon, time.time()
    )
    if answer is None:
        raise ApiError(404, "unknown_item", f"no item {item!r} in the catalog or any hall")
    return web.json_response(answer)


@routes.get("/api/v1/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    cat = await _store(request).catalog()
    if cat is None:
        raise ApiError(404, "no_catalog", "no catalog has been published yet")
    return web.json_response({"version": cat[0], **cat[1]})


# -- accounts ----------------------------------------------------------------------------------


@routes.post("/api/v1/auth/login")
async def auth_login(request: web.Request) -> web.Response:
    req = await body(request, LoginRequest)
    token, user = await login(
        _store(request),
        request.app[LIMITER],
        request.app[PASSWORDS],
        client_key(request.remote),
        req.username,
        req.password,
    )
    resp = web.json_response(
        {
            "token": token,
            "role": user["role"],
            "username": user["username"],
            "scope": user["scope"],
        }
    )
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=SESSION_TTL_S)
    return resp


@routes.post("/api/v1/auth/logout")
async def auth_logout(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        await _store(request).drop_session(token_hash(token))
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE)
    return resp


@routes.get("/api/v1/auth/me")
async def auth_me(request: web.Request) -> web.Response:
    who = await require(request, _store(request))
    return web.json_response({"username": who.username, "role": who.role, "scope": who.scope})


# -- city and managers -------------------------------------------------------------------------


@routes.get("/api/v1/halls/{id}/metrics/windows")
async def hall_windows(request: web.Request) -> web.Response:
    store = _store(request)
    who = await require(request, store)
    hall_id = await _visible_hall(request, who)
    day = date.fromisoformat(_day(request.query.get("date")))
    row = request.app[NETWORK].rows[hall_id]
    return web.json_response(await figures.windows(store, row, day))


@routes.get("/api/v1/halls/{id}/report")
async def hall_report(request: web.Request) -> web.Response:
    """A hall's report for a range, by window, service or hour: the shape and figures of the
    hall's own ``GET /api/v1/metrics/report`` (charts included), for the city's drill-down.
    Not by staff: who served whom stays in the hall."""
    store = _store(request)
    who = await require(request, store)
    hall_id = await _visible_hall(request, who)
    by = request.query.get("by", "service")
    if by not in ("window", "service", "hour"):
        raise ApiError(422, "invalid_dimension", "by must be window, service or hour")
    start, end = _range(request)
    row = request.app[NETWORK].rows[hall_id]
    if not row.get("profile"):
        raise ApiError(409, "no_profile", f"hall {hall_id} has not reported its services yet")
    return web.json_response(await figures.hall_report(store, row, start, end, by))


def _range(request: web.Request) -> tuple[date, date]:
    try:
        return parse_range(request.query.get("from"), request.query.get("to"), _today())
    except ReportError as e:
        raise ApiError(422, e.code, str(e)) from None


async def _visible_hall(request: web.Request, who: Any) -> str:
    net = request.app[NETWORK]
    hall_id = request.match_info["id"]
    if hall_id not in net.rows:
        await net.refresh()
    if hall_id not in net.rows:
        raise ApiError(404, "unknown_hall", f"no hall {hall_id!r}")
    if not who.sees(hall_id, net.parents()):
        raise ApiError(403, "forbidden", f"hall {hall_id} is outside your scope")
    return hall_id


@routes.get("/api/v1/report")
async def report(request: web.Request) -> web.Response:
    store = _store(request)
    who = await require(request, store)
    by = request.query.get("by", "hall")
    if by != "hall":
        raise ApiError(422, "invalid_dimension", "by must be hall")
    start, end = _range(request)
    rows = who.visible(await store.halls())
    data = await figures.report_by_hall(store, rows, start, end)
    return web.json_response(
        {"from": start.isoformat(), "to": end.isoformat(), "by": "hall", "rows": data}
    )


@routes.post("/api/v1/catalog")
async def post_catalog(request: web.Request) -> web.Response:
    store = _store(request)
    who = await require(request, store, "city")
    data = await body(request, CatalogRequest)  # a JSON object, else 400/422
    catalog = {"services": data.services, "items": data.items}
    if isinstance(catalog["items"], list) and len(catalog["items"]) > MAX_CATALOG_ITEMS:
        raise ApiError(422, "invalid_catalog", f"at most {MAX_CATALOG_ITEMS} items")
    try:
        check_catalog(catalog)
    except CatalogRejected as e:
        entry = str(e).split(":", 1)[0]
        raise ApiError(422, "invalid_catalog", str(e), entry=entry) from None
    version = await store.publish_catalog(catalog, who.username, time.time())
    net = request.app[NETWORK]
    net.catalog_version = version
    net.broadcast({"type": "catalog", "version": version})
    return web.json_response({"version": version}, status=201)


@routes.get("/api/v1/catalog/deployed")
async def catalog_deployed(request: web.Request) -> web.Response:
    """Published against deployed, per hall (the dashboard's 服务事项统一 check)."""
    store = _store(request)
    who = await require(request, store)
    net = request.app[NETWORK]
    return web.json_response(
        {
            "published": net.catalog_version,
            "halls": [
                {"hall": h["id"], "deployed": h["catalog_version"]}
                for h in who.visible(net.rows.values())
            ],
        }
    )


@routes.get("/ws/city")
async def city_ws(request: web.Request) -> web.WebSocketResponse:
    store = _store(request)
    who = await principal(request, store)
    if who is None and request.query.get("token"):
        user = await store.session_user(token_hash(request.query["token"]), time.time())
        if user:
            from .auth import Principal

            who = Principal(user["username"], user["role"], user["scope"])
    if who is None:
        raise ApiError(401, "unauthorized", "log in first")
    return await request.app[NETWORK].serve(request, who)


# -- halls -------------------------------------------------------------------------------------


@routes.post("/api/v1/ingest")
async def ingest(request: web.Request) -> web.Response:
    """A hall's batch: events (idempotent by hall and sequence number), ratings, its live
    state and profile. Answers ``{"acked": N, "catalog_version": V}``: every event up to ``N``
    is stored and counted."""
    store = _store(request)
    token = token_of(request)
    hall_id = await store.hall_of_token(token_hash(token)) if token else None
    if hall_id is None:
        raise ApiError(401, "unauthorized", "a hall's push token is needed")
    req = await body(request, IngestRequest)
    if req.hall != hall_id:
        raise ApiError(403, "forbidden", f"this token belongs to hall {hall_id}, not {req.hall}")
    now = time.time()
    state = _state(req.state) if req.state is not None else None
    profile = _profile(req.profile) if req.profile is not None else None
    events = [_logged(e) for e in req.events]
    ratings = [_rating(r) for r in req.ratings]
    acked = await store.ingest(hall_id, events, now, state, profile, ratings)
    net = request.app[NETWORK]
    if hall_id not in net.rows:
        await net.refresh()
    net.pushed(hall_id, state, profile)
    return web.json_response({"acked": acked, "catalog_version": net.catalog_version})


_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def _logged(e: Any) -> Logged:
    """One event of a batch, checked by hand (a pydantic model per event costs more than the
    rest of ingest); only the fields a hall may share are kept, whatever a hall sends
    (``OUTBOX_FIELDS``)."""
    if not isinstance(e, dict):
        raise ApiError(422, "invalid_event", "each event must be an object")
    seq, day, type_, at = e.get("seq"), e.get("day"), e.get("type"), e.get("at")
    if type(seq) is not int or not 1 <= seq <= 2**62:
        raise ApiError(422, "invalid_event", "an event needs a positive integer seq")
    if not isinstance(day, str) or not _DAY.fullmatch(day):
        raise ApiError(422, "invalid_event", f"event {seq}: day must be YYYY-MM-DD")
    allowed = OUTBOX_FIELDS.get(type_) if isinstance(type_, str) else None
    if allowed is None:  # a type a hall keeps to itself: only its number is recorded
        return Logged(seq, day, "private", 0.0, {"type": "private"})
    assert isinstance(type_, str)  # it named allowed fields
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise ApiError(422, "invalid_event", f"event {seq}: at must be a number")
    data: dict[str, Any] = {"type": type_, "at": at}
    for k in allowed:
        if k == "at":
            continue
        v = day if k == "day" else e.get(k)
        if not isinstance(v, str) or not v or len(v) > 64:
            raise ApiError(422, "invalid_event", f"event {seq}: {k} must be a short text")
        data[k] = v
    return Logged(seq, day, type_, float(at), data)


def _rating(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r.get(k) for k in RATING_FIELDS}
    if not isinstance(out["id"], int) or not isinstance(out["level"], int):
        raise ApiError(422, "invalid_rating", "a rating needs an integer id and level")
    if not isinstance(out["day"], str) or not isinstance(out["at"], int | float):
        raise ApiError(422, "invalid_rating", f"rating {out['id']}: day and at are needed")
    return out


_STATE = {"at": float, "day": str, "open_now": bool, "waiting": int, "open_windows": int,
          "longest_wait_s": float, "catalog_version": int, "alarms_open": int}  # fmt: skip
_SERVICE_STATE = {"service": str, "waiting": int, "longest_wait_s": float, "open_windows": int,
                  "eta_s": float, "open": bool}  # fmt: skip


def _pick(raw: Any, shape: dict[str, type], where: str) -> dict[str, Any]:
    """The keys of ``shape`` with values of its types (None allowed); nothing else is kept."""
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid_state", f"{where} must be an object")
    out: dict[str, Any] = {}
    for key, kind in shape.items():
        v = raw.get(key)
        ok = v is None or (
            isinstance(v, int | float) and not isinstance(v, bool)
            if kind in (int, float)
            else isinstance(v, kind) and (not isinstance(v, str) or len(v) <= 64)
        )
        if not ok:
            raise ApiError(422, "invalid_state", f"{where}.{key} must be a {kind.__name__}")
        out[key] = v
    return out


def _state(raw: Any) -> dict[str, Any]:
    """A hall's live state, whitelisted like its events."""
    state = _pick(raw, _STATE, "state")
    services = raw.get("services") or []
    if not isinstance(services, list) or len(services) > 200:
        raise ApiError(422, "invalid_state", "state.services must be a list")
    state["services"] = [_pick(x, _SERVICE_STATE, "state.services[]") for x in services]
    state["followups"] = _pick(raw.get("followups") or {}, {"open": int, "overdue": int},
                               "state.followups")  # fmt: skip
    return state


def _shown(hall: dict[str, Any]) -> dict[str, Any]:
    """What the public pages show of a hall beyond its name: its English name, and the address
    visitors book at (only a plain http(s) address: it becomes a link on /near)."""
    name_en, url = hall.get("name_en"), hall.get("public_url")
    return {
        "name_en": name_en[:200] if isinstance(name_en, str) else "",
        "public_url": url
        if isinstance(url, str) and len(url) <= 200 and re.fullmatch(r"https?://[^\s\"'<>]+", url)
        else None,
    }


def _profile(raw: Any) -> dict[str, Any]:
    """A hall's profile, refused unless it makes a hall configuration the figures can use."""
    try:
        figures.hall_config(raw)
        return {
            "hall": {**{k: raw["hall"][k] for k in ("id", "name", "level", "timezone", "hours")},
                     **_shown(raw["hall"])},
            "service": [
                {**{k: s[k] for k in ("code", "prefix", "name", "name_en", "target_wait_min")},
                 "items": [{k: i[k] for k in ("code", "name", "name_en", "online")}
                           for i in s.get("items", [])]}
                for s in raw["service"]
            ],
            "window": [{"id": w["id"], "name": str(w.get("name") or "")[:64],
                        "services": list(w["services"])} for w in raw["window"]],
        }  # fmt: skip
    except (KeyError, TypeError, ValueError) as e:
        raise ApiError(422, "invalid_profile", f"profile: {e}") from None
