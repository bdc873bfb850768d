"""The ticket lifecycle and the hall's queues as a pure state machine.

Theory of operation
-------------------
The engine holds the state of one hall for one business day: the services and their queues,
the windows and the ticket each one is handling. It does no I/O and reads no clock: every
command carries the instant ``at`` (seconds since the epoch, or since opening in a replay) and
the engine maps it to a business day with the ``day_of`` function it was built with.

A command (``issue``, ``call_next``, ``recall``...) is checked against the current state; if it
is allowed the engine produces one or more *events* and applies them, and returns them. If it
is not allowed it raises :class:`EngineError` and nothing changes. State is only ever changed by
:meth:`Engine.apply`, so feeding the same events to a fresh engine (after a restart, or in a
test) rebuilds exactly the same state. The store writes the events; the server answers only
once they are on disk.

A ticket moves through the statuses in :data:`TRANSITIONS`; the six statuses at the bottom of
that table are terminal, except that a clerk may take back a no-show within
``undo_no_show_s`` (the visitor was there after all): the ticket is called again at the same
window, and the undo stays in the log with who did it. A transfer ends a ticket as
``transferred`` and creates its *successor*: same number, same token, same issue time, so the
visitor keeps the paper they hold and their place in time. The successor goes to one of three
places (exactly one target per transfer):

- another **service** (never the ticket's own): its queue, at the place its issue time gives;
- a **window** (``to_window``): that window's own line, called by that window *before* its
  services' queues, first sent, first called. This is Qmatic's "transfer to counter" and what a
  政务服务中心 clerk means by 转到3号窗口: the visitor has waited once and been seen; the
  receiving clerk expects them now, and sending them to the back of an ordinary queue would
  make them wait twice;
- a **colleague** (``to_staff``, a login name = 工号): that person's own line, called first by
  whichever window they call at (the command's ``by``), so the ticket follows the person, or
  waits for them when they are away; any window may still call it by number.

A transfer may carry a short staff-only ``note`` (:data:`NOTE_MAX` characters) that stays on
the successor for the next clerk, with who sent it and from which window.

Calling order, for a window called at by clerk ``by``: first the line of tickets sent to that
clerk, then the line of tickets sent to that window (each in the order they were sent); then
its services are looked at in its order of preference and the first one with someone waiting
is served. Within that service ``priority`` and ``appointment``
tickets (the *high* classes, merged by issue time) go ahead of ``normal`` ones, but a window
makes at most ``max_priority_streak`` high calls in a row while a normal visitor waits, so
nobody starves. Within a class and a service, tickets leave in issue order.

A new business day closes the previous one first: whatever has not ended expires.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from hall_server.core.errors import DomainError


class Status(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Priority(StrEnum):
    NORMAL = "normal"
    PRIORITY = "priority"
    APPOINTMENT = "appointment"


class WindowStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


#: Why a window pauses, as halls record it: lunch (午休), a meeting (会议), answering enquiries
#: away from the queue (业务咨询), a short absence (临时离开), anything else (其他).
PAUSE_REASONS = ("lunch", "meeting", "consulting", "away", "other")

#: The longest transfer note (备注) a clerk may leave for the next one, in characters.
NOTE_MAX = 200


#: (status, action) -> new status. Anything not listed is refused with ``invalid_state``.
#: ``transfer`` moves the visitor to another service's queue, ``transfer_to_window`` and
#: ``transfer_to_staff`` to a window's or a colleague's own line (see the module docstring).
TRANSITIONS: dict[tuple[Status, str], Status] = {
    (Status.WAITING, "call"): Status.CALLED,
    (Status.WAITING, "cancel"): Status.CANCELLED,
    (Status.WAITING, "expire"): Status.EXPIRED,
    (Status.CALLED, "recall"): Status.CALLED,
    (Status.CALLED, "start"): Status.SERVING,
    (Status.CALLED, "finish"): Status.DONE,
    (Status.CALLED, "no_show"): Status.NO_SHOW,
    (Status.CALLED, "transfer"): Status.TRANSFERRED,
    (Status.CALLED, "transfer_to_window"): Status.TRANSFERRED,
    (Status.CALLED, "transfer_to_staff"): Status.TRANSFERRED,
    (Status.CALLED, "expire"): Status.EXPIRED,
    (Status.SERVING, "finish"): Status.DONE,
    (Status.SERVING, "transfer"): Status.TRANSFERRED,
    (Status.SERVING, "transfer_to_window"): Status.TRANSFERRED,
    (Status.SERVING, "transfer_to_staff"): Status.TRANSFERRED,
    (Status.SERVING, "expire"): Status.EXPIRED,
    (Status.NO_SHOW, "undo_no_show"): Status.CALLED,
}
TERMINAL = frozenset(
    {Status.DONE, Status.NO_SHOW, Status.TRANSFERRED, Status.CANCELLED, Status.EXPIRED}
)
HIGH_CLASSES = (Priority.PRIORITY, Priority.APPOINTMENT)


class EngineError(DomainError):
    """A command the current state does not allow."""


# --- configuration the engine needs (the server's config module builds these) ---------------


@dataclass(frozen=True)
class ServiceDef:
    code: str
    prefix: str


@dataclass(frozen=True)
class WindowDef:
    id: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    max_priority_streak: int = 2
    max_recalls: int = 2
    undo_no_show_s: float = 60.0


# --- the calling rule: the engine calls by it and the estimator plays it forward ------------


def takes_high(high_waiting: bool, normal_waiting: bool, streak: int, rules: Rules) -> bool:
    """Does a window call its next high-class ticket (priority, appointment) rather than a
    normal one? Yes, unless it already made ``max_priority_streak`` high calls in a row while
    a normal visitor waited."""
    return high_waiting and (not normal_waiting or streak < rules.max_priority_streak)


def own_lines(window: str, clerk: str | None) -> tuple[tuple[str, str], ...]:
    """The lines a window calls from before its services' queues, in order: what was sent to
    the clerk calling (``None``: nobody logged in), then what was sent to the window."""
    mine = (("staff", clerk),) if clerk else ()
    return (*mine, ("window", window))


def transfer_kind(to_window: str | None, to_staff: str | None) -> str:
    """The action of :data:`TRANSITIONS` a transfer is, by its target."""
    if to_window is not None:
        return "transfer_to_window"
    return "transfer" if to_staff is None else "transfer_to_staff"


def next_streak(took_high: bool, normal_waiting: bool, streak: int) -> int:
    """A window's high calls in a row while a normal visitor waited, after one more call."""
    return streak + 1 if took_high and normal_waiting else 0


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: float

    @property
    def type(self) -> str:
        return EVENT_NAMES[type(self)]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class DayOpened(Event):
    day: str


