"""Online appointments over the real API on a real SQLite file: every booking rule and refusal,
check-in at the kiosk by code and by ID card, inside and outside the arrival window."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from hall_server.app import make_app
from hall_server.config import AppointmentRules, parse_config
from hall_server.core import idnumber
from hall_server.core.appointments import ALPHABET, Calendar, suspended_until
from hall_server.core.identity import identity_from_card
from hall_server.http.appointments import PHONE_PROOF
from hall_server.http.common import APPOINTMENTS, HALL
from hall_server.store.appointments import attendance
from tests.support import add_demo_accounts, bearer, paired

TZ = ZoneInfo("Asia/Shanghai")
HALL_TOML = """
[hall]
id = "t"
name = "测试镇便民服务中心"
hours = ["08:30-12:00", "14:00-17:30"]

[appointments]
share = 0.5

# These tests are about the booking rules; the per-client limits have their own tests
# (tests/security), so one test client may book as many visitors here.
[security.limits]
book = "1000/minute"
book_contact = "1000/minute"
cancel = "1000/minute"
sms = "1000/minute"

[[service]]
code = "social"
prefix = "A"
name = "社会保障"
mean_service_min = 10

[[service]]
code = "tax"
prefix = "B"
name = "税务"
mean_service_min = 15

[[service]]
code = "estate"
prefix = "F"
name = "不动产登记"
mean_service_min = 24

[[window]]
id = "1"
services = ["social"]

[[window]]
id = "2"
services = ["social", "tax"]

[[window]]
id = "3"
services = ["tax"]

[[window]]
id = "4"
services = ["estate"]

[[kiosk]]
id = "k1"
"""
THU, FRI, SAT, MON, TUE, WED2, THU2 = (
    "2026-11-26",
    "2026-11-27",
    "2026-11-28",
    "2026-11-30",
    "2026-12-01",
    "2026-12-02",
    "2026-12-03",
)


def at(day: str, hhmm: str) -> float:
    """An instant in the hall's time zone."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ).timestamp()


def id_number(n: int, born: str = "19800101") -> str:
    first17 = f"110105{born}{n:03d}"
    return first17 + idnumber.check_digit(first17)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-11-25", "10:00"))  # a Wednesday morning


async def start_hall(
    aiohttp_client, tmp_path: Path, clock: Clock, phone_proof: bool = False
) -> TestClient:
    """The test hall on a real SQLite file, with accounts manager and staffN (window N);
    with `phone_proof`, it sends booking codes through its log sender."""
    toml = HALL_TOML
    if phone_proof:
        proof = '[security]\nphone_proof = "log"\n\n[security.limits]'
        toml = toml.replace("[security.limits]", proof)
    config = parse_config(toml)
    add_demo_accounts(tmp_path / "hall.db", config)
    app = make_app(config, tmp_path / "hall.db", clock=clock)
    return await aiohttp_client(app, headers=bearer(paired(tmp_path / "hall.db", "k1")))


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, clock: Clock) -> TestClient:
    return await start_hall(aiohttp_client, tmp_path, clock)


HOLDER = {"contact": id_number(1)}  # what the default booking was made with


async def book(client: TestClient, expect: int = 201, **fields) -> dict:
    body = {"service": "social", "date": THU, "slot": "09:00", "name": "张三丰"}
    body.setdefault("id_number", id_number(1)) if "phone" not in fields else None
    r = await client.post("/api/v1/appointments", json={**body, **fields})
    assert r.status == expect, await r.text()
    return await r.json()


book_as = book


async def code_of(resp_json: dict) -> str:
    return resp_json["error"]["code"]


