"""Kiosk devices, server side: agent tokens and connections, print jobs, card reads.

A kiosk's printer and ID-card reader are driven by a `devices.agent.DeviceLoop`: on the kiosk
PC behind ``hall-devices`` (connected to ``/ws/agent`` with ``Authorization: Bearer TOKEN``,
the token from ``hall-server device add K``, stored here only as a SHA-256 hash), or inside this
server for kiosks whose ``[[kiosk]]`` names a ``printer`` or ``reader`` address. Both speak the
messages described in ``devices/agent.py``; this module does not care which.

Every ticket taken at a kiosk with a printer becomes a print job, kept in ``print_jobs``. The
ticket is valid whatever happens to the job. A job is sent to the kiosk once per attempt, and
the agent acknowledges it; after a reconnect the agent reports what became of its jobs, so a
job is never printed twice by accident: one that was acknowledged but is unknown to the agent
(it restarted) fails as ``lost``, one never acknowledged is sent again if still fresh, else it
fails as ``offline``. A failed job can be printed again by the ticket's holder
(``POST /api/v1/tickets/{token}/reprint``) or by staff (``POST /api/v1/print-jobs/{id}/reprint``).

Card reads come as ``Card.to_public_dict`` (the agent hashes the ID number with the hall's
identity key, sent in the welcome): the hall keeps the keyed hash, masked name and age, and the
next ticket taken at that kiosk carries them (`Hall.attach_identity`).

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
import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from devices.agent import DeviceLoop
from devices.printer import PRINTER_STATES
from hall_server.auth import Role
from hall_server.core.engine import TERMINAL, Event, TicketIssued
from hall_server.core.identity import Identity
from hall_server.hall import Hall
from hall_server.http.common import HALL, HUB, ApiError, body, require
from hall_server.http.hub import Hub
from hall_server.store.db import Store
from kiosk_ui.routes import minutes_range

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

JOB_STATES = ("queued", "printing", "done", "failed")
UNFINISHED = ("queued", "printing")
RESEND_S = 30.0  # an unacknowledged job older than this is not printed after a reconnect
CARD_TTL_S = 120.0  # how long a card read waits for the ticket it belongs to
_HASH = re.compile(r"^[0-9a-f]{64}$")
_SIM_SETTINGS = {"timeout": 0.3, "settle": 0.05}  # the simulator answers at once


# -- tokens (also used by ``hall-server device``, without a running hall) ----------------------


def _token_hash(token: str) -> str:
    # Tokens are 32 random bytes, so a plain hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(store: Store, kiosk: str) -> str:
    """Create (or replace) the kiosk's agent token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    with store.writing() as db:
        db.execute(
            "INSERT OR REPLACE INTO device_tokens (kiosk, token_hash, created_at) VALUES (?, ?, ?)",
            (kiosk, _token_hash(token), time.time()),
        )
    return token


def remove_token(store: Store, kiosk: str) -> bool:
    """Revoke the kiosk's token (a lost or stolen kiosk PC); False when it had none."""
    with store.writing() as db:
        cur = db.execute("DELETE FROM device_tokens WHERE kiosk = ?", (kiosk,))
    return cur.rowcount > 0


def kiosk_of_token(store: Store, token: str) -> str | None:
    row = store.db.execute(
        "SELECT kiosk FROM device_tokens WHERE token_hash = ?", (_token_hash(token),)
    ).fetchone()
    return row[0] if row else None


def has_token(store: Store, kiosk: str) -> bool:
    row = store.db.execute("SELECT 1 FROM device_tokens WHERE kiosk = ?", (kiosk,)).fetchone()
    return row is not None


# -- state ----------------------------------------------------------------------------------------


class Link(Protocol):
    """A connection to one kiosk's device loop."""

    async def send(self, msg: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Job:
    id: str
    day: str
    kiosk: str
    ticket_id: str
    number: str
    service: str
    payload: dict[str, Any]
    created_at: float
    updated_at: float
    state: str = "queued"
    reason: str = ""
    attempt: int = 1
    acked: int = 0  # the highest attempt the kiosk acknowledged
    printed_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "payload": json.dumps(self.payload, ensure_ascii=False)}


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


