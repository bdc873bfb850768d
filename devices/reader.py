"""ID-card reader driver: one blocking serial port, polled from a dedicated thread.

Every poll sends find; when a card newly appears it sends select and read, and reports the
card once. The card counts as the same placement until the reader answers "no card", so a
card lying on the reader fires once and a card taken away and put back fires again. A poll
that gets no answer or a corrupted one tells nothing about the card and changes nothing.

States: ``ok`` (the reader answers), ``offline`` (the port cannot be opened, failed, or the
reader stopped answering) and ``error`` (it answers with a failure, e.g. a read that failed).
When the port fails (USB adapter unplugged) the driver closes it and reopens it with
exponential backoff until the device is back.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import serial

from devices import sam
from devices.address import parse_address
from devices.events import EventHub
from devices.sam import Card, CardFormatError, ChecksumError, Garbage, Op, ReplyFrame, Status

if TYPE_CHECKING:
    from devices.sim.reader_sim import ReaderSimulator

log = logging.getLogger(__name__)

READER_STATES = ("ok", "offline", "error")
_READ_TICK = 0.02  # port read timeout: how often the thread checks deadlines and stop


@dataclass(frozen=True)
class CardEvent:
    """A card was placed on the reader and read."""

    card: Card


@dataclass(frozen=True)
class StateEvent:
    """The reader's state changed; `detail` says why for offline and error."""

    state: str
    detail: str = ""


ReaderEvent = CardEvent | StateEvent