async def check_in(client: TestClient, **body) -> dict:
    r = await client.post("/api/v1/tickets", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


# -- the plan ---------------------------------------------------------------------------------


async def test_slots_cover_opening_hours_with_capacity_from_windows_and_share(
    client: TestClient,
) -> None:
    r = await client.get(f"/api/v1/appointments/slots?service=social&date={THU}")
    plan = await r.json()
    assert plan["bookable"] and plan["slot_min"] == 30
    slots = [s["slot"] for s in plan["slots"]]
    assert slots[:2] == ["08:30", "09:00"] and slots[6] == "11:30" and slots[7] == "14:00"
    assert len(slots) == 14 and "12:00" not in slots and "17:30" not in slots
    # social: 2 windows × 30 min ÷ 10 min × 0.5 = 3; tax: 2 × 30 ÷ 15 × 0.5 = 2
    assert {s["capacity"] for s in plan["slots"]} == {3}
    r = await client.get(f"/api/v1/appointments/slots?service=tax&date={THU}")
    assert {s["available"] for s in (await r.json())["slots"]} == {2}


async def test_fractions_of_a_place_are_carried_from_slot_to_slot(client: TestClient) -> None:
    r = await client.get(f"/api/v1/appointments/slots?service=estate&date={THU}")
    caps = [s["capacity"] for s in (await r.json())["slots"]]
    # one window, 24-minute visits, half the time: 0.625 a slot, 8.75 over 14 slots
    assert caps[:4] == [0, 1, 0, 1] and sum(caps) == 8
    assert await code_of(await book(client, 409, service="estate", slot="08:30")) == "slot_full"
    await book(client, service="estate", slot="09:00")


async def test_bookable_days_are_the_next_five_working_days(client: TestClient) -> None:
    r = await client.get("/api/v1/appointments/days")
    assert [d["date"] for d in await r.json()] == [THU, FRI, MON, TUE, WED2]


@pytest.mark.parametrize("day", ["2026-11-25", SAT, THU2, "2026-11-24"])
async def test_booking_today_a_weekend_or_beyond_five_working_days_is_refused(
    client: TestClient, day: str
) -> None:
    body = await book(client, 422, date=day)
    assert await code_of(body) == "date_not_bookable"
    assert body["error"]["dates"][0] == THU


def test_calendar_honours_public_holidays_and_worked_weekends() -> None:
    rules = AppointmentRules(closed_dates=[date(2026, 11, 27)], working_dates=[date(2026, 11, 28)])
    cal = Calendar(rules)
    assert not cal.is_working(date(2026, 11, 27)) and cal.is_working(date(2026, 11, 28))
    assert cal.working_days_after(date(2026, 11, 25), 3) == date(2026, 11, 30)


# -- booking ----------------------------------------------------------------------------------


async def test_booking_answers_an_unambiguous_code_and_a_qr_and_keeps_no_clear_numbers(
    client: TestClient, tmp_path: Path
) -> None:
    got = await book(client, name="欧阳小明")
    assert got["service"] == "social" and got["date"] == THU and got["slot"] == "09:00"
    assert len(got["code"]) == 8 and set(got["code"]) <= set(ALPHABET)
    assert got["name_masked"] == "欧**明" and got["status"] == "booked"
    assert got["arrive_from"].startswith(f"{THU}T08:45") and "09:30" in got["arrive_until"]
    qr = await client.get(got["qr"])
    assert qr.status == 200 and qr.content_type == "image/svg+xml"
    assert "<svg" in await qr.text()
    await book(client, service="tax", name="李四", phone="13812345678")
    raw = (tmp_path / "hall.db").read_bytes() + (tmp_path / "hall.db-wal").read_bytes()
    for secret in (id_number(1), "13812345678", "欧阳小明", "李四"):
        assert secret.encode() not in raw, secret


async def test_lookup_accepts_the_code_in_lower_case_with_spaces(client: TestClient) -> None:
    code = (await book(client))["code"]
    r = await client.get(f"/api/v1/appointments/{code[:4].lower()} {code[4:].lower()}")
    assert r.status == 200 and (await r.json())["code"] == code
    r = await client.get("/api/v1/appointments/ZZZZ2222")
    assert r.status == 404 and await code_of(await r.json()) == "unknown_appointment"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"slot": "12:00"}, 422, "unknown_slot"),
        ({"slot": "9h"}, 422, "invalid_field"),
        ({"service": "nope"}, 404, "unknown_service"),
        ({"id_number": "110105198001010010"}, 422, "invalid_id_number"),
        ({"id_number": None, "phone": "12345"}, 422, "invalid_phone"),
        ({"id_number": None}, 422, "missing_contact"),
        ({"name": ""}, 422, "invalid_field"),
        ({"date": "26/11/2026"}, 422, "invalid_field"),
    ],
)
async def test_bad_booking_requests_are_refused_clearly(
    client: TestClient, fields: dict, status: int, code: str
) -> None:
    assert await code_of(await book(client, status, **fields)) == code


