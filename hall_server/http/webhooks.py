"""Webhooks over HTTP (``/api/v1/webhooks*``): admins add and remove receivers; managers read
the delivery log, enable a receiver that was given up on, replay a range."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hall_server.core.access import Role
from hall_server.core.integration import TYPES, parse_types
from hall_server.http.common import HALL, WEBHOOKS, ApiError, body, require, row_id
from hall_server.webhooks import Webhooks

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class WebhookRequest(_Body):
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=len(TYPES))
    description: str | None = Field(default=None, max_length=200)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        return check_url(v)

    @field_validator("events")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return parse_types(v)


class ReplayRequest(_Body):
    """A range of outbox sequence numbers, or of times (ISO 8601), or both (the overlap)."""

    from_seq: int | None = Field(default=None, ge=1, lt=2**63)
    to_seq: int | None = Field(default=None, ge=1, lt=2**63)
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _some_range(self) -> ReplayRequest:
        if self.from_seq is None and self.since is None:
            raise ValueError("give from_seq or since")
        for t in (self.since, self.until):
            if t is not None and t.tzinfo is None:
                raise ValueError("times need their offset, e.g. 2026-11-29T08:00:00+08:00")
        return self


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the receiver's address must be an http:// or https:// URL")
    return url


def shown_url(url: str) -> str:
    """A receiver's address as staff see it: a password or a query may be a credential."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return f"{p.scheme}://{host}{p.path}" + ("?…" if p.query else "")


def receiver_view(hooks: Webhooks, r: dict[str, Any], backlog: int | None = None) -> dict[str, Any]:
    iso = hooks.iso
    state = r["state"]
    if state == "active" and r["failures"]:
        state = "failing"
    return {
        "id": r["id"],
        "url": shown_url(r["url"]),
        "events": r["events"],
        "description": r["description"],
        "created_at": iso(r["created_at"]),
        "state": state,
        "cursor": r["cursor"],
        "backlog": backlog,
        "replay": None
        if r["replay_next"] is None
        else {"next": r["replay_next"], "to": r["replay_to"]},
        "delivered": r["delivered"],
        "failures": r["failures"],
        "failing_since": iso(r["failing_since"]),
        "next_attempt_at": iso(r["next_attempt_at"]),
        "last_attempt_at": iso(r["last_attempt_at"]),
        "last_success_at": iso(r["last_success_at"]),
        "last_status": r["last_status"],
        "last_error": r["last_error"],
    }


def attempt_view(hooks: Webhooks, a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"],
        "seq": a["seq"],
        "message": a["msg"],
        "type": a["type"],
        "at": hooks.iso(a["at"]),
        "attempt": a["attempt"],
        "replay": bool(a["replay"]),
        "ok": bool(a["ok"]),
        "status": a["status"],
        "error": a["error"],
        "ms": a["ms"],
    }


async def views(hooks: Webhooks) -> list[dict[str, Any]]:
    def load() -> list[dict[str, Any]]:
        return [receiver_view(hooks, r, hooks.outbox.backlog(r)) for r in hooks.outbox.receivers()]

    return await asyncio.to_thread(load)


async def _receiver(request: web.Request) -> tuple[Webhooks, dict[str, Any]]:
    hooks = request.app[WEBHOOKS]
    rid = row_id(request, "unknown_webhook", "webhook")
    r = await asyncio.to_thread(hooks.outbox.receiver, rid)
    if r is None:
        raise ApiError(404, "unknown_webhook", f"no webhook {rid}")
    return hooks, r


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hooks = request.app[WEBHOOKS]
    return web.json_response({"webhooks": await views(hooks), "types": TYPES})


@routes.post("/api/v1/webhooks")
async def add_webhook(request: web.Request) -> web.Response:
    """The secret is in this answer and never again."""
    require(request, Role.ADMIN)
    req = await body(request, WebhookRequest)
    hooks = request.app[WEBHOOKS]
    rid, secret = await asyncio.to_thread(
        hooks.outbox.add, req.url, req.events, req.description, request.app[HALL].clock()
    )
    hooks.receivers_changed()
    r = await asyncio.to_thread(hooks.outbox.receiver, rid)
    assert r is not None
    return web.json_response({"webhook": receiver_view(hooks, r, 0), "secret": secret}, status=201)


@routes.get("/api/v1/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hooks, r = await _receiver(request)
    backlog = await asyncio.to_thread(hooks.outbox.backlog, r)
    return web.json_response({"webhook": receiver_view(hooks, r, backlog)})


@routes.delete("/api/v1/webhooks/{id}")
async def remove_webhook(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    hooks, r = await _receiver(request)
    await asyncio.to_thread(hooks.outbox.remove, r["id"])
    hooks.receivers_changed()
    return web.json_response({"removed": r["id"]})


@routes.get("/api/v1/webhooks/{id}/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    """The delivery log, newest first: ``?failed=1`` for failures only, ``limit`` (≤ 500) and
    ``before`` (an attempt id) to page back."""
    require(request, Role.MANAGER)
    hooks, r = await _receiver(request)
    q = request.query
    limit = _int(q.get("limit"), 100, 1, 500, "limit") or 100
    before = _int(q.get("before"), None, 1, 2**63 - 1, "before")
    failed = q.get("failed", "") in ("1", "true", "yes")
    rows = await asyncio.to_thread(hooks.outbox.attempts, r["id"], failed, limit, before)
    return web.json_response({"deliveries": [attempt_view(hooks, a) for a in rows]})


def _int(raw: str | None, default: int | None, low: int, high: int, name: str) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_query", f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ApiError(422, "invalid_query", f"{name} must be between {low} and {high}")
    return value


@routes.post("/api/v1/webhooks/{id}/replay")
async def replay(request: web.Request) -> web.Response:
    """Send a range again (by outbox ``seq`` or by time), before anything new."""
    require(request, Role.MANAGER)
    hooks, r = await _receiver(request)
    req = await body(request, ReplayRequest)
    got = await asyncio.to_thread(
        hooks.outbox.replay,
        r["id"],
        req.from_seq,
        req.to_seq,
        req.since.timestamp() if req.since else None,
        req.until.timestamp() if req.until else None,
    )
    assert got is not None
    hooks.wake(r["id"])
    return web.json_response({"from_seq": got[0], "to_seq": got[1], "messages": got[2]}, status=202)


@routes.post("/api/v1/webhooks/{id}/enable")
async def enable(request: web.Request) -> web.Response:
    """Try a disabled or failing receiver again now."""
    require(request, Role.MANAGER)
    hooks, r = await _receiver(request)
    await asyncio.to_thread(hooks.outbox.enable, r["id"])
    hooks.wake(r["id"])
    fresh = await asyncio.to_thread(hooks.outbox.receiver, r["id"])
    r = fresh or r
    return web.json_response({"webhook": receiver_view(hooks, r)})
