"""A hall's events folded into its tickets' rows: pure, no I/O.

The hub keeps, per hall, the same per-ticket facts the hall keeps in its ``tickets`` table
(minus everything personal), derived from the events in sequence order, so that the hall's own
measures (``hall_server.core.reports``) give the same figures on both sides.
The transitions mirror the hall's engine (``hall_server/engine.py``): a call sets the window and
``called_at``, a transfer ends the ticket and creates its successor at the original issue time,
closing a day expires whatever has not ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Columns of the hub's ``tickets`` table after ``hall_id``, in this order.
TICKET_COLUMNS = (
    "id",
    "day",
    "service",
    "status",
    "issued_at",
    "enqueued_at",
    "called_at",
    "started_at",
    "finished_at",
    "window_id",
    "recalls",
    "predecessor",
    "successor",
)
OPEN = ("waiting", "called", "serving")
_ENDS = {"ticket_finished": "done", "ticket_no_show": "no_show"}


@dataclass(frozen=True)
class Logged:
    """One event as the hub stores it: the hall's sequence number, business day and data."""

    seq: int
    day: str
    type: str
    at: float
    data: Mapping[str, Any]


def referenced(events: Iterable[Logged]) -> tuple[set[str], bool]:
    """The ticket ids a run of events touches, and whether it closes a day (which touches
    every ticket still open)."""
    ids, closes = set(), False
    for e in events:
        if "ticket_id" in e.data:
            ids.add(str(e.data["ticket_id"]))
        closes = closes or e.type == "day_closed"
    return ids, closes


def fold(events: Iterable[Logged], rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``events`` (in sequence order) to ``rows`` (the tickets they touch, by id, as
    stored; updated in place) and return the rows that changed."""
    changed: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.data
        if e.type == "day_closed":
            for tid, row in rows.items():
                if row["status"] in OPEN and row["day"] <= d.get("day", e.day):
                    row["status"], row["finished_at"] = "expired", e.at
                    changed[tid] = row
            continue
        tid = str(d.get("ticket_id", ""))
        if e.type == "ticket_issued":
            rows[tid] = changed[tid] = _new(tid, e.day, str(d["service"]), e.at, e.at)
            continue
        found = rows.get(tid)
        if found is None:  # an event of a ticket the hub never saw issued: nothing to attach it to
            continue
        row = found
        changed[tid] = row
        if e.type == "ticket_called":
            row.update(status="called", called_at=e.at, window_id=d.get("window"))
        elif e.type == "ticket_recalled":
            row["recalls"] = (row["recalls"] or 0) + 1
        elif e.type == "ticket_started":
            row.update(status="serving", started_at=e.at)
        elif e.type in _ENDS:
            row.update(status=_ENDS[e.type], finished_at=e.at)
        elif e.type == "ticket_cancelled":
            row.update(status="cancelled", finished_at=e.at)
        elif e.type == "ticket_transferred":
            sid = str(d["successor_id"])
            row.update(status="transferred", finished_at=e.at, successor=sid)
            succ = _new(sid, row["day"], str(d["service"]), row["issued_at"], e.at)
            succ["predecessor"] = tid
            rows[sid] = changed[sid] = succ
    return list(changed.values())


def _new(tid: str, day: str, service: str, issued: float, enqueued: float) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TICKET_COLUMNS)
    row.update(id=tid, day=day, service=service, status="waiting", issued_at=issued,
               enqueued_at=enqueued, recalls=0)  # fmt: skip
    return row
