"""Finding 2: a script booked all 1,638 places in 3 s with random phone numbers, and three
bookings made with a victim's ID number, then skipped, suspended the victim for a month."""

from __future__ import annotations

import random
import re

from aiohttp.test_utils import TestClient

from hall_server.core import idnumber
from hall_server.guard.edge import LIMITER
from hall_server.guard.pow import solve
from hall_server.http.appointments import PHONE_PROOF
from hall_server.http.common import APPOINTMENTS, HALL
from tests.security.conftest import Start, auth, client_ip, demo_with, login

VICTIM = "11010519800101" + "001"
VICTIM += idnumber.check_digit(VICTIM)


async def first_free_slot(client: TestClient) -> tuple[str, str]:
    days = await (await client.get("/api/v1/appointments/days")).json()
    for d in days:
        r = await client.get(f"/api/v1/appointments/slots?service=tax&date={d['date']}")
        for s in (await r.json())["slots"]:
            if s["available"] > 0:
                return d["date"], s["slot"]
    raise AssertionError("no place left")


async def book(client: TestClient, headers: dict | None = None, **who) -> tuple[int, dict]:
    day, slot = await first_free_slot(client)
    body = {"service": "tax", "date": day, "slot": slot, "name": "测试", **who}
    r = await client.post("/api/v1/appointments", json=body, headers=headers or {})
    return r.status, await r.json()


async def test_a_booking_flood_from_one_client_is_stopped(start: Start) -> None:
    client = await start()
    rng = random.Random(7)
    places = 0
    for _ in range(40):
        phone = f"13{rng.randrange(10**9):09d}"
        status, body = await book(client, client_ip(1), phone=phone)
        if status != 201:
            break
        places += 1
    assert status == 429 and body["error"]["code"] == "too_many_requests"
    limit = client.app[LIMITER].limit("book")
    print(f"\nbooking places one flooding client got before 429: {places}")
    assert places == limit
    r = await client.post("/api/v1/appointments", json={}, headers=client_ip(1))
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    status, _ = await book(client, client_ip(2), phone="13900000001")  # someone else: fine
    assert status == 201


async def test_one_number_cannot_book_past_its_limit_from_many_clients(start: Start) -> None:
    client = await start()
    got = [(await book(client, client_ip(n), phone="13900000002"))[0] for n in range(10, 16)]
    # one booking per person, service and day (409), and at most 3 tries a day (429)
    assert got[0] == 201 and 429 in got and got.count(201) == 1


async def test_bookings_in_a_strangers_name_never_suspend_them(start: Start) -> None:
    client = await start(demo_with(phone_proof="log"))
    desk = client.app[APPOINTMENTS]
    # the attacker cannot even book with the victim's ID alone any more: a phone must be proven
    status, body = await book(client, client_ip(3), id_number=VICTIM)
    assert status == 403 and body["error"]["code"] == "phone_not_verified"
    # bookings that were never proven (made before the hall required proof, say), and one
    # proven booking of someone else, all missed ...
    hall = client.app[HALL]
    days = desk.bookable_days()[:3]
    for day in days:
        await desk.book("tax", day, "09:00", "张三", id_number=VICTIM)
    await desk.book("tax", days[0], "09:30", "李四", phone="13900000009", verified=True)
    after = desk._instant(days[-1], 23 * 60)
    hall.clock = lambda: after
    assert await desk.sweep() == 4
    # ... do not suspend the victim; the proven booker's miss counts
    assert desk.missed_times(desk.person_of(VICTIM, None)[0], after) == []
    assert len(desk.missed_times(desk.person_of(None, "13900000009")[0], after)) == 1


async def test_a_phone_code_is_needed_works_once_and_wrong_guesses_spend_it(start: Start) -> None:
    client = await start(demo_with(phone_proof="log"))
    phone = "13912340000"
    r = await client.post("/api/v1/appointments/phone-code", json={"phone": phone})
    assert r.status == 202
    _, text = client.app[PHONE_PROOF].sender.sent[-1]
    code = re.search(r"\d{6}", text).group()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    status, body = await book(client, phone=phone, phone_code=wrong)
    assert status == 403 and body["error"]["code"] == "phone_not_verified"
    status, body = await book(client, phone=phone, phone_code=code)
    assert status == 201
    status, _ = await book(client, client_ip(4), phone=phone, phone_code=code)
    assert status == 403  # used once
    # codes cannot be sent to a phone without end
    sent = [
        (await client.post("/api/v1/appointments/phone-code", json={"phone": phone},
                           headers=client_ip(5 + n))).status
        for n in range(4)
    ]  # fmt: skip
    assert sent[:2] == [202, 202] and sent[-1] == 429


async def test_cancelling_needs_the_number_the_booking_was_made_with(start: Start) -> None:
    client = await start()
    status, mine = await book(client, phone="13900000003")
    assert status == 201
    url = f"/api/v1/appointments/{mine['code']}"
    assert (await client.delete(url)).status == 403
    r = await client.delete(url, json={"contact": "13900000004"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "wrong_contact"
    r = await client.delete(url, json={"contact": "13900000003"})
    assert r.status == 200 and (await r.json())["status"] == "cancelled"


async def test_staff_cannot_list_every_appointment_code(start: Start) -> None:
    client = await start()
    status, mine = await book(client, phone="13900000005")
    assert status == 201
    staff = auth(await login(client, "staff1"))
    listing = await (
        await client.get(f"/api/v1/appointments?date={mine['date']}", headers=staff)
    ).json()
    assert mine["code"] not in str(listing)
    assert listing[0]["code"].endswith(mine["code"][-2:])
    assert listing[0]["contact_masked"] == "*******0005"  # at most the last four digits


async def test_a_flood_from_many_clients_must_prove_work(start: Start) -> None:
    """Past the hall-wide rate (book_all), every anonymous booking carries solved work; a
    phone's browser solves it (book.js), a script pays for each place."""
    client = await start(demo_with(limits={"book_all": "10/minute"}, pow_difficulty=12))
    statuses = []
    for n in range(14):  # each from its own address, each a new phone: only the work stops it
        status, body = await book(client, client_ip(100 + n), phone=f"1390000{n:04d}")
        statuses.append(status)
    assert statuses[:10] == [201] * 10 and set(statuses[10:]) == {428}
    assert body["error"]["code"] == "proof_of_work_required"
    challenge, bits = body["error"]["challenge"], body["error"]["difficulty"]
    proof = {"challenge": challenge, "nonce": solve(challenge, bits)}
    status, _ = await book(client, client_ip(200), phone="13900009999", pow=proof)
    assert status == 201
    status, again = await book(client, client_ip(201), phone="13900009998", pow=proof)
    assert status == 428 and again["error"]["code"] == "proof_of_work_required"  # good once
    bad = {"challenge": challenge[:-1] + "0", "nonce": proof["nonce"]}
    assert (await book(client, client_ip(202), phone="13900009997", pow=bad))[0] == 428