class WsLink:
    """An agent's websocket."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, msg: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(msg, ensure_ascii=False))

    async def close(self) -> None:
        await self.ws.close(code=4001, message=b"replaced or shutting down")


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
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="device-writer")
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        db = self.store.db
        for row in db.query("SELECT * FROM devices"):
            kd = self.kiosks.get(row["kiosk"])
            if kd is not None:
                kd.last_seen = row["last_seen"]
                kd.has_printer = None if row["has_printer"] is None else bool(row["has_printer"])
                kd.has_reader = None if row["has_reader"] is None else bool(row["has_reader"])
        for kd in self.kiosks.values():
            if kd.has_printer is None and not has_token(self.store, kd.kiosk):
                kd.has_printer = kd.has_reader = False
        for row in db.query("SELECT * FROM print_jobs WHERE day = ?", [self.hall.engine.day]):
            self._remember(Job(**{**row, "payload": json.loads(row["payload"])}))
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
        await asyncio.to_thread(self._writer.shutdown, wait=True)

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
        await link.send(
            {
                "type": "welcome",
                "kiosk": kiosk,
                "identity_key": self.hall.identity_key.hex(),
                "public_url": self.hall.config.hall.public_url,
            }
        )

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
            if kind == "hello":
                await self._hello(kd, msg)
            elif kind == "device":
                self._device(kd, msg)
            elif kind == "job":
                self._job_report(kd, msg)
            elif kind == "card":
                self._card(kd, msg.get("card"))
            else:
                log.debug("kiosk %s: ignoring %r", kiosk, kind)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("kiosk %s: malformed %s message: %s", kiosk, kind, exc)

    async def _hello(self, kd: KioskDevices, msg: dict[str, Any]) -> None:
        kd.has_printer, kd.has_reader = bool(msg.get("printer")), bool(msg.get("reader"))
        self._save_device(kd)
        reported = {str(j["job"]) for j in msg.get("jobs", [])}
        for report in msg.get("jobs", []):
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

    def _device(self, kd: KioskDevices, msg: dict[str, Any]) -> None:
        printer, reader = msg.get("printer"), msg.get("reader")
        if printer is not None and printer not in PRINTER_STATES:
            raise ValueError(f"unknown printer state {printer!r}")
        if reader is not None and reader not in ("ok", "offline", "error"):
            raise ValueError(f"unknown reader state {reader!r}")
        self._set_states(
            kd,
            printer or "offline",
            str(msg.get("printer_detail") or "")[:200],
            reader or "offline",
            str(msg.get("reader_detail") or "")[:200],
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

    def _job_report(self, kd: KioskDevices, report: dict[str, Any]) -> None:
        job = self.jobs.get(str(report["job"]))
        if job is None or job.kiosk != kd.kiosk:
            return  # from before a server restart that lost it, or not this kiosk's
        attempt, state = int(report["attempt"]), str(report["state"])
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}")
        if attempt < job.attempt:
            return  # about an earlier attempt
        job.acked = max(job.acked, attempt)
        reason = str(report.get("reason") or "")[:32]
        if (state, reason) != (job.state, job.reason):
            self._update(job, state, reason)
        else:
            self._save_job(job)

    def _card(self, kd: KioskDevices, card: Any) -> None:
        if not isinstance(card, dict):
            raise TypeError("card must be an object")
        digest = str(card.get("identity_hash", ""))
        if not _HASH.match(digest):
            raise ValueError("identity_hash must be 64 hex digits")
        age = card.get("age")
        if age is not None and (not isinstance(age, int) or not 0 <= age <= 150):
            raise ValueError("age must be a whole number of years")
        if card.get("valid_check_digit") is False:
            log.warning("kiosk %s: a card with an invalid number was refused", kd.kiosk)
            self.hub.publish(
                {"type": "card_rejected", "kiosk": kd.kiosk, "reason": "invalid_number"}
            )
            return
        identity = Identity(digest, str(card.get("name_masked", ""))[:32], age)
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

    def listener(self, events: Sequence[Event], hall: Hall) -> None:
        """Hall listener: every ticket taken at a kiosk with a printer is printed there."""
        for e in events:
            if not isinstance(e, TicketIssued) or e.kiosk is None:
                continue
            kd = self.kiosks.get(e.kiosk)
            if kd is None or kd.has_printer is False:
                continue
            ticket = hall.engine.tickets.get(e.ticket_id)
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
            if self.jobs and next(iter(self.jobs.values())).day != job.day:
                self.jobs.clear()  # a new day: yesterday's jobs can no longer be reprinted
                self.by_ticket.clear()
            self._remember(job)
            self._publish_job(job)
            self._save_job(job)
            if kd.link is None:
                self._update(job, "failed", "offline")
            else:
                self._spawn(self._send_job(kd, job))

    def _ticket_fields(self, ticket: Any) -> dict[str, Any]:
        hall = self.hall
        est = hall.estimator.for_ticket(hall.engine, ticket)
        eta = ""
        if est is not None:
            low, high = minutes_range([est.low_s, est.high_s])
            eta = f"约 {low}–{high} 分钟"
        footer = {"priority": "优先办理", "appointment": "预约办理"}.get(ticket.priority.value, "")
        return {
            "hall_name": hall.config.hall.name,
            "service_name": hall.services[ticket.service].name,
            "number": ticket.number,
            "ahead": hall.engine.position(ticket) or 0,
            "eta_text": eta,
            "issued_at_text": hall.local(ticket.issued_at).strftime("%Y-%m-%d %H:%M"),
            "qr_path": f"/t/{ticket.token}",
            "footer": footer,
        }

    async def _send_job(self, kd: KioskDevices, job: Job) -> None:
        if kd.link is not None:
            await kd.link.send(
                {"type": "print", "job": job.id, "attempt": job.attempt, "ticket": job.payload}
            )

    async def reprint(self, job: Job, *, failed_only: bool) -> Job:
        """Print a job again at its kiosk; ApiError when that makes no sense now."""
        if not job.finished:
            raise ApiError(409, "job_in_progress", "this ticket is being printed")
        if failed_only and job.state != "failed":
            raise ApiError(409, "already_printed", "this ticket was printed")
        ticket = self.hall.engine.tickets.get(job.ticket_id)
        if ticket is None or ticket.status in TERMINAL:
            raise ApiError(409, "ticket_finished", "this ticket is no longer in the queue")
        kd = self.kiosks[job.kiosk]
        if kd.link is None:
            raise ApiError(409, "kiosk_offline", f"kiosk {job.kiosk}'s printer is not connected")
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

    # -- persistence (one writer thread, so writes land in the order they were made) -----------

    def _save_job(self, job: Job) -> None:
        row = job.row()
        self._spawn(self._write(_upsert, self.store, "print_jobs", row))

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
        self._spawn(self._write(_upsert, self.store, "devices", row))

    async def _write(self, fn: Any, *args: Any) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)
        except Exception:
            log.exception("could not save device state")

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


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a kiosk's device loop stopped", exc_info=task.exception())


def _upsert(store: Store, table: str, row: dict[str, Any]) -> None:
    cols = ", ".join(f"[{c}]" for c in row)
    marks = ", ".join("?" for _ in row)
    with store.writing() as db:
        db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


DEVICES = web.AppKey("devices", DeviceHub)


def setup(app: web.Application, base_url: str = "") -> None:
    """Add the routes and, once the hall is up, its kiosks' devices (after the hall starts,
    before it stops)."""
    app.add_routes(routes)

    async def devices(app: web.Application) -> AsyncIterator[None]:
        hub = DeviceHub(app[HALL], app[HUB], base_url)
        app[DEVICES] = hub
        app[HALL].listeners.append(hub.listener)
        await hub.start()
        yield
        await hub.stop()

    async def close_agents(app: web.Application) -> None:
        hub = app.get(DEVICES)
        if hub is not None:
            for kd in hub.kiosks.values():
                if isinstance(kd.link, WsLink):
                    await kd.link.close()

    app.cleanup_ctx.append(devices)
    app.on_shutdown.append(close_agents)


# -- HTTP --------------------------------------------------------------------------------------


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


@routes.get("/ws/agent")
async def agent_ws(request: web.Request) -> web.WebSocketResponse:
    """A kiosk's ``hall-devices`` agent; the token decides which kiosk it is."""
    devices = request.app[DEVICES]
    token = _bearer(request)
    if token is None:
        raise ApiError(
            401,
            "missing_token",
            "send Authorization: Bearer TOKEN (hall-server device add KIOSK creates it)",
        )
    kiosk = kiosk_of_token(devices.store, token)
    if kiosk is None:
        raise ApiError(401, "bad_token", "this device token is not valid")
    wanted = request.query.get("kiosk")
    if wanted is not None and wanted != kiosk:
        raise ApiError(403, "wrong_kiosk", f"this token belongs to kiosk {kiosk}, not {wanted}")
    kd = devices.kiosks.get(kiosk)
    if kd is None:
        raise ApiError(404, "unknown_kiosk", f"kiosk {kiosk} is not in the hall configuration")
    if kd.mode == "local":
        raise ApiError(409, "local_devices", f"kiosk {kiosk}'s devices are driven by the server")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=1 << 20)
    await ws.prepare(request)
    link = WsLink(ws)
    await devices.connect(kiosk, link, "agent")
    log.info("kiosk %s: agent connected from %s", kiosk, request.remote)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                log.warning("kiosk %s: agent sent something that is not JSON", kiosk)
                continue
            if isinstance(data, dict):
                await devices.receive(kiosk, data, link)
    finally:
        await devices.disconnect(kiosk, link)
        log.info("kiosk %s: agent disconnected", kiosk)
    return ws