@dataclass(frozen=True)
class DayClosed(Event):
    day: str


@dataclass(frozen=True)
class TicketIssued(Event):
    ticket_id: str
    service: str
    number: str
    seq: int
    priority: str
    token: str
    kiosk: str | None = None
    identity: str | None = None
    name_masked: str | None = None
    appointment: str | None = None
    item: str | None = None  # the service item (事项) the visitor came for, when they said


@dataclass(frozen=True)
class TicketCalled(Event):
    ticket_id: str
    window: str
    by: str | None = None
    specific: bool = False


@dataclass(frozen=True)
class TicketRecalled(Event):
    ticket_id: str
    window: str
    by: str | None = None


@dataclass(frozen=True)
class TicketStarted(Event):
    ticket_id: str
    window: str
    by: str | None = None


@dataclass(frozen=True)
class TicketFinished(Event):
    ticket_id: str
    window: str
    by: str | None = None


@dataclass(frozen=True)
class TicketNoShow(Event):
    ticket_id: str
    window: str
    by: str | None = None


@dataclass(frozen=True)
class TicketNoShowUndone(Event):
    ticket_id: str
    window: str
    by: str | None = None


@dataclass(frozen=True)
class TicketTransferred(Event):
    """``window`` is where it left from, ``by`` who sent it; the successor waits in
    ``service``'s queue, or in ``to_window``'s or ``to_staff``'s own line (its service then
    stays the ticket's own). ``note`` is for staff only: it never leaves the hall."""

    ticket_id: str
    window: str
    service: str
    successor_id: str
    by: str | None = None
    to_window: str | None = None
    to_staff: str | None = None
    note: str | None = None

    @property
    def kind(self) -> str:
        return transfer_kind(self.to_window, self.to_staff)


