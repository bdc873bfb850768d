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


#: The most bytes a second of ``state`` messages the hall's boards get, all together: a
#: 100-window center's state is ~27 kB, and 500 boards four times a second would be 55 MB/s
#: (440 Mbit/s on the hall's network, and as many copies for the server to write).
STATE_BYTES_PER_S = 8_000_000
STATE_EVERY_MAX_S = 2.0


def board_listener(hub: Hub, state_every: float = 0.25) -> Listener:
    """Calls and recalls go out one by one, in order, at once. Queue lengths and window states
    go out as one ``state`` message at most every ``state_every`` seconds, and less often when
    that would send boards more than `STATE_BYTES_PER_S` (at most `STATE_EVERY_MAX_S` apart):
    a burst of tickets must not become a burst of large messages to a thousand boards. A town
    hall's few boards get one every quarter second; a center's 500, one every 1.7 s."""
    scheduled = False
    gap = state_every

    def flush(hall: Hall) -> None:
        nonlocal scheduled, gap
        scheduled = False
        if hub.clients:
            sent = hub.publish(state_message(hall))
            gap = min(STATE_EVERY_MAX_S, max(state_every, sent / STATE_BYTES_PER_S))

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
            asyncio.get_running_loop().call_later(gap, flush, hall)

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
