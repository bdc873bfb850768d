"""The messages a kiosk's device loop and the hall server exchange, in one place for both
sides: `devices.agent` (on the kiosk PC, or inside the server) and
``hall_server/device_hub.py``. On the wire each is a JSON object with a ``"type"``; here each
is a dataclass, built with its fields and turned into that object by `to_dict`, and read back
by `parse`.

Server -> agent: `Welcome` first on every connection, then `Print` once per job and attempt
(the same attempt again prints nothing; a reprint has the next attempt).

Agent -> server: `Hello` answers the welcome with what is fitted and what became of the jobs
it knows; `DeviceState` on every change and as a sign of life; `JobReport` as a job moves
(``queued`` acknowledges a `Print`); `CardRead` with ``Card.to_server_dict``: the number,
name, birth date and age, sent only over TLS or inside one PC; the server hashes the number
with the hall's identity key, which no kiosk holds, and keeps the hash, masked name and age.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Welcome:
    """First on every connection. (Servers before issue 14 also sent the hall's identity key;
    no kiosk holds it any more: the server hashes the numbers it is sent over TLS.)"""

    type: ClassVar[str] = "welcome"
    kiosk: str
    public_url: str | None = None


@dataclass(frozen=True)
class TicketFields:
    """What a printed ticket says (the QR code points at the public URL + ``qr_path``)."""

    hall_name: str
    service_name: str
    number: str
    ahead: int
    eta_text: str
    issued_at_text: str
    qr_path: str
    footer: str = ""
    item_name: str = ""  # the 事项 the visitor came for, when they chose one


@dataclass(frozen=True)
class Print:
    type: ClassVar[str] = "print"
    job: str
    attempt: int
    ticket: TicketFields


@dataclass(frozen=True)
class JobReport:
    """``state``: queued, printing, done or failed; ``reason`` why it failed: paper_out,
    paper_low, offline, error, io_error, no_printer (and, decided by the server, lost)."""

    type: ClassVar[str] = "job"
    job: str
    attempt: int
    state: str
    reason: str = ""


@dataclass(frozen=True)
class Hello:
    type: ClassVar[str] = "hello"
    agent: str
    printer: bool
    reader: bool
    jobs: list[JobReport] = field(default_factory=list)


@dataclass(frozen=True)
class DeviceState:
    """Printer ``ok paper_low paper_out offline error``, reader ``ok offline error``; None
    when the device is not fitted."""

    type: ClassVar[str] = "device"
    printer: str | None
    reader: str | None
    printer_detail: str = ""
    reader_detail: str = ""


@dataclass(frozen=True)
class CardRead:
    type: ClassVar[str] = "card"
    card: dict[str, Any]


Message = Welcome | Print | JobReport | Hello | DeviceState | CardRead
_TYPES: dict[str, type[Any]] = {
    c.type: c for c in (Welcome, Print, JobReport, Hello, DeviceState, CardRead)
}


def to_dict(msg: Message) -> dict[str, Any]:
    """The JSON object sent on the wire."""
    return {"type": msg.type, **asdict(msg)}


def parse(data: dict[str, Any]) -> Message | None:
    """The message in a received object; None for a type this side does not know (newer
    peers may send more). Raises KeyError, TypeError or ValueError for a malformed one."""
    cls = _TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    if cls is Print:
        return Print(str(data["job"]), int(data.get("attempt", 1)), _ticket(data["ticket"]))
    if cls is JobReport:
        return _job(data)
    if cls is Hello:
        jobs = data.get("jobs") or []
        if not isinstance(jobs, list):
            raise TypeError("jobs must be a list")
        return Hello(
            str(data.get("agent", "")),
            bool(data.get("printer")),
            bool(data.get("reader")),
            [_job(j) for j in jobs],
        )
    if cls is DeviceState:
        return DeviceState(
            _opt_str(data.get("printer")),
            _opt_str(data.get("reader")),
            str(data.get("printer_detail") or "")[:200],
            str(data.get("reader_detail") or "")[:200],
        )
    if cls is CardRead:
        card = data.get("card")
        if not isinstance(card, dict):
            raise TypeError("card must be an object")
        return CardRead(card)
    return Welcome(str(data["kiosk"]), _opt_str(data.get("public_url")) or None)


def _job(data: Any) -> JobReport:
    if not isinstance(data, dict):
        raise TypeError("a job report must be an object")
    return JobReport(
        str(data["job"]), int(data["attempt"]), str(data["state"]), str(data.get("reason") or "")
    )


def _ticket(data: Any) -> TicketFields:
    if not isinstance(data, dict):
        raise TypeError("ticket must be an object")
    names = {f.name for f in fields(TicketFields)}
    values = {k: v for k, v in data.items() if k in names}
    return TicketFields(**{**values, "ahead": int(values.get("ahead", 0))})


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
