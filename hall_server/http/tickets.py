"""Services and tickets for visitors and consoles: take a number, follow it, give it up, list
today's (``/api/v1/services``, ``/api/v1/tickets``)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.access import Role
from hall_server.core.engine import Status
from hall_server.core.identity import identity_from_card
from hall_server.guard.credentials import kiosk_of
from hall_server.guard.edge import LIMITER, TooMany
from hall_server.http.common import (
    APPOINTMENTS,
    HALL,
    ApiError,
    body,
    device_of,
    principal,
    require,
)

routes = web.RouteTableDef()
STATUSES = [s.value for s in Status]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class IdCard(_Body):
    """What a card reader gives; every field bounded (a name is a few characters on a card)."""

    id_number: str | None = Field(default=None, max_length=32)
    number: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    name_zh: str | None = Field(default=None, max_length=64)
    card_type: str | None = Field(default=None, max_length=4)
    birth: str | None = Field(default=None, max_length=8)


class TicketRequest(_Body):
    service: str | None = Field(default=None, min_length=1, max_length=64)
    kiosk: str | None = Field(default=None, max_length=64)
    appointment: str | None = Field(default=None, max_length=64)
    id_card: IdCard | None = None
    item: str | None = Field(default=None, min_length=1, max_length=32)


# -- visitors ---------------------------------------------------------------------------------


@routes.get("/api/v1/services")
async def services(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    out = hall.services_view()
    if request.query.get("items"):
        by_code = hall.services
        for s in out:
            s["items"] = [i.model_dump() for i in by_code[s["code"]].items]
    return web.json_response(out)


@routes.post("/api/v1/tickets")
async def issue_ticket(request: web.Request) -> web.Response:
    req = await body(request, TicketRequest)
    hall = request.app[HALL]
    kiosk = _issuer(request, req)
    identity = None
    if req.id_card is not None:
        card = req.id_card.model_dump(exclude_none=True)
        identity = identity_from_card(card, hall.identity_key, hall.today())
    ticket, checkin = await request.app[APPOINTMENTS].issue(
        req.service, kiosk=kiosk, identity=identity, code=req.appointment, item=req.item
    )
    return web.json_response({"ticket": hall.ticket_view(ticket), **checkin}, status=201)


def _issuer(request: web.Request, req: TicketRequest) -> str | None:
    """Who may take a ticket, and as which kiosk: a paired kiosk, only as itself (the card it
    just read and the appointment it checks in belong to the visitor standing at it), or staff,
    without an identity, an appointment or a kiosk's pending card."""
    if req.kiosk is not None and req.kiosk not in request.app[HALL].kiosks:
        raise ApiError(404, "unknown_kiosk", f"no kiosk {req.kiosk!r}")
    kiosk = kiosk_of(device_of(request))
    if kiosk is not None:
        if req.kiosk is not None and req.kiosk != kiosk:
            raise ApiError(403, "wrong_kiosk", f"this credential is kiosk {kiosk}'s")
        wait = request.app[LIMITER].hit("kiosk_ticket", kiosk)
        if wait is not None:
            raise TooMany(wait, "tickets at this kiosk")
        return kiosk
    if principal(request) is None:
        raise ApiError(
            401,
            "kiosk_credential_required",
            "tickets are taken at a paired kiosk (hall-server device add) or by staff",
        )
    if req.id_card is not None or req.appointment is not None or req.kiosk is not None:
        raise ApiError(
            403, "kiosk_only", "only a paired kiosk attaches an ID card or checks in an appointment"
        )
    return None


@routes.get("/api/v1/tickets/{token}")
async def ticket_progress(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    t = hall.engine.by_token_latest(request.match_info["token"])
    if t is not None:
        return web.json_response(hall.public_view(t))
    row = hall.store.ticket_by_token(request.match_info["token"])
    if row is None:
        raise ApiError(404, "unknown_ticket", "no ticket has this token")
    return web.json_response(
        {
            "number": row["number"],
            "service": row["service"],
            "status": row["status"],
            "position": None,
            "eta_s": None,
            "window": row["window"],
        }
    )


@routes.delete("/api/v1/tickets/{token}")
async def cancel_ticket(request: web.Request) -> web.Response:
    """The visitor gives up their place (from the progress page)."""
    hall = request.app[HALL]
    t = hall.engine.by_token_latest(request.match_info["token"])
    if t is None:
        raise ApiError(404, "unknown_ticket", "no live ticket has this token")
    await hall.cancel(t, "visitor")
    return web.json_response(hall.public_view(t))


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """Today's tickets, for consoles: optionally by ``service`` and ``status``."""
    require(request, Role.STAFF)
    hall = request.app[HALL]
    service, status = request.query.get("service"), request.query.get("status")
    if status and status not in STATUSES:
        raise ApiError(422, "invalid_status", f"status must be one of {', '.join(STATUSES)}")
    out = [
        hall.ticket_view(t)
        for t in hall.engine.tickets.values()
        if (not service or t.service == service) and (not status or t.status == status)
    ]
    out.sort(key=lambda t: t["issued_at"])
    return web.json_response(out)