class CardReader:
    """Driver for a SAM reader at a device address (serial, tcp or sim; see devices.md).

    Call `start()` (or use it as a context manager); results arrive through `on_card` /
    `on_state` (called on the reader thread) or `async for event in reader.events()`.
    """

    def __init__(
        self,
        address: str,
        *,
        baudrate: int = 115200,
        poll_interval: float = 0.25,
        reply_timeout: float = 0.5,
        retries: int = 2,
        silent_polls: int = 3,
        backoff: tuple[float, float] = (0.1, 5.0),
        on_card: Callable[[Card], object] | None = None,
        on_state: Callable[[str, str], object] | None = None,
    ) -> None:
        self.address = address
        parsed = parse_address(address)
        self._url = parsed.pyserial_url()
        self._baudrate = parsed.baudrate(baudrate)
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.silent_polls = silent_polls
        self.backoff = backoff
        self.counters: Counter[str] = Counter()  # checksum_errors, garbage_bytes, timeouts...
        self.hub: EventHub[ReaderEvent] = EventHub()
        if on_card is not None:
            self.hub.subscribe(lambda e: isinstance(e, CardEvent) and on_card(e.card))
        if on_state is not None:
            self.hub.subscribe(lambda e: isinstance(e, StateEvent) and on_state(e.state, e.detail))
        self.state = "offline"
        self.detail = "not started"
        self.simulator: ReaderSimulator | None = None  # set for sim: addresses
        self.closed_hook: Callable[[], None] | None = None  # stops the sim: link
        self._port: serial.SerialBase | None = None
        self._parser: sam.FrameParser[sam.ReplyFrame] = sam.FrameParser()
        self._present = False
        self._silent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the polling thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="card-reader", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_port()
        if self.closed_hook is not None:
            self.closed_hook()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def events(self) -> AsyncIterator[ReaderEvent]:
        """Async iterator of events, starting with the current state."""
        async for event in self.hub.stream(first=lambda: [StateEvent(self.state, self.detail)]):
            yield event

    # thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            if self._port is None:
                try:
                    self._port = serial.serial_for_url(
                        self._url, baudrate=self._baudrate, timeout=_READ_TICK
                    )
                except (serial.SerialException, OSError, ValueError) as exc:
                    self._set_state("offline", f"cannot open {self.address}: {exc}")
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                delay = self.backoff[0]
                self._parser.reset()
                self._silent = 0
            try:
                self._poll()
            except (serial.SerialException, OSError) as exc:
                log.warning("reader %s failed: %s", self.address, exc)
                self._close_port()
                self._present = False
                self._set_state("offline", f"port failed: {exc}")
                continue
            self._stop.wait(self.poll_interval)

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        # pyserial's socket:// close() skips socket.close() when shutdown() fails because the
        # peer is already gone, leaving the fd to the garbage collector, and then sleeps 0.3 s
        # "for quick reconnects" (every hall shutdown waited that per tcp:// or sim: reader):
        # such a port is closed here.
        sock = getattr(port, "_socket", None)
        if sock is None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        port._socket, port.is_open = None, False

    def _poll(self) -> None:
        found = self._transact(Op.FIND_CARD)
        if found is None:
            return
        if found.sw3 == Status.NO_CARD:
            self._present = False
            self._set_state("ok")
            return
        if found.sw3 != Status.CARD_FOUND:
            self._set_state("error", f"find card: {sam.status_text(found.sw3)}")
            return
        if self._present:
            self._set_state("ok")
            return
        selected = self._transact(Op.SELECT_CARD)
        if selected is None:
            return
        if selected.sw3 != Status.SUCCESS:
            self._set_state("error", f"select card: {sam.status_text(selected.sw3)}")
            return
        read = self._transact(Op.READ_TEXT_PHOTO)
        if read is None:
            return
        if read.sw3 != Status.SUCCESS:
            self._set_state("error", f"read card: {sam.status_text(read.sw3)}")
            return
        try:
            data = sam.unpack_read_data(read.data)
            card = sam.parse_text(data.text, photo=data.photo)
        except CardFormatError as exc:
            self._set_state("error", f"unreadable card: {exc}")
            return
        self._present = True
        self._set_state("ok")
        if not card.valid_check_digit:
            log.warning("card %r has an invalid check digit", card)
        self.hub.emit(CardEvent(card))

    def _transact(self, op: Op) -> ReplyFrame | None:
        """Send `op` and wait for its reply, retrying on silence or corruption."""
        assert self._port is not None
        # A read reply is ~1.3 KB: at 9600 baud that alone is 1.35 s on the wire.
        timeout = self.reply_timeout + (1300 * 10 / self._baudrate if op != Op.FIND_CARD else 0)
        corrupted = False
        for _attempt in range(1 + self.retries):
            self._port.reset_input_buffer()
            self._parser.reset()
            self._port.write(sam.command_frame(op))
            reply, bad = self._await_reply(op, time.monotonic() + timeout)
            corrupted |= bad
            if reply is not None:
                self._silent = 0
                return reply
            if self._stop.is_set():
                return None
        if corrupted:
            self._set_state("error", f"{op.name.lower()}: corrupted replies")
        else:
            self.counters["silent_polls"] += 1
            self._silent += 1
            if self._silent >= self.silent_polls:
                self._present = False
                self._set_state("offline", "reader does not answer")
        return None

    def _await_reply(self, op: Op, deadline: float) -> tuple[ReplyFrame | None, bool]:
        assert self._port is not None
        while time.monotonic() < deadline and not self._stop.is_set():
            chunk = self._port.read(max(1, self._port.in_waiting))
            for event in self._parser.feed(chunk) if chunk else ():
                if isinstance(event, Garbage):
                    self.counters["garbage_bytes"] += len(event.data)
                elif isinstance(event, ChecksumError):
                    self.counters["checksum_errors"] += 1
                    return None, True  # that was the reply; ask again at once
                elif _plausible(op, event):
                    return event, False
                else:
                    self.counters["stale_replies"] += 1
        self.counters["timeouts"] += 1
        return None, False

    def _set_state(self, state: str, detail: str = "") -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        log.info("reader %s: %s %s", self.address, state, detail)
        self.hub.emit(StateEvent(state, detail))


def _plausible(op: Op, reply: ReplyFrame) -> bool:
    """Reject a late reply to an earlier command (e.g. a slow read arriving during find)."""
    if op == Op.FIND_CARD:
        return reply.sw3 in (Status.CARD_FOUND, Status.NO_CARD)
    return reply.sw3 != Status.CARD_FOUND


def open_reader(address: str, **settings: Any) -> CardReader:
    """Start a reader at `address`; ``sim:`` starts an in-process simulator on loopback TCP,
    reachable as ``reader.simulator`` (place and remove cards on it)."""
    if parse_address(address).scheme != "sim":
        return CardReader(address, **settings).start()
    from devices.sim.links import TcpLink
    from devices.sim.reader_sim import ReaderSimulator

    simulator = ReaderSimulator()
    link = TcpLink(simulator)
    reader = CardReader(link.address, **settings)
    reader.simulator = simulator
    reader.closed_hook = link.close
    return reader.start()
