"""The hall: the engine, made durable and live.

Every command runs on the engine in the event loop (one at a time, so two windows can never
get the same ticket), then its events wait in line for the writer, with what belongs with them
(a kiosk ticket's print job: companions say what). The writer commits whatever has gathered in
one transaction (group commit) in a thread of its own, and only then are the callers answered
and the listeners (board hub, printers, alarms) told. Small writes of other parts (a print
job's progress, a printer's state) ride the same commits (`Hall.save`): one writer, one fsync
per batch. If the disk refuses a
write the in-memory state can no longer be trusted: the hall stops accepting commands and the
process should be restarted, which rebuilds the state from the log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

from hall_server.config import HallConfig
from hall_server.core import admission
from hall_server.core.engine import (
    Engine,
    EngineError,
    Event,
    Priority,
    Status,
    Ticket,
    TicketIssued,
    Window,
    WindowStatus,
    own_lines,
)
from hall_server.core.estimate import Estimator
from hall_server.core.identity import Identity
from hall_server.store.db import Store, Write, ticket_row

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[Event], "Hall"], None]
#: Called with a command's events before they are queued: the writes that must be committed
#: with them (never one without the other), e.g. the print job of a kiosk ticket.
Companion = Callable[[Sequence[Event]], list[Write]]

SAVE_WITHIN_S = 0.1  # how long a `Hall.save` waits for a batch to ride before committing alone

WINDOW_ACTIONS = (
    *("call", "recall", "start", "finish", "no-show", "undo-no-show", "transfer", "pause"),
    "resume",
)


class HallUnavailable(Exception):
    """The store failed; nothing more is accepted until a restart."""


class Hall:
    def __init__(
        self,
        config: HallConfig,
        store: Store,
        clock: Callable[[], float] = time.time,
        identity_key: bytes | None = None,
    ) -> None:
        """`identity_key`: the hall's, from outside the database (``guard/keys.py``); without
        one (replays, tests of the queue) hashes are good for this process only."""
        self.config = config
        self.store = store
        self.clock = clock
        self.tz = config.tz
        self.services = config.services_by_code()
        self.windows_cfg = {w.id: w for w in config.window}
        self.kiosks = {k.id: k for k in config.kiosk}
        self.engine = Engine(
            **config.engine_args(), day_of=self.day_of, new_id=lambda: uuid.uuid4().hex
        )
        self.estimator = Estimator(config, clock)
        self.estimator.deferred = True  # played again after commits, not on their path
        self.admission = admission.Admission(
            tuple(config.opening_spans()),
            tuple(config.hall.hours),
            config.queue.max_active_per_person,
            config.hall.priority_age,
        )
        self.simulated_staff: frozenset[str] = frozenset()
        self.staffed: frozenset[str] = frozenset()
        self.clerks: dict[str, str] = {}  # window -> the clerk logged in at it
        self.estimator.set_serving(self.staffed)
        self.listeners: list[Listener] = []
        self.companions: list[Companion] = []
        self.pending_identity: dict[str, tuple[Identity, float]] = {}
        self.identity_key = identity_key if identity_key is not None else secrets.token_bytes(32)
        self._queue: list[
            tuple[list[Event], list[tuple[Any, ...]], list[Write], asyncio.Future[None]]
        ] = []
        self._later: list[tuple[list[Write], asyncio.Future[None]]] = []  # see save()
        self._later_timer: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hall-writer")
        self._writer: asyncio.Task[None] | None = None
        self.broken: BaseException | None = None
        self.restore()

    # -- life cycle ------------------------------------------------------------------------------

    def restore(self) -> None:
        """Rebuild the engine from the log: the state exactly as it was before the restart."""
        for e in self.store.events_of_last_day():
            self.engine.apply(e)
            self.estimator.learn([e], self.engine)  # it relearns the day as it happened
        self.engine.take_changed()

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="hall-writer")
        await self.roll_day()

    async def stop(self) -> None:
        if self._writer:
            while self._queue or self._later:
                await asyncio.sleep(0.01)
            self._writer.cancel()
            self._writer = None
        self._executor.shutdown(wait=True)

    async def roll_day(self) -> None:
        """Close yesterday if nothing has happened since midnight (called periodically)."""
        now = self.clock()
        if self.engine.day is not None and self.engine.day != self.day_of(now):
            await self._run(self.engine.close_day, now)

    # -- time --------------------------------------------------------------------------------

    def day_of(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.tz).date().isoformat()

    def local(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, self.tz)

    def iso(self, at: float | None) -> str | None:
        return None if at is None else self.local(at).isoformat(timespec="seconds")

    def is_open(self, at: float | None = None) -> bool:
        return admission.is_open(
            self.admission, self.local(self.clock() if at is None else at).time()
        )

    def set_staffed(self, windows: Iterable[str], clerks: Mapping[str, str] | None = None) -> None:
        """The windows a clerk is logged in at (and the demo's simulated clerks): only those,
        when open and not paused, count as capacity in estimates and on the manager's page.
        ``clerks`` (window -> login) says where a ticket sent to a colleague will be called."""
        self.staffed = frozenset(windows) | self.simulated_staff
        if clerks is not None:
            self.clerks = dict(clerks)
        self.estimator.set_serving(self.staffed, self.clerks)

    def serving_windows(self, service: str | None = None) -> list[Window]:
        """The windows that are capacity now, of one service or all (`is_serving`: open, not
        paused, and somebody logged in at it)."""
        return self.engine.serving_windows(self.staffed, service)

    # -- commands ----------------------------------------------------------------------------

    async def _run(self, command: Callable[..., list[Event]], *args: Any, **kw: Any) -> list[Event]:
        if self.broken:
            raise HallUnavailable("the hall's store failed; restart the server")
        events = command(*args, **kw)
        if not events:
            return events
        rows = [ticket_row(t) for t in self.engine.take_changed()]
        writes = []
        for companion in self.companions:  # the engine has moved: the events go to disk anyway
            try:
                writes += companion(events)
            except Exception:
                log.exception("companion %r failed", companion)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((events, rows, writes, fut))
        self._wake.set()
        await fut
        return events

    def save(self, *writes: Write) -> asyncio.Future[None]:
        """Commit these writes with the next batch, in the order asked, but do not ask for a
        commit of their own for `SAVE_WITHIN_S`: under load they ride the commits of tickets
        and calls (a print job's progress costs no fsync), when the hall is quiet they are on
        disk a moment later. The future is done when they are on disk. For writes no command
        answers on; a crash loses at most that moment of them (a print job's progress, which
        the kiosk's agent reports again when it reconnects)."""
        if self.broken:
            raise HallUnavailable("the hall's store failed; restart the server")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._later.append((list(writes), fut))
        if self._later_timer is None:
            self._later_timer = loop.call_later(SAVE_WITHIN_S, self._wake.set)
        return fut

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if self._later_timer is not None:
                self._later_timer.cancel()
                self._later_timer = None
                batch += [([], [], writes, fut) for writes, fut in self._later]
                self._later = []
            if not batch:
                continue
            events = [e for b in batch for e in b[0]]
            rows = [r for b in batch for r in b[1]]
            writes = [w for b in batch for w in b[2]]
            try:
                await loop.run_in_executor(self._executor, self.store.write, events, rows, writes)
            except Exception as exc:
                log.critical("store write failed; refusing further commands: %s", exc)
                self.broken = exc
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(HallUnavailable(str(exc)))
                continue
            if events:
                self.estimator.learn(events, self.engine)
                for listener in self.listeners:
                    try:
                        listener(events, self)
                    except Exception:
                        log.exception("listener %r failed", listener)
            for *_, fut in batch:
                if not fut.done():  # a caller may have stopped waiting
                    fut.set_result(None)
            # After the answers (they use the play there is): play again if it is due.
            loop.call_soon(self.estimator.refresh, self.engine)

    async def issue(
        self,
        service: str,
        kiosk: str | None = None,
        identity: Identity | None = None,
        priority: Priority = Priority.NORMAL,
        appointment: str | None = None,
        item: str | None = None,
    ) -> Ticket:
        """Issue a ticket; it is on disk when this returns. ``item`` (a code of one of the
        service's items) says what the visitor came for."""
        now = self.clock()
        self.engine.service(service)
        if item is not None and item not in {i.code for i in self.services[service].items}:
            raise EngineError(
                "invalid",
                "unknown_item",
                f"service {service!r} has no item {item!r}",
                field="item",
            )
        if kiosk is not None and kiosk not in self.kiosks:
            raise EngineError(
                "not_found", "unknown_kiosk", f"no kiosk {kiosk!r}", params={"kiosk": kiosk}
            )
        admission.check_open(self.admission, self.local(now).time())
        if identity is None and kiosk is not None:
            identity = self.take_pending_identity(kiosk, now)
        if identity is not None:
            tickets = self.engine.tickets.values()
            priority = admission.admit(self.admission, identity, service, tickets, priority)
        events = await self._run(
            self.engine.issue,
            service,
            now,
            token=secrets.token_urlsafe(18),
            priority=priority,
            kiosk=kiosk,
            identity=identity.hash if identity else None,
            name_masked=identity.name_masked if identity else None,
            appointment=appointment,
            item=item,
        )
        issued = next(e for e in events if isinstance(e, TicketIssued))
        return self.engine.tickets[issued.ticket_id]

    async def cancel(self, ticket: Ticket, by: str | None = None) -> None:
        """The visitor gives up their place; durable when this returns."""
        await self._run(self.engine.cancel, ticket.id, self.clock(), by)

    async def act(
        self, window: str, action: str, by: str | None = None, **kw: Any
    ) -> Ticket | None:
        """One window action by name (see WINDOW_ACTIONS); returns the ticket it concerns."""
        now = self.clock()
        e = self.engine
        before = e.window(window).current
        match action:
            case "call" if kw.get("number"):
                await self._run(e.call_ticket, window, kw["number"], now, by)
            case "call":
                await self._run(e.call_next, window, now, by)
            case "recall":
                await self._run(e.recall, window, now, by)
            case "start":
                await self._run(e.start, window, now, by)
            case "finish":
                await self._run(e.finish, window, now, by)
            case "no-show":
                await self._run(e.no_show, window, now, by)
            case "undo-no-show":
                await self._run(e.undo_no_show, window, now, by)
            case "transfer":
                target = {k: kw.get(k) for k in ("to_window", "to_staff", "note")}
                await self._run(e.transfer, window, kw.get("service"), now, by, **target)
            case "pause":
                reason = kw.get("reason")
                await self._run(e.set_window, window, WindowStatus.PAUSED, now, by, reason)
            case "resume":
                await self._run(e.set_window, window, WindowStatus.OPEN, now, by)
            case _:
                raise EngineError("not_found", "unknown_action", f"no window action {action!r}")
        current = e.window(window).current
        if action == "call":
            return e.tickets[current] if current else None
        tid = current or before
        return e.tickets.get(tid) if tid else None

    # -- identity at a kiosk -------------------------------------------------------------------

    def attach_identity(self, kiosk: str, identity: Identity, ttl_s: float = 120.0) -> None:
        """A card read at a kiosk belongs to the next ticket taken there, for a little while."""
        self.pending_identity[kiosk] = (identity, self.clock() + ttl_s)

    def take_pending_identity(self, kiosk: str, now: float) -> Identity | None:
        held = self.pending_identity.pop(kiosk, None)
        if held and held[1] >= now:
            return held[0]
        return None

    def today(self) -> date:
        return self.local(self.clock()).date()

    # -- views -------------------------------------------------------------------------------

    def ticket_view(self, t: Ticket) -> dict[str, Any]:
        """A ticket as staff see it (the contract's ``Ticket``)."""
        est = self.estimator.for_ticket(self.engine, t) if t.day == self.engine.day else None
        live = t.day == self.engine.day and t.id in self.engine.tickets
        return {
            "id": t.id,
            "number": t.number,
            "service": t.service,
            "status": t.status.value,
            "priority": t.priority.value,
            "issued_at": self.iso(t.issued_at),
            "called_at": self.iso(t.called_at),
            "started_at": self.iso(t.started_at),
            "finished_at": self.iso(t.finished_at),
            "window": t.window,
            "position": self.engine.position(t) if live else None,
            "eta_s": est.eta_s if est else None,
            "eta_range_s": [est.low_s, est.high_s] if est else None,
            "recalls": t.recalls,
            "kiosk": t.kiosk,
            "name_masked": t.name_masked,
            "appointment": t.appointment,
            **self.item_view(t),
            "predecessor": t.predecessor,
            **self.sent_view(t),
            "token": t.token,
        }

    def sent_view(self, t: Ticket) -> dict[str, Any]:
        """Where a transferred ticket was sent and what came with it, for staff only: the
        note never goes to the board, the phone, webhooks or the hub."""
        return {
            "to_window": t.to_window,
            "to_staff": t.to_staff,
            "note": t.note,
            "sent_by": t.sent_by,
            "sent_from": t.sent_from,
        }

    def headed_to(self, t: Ticket) -> str | None:
        """The window a ticket sent to a window or a colleague will be called at, as far as
        the hall knows now (a colleague who is not logged in: nobody knows yet)."""
        if t.to_window is not None:
            return t.to_window
        if t.to_staff is not None:
            return next((w for w, who in self.clerks.items() if who == t.to_staff), None)
        return None

    def item_view(self, t: Ticket) -> dict[str, Any]:
        """The item a ticket is for, by code and by name in both languages."""
        item = next((i for i in self.services[t.service].items if i.code == t.item), None)
        if item is None:  # after a transfer the item may belong to the first service
            item = next((i for s in self.config.service for i in s.items if i.code == t.item), None)
        return {
            "item": t.item,
            "item_name": item.name if item else None,
            "item_name_en": item.name_en if item else None,
        }

    def public_view(self, t: Ticket) -> dict[str, Any]:
        """What the holder of the token may see: no personal data."""
        est = self.estimator.for_ticket(self.engine, t)
        svc = self.services[t.service]
        return {
            "number": t.number,
            "service": t.service,
            "service_name": svc.name,
            "service_name_en": svc.name_en,
            **self.item_view(t),
            "status": t.status.value,
            "priority": t.priority.value,
            "position": self.engine.position(t),
            "eta_s": est.eta_s if est else None,
            "eta_range_s": [est.low_s, est.high_s] if est else None,
            "window": t.window,
            "window_name": self.windows_cfg[t.window].label if t.window else None,
            **self.sent_public(t),
            "issued_at": self.iso(t.issued_at),
            "called_at": self.iso(t.called_at),
        }

    def sent_public(self, t: Ticket) -> dict[str, Any]:
        """For the visitor: sent to a window or a person (never who, never the note), and the
        window it will be called at when the hall knows it."""
        if t.status is not Status.WAITING or t.personal is None:
            return {"sent": None}
        w = self.headed_to(t)
        return {
            "sent": {
                "kind": t.personal[0],
                "window": w,
                "window_name": self.windows_cfg[w].label if w else None,
                "window_name_en": (self.windows_cfg[w].name_en or f"Window {w}") if w else None,
            }
        }

    def services_view(self) -> list[dict[str, Any]]:
        now_open = self.is_open()
        out = []
        for s in self.config.service:
            est = self.estimator.for_new(self.engine, s.code)
            out.append(
                {
                    "code": s.code,
                    "name": s.name,
                    "name_en": s.name_en,
                    "prefix": s.prefix,
                    "waiting": self.engine.waiting(s.code),
                    "eta_s": est.eta_s,
                    "eta_range_s": [est.low_s, est.high_s],
                    "open": now_open and bool(self.engine.open_windows(s.code)),
                    "target_wait_min": s.target_wait_min,
                }
            )
        return out

    def windows_view(self) -> list[dict[str, Any]]:
        out = []
        for w in self.config.window:
            state = self.engine.windows[w.id]
            cur = self.engine.tickets[state.current] if state.current else None
            out.append(
                {
                    "id": w.id,
                    "name": w.label,
                    "name_en": w.name_en or f"Window {w.id}",
                    "services": list(w.services),
                    "status": state.status.value,
                    "staffed": w.id in self.staffed,
                    "pause_reason": state.pause_reason,
                    # tickets sent to this window or its clerk, called here first (numbers only)
                    "sent_waiting": sum(
                        len(self.engine.lines.get(k, ()))
                        for k in own_lines(w.id, self.clerks.get(w.id))
                    ),
                    "current": cur.number if cur else None,
                    "current_status": cur.status.value if cur else None,
                    "current_service": cur.service if cur else None,
                    "called_at": self.iso(cur.called_at) if cur else None,
                }
            )
        return out

    def call_view(self, number: str, window: str, service: str, recall: bool, at: float) -> dict:
        return {
            "type": "call",
            "number": number,
            "window": window,
            "window_name": self.windows_cfg[window].label,
            "service": service,
            "recall": recall,
            "at": self.iso(at),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything a board or console needs to draw itself from scratch."""
        calls = [
            self.call_view(c.number, c.window, c.service, c.recall, c.at)
            for c in self.engine.recent_calls
        ]
        return {
            "type": "snapshot",
            "hall": {"id": self.config.hall.id, "name": self.config.hall.name},
            "day": self.engine.day,
            "windows": self.windows_view(),
            "calls": calls,
            "services": self.services_view(),
            "waiting": {
                s.code: [t.number for t in self.engine.waiting_tickets(s.code, 50)]
                for s in self.config.service
            },
            "at": self.iso(self.clock()),
            "announce_repeat": self.config.announce.repeat,
        }
