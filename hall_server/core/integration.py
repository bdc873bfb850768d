"""What the hall tells integrations: webhook message types, their data, the retry schedule.

A message is made from a durable fact (an event of the log, a rating, an alarm) and carries no
personal data: no names, no identity or contact values or their hashes, no ticket tokens (the
token opens the visitor's progress page), no free-text comments. Tickets are named by their
opaque id and their number, staff by nothing (the 好差评 record, which the national scheme
says must name the staff member rated, is the one exception, see ``haocha.py``).

Pure: rows in, dicts out; the caller brings the clock's answers and the hall's time zone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hall_server.core import haocha

if TYPE_CHECKING:
    from hall_server.config import HallConfig

Iso = Callable[[float | None], str | None]

#: Every message type a receiver may subscribe to, with what it says.
TYPES: dict[str, str] = {
    "ticket.issued": "a ticket was issued (kiosk, staff or appointment check-in)",
    "ticket.called": "a window called a ticket (again, for a recall: recall is true)",
    "ticket.finished": "a window finished serving a ticket",
    "ticket.no_show": "the visitor did not come after the recalls",
    "ticket.transferred": "a ticket continues in another service's queue or first at a window",
    "ticket.cancelled": "the visitor gave up their place",
    "rating.created": "a visitor rated the service (好差评)",
    "alarm.raised": "a queue passed its length or waiting-time alarm threshold",
    "haocha.rating": "a rating as the provincial 好差评 platform's record",
}

#: Engine event type → message type.
_EVENTS = {
    "ticket_issued": "ticket.issued",
    "ticket_called": "ticket.called",
    "ticket_recalled": "ticket.called",
    "ticket_finished": "ticket.finished",
    "ticket_no_show": "ticket.no_show",
    "ticket_transferred": "ticket.transferred",
    "ticket_cancelled": "ticket.cancelled",
}
EVENT_SOURCES = frozenset(_EVENTS)


@dataclass(frozen=True)
class Message:
    type: str
    at: float
    data: dict[str, Any]


def parse_types(raw: str | list[str]) -> list[str]:
    """``ticket.called,rating.created`` (or a list) → the types, checked; ``*`` is every type."""
    names = raw.split(",") if isinstance(raw, str) else raw
    out = [n.strip() for n in names if n.strip()]
    if out == ["*"]:
        return list(TYPES)
    if not out:
        raise ValueError("name at least one event type")
    for n in out:
        if n not in TYPES:
            raise ValueError(f"unknown event type {n!r} (known: {', '.join(TYPES)})")
    return list(dict.fromkeys(out))


def from_event(event: dict[str, Any], ticket: dict[str, Any] | None, iso: Iso) -> Message | None:
    """A message for an engine event (as logged), or None for events integrations do not get
    (days, windows, starts). ``ticket`` is the ticket's row, for its number and times."""
    kind = _EVENTS.get(event["type"])
    if kind is None:
        return None
    t = ticket or {}
    data: dict[str, Any] = {
        "ticket": event["ticket_id"],
        "number": event.get("number") or t.get("number"),
        "service": event.get("service") if kind == "ticket.issued" else t.get("service"),
    }
    match event["type"]:
        case "ticket_issued":
            data |= {
                "priority": event["priority"],
                "kiosk": event.get("kiosk"),
                "issued_at": iso(event["at"]),
            }
        case "ticket_called" | "ticket_recalled":
            data |= {
                "window": event["window"],
                "recall": event["type"] == "ticket_recalled",
                "issued_at": iso(t.get("issued_at")),
                "called_at": iso(event["at"]),
            }
        case "ticket_finished":
            called, started = t.get("called_at"), t.get("started_at")
            begin = started or called
            data |= {
                "window": event["window"],
                "issued_at": iso(t.get("issued_at")),
                "called_at": iso(called),
                "started_at": iso(started),
                "finished_at": iso(event["at"]),
                "wait_s": _seconds(t.get("issued_at"), called),
                "service_s": _seconds(begin, event["at"]),
            }
        case "ticket_no_show":
            data |= {"window": event["window"], "at": iso(event["at"])}
        case "ticket_transferred":
            data |= {
                "window": event["window"],
                "to_service": event["service"],
                # where it waits when sent to a window (never the colleague, never the note)
                "to_window": event.get("to_window"),
                "successor": event["successor_id"],
            }
        case "ticket_cancelled":
            data |= {"at": iso(event["at"])}
    return Message(kind, event["at"], data)


def _seconds(a: float | None, b: float | None) -> int | None:
    return round(b - a) if a is not None and b is not None else None


def from_rating(
    rating: dict[str, Any],
    ticket: dict[str, Any] | None,
    config: HallConfig,
    iso: Iso,
    text: Callable[[str], str],
) -> list[Message]:
    """``rating.created`` and the 好差评 platform's record of it."""
    options = json.loads(rating["options"] or "[]")
    data = {
        "rating": rating["id"],
        "ticket": rating["ticket_id"],
        "number": rating["number"],
        "service": rating["service"],
        "window": rating["window"],
        "level": rating["level"],
        "options": options,
        "source": rating["source"],
        "has_comment": bool(rating["comment"]),
        "followup_due_at": iso(rating["due_at"]),
        "rated_at": iso(rating["at"]),
    }
    record = haocha.record(rating, ticket, config, iso, text)
    return [
        Message("rating.created", rating["at"], data),
        Message("haocha.rating", rating["at"], record),
    ]


def from_alarm(alarm: dict[str, Any], iso: Iso) -> Message:
    return Message(
        "alarm.raised",
        alarm["raised_at"],
        {
            "alarm": alarm["id"],
            "service": alarm["service"],
            "kind": alarm["kind"],
            "value": alarm["value"],
            "threshold": alarm["threshold"],
            "unit": "people" if alarm["kind"] == "waiting" else "min",
            "raised_at": iso(alarm["raised_at"]),
        },
    )


def body(msg_id: str, message: Message, hall: str, iso: Iso) -> str:
    """The JSON body a receiver gets (and whose exact bytes are signed)."""
    return json.dumps(
        {
            "id": msg_id,
            "type": message.type,
            "at": iso(message.at),
            "hall": hall,
            "data": message.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def retry_delay(failures: int, base_s: float, cap_s: float, jitter: float) -> float:
    """Seconds before the next try after ``failures`` failures in a row: ``base_s`` doubling,
    capped at ``cap_s``, times ``jitter`` in [0.5, 1] so that receivers coming back are not hit
    by every hall at once."""
    exp = min(failures - 1, 60)
    return min(cap_s, base_s * 2.0**exp) * (0.5 + 0.5 * jitter)
