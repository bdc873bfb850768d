"""Who may take a ticket, and in which class: the hall's opening hours, the per-person limit
of live tickets, and priority by age (older visitors are served first, the card tells the
age). The hall asks these before the engine issues; no clock here: the caller says when."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from hall_server.core.engine import TERMINAL, EngineError, Priority, Ticket
from hall_server.core.identity import Identity


@dataclass(frozen=True)
class Admission:
    """The rules, from the hall's configuration."""

    spans: tuple[tuple[time, time], ...]  # opening spans, local time, end excluded
    hours: tuple[str, ...]  # the same as configured, for the message
    max_active_per_person: int
    priority_age: int


def is_open(rules: Admission, at: time) -> bool:
    return any(a <= at < b for a, b in rules.spans)


def check_open(rules: Admission, at: time) -> None:
    if not is_open(rules, at):
        hours = ", ".join(rules.hours)
        raise EngineError(
            "conflict",
            "hall_closed",
            f"the hall is closed; hours: {hours}",
            params={"hours": hours},
        )


def admit(
    rules: Admission,
    identity: Identity,
    service: str,
    tickets: Iterable[Ticket],
    priority: Priority,
) -> Priority:
    """A known person: refused while they hold ``max_active_per_person`` live tickets of the
    service (among ``tickets``, the day's); otherwise the class their ticket gets, priority
    from ``priority_age`` unless it already has a higher one (an appointment)."""
    live = [
        t
        for t in tickets
        if t.identity == identity.hash and t.service == service and t.status not in TERMINAL
    ]
    if len(live) >= rules.max_active_per_person:
        raise EngineError(
            "conflict",
            "already_waiting",
            f"this visitor already holds ticket {live[0].number} for this service",
            params={"number": live[0].number},
        )
    if (
        priority is Priority.NORMAL
        and identity.age is not None
        and identity.age >= rules.priority_age
    ):
        return Priority.PRIORITY
    return priority
