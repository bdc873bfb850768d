"""The device agent: one kiosk's printer and card reader, connected to the hall server.

The same `DeviceLoop` runs on a kiosk PC behind ``hall-devices`` (over a websocket, see
`run_agent`) and inside the hall server for kiosks whose devices hang on the server's own PC
(``[[kiosk]] printer = "..."`` in the config). Either way it speaks the messages of
`devices.protocol` (JSON text over the websocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from devices.escpos_ticket import TicketPrint
from devices.printer import Printer, PrintJob, PrintQueue, open_printer
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
from devices.reader import CardEvent, CardReader, StateEvent, open_reader

log = logging.getLogger(__name__)

VERSION = "hallq-devices/1"
HELLO_JOBS = 200  # the most recent jobs reported in a hello
Send = Callable[[dict[str, Any]], Awaitable[None]]


def protected(server: str) -> bool:
    """TLS, or the kiosk PC talking to itself: the only ways a card number may travel."""
    parts = urlsplit(server)
    if parts.scheme in ("https", "wss"):
        return True
    host = parts.hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AgentRefused(Exception):
    """The server refused this agent (bad token, unknown kiosk): retrying will not help."""


class DeviceLoop:
    """A kiosk's printer and reader, as agent messages. Runs across reconnects: the devices
    stay open, `run` is started once per connection and cancelled when it drops."""

    def __init__(
        self,
        kiosk: str,
        printer: Printer | None = None,
        reader: CardReader | None = None,
        *,
        server_url: str = "",
        status_every: float = 5.0,
    ) -> None:
        self.kiosk = kiosk
        self.printer = printer
        self.reader = reader
        self.server_url = server_url.rstrip("/")
        self.status_every = status_every
        self.jobs = PrintQueue(printer) if printer is not None else None
        self.public_url: str | None = None
        self.printer_state: str | None = None if printer is None else "offline"
        self.printer_detail = "" if printer is None else "not asked yet"
        #: whether card numbers may be sent: TLS or the same PC (`run_agent` decides)
        self.send_numbers = True
        self._attempts: dict[str, int] = {}  # job id -> server attempt accepted
        self._poll_now = asyncio.Event()

    @classmethod
    def open(
        cls,
        kiosk: str,
        printer: str | None = None,
        reader: str | None = None,
        *,
        printer_settings: dict[str, Any] | None = None,
        reader_settings: dict[str, Any] | None = None,
        **kw: Any,
    ) -> DeviceLoop:
        """Open the devices at these addresses (see devices.md); None means not fitted."""
        p = open_printer(printer, **(printer_settings or {})) if printer else None
        try:
            r = open_reader(reader, **(reader_settings or {})) if reader else None
        except BaseException:
            if p is not None:
                p.close()
            raise
        return cls(kiosk, p, r, **kw)

    def close(self) -> None:
        """Stop the reader and the print queue and close both devices."""
        if self.reader is not None:
            self.reader.stop()
        if self.jobs is not None:
            self.jobs.close()
        if self.printer is not None:
            self.printer.close()

    # -- messages ------------------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        jobs = self.jobs.jobs()[-HELLO_JOBS:] if self.jobs else []
        reports = [self._job_report(j) for j in jobs if j.id in self._attempts]
        hello = Hello(VERSION, self.printer is not None, self.reader is not None, reports)
        return to_dict(hello)

    def device_message(self) -> dict[str, Any]:
        return to_dict(
            DeviceState(
                printer=self.printer_state,
                reader=self.reader.state if self.reader else None,
                printer_detail=self.printer_detail,
                reader_detail=self.reader.detail if self.reader else "",
            )
        )

    def handle(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        """Act on a server message; returns the messages to answer with at once (job
        updates that follow arrive through `run`)."""
        m = parse(msg)
        if isinstance(m, Welcome):
            self.public_url = m.public_url
            return []
        if isinstance(m, Print):
            return self._print(m.job, m.attempt, m.ticket)
        log.debug("ignoring server message %r", msg.get("type"))
        return []

    def _print(self, job_id: str, attempt: int, fields: TicketFields) -> list[dict[str, Any]]:
        if self.jobs is None:
            return [to_dict(JobReport(job_id, attempt, "failed", "no_printer"))]
        known = self._attempts.get(job_id)
        if known is not None and attempt <= known:
            return [self._job_message(self.jobs.get(job_id))]  # a repeat: say where it is
        self._attempts[job_id] = attempt
        base = (self.public_url or self.server_url).rstrip("/")
        ticket = TicketPrint(
            hall_name=fields.hall_name,
            service_name=fields.service_name,
            number=fields.number,
            ahead=fields.ahead,
            eta_text=fields.eta_text,
            issued_at_text=fields.issued_at_text,
            qr_url=base + fields.qr_path,
            footer=fields.footer,
            item_name=fields.item_name,
        )
        if known is None:
            self.jobs.submit(ticket, job_id=job_id)
        else:
            try:
                self.jobs.reprint(job_id)
            except KeyError:  # forgotten (evicted): print it as new
                self.jobs.submit(ticket, job_id=job_id)
            except ValueError:  # still queued or printing: it will come out anyway
                return [self._job_message(self.jobs.get(job_id))]
        return []

    def _job_report(self, job: PrintJob) -> JobReport:
        return JobReport(job.id, self._attempts.get(job.id, 1), job.state, job.reason)

    def _job_message(self, job: PrintJob) -> dict[str, Any]:
        return to_dict(self._job_report(job))

    def _card_message(self, event: CardEvent) -> dict[str, Any] | None:
        if not self.send_numbers:
            log.error(
                "a card was read, but the server is reached without TLS: its number is not "
                "sent (start hall-devices with --server https://...)"
            )
            return None
        return to_dict(CardRead(event.card.to_server_dict()))

    def check_now(self) -> None:
        """Ask the printer for its state now rather than at the next `status_every`."""
        self._poll_now.set()

    # -- the live part -------------------------------------------------------------------------

    async def run(self, send: Send) -> None:
        """Report jobs, cards and device states through `send` until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._poll_status(send))
            if self.jobs is not None:
                tasks.create_task(self._pump_jobs(send))
            if self.reader is not None:
                tasks.create_task(self._pump_reader(send))

    async def _pump_jobs(self, send: Send) -> None:
        assert self.jobs is not None
        async for job in self.jobs.updates():
            if job.id not in self._attempts:
                continue  # submitted by someone else on this queue
            await send(self._job_message(job))
            if job.finished:
                self.check_now()  # a failed job usually means the printer changed

    async def _pump_reader(self, send: Send) -> None:
        assert self.reader is not None
        async for event in self.reader.events():
            if isinstance(event, StateEvent):
                await send(self.device_message())
            elif (msg := self._card_message(event)) is not None:
                await send(msg)

    async def _poll_status(self, send: Send) -> None:
        while True:
            if self.printer is not None:
                state = await asyncio.to_thread(self.printer.status)
                self.printer_state, self.printer_detail = state, self.printer.detail
            await send(self.device_message())
            self._poll_now.clear()
            # Not wait_for(): on Python 3.11 it returns normally when it is cancelled just as
            # check_now() sets the event, and this loop then outlived its connection for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.status_every):
                    await self._poll_now.wait()


