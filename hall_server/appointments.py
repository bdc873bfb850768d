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

import asyncio
import io
import math
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg

from devices import idnumber
from hall_server.config import AppointmentRules, HallConfig
from hall_server.core.engine import Priority, Ticket
from hall_server.core.errors import DomainError
from hall_server.core.identity import Identity
from hall_server.hall import Hall

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed on a kiosk
CODE_LENGTH = 8
#: Statuses that hold a place in a slot (a cancelled one frees it).
HOLDING = ("booked", "checked_in", "arrived", "missed")
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_DAY_S = 86400.0


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


def _minutes(hh_mm: str) -> int:
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def suspended_until(missed_at: list[float], rules: AppointmentRules, now: float) -> float | None:
    """When booking opens again for someone who missed at these instants, or None if it is open.

    Misses are counted in a sliding window of ``suspend_window_days``; reaching
    ``suspend_after_missed`` starts a suspension, and counting starts afresh after it."""
    window, until, recent = rules.suspend_window_days * _DAY_S, None, []
    for at in sorted(missed_at):
        if until is not None and at < until:
            continue
        recent = [x for x in recent if at - x < window] + [at]
        if len(recent) >= rules.suspend_after_missed:
            until, recent = at + rules.suspend_days * _DAY_S, []
    return until if until is not None and until > now else None


def mask_contact(id_number: str | None, phone: str | None) -> str:
    """Enough to tell two of one's own bookings apart, too little to identify anyone."""
    if phone:
        return phone[:3] + "****" + phone[-4:]
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

    def view(self) -> dict[str, Any]:
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
        zh, en = MESSAGES[self.status or ""]
        return {
            "appointment_status": self.status,
            "appointment": {
                "code": a["code"],
                "service": a["service"],
                "date": a["date"],
                "slot": a["slot"],
                "status": self.status,
                "message": zh.format(**words),
                "message_en": en.format(**words),
            },
        }


MESSAGES = {
    "on_time": ("预约签到成功，已为您取预约号", "Checked in for your appointment"),
    "late": (
        "您迟到了 {late} 分钟，仍按预约为您取号",
        "You are {late} min late; checked in for your appointment",
    ),
    "too_early": (
        "还没到签到时间（{from}–{until}），已为您取普通号",
        "Too early for your appointment (check-in {from}–{until}): this is a normal ticket",
    ),
    "too_late": (
        "已过签到时间（{from}–{until}），已为您取普通号",
        "Check-in for your appointment closed at {until}: this is a normal ticket",
    ),
    "missed": (
        "预约已过期，已为您取普通号",
        "Your appointment has lapsed: this is a normal ticket",
    ),
    "wrong_day": (
        "您的预约在 {date} {slot}，今天为您取普通号",
        "Your appointment is on {date} at {slot}: today this is a normal ticket",
    ),
    "cancelled": (
        "该预约已取消，已为您取普通号",
        "That appointment was cancelled: this is a normal ticket",
    ),
    "already_used": (
        "该预约已经签到过，已为您取普通号",
        "That appointment was already checked in: this is a normal ticket",
    ),
}


