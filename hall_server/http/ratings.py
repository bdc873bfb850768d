"""好差评: rating a served ticket, the window's rating pad, managers' listing, satisfaction
and follow-up of bad ratings (``/api/v1/ratings*``, ``/api/v1/tickets/{token}/rating``)."""

from __future__ import annotations

import asyncio
from typing import Literal, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server import ratings as ratings_mod
from hall_server.core.access import Role
from hall_server.core.phone import MAX_TYPED
from hall_server.core.ratings import FOLLOWUP, REASONS
from hall_server.guard.credentials import pad as pad_device
from hall_server.guard.credentials import window_of_pad
from hall_server.http.common import (
    HALL,
    HUB,
    RATINGS,
    ApiError,
    body,
    device_of,
    principal,
    require,
    row_id,
)
from hall_server.http.params import day_param

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RatingRequest(_Body):
    token: str | None = Field(default=None, max_length=64)
    ticket: str | None = Field(default=None, max_length=64)
    level: int = Field(ge=1, le=5, strict=True)
    options: list[str] = Field(default=[], max_length=len(REASONS))
    comment: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(
        default=None,
        max_length=MAX_TYPED,
        description="with a bad rating (1-2) only, optional: a mainland mobile number for the "
        "follow-up (spaces, dashes, +86 allowed); kept sealed, shown masked, erased once the "
        "rating is marked contacted",
    )


class FollowUpRequest(_Body):
    followup: Literal["contacted", "resolved"]
    note: str | None = Field(default=None, max_length=1000)


@routes.post("/api/v1/ratings")
async def rate(request: web.Request) -> web.Response:
    req = await body(request, RatingRequest)
    pad = window_of_pad(device_of(request))
    if req.ticket and not req.token and pad is None:
        raise ApiError(
            401, "pad_credential_required", "rating by ticket id is for the window's paired pad"
        )
    out = await request.app[RATINGS].rate(
        req.level,
        token=req.token,
        ticket_id=None if req.token else req.ticket,
        options=req.options,
        comment=req.comment,
        pad_window=pad,
        phone=req.phone,
    )
    # the window's pad stops asking at once when the holder rated on their phone
    request.app[HUB].publish({"type": "rated", "window": out["window"], "ticket": out["ticket"]})
    return web.json_response(out, status=201)


@routes.get("/api/v1/ratings")
async def rating_list(request: web.Request) -> web.Response:
    """One day's ratings (``date``, default today), or a range (``from``, ``to``); with
    ``followup=open`` and no dates, every bad rating still waiting for an answer."""
    require(request, Role.MANAGER)
    try:
        max_level = int(request.query.get("max_level", "5"))
    except ValueError:
        max_level = 0
    if not 1 <= max_level <= 5:  # a huge number would overflow SQLite's integers: a 500
        raise ApiError(422, "invalid_max_level", "max_level must be 1..5")
    followup = request.query.get("followup")
    if followup is not None and followup not in FOLLOWUP:
        raise ApiError(422, "invalid_followup", "followup must be open, contacted or resolved")
    day = day_param(request)
    day_from, day_to = day_param(request, "from"), day_param(request, "to")
    if day is not None:
        day_from = day_to = day
    elif day_from is None and day_to is None and followup is None:
        day_from = day_to = request.app[HALL].today()
    out = request.app[RATINGS].listing(
        day_from, day_to, max_level, followup, request.query.get("window")
    )
    return web.json_response(out)


@routes.get("/api/v1/ratings/satisfaction")
async def rating_satisfaction(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    hall = request.app[HALL]
    by = request.query.get("by", "window")
    if by not in ("window", "staff", "service"):
        raise ApiError(422, "invalid_by", "by must be window, staff or service")
    by = cast(Literal["window", "staff", "service"], by)
    today = hall.today()
    day_from, day_to = day_param(request, "from", today), day_param(request, "to", today)
    out = await asyncio.to_thread(ratings_mod.satisfaction, hall.store.path, day_from, day_to, by)
    return web.json_response(out)


@routes.get("/api/v1/ratings/pad/{window}")
async def rating_pad(request: web.Request) -> web.Response:
    """The ticket this window just finished (its id rates it): for that window's pad (or its
    staff) only."""
    window = request.match_info["window"]
    if window not in request.app[HALL].windows_cfg:
        raise ApiError(404, "unknown_window", f"no window {window!r}", {"window": window})
    if device_of(request) != pad_device(window):
        who = principal(request)
        if who is None:
            raise ApiError(401, "pad_credential_required", f"only window {window}'s paired pad")
        if not who.may_act_on(window):
            raise ApiError(403, "forbidden", f"{who.username} works at window {who.window}")
    return web.json_response(request.app[RATINGS].pad(window))


@routes.get("/api/v1/ratings/{id}")
async def rating_one(request: web.Request) -> web.Response:
    """One rating with its follow-up and who revealed its phone number, when."""
    require(request, Role.MANAGER)
    rating_id = row_id(request, "unknown_rating", "rating")
    return web.json_response(request.app[RATINGS].one(rating_id))


@routes.patch("/api/v1/ratings/{id}")
async def follow_up(request: web.Request) -> web.Response:
    who = require(request, Role.MANAGER)
    rating_id = row_id(request, "unknown_rating", "rating")
    req = await body(request, FollowUpRequest)
    out = await request.app[RATINGS].follow_up(rating_id, req.followup, req.note, who.username)
    return web.json_response(out)


@routes.post("/api/v1/ratings/{id}/phone/reveal")
async def reveal_phone(request: web.Request) -> web.Response:
    """The full number of a 差评's visitor, for the manager who will call (a clerk may not);
    every opening is written to the audit log with who and when. Never cached."""
    who = require(request, Role.MANAGER)
    rating_id = row_id(request, "unknown_rating", "rating")
    out = await request.app[RATINGS].reveal_phone(rating_id, who.username)
    return web.json_response(out, headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/tickets/{token}/rating")
async def ticket_rating(request: web.Request) -> web.Response:
    return web.json_response(request.app[RATINGS].for_token(request.match_info["token"]))
