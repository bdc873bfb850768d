"""The API described for machines: an OpenAPI 3.1 document made from the handlers' own pydantic
request models and the answer models below, served at ``/api/v1/openapi.json``, and
``/api/docs`` rendering it with Swagger UI served by the hall itself (no asset from outside).

Why pydantic's own JSON Schema and a small table, not a framework: pydantic 2 already speaks
JSON Schema 2020-12, which is OpenAPI 3.1's schema language, and the handlers validate with
these very models; aiohttp has no kept OpenAPI generator for pydantic 2 (aiohttp-apispec was
last released in 2022 and reads marshmallow). ``OPERATIONS`` says, per route, who may call
it, its body, query, answers and errors; :func:`document` refuses to build when an ``/api/``
route is missing from it (or it names a route that does not exist), so the document cannot
silently fall behind the router. The fuzzing test (schemathesis) checks that the answers
match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from hall_server import __version__
from hall_server.core.access import Role
from hall_server.core.integration import TYPES
from hall_server.core.reports import DIMENSIONS, HEADLINE
from hall_server.http.appointments import BookRequest, CancelRequest, PhoneCodeRequest
from hall_server.http.auth import LoginRequest, PasswordChange
from hall_server.http.devices import SimulateRequest
from hall_server.http.ratings import FollowUpRequest, RatingRequest
from hall_server.http.tickets import TicketRequest
from hall_server.http.webhooks import ReplayRequest, WebhookRequest
from hall_server.http.windows import CallRequest, TransferRequest

routes = web.RouteTableDef()

# -- answers ----------------------------------------------------------------------------------


class _Answer(BaseModel):
    """Answers may carry more than described: clients ignore what they do not know."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Answer):
    code: str = Field(description="snake_case, stable: what clients branch on")
    message: str = Field(description="a sentence for people")


class Error(_Answer):
    """Every 4xx and 5xx answer under ``/api/``."""

    error: ErrorDetail


Status = Literal[
    "waiting", "called", "serving", "done", "no_show", "transferred", "cancelled", "expired"
]
Priority = Literal["normal", "priority", "appointment"]


class Ticket(_Answer):
    """A ticket as staff see it (the contract's ``Ticket``)."""

    id: str
    number: str
    service: str
    status: Status
    priority: Priority
    issued_at: str
    called_at: str | None
    finished_at: str | None
    window: str | None
    position: int | None
    eta_s: float | None
    token: str


class TicketAnswer(_Answer):
    ticket: Ticket


class IssuedTicket(_Answer):
    ticket: Ticket
    appointment_status: str | None = None


class PublicTicket(_Answer):
    """What the holder of a ticket's token may see: no personal data."""

    number: str
    service: str
    status: Status
    position: int | None
    eta_s: float | None
    window: str | None


class Service(_Answer):
    code: str
    name: str
    name_en: str
    prefix: str
    waiting: int
    eta_s: float | None
    open: bool


class Window(_Answer):
    id: str
    name: str
    services: list[str]
    status: Literal["open", "paused", "closed"]
    staffed: bool = Field(
        description="a clerk is logged in at it: only open, staffed windows count as capacity"
    )
    current: str | None


class Clerk(_Answer):
    username: str
    name: str
    staff_no: str = Field(description="工号, shown at the counter")


class Colleague(_Answer):
    """A window clerk one can transfer a ticket to, and where they work now."""

    username: str
    name: str
    staff_no: str = Field(description="工号")
    window: str | None = Field(description="the window they are logged in at now, if any")


class WindowClerk(_Answer):
    """Who works a window now, as its screen shows them (staff, never visitors)."""

    window: str
    clerk: Clerk | None


class WindowAnswer(_Answer):
    ticket: Ticket | None
    window: Window


class Health(_Answer):
    status: Literal["ok", "failing"]
    hall: str
    version: str


class Login(_Answer):
    token: str
    role: Literal["staff", "manager", "admin"]
    username: str
    window: str | None


class Me(_Answer):
    username: str
    role: Literal["staff", "manager", "admin"]
    window: str | None


class Ok(_Answer):
    ok: bool


class Appointment(_Answer):
    code: str
    service: str
    date: str
    slot: str


