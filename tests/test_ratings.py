"""好差评 over the real API: one rating per ticket, from the pad or the progress page; bad
ratings need a reason and are followed up by managers; satisfaction per window and clerk."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from hall_server.http.common import HALL
from hall_server.ratings import satisfaction
from tests.support import bearer, paired
from tests.test_appointments import Clock, at, start_hall

TODAY = "2026-11-25"


@pytest.fixture
def clock() -> Clock:
    return Clock(at(TODAY, "10:00"))


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, clock: Clock) -> TestClient:
    return await start_hall(aiohttp_client, tmp_path, clock)


async def login(client: TestClient, user: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": user, "password": "demo"})
    assert r.status == 200, await r.text()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def served(client: TestClient, window: str = "3", service: str = "tax") -> dict:
    """A ticket taken, called and finished at a window by its clerk."""
    r = await client.post("/api/v1/tickets", json={"service": service})
    ticket = (await r.json())["ticket"]
    auth = await login(client, f"staff{window}")
    r = await client.post(f"/api/v1/windows/{window}/call", headers=auth)
    assert (await r.json())["ticket"]["number"] == ticket["number"]
    r = await client.post(f"/api/v1/windows/{window}/finish", headers=auth)
    assert r.status == 200, await r.text()
    return ticket


def pad_of(client: TestClient, window: str = "3") -> dict[str, str]:
    """Window `window`'s evaluator pad, paired."""
    return bearer(paired(client.app[HALL].store.path, f"pad:{window}"))


async def rate(client: TestClient, expect: int = 201, **body) -> dict:
    headers = pad_of(client) if "ticket" in body else None  # the pad rates by ticket id
    r = await client.post("/api/v1/ratings", json=body, headers=headers)
    assert r.status == expect, await r.text()
    return await r.json()


async def test_a_ticket_is_rated_once_whether_from_the_pad_or_the_phone(
    client: TestClient,
) -> None:
    t = await served(client)
    got = await rate(client, token=t["token"], level=5)
    assert got["level"] == 5 and got["level_name"] == "非常满意" and got["source"] == "progress"
    assert got["window"] == "3" and got["staff"] == "staff3" and got["followup"] is None
    again = await rate(client, 409, ticket=t["id"], level=1, options=["attitude"])
    assert again["error"]["code"] == "already_rated"
    again = await rate(client, 409, token=t["token"], level=4)
    assert again["error"]["code"] == "already_rated"
    state = await (await client.get(f"/api/v1/tickets/{t['token']}/rating")).json()
    assert state == {"rateable": False, "rated": True, "level": 5}


async def test_a_ticket_not_yet_served_cannot_be_rated(client: TestClient) -> None:
    r = await client.post("/api/v1/tickets", json={"service": "tax"})
    t = (await r.json())["ticket"]
    assert (await rate(client, 409, token=t["token"], level=5))["error"]["code"] == "not_finished"
    state = await (await client.get(f"/api/v1/tickets/{t['token']}/rating")).json()
    assert state["rateable"] is False and state["rated"] is False
    assert (await rate(client, 404, token="nope", level=5))["error"]["code"] == "unknown_ticket"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"level": 2}, "reason_required"),
        ({"level": 1, "options": ["rude!"]}, "unknown_reason"),
        ({"level": 0}, "invalid_field"),
        ({"level": 6}, "invalid_field"),
        ({"level": "5"}, "invalid_field"),
        ({"level": 4, "comment": "x" * 501}, "invalid_field"),
    ],
)
async def test_bad_rating_requests_are_refused(client: TestClient, body: dict, code: str) -> None:
    t = await served(client)
    assert (await rate(client, 422, token=t["token"], **body))["error"]["code"] == code


async def test_a_rating_needs_a_ticket(client: TestClient) -> None:
    assert (await rate(client, 422, level=5))["error"]["code"] == "missing_ticket"


async def test_a_bad_rating_opens_a_follow_up_due_in_three_working_days(
    client: TestClient,
) -> None:
    t = await served(client)
    got = await rate(
        client, token=t["token"], level=1, options=["wait_long", "attitude"], comment=" 太慢 "
    )
    assert got["bad"] and got["followup"] == "open" and got["comment"] == "太慢"
    assert got["option_names"] == ["排队等候时间长", "服务态度不好"]
    # rated on a Wednesday: Thursday, Friday, Monday
    assert got["due_at"] == "2026-11-30T23:59:59+08:00" and not got["overdue"]


async def test_managers_list_the_bad_ratings_of_a_day(client: TestClient) -> None:
    good, bad = await served(client), await served(client)
    await rate(client, token=good["token"], level=4)
    await rate(client, token=bad["token"], level=2, options=["slow"])
    client.session.cookie_jar.clear()  # logging in also set a session cookie
    assert (await client.get("/api/v1/ratings")).status == 401
    r = await client.get("/api/v1/ratings", headers=await login(client, "staff3"))
    assert r.status == 403
    auth = await login(client, "manager")
    r = await client.get(f"/api/v1/ratings?date={TODAY}&max_level=2", headers=auth)
    listed = await r.json()
    assert [x["number"] for x in listed] == [bad["number"]]
    r = await client.get(f"/api/v1/ratings?date={TODAY}", headers=auth)
    assert len(await r.json()) == 2
    r = await client.get("/api/v1/ratings?followup=open", headers=auth)
    assert [x["number"] for x in await r.json()] == [bad["number"]]
    r = await client.get("/api/v1/ratings?date=yesterday", headers=auth)
    assert r.status == 422