@routes.get("/api/v1/devices")
async def devices_view(request: web.Request) -> web.Response:
    require(request, Role.MANAGER)
    return web.json_response(request.app[DEVICES].view())


@routes.get("/api/v1/print-jobs")
async def print_jobs(request: web.Request) -> web.Response:
    """Today's print jobs, newest first; ``?kiosk=K`` and ``?state=failed`` narrow them."""
    require(request, Role.STAFF)
    devices = request.app[DEVICES]
    kiosk, state = request.query.get("kiosk"), request.query.get("state")
    if state is not None and state not in JOB_STATES:
        raise ApiError(422, "invalid_state", f"state must be one of {', '.join(JOB_STATES)}")
    jobs = [
        devices.job_view(j)
        for j in reversed(devices.jobs.values())
        if (kiosk is None or j.kiosk == kiosk) and (state is None or j.state == state)
    ]
    return web.json_response(jobs)


@routes.post("/api/v1/print-jobs/{job}/reprint")
async def reprint_job(request: web.Request) -> web.Response:
    """Staff print a ticket again (failed, or torn): the next attempt of the same job."""
    require(request, Role.STAFF)
    devices = request.app[DEVICES]
    job = devices.jobs.get(request.match_info["job"])
    if job is None:
        raise ApiError(404, "unknown_job", "no print job of today has this id")
    return web.json_response(devices.job_view(await devices.reprint(job, failed_only=False)))


