"""An ESC/POS thermal printer that decodes the byte stream into printed tickets.

It understands what hallq and python-escpos send (ESC @ ! a E d t ..., GS ! V ( k v 0 ...,
FS & . !, DLE EOT n, LF and text in the configured encoding), records every other command in
`unknown`, and keeps a paper model: `state` is ``ok``, ``near_end``, ``out`` or ``offline``
(powered off: no answer, nothing printed), and `run_out_after(n)` makes the paper end after
n more printed lines. Once the paper is out, later bytes are consumed but not printed, and
the ticket that was being printed is kept with ``cut=None`` so a test sees the loss.

`needs_chinese_mode` models firmware that prints multi-byte text only after ``FS &``: without
it, GB18030/GBK bytes come out as single-byte code-page characters (mojibake).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

ESC, GS, FS, DLE, LF, CR, HT = 0x1B, 0x1D, 0x1C, 0x10, 0x0A, 0x0D, 0x09
STATES = ("ok", "near_end", "out", "offline")

# Commands with a fixed number of parameter bytes after the two-byte prefix.
# fmt: off
_FIXED_ARGS = {
    ESC: {"@": 0, "!": 1, "a": 1, "E": 1, "G": 1, "-": 1, "M": 1, "t": 1, "d": 1, "J": 1,
          "2": 0, "3": 1, "A": 1, "+": 1, "{": 1, "V": 1, "r": 1, "p": 3, "=": 1, "R": 1},
    GS: {"!": 1, "B": 1, "b": 1, "|": 1, "L": 2, "W": 2, "H": 1, "h": 1, "w": 1, "f": 1,
         "a": 1},
    FS: {"&": 0, ".": 0, "!": 1, "-": 1, "C": 1, "S": 2, "W": 1},
    DLE: {"\x04": 1, "\x05": 1, "\x14": 3},  # EOT n, ENQ n, DC4 fn m t
}
# fmt: on

_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


@dataclass(frozen=True)
class PrintedLine:
    """One printed line with the character size and style it was printed in."""

    text: str
    size: tuple[int, int] = (1, 1)  # GS ! / ESC ! width, height
    chinese_size: tuple[int, int] = (1, 1)  # FS ! width, height (Chinese mode)
    bold: bool = False
    align: str = "left"


@dataclass
class PrintedTicket:
    """Everything printed between two cuts; `cut` None means the paper ran out first."""

    lines: list[PrintedLine] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    images: list[tuple[int, int]] = field(default_factory=list)  # raster width, height in dots
    cut: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def complete(self) -> bool:
        return self.cut is not None

    def is_empty(self) -> bool:
        return not (self.lines or self.qr_codes or self.images)


class PrinterSimulator:
    """Virtual printer; attach with `PtyLink(sim)` or `TcpLink(sim)` (raw port 9100 style)."""

    _align: str  # set by _reset_modes (ESC @), changed by ESC a

    def __init__(self, *, encoding: str = "gb18030", needs_chinese_mode: bool = False) -> None:
        self.encoding = encoding
        self.needs_chinese_mode = needs_chinese_mode
        self.tickets: list[PrintedTicket] = []  # finished: cut, or cut short by paper out
        self.unknown: list[bytes] = []  # commands the simulator did not understand
        self.received = bytearray()  # every byte that arrived while powered on
        self._lock = threading.Lock()
        self._state = "ok"
        self._lines_left: int | None = None
        self._buf = bytearray()
        self._current = PrintedTicket()
        self._qr_data = b""
        self._reset_modes()

    # test controls ----------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        """``ok`` also means "paper refilled"; ``offline`` means powered off."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        with self._lock:
            self._state = state
            if state != "out":
                self._lines_left = None

    def run_out_after(self, lines: int) -> None:
        """The paper ends after `lines` more printed lines."""
        with self._lock:
            self._lines_left = lines

    def complete_tickets(self) -> list[PrintedTicket]:
        """Tickets that were printed through to the cut."""
        with self._lock:
            return [t for t in self.tickets if t.complete]

    # byte stream ------------------------------------------------------------------------

    def receive(self, data: bytes, send: Callable[[bytes], None]) -> None:
        """Link entry point: print what arrives, answer status queries."""
        answer = self.feed(data)
        if answer:
            send(answer)

    def feed(self, data: bytes) -> bytes:
        """Process bytes as the printer would; return what it answers."""
        with self._lock:
            if self._state == "offline":
                self._buf.clear()
                return b""
            self.received += data
            self._buf += data
            answer = bytearray()
            pos = 0
            while pos < len(self._buf):
                used = self._step(self._buf, pos, answer)
                if used == 0:
                    break  # incomplete command: wait for more bytes
                pos += used
            del self._buf[:pos]
            return bytes(answer)

    def _step(self, buf: bytearray, pos: int, answer: bytearray) -> int:
        """Consume one command or text byte at `pos`; 0 when more bytes are needed."""
        b = buf[pos]
        if b == LF:
            self._print_line()
            return 1
        if b in (CR, HT):
            if b == HT:
                self._line += b"    "
            return 1
        if b not in (ESC, GS, FS, DLE):
            self._line.append(b)
            return 1
        if pos + 1 >= len(buf):
            return 0
        key = (b, buf[pos + 1])
        if key == (GS, ord("(")):
            return self._gs_paren(buf, pos)
        if key == (GS, ord("v")):
            return self._raster(buf, pos)
        if key == (GS, ord("V")):
            return self._cut(buf, pos)
        n = _FIXED_ARGS[b].get(chr(buf[pos + 1]))
        if n is None:
            self.unknown.append(bytes(buf[pos : pos + 2]))
            return 2
        if pos + 2 + n > len(buf):
            return 0
        self._apply(key, bytes(buf[pos + 2 : pos + 2 + n]), answer)
        return 2 + n

    def _apply(self, key: tuple[int, int], args: bytes, answer: bytearray) -> None:
        prefix, code = key[0], chr(key[1])
        if prefix == DLE:
            if key[1] == 0x04:
                answer += self._status_byte(args[0])
        elif prefix == ESC:
            if code == "@":
                self._reset_modes()
            elif code == "!":
                self._bold = bool(args[0] & 0x08)
                self._size = (2 if args[0] & 0x20 else 1, 2 if args[0] & 0x10 else 1)
            elif code == "a":
                self._align = _ALIGN.get(args[0], self._align)
            elif code == "E":
                self._bold = bool(args[0] & 1)
            elif code == "d":
                self._print_line()
                for _ in range(args[0] - 1):
                    self._print_line()
        elif prefix == GS:
            if code == "!":
                self._size = ((args[0] >> 4) + 1, (args[0] & 0x0F) + 1)
        elif code == "&":
            self._chinese = True
        elif code == ".":
            self._chinese = False
        elif code == "!":
            self._chinese_size = (2 if args[0] & 0x04 else 1, 2 if args[0] & 0x08 else 1)

    def _gs_paren(self, buf: bytearray, pos: int) -> int:
        # GS ( X pL pH <pL + 256 pH bytes>; X = k is the 2D code function family.
        if pos + 5 > len(buf):
            return 0
        length = buf[pos + 3] | buf[pos + 4] << 8
        end = pos + 5 + length
        if end > len(buf):
            return 0
        body = bytes(buf[pos + 5 : end])
        if buf[pos + 2] == ord("k") and len(body) >= 2 and body[0] == ord("1"):
            fn = body[1]
            if fn == 80:  # store: m=48 then the data
                self._qr_data = body[3:]
            elif fn == 81 and self._paper_ok():  # print the stored symbol
                self._current.qr_codes.append(self._qr_data.decode("utf-8", errors="replace"))
        elif buf[pos + 2] != ord("k"):
            self.unknown.append(bytes(buf[pos : pos + 3]))
        return end - pos

    def _raster(self, buf: bytearray, pos: int) -> int:
        # GS v 0 m xL xH yL yH d1..dk with k = x bytes per row * y rows.
        if pos + 8 > len(buf):
            return 0
        x = buf[pos + 4] | buf[pos + 5] << 8
        y = buf[pos + 6] | buf[pos + 7] << 8
        end = pos + 8 + x * y
        if end > len(buf):
            return 0
        if self._paper_ok():
            self._current.images.append((x * 8, y))
        return end - pos

    def _cut(self, buf: bytearray, pos: int) -> int:
        # GS V m (0/48 full, 1/49 partial) or GS V m n (65 full, 66 partial, after feeding n).
        if pos + 3 > len(buf):
            return 0
        m = buf[pos + 2]
        used = 3
        if m in (65, 66):
            if pos + 4 > len(buf):
                return 0
            used = 4
        if self._paper_ok():
            self._current.cut = "full" if m in (0, 48, 65) else "partial"
            self.tickets.append(self._current)
            self._current = PrintedTicket()
        return used

    # printing ---------------------------------------------------------------------------

    def _reset_modes(self) -> None:
        self._line = bytearray()
        self._size = (1, 1)
        self._chinese_size = (1, 1)
        self._bold = False
        self._align = "left"
        self._chinese = False

    def _paper_ok(self) -> bool:
        return self._state != "out"

    def _print_line(self) -> None:
        raw, self._line = bytes(self._line), bytearray()
        if not self._paper_ok():
            return
        if self._lines_left is not None:
            if self._lines_left == 0:
                self._state = "out"
                if not self._current.is_empty():
                    self.tickets.append(self._current)  # cut=None: interrupted
                self._current = PrintedTicket()
                return
            self._lines_left -= 1
        self._current.lines.append(
            PrintedLine(
                text=raw.decode(self._text_encoding(), errors="replace"),
                size=self._size,
                chinese_size=self._chinese_size,
                bold=self._bold,
                align=self._align,
            )
        )

    def _text_encoding(self) -> str:
        if self.needs_chinese_mode and not self._chinese and self.encoding != "utf-8":
            return "cp437"
        return self.encoding

    def _status_byte(self, n: int) -> bytes:
        # Fixed bits 0x12 in every answer; see the DLE EOT table in devices.md.
        out = self._state == "out"
        if n == 1:
            return b"\x1e" if out else b"\x16"  # bit 3: off-line (paper end stops printing)
        if n == 2:
            return b"\x32" if out else b"\x12"  # bit 5: stopped by paper end
        if n == 4:
            return {"ok": b"\x12", "near_end": b"\x1e", "out": b"\x72"}[self._state]
        return b"\x12"
