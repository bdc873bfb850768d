"""A SAM ID-card reader that answers with the exact frames of devices.md.

It holds one virtual card that tests place and remove, follows find -> select -> read (a read
without a select since the card was placed fails with SW3 41, as on a real SAM), and takes
injected faults that apply to the next matching replies:

- ``bad_checksum``: the reply's checksum byte is flipped
- ``garbage``: noise (with a broken preamble in it) is sent before the reply
- ``slow``: the reply is held back for `slow_s` seconds
- ``read_failed``: a read is answered with SW3 41
- ``no_reply``: the command is ignored
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from devices import sam
from devices.sam import Card, CardData, ChecksumError, CommandFrame, Op, Status

FAULTS = ("bad_checksum", "garbage", "slow", "read_failed", "no_reply")
_DEFAULT_FAULT_OP = {"slow": Op.READ_TEXT_PHOTO, "read_failed": Op.READ_TEXT_PHOTO}
_READS = (Op.READ_TEXT_PHOTO, Op.READ_TEXT_PHOTO_FINGERPRINT)
GARBAGE = b"\x00\x13\xaa\xaa\x96\x69\xaa\xaa\xaa\x96\xff"
SAM_ID = bytes.fromhex("0501") + bytes(14)  # real SAM id layout unconfirmed; 16 bytes


@dataclass
class _Fault:
    kind: str
    op: int | None
    times: int


class ReaderSimulator:
    """Virtual reader; attach it with `PtyLink(sim)` or `TcpLink(sim)`."""

    def __init__(
        self, *, baudrate: int = 115200, wire_time: bool = False, slow_s: float = 0.3
    ) -> None:
        self.baudrate = baudrate
        self.wire_time = wire_time
        self.slow_s = slow_s
        self.received: Counter[int] = Counter()  # commands seen, by op
        self._parser = sam.FrameParser(CommandFrame)
        self._lock = threading.Lock()
        self._card: CardData | None = None
        self._selected = False
        self._faults: list[_Fault] = []

    def place(self, card: Card, photo: bytes | None = None) -> None:
        """Put a card on the reader (replacing any card there)."""
        with self._lock:
            self._card = CardData(
                text=sam.encode_text(card),
                photo=photo if photo is not None else card.photo.ljust(sam.PHOTO_LEN, b"\0"),
            )
            self._selected = False

    def place_text(self, text: bytes, photo: bytes = bytes(sam.PHOTO_LEN)) -> None:
        """Put a card with a raw text block, for layouts `encode_text` refuses to produce."""
        with self._lock:
            self._card = CardData(text=text, photo=photo)
            self._selected = False

    def remove(self) -> None:
        """Take the card away."""
        with self._lock:
            self._card = None
            self._selected = False

    def inject(self, fault: str, *, times: int = 1, op: Op | None = None) -> None:
        """Make the next `times` replies to `op` (default: reads for slow/read_failed, else
        any command) misbehave as `fault`."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(fault, op or _DEFAULT_FAULT_OP.get(fault), times))

    def clear_faults(self) -> None:
        """Drop every injected fault not yet used."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """Injected fault occurrences not yet used up."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def receive(self, data: bytes, send: Callable[[bytes], None]) -> None:
        """Link entry point: parse host frames and answer each one."""
        for event in self._parser.feed(data):
            if isinstance(event, ChecksumError):
                self._send(sam.reply_frame(Status.HOST_CHECKSUM_ERROR), send)
            elif isinstance(event, CommandFrame):
                self._answer(event, send)

    def _answer(self, command: CommandFrame, send: Callable[[bytes], None]) -> None:
        with self._lock:
            self.received[command.op] += 1
            fault = self._take_fault(command.op)
            if fault == "no_reply":
                return
            if fault == "read_failed" and command.op in _READS:
                reply = sam.reply_frame(Status.CARD_READ_FAILED)
            else:
                reply = self._reply(command.op)
        if fault == "bad_checksum":
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        elif fault == "garbage":
            reply = GARBAGE + reply
        elif fault == "slow":
            time.sleep(self.slow_s)
        self._send(reply, send)

    def _take_fault(self, op: int) -> str | None:
        for fault in self._faults:
            if fault.op is None or fault.op == op:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault.kind
        return None

    def _reply(self, op: int) -> bytes:
        card = self._card
        if op in (Op.RESET_SAM, Op.SAM_STATUS):
            return sam.reply_frame(Status.SUCCESS)
        if op == Op.READ_SAM_ID:
            return sam.reply_frame(Status.SUCCESS, SAM_ID)
        if op == Op.FIND_CARD:
            if card is None:
                return sam.reply_frame(Status.NO_CARD)
            return sam.reply_frame(Status.CARD_FOUND, bytes(4))
        if op == Op.SELECT_CARD:
            if card is None:
                return sam.reply_frame(Status.SELECT_FAILED)
            self._selected = True
            return sam.reply_frame(Status.SUCCESS, bytes(8))
        if op in _READS:
            if card is None or not self._selected:
                return sam.reply_frame(Status.CARD_READ_FAILED)
            if op == Op.READ_TEXT_PHOTO_FINGERPRINT:
                card = CardData(card.text, card.photo, fingerprint=b"")
            return sam.reply_frame(Status.SUCCESS, sam.pack_read_data(card))
        if op == Op.READ_EXTRA_ADDRESS:
            return sam.reply_frame(Status.NO_CONTENT)
        return sam.reply_frame(Status.HOST_COMMAND_ERROR)

    def _send(self, reply: bytes, send: Callable[[bytes], None]) -> None:
        if self.wire_time:
            time.sleep(len(reply) * 10 / self.baudrate)  # 8N1: ten bit times per byte
        send(reply)
