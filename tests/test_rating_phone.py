"""A 差评's phone number over the real API and a real SQLite file: left by the visitor (phone
page or pad), kept sealed and shown masked, revealed only to a manager (audited), erased when
the rating is marked contacted or after the retention period, with the file and its WAL read
byte by byte afterwards."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from hall_server.app import make_app
from hall_server.config import parse_config
from hall_server.guard.phone_box import PhoneBox, Unreadable
from hall_server.http.common import HALL, RATINGS
from tests.test_appointments import HALL_TOML, Clock, at, start_hall
from tests.test_ratings import TODAY, login, rate, served

CLEAR = "13812345678"
MASKED = "138****5678"


@pytest.fixture
def clock() -> Clock:
    return Clock(at(TODAY, "10:00"))


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, clock: Clock) -> TestClient:
    return await start_hall(aiohttp_client, tmp_path, clock)


def on_disk(db: Path) -> bytes:
    """Every byte SQLite keeps for this database: the file, its WAL and shared memory."""
    return b"".join(
        p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")) if not p.name.endswith("key")
    )


def clear_forms(number: str) -> list[bytes]:
    """The number as text, as UTF-16 and as a packed integer, whichever way it could sit."""
    return [
        number.encode(),
        number.encode("utf-16-le"),
        int(number).to_bytes(8, "big"),
        f"{number[:3]} {number[3:7]} {number[7:]}".encode(),
    ]


def phone_row(db: Path, rating_id: int) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM rating_phones WHERE rating_id = ?", [rating_id])
        return dict(row.fetchone())


def audit(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, action, subject FROM audit_log ORDER BY id").fetchall()


async def reveal(client: TestClient, rating_id: int, headers: dict | None, expect: int) -> dict:
    r = await client.post(f"/api/v1/ratings/{rating_id}/phone/reveal", headers=headers)
    assert r.status == expect, await r.text()
    return await r.json()


async def bad_rating_with_phone(client: TestClient, phone: str = "+86 138-1234-5678") -> dict:
    t = await served(client)
    return await rate(client, token=t["token"], level=1, options=["attitude"], phone=phone)


async def test_bad_rating_keeps_phone_encrypted(client: TestClient, tmp_path: Path) -> None:
    got = await bad_rating_with_phone(client)
    assert got["phone_masked"] == MASKED and CLEAR not in str(got)
    db = tmp_path / "hall.db"
    row = phone_row(db, got["id"])
    assert row["masked"] == MASKED and row["erased_at"] is None
    sealed = row["sealed"]
    assert isinstance(sealed, bytes) and len(sealed) == 1 + 12 + len(CLEAR) + 16
    raw = on_disk(db)
    assert sealed in raw  # (the scan does see what is there)
    for form in clear_forms(CLEAR):
        assert form not in raw
    # it opens with the hall's key, for this rating only; not with another key
    box = PhoneBox(client.app[HALL].identity_key)
    assert box.open(sealed, got["ticket"]) == CLEAR
    with pytest.raises(Unreadable):
        box.open(sealed, "another-ticket")
    with pytest.raises(Unreadable):
        PhoneBox(b"\x00" * 32).open(sealed, got["ticket"])
    # managers see it masked in the list, never the number
    r = await client.get("/api/v1/ratings?followup=open", headers=await login(client, "manager"))
    listed = await r.json()
    assert [x["phone_masked"] for x in listed] == [MASKED]
    assert CLEAR not in await r.text()


async def test_phone_is_erased_when_marked_contacted(
    client: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    got = await bad_rating_with_phone(client)
    db = tmp_path / "hall.db"
    sealed = phone_row(db, got["id"])["sealed"]
    manager = await login(client, "manager")
    shown = await reveal(client, got["id"], manager, 200)
    assert shown["phone"] == CLEAR and shown["phone_masked"] == MASKED
    assert shown["revealed_by"] == "manager"
    r = await client.patch(
        f"/api/v1/ratings/{got['id']}", json={"followup": "contacted"}, headers=manager
    )
    after = await r.json()
    assert r.status == 200 and after["phone_masked"] is None and after["phone_erased_at"]
    row = phone_row(db, got["id"])
    assert row["sealed"] is None and row["masked"] is None
    assert row["erased_why"] == "followup_contacted"
    raw = on_disk(db)
    for gone in (sealed, sealed[13:], MASKED.encode(), *clear_forms(CLEAR)):
        assert gone not in raw
    again = await reveal(client, got["id"], manager, 409)
    assert again["error"]["code"] == "phone_erased"
    assert again["error"]["message"] == "这个号码已在回访后删除"
    assert audit(db) == [
        ("manager", "phone_revealed", f"rating:{got['id']}"),
        ("manager", "phone_erased", f"rating:{got['id']}"),
    ]
    assert caplog.records  # (the access log and the app's own were captured)
    assert CLEAR not in caplog.text and "1234-5678" not in caplog.text


async def test_a_long_reader_does_not_hold_up_the_erasure_and_the_sweep_empties_the_wal(
    client: TestClient, tmp_path: Path
) -> None:
    """A report reading the database keeps the WAL from being emptied: the follow-up still
    answers (the checkpoint gives up instead of holding writers back), and the next sweep
    finishes the job."""
    got = await bad_rating_with_phone(client)
    db = tmp_path / "hall.db"
    sealed = phone_row(db, got["id"])["sealed"]
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM tickets").fetchone()  # holds its snapshot
    try:
        r = await client.patch(
            f"/api/v1/ratings/{got['id']}",
            json={"followup": "contacted"},
            headers=await login(client, "manager"),
        )
        assert r.status == 200 and (await r.json())["phone_masked"] is None
        ticket = await served(client)  # and the ticket path keeps working meanwhile
        assert ticket["number"]
        assert sealed in on_disk(db)  # the page as it was, still in the WAL the reader reads
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert await client.app[RATINGS].sweep_phones() == 0  # nothing new to erase, but the WAL
    raw = on_disk(db)
    assert sealed not in raw and MASKED.encode() not in raw


async def test_resolving_straight_away_erases_the_phone_too(
    client: TestClient, tmp_path: Path
) -> None:
    got = await bad_rating_with_phone(client)
    r = await client.patch(
        f"/api/v1/ratings/{got['id']}",
        json={"followup": "resolved", "note": "当面致歉"},
        headers=await login(client, "manager"),
    )
    assert r.status == 200 and (await r.json())["phone_masked"] is None
    assert phone_row(tmp_path / "hall.db", got["id"])["erased_why"] == "followup_resolved"


async def test_clerk_cannot_reveal_phone(client: TestClient, tmp_path: Path) -> None:
    got = await bad_rating_with_phone(client)
    client.session.cookie_jar.clear()  # the clerk's login on `served` left a session cookie
    assert (await reveal(client, got["id"], None, 401))["error"]["code"]
    clerk = await login(client, "staff3")  # the very clerk who served the visitor
    assert (await reveal(client, got["id"], clerk, 403))["error"]["code"] == "forbidden"
    assert audit(tmp_path / "hall.db") == []
    manager = await login(client, "manager")
    assert (await reveal(client, got["id"], manager, 200))["phone"] == CLEAR
    assert (await reveal(client, 9999, manager, 404))["error"]["code"] == "unknown_rating"


async def test_every_reveal_is_audited_with_who_and_when(
    client: TestClient, tmp_path: Path, clock: Clock
) -> None:
    got = await bad_rating_with_phone(client)
    manager = await login(client, "manager")
    first = await reveal(client, got["id"], manager, 200)
    clock.now += 90
    second = await reveal(client, got["id"], manager, 200)
    assert (first["revealed_at"], second["revealed_at"]) == (
        "2026-11-25T10:00:00+08:00",
        "2026-11-25T10:01:30+08:00",
    )
    trail = client.app[RATINGS].phone_audit(got["id"])
    assert [(a["actor"], a["action"], a["at"]) for a in trail] == [
        ("manager", "phone_revealed", first["revealed_at"]),
        ("manager", "phone_revealed", second["revealed_at"]),
    ]


async def test_managers_see_who_revealed_the_number_and_when_never_the_number(
    client: TestClient, clock: Clock
) -> None:
    """The rating's API lists each opening (the audit log: who, when), to managers only, and
    keeps the list after the number is erased; the visitor's own answer has no such list."""
    got = await bad_rating_with_phone(client)
    assert "phone_reveals" not in got
    quiet = await rate(client, token=(await served(client))["token"], level=2, options=["slow"])
    manager, admin = await login(client, "manager"), await login(client, "admin")
    first = await reveal(client, got["id"], manager, 200)
    clock.now += 90
    second = await reveal(client, got["id"], admin, 200)
    trail = [
        {"by": "manager", "at": first["revealed_at"]},
        {"by": "admin", "at": second["revealed_at"]},
    ]
    r = await client.get(f"/api/v1/ratings/{got['id']}", headers=manager)
    assert r.status == 200 and (await r.json())["phone_reveals"] == trail
    assert CLEAR not in await r.text()
    r = await client.get("/api/v1/ratings?max_level=2", headers=manager)
    listed = {x["id"]: x["phone_reveals"] for x in await r.json()}
    assert listed == {got["id"]: trail, quiet["id"]: []}
    assert CLEAR not in await r.text()
    r = await client.patch(
        f"/api/v1/ratings/{got['id']}", json={"followup": "contacted"}, headers=manager
    )
    after = await r.json()
    assert after["phone_erased_at"] and after["phone_reveals"] == trail
    clerk = await login(client, "staff3")  # the clerk who served: not theirs to see
    r = await client.get(f"/api/v1/ratings/{got['id']}", headers=clerk)
    assert r.status == 403
    client.session.cookie_jar.clear()
    assert (await client.get(f"/api/v1/ratings/{got['id']}")).status == 401
    r = await client.get("/api/v1/ratings/9999", headers=manager)
    assert r.status == 404 and (await r.json())["error"]["code"] == "unknown_rating"


