"""Ticket printer driver on python-escpos, and a per-printer job queue.

`Printer` opens the python-escpos class that fits the address and asks the printer for its
state with ``DLE EOT 1`` and ``DLE EOT 4``. Silence is never taken for "fine": a printer that
does not answer within `timeout` is ``offline`` (python-escpos's ``paper_status()`` reports
plenty of paper when nothing answers, so it is not used). States: ``ok``, ``paper_low``,
``paper_out``, ``offline``, ``error`` (answered, but not with a status byte).

`PrintQueue` prints jobs one at a time on its own thread. A ticket is issued by the hall
before it is printed, so a printer fault must neither lose nor duplicate it: each job id is
printed at most once unless someone calls `reprint(job_id)`, and a job that fails keeps its
reason (``paper_out``, ``offline``, ``error`` or ``io_error``) until it is reprinted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import serial
from escpos.constants import (
    RT_MASK_LOWPAPER,
    RT_MASK_NOPAPER,
    RT_MASK_ONLINE,
    RT_STATUS_ONLINE,
    RT_STATUS_PAPER,
)
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import File, Network, Serial, Usb

from devices.address import DeviceAddress, parse_address
from devices.escpos_ticket import TicketFormat, TicketPrint, render_ticket
from devices.events import EventHub

if TYPE_CHECKING:
    from devices.sim.printer_sim import PrinterSimulator

log = logging.getLogger(__name__)

PRINTER_STATES = ("ok", "paper_low", "paper_out", "offline", "error")
PRINTABLE = ("ok", "paper_low")
_FIXED_BITS_MASK, _FIXED_BITS = 0x93, 0x12  # every DLE EOT answer: bits 1, 4 set; 0, 7 clear
_IO_ERRORS = (OSError, serial.SerialException, DeviceNotFoundError)


class PrinterError(Exception):
    """Printing did not happen or did not finish; `reason` is a state or ``io_error``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Printer:
    """One ESC/POS printer at a device address (serial, tcp, usb, file or sim).

    Thread-safe; every call blocks for at most a few `timeout`s. `settle` is how long to wait
    after sending a job before checking the paper again: a printer answers ``DLE EOT`` as
    soon as it receives it, possibly before the job has come out.
    """

    def __init__(
        self,
        address: str,
        *,
        encoding: str = "gb18030",
        chinese_mode: bool = False,
        cut: str = "partial",
        qr_size: int = 6,
        number_scale: int = 4,
        profile: str | None = None,
        baudrate: int = 9600,
        timeout: float = 1.0,
        settle: float = 0.5,
    ) -> None:
        self.address = address
        self._addr: DeviceAddress = parse_address(address)
        self.format = TicketFormat(
            encoding=encoding,
            chinese_mode=chinese_mode,
            cut=cut,
            qr_size=qr_size,
            number_scale=number_scale,
            profile=profile,
        )
        self.baudrate = self._addr.baudrate(baudrate)
        self.timeout = timeout
        self.settle = settle
        self.detail = ""  # why the last status was not ok
        self.simulator: PrinterSimulator | None = None  # set for sim: addresses
        self.closed_hook: Callable[[], None] | None = None
        self._escpos: Escpos | None = None
        self._lock = threading.RLock()

    # connection -------------------------------------------------------------------------

    def _connect(self) -> Escpos:
        a, profile = self._addr, self.format.profile
        if a.scheme == "serial":
            printer: Escpos = Serial(devfile=a.target, baudrate=self.baudrate, profile=profile)
            # python-escpos's Serial.open() insists on serial.Serial(devfile); a URL-opened
            # port (pty, socket://, rfc2217://) has to be handed in as the device.
            printer.device = serial.serial_for_url(
                a.pyserial_url(), baudrate=self.baudrate, timeout=self.timeout
            )
        elif a.scheme == "tcp":
            host, port = a.host_port
            printer = Network(host, port, timeout=self.timeout, profile=profile)
            # Not printer.open(): when the connect fails it drops the socket unclosed.
            printer.device = socket.create_connection((host, port), timeout=self.timeout)
        elif a.scheme == "usb":
            if not Usb.is_usable():
                raise DeviceNotFoundError("usb:// printers need pyusb (pip install pyusb)")
            vendor, product = a.usb_ids
            printer = Usb(vendor, product, timeout=int(self.timeout * 1000), profile=profile)
            printer.open()
        elif a.scheme == "file":
            printer = File(devfile=a.target, profile=profile)
            # File.open() truncates ("wb"); devices.md wants the bytes appended.
            printer.device = open(a.target, "ab")  # noqa: SIM115 - closed by printer.close()
        else:
            raise ValueError(f"{self.address}: use open_printer() for sim: addresses")
        return printer

    def _ensure_open(self) -> Escpos:
        if self._escpos is None:
            self._escpos = self._connect()
        return self._escpos

    def _drop(self) -> None:
        printer, self._escpos = self._escpos, None
        if printer is not None:
            with contextlib.suppress(*_IO_ERRORS):
                printer.close()

    def close(self) -> None:
        """Close the connection (reopened by the next call) and stop a sim: simulator."""
        with self._lock:
            self._drop()
        if self.closed_hook is not None:
            self.closed_hook()

    # status -----------------------------------------------------------------------------

    def status(self) -> str:
        """Ask the printer; one of `PRINTER_STATES`. Never raises."""
        with self._lock:
            try:
                state, self.detail = self._query_status()
            except _IO_ERRORS as exc:
                self._drop()
                state, self.detail = "offline", str(exc)
            return state

    def _query_status(self) -> tuple[str, str]:
        printer = self._ensure_open()
        if self._addr.scheme == "file":
            return "ok", ""  # a file has no back channel; it is there to record bytes
        online = self._ask(printer, RT_STATUS_ONLINE)
        paper = None if online is None else self._ask(printer, RT_STATUS_PAPER)
        if online is None or paper is None:
            return "offline", "no answer to DLE EOT"
        if (online | paper) & _FIXED_BITS_MASK != _FIXED_BITS:
            return "error", f"unexpected status bytes {online:#04x} {paper:#04x}"
        if paper & RT_MASK_NOPAPER == RT_MASK_NOPAPER:
            return "paper_out", ""
        if online & RT_MASK_ONLINE:
            return "offline", "printer reports off-line (cover open?)"
        if paper & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER:
            return "paper_low", ""
        return "ok", ""

    def _ask(self, printer: Escpos, query: bytes) -> int | None:
        """Send a real-time query and read its one-byte answer, or None on silence.

        Not python-escpos's query_status(): its Serial._read() asks for 16 bytes, so every
        query on a serial port waits out the whole timeout, and on a socket a silent printer
        raises instead of returning nothing.
        """
        device = printer.device
        if isinstance(device, serial.SerialBase):
            device.reset_input_buffer()  # a late answer to an earlier query
            printer._raw(query)
            answer = device.read(1)
        elif isinstance(device, socket.socket):
            _drain_socket(device)
            printer._raw(query)
            try:
                answer = device.recv(1)
            except TimeoutError:
                return None
            if not answer:
                raise ConnectionError("printer closed the connection")
        else:  # USB: python-escpos reads the IN endpoint with its own timeout
            printer._raw(query)
            answer = printer._read()
        return answer[0] if answer else None

    # printing ---------------------------------------------------------------------------

    def print_ticket(self, ticket: TicketPrint) -> None:
        """Check, print, check again; raises `PrinterError` unless the ticket came out."""
        self.print_raw(render_ticket(ticket, self.format))

    def print_raw(self, data: bytes) -> None:
        """`print_ticket` for an already rendered byte stream."""
        with self._lock:
            before = self.status()
            if before not in PRINTABLE:
                raise PrinterError(before, self.detail)
            try:
                printer = self._ensure_open()
                printer._raw(data)
                flush = getattr(printer.device, "flush", None)  # serial: drain; file: write
                if flush is not None:
                    flush()
            except _IO_ERRORS as exc:
                self._drop()
                raise PrinterError("io_error", str(exc)) from exc
            if self.settle:
                time.sleep(self.settle)
            after = self.status()
            if after not in PRINTABLE:
                raise PrinterError(after, self.detail or "while printing")


