"""Online appointments (网上预约): slots, the booking rules, and check-in at the kiosk.

A day is cut into slots (``[appointments] slot_min``) over the hall's hours. A slot of a service
holds as many appointments as the windows serving it can see in that time, times the share of
window time kept for appointments: ``windows × slot_min ÷ mean_service_min × share``, the
fractions carried from slot to slot; the rest of the time is for visitors who just walk in.

Rules, all from ``[appointments]``: book from ``min_days_ahead`` days up to
``max_working_days_ahead`` working days ahead (weekends and ``closed_dates`` excluded,
``working_dates`` included); one booking per person, service and day; cancel until
``cancel_before_min`` before the slot; ``suspend_after_missed`` missed appointments within
``suspend_window_days`` suspend booking for ``suspend_days``. A *person* is the keyed hash of the
ID number (the same hash a card read at the kiosk gives, so a swipe finds the booking) or of
the phone number; neither number is stored in clear and the name is stored masked.

Check-in, by the confirmation code or by the ID card, from ``early_min`` before the slot to
``late_min`` after its start gives an ``appointment`` ticket; outside that the visitor gets a
normal ticket and a sentence saying why. An appointment nobody checked in to by the slot's end
plus ``missed_after_min`` is *missed*: it counts towards a suspension.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hall_server.config import AppointmentRules
from hall_server.core.engine import Priority

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed on a kiosk
CODE_LENGTH = 8
#: Statuses that hold a place in a slot (a cancelled one frees it).
HOLDING = ("booked", "checked_in", "arrived", "missed")
DAY_S = 86400.0


class Calendar:
    """Working days: Monday to Friday, minus ``closed_dates``, plus ``working_dates`` (调休)."""

    def __init__(self, rules: AppointmentRules) -> None:
        self.closed = set(rules.closed_dates)
        self.working = set(rules.working_dates)

    def is_working(self, d: date) -> bool:
        return d in self.working or (d.weekday() < 5 and d not in self.closed)

    def working_days_after(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d``."""
        while n > 0:
            d += timedelta(days=1)
            n -= self.is_working(d)
        return d


def normalize_code(code: str) -> str:
    """Visitors type codes with spaces or dashes, in lower case."""
    return re.sub(r"[\s-]", "", code).upper()


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(hh_mm: str) -> int:
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


def suspended_until(missed_at: list[float], rules: AppointmentRules, now: float) -> float | None:
    """When booking opens again for someone who missed at these instants, or None if it is open.

    Misses are counted in a sliding window of ``suspend_window_days``; reaching
    ``suspend_after_missed`` starts a suspension, and counting starts afresh after it."""
    window, until = rules.suspend_window_days * DAY_S, None
    recent: list[float] = []
    for at in sorted(missed_at):
        if until is not None and at < until:
            continue
        recent = [x for x in recent if at - x < window] + [at]
        if len(recent) >= rules.suspend_after_missed:
            until, recent = at + rules.suspend_days * DAY_S, []
    return until if until is not None and until > now else None


def mask_contact(id_number: str | None, phone: str | None) -> str:
    """Enough to tell two of one's own bookings apart, too little to identify anyone."""
    if phone:
        return "*" * (len(phone) - 4) + phone[-4:]
    assert id_number
    return "*" * (len(id_number) - 4) + id_number[-4:]


@dataclass
class Arrival:
    """What a check-in decided: the ticket to issue and what to tell the visitor."""

    service: str | None
    priority: Priority = Priority.NORMAL
    appointment: dict[str, Any] | None = None
    status: str | None = None
    consumes: bool = False
    late_s: float | None = None

    def view(self, zh: Callable[..., str], en: Callable[..., str]) -> dict[str, Any]:
        """What to add to the ticket's answer; ``zh`` and ``en`` translate (``checkin.*``)."""
        if self.appointment is None:
            return {}
        a = self.appointment
        words = {
            "slot": a["slot"],
            "date": a["date"],
            "from": a["arrive_from"][11:16],
            "until": a["arrive_until"][11:16],
            "late": math.ceil((self.late_s or 0) / 60),
        }
        return {
            "appointment_status": self.status,
            "appointment": {
                "code": a["code"],
                "service": a["service"],
                "date": a["date"],
                "slot": a["slot"],
                "status": self.status,
                "message": zh(f"checkin.{self.status}", **words),
                "message_en": en(f"checkin.{self.status}", **words),
            },
        }


def slot_capacities(
    windows: int, mean_service_min: float, rules: AppointmentRules, n: int
) -> list[int]:
    """Places per slot of the day. A slot's share of window time is seldom a whole number of
    visits (one window, 12-minute visits: 0.75 per slot), so the fractions are carried from
    slot to slot instead of each being rounded down to nothing."""
    rate = windows * rules.slot_min / mean_service_min * rules.share
    return [math.floor((k + 1) * rate + 1e-9) - math.floor(k * rate + 1e-9) for k in range(n)]


def status_at(row: dict[str, Any], rules: AppointmentRules, now: float) -> str:
    """The stored status, with a booking past its grace shown as missed before the sweep."""
    if row["status"] == "booked" and now > row["slot_end"] + rules.missed_after_min * 60:
        return "missed"
    return str(row["status"])


def check_in_outcome(
    status: str, claimed: bool, on_day: bool, slot_start: float, rules: AppointmentRules, now: float
) -> str:
    """What arriving now makes of an appointment: ``on_time`` and ``late`` get an appointment
    ticket; ``too_early``, ``too_late``, ``wrong_day`` and the rest a normal one."""
    if claimed or status in ("checked_in", "arrived"):
        return "already_used"
    if status != "booked":
        return status
    if not on_day:
        return "wrong_day"
    if now < slot_start - rules.early_min * 60:
        return "too_early"
    if now <= slot_start:
        return "on_time"
    if now <= slot_start + rules.late_min * 60:
        return "late"
    return "too_late"
