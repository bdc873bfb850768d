"""Kiosk devices, server side: agent tokens and connections, print jobs, card reads.

A kiosk's printer and ID-card reader are driven by a `devices.agent.DeviceLoop`: on the kiosk
PC behind ``hall-devices`` (connected to ``/ws/agent`` with ``Authorization: Bearer TOKEN``,
the token from ``hall-server device add K``, stored here only as a SHA-256 hash), or inside this
server for kiosks whose ``[[kiosk]]`` names a ``printer`` or ``reader`` address. Both speak the
messages of ``devices/protocol.py``; this module does not care which.

Every ticket taken at a kiosk with a printer becomes a print job, kept in ``print_jobs``. The
ticket is valid whatever happens to the job. A job is sent to the kiosk once per attempt, and
the agent acknowledges it; after a reconnect the agent reports what became of its jobs, so a
job is never printed twice by accident: one that was acknowledged but is unknown to the agent
(it restarted) fails as ``lost``, one never acknowledged is sent again if still fresh, else it
fails as ``offline``. A failed job can be printed again by the ticket's holder
(``POST /api/v1/tickets/{token}/reprint``) or by staff (``POST /api/v1/print-jobs/{id}/reprint``).

Card reads come as ``Card.to_server_dict`` (over TLS, or inside this PC): the server hashes
the number with the hall's identity key, which never leaves it, and keeps the keyed hash,
masked name and age; the next ticket taken at that kiosk carries them
(`Hall.attach_identity`).

Live messages published on the hub (the kiosk page hears those with its ``kiosk``):

- ``{"type": "card", "kiosk": K, "name_masked": "张*丰", "age": 75, "priority": true}``: a card
  was read at K; never the number. ``{"type": "card_removed", "kiosk": K}`` when it expired
  unused, ``{"type": "card_rejected", "kiosk": K, "reason": "invalid_number"}`` for a card
  whose number fails its check.
- ``{"type": "print", "kiosk": K, "job": ID, "ticket": TICKET_ID, "number": "A012",
  "state": "queued|printing|done|failed", "reason": "" | "paper_out" | "paper_low" |
  "offline" | "error" | "io_error" | "lost" | "no_printer"}``: print progress.
- ``{"type": "device", "kiosk": K, "printer": STATE, "reader": STATE}``: a state changed;
  ``ok paper_out paper_low offline error`` (reader ``ok offline error``), null = not fitted.
- ``{"type": "printer", "kiosk": K, "state": STATE, "number": "A012"?}``: the kiosk page's
  summary of the same: the printer's state, with the number when that ticket's job failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from devices.agent import DeviceLoop
from devices.printer import PRINTER_STATES
from devices.protocol import (
    CardRead,
    DeviceState,
    Hello,
    JobReport,
    Print,
    TicketFields,
    Welcome,
    parse,
    to_dict,
)
from hall_server.core.engine import TERMINAL, Event, TicketIssued
from hall_server.core.estimate import minutes_range
from hall_server.core.identity import Identity, InvalidCard, identity_from_card
from hall_server.core.print_jobs import JOB_STATES, Job, check_reprint
from hall_server.hall import Hall, HallUnavailable
from hall_server.http.hub import Hub
from hall_server.i18n import translator
from hall_server.store import devices as store_devices
from hall_server.store.db import Write

log = logging.getLogger(__name__)

RESEND_S = 30.0  # an unacknowledged job older than this is not printed after a reconnect
CARD_TTL_S = 120.0  # how long a card read waits for the ticket it belongs to
_SIM_SETTINGS = {"timeout": 0.3, "settle": 0.05}  # the simulator answers at once


# -- state ----------------------------------------------------------------------------------------


class Link(Protocol):
    """A connection to one kiosk's device loop."""

    async def send(self, msg: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


@dataclass(eq=False)
class KioskDevices:
    kiosk: str
    name: str
    has_printer: bool | None = None  # None: not known yet (no agent seen since the start)
    has_reader: bool | None = None
    mode: str | None = None  # "local" (in this server) or "agent" (hall-devices)
    link: Link | None = None
    printer: str = "offline"
    printer_detail: str = "not connected"
    reader: str = "offline"
    reader_detail: str = "not connected"
    last_seen: float | None = None
    loop: DeviceLoop | None = None  # local kiosks
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def printer_view(self) -> str | None:
        return None if self.has_printer is False else self.printer

    def reader_view(self) -> str | None:
        return None if self.has_reader is False else self.reader


class LocalLink:
    """A device loop inside this server: messages are handed over as dicts."""

    def __init__(self, devices: DeviceHub, kd: KioskDevices, loop: DeviceLoop) -> None:
        self.devices, self.kd, self.loop = devices, kd, loop

    async def send(self, msg: dict[str, Any]) -> None:
        for reply in self.loop.handle(msg):
            await self.devices.receive(self.kd.kiosk, reply, self)

    async def close(self) -> None:
        pass


class DeviceHub:
    """Every kiosk's devices, their print jobs and card reads; a `Hall` listener."""

    def __init__(self, hall: Hall, hub: Hub, base_url: str = "") -> None:
        self.hall = hall
        self.hub = hub
        self.store = hall.store
        self.base_url = (hall.config.hall.public_url or base_url).rstrip("/")
        self.kiosks = {k.id: KioskDevices(k.id, k.name or k.id) for k in hall.config.kiosk}
        self.jobs: dict[str, Job] = {}
        self.by_ticket: dict[str, list[str]] = {}
        self._unsent: dict[str, Job] = {}  # by ticket: saved with it, sent after its commit
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        for row in store_devices.devices(self.store):
            kd = self.kiosks.get(row["kiosk"])
            if kd is not None:
                kd.last_seen = row["last_seen"]
                kd.has_printer = None if row["has_printer"] is None else bool(row["has_printer"])
                kd.has_reader = None if row["has_reader"] is None else bool(row["has_reader"])
        for kd in self.kiosks.values():
            if kd.has_printer is None and not store_devices.has_token(self.store, kd.kiosk):
                kd.has_printer = kd.has_reader = False
        day = self.hall.engine.day  # None before the hall's first event: no job yet
        for job in store_devices.jobs_of_day(self.store, day) if day else []:
            self._remember(job)
        for k in self.hall.config.kiosk:
            if k.printer or k.reader:
                await self._start_local(k)

    async def stop(self) -> None:
        links = [kd.link for kd in self.kiosks.values() if kd.link is not None]
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
        for kd in self.kiosks.values():
            for task in kd.tasks:
                task.cancel()
            if kd.loop is not None:
                kd.link = None
                # Print what is already queued, but do not hold the shutdown for long.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(3):  # not wait_for: keeps cancellation
                        await asyncio.to_thread(kd.loop.close)
        for task in self._tasks:
            task.cancel()

    async def _start_local(self, k: Any) -> None:
        kd = self.kiosks[k.id]
        settings: dict[str, Any] = dict(k.printer_options)
        if k.printer == "sim:":
            settings = {**_SIM_SETTINGS, **settings}
        try:
            loop = await asyncio.to_thread(
                DeviceLoop.open,
                k.id,
                k.printer,
                k.reader,
                printer_settings=settings,
                server_url=self.base_url,
                status_every=k.status_every,
            )
        except (ValueError, TypeError, OSError) as exc:
            log.error("kiosk %s: cannot open its devices: %s", k.id, exc)
            kd.mode, kd.has_printer, kd.has_reader = "local", bool(k.printer), bool(k.reader)
            kd.printer = kd.reader = "error"
            kd.printer_detail = kd.reader_detail = str(exc)
            return
        kd.loop = loop
        link = LocalLink(self, kd, loop)
        await self.connect(k.id, link, "local")
        await self.receive(k.id, loop.hello(), link)
        task = asyncio.create_task(loop.run(lambda m: self.receive(k.id, m, link)))
        task.add_done_callback(_log_failure)
        kd.tasks.add(task)

    # -- connections ---------------------------------------------------------------------------

    async def connect(self, kiosk: str, link: Link, mode: str) -> None:
        """A device loop for `kiosk` connected; it replaces any earlier connection."""
        kd = self.kiosks[kiosk]
        old, kd.link, kd.mode = kd.link, link, mode
        if old is not None:
            await old.close()
        kd.last_seen = time.time()
        await link.send(to_dict(Welcome(kiosk, self.hall.config.hall.public_url)))

    async def disconnect(self, kiosk: str, link: Link) -> None:
        await self._disconnect(self.kiosks[kiosk], link)

    async def _disconnect(self, kd: KioskDevices, link: Link) -> None:
        if kd.link is not link:
            return  # already replaced by a newer connection
        kd.link = None
        self._set_states(kd, "offline", "disconnected", "offline", "disconnected")
        self._spawn(self._expire_unsent(kd))

    async def _expire_unsent(self, kd: KioskDevices) -> None:
        """Jobs a kiosk never confirmed fail once it has stayed away too long to print them
        for a visitor who is still standing there."""
        await asyncio.sleep(RESEND_S)
        if kd.link is None:
            for job in self._jobs_of(kd.kiosk):
                if not job.finished:
                    self._update(job, "failed", "offline")

    # -- from the device loops -----------------------------------------------------------------

    async def receive(self, kiosk: str, msg: dict[str, Any], link: Link) -> None:
        kd = self.kiosks[kiosk]
        if kd.link is not link:
            return  # a replaced connection still talking
        kd.last_seen = time.time()
        kind = msg.get("type")
        try:
            m = parse(msg)
            if isinstance(m, Hello):
                await self._hello(kd, m)
            elif isinstance(m, DeviceState):
                self._device(kd, m)
            elif isinstance(m, JobReport):
                self._job_report(kd, m)
            elif isinstance(m, CardRead):
                self._card(kd, m.card)
            else:
                log.debug("kiosk %s: ignoring %r", kiosk, kind)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("kiosk %s: malformed %s message: %s", kiosk, kind, exc)

    async def _hello(self, kd: KioskDevices, msg: Hello) -> None:
        kd.has_printer, kd.has_reader = msg.printer, msg.reader
        self._save_device(kd)
        reported = {j.job for j in msg.jobs}
        for report in msg.jobs:
            self._job_report(kd, report)
        now = time.time()
        for job in self._jobs_of(kd.kiosk):
            if job.finished or job.id in reported:
                continue
            if job.acked >= job.attempt:
                self._update(job, "failed", "lost")  # may or may not have come out
            elif now - job.updated_at < RESEND_S:
                await self._send_job(kd, job)
            else:
                self._update(job, "failed", "offline")

    def _device(self, kd: KioskDevices, msg: DeviceState) -> None:
        printer, reader = msg.printer, msg.reader
        if printer is not None and printer not in PRINTER_STATES:
            raise ValueError(f"unknown printer state {printer!r}")
        if reader is not None and reader not in ("ok", "offline", "error"):
            raise ValueError(f"unknown reader state {reader!r}")
        self._set_states(
            kd,
            printer or "offline",
            msg.printer_detail,
            reader or "offline",
            msg.reader_detail,
        )

    def _set_states(
        self, kd: KioskDevices, printer: str, p_detail: str, reader: str, r_detail: str
    ) -> None:
        changed = (printer, reader) != (kd.printer, kd.reader)
        printer_changed = printer != kd.printer
        kd.printer, kd.printer_detail, kd.reader, kd.reader_detail = (
            printer,
            p_detail,
            reader,
            r_detail,
        )
        if not changed:
            return
        self._save_device(kd)
        self.hub.publish(
            {
                "type": "device",
                "kiosk": kd.kiosk,
                "printer": kd.printer_view(),
                "reader": kd.reader_view(),
            }
        )
        if printer_changed and kd.has_printer is not False:
            self.hub.publish({"type": "printer", "kiosk": kd.kiosk, "state": printer})

    def _job_report(self, kd: KioskDevices, report: JobReport) -> None:
        job = self.jobs.get(report.job)
        if job is None or job.kiosk != kd.kiosk:
            return  # from before a server restart that lost it, or not this kiosk's
        attempt, state = report.attempt, report.state
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}")
        if attempt < job.attempt:
            return  # about an earlier attempt
        job.acked = max(job.acked, attempt)
        reason = report.reason[:32]
        if (state, reason) != (job.state, job.reason):
            self._update(job, state, reason)
        else:
            self._save_job(job)

    def _card(self, kd: KioskDevices, card: dict[str, Any]) -> None:
        keys = ("card_type", "id_number", "name", "birth")
        fields = {k: str(card[k])[:64] for k in keys if card.get(k)}
        try:
            if card.get("valid_check_digit") is False:
                raise InvalidCard("invalid_number", "check digit")
            # hashed here, with the key no kiosk holds; the number is not kept
            identity = identity_from_card(fields, self.hall.identity_key, self.hall.today())
        except InvalidCard:
            log.warning("kiosk %s: a card with an invalid number was refused", kd.kiosk)
            self.hub.publish(
                {"type": "card_rejected", "kiosk": kd.kiosk, "reason": "invalid_number"}
            )
            return
        age = identity.age
        self.hall.attach_identity(kd.kiosk, identity, CARD_TTL_S)
        priority = age is not None and age >= self.hall.config.hall.priority_age
        self.hub.publish(
            {
                "type": "card",
                "kiosk": kd.kiosk,
                "name_masked": identity.name_masked,
                "age": age,
                "priority": priority,
            }
        )
        asyncio.get_running_loop().call_later(CARD_TTL_S + 0.5, self._card_expired, kd, identity)

    def _card_expired(self, kd: KioskDevices, identity: Identity) -> None:
        held = self.hall.pending_identity.get(kd.kiosk)
        if held is not None and held[0] is identity and held[1] < self.hall.clock():
            del self.hall.pending_identity[kd.kiosk]
            self.hub.publish({"type": "card_removed", "kiosk": kd.kiosk})

    # -- print jobs ----------------------------------------------------------------------------

    def companion(self, events: Sequence[Event]) -> list[Write]:
        """Hall companion: every ticket taken at a kiosk with a printer gets its print job,
        saved in the ticket's own transaction (a ticket answered 201 has its job on disk, and
        no job is on disk without its ticket). It is sent once that commit is done."""
        writes = []
        for e in events:
            if not isinstance(e, TicketIssued) or e.kiosk is None:
                continue
            kd = self.kiosks.get(e.kiosk)
            if kd is None or kd.has_printer is False:
                continue
            ticket = self.hall.engine.tickets.get(e.ticket_id)
            if ticket is None:
                continue
            now = time.time()
            job = Job(
                id=uuid.uuid4().hex,
                day=ticket.day,
                kiosk=e.kiosk,
                ticket_id=ticket.id,
                number=ticket.number,
                service=ticket.service,
                payload=self._ticket_fields(ticket),
                created_at=now,
                updated_at=now,
            )
            self._unsent[ticket.id] = job
            writes.append(store_devices.job_write(job))
        return writes

    def listener(self, events: Sequence[Event], hall: Hall) -> None:
        """Hall listener: the print jobs of the tickets just committed go to their kiosks."""
        for e in events:
            if not isinstance(e, TicketIssued):
                continue
            job = self._unsent.pop(e.ticket_id, None)
            if job is None:
                continue
            if self.jobs and next(iter(self.jobs.values())).day != job.day:
                self.jobs.clear()  # a new day: yesterday's jobs can no longer be reprinted
                self.by_ticket.clear()
            self._remember(job)
            self._publish_job(job)
            kd = self.kiosks[job.kiosk]
            if kd.link is None:
                self._update(job, "failed", "offline")
            else:
                self._spawn(self._send_job(kd, job))

    def _ticket_fields(self, ticket: Any) -> dict[str, Any]:
        hall = self.hall
        est = hall.estimator.for_ticket(hall.engine, ticket)
        t = translator("zh")  # the printed ticket is Chinese (GB18030 printers)
        eta = ""
        if est is not None:
            low, high = minutes_range([est.low_s, est.high_s])
            eta = t("ticket.eta", low=low, high=high)
        priority = ticket.priority.value
        footer = t(f"ticket.footer.{priority}") if priority in ("priority", "appointment") else ""
        return {
            "hall_name": hall.config.hall.name,
            "service_name": hall.services[ticket.service].name,
            "item_name": hall.item_view(ticket)["item_name"] or "",
            "number": ticket.number,
            "ahead": hall.engine.position(ticket) or 0,
            "eta_text": eta,
            "issued_at_text": hall.local(ticket.issued_at).strftime("%Y-%m-%d %H:%M"),
            "qr_path": f"/t/{ticket.token}",
            "footer": footer,
        }

    async def _send_job(self, kd: KioskDevices, job: Job) -> None:
        if kd.link is not None:
            await kd.link.send(to_dict(Print(job.id, job.attempt, TicketFields(**job.payload))))

    async def reprint(self, job: Job, *, failed_only: bool) -> Job:
        """Print a job again at its kiosk (`check_reprint` says when that makes sense)."""
        ticket = self.hall.engine.tickets.get(job.ticket_id)
        kd = self.kiosks[job.kiosk]
        live = ticket is not None and ticket.status not in TERMINAL
        check_reprint(
            job, failed_only=failed_only, ticket_live=live, kiosk_online=kd.link is not None
        )
        job.attempt += 1
        self._update(job, "queued", "")
        await self._send_job(kd, job)
        return job

    def _update(self, job: Job, state: str, reason: str) -> None:
        job.state, job.reason, job.updated_at = state, reason, time.time()
        if state == "done":
            job.printed_at = job.updated_at
        self._publish_job(job)
        self._save_job(job)
        if state == "failed":
            kd = self.kiosks[job.kiosk]
            printer = reason if reason in PRINTER_STATES else "error"
            if reason in ("offline", "lost"):
                printer = "offline"
            self.hub.publish(
                {"type": "printer", "kiosk": job.kiosk, "state": printer, "number": job.number}
            )
            log.warning("kiosk %s: ticket %s did not print (%s)", kd.kiosk, job.number, reason)

    def _publish_job(self, job: Job) -> None:
        self.hub.publish(
            {
                "type": "print",
                "kiosk": job.kiosk,
                "job": job.id,
                "ticket": job.ticket_id,
                "number": job.number,
                "state": job.state,
                "reason": job.reason,
            }
        )

    def _remember(self, job: Job) -> None:
        self.jobs[job.id] = job
        self.by_ticket.setdefault(job.ticket_id, []).append(job.id)

    def _jobs_of(self, kiosk: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.kiosk == kiosk]

    def job_of_ticket(self, ticket_id: str) -> Job | None:
        ids = self.by_ticket.get(ticket_id)
        return self.jobs[ids[-1]] if ids else None

    # -- persistence (in the hall's group commits, so writes land in the order they were made) --

    def _save_job(self, job: Job) -> None:
        self._save(store_devices.job_write(job))

    def _save_device(self, kd: KioskDevices) -> None:
        row = {
            "kiosk": kd.kiosk,
            "mode": kd.mode,
            "has_printer": kd.has_printer,
            "has_reader": kd.has_reader,
            "printer": kd.printer,
            "printer_detail": kd.printer_detail,
            "reader": kd.reader,
            "reader_detail": kd.reader_detail,
            "last_seen": kd.last_seen,
        }
        self._save(store_devices.device_write(row))

    def _save(self, write: Write) -> None:
        try:
            self.hall.save(write).add_done_callback(_log_write_failure)
        except HallUnavailable:
            log.error("could not save device state: the hall's store failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- views ---------------------------------------------------------------------------------

    def view(self) -> list[dict[str, Any]]:
        out = []
        for kd in self.kiosks.values():
            jobs = self._jobs_of(kd.kiosk)
            out.append(
                {
                    "kiosk": kd.kiosk,
                    "name": kd.name,
                    "mode": kd.mode,
                    "connected": kd.link is not None,
                    "printer": kd.printer_view(),
                    "printer_detail": kd.printer_detail,
                    "reader": kd.reader_view(),
                    "reader_detail": kd.reader_detail,
                    "last_seen": self.hall.iso(kd.last_seen),
                    "jobs_failed": sum(j.state == "failed" for j in jobs),
                    "jobs_pending": sum(not j.finished for j in jobs),
                }
            )
        return out

    def job_view(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "kiosk": job.kiosk,
            "ticket": job.ticket_id,
            "number": job.number,
            "service": job.service,
            "state": job.state,
            "reason": job.reason,
            "attempt": job.attempt,
            "created_at": self.hall.iso(job.created_at),
            "updated_at": self.hall.iso(job.updated_at),
            "printed_at": self.hall.iso(job.printed_at),
        }


def _log_write_failure(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("could not save device state: %s", fut.exception())


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a kiosk's device loop stopped", exc_info=task.exception())