def _drain_socket(sock: socket.socket) -> None:
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while sock.recv(256):
            pass
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(timeout)


def open_printer(address: str, **settings: Any) -> Printer:
    """A `Printer` for `address`; ``sim:`` starts an in-process simulator on loopback TCP,
    reachable as ``printer.simulator``. Settings are `Printer`'s keyword arguments."""
    if parse_address(address).scheme != "sim":
        return Printer(address, **settings)
    from devices.sim.links import TcpLink
    from devices.sim.printer_sim import PrinterSimulator

    simulator = PrinterSimulator(encoding=settings.get("encoding", "gb18030"))
    link = TcpLink(simulator)
    printer = Printer(link.address, **settings)
    printer.simulator = simulator
    printer.closed_hook = link.close
    return printer


# job queue ------------------------------------------------------------------------------

JOB_STATES = ("queued", "printing", "done", "failed")


@dataclass(frozen=True)
class PrintJob:
    """A snapshot of a job; `attempts` counts how often it was sent to the printer."""

    id: str
    ticket: TicketPrint
    state: str = "queued"
    reason: str = ""
    detail: str = ""
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class PrintQueue:
    """Prints jobs one at a time on a worker thread; safe to call from any thread or loop.

    `on_job` (and `updates()`) see every job state change.
    """

    def __init__(
        self,
        printer: Printer,
        *,
        on_job: Callable[[PrintJob], object] | None = None,
        keep: int = 1000,
    ) -> None:
        self.printer = printer
        self.keep = keep
        self.hub: EventHub[PrintJob] = EventHub()
        if on_job is not None:
            self.hub.subscribe(on_job)
        self._jobs: OrderedDict[str, PrintJob] = OrderedDict()
        self._cond = threading.Condition()
        self._pending: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="print-queue", daemon=True)
        self._thread.start()

    def submit(self, ticket: TicketPrint, job_id: str | None = None) -> PrintJob:
        """Queue a ticket. Submitting a known `job_id` again returns that job unchanged, so
        a retried request cannot print a ticket twice."""
        with self._cond:
            if job_id is not None and job_id in self._jobs:
                return self._jobs[job_id]
            job = PrintJob(id=job_id or str(uuid.uuid4()), ticket=ticket)
            self._jobs[job.id] = job
            self._evict()
        self.hub.emit(job)  # before the worker can see it, so "queued" precedes "printing"
        self._pending.put(job.id)
        return job

    def reprint(self, job_id: str) -> PrintJob:
        """Queue a finished (failed or done) job once more; KeyError for unknown ids,
        ValueError while it is still queued or printing."""
        with self._cond:
            job = self._jobs[job_id]
            if not job.finished:
                raise ValueError(f"job {job_id} is {job.state}")
            job = self._update(job, state="queued", reason="", detail="")
        self.hub.emit(job)
        self._pending.put(job_id)
        return job

    def get(self, job_id: str) -> PrintJob:
        """Current snapshot of a job; KeyError when unknown."""
        with self._cond:
            return self._jobs[job_id]

    def jobs(self) -> list[PrintJob]:
        """All remembered jobs, oldest first."""
        with self._cond:
            return list(self._jobs.values())

    def wait(self, job_id: str, timeout: float | None = None) -> PrintJob:
        """Block until the job is done or failed (or `timeout`); returns its snapshot.
        KeyError for unknown ids."""
        with self._cond:
            self._cond.wait_for(lambda: self._jobs[job_id].finished, timeout)
            return self._jobs[job_id]

    async def wait_async(self, job_id: str, timeout: float | None = None) -> PrintJob:
        """`wait` without blocking the event loop."""
        return await asyncio.to_thread(self.wait, job_id, timeout)

    async def updates(self) -> AsyncIterator[PrintJob]:
        """Async iterator of job snapshots as they change."""
        async for job in self.hub.stream():
            yield job

    def close(self) -> None:
        """Print the jobs already queued, then stop the worker."""
        self._pending.put(None)
        self._thread.join(timeout=30)

    def _update(self, job: PrintJob, **changes: Any) -> PrintJob:
        job = replace(job, **changes)
        self._jobs[job.id] = job
        self._cond.notify_all()
        return job

    def _evict(self) -> None:
        for old in [j for j in self._jobs.values() if j.finished][: len(self._jobs) - self.keep]:
            del self._jobs[old.id]

    def _run(self) -> None:
        while (job_id := self._pending.get()) is not None:
            with self._cond:
                job = self._jobs.get(job_id)
                if job is None or job.state != "queued":
                    continue  # evicted, or a duplicate wake-up
                job = self._update(job, state="printing", attempts=job.attempts + 1)
            self.hub.emit(job)
            try:
                self.printer.print_ticket(job.ticket)
            except PrinterError as exc:
                log.warning("print job %s failed: %s", job.id, exc)
                changes = {"state": "failed", "reason": exc.reason, "detail": exc.detail}
            except Exception as exc:  # a bug must not kill the queue
                log.exception("print job %s crashed", job.id)
                changes = {"state": "failed", "reason": "error", "detail": repr(exc)}
            else:
                changes = {"state": "done"}
            with self._cond:
                job = self._update(self._jobs[job.id], **changes)
            self.hub.emit(job)