async def test_malformed_booking_json_is_a_400(client: TestClient) -> None:
    r = await client.post(
        "/api/v1/appointments", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400 and await code_of(await r.json()) == "malformed_json"


async def test_a_full_slot_is_a_409_and_shows_no_place_left(client: TestClient) -> None:
    for n in (1, 2):
        await book(client, service="tax", id_number=id_number(n))
    body = await book(client, 409, service="tax", id_number=id_number(3))
    assert await code_of(body) == "slot_full"
    r = await client.get(f"/api/v1/appointments/slots?service=tax&date={THU}")
    slot = next(s for s in (await r.json())["slots"] if s["slot"] == "09:00")
    assert slot["booked"] == 2 and slot["available"] == 0


async def test_racing_for_the_last_places_never_overbooks(client: TestClient) -> None:
    results = await asyncio.gather(
        *(
            client.post(
                "/api/v1/appointments",
                json={
                    "service": "tax",
                    "date": FRI,
                    "slot": "10:00",
                    "name": "王五",
                    "id_number": id_number(n),
                },
            )
            for n in range(1, 7)
        )
    )
    assert sorted(r.status for r in results) == [201, 201, 409, 409, 409, 409]


async def test_one_booking_per_person_service_and_day(client: TestClient) -> None:
    await book(client)
    again = await book(client, 409, slot="14:00")
    assert await code_of(again) == "already_booked"
    await book(client, service="tax")  # another service the same day
    await book(client, date=FRI)  # the same service another day
    await book(client, phone="13900000000", id_number=None)
    assert await code_of(await book(client, 409, phone="13900000000", id_number=None)) == (
        "already_booked"
    )


async def test_cancelling_frees_the_place_and_cannot_be_done_twice(client: TestClient) -> None:
    mine = await book(client, service="tax", id_number=id_number(1))
    await book(client, service="tax", id_number=id_number(2))
    r = await client.delete(f"/api/v1/appointments/{mine['code']}", json=HOLDER)
    assert r.status == 200 and (await r.json())["status"] == "cancelled"
    await book(client, service="tax", id_number=id_number(3))
    r = await client.delete(f"/api/v1/appointments/{mine['code']}", json=HOLDER)
    assert r.status == 409 and await code_of(await r.json()) == "appointment_cancelled"
    # having cancelled, the person may book that service that day again
    await book(client, service="tax", id_number=id_number(1), slot="10:00")


async def test_cancelling_closes_two_hours_before_the_slot(
    client: TestClient, clock: Clock
) -> None:
    code = (await book(client, slot="10:00"))["code"]
    clock.now = at(THU, "07:59")
    assert (await (await client.get(f"/api/v1/appointments/{code}")).json())["cancellable"]
    clock.now = at(THU, "08:01")
    r = await client.delete(f"/api/v1/appointments/{code}", json=HOLDER)
    assert r.status == 409 and await code_of(await r.json()) == "too_late_to_cancel"


async def proven_phone(client: TestClient, phone: str) -> str:
    """Ask for a booking code for `phone` and read it from the hall's log sender."""
    r = await client.post("/api/v1/appointments/phone-code", json={"phone": phone})
    assert r.status == 202, await r.text()
    sent_to, text = client.server.app[PHONE_PROOF].sender.sent[-1]
    assert sent_to == phone
    return re.search(r"\d{6}", text).group()


async def test_three_missed_appointments_suspend_booking_for_thirty_days(
    aiohttp_client, tmp_path: Path, clock: Clock
) -> None:
    """Only bookings whose phone was proven count (halls that send SMS codes)."""
    client = await start_hall(aiohttp_client, tmp_path, clock, phone_proof=True)
    phone = "13912345678"

    async def book(client: TestClient, expect: int = 201, **fields) -> dict:
        p = fields.pop("phone", phone)
        code = await proven_phone(client, p)
        return await book_as(client, expect, phone=p, phone_code=code, **fields)

    for day in (THU, FRI, MON):
        await book(client, date=day)
    clock.now = at(TUE, "08:00")  # the three slots are over and nobody came
    swept = await client.server.app[APPOINTMENTS].sweep()
    assert swept == 3
    body = await book(client, 409, date=WED2)
    assert await code_of(body) == "booking_suspended"
    assert body["error"]["until"].startswith("2026-12-30T10:00")  # Monday 09:30 + 30 min + 30 days
    await book(client, date=WED2, phone="13912345679")  # others are not affected
    clock.now = at("2026-12-31", "08:00")
    await book(client, date="2027-01-04")


def test_suspension_counts_misses_in_a_sliding_window_and_starts_afresh() -> None:
    rules = AppointmentRules()
    day = 86400.0
    assert suspended_until([0, 10 * day], rules, 11 * day) is None
    assert suspended_until([0, 10 * day, 20 * day], rules, 21 * day) == 50 * day
    assert suspended_until([0, 50 * day, 100 * day], rules, 101 * day) is None  # spread out
    # after a suspension the count starts again
    assert suspended_until([0, 1 * day, 2 * day, 40 * day], rules, 41 * day) is None


async def test_a_missed_appointment_is_recorded_but_not_one_checked_in(
    client: TestClient, clock: Clock
) -> None:
    missed = (await book(client, slot="09:00"))["code"]
    kept = (await book(client, slot="09:00", id_number=id_number(2)))["code"]
    clock.now = at(THU, "09:05")
    await check_in(client, appointment=kept)
    clock.now = at(THU, "09:59")
    assert await client.server.app[APPOINTMENTS].sweep() == 0  # not yet: slot end + 30 min
    clock.now = at(THU, "10:01")
    assert await client.server.app[APPOINTMENTS].sweep() == 1
    statuses = {
        c: (await (await client.get(f"/api/v1/appointments/{c}")).json())["status"]
        for c in (missed, kept)
    }
    assert statuses == {missed: "missed", kept: "checked_in"}


# -- check-in at the kiosk ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hhmm", "outcome", "priority"),
    [
        ("08:44", "too_early", "normal"),
        ("08:45", "on_time", "appointment"),
        ("09:00", "on_time", "appointment"),
        ("09:20", "late", "appointment"),
        ("09:30", "late", "appointment"),
        ("09:31", "too_late", "normal"),
    ],
)
async def test_check_in_by_code_gives_an_appointment_ticket_only_inside_the_window(
    client: TestClient, clock: Clock, hhmm: str, outcome: str, priority: str
) -> None:
    code = (await book(client, service="tax"))["code"]
    clock.now = at(THU, hhmm)
    got = await check_in(client, appointment=code.lower())
    assert got["appointment_status"] == outcome
    assert got["ticket"]["priority"] == priority
    assert got["ticket"]["service"] == "tax" and got["ticket"]["number"].startswith("B")
    assert got["appointment"]["message"] and got["appointment"]["message_en"]
    after = await (await client.get(f"/api/v1/appointments/{code}")).json()
    assert after["status"] == ("checked_in" if priority == "appointment" else "arrived")
    if outcome == "late":
        assert after["late_s"] == (at(THU, hhmm) - at(THU, "09:00"))