# -- over a websocket ------------------------------------------------------------------------------


def agent_url(server: str, kiosk: str) -> str:
    """``http://host:port`` -> ``ws://host:port/ws/agent?kiosk=K`` (https -> wss)."""
    parts = urlsplit(server if "://" in server else f"http://{server}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"--server must be http://HOST:PORT, not {server!r}")
    path = parts.path.rstrip("/") + "/ws/agent"
    return urlunsplit((scheme, parts.netloc, path, urlencode({"kiosk": kiosk}), ""))


async def serve_connection(ws: Any, loop: DeviceLoop) -> None:
    """One connection's life: welcome, hello, then messages both ways until it closes."""
    from websockets.exceptions import ConnectionClosed

    async def send(msg: dict[str, Any]) -> None:
        await ws.send(json.dumps(msg, ensure_ascii=False))

    welcome = json.loads(await ws.recv())
    if welcome.get("type") != "welcome":
        raise AgentRefused(f"the server did not welcome this agent: {welcome!r}")
    loop.handle(welcome)
    await send(loop.hello())
    runner = asyncio.create_task(loop.run(send))
    try:
        async for raw in ws:
            for reply in loop.handle(json.loads(raw)):
                await send(reply)
    except ConnectionClosed:
        pass
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await runner


async def run_agent(
    server: str,
    kiosk: str,
    token: str,
    loop: DeviceLoop,
    *,
    backoff: tuple[float, float] = (0.5, 30.0),
    on_connected: Callable[[], object] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Stay connected to the server for ever: reconnect with exponential backoff (with
    jitter, so a hall's kiosks do not all knock at once after a server restart). Raises
    `AgentRefused` when the server says the token or kiosk is wrong."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus, WebSocketException

    url = agent_url(server, kiosk)
    loop.send_numbers = protected(server)
    delay = backoff[0]
    while True:
        try:
            async with connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=10,
                ping_interval=10,
                ping_timeout=10,
                max_size=1 << 20,
                ssl=ssl_context,
            ) as ws:
                log.info("connected to %s as kiosk %s", server, kiosk)
                delay = backoff[0]
                if on_connected is not None:
                    on_connected()
                await serve_connection(ws, loop)
                log.warning("connection to %s closed; reconnecting", server)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403, 404, 409):
                body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
                raise AgentRefused(f"server answered {status}: {body}") from None
            log.warning("server answered %s; retrying in %.1f s", status, delay)
        except (OSError, TimeoutError, WebSocketException, json.JSONDecodeError) as exc:
            log.warning("cannot reach %s (%s); retrying in %.1f s", server, exc, delay)
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, backoff[1])