class Appointments:
    """Booking and check-in for one hall (its store, clock, configuration and identity key)."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.config: HallConfig = hall.config
        self.rules = hall.config.appointments
        self.calendar = Calendar(self.rules)
        self._claimed: set[str] = set()

    # -- the plan: days, slots, capacity -----------------------------------------------------

    def bookable_days(self, today: date | None = None) -> list[date]:
        d = (today or self.hall.today()) + timedelta(days=self.rules.min_days_ahead - 1)
        out: list[date] = []
        while len(out) < self.rules.max_working_days_ahead:
            d += timedelta(days=1)
            if self.calendar.is_working(d):
                out.append(d)
        return out

    def slot_times(self) -> list[tuple[int, int]]:
        """Slots as (start, end) minutes after midnight; a slot never straddles a break."""
        step = self.rules.slot_min
        out = []
        for span in self.rules.hours or self.config.hall.hours:
            a, b = (_minutes(x) for x in span.split("-"))
            out += [(m, m + step) for m in range(a, b - step + 1, step)]
        return out

    def capacities(self, service: str) -> list[int]:
        """Places per slot of the day. A slot's share of window time is seldom a whole number of
        visits (one window, 12-minute visits: 0.75 per slot), so the fractions are carried from
        slot to slot instead of each being rounded down to nothing."""
        svc = self.hall.services[service]
        windows = sum(1 for w in self.config.window if service in w.services)
        rate = windows * self.rules.slot_min / svc.mean_service_min * self.rules.share
        n = len(self.slot_times())
        return [math.floor((k + 1) * rate + 1e-9) - math.floor(k * rate + 1e-9) for k in range(n)]

    def _instant(self, d: date, minutes: int) -> float:
        return (datetime.combine(d, time(), self.hall.tz) + timedelta(minutes=minutes)).timestamp()

    def slots(self, service: str, day: date) -> dict[str, Any]:
        self.hall.engine.service(service)
        days = self.bookable_days()
        caps = self.capacities(service)
        taken = {
            r["slot"]: r["n"]
            for r in self.hall.store.db.query(
                "SELECT slot, count(*) AS n FROM appointments WHERE service = ? AND day = ? "
                f"AND status IN ({', '.join('?' * len(HOLDING))}) GROUP BY slot",
                [service, day.isoformat(), *HOLDING],
            )
        }
        bookable = day in days
        out = []
        for cap, (start, end) in zip(caps, self.slot_times(), strict=True):
            n = taken.get(hhmm(start), 0)
            out.append(
                {
                    "slot": hhmm(start),
                    "end": hhmm(end),
                    "capacity": cap,
                    "booked": n,
                    "available": max(0, cap - n) if bookable else 0,
                }
            )
        return {
            "service": service,
            "date": day.isoformat(),
            "bookable": bookable,
            "slot_min": self.rules.slot_min,
            "slots": out,
        }

    # -- booking -----------------------------------------------------------------------------

    def person_of(self, id_number: str | None, phone: str | None) -> tuple[str, str]:
        """The keyed hash that stands for the visitor, and what kind of number it came from."""
        key = self.hall.identity_key
        if id_number:
            number = idnumber.normalize(id_number)
            if not idnumber.is_valid(number):
                raise DomainError(
                    "invalid",
                    "invalid_id_number",
                    "the ID number is not valid (GB 11643 check digit)",
                )
            return idnumber.identity_hash(number, key), "id"
        if phone:
            if not _PHONE.match(phone):
                raise DomainError(
                    "invalid", "invalid_phone", "a mobile number has 11 digits, 1 first"
                )
            return idnumber.identity_hash("TEL" + phone, key), "phone"
        raise DomainError(
            "invalid", "missing_contact", "give an ID number or a mobile phone number"
        )

    def missed_times(self, person: str, now: float) -> list[float]:
        grace = self.rules.missed_after_min * 60
        since = now - (self.rules.suspend_window_days + self.rules.suspend_days) * _DAY_S
        return [
            r["slot_end"] + grace
            for r in self.hall.store.db.query(
                "SELECT slot_end FROM appointments WHERE person = ? AND slot_end >= ? AND "
                "(status = 'missed' OR (status = 'booked' AND slot_end + ? < ?))",
                [person, since, grace, now],
            )
        ]

    async def book(
        self,
        service: str,
        day: date,
        slot: str,
        name: str,
        id_number: str | None = None,
        phone: str | None = None,
    ) -> dict[str, Any]:
        self.hall.engine.service(service)
        now = self.hall.clock()
        days = self.bookable_days()
        if day not in days:
            raise DomainError(
                "invalid",
                "date_not_bookable",
                f"appointments can be made for {days[0]} to {days[-1]}, working days only",
                dates=[d.isoformat() for d in days],
            )
        slots = self.slot_times()
        times = {hhmm(s): (s, e) for s, e in slots}
        if slot not in times:
            raise DomainError(
                "invalid", "unknown_slot", f"no slot {slot!r}; slots start at {list(times)}"
            )
        person, kind = self.person_of(id_number, phone)
        until = suspended_until(self.missed_times(person, now), self.rules, now)
        if until is not None:
            raise DomainError(
                "conflict",
                "booking_suspended",
                f"after {self.rules.suspend_after_missed} missed appointments booking is "
                f"suspended until {self.hall.local(until).date()}",
                until=self.hall.iso(until),
            )
        start, end = times[slot]
        row = {
            "service": service,
            "day": day.isoformat(),
            "slot": slot,
            "slot_start": self._instant(day, start),
            "slot_end": self._instant(day, end),
            "person": person,
            "person_kind": kind,
            "name_masked": idnumber.mask_name(name),
            "contact_masked": mask_contact(id_number and idnumber.normalize(id_number), phone),
            "status": "booked",
            "created_at": now,
        }
        capacity = self.capacities(service)[slots.index(times[slot])]
        code = await asyncio.to_thread(self._insert, row, capacity)
        return self.lookup(code)

    def _insert(self, row: dict[str, Any], capacity: int) -> str:
        """Check the slot and the person's limit and write, in one transaction, so two visitors
        racing for the last place cannot both get it."""
        with self.hall.store.writing() as db:
            c = db.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                holding = f"status IN ({', '.join('?' * len(HOLDING))})"
                (taken,) = c.execute(
                    f"SELECT count(*) FROM appointments WHERE service = ? AND day = ? AND slot = ? "
                    f"AND {holding}",
                    (row["service"], row["day"], row["slot"], *HOLDING),
                ).fetchone()
                if taken >= capacity:
                    raise DomainError(
                        "conflict", "slot_full", f"the {row['slot']} slot of {row['day']} is full"
                    )
                (mine,) = c.execute(
                    f"SELECT count(*) FROM appointments WHERE person = ? AND service = ? "
                    f"AND day = ? AND {holding}",
                    (row["person"], row["service"], row["day"], *HOLDING),
                ).fetchone()
                if mine >= self.rules.per_person_per_service_day:
                    raise DomainError(
                        "conflict",
                        "already_booked",
                        "this person already has an appointment for this service that day",
                    )
                while True:
                    code = new_code()
                    try:
                        cols = ["code", *row]
                        c.execute(
                            f"INSERT INTO appointments ({', '.join(cols)}) "
                            f"VALUES ({', '.join('?' * len(cols))})",
                            (code, *row.values()),
                        )
                        break
                    except sqlite3.IntegrityError:
                        continue
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return code

    def _row(self, code: str) -> dict[str, Any]:
        rows = list(
            self.hall.store.db.query(
                "SELECT * FROM appointments WHERE code = ?", [normalize_code(code)]
            )
        )
        if not rows:
            raise DomainError("not_found", "unknown_appointment", "no appointment has this code")
        return rows[0]

    def status_of(self, row: dict[str, Any], now: float) -> str:
        """The stored status, with a booking past its grace shown as missed before the sweep."""
        grace = self.rules.missed_after_min * 60
        if row["status"] == "booked" and now > row["slot_end"] + grace:
            return "missed"
        return row["status"]

    def lookup(self, code: str) -> dict[str, Any]:
        """What the holder of the code may see: no contact number, a masked name."""
        r = self._row(code)
        now = self.hall.clock()
        svc = self.hall.services[r["service"]]
        early, late = self.rules.early_min * 60, self.rules.late_min * 60
        cancel_until = r["slot_start"] - self.rules.cancel_before_min * 60
        status = self.status_of(r, now)
        return {
            "code": r["code"],
            "service": r["service"],
            "service_name": svc.name,
            "service_name_en": svc.name_en,
            "date": r["day"],
            "slot": r["slot"],
            "slot_end": hhmm(round((r["slot_end"] - r["slot_start"]) / 60) + _minutes(r["slot"])),
            "name_masked": r["name_masked"],
            "contact_masked": r["contact_masked"],
            "status": status,
            "arrive_from": self.hall.iso(r["slot_start"] - early),
            "arrive_until": self.hall.iso(r["slot_start"] + late),
            "cancel_until": self.hall.iso(cancel_until),
            "cancellable": status == "booked" and now < cancel_until,
            "late_s": r["late_s"],
            "qr": f"/api/v1/appointments/{r['code']}/qr.svg",
        }

    async def cancel(self, code: str) -> dict[str, Any]:
        r = self._row(code)
        now = self.hall.clock()
        status = self.status_of(r, now)
        if status != "booked":
            raise DomainError("conflict", f"appointment_{status}", f"the appointment is {status}")
        if now >= r["slot_start"] - self.rules.cancel_before_min * 60:
            raise DomainError(
                "conflict",
                "too_late_to_cancel",
                f"appointments can be cancelled until {self.rules.cancel_before_min} minutes "
                "before the slot",
            )
        await self._update(r["code"], "booked", status="cancelled", cancelled_at=now)
        return self.lookup(r["code"])

    async def _update(self, code: str, expect: str, **values: Any) -> None:
        def write() -> None:
            sets = ", ".join(f"{k} = ?" for k in values)
            with self.hall.store.writing() as db:
                db.execute(
                    f"UPDATE appointments SET {sets} WHERE code = ? AND status = ?",
                    [*values.values(), code, expect],
                )

        await asyncio.to_thread(write)

    async def sweep(self) -> int:
        """Record as missed the bookings nobody checked in to (a ticket carrying the code
        counts as a check-in, should the server have stopped between the two writes)."""
        grace, now = self.rules.missed_after_min * 60, self.hall.clock()

        def write() -> int:
            with self.hall.store.writing() as db:
                cur = db.execute(
                    "UPDATE appointments SET status = 'missed' WHERE status = 'booked' "
                    "AND slot_end + ? < ? AND code NOT IN "
                    "(SELECT appointment FROM tickets WHERE appointment IS NOT NULL)",
                    [grace, now],
                )
                return cur.rowcount

        return await asyncio.to_thread(write)

    def listing(self, day: date) -> list[dict[str, Any]]:
        """The day's appointments for the hall's staff (masked names, no numbers)."""
        codes = [
            r["code"]
            for r in self.hall.store.db.query(
                "SELECT code FROM appointments WHERE day = ? ORDER BY slot_start, created_at",
                [day.isoformat()],
            )
        ]
        return [self.lookup(c) for c in codes]

    # -- check-in at the kiosk ---------------------------------------------------------------

    def _match(self, person: str, service: str | None) -> dict[str, Any] | None:
        """Today's booked appointment of a person who swiped their card: the one for the
        service they chose, or, choosing none, the earliest."""
        rows = list(
            self.hall.store.db.query(
                "SELECT * FROM appointments WHERE person = ? AND day = ? AND status = 'booked' "
                "ORDER BY slot_start",
                [person, self.hall.today().isoformat()],
            )
        )
        if service is not None:
            rows = [r for r in rows if r["service"] == service]
        return rows[0] if rows else None

    def arrival(
        self, service: str | None, code: str | None, identity: Identity | None, kiosk: str | None
    ) -> Arrival:
        """Decide what a visitor checking in gets; nothing is written yet."""
        if code:
            row = self._row(code)
        else:
            who = identity or self._peek_identity(kiosk)
            row = self._match(who.hash, service) if who else None
        if row is None:
            if service is None:
                raise DomainError(
                    "invalid",
                    "invalid_field",
                    "service: required without an appointment",
                    field="service",
                )
            return Arrival(service)
        now = self.hall.clock()
        a = self.lookup(row["code"])
        start = row["slot_start"]
        status = self.status_of(row, now)
        if row["code"] in self._claimed or status in ("checked_in", "arrived"):
            outcome = "already_used"
        elif status != "booked":
            outcome = status
        elif row["day"] != self.hall.today().isoformat():
            outcome = "wrong_day"
        elif now < start - self.rules.early_min * 60:
            outcome = "too_early"
        elif now <= start:
            outcome = "on_time"
        elif now <= start + self.rules.late_min * 60:
            outcome = "late"
        else:
            outcome = "too_late"
        consumes = outcome in ("on_time", "late", "too_early", "too_late")
        return Arrival(
            service=row["service"] if consumes or service is None else service,
            priority=Priority.APPOINTMENT if outcome in ("on_time", "late") else Priority.NORMAL,
            appointment=a,
            status=outcome,
            consumes=consumes,
            late_s=now - start if outcome in ("late", "too_late") else None,
        )

    def _peek_identity(self, kiosk: str | None) -> Identity | None:
        """A card read at the kiosk, left in place for :meth:`Hall.issue` to take."""
        held = self.hall.pending_identity.get(kiosk) if kiosk else None
        return held[0] if held and held[1] >= self.hall.clock() else None

    async def issue(
        self,
        service: str | None,
        kiosk: str | None = None,
        identity: Identity | None = None,
        code: str | None = None,
    ) -> tuple[Ticket, dict[str, Any]]:
        """Issue a ticket, checking in an appointment given by code or found by the card; the
        second value is what to add to the answer (``appointment_status`` and a message)."""
        arrival = self.arrival(service, code, identity, kiosk)
        assert arrival.service is not None
        code = arrival.appointment["code"] if arrival.consumes and arrival.appointment else None
        if code:
            self._claimed.add(code)
        try:
            ticket = await self.hall.issue(
                arrival.service,
                kiosk=kiosk,
                identity=identity,
                priority=arrival.priority,
                appointment=code,
            )
            if code:
                await self._update(
                    code,
                    "booked",
                    status="checked_in" if arrival.priority is Priority.APPOINTMENT else "arrived",
                    arrived_at=ticket.issued_at,
                    late_s=arrival.late_s,
                    ticket_id=ticket.id,
                )
        finally:
            if code:
                self._claimed.discard(code)
        return ticket, arrival.view()

    def qr_svg(self, code: str) -> str:
        """The code as a QR (a kiosk's scanner reads it like typed input)."""
        r = self._row(code)
        img = qrcode.make(r["code"], image_factory=qrcode.image.svg.SvgPathImage, border=2)
        buf = io.BytesIO()
        img.save(buf)
        return buf.getvalue().decode()


def attendance(
    db_path: str | Path, date_from: date | str, date_to: date | str
) -> list[dict[str, Any]]:
    """Per day and service, for reports: how many were booked (not cancelled), checked in on
    time, late, came outside their window, missed, and how many were cancelled. Opens its own
    read-only connection: run it in a thread."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT day, service, "
            "sum(status != 'cancelled'), "
            "sum(status = 'checked_in' AND coalesce(late_s, 0) <= 0), "
            "sum(status = 'checked_in' AND late_s > 0), "
            "sum(status = 'arrived'), sum(status = 'missed'), sum(status = 'cancelled') "
            "FROM appointments WHERE day >= ? AND day <= ? GROUP BY day, service "
            "ORDER BY day, service",
            (str(date_from), str(date_to)),
        ).fetchall()
    finally:
        conn.close()
    names = ("booked", "on_time", "late", "outside_window", "missed", "cancelled")
    return [{"day": r[0], "service": r[1], **dict(zip(names, r[2:], strict=True))} for r in rows]
