"""The booking desk: online appointments and check-in at the kiosk, over the hall and its
store. The rules are in ``core/appointments.py`` (read its docstring first); the SQL in
``store/appointments.py``."""

from __future__ import annotations

import asyncio
import hmac
from datetime import date, datetime, time, timedelta
from typing import Any

from hall_server.config import HallConfig
from hall_server.core import idnumber
from hall_server.core.appointments import (
    DAY_S,
    Arrival,
    Calendar,
    check_in_outcome,
    hhmm,
    mask_contact,
    minutes,
    normalize_code,
    slot_capacities,
    status_at,
    suspended_until,
)
from hall_server.core.engine import Priority, Ticket
from hall_server.core.errors import DomainError
from hall_server.core.identity import Identity
from hall_server.core.phone import MOBILE as PHONE
from hall_server.hall import Hall
from hall_server.i18n import translator
from hall_server.store import appointments as store


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
            a, b = (minutes(x) for x in span.split("-"))
            out += [(m, m + step) for m in range(a, b - step + 1, step)]
        return out

    def capacities(self, service: str) -> list[int]:
        """Places per slot of the day (`slot_capacities`)."""
        svc = self.hall.services[service]
        windows = sum(1 for w in self.config.window if service in w.services)
        return slot_capacities(windows, svc.mean_service_min, self.rules, len(self.slot_times()))

    def _instant(self, d: date, minutes: int) -> float:
        return (datetime.combine(d, time(), self.hall.tz) + timedelta(minutes=minutes)).timestamp()

    def slots(self, service: str, day: date) -> dict[str, Any]:
        self.hall.engine.service(service)
        days = self.bookable_days()
        caps = self.capacities(service)
        taken = store.taken_per_slot(self.hall.store, service, day.isoformat())
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
            if not PHONE.match(phone):
                raise DomainError(
                    "invalid", "invalid_phone", "a mobile number has 11 digits, 1 first"
                )
            return idnumber.identity_hash("TEL" + phone, key), "phone"
        raise DomainError(
            "invalid", "missing_contact", "give an ID number or a mobile phone number"
        )

    def missed_times(self, person: str, now: float) -> list[float]:
        grace = self.rules.missed_after_min * 60
        since = now - (self.rules.suspend_window_days + self.rules.suspend_days) * DAY_S
        ends = store.missed_slot_ends(self.hall.store, person, since, grace, now)
        return [end + grace for end in ends]

    async def book(
        self,
        service: str,
        day: date,
        slot: str,
        name: str,
        id_number: str | None = None,
        phone: str | None = None,
        item: str | None = None,
        verified: bool = False,
    ) -> dict[str, Any]:
        """`verified`: the booker proved the phone; only then do missed appointments count
        towards a suspension (nobody is penalised on an identity that was never proven)."""
        self.hall.engine.service(service)
        if item is not None and item not in {i.code for i in self.hall.services[service].items}:
            raise DomainError(
                "invalid", "unknown_item", f"service {service!r} has no item {item!r}", field="item"
            )
        now = self.hall.clock()
        days = self.bookable_days()
        if day not in days:
            raise DomainError(
                "invalid",
                "date_not_bookable",
                f"appointments can be made for {days[0]} to {days[-1]}, working days only",
                dates=[d.isoformat() for d in days],
                params={"first": days[0].isoformat(), "last": days[-1].isoformat()},
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
                params={"until_date": self.hall.local(until).date().isoformat()},
            )
        start, end = times[slot]
        row = {
            "service": service,
            "item": item,
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
            "verified": int(verified),
        }
        capacity = self.capacities(service)[slots.index(times[slot])]
        code = await asyncio.to_thread(
            store.insert, self.hall.store, row, capacity, self.rules.per_person_per_service_day
        )
        return self.lookup(code)

    def _row(self, code: str) -> dict[str, Any]:
        row = store.by_code(self.hall.store, normalize_code(code))
        if row is None:
            raise DomainError("not_found", "unknown_appointment", "no appointment has this code")
        return row

    def status_of(self, row: dict[str, Any], now: float) -> str:
        return status_at(row, self.rules, now)

    def lookup(self, code: str) -> dict[str, Any]:
        """What the holder of the code may see: no contact number, a masked name."""
        r = self._row(code)
        now = self.hall.clock()
        svc = self.hall.services[r["service"]]
        item = next((i for i in svc.items if i.code == r.get("item")), None)
        early, late = self.rules.early_min * 60, self.rules.late_min * 60
        cancel_until = r["slot_start"] - self.rules.cancel_before_min * 60
        status = self.status_of(r, now)
        return {
            "code": r["code"],
            "service": r["service"],
            "service_name": svc.name,
            "service_name_en": svc.name_en,
            "item": item.code if item else None,
            "item_name": item.name if item else None,
            "item_name_en": item.name_en if item else None,
            "date": r["day"],
            "slot": r["slot"],
            "slot_end": hhmm(round((r["slot_end"] - r["slot_start"]) / 60) + minutes(r["slot"])),
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

    async def cancel(self, code: str, contact: str | None, staff: bool = False) -> dict[str, Any]:
        """The holder proves it with the ID or phone number the booking was made with (or
        staff cancel); a code alone, which a phone screen or a printout may show, is not
        enough."""
        r = self._row(code)
        if not staff and not self._holds(r, contact):
            raise DomainError(
                "forbidden", "wrong_contact", "give the ID or phone number used to book"
            )
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
                params={"minutes": self.rules.cancel_before_min},
            )
        await self._update(r["code"], "booked", status="cancelled", cancelled_at=now)
        return self.lookup(r["code"])

    def _holds(self, row: dict[str, Any], contact: str | None) -> bool:
        contact = (contact or "").strip()
        if not contact:
            return False
        kind = "phone" if PHONE.match(contact) else "id"
        try:
            person, _ = self.person_of(
                contact if kind == "id" else None, contact if kind == "phone" else None
            )
        except DomainError:
            return False
        return hmac.compare_digest(person, row["person"])

    async def _update(self, code: str, expect: str, **values: Any) -> None:
        await asyncio.to_thread(store.update, self.hall.store, code, expect, values)

    async def sweep(self) -> int:
        """Record as missed the bookings nobody checked in to (`store.mark_missed`)."""
        grace, now = self.rules.missed_after_min * 60, self.hall.clock()
        return await asyncio.to_thread(store.mark_missed, self.hall.store, grace, now)

    def listing(self, day: date) -> list[dict[str, Any]]:
        """The day's appointments for the hall's staff (masked names, no numbers, and no
        codes: a code checks in at the kiosk, so a list of them would let anyone at a staff
        PC take other people's places)."""
        out = []
        for c in store.codes_of_day(self.hall.store, day.isoformat()):
            a = self.lookup(c)
            del a["qr"]
            a["code"] = "*" * (len(c) - 2) + c[-2:]
            out.append(a)
        return out

    # -- check-in at the kiosk ---------------------------------------------------------------

    def _match(self, person: str, service: str | None) -> dict[str, Any] | None:
        """Today's booked appointment of a person who swiped their card: the one for the
        service they chose, or, choosing none, the earliest."""
        rows = store.booked_of_person(self.hall.store, person, self.hall.today().isoformat())
        if service is not None:
            rows = [r for r in rows if r["service"] == service]
        return rows[0] if rows else None

    def arrival(
        self, service: str | None, code: str | None, identity: Identity | None, kiosk: str | None
    ) -> Arrival:
        """Decide what a visitor checking in gets; nothing is written yet."""
        row: dict[str, Any] | None
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
                    params={"detail": "required without an appointment"},
                )
            return Arrival(service)
        now = self.hall.clock()
        a = self.lookup(row["code"])
        start = row["slot_start"]
        outcome = check_in_outcome(
            self.status_of(row, now),
            row["code"] in self._claimed,
            row["day"] == self.hall.today().isoformat(),
            start,
            self.rules,
            now,
        )
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
        item: str | None = None,
    ) -> tuple[Ticket, dict[str, Any]]:
        """Issue a ticket, checking in an appointment given by code or found by the card; the
        second value is what to add to the answer (``appointment_status`` and a message)."""
        arrival = self.arrival(service, code, identity, kiosk)
        assert arrival.service is not None
        code = arrival.appointment["code"] if arrival.consumes and arrival.appointment else None
        if code:
            self._claimed.add(code)
        if (
            item is None
            and arrival.appointment
            and arrival.service == arrival.appointment.get("service")
        ):
            item = arrival.appointment.get("item")  # what they booked, carried to the ticket
        try:
            ticket = await self.hall.issue(
                arrival.service,
                kiosk=kiosk,
                identity=identity,
                priority=arrival.priority,
                appointment=code,
                item=item,
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
        return ticket, arrival.view(translator("zh"), translator("en"))
