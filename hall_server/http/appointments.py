"""Online booking and its look-ups: ``/api/v1/appointments*`` (check-in happens when a ticket
is taken, ``tickets.py``)."""

from __future__ import annotations

import logging
from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.access import Role
from hall_server.core.phone import MOBILE as PHONE
from hall_server.guard.edge import LIMITER, TooMany
from hall_server.guard.phone_proof import PhoneProof
from hall_server.guard.pow import ProofOfWork
from hall_server.http.common import APPOINTMENTS, HALL, ApiError, body, principal, require
from hall_server.http.params import day_param, service_param
from hall_server.http.qr import qr_response

log = logging.getLogger(__name__)
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
    phone_code: str | None = Field(default=None, max_length=8)
    pow: ProofRequest | None = None


class ProofRequest(_Body):
    challenge: str = Field(max_length=100)
    nonce: str = Field(max_length=32)


class PhoneCodeRequest(_Body):
    phone: str = Field(min_length=1, max_length=20)


class CancelRequest(_Body):
    contact: str | None = Field(default=None, max_length=32)


PHONE_PROOF: web.AppKey[PhoneProof] = web.AppKey("phone_proof")
POW: web.AppKey[ProofOfWork] = web.AppKey("pow")


@routes.get("/api/v1/challenge")
async def challenge(request: web.Request) -> web.Response:
    """A proof-of-work challenge (asked for when bookings flood in, see ``guard/pow.py``)."""
    return web.json_response(request.app[POW].challenge())


def _proof_of_work(request: web.Request, proof: ProofRequest | None) -> None:
    """Past the hall-wide rate of anonymous bookings, each one must carry solved work."""
    if principal(request) is not None:
        return
    pow_ = request.app[POW]
    if proof is not None and pow_.check(proof.challenge, proof.nonce):
        return
    if request.app[LIMITER].hit("book_all", "all") is None and proof is None:
        return
    raise ApiError(
        428,
        "proof_of_work_required",
        "many bookings at once: solve the challenge and send it as pow",
        **pow_.challenge(),
    )


def _limit(request: web.Request, rule: str, key: str, what: str) -> None:
    wait = request.app[LIMITER].hit(rule, key)
    if wait is not None:
        raise TooMany(wait, what)


@routes.post("/api/v1/appointments/phone-code")
async def phone_code(request: web.Request) -> web.Response:
    """Send a booking code to a phone (halls with ``security.phone_proof``): a few per phone
    and hour, counted before anything is sent."""
    proof = request.app.get(PHONE_PROOF)
    if proof is None:
        raise ApiError(409, "phone_proof_off", "this hall does not send verification codes")
    req = await body(request, PhoneCodeRequest)
    if not PHONE.match(req.phone):
        raise ApiError(422, "invalid_phone", "a mobile number has 11 digits, 1 first")
    person, _ = request.app[APPOINTMENTS].person_of(None, req.phone)
    _limit(request, "sms", person, "codes for this phone")
    try:
        await proof.send_code(req.phone)
    except Exception:
        log.exception("could not send a verification code")
        raise ApiError(503, "sms_failed", "the code could not be sent; try again later") from None
    return web.json_response({"sent": True, "expires_in_s": 600}, status=202)


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
    _proof_of_work(request, req.pow)
    desk = request.app[APPOINTMENTS]
    person, _ = desk.person_of(req.id_number, req.phone)
    _limit(request, "book_contact", person, "bookings for this person")
    proof = request.app.get(PHONE_PROOF)
    verified = bool(
        proof and req.phone and req.phone_code and proof.check(req.phone, req.phone_code)
    )
    if proof is not None and not verified:
        raise ApiError(
            403, "phone_not_verified", "enter the code sent to your phone (phone-code first)"
        )
    out = await desk.book(
        req.service,
        req.date,
        req.slot,
        req.name,
        id_number=req.id_number,
        phone=req.phone,
        item=req.item,
        verified=verified,
    )
    return web.json_response(out, status=201)


@routes.get("/api/v1/appointments")
async def appointment_list(request: web.Request) -> web.Response:
    require(request, Role.STAFF)
    day = day_param(request, default=request.app[HALL].today())
    return web.json_response(request.app[APPOINTMENTS].listing(day))


@routes.get("/api/v1/appointments/{code}")
async def appointment(request: web.Request) -> web.Response:
    return web.json_response(request.app[APPOINTMENTS].lookup(request.match_info["code"]))


@routes.get("/api/v1/appointments/{code}/qr.svg")
async def appointment_qr(request: web.Request) -> web.Response:
    code = request.app[APPOINTMENTS].lookup(request.match_info["code"])["code"]
    return await qr_response(request, code)


@routes.delete("/api/v1/appointments/{code}")
async def cancel_appointment(request: web.Request) -> web.Response:
    contact = (await body(request, CancelRequest)).contact if request.body_exists else None
    staff = principal(request) is not None
    out = await request.app[APPOINTMENTS].cancel(request.match_info["code"], contact, staff)
    return web.json_response(out)