@dataclass(frozen=True)
class TicketCancelled(Event):
    ticket_id: str
    by: str | None = None


@dataclass(frozen=True)
class WindowChanged(Event):
    window: str
    status: str
    by: str | None = None
    reason: str | None = None  # why a window paused (PAUSE_REASONS), for the window and reports


EVENT_NAMES: dict[type[Event], str] = {
    DayOpened: "day_opened",
    DayClosed: "day_closed",
    TicketIssued: "ticket_issued",
    TicketCalled: "ticket_called",
    TicketRecalled: "ticket_recalled",
    TicketStarted: "ticket_started",
    TicketFinished: "ticket_finished",
    TicketNoShow: "ticket_no_show",
    TicketTransferred: "ticket_transferred",
    TicketCancelled: "ticket_cancelled",
    WindowChanged: "window_changed",
    TicketNoShowUndone: "ticket_no_show_undone",
}
EVENT_TYPES = {name: cls for cls, name in EVENT_NAMES.items()}


def event_from_dict(data: dict[str, Any]) -> Event:
    cls = EVENT_TYPES[data["type"]]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# --- state -----------------------------------------------------------------------------------


@dataclass
class Ticket:
    id: str
    day: str
    service: str
    number: str
    priority: Priority
    issued_at: float
    order: int
    token: str
    enqueued_at: float
    kiosk: str | None = None
    identity: str | None = None
    name_masked: str | None = None
    appointment: str | None = None
    item: str | None = None
    status: Status = Status.WAITING
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    window: str | None = None
    recalls: int = 0
    called_by: str | None = None
    finished_by: str | None = None
    predecessor: str | None = None
    successor: str | None = None
    # a successor sent to a window's or a colleague's own line, and what came with it
    to_window: str | None = None
    to_staff: str | None = None
    note: str | None = None
    sent_by: str | None = None
    sent_from: str | None = None

    @property
    def personal(self) -> tuple[str, str] | None:
        """The own line it waits in, as ("window", id) or ("staff", login); None: a service's."""
        if self.to_window is not None:
            return ("window", self.to_window)
        return None if self.to_staff is None else ("staff", self.to_staff)

    @property
    def key(self) -> tuple[float, int]:
        """Queue order: issue time, then issue order (transfers keep both)."""
        return (self.issued_at, self.order)

    @property
    def high(self) -> bool:
        return self.priority in HIGH_CLASSES


@dataclass
class Window:
    id: str
    services: tuple[str, ...]
    status: WindowStatus = WindowStatus.OPEN
    current: str | None = None
    streak: int = 0
    pause_reason: str | None = None
    last_no_show: str | None = None  # the ticket a clerk may still take back (undo_no_show)


def is_serving(window: Window, staffed: Collection[str] | None) -> bool:
    """The one rule of capacity (estimates, the manager's page, the hub): a window serves when
    it is open (not paused, not closed), has services, and a clerk is at it: in `staffed`, the
    windows somebody is logged in at; ``None`` when nobody keeps track (every open window)."""
    return (
        window.status is WindowStatus.OPEN
        and bool(window.services)
        and (staffed is None or window.id in staffed)
    )


@dataclass
class Queue:
    """Waiting tickets of one service, one sorted list per class (high classes merged)."""

    high: list[tuple[float, int, str]] = field(default_factory=list)
    normal: list[tuple[float, int, str]] = field(default_factory=list)

    def lane(self, ticket: Ticket) -> list[tuple[float, int, str]]:
        return self.high if ticket.high else self.normal

    def add(self, ticket: Ticket) -> None:
        bisect.insort(self.lane(ticket), (*ticket.key, ticket.id))

    def remove(self, ticket: Ticket) -> None:
        lane = self.lane(ticket)
        i = bisect.bisect_left(lane, (*ticket.key, ticket.id))
        if i < len(lane) and lane[i][2] == ticket.id:
            del lane[i]

    def __len__(self) -> int:
        return len(self.high) + len(self.normal)

    def ahead_of(self, ticket: Ticket) -> int:
        """People called before this ticket if nothing else arrives (streaks ignored)."""
        mine = bisect.bisect_left(self.lane(ticket), (*ticket.key, ticket.id))
        return mine if ticket.high else mine + len(self.high)