def _job_of_token(request: web.Request) -> Any:
    devices = request.app[DEVICES]
    ticket = request.app[HALL].engine.by_token_latest(request.match_info["token"])
    job = devices.job_of_ticket(ticket.id) if ticket is not None else None
    if job is None:
        raise ApiError(404, "no_print_job", "this ticket was not printed at a kiosk today")
    return job


@routes.get("/api/v1/tickets/{token}/print")
async def ticket_print(request: web.Request) -> web.Response:
    """The holder of a ticket sees whether it printed."""
    job = _job_of_token(request)
    return web.json_response(
        {"number": job.number, "kiosk": job.kiosk, "state": job.state, "reason": job.reason}
    )


@routes.post("/api/v1/tickets/{token}/reprint")
async def ticket_reprint(request: web.Request) -> web.Response:
    """The holder of a ticket whose printing failed asks for it again (kiosk screen)."""
    devices = request.app[DEVICES]
    job = await devices.reprint(_job_of_token(request), failed_only=True)
    return web.json_response(
        {"number": job.number, "kiosk": job.kiosk, "state": job.state, "reason": job.reason},
        status=202,
    )


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(
        pattern="^(place_card|remove_card|paper_ok|paper_low|paper_out|printer_off)$"
    )
    card: str = Field(default="resident", pattern="^(resident|hmt_residence|foreign_permanent)$")


@routes.post("/api/v1/devices/{kiosk}/simulate")
async def simulate(request: web.Request) -> web.Response:
    """Demo halls: act on a kiosk's built-in simulators (``sim:`` addresses) as a visitor or
    a printer would: place a sample card, run out of paper, switch the printer off."""
    require(request, Role.MANAGER)
    req = await body(request, SimulateRequest)
    loop = _local_loop(request)
    from devices.sim import cards

    reader_sim = loop.reader.simulator if loop.reader is not None else None
    printer_sim = loop.printer.simulator if loop.printer is not None else None
    if req.action in ("place_card", "remove_card"):
        if reader_sim is None:
            raise ApiError(409, "no_simulator", "this kiosk's reader is not a simulator")
        if req.action == "place_card":
            reader_sim.place(next(c for c in cards.SAMPLES if c.card_type.value == req.card))
        else:
            reader_sim.remove()
    else:
        if printer_sim is None:
            raise ApiError(409, "no_simulator", "this kiosk's printer is not a simulator")
        printer_sim.set_state(
            {"paper_ok": "ok", "paper_low": "near_end", "paper_out": "out"}.get(
                req.action, "offline"
            )
        )
        loop.check_now()
    return web.json_response({"ok": True, "action": req.action})


@routes.get("/api/v1/devices/{kiosk}/printed")
async def printed(request: web.Request) -> web.Response:
    """Demo halls: what a ``sim:`` printer printed (the last 20 tickets)."""
    require(request, Role.MANAGER)
    loop = _local_loop(request)
    sim = loop.printer.simulator if loop.printer is not None else None
    if sim is None:
        raise ApiError(409, "no_simulator", "this kiosk's printer is not a simulator")
    return web.json_response(
        [
            {"lines": [line.text for line in t.lines], "qr_codes": t.qr_codes, "cut": t.cut}
            for t in sim.tickets[-20:]
        ]
    )


def _local_loop(request: web.Request) -> DeviceLoop:
    kd = request.app[DEVICES].kiosks.get(request.match_info["kiosk"])
    if kd is None:
        raise ApiError(404, "unknown_kiosk", f"no kiosk {request.match_info['kiosk']!r}")
    if kd.loop is None:
        raise ApiError(409, "no_simulator", "this kiosk's devices are not run by the server")
    return kd.loop