class Rating(_Answer):
    id: int
    ticket: str
    number: str
    level: int = Field(ge=1, le=5)
    options: list[str]
    followup: Literal["open", "contacted", "resolved"] | None
    phone_masked: str | None = Field(
        default=None, description="the 差评 visitor's number masked (138****5678), while kept"
    )
    phone_erased_at: str | None = Field(
        default=None, description="when the number was erased (followed up, or kept too long)"
    )


class PhoneReveal(_Answer):
    by: str = Field(description="the manager who opened the number")
    at: str


class ManagedRating(Rating):
    """A rating as a manager sees it."""

    phone_reveals: list[PhoneReveal] = Field(
        description="who opened the phone number in full and when, oldest first (the audit "
        "log); never the number itself"
    )


class RevealedPhone(_Answer):
    """A 差评's phone number in full: for a manager, audited, never cached."""

    rating: int
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    phone_masked: str
    revealed_by: str
    revealed_at: str


class RatingState(_Answer):
    rateable: bool
    rated: bool
    level: int | None


class Headline(_Answer):
    """A period's headline figures; times in seconds, shares 0..1, null without data."""

    served: int
    arrived: int
    wait_mean_s: float | None
    wait_p90_s: float | None
    service_level: float | None = Field(
        description="share of visits called within their service's target_wait_min"
    )
    satisfaction: float | None = Field(description="满意率: share of ratings 3-5")
    ratings: int
    no_show: int
    no_show_rate: float | None


class Compared(_Answer):
    key: str = Field(json_schema_extra={"enum": [key for key, _ in HEADLINE]})
    value: float | None
    previous: float | None
    change: float | None = Field(description="value - previous (shares in fractions)")
    direction: Literal["up", "down", "same"] | None
    good: bool | None = Field(description="whether the change is for the better")
    better: Literal["up", "down"]


class Period(_Answer):
    from_: str = Field(alias="from")
    to: str
    until: str | None = Field(
        description="while the range is not over: the moment the previous period is counted "
        "up to (today's counterpart at the same time of day)"
    )


class TrendDay(_Answer):
    day: str
    served: int
    wait_mean_s: float | None


class Summary(_Answer):
    """The range's headline figures beside the previous period of the same length."""

    from_: str = Field(alias="from")
    to: str
    previous: Period
    headline: Headline
    previous_headline: Headline
    figures: list[Compared]
    trend: list[TrendDay]


class Alarm(_Answer):
    id: int
    service: str
    kind: Literal["waiting", "wait"]
    raised_at: str


class PrintJob(_Answer):
    id: str
    kiosk: str
    state: str


class WebhookView(_Answer):
    id: int
    url: str = Field(description="without a password or query, which may be credentials")
    events: list[str]
    state: Literal["active", "failing", "disabled"]
    cursor: int
    backlog: int | None
    delivered: int
    failures: int
    last_error: str | None


class WebhookAnswer(_Answer):
    webhook: WebhookView


class WebhookAdded(_Answer):
    webhook: WebhookView
    secret: str = Field(description="whsec_BASE64: shown in this answer only")


class WebhookList(_Answer):
    webhooks: list[WebhookView]
    types: dict[str, str]


class Delivery(_Answer):
    id: int
    seq: int
    message: str
    type: str
    at: str
    attempt: int
    replay: bool
    ok: bool
    status: int | None
    error: str | None
    ms: float


class Deliveries(_Answer):
    deliveries: list[Delivery]


class Replay(_Answer):
    from_seq: int
    to_seq: int
    messages: int


class Removed(_Answer):
    removed: int


class BookableDay(_Answer):
    date: str
    weekday: int = Field(ge=1, le=7)


class AppointmentView(_Answer):
    """An appointment as its holder or staff see it: masked name and contact only."""

    code: str
    service: str
    date: str
    slot: str
    status: str
    name_masked: str | None
    contact_masked: str | None


class PadTicket(_Answer):
    id: str
    number: str
    finished_at: str | None


class Pad(_Answer):
    window: str
    window_name: str
    ticket: PadTicket | None