@dataclass(frozen=True)
class Call:
    """One announcement, for the boards."""

    number: str
    window: str
    service: str
    recall: bool
    at: float
    ticket_id: str


# --- the engine ------------------------------------------------------------------------------


class Engine:
    """State of one hall; see the module docstring."""

    def __init__(
        self,
        services: Iterable[ServiceDef],
        windows: Iterable[WindowDef],
        rules: Rules | None = None,
        day_of: Callable[[float], str] = lambda at: "day",
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.services = {s.code: s for s in services}
        self.rules = rules or Rules()
        self.day_of = day_of
        self._ids = 0
        self.new_id = new_id or self._next_id
        self.windows = {
            w.id: Window(w.id, tuple(s for s in w.services if s in self.services)) for w in windows
        }
        self.day: str | None = None
        self.tickets: dict[str, Ticket] = {}
        self.by_token: dict[str, str] = {}
        self.by_number: dict[str, str] = {}
        self.queues: dict[str, Queue] = {code: Queue() for code in self.services}
        #: Own lines of tickets sent to a window or a colleague, ("window"|"staff", id) ->
        #: ticket ids in the order they were sent; a line is dropped when it empties.
        self.lines: dict[tuple[str, str], list[str]] = {}
        self.seq: dict[str, int] = dict.fromkeys(self.services, 0)
        self.order = 0
        self.recent_calls: deque[Call] = deque(maxlen=20)
        #: Tickets touched since `take_changed`, kept here (not looked up in ``tickets``) so a
        #: closed day can leave ``tickets`` while its last rows still reach the store.
        self.changed: dict[str, Ticket] = {}
        self._unreported: list[Event] = []

    def _next_id(self) -> str:
        self._ids += 1
        return f"t{self._ids}"

    # -- queries -------------------------------------------------------------------------------

    def ticket(self, ticket_id: str) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise EngineError("not_found", "unknown_ticket", "no such ticket today") from None

    def by_token_latest(self, token: str) -> Ticket | None:
        """The live end of a transfer chain for a visitor's token."""
        tid = self.by_token.get(token)
        return self.tickets.get(tid) if tid else None

    def window(self, window_id: str) -> Window:
        try:
            return self.windows[window_id]
        except KeyError:
            raise EngineError(
                "not_found",
                "unknown_window",
                f"no window {window_id!r}",
                params={"window": window_id},
            ) from None

    def service(self, code: str) -> ServiceDef:
        try:
            return self.services[code]
        except KeyError:
            raise EngineError("not_found", "unknown_service", f"no service {code!r}") from None

    def waiting(self, service: str) -> int:
        return len(self.queues[service])

    def position(self, ticket: Ticket) -> int | None:
        if ticket.status is not Status.WAITING:
            return None
        if ticket.personal is not None:
            return self.lines[ticket.personal].index(ticket.id)
        return self.queues[ticket.service].ahead_of(ticket)

    def waiting_tickets(self, service: str, limit: int | None = None) -> list[Ticket]:
        """Waiting tickets of a service in the order a window would most likely call them;
        the first `limit` only (a board's list), without walking thousands."""
        q = self.queues[service]
        keys = (*q.high[:limit], *q.normal[:limit])[:limit]
        return [self.tickets[tid] for _, _, tid in keys]

    def serving_windows(
        self, staffed: Collection[str] | None, service: str | None = None
    ) -> list[Window]:
        """The windows that serve now (`is_serving`), of one service or all."""
        return [
            w
            for w in self.windows.values()
            if (service is None or service in w.services) and is_serving(w, staffed)
        ]

    def open_windows(self, service: str) -> list[Window]:
        return [
            w
            for w in self.windows.values()
            if service in w.services and w.status is WindowStatus.OPEN
        ]

    def current(self, window_id: str) -> Ticket | None:
        w = self.window(window_id)
        return self.tickets[w.current] if w.current else None

    def take_changed(self) -> list[Ticket]:
        """Tickets touched since the last call, for the store's current-state table."""
        out = list(self.changed.values())
        self.changed = {}
        return out

    # -- commands ------------------------------------------------------------------------------

    def issue(
        self,
        service: str,
        at: float,
        token: str,
        priority: Priority = Priority.NORMAL,
        kiosk: str | None = None,
        identity: str | None = None,
        name_masked: str | None = None,
        appointment: str | None = None,
        item: str | None = None,
    ) -> list[Event]:
        svc = self.service(service)
        self._roll(at)
        seq = self.seq[service] + 1
        return self._commit(
            [
                TicketIssued(
                    at=at,
                    ticket_id=self.new_id(),
                    service=service,
                    number=f"{svc.prefix}{seq:03d}",
                    seq=seq,
                    priority=Priority(priority).value,
                    token=token,
                    kiosk=kiosk,
                    identity=identity,
                    name_masked=name_masked,
                    appointment=appointment,
                    item=item,
                )
            ]
        )

    def call_next(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        """Finish what the window holds, then call the next ticket (for clerk ``by`` at this
        window: see the calling order in the module docstring); no call if nobody waits."""
        w = self.window(window_id)
        self._roll(at)
        events: list[Event] = []
        if w.status is not WindowStatus.OPEN:
            raise EngineError("conflict", f"window_{w.status.value}", f"window is {w.status}")
        if w.current:
            events.append(TicketFinished(at=at, ticket_id=w.current, window=w.id, by=by))
        chosen = self._choose(w, by)
        if chosen is not None:
            events.append(TicketCalled(at=at, ticket_id=chosen, window=w.id, by=by))
        return self._commit(events)

    def call_ticket(
        self, window_id: str, number: str, at: float, by: str | None = None
    ) -> list[Event]:
        """Call one particular waiting ticket out of turn (the event records who did it)."""
        w = self.window(window_id)
        self._roll(at)
        events: list[Event] = []
        if w.status is WindowStatus.CLOSED:
            raise EngineError("conflict", "window_closed", "window is closed")
        tid = self.by_number.get(number.upper())
        if tid is None:
            raise EngineError("not_found", "unknown_ticket", f"no ticket {number} today")
        t = self.tickets[tid]
        self._check(t, "call")
        if w.current:
            events.append(TicketFinished(at=at, ticket_id=w.current, window=w.id, by=by))
        events.append(TicketCalled(at=at, ticket_id=tid, window=w.id, by=by, specific=True))
        return self._commit(events)

    def recall(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        """Announce again; past ``max_recalls`` the visitor is marked as not come."""
        t = self._in_hand(window_id, "recall", at)
        if t.recalls >= self.rules.max_recalls:
            return self._commit([TicketNoShow(at=at, ticket_id=t.id, window=window_id, by=by)])
        return self._commit([TicketRecalled(at=at, ticket_id=t.id, window=window_id, by=by)])

    def start(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        t = self._in_hand(window_id, "start", at)
        return self._commit([TicketStarted(at=at, ticket_id=t.id, window=window_id, by=by)])

    def finish(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        t = self._in_hand(window_id, "finish", at)
        return self._commit([TicketFinished(at=at, ticket_id=t.id, window=window_id, by=by)])

    def no_show(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        t = self._in_hand(window_id, "no_show", at)
        return self._commit([TicketNoShow(at=at, ticket_id=t.id, window=window_id, by=by)])

    def undo_no_show(self, window_id: str, at: float, by: str | None = None) -> list[Event]:
        """Take back this window's last no-show within ``undo_no_show_s``, when the window holds
        nobody else: the visitor is called again, here."""
        w = self.window(window_id)
        self._roll(at)
        t = self.tickets.get(w.last_no_show or "")
        if t is None or t.status is not Status.NO_SHOW:
            raise EngineError(
                "conflict", "nothing_to_undo", f"window {w.id} has no no-show to take back"
            )
        if t.finished_at is None or at - t.finished_at > self.rules.undo_no_show_s:
            raise EngineError(
                "conflict",
                "undo_too_late",
                f"a no-show can be taken back within {self.rules.undo_no_show_s:.0f} s",
                params={"number": t.number, "seconds": round(self.rules.undo_no_show_s)},
            )
        if w.current:
            raise EngineError(
                "conflict",
                "window_busy",
                f"window {w.id} holds {self.tickets[w.current].number}; finish it first",
                params={"number": self.tickets[w.current].number},
            )
        self._check(t, "undo_no_show")
        return self._commit([TicketNoShowUndone(at=at, ticket_id=t.id, window=w.id, by=by)])

    def transfer(
        self,
        window_id: str,
        service: str | None,
        at: float,
        by: str | None = None,
        *,
        to_window: str | None = None,
        to_staff: str | None = None,
        note: str | None = None,
    ) -> list[Event]:
        """Send the ticket in hand to another service, a window or a colleague (exactly one),
        with an optional note for the next clerk; see the module docstring for where it waits.
        The engine cannot know who the colleagues are: the caller checks ``to_staff``."""
        if sum(x is not None for x in (service, to_window, to_staff)) != 1:
            raise EngineError(
                "invalid", "transfer_one_target", "transfer to one service, window or colleague"
            )
        note = (note or "").strip() or None
        if note is not None and len(note) > NOTE_MAX:
            raise EngineError(
                "invalid",
                "note_too_long",
                f"a transfer note has at most {NOTE_MAX} characters",
                field="note",
                params={"max": NOTE_MAX},
            )
        if service is not None:
            self.service(service)
        if to_staff is not None and not to_staff:
            raise EngineError("not_found", "unknown_staff", "no colleague ''", params={"staff": ""})
        target = self.window(to_window) if to_window is not None else None
        t = self._in_hand(window_id, transfer_kind(to_window, to_staff), at)
        if service == t.service or to_window == window_id or (to_staff and to_staff == by):
            raise EngineError(
                "conflict",
                "transfer_to_self",
                f"{t.number} is already there",
                params={"number": t.number},
            )
        if target is not None and target.status is WindowStatus.CLOSED:
            raise EngineError(
                "conflict",
                "transfer_window_closed",
                f"window {target.id} is closed",
                params={"window": target.id},
            )
        event = TicketTransferred(
            at=at,
            ticket_id=t.id,
            window=window_id,
            service=service or t.service,
            successor_id=self.new_id(),
            by=by,
            to_window=to_window,
            to_staff=to_staff,
            note=note,
        )
        return self._commit([event])

    def cancel(self, ticket_id: str, at: float, by: str | None = None) -> list[Event]:
        self._roll(at)
        self._check(self.ticket(ticket_id), "cancel")
        return self._commit([TicketCancelled(at=at, ticket_id=ticket_id, by=by)])

    def set_window(
        self,
        window_id: str,
        status: WindowStatus,
        at: float,
        by: str | None = None,
        reason: str | None = None,
    ) -> list[Event]:
        """Pause, resume, open or close a window. Closing keeps the ticket in hand to finish.
        A pause may say why (one of :data:`PAUSE_REASONS`); nothing else takes a reason."""
        w = self.window(window_id)
        self._roll(at)
        status = WindowStatus(status)
        if w.status is status:
            raise EngineError("conflict", f"already_{status.value}", f"window is already {status}")
        if reason is not None and (
            status is not WindowStatus.PAUSED or reason not in PAUSE_REASONS
        ):
            raise EngineError(
                "invalid",
                "invalid_pause_reason",
                f"a pause's reason is one of {', '.join(PAUSE_REASONS)}; only a pause has one",
            )
        event = WindowChanged(at=at, window=w.id, status=status.value, by=by, reason=reason)
        return self._commit([event])

    def close_day(self, at: float) -> list[Event]:
        """End the business day: every ticket that has not ended expires."""
        if self.day is None:
            return []
        return self._commit([DayClosed(at=at, day=self.day)])

    def flush(self) -> list[Event]:
        """Day events applied by a command that was then refused, not yet handed out."""
        return self._commit([])

    # -- helpers for commands ------------------------------------------------------------------

    def _roll(self, at: float) -> None:
        """Enter the business day of ``at`` before deciding anything. The day's events are
        applied now and handed out with the next events returned, even if the command that
        noticed the new day is then refused."""
        day = self.day_of(at)
        if day == self.day:
            return
        events: list[Event] = []
        if self.day is not None:
            events.append(DayClosed(at=at, day=self.day))
        events.append(DayOpened(at=at, day=day))
        for e in events:
            self.apply(e)
        self._unreported.extend(events)

    def _check(self, t: Ticket, action: str) -> None:
        if (t.status, action) not in TRANSITIONS:
            raise EngineError(
                "conflict",
                "invalid_state",
                f"ticket {t.number} is {t.status}: cannot {action}",
                params={"number": t.number},
            )

    def _in_hand(self, window_id: str, action: str, at: float) -> Ticket:
        w = self.window(window_id)
        self._roll(at)
        if not w.current:
            raise EngineError(
                "conflict",
                "no_current_ticket",
                f"window {w.id} holds no ticket",
                params={"window": w.id},
            )
        t = self.tickets[w.current]
        self._check(t, action)
        return t

    def _choose(self, w: Window, by: str | None) -> str | None:
        """The calling rule (the estimator plays the same one forward)."""
        for key in own_lines(w.id, by):
            if self.lines.get(key):
                return self.lines[key][0]
        for code in w.services:
            q = self.queues[code]
            if not q:
                continue
            if takes_high(bool(q.high), bool(q.normal), w.streak, self.rules):
                return q.high[0][2]
            return q.normal[0][2]
        return None

    def _commit(self, events: list[Event]) -> list[Event]:
        for e in events:
            self.apply(e)
        out, self._unreported = self._unreported + events, []
        return out

    # -- the only place state changes ------------------------------------------------------------

    def apply(self, e: Event) -> None:
        handler = getattr(self, f"_on_{e.type}")
        handler(e)

    def _move(self, t: Ticket, action: str) -> None:
        self._check(t, action)
        t.status = TRANSITIONS[(t.status, action)]
        self.changed[t.id] = t

    def _enqueue(self, t: Ticket) -> None:
        if t.personal is None:
            self.queues[t.service].add(t)
        else:
            self.lines.setdefault(t.personal, []).append(t.id)

    def _dequeue(self, t: Ticket) -> None:
        if t.personal is None:
            self.queues[t.service].remove(t)
        elif t.id in self.lines.get(t.personal, ()):
            line = self.lines[t.personal]
            line.remove(t.id)
            if not line:
                del self.lines[t.personal]

    def _release(self, t: Ticket) -> None:
        if t.window and self.windows.get(t.window) and self.windows[t.window].current == t.id:
            self.windows[t.window].current = None

    def _on_day_opened(self, e: DayOpened) -> None:
        # Only the day's own tickets: what a restart, replaying from this event, rebuilds.
        self.tickets = {tid: t for tid, t in self.tickets.items() if t.day == e.day}
        self.by_token = {k: v for k, v in self.by_token.items() if v in self.tickets}
        self.by_number = {k: v for k, v in self.by_number.items() if v in self.tickets}
        self.order = len(self.tickets)
        self.day = e.day
        self.seq = dict.fromkeys(self.services, 0)
        self.recent_calls.clear()
        self.lines = {}
        for w in self.windows.values():
            w.status, w.current, w.streak = WindowStatus.OPEN, None, 0
            w.pause_reason = w.last_no_show = None

    def _on_day_closed(self, e: DayClosed) -> None:
        expired = {}
        for t in self.tickets.values():
            if t.status not in TERMINAL:
                self._move(t, "expire")
                t.finished_at = e.at
                expired[t.id] = t
        for q in self.queues.values():
            q.high.clear()
            q.normal.clear()
        self.lines = {}
        for w in self.windows.values():
            w.current = None
        # Ended tickets live on in the store; the engine keeps those this close ended, decided
        # by the event alone, so the live hall and a replay of its log keep the same ones.
        self.tickets = expired
        self.by_token.clear()
        self.by_number.clear()

    def _on_ticket_issued(self, e: TicketIssued) -> None:
        if self.day is None:
            self.day = self.day_of(e.at)
        self.order += 1
        t = Ticket(
            id=e.ticket_id,
            day=self.day,
            service=e.service,
            number=e.number,
            priority=Priority(e.priority),
            issued_at=e.at,
            order=self.order,
            token=e.token,
            enqueued_at=e.at,
            kiosk=e.kiosk,
            identity=e.identity,
            name_masked=e.name_masked,
            appointment=e.appointment,
            item=e.item,
        )
        self.tickets[t.id] = t
        self.by_token[t.token] = t.id
        self.by_number[t.number] = t.id
        self.seq[e.service] = max(self.seq.get(e.service, 0), e.seq)
        self._enqueue(t)
        self.changed[t.id] = t

    def _on_ticket_called(self, e: TicketCalled) -> None:
        t, w = self.tickets[e.ticket_id], self.windows[e.window]
        if not e.specific and t.personal is None:  # own lines do not count in the streak
            w.streak = next_streak(t.high, bool(self.queues[t.service].normal), w.streak)
        self._dequeue(t)
        self._move(t, "call")
        t.called_at, t.window, t.called_by = e.at, w.id, e.by
        w.current = t.id
        self.recent_calls.appendleft(Call(t.number, w.id, t.service, False, e.at, t.id))

    def _on_ticket_recalled(self, e: TicketRecalled) -> None:
        t = self.tickets[e.ticket_id]
        self._move(t, "recall")
        t.recalls += 1
        self.recent_calls.appendleft(Call(t.number, e.window, t.service, True, e.at, t.id))

    def _on_ticket_started(self, e: TicketStarted) -> None:
        t = self.tickets[e.ticket_id]
        self._move(t, "start")
        t.started_at = e.at

    def _end(self, e: TicketFinished | TicketNoShow, action: str) -> None:
        t = self.tickets[e.ticket_id]
        self._move(t, action)
        t.finished_at, t.finished_by = e.at, e.by
        self._release(t)

    def _on_ticket_finished(self, e: TicketFinished) -> None:
        self._end(e, "finish")

    def _on_ticket_no_show(self, e: TicketNoShow) -> None:
        self._end(e, "no_show")
        self.windows[e.window].last_no_show = e.ticket_id

    def _on_ticket_no_show_undone(self, e: TicketNoShowUndone) -> None:
        t = self.tickets[e.ticket_id]
        self._move(t, "undo_no_show")
        t.finished_at, t.finished_by, t.window = None, None, e.window
        w = self.windows[e.window]
        w.current, w.last_no_show = t.id, None

    def _on_ticket_transferred(self, e: TicketTransferred) -> None:
        t = self.tickets[e.ticket_id]
        self._move(t, e.kind)
        t.finished_at, t.finished_by, t.successor = e.at, e.by, e.successor_id
        self._release(t)
        s = Ticket(
            id=e.successor_id,
            day=t.day,
            service=e.service,
            number=t.number,
            priority=t.priority,
            issued_at=t.issued_at,
            order=t.order,
            token=t.token,
            enqueued_at=e.at,
            kiosk=t.kiosk,
            identity=t.identity,
            name_masked=t.name_masked,
            appointment=t.appointment,
            item=t.item,
            predecessor=t.id,
            to_window=e.to_window,
            to_staff=e.to_staff,
            note=e.note,
            sent_by=e.by,
            sent_from=e.window,
        )
        self.tickets[s.id] = s
        self.by_token[s.token] = s.id
        self.by_number[s.number] = s.id
        self._enqueue(s)
        self.changed[s.id] = s

    def _on_ticket_cancelled(self, e: TicketCancelled) -> None:
        t = self.tickets[e.ticket_id]
        self._dequeue(t)
        self._move(t, "cancel")
        t.finished_at = e.at

    def _on_window_changed(self, e: WindowChanged) -> None:
        w = self.windows[e.window]
        w.status = WindowStatus(e.status)
        w.pause_reason = e.reason if w.status is WindowStatus.PAUSED else None