async def test_a_number_sealed_under_a_key_since_replaced_says_so(
    aiohttp_client, client: TestClient, tmp_path: Path, clock: Clock, monkeypatch
) -> None:
    """The hall restarted with another identity key (lost, or rotated without care): the
    number cannot be read, and the manager is told why rather than shown garbage or a 500."""
    got = await bad_rating_with_phone(client)
    await client.close()
    monkeypatch.setenv("HALLQ_IDENTITY_KEY", "ab" * 32)
    config = parse_config(HALL_TOML)
    again = await aiohttp_client(make_app(config, tmp_path / "hall.db", clock=clock))
    err = await reveal(again, got["id"], await login(again, "manager"), 409)
    assert err["error"]["code"] == "phone_unreadable"
    assert "密钥" in err["error"]["message"]


async def test_a_bad_rating_without_a_phone_has_none_to_reveal(client: TestClient) -> None:
    t = await served(client)
    got = await rate(client, token=t["token"], level=2, options=["slow"], phone="  ")
    assert got["phone_masked"] is None
    r = await reveal(client, got["id"], await login(client, "manager"), 404)
    assert r["error"]["code"] == "no_phone"


async def test_the_pad_takes_a_phone_too(client: TestClient, tmp_path: Path) -> None:
    t = await served(client)
    got = await rate(client, ticket=t["id"], level=2, options=["slow"], phone="139 0000 1111")
    assert got["source"] == "pad" and got["phone_masked"] == "139****1111"