async def test_check_in_message_says_when_to_come(client: TestClient, clock: Clock) -> None:
    code = (await book(client))["code"]
    clock.now = at(THU, "08:30")
    got = await check_in(client, appointment=code)
    assert "08:45" in got["appointment"]["message"] and "09:30" in got["appointment"]["message"]


async def test_an_appointment_checks_in_once(client: TestClient, clock: Clock) -> None:
    code = (await book(client))["code"]
    clock.now = at(THU, "08:55")
    first, second = await asyncio.gather(
        client.post("/api/v1/tickets", json={"appointment": code}),
        client.post("/api/v1/tickets", json={"appointment": code}),
    )
    bodies = [await first.json(), await second.json()]
    assert sorted(b["appointment_status"] for b in bodies) == ["already_used", "on_time"]
    assert sorted(b["ticket"]["priority"] for b in bodies) == ["appointment", "normal"]


async def test_a_code_for_another_day_or_cancelled_gives_a_normal_ticket(
    client: TestClient, clock: Clock
) -> None:
    other_day = (await book(client, date=FRI))["code"]
    cancelled = (await book(client, id_number=id_number(2)))["code"]
    await client.delete(f"/api/v1/appointments/{cancelled}", json={"contact": id_number(2)})
    clock.now = at(THU, "09:00")
    got = await check_in(client, appointment=other_day, service="tax")
    assert got["appointment_status"] == "wrong_day" and got["ticket"]["priority"] == "normal"
    assert got["ticket"]["service"] == "tax" and FRI in got["appointment"]["message"]
    got = await check_in(client, appointment=cancelled)
    assert got["appointment_status"] == "cancelled" and got["ticket"]["service"] == "social"
    lookup = await (await client.get(f"/api/v1/appointments/{other_day}")).json()
    assert lookup["status"] == "booked"


async def test_unknown_code_or_no_service_at_the_kiosk_is_refused(client: TestClient) -> None:
    r = await client.post("/api/v1/tickets", json={"appointment": "ABCD2345"})
    assert r.status == 404 and await code_of(await r.json()) == "unknown_appointment"
    r = await client.post("/api/v1/tickets", json={"kiosk": "k1"})
    assert r.status == 422 and (await r.json())["error"]["field"] == "service"