class Satisfaction(_Answer):
    count: int
    mean_level: float
    satisfaction_rate: float = Field(ge=0, le=1)
    bad: int
    levels: dict[str, int]


class LiveService(_Answer):
    service: str
    waiting: int
    longest_wait_s: float
    open_windows: int


class Live(_Answer):
    at: str
    services: list[LiveService]
    windows: list[Window]


class Device(_Answer):
    kiosk: str
    connected: bool
    printer: str | None
    reader: str | None
    last_seen: str | None


class Challenge(_Answer):
    challenge: str


class CodeSent(_Answer):
    sent: bool
    expires_in_s: int


class NewSession(_Answer):
    token: str
    username: str


class Anything(_Answer):
    """A JSON object (its fields are described in the README)."""


# -- the table ----------------------------------------------------------------------------------

Q = dict[str, Any]
#: a day; empty or absent means the default (today)
DAY: Q = {"type": "string", "anyOf": [{"format": "date"}, {"maxLength": 0}]}
TEXT: Q = {"type": "string"}
FLAG: Q = {"type": "string", "description": "1 or true for yes"}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    role: Role | None = None
    body: type[BaseModel] | None = None
    query: dict[str, Q] = field(default_factory=dict)
    answers: dict[int, Any] = field(default_factory=lambda: {200: Anything})
    errors: tuple[int, ...] = ()
    media: tuple[str, ...] = ("application/json",)
    #: a device credential (a paired kiosk's or pad's token) that stands in for a login
    device: str = ""
    tag: str = "hall"