async def test_phone_is_erased_after_the_retention_period(
    client: TestClient, tmp_path: Path, clock: Clock
) -> None:
    old = await bad_rating_with_phone(client)
    clock.now = at("2026-12-20", "10:00")
    fresh = await bad_rating_with_phone(client, "13900001111")
    ratings = client.app[RATINGS]
    assert await ratings.sweep_phones() == 0  # 25 days: still kept
    clock.now = at("2026-12-25", "10:01")  # 30 days and a minute after the first
    assert await ratings.sweep_phones() == 1
    db = tmp_path / "hall.db"
    assert phone_row(db, old["id"])["erased_why"] == "retention"
    assert phone_row(db, fresh["id"])["masked"] == "139****1111"
    assert CLEAR.encode() not in on_disk(db)
    assert ("system", "phone_erased", f"rating:{old['id']}") in audit(db)
    assert await ratings.sweep_phones() == 0


@pytest.mark.parametrize(
    "typed",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "0086138 1234 5678"],
)
async def test_a_phone_may_be_typed_with_spaces_dashes_or_country_code(
    client: TestClient, typed: str
) -> None:
    assert (await bad_rating_with_phone(client, typed))["phone_masked"] == MASKED


@pytest.mark.parametrize(
    ("level", "typed", "code", "zh"),
    [
        (1, "12345678901", "invalid_phone", "手机号码不正确，应为 11 位数字"),
        (1, "1381234567", "invalid_phone", "手机号码不正确，应为 11 位数字"),
        (2, "138123456789", "invalid_phone", "手机号码不正确，应为 11 位数字"),
        (1, "电话13812345678", "invalid_phone", "手机号码不正确，应为 11 位数字"),
        (1, "1" * 25, "invalid_field", None),
        (4, CLEAR, "phone_only_bad", "只有“不满意”或“非常不满意”的评价才留手机号"),
    ],
)
async def test_a_wrong_phone_is_refused_clearly_and_keeps_nothing(
    client: TestClient, tmp_path: Path, level: int, typed: str, code: str, zh: str | None
) -> None:
    t = await served(client)
    options = ["slow"] if level <= 2 else []
    err = await rate(client, 422, token=t["token"], level=level, options=options, phone=typed)
    assert err["error"]["code"] == code
    if zh:
        assert err["error"]["message"] == zh
    assert typed not in str(err)  # the answer does not echo the number
    with sqlite3.connect(tmp_path / "hall.db") as conn:
        assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (0,)
    # and the visitor can still rate, without a number
    assert (await rate(client, token=t["token"], level=level, options=options))["id"]


async def test_a_wrong_phone_is_explained_in_english_when_asked(client: TestClient) -> None:
    t = await served(client)
    r = await client.post(
        "/api/v1/ratings?lang=en",
        json={"token": t["token"], "level": 1, "options": ["slow"], "phone": "12"},
    )
    assert (await r.json())["error"]["message"] == "A mobile number has 11 digits"