async def test_follow_up_moves_forward_and_resolving_needs_a_note(client: TestClient) -> None:
    good, bad = await served(client), await served(client)
    good_id = (await rate(client, token=good["token"], level=5))["id"]
    bad_id = (await rate(client, token=bad["token"], level=1, options=["not_done"]))["id"]
    auth = await login(client, "manager")

    async def patch(rid: int, expect: int, **body) -> dict:
        r = await client.patch(f"/api/v1/ratings/{rid}", json=body, headers=auth)
        assert r.status == expect, await r.text()
        return await r.json()

    got = await patch(bad_id, 200, followup="contacted", note="已电话联系")
    assert got["followup"] == "contacted" and got["followup_by"] == "manager"
    assert (await patch(bad_id, 422, followup="resolved"))["error"]["code"] == "note_required"
    got = await patch(bad_id, 200, followup="resolved", note="已上门办结")
    assert got["followup"] == "resolved" and got["followup_note"] == "已上门办结"
    again = await patch(bad_id, 409, followup="contacted")
    assert again["error"]["code"] == "invalid_followup"
    assert (await patch(good_id, 409, followup="contacted"))["error"]["code"] == "no_followup"
    assert (await patch(9999, 404, followup="contacted"))["error"]["code"] == "unknown_rating"
    assert (await patch(bad_id, 422, followup="closed"))["error"]["code"] == "invalid_field"
    client.session.cookie_jar.clear()
    r = await client.patch(f"/api/v1/ratings/{bad_id}", json={"followup": "resolved"})
    assert r.status == 401


async def test_an_unanswered_bad_rating_becomes_overdue(client: TestClient, clock: Clock) -> None:
    t = await served(client)
    rid = (await rate(client, token=t["token"], level=2, options=["unclear"]))["id"]
    clock.now = at("2026-12-01", "09:00")
    r = await client.get("/api/v1/ratings?followup=open", headers=await login(client, "manager"))
    assert [(x["id"], x["overdue"]) for x in await r.json()] == [(rid, True)]


async def test_the_pad_shows_the_ticket_just_finished_at_its_window(
    client: TestClient, clock: Clock
) -> None:
    empty = await (await client.get("/api/v1/ratings/pad/3", headers=pad_of(client, "3"))).json()
    assert empty["ticket"] is None and empty["window_name"] == "3号窗口"
    t = await served(client)
    pad = await (await client.get("/api/v1/ratings/pad/3", headers=pad_of(client, "3"))).json()
    assert pad["ticket"]["number"] == t["number"] and pad["ticket"]["service_name"] == "税务"
    assert "token" not in pad["ticket"]
    assert (await (await client.get("/api/v1/ratings/pad/2", headers=pad_of(client, "2"))).json())[
        "ticket"
    ] is None
    got = await rate(client, ticket=pad["ticket"]["id"], level=3)
    assert got["source"] == "pad"
    assert (await (await client.get("/api/v1/ratings/pad/3", headers=pad_of(client, "3"))).json())[
        "ticket"
    ] is None
    assert (await client.get("/api/v1/ratings/pad/99", headers=pad_of(client, "99"))).status == 404


async def test_the_pad_lets_go_of_a_ticket_after_ten_minutes(
    client: TestClient, clock: Clock
) -> None:
    t = await served(client)
    clock.now += 11 * 60
    assert (await (await client.get("/api/v1/ratings/pad/3", headers=pad_of(client, "3"))).json())[
        "ticket"
    ] is None
    got = await rate(client, 409, ticket=t["id"], level=5)
    assert got["error"]["code"] == "rating_closed"
    await rate(client, token=t["token"], level=5)  # the holder of the paper still may


async def test_satisfaction_per_window_and_clerk(client: TestClient) -> None:
    for window, level in (("3", 5), ("3", 4), ("3", 1), ("2", 3)):
        t = await served(client, window=window)
        options = ["slow"] if level <= 2 else []
        await rate(client, token=t["token"], level=level, options=options)
    db = client.server.app[HALL].store.path
    by_window = satisfaction(db, TODAY, TODAY, by="window")
    assert [(w["window"], w["count"], w["bad"]) for w in by_window] == [("2", 1, 0), ("3", 3, 1)]
    three = by_window[1]
    assert three["mean_level"] == 3.33 and three["satisfaction_rate"] == 0.6667
    assert three["levels"] == {"5": 1, "4": 1, "3": 0, "2": 0, "1": 1}
    by_staff = satisfaction(db, TODAY, TODAY, by="staff")
    assert [s["staff"] for s in by_staff] == ["staff2", "staff3"]
    assert satisfaction(db, "2026-11-26", "2026-11-30") == []
    r = await client.get(
        f"/api/v1/ratings/satisfaction?from={TODAY}&to={TODAY}&by=staff",
        headers=await login(client, "manager"),
    )
    assert await r.json() == by_staff
