"""Render a queue ticket to ESC/POS bytes with python-escpos primitives. No I/O.

python-escpos is used for what it does well: init, alignment, GS ! sizing, the native QR code
(``GS ( k`` model 2) and the cut. Text is encoded here instead of through its ``text()``:
that path sends any string containing a CJK ideograph as GB18030 whatever the printer is set
to, turns full-width punctuation on its own (``：``, ``（``) into ``?``, and inserts
``ESC t`` code-page switches that Chinese firmware does not expect. Chinese printers take
the whole line in one multi-byte encoding (GB18030, GBK or UTF-8, per model), so every line
is encoded in the configured one and sent with ``_raw``.
"""

from __future__ import annotations

from dataclasses import dataclass

from escpos.constants import FS, QR_ECLEVEL_M
from escpos.printer import Dummy

ENCODINGS = ("gb18030", "gbk", "utf-8")
CUTS = ("partial", "full")
CHINESE_MODE_ON = FS + b"&"


@dataclass(frozen=True)
class TicketPrint:
    """What goes on a ticket; every text is already formatted for display."""

    hall_name: str
    service_name: str
    number: str
    ahead: int
    eta_text: str
    issued_at_text: str
    qr_url: str
    footer: str = ""
    item_name: str = ""  # the 事项 the visitor came for, under the service, when they said


@dataclass(frozen=True)
class TicketFormat:
    """Printer-model settings that change the bytes.

    `chinese_mode` sends ``FS &`` after init and sizes Chinese text with ``FS !`` as well as
    ``GS !``, for models that print multi-byte text only in Chinese mode.
    """

    encoding: str = "gb18030"
    chinese_mode: bool = False
    cut: str = "partial"
    qr_size: int = 6
    number_scale: int = 4
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}")
        if self.cut not in CUTS:
            raise ValueError(f"cut must be one of {CUTS}")
        if not 1 <= self.qr_size <= 16 or not 1 <= self.number_scale <= 8:
            raise ValueError("qr_size must be 1-16 and number_scale 1-8")


class _Writer:
    """A python-escpos Dummy plus our own text encoding."""

    def __init__(self, fmt: TicketFormat) -> None:
        self.fmt = fmt
        self.p = Dummy(profile=fmt.profile)

    def line(self, text: str, *, scale: int = 1, bold: bool = False) -> None:
        # GS ! both ways: set(normal_textsize=True) only sends ESC ! 0, which some Chinese
        # firmware does not apply to a size chosen with GS !.
        self.p.set(custom_size=True, width=scale, height=scale, bold=bold)
        if self.fmt.chinese_mode:
            self.p._raw(FS + b"!" + bytes([0x0C if scale > 1 else 0x00]))
        self.p._raw(text.encode(self.fmt.encoding, errors="replace") + b"\n")

    def output(self) -> bytes:
        return self.p.output


def render_ticket(ticket: TicketPrint, fmt: TicketFormat | None = None) -> bytes:
    """The complete byte stream for one ticket, starting with ``ESC @`` and ending in a cut."""
    fmt = fmt or TicketFormat()
    w = _Writer(fmt)
    w.p.hw("INIT")
    if fmt.chinese_mode:
        w.p._raw(CHINESE_MODE_ON)
    w.p.set(align="center")
    w.line(ticket.hall_name, bold=True)
    w.line(ticket.service_name, scale=2)
    if ticket.item_name:
        w.line(ticket.item_name, bold=True)
    w.line(ticket.number, scale=fmt.number_scale, bold=True)
    w.line(f"前面还有 {ticket.ahead} 人")
    w.line(f"预计等候：{ticket.eta_text}")
    w.line(f"取号时间：{ticket.issued_at_text}")
    # Native QR: a few dozen bytes instead of a raster image. python-escpos refuses
    # center=True for native codes, so the ESC a 1 above does the centering.
    w.p.qr(ticket.qr_url, native=True, size=fmt.qr_size, ec=QR_ECLEVEL_M)
    w.p.print_and_feed(1)  # not ln(): it goes through text() and emits ESC t 0
    w.line("扫码查看排队进度")
    if ticket.footer:
        w.line(ticket.footer)
    w.p.cut(mode="PART" if fmt.cut == "partial" else "FULL")
    return w.output()