V1 = "/api/v1"
STAFF, MANAGER, ADMIN = Role.STAFF, Role.MANAGER, Role.ADMIN
OPERATIONS: list[Op] = [
    Op("get", f"{V1}/health", "Is the hall up", answers={200: Health, 503: Health}),
    Op("get", f"{V1}/openapi.json", "This document", answers={200: Anything}),
    Op(
        "get",
        "/api/docs",
        "This document for people (Swagger UI)",
        answers={200: str},
        media=("text/html",),
    ),
    # auth
    Op(
        "post",
        f"{V1}/auth/login",
        "Log in: a token for Authorization: Bearer",
        body=LoginRequest,
        answers={200: Login},
        errors=(401, 403, 404, 429),
        tag="auth",
    ),
    Op("post", f"{V1}/auth/logout", "End the session", answers={200: Ok}, tag="auth"),
    Op("get", f"{V1}/auth/me", "Who is logged in", STAFF, answers={200: Me}, tag="auth"),
    Op(
        "post",
        f"{V1}/auth/password",
        "Change one's password (every other session ends)",
        STAFF,
        body=PasswordChange,
        answers={200: NewSession},
        errors=(503,),
        tag="auth",
    ),
    Op(
        "get",
        f"{V1}/challenge",
        "A proof-of-work challenge, asked for when bookings flood in",
        answers={200: Challenge},
        tag="appointments",
    ),
    Op(
        "post",
        f"{V1}/appointments/phone-code",
        "Send a booking code to a phone (halls with security.phone_proof)",
        body=PhoneCodeRequest,
        answers={202: CodeSent},
        errors=(409,),
        tag="appointments",
    ),
    # visitors and tickets
    Op(
        "get",
        f"{V1}/services",
        "Services with queue lengths and estimated waits",
        query={"items": FLAG},
        answers={200: list[Service]},
        tag="tickets",
    ),
    Op(
        "post",
        f"{V1}/tickets",
        "Take a ticket",
        body=TicketRequest,
        answers={201: IssuedTicket},
        errors=(401, 403, 404, 409),
        tag="tickets",
        device="a paired kiosk's device token, or a staff login",
    ),
    Op(
        "get",
        f"{V1}/tickets",
        "Today's tickets",
        STAFF,
        query={"service": TEXT, "status": {"type": "string", "enum": ["", *get_args(Status)]}},
        answers={200: list[Ticket]},
        tag="tickets",
    ),
    Op(
        "get",
        f"{V1}/tickets/{{token}}",
        "A ticket's progress (its holder)",
        answers={200: PublicTicket},
        errors=(404,),
        tag="tickets",
    ),
    Op(
        "delete",
        f"{V1}/tickets/{{token}}",
        "Give up one's place (its holder)",
        answers={200: PublicTicket},
        errors=(404, 409),
        tag="tickets",
    ),
    # windows
    Op(
        "get",
        f"{V1}/windows",
        "Windows and what they serve now",
        answers={200: list[Window]},
        tag="windows",
    ),
    Op(
        "get",
        f"{V1}/windows/{{window}}/clerk",
        "Who works a window now (its screen)",
        answers={200: WindowClerk},
        errors=(404,),
        tag="windows",
    ),
    Op(
        "post",
        f"{V1}/windows/{{window}}/call",
        "Call the next ticket (or one by number)",
        STAFF,
        body=CallRequest,
        answers={200: WindowAnswer, 204: None},
        errors=(404, 409),
        tag="windows",
    ),
    *(
        Op(
            "post",
            f"{V1}/windows/{{window}}/{action}",
            summary,
            STAFF,
            answers={200: WindowAnswer},
            errors=(404, 409),
            tag="windows",
        )
        for action, summary in (
            ("recall", "Announce the current ticket again"),
            ("start", "The visitor arrived: service begins"),
            ("finish", "The current ticket is done"),
            ("no-show", "The current ticket did not come"),
            ("pause", "Stop taking calls"),
            ("resume", "Take calls again"),
        )
    ),
    Op(
        "post",
        f"{V1}/windows/{{window}}/transfer",
        "Continue the current ticket in another service's queue, or first in a window's or a "
        "colleague's own line (exactly one of service, to_window, to_staff), with a staff-only "
        "note",
        STAFF,
        body=TransferRequest,
        answers={200: WindowAnswer},
        errors=(404, 409, 422),
        tag="windows",
    ),
    Op(
        "get",
        f"{V1}/staff",
        "The window clerks one can transfer to, and where each works now",
        STAFF,
        answers={200: list[Colleague]},
        tag="windows",
    ),
    # appointments
    Op(
        "get",
        f"{V1}/appointments/days",
        "Days that can be booked",
        answers={200: list[BookableDay]},
        tag="appointments",
    ),
    Op(
        "get",
        f"{V1}/appointments/slots",
        "A day's slots and places left",
        query={"service": TEXT | {"required": True}, "date": DAY | {"required": True}},
        answers={200: Anything},
        errors=(404,),
        tag="appointments",
    ),
    Op(
        "post",
        f"{V1}/appointments",
        "Book a slot",
        body=BookRequest,
        answers={201: Appointment},
        errors=(403, 404, 409, 428, 429),
        tag="appointments",
    ),
    Op(
        "get",
        f"{V1}/appointments",
        "A day's appointments",
        STAFF,
        query={"date": DAY},
        answers={200: list[AppointmentView]},
        tag="appointments",
    ),
    Op(
        "get",
        f"{V1}/appointments/{{code}}",
        "An appointment (its holder)",
        answers={200: AppointmentView},
        errors=(404,),
        tag="appointments",
    ),
    Op(
        "get",
        f"{V1}/appointments/{{code}}/qr.svg",
        "An appointment's QR code",
        answers={200: str},
        media=("image/svg+xml",),
        errors=(404, 429),
        tag="appointments",
    ),
    Op(
        "delete",
        f"{V1}/appointments/{{code}}",
        "Cancel an appointment",
        answers={200: AppointmentView},
        errors=(403, 404, 409),
        tag="appointments",
        body=CancelRequest,
    ),
    # ratings
    Op(
        "post",
        f"{V1}/ratings",
        "Rate a served ticket (好差评)",
        body=RatingRequest,
        answers={201: Rating},
        errors=(401, 403, 404, 409),
        tag="ratings",
        device="the ticket's token in the body, or the window's paired pad (by ticket id)",
    ),
    Op(
        "get",
        f"{V1}/ratings",
        "Ratings of a day or range; bad ones with their follow-up",
        MANAGER,
        query={
            "date": DAY,
            "from": DAY,
            "to": DAY,
            "followup": {"type": "string", "enum": ["open", "contacted", "resolved"]},
            "max_level": {"type": "integer", "minimum": 1, "maximum": 5},
            "window": TEXT,
        },
        answers={200: list[ManagedRating]},
        tag="ratings",
    ),
    Op(
        "get",
        f"{V1}/ratings/satisfaction",
        "Satisfaction per window, clerk or service",
        MANAGER,
        query={
            "from": DAY,
            "to": DAY,
            "by": {"type": "string", "enum": ["window", "staff", "service"]},
        },
        answers={200: list[Satisfaction]},
        tag="ratings",
    ),
    Op(
        "get",
        f"{V1}/ratings/pad/{{window}}",
        "What a window's evaluator pad shows",
        answers={200: Pad},
        errors=(404,),
        tag="ratings",
        device="the window's paired pad",
    ),
    Op(
        "get",
        f"{V1}/ratings/{{id}}",
        "One rating, with who revealed its phone number and when",
        MANAGER,
        answers={200: ManagedRating},
        errors=(404,),
        tag="ratings",
    ),
    Op(
        "patch",
        f"{V1}/ratings/{{id}}",
        "Follow a bad rating up",
        MANAGER,
        body=FollowUpRequest,
        answers={200: ManagedRating},
        errors=(404, 409),
        tag="ratings",
    ),
    Op(
        "post",
        f"{V1}/ratings/{{id}}/phone/reveal",
        "Reveal a bad rating's phone number (managers; audited)",
        MANAGER,
        answers={200: RevealedPhone},
        errors=(404, 409),
        tag="ratings",
    ),
    Op(
        "get",
        f"{V1}/tickets/{{token}}/rating",
        "May this ticket still be rated",
        answers={200: RatingState},
        errors=(404,),
        tag="ratings",
    ),
    # managers
    Op(
        "get",
        f"{V1}/metrics/windows",
        "Per-window figures of a day",
        MANAGER,
        query={"date": DAY},
        answers={200: list[Anything]},
        tag="reports",
    ),
    Op(
        "get",
        f"{V1}/metrics/live",
        "Now: queues, longest waits, open windows",
        MANAGER,
        tag="reports",
        answers={200: Live},
    ),
    Op(
        "get",
        f"{V1}/metrics/report",
        "A report over days",
        MANAGER,
        query={
            "from": DAY,
            "to": DAY,
            "by": {"type": "string", "enum": list(DIMENSIONS)},
        },
        tag="reports",
    ),
    Op(
        "get",
        f"{V1}/metrics/summary",
        "Headline figures beside the previous period, and the trend per day",
        MANAGER,
        query={"from": DAY, "to": DAY},
        answers={200: Summary},
        tag="reports",
    ),
    Op(
        "get",
        f"{V1}/metrics/report.{{fmt}}",
        "The report as CSV or Excel",
        MANAGER,
        query={
            "from": DAY,
            "to": DAY,
            "by": {"type": "string", "enum": list(DIMENSIONS)},
            "lang": {"type": "string", "description": "en for English headings"},
        },
        answers={200: str},
        errors=(404,),
        media=("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        tag="reports",
    ),
    Op(
        "get",
        f"{V1}/alarms",
        "Alarms of a day, or those still open",
        MANAGER,
        query={"date": DAY, "open": FLAG},
        answers={200: list[Alarm]},
        tag="reports",
    ),
    Op(
        "post",
        f"{V1}/alarms/{{id}}/ack",
        "Acknowledge an alarm",
        MANAGER,
        answers={200: Alarm},
        errors=(404, 409),
        tag="reports",
    ),
    # devices
    Op(
        "get",
        f"{V1}/devices",
        "Every kiosk's printer and reader",
        MANAGER,
        answers={200: list[Device]},
        tag="devices",
    ),
    Op(
        "get",
        f"{V1}/print-jobs",
        "Print jobs of today",
        STAFF,
        query={
            "kiosk": TEXT,
            "state": {"type": "string", "enum": ["queued", "printing", "done", "failed"]},
        },
        answers={200: list[PrintJob]},
        tag="devices",
    ),
    Op(
        "post",
        f"{V1}/print-jobs/{{job}}/reprint",
        "Print a ticket again",
        STAFF,
        answers={200: PrintJob},
        errors=(404, 409),
        tag="devices",
    ),
    Op(
        "get",
        f"{V1}/tickets/{{token}}/print",
        "How a ticket's printing went (its holder)",
        errors=(404,),
        tag="devices",
    ),
    Op(
        "post",
        f"{V1}/tickets/{{token}}/reprint",
        "Print one's ticket again (its holder)",
        errors=(404, 409, 429),
        tag="devices",
    ),
    Op(
        "post",
        f"{V1}/devices/{{kiosk}}/simulate",
        "Act on a simulated kiosk device",
        MANAGER,
        body=SimulateRequest,
        errors=(404, 409),
        tag="devices",
    ),
    Op(
        "get",
        f"{V1}/devices/{{kiosk}}/printed",
        "What a simulated printer printed",
        MANAGER,
        errors=(404, 409),
        tag="devices",
    ),
    # webhooks
    Op(
        "get",
        f"{V1}/webhooks",
        "Webhook receivers and the event types",
        MANAGER,
        answers={200: WebhookList},
        tag="webhooks",
    ),
    Op(
        "post",
        f"{V1}/webhooks",
        "Register a receiver (its secret is in this answer only)",
        ADMIN,
        body=WebhookRequest,
        answers={201: WebhookAdded},
        tag="webhooks",
    ),
    Op(
        "get",
        f"{V1}/webhooks/{{id}}",
        "A receiver",
        MANAGER,
        answers={200: WebhookAnswer},
        errors=(404,),
        tag="webhooks",
    ),
    Op(
        "delete",
        f"{V1}/webhooks/{{id}}",
        "Remove a receiver",
        ADMIN,
        answers={200: Removed},
        errors=(404,),
        tag="webhooks",
    ),
    Op(
        "get",
        f"{V1}/webhooks/{{id}}/deliveries",
        "A receiver's delivery log, newest first",
        MANAGER,
        query={
            "failed": FLAG,
            "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            "before": {"type": "integer", "minimum": 1},
        },
        answers={200: Deliveries},
        errors=(404,),
        tag="webhooks",
    ),
    Op(
        "post",
        f"{V1}/webhooks/{{id}}/replay",
        "Send a range again",
        MANAGER,
        body=ReplayRequest,
        answers={202: Replay},
        errors=(404,),
        tag="webhooks",
    ),
    Op(
        "post",
        f"{V1}/webhooks/{{id}}/enable",
        "Try a given-up receiver again",
        MANAGER,
        answers={200: WebhookAnswer},
        errors=(404,),
        tag="webhooks",
    ),
]

_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
PATH_PARAMS: dict[str, Q] = {
    "token": {"type": "string", "maxLength": 64},
    "window": {"type": "string", "maxLength": 16},
    "code": {"type": "string", "maxLength": 16},
    "id": {"type": "string", "maxLength": 24, "description": "a number"},
    "job": {"type": "string", "maxLength": 64},
    "kiosk": {"type": "string", "maxLength": 32},
    "fmt": {"type": "string", "enum": ["csv", "xlsx"]},
}
_MESSAGES = {
    400: "The body is not JSON",
    401: "No credential, or a bad one",
    403: "This role may not do it",
    404: "Unknown thing",
    409: "The state forbids it",
    422: "Wrong shape or value",
    408: "The body came too slowly",
    415: "Writes take a JSON body",
    428: "Solve the proof-of-work challenge first",
    429: "Too many requests: wait the seconds given (Retry-After)",
    503: "The store failed; the hall refuses work until restarted",
}


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """Every (method, path) under /api/ the router serves, paths as the document writes them."""
    out = set()
    for r in app.router.routes():
        path = r.resource.canonical if r.resource else ""
        if path.startswith("/api/") and r.method not in ("HEAD", "*"):
            out.add((r.method.lower(), _PARAM.sub(r"{\1}", path)))
    return out


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api/ route; refuses to describe a different API."""
    served = api_routes(app)
    action = f"{V1}/windows/{{window}}/{{action}}"
    described = {(op.method, op.path) for op in OPERATIONS}
    windows = {(m, p) for m, p in described if p.startswith(f"{V1}/windows/{{window}}/")}
    if ("post", action) in served:  # one route takes every window action by name
        served = (served - {("post", action)}) | windows
    if served != described:
        raise RuntimeError(
            f"openapi: not described: {sorted(served - described)}; "
            f"no such route: {sorted(described - served)}"
        )
    types: dict[tuple[str, str], Any] = {("Error", "serialization"): Error}
    for i, op in enumerate(OPERATIONS):
        if op.body is not None:
            types[(f"body{i}", "validation")] = op.body
        for status, t in op.answers.items():
            if t is not None and t is not str:
                types[(f"answer{i}-{status}", "serialization")] = t
    schemas, defs = TypeAdapter.json_schemas(
        [(key, key[1], TypeAdapter(t)) for key, t in types.items()],  # type: ignore[misc]
        ref_template="#/components/schemas/{model}",
    )
    error_ref = schemas[(("Error", "serialization"), "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for i, op in enumerate(OPERATIONS):
        params = [
            {"name": n, "in": "path", "required": True, "schema": PATH_PARAMS[n]}
            for n in _PARAM.findall(op.path)
        ]
        for name, q in op.query.items():
            schema = {k: v for k, v in q.items() if k != "required"}
            params.append(
                {"name": name, "in": "query", "required": bool(q.get("required")), "schema": schema}
            )
        responses: dict[str, Any] = {}
        for status, t in op.answers.items():
            if t is None:
                responses[str(status)] = {"description": "Nothing to say (no content)"}
            elif t is str:
                responses[str(status)] = {
                    "description": "The file",
                    "content": {m: {"schema": {"type": "string"}} for m in op.media},
                }
            else:
                key = (f"answer{i}-{status}", "serialization")
                schema = schemas[(key, "serialization")]
                responses[str(status)] = {
                    "description": "Done" if status < 300 else "Failing",
                    "content": {"application/json": {"schema": schema}},
                }
        errors = set(op.errors) | {503}
        if op.method in ("post", "put", "patch", "delete"):  # the edge: origin, JSON, limits
            errors |= {403, 415, 429}
        if op.body is not None:
            errors |= {408}
        if op.role is not None or op.device:
            errors |= {401, 403}
        if op.body is not None:
            errors |= {400, 422}
        if op.query or params:
            errors |= {422}
        if any(p["in"] == "path" for p in params):
            errors |= {404}
        for status in sorted(errors - set(op.answers)):
            responses[str(status)] = {
                "description": _MESSAGES[status],
                "content": {"application/json": {"schema": error_ref}},
            }
        operation: dict[str, Any] = {
            "operationId": f"{op.method}_{re.sub(r'[^a-z0-9]+', '_', op.path[8:])}".strip("_"),
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
        }
        if op.device:
            operation["security"] = [{"bearer": []}, {"session": []}]
            operation["x-hallq-credential"] = op.device
            operation["description"] = f"Needs {op.device}."
        elif op.role is None:
            operation["security"] = [{}]
        else:
            operation["security"] = [{"bearer": []}, {"session": []}]
            operation["x-hallq-role"] = op.role.value
            operation["description"] = f"Needs the {op.role.value} role or above."
        if op.body is not None:
            operation["requestBody"] = {
                "required": op.method != "post" or op.body is not CallRequest,
                "content": {
                    "application/json": {
                        "schema": schemas[((f"body{i}", "validation"), "validation")]
                    }
                },
            }
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hallq hall API",
            "version": __version__,
            "description": "The hall server's REST API (contract: api-v1.md). Errors are "
            '`{"error": {"code", "message"}}`. Webhook event types: ' + ", ".join(TYPES) + ".",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the token from POST /api/v1/auth/login",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "hallq_session"},
            },
        },
    }


#: filled on first use; the router is complete by then
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")


@routes.get(f"{V1}/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    doc = request.app[OPENAPI]
    if not doc:
        doc.update(document(request.app))
    return web.json_response(doc)


@routes.get("/api/docs")
async def docs(request: web.Request) -> web.Response:
    """Swagger UI, from the hall's own static files."""
    return web.Response(text=_DOCS_PAGE, content_type="text/html")


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hallq API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/common/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/common/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/common/vendor/swagger-ui/hallq-docs.js"></script>
</body></html>
"""
