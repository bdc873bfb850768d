"""Turns durable events into the live messages of boards, consoles and dashboards."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from hall_server.core.engine import Event, TicketCalled, TicketRecalled
from hall_server.hall import Hall, Listener
from hall_server.http.hub import Filter, Hub


def state_message(hall: Hall) -> dict[str, Any]:
    snap = hall.snapshot()
    return {
        "type": "state",
        "windows": snap["windows"],
        "services": snap["services"],
        "waiting": snap["waiting"],
        "at": snap["at"],
    }


def board_listener(hub: Hub, state_every: float = 0.25) -> Listener:
    """Calls and recalls go out one by one, in order, at once. Queue lengths and window states
    go out as one ``state`` message at most every ``state_every`` seconds: a burst of tickets
    must not become a burst of large messages to a thousand boards."""
    scheduled = False

    def flush(hall: Hall) -> None:
        nonlocal scheduled
        scheduled = False
        if hub.clients:
            hub.publish(state_message(hall))

    def on_events(events: Sequence[Event], hall: Hall) -> None:
        nonlocal scheduled
        for e in events:
            t = hall.engine.tickets.get(getattr(e, "ticket_id", ""))
            if t is None:
                continue
            if isinstance(e, TicketCalled | TicketRecalled):
                recall = isinstance(e, TicketRecalled)
                hub.publish(hall.call_view(t.number, e.window, t.service, recall, e.at))
        if not scheduled:
            scheduled = True
            asyncio.get_running_loop().call_later(state_every, flush, hall)

    return on_events


@functools.cache
def board_filter(window: str | None) -> Filter:
    """Boards never hear what is addressed to one kiosk (card reads, print progress) nor the
    manager's alarms; a window screen hears only its own calls. One filter per window (the
    hub asks each filter once per message, whatever the number of boards sharing it)."""

    def accepts(m: dict[str, Any]) -> bool:
        if "kiosk" in m or m.get("type") == "alarm":
            return False
        return window is None or m.get("type") != "call" or m.get("window") == window

    return accepts


def kiosk_filter(kiosk: str) -> Filter:
    """A kiosk hears the hall's queue lengths and heartbeats, and its own device messages."""
    return lambda m: m.get("type") in ("state", "heartbeat") or m.get("kiosk") == kiosk


LIVE_TYPES = frozenset({"alarm", "state", "call", "heartbeat"})
"""What the manager's dashboard hears."""
