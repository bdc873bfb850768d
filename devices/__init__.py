"""Kiosk devices: ID-card reader and ticket printer, with byte-faithful simulators.

Addresses (devices.md): ``serial:///dev/ttyUSB0?baudrate=115200`` (``serial://COM3``),
``tcp://host:port``, ``usb://04b8:0202`` (printer), ``file:///path/out.bin`` (printer, appends)
and ``sim:`` (in-process simulator on loopback TCP, reachable as ``.simulator``).

Reader::

    reader = open_reader(address, on_card=cb, on_state=cb2,      # -> CardReader, started
                         poll_interval=0.25, baudrate=115200)
    on_card(card: Card)                 # once per placement, on the reader thread
    on_state(state: str, detail: str)   # "ok" | "offline" | "error"
    async for event in reader.events(): ...   # StateEvent(state, detail) | CardEvent(card)
    reader.stop()

    card.to_public_dict(hash_key)   # masked name/number, identity_hash, age, gender,
                                    # valid_check_digit, expired; never the clear number
    card.valid_check_digit, card.age(), card.card_type  # "resident" | "hmt_residence" |
                                                        # "foreign_permanent"

Printer::

    printer = open_printer(address, encoding="gb18030",   # or "gbk", "utf-8"
                           chinese_mode=False, cut="partial", qr_size=6, timeout=1.0)
    printer.status()   # "ok" | "paper_low" | "paper_out" | "offline" | "error"
    jobs = PrintQueue(printer, on_job=cb)
    job = jobs.submit(TicketPrint(hall_name, service_name, number, ahead, eta_text,
                                  issued_at_text, qr_url, footer=""), job_id=None)
    jobs.wait(job.id) / await jobs.wait_async(job.id)   # PrintJob: state queued|printing|
    jobs.reprint(job.id)                                #   done|failed, reason, attempts
    async for job in jobs.updates(): ...
    jobs.close(); printer.close()

A job id is printed at most once unless reprinted; a failed job keeps its reason
(paper_out, offline, error, io_error). ID number rules live in `hall_server.core.idnumber`.
Names below are imported lazily so that the card codec (`devices.sam`) stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "open_reader": "devices.reader",
    "CardReader": "devices.reader",
    "CardEvent": "devices.reader",
    "StateEvent": "devices.reader",
    "open_printer": "devices.printer",
    "Printer": "devices.printer",
    "PrinterError": "devices.printer",
    "PrintQueue": "devices.printer",
    "PrintJob": "devices.printer",
    "TicketPrint": "devices.escpos_ticket",
    "Card": "devices.sam",
    "CardType": "devices.sam",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'devices' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