@pytest.mark.parametrize(
    ("hhmm", "outcome", "priority"),
    [("08:40", "too_early", "normal"), ("09:10", "late", "appointment")],
)
async def test_swiping_the_id_card_finds_todays_appointment(
    client: TestClient, clock: Clock, hhmm: str, outcome: str, priority: str
) -> None:
    await book(client, service="tax", id_number=id_number(7))
    clock.now = at(THU, hhmm)
    card = {"id_number": id_number(7), "name": "张三丰"}
    got = await check_in(client, id_card=card, kiosk="k1")
    assert got["appointment_status"] == outcome
    assert got["ticket"]["priority"] == priority and got["ticket"]["service"] == "tax"
    assert got["ticket"]["name_masked"] == "张*丰"


async def test_a_card_without_an_appointment_for_the_service_gives_a_plain_ticket(
    client: TestClient, clock: Clock
) -> None:
    await book(client, service="tax", id_number=id_number(7))
    clock.now = at(THU, "09:00")
    got = await check_in(
        client, service="social", id_card={"id_number": id_number(7), "name": "张三丰"}
    )
    assert "appointment_status" not in got and got["ticket"]["priority"] == "normal"
    got = await check_in(client, service="tax", id_card={"id_number": id_number(8), "name": "李四"})
    assert "appointment_status" not in got and got["ticket"]["service"] == "tax"


async def test_a_card_read_at_the_kiosk_checks_in_the_next_ticket_taken_there(
    client: TestClient, clock: Clock
) -> None:
    await book(client, id_number=id_number(9))
    clock.now = at(THU, "09:00")
    hall = client.server.app[HALL]
    card = {"id_number": id_number(9), "name": "赵六"}
    hall.attach_identity("k1", identity_from_card(card, hall.identity_key, hall.today()))
    got = await check_in(client, kiosk="k1")
    assert got["appointment_status"] == "on_time"
    assert got["ticket"]["priority"] == "appointment" and got["ticket"]["name_masked"] == "赵*"
    assert hall.pending_identity == {}


async def test_an_appointment_ticket_is_called_before_walk_ins(
    client: TestClient, clock: Clock
) -> None:
    code = (await book(client, service="tax"))["code"]
    clock.now = at(THU, "08:50")
    walk_in = (await check_in(client, service="tax"))["ticket"]
    booked = (await check_in(client, appointment=code))["ticket"]
    r = await client.post("/api/v1/auth/login", json={"username": "staff3", "password": "demo"})
    auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
    called = await (await client.post("/api/v1/windows/3/call", headers=auth)).json()
    assert called["ticket"]["number"] == booked["number"] != walk_in["number"]
    db = sqlite3.connect(client.server.app[HALL].store.path)
    assert (
        db.execute("SELECT appointment FROM tickets WHERE id = ?", (booked["id"],)).fetchone()[0]
        == code
    )


async def test_staff_see_the_days_appointments_masked(client: TestClient) -> None:
    await book(client, name="张三丰")
    r = await client.get(f"/api/v1/appointments?date={THU}")
    assert r.status == 401
    r = await client.post("/api/v1/auth/login", json={"username": "staff1", "password": "demo"})
    auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
    listing = await (await client.get(f"/api/v1/appointments?date={THU}", headers=auth)).json()
    assert [a["name_masked"] for a in listing] == ["张*丰"]
    assert listing[0]["contact_masked"].endswith(id_number(1)[-4:])
    assert id_number(1) not in str(listing)


async def test_attendance_counts_each_outcome_for_reports(client: TestClient, clock: Clock) -> None:
    codes = [(await book(client, id_number=id_number(n)))["code"] for n in range(1, 4)]
    cancelled = (await book(client, service="tax"))["code"]
    await client.delete(f"/api/v1/appointments/{cancelled}", json=HOLDER)
    clock.now = at(THU, "08:50")
    await check_in(client, appointment=codes[0])
    clock.now = at(THU, "09:10")
    await check_in(client, appointment=codes[1])
    clock.now = at(THU, "12:00")
    await client.server.app[APPOINTMENTS].sweep()
    rows = attendance(client.server.app[HALL].store.path, THU, THU)
    assert rows == [
        {"day": THU, "service": "social", "booked": 3, "on_time": 1, "late": 1,
         "outside_window": 0, "missed": 1, "cancelled": 0},
        {"day": THU, "service": "tax", "booked": 0, "on_time": 0, "late": 0,
         "outside_window": 0, "missed": 0, "cancelled": 1},
    ]  # fmt: skip
