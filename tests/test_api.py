"""The contract's REST API on a real SQLite file, every error class included."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from hall_server.app import make_app
from hall_server.config import HallConfig, Kiosk, parse_config
from hall_server.core.integration import from_event
from hall_server.network import outbox_event
from tests.support import add_demo_accounts, hall_toml, kiosk_client

# 2026-11-25 10:00 in Asia/Shanghai: inside the default opening hours.
MORNING = 1795572000.0
OLD_ID = "11010519491231002X"  # born 1949: priority by age
YOUNG_ID = "110105200001010016"


class Clock:
    def __init__(self, now: float = MORNING) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, demo_config: HallConfig, clock: Clock):
    add_demo_accounts(tmp_path / "hall.db", demo_config)
    return await kiosk_client(
        aiohttp_client,
        make_app(demo_config, tmp_path / "hall.db", clock=clock),
        tmp_path / "hall.db",
    )


async def login(client: TestClient, user: str, window: str | None = None) -> dict[str, str]:
    body = {"username": user, "password": "demo"}
    if window:
        body["window"] = window
    r = await client.post("/api/v1/auth/login", json=body)
    assert r.status == 200, await r.text()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def take(client: TestClient, service: str = "tax", **extra) -> dict:
    r = await client.post("/api/v1/tickets", json={"service": service, **extra})
    assert r.status == 201, await r.text()
    return (await r.json())["ticket"]


async def error(resp) -> tuple[int, str]:
    body = await resp.json()
    return resp.status, body["error"]["code"]


async def test_health_names_the_hall(client: TestClient) -> None:
    r = await client.get("/api/v1/health")
    assert r.status == 200
    assert (await r.json())["hall"] == "demo-town"


async def test_services_list_waiting_and_estimate(client: TestClient) -> None:
    await take(client, "tax")
    services = {s["code"]: s for s in await (await client.get("/api/v1/services")).json()}
    assert len(services) == 10
    assert services["tax"]["waiting"] == 1 and services["tax"]["prefix"] == "H"
    tax = services["tax"]
    assert tax["open"] is True
    assert tax["eta_range_s"][0] <= tax["eta_s"] <= tax["eta_range_s"][1]
    with_items = await (await client.get("/api/v1/services?items=1")).json()
    assert sum(len(s["items"]) for s in with_items) == 128


async def test_ticket_is_numbered_and_can_be_followed_by_its_token(client: TestClient) -> None:
    first = await take(client, "tax", kiosk="k1")
    second = await take(client, "tax")
    assert (first["number"], second["number"]) == ("H001", "H002")
    assert second["position"] == 1 and first["status"] == "waiting"
    public = await (await client.get(f"/api/v1/tickets/{second['token']}")).json()
    assert public["number"] == "H002" and public["position"] == 1
    assert "id" not in public and "token" not in public and "name_masked" not in public


async def test_staff_call_start_finish_cycle(client: TestClient) -> None:
    t = await take(client, "tax")
    staff = await login(client, "staff9")
    r = await client.post("/api/v1/windows/9/call", headers=staff)
    assert r.status == 200
    called = (await r.json())["ticket"]
    assert called["number"] == t["number"] and called["window"] == "9"
    assert called["status"] == "called" and called["called_at"]
    for action, status in (("recall", "called"), ("start", "serving"), ("finish", "done")):
        r = await client.post(f"/api/v1/windows/9/{action}", headers=staff)
        assert r.status == 200
        assert (await r.json())["ticket"]["status"] == status
    windows = {w["id"]: w for w in await (await client.get("/api/v1/windows")).json()}
    assert windows["9"]["current"] is None and windows["9"]["status"] == "open"


async def test_call_with_nobody_waiting_answers_204(client: TestClient) -> None:
    staff = await login(client, "staff7")
    r = await client.post("/api/v1/windows/7/call", headers=staff)
    assert r.status == 204


async def test_transfer_keeps_issue_time_and_reaches_the_other_queue(client: TestClient) -> None:
    t = await take(client, "tax")
    staff = await login(client, "staff9")
    await client.post("/api/v1/windows/9/call", headers=staff)
    r = await client.post(
        "/api/v1/windows/9/transfer", json={"service": "real-estate"}, headers=staff
    )
    assert r.status == 200
    public = await (await client.get(f"/api/v1/tickets/{t['token']}")).json()
    assert public["service"] == "real-estate" and public["status"] == "waiting"
    staff7 = await login(client, "staff7")
    moved = (await (await client.post("/api/v1/windows/7/call", headers=staff7)).json())["ticket"]
    assert moved["number"] == t["number"] and moved["issued_at"] == t["issued_at"]


async def test_call_a_specific_number(client: TestClient) -> None:
    await take(client, "tax")
    second = await take(client, "tax")
    staff = await login(client, "staff9")
    r = await client.post("/api/v1/windows/9/call", json={"number": "h002"}, headers=staff)
    assert (await r.json())["ticket"]["id"] == second["id"]


async def test_pause_and_resume(client: TestClient) -> None:
    await take(client, "tax")
    staff = await login(client, "staff9")
    assert (await client.post("/api/v1/windows/9/pause", headers=staff)).status == 200
    assert await error(await client.post("/api/v1/windows/9/call", headers=staff)) == (
        409,
        "window_paused",
    )
    windows = {w["id"]: w for w in await (await client.get("/api/v1/windows")).json()}
    assert windows["9"]["status"] == "paused"
    assert (await client.post("/api/v1/windows/9/resume", headers=staff)).status == 200
    assert (await client.post("/api/v1/windows/9/call", headers=staff)).status == 200


async def test_older_visitor_gets_priority_and_no_clear_id_is_stored(
    client: TestClient, tmp_path: Path
) -> None:
    card = {"name": "张三丰", "id_number": OLD_ID}
    t = await take(client, "tax", id_card=card)
    assert t["priority"] == "priority" and t["name_masked"] == "张*丰"
    young = await take(client, "business", id_card={"name": "李四", "id_number": YOUNG_ID})
    assert young["priority"] == "normal"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("hall.db*"))
    assert OLD_ID.encode() not in raw and YOUNG_ID.encode() not in raw
    assert "张三丰".encode() not in raw


async def test_one_person_cannot_hold_two_tickets_for_one_service(client: TestClient) -> None:
    card = {"name": "李四", "id_number": YOUNG_ID}
    await take(client, "tax", id_card=card)
    r = await client.post("/api/v1/tickets", json={"service": "tax", "id_card": card})
    assert await error(r) == (409, "already_waiting")


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{not json", (400, "malformed_json")),
        (b"[1, 2]", (422, "invalid_body")),
        (b'{"service": 5}', (422, "invalid_field")),
        (b"{}", (422, "invalid_field")),
        (b'{"service": "nope"}', (404, "unknown_service")),
        (b'{"service": "tax", "kiosk": "k99"}', (404, "unknown_kiosk")),
        (
            b'{"service": "tax", "id_card": {"name": "x", "id_number": "110105194912310021"}}',
            (422, "invalid_id_number"),
        ),
        (b'{"service": "tax", "id_card": "no"}', (422, "invalid_field")),
    ],
)
async def test_bad_ticket_requests_get_clear_errors(client: TestClient, payload, expected) -> None:
    r = await client.post(
        "/api/v1/tickets", data=payload, headers={"Content-Type": "application/json"}
    )
    assert await error(r) == expected
    services = await (await client.get("/api/v1/services")).json()
    assert sum(s["waiting"] for s in services) == 0


async def test_window_actions_need_login_and_the_right_window(client: TestClient) -> None:
    assert await error(await client.post("/api/v1/windows/9/call")) == (401, "unauthorized")
    bad = {"Authorization": "Bearer not-a-token"}
    assert await error(await client.post("/api/v1/windows/9/call", headers=bad)) == (
        401,
        "unauthorized",
    )
    staff = await login(client, "staff9")
    assert await error(await client.post("/api/v1/windows/8/call", headers=staff)) == (
        403,
        "forbidden",
    )
    manager = await login(client, "manager")
    assert (await client.post("/api/v1/windows/8/call", headers=manager)).status == 204


async def test_login_errors(client: TestClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "staff1", "password": "nope"})
    assert await error(r) == (401, "bad_credentials")
    r = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "demo"})
    assert await error(r) == (401, "bad_credentials")
    r = await client.post(
        "/api/v1/auth/login", json={"username": "staff1", "password": "demo", "window": "5"}
    )
    assert await error(r) == (403, "forbidden")


async def test_repeated_wrong_passwords_slow_this_client_for_a_while(client: TestClient) -> None:
    wrong = {"username": "staff2", "password": "guess"}
    for _ in range(5):
        assert (await client.post("/api/v1/auth/login", json=wrong)).status == 401
    right = {"username": "staff2", "password": "demo"}
    r = await client.post("/api/v1/auth/login", json=right)
    assert await error(r) == (429, "too_many_attempts")


async def test_state_conflicts_are_409(client: TestClient) -> None:
    staff = await login(client, "staff9")
    assert await error(await client.post("/api/v1/windows/9/finish", headers=staff)) == (
        409,
        "no_current_ticket",
    )
    await take(client, "tax")
    await client.post("/api/v1/windows/9/call", headers=staff)
    await client.post("/api/v1/windows/9/start", headers=staff)
    assert await error(await client.post("/api/v1/windows/9/no-show", headers=staff)) == (
        409,
        "invalid_state",
    )


async def test_unknown_things_are_404_json(client: TestClient) -> None:
    staff = await login(client, "manager")
    assert await error(await client.post("/api/v1/windows/99/call", headers=staff)) == (
        404,
        "unknown_window",
    )
    assert await error(await client.post("/api/v1/windows/9/dance", headers=staff)) == (
        404,
        "unknown_action",
    )
    assert await error(await client.get("/api/v1/tickets/no-such-token")) == (
        404,
        "unknown_ticket",
    )
    assert await error(await client.get("/api/v1/nothing-here")) == (404, "not_found")
    r = await client.post("/api/v1/windows/9/transfer", json={"service": "nope"}, headers=staff)
    assert await error(r) == (404, "unknown_service")


async def test_managers_only_for_metrics(client: TestClient) -> None:
    assert (await client.get("/api/v1/metrics/live")).status == 401
    staff = await login(client, "staff1")
    assert await error(await client.get("/api/v1/metrics/live", headers=staff)) == (
        403,
        "forbidden",
    )
    manager = await login(client, "manager")
    assert (await client.get("/api/v1/metrics/live", headers=manager)).status == 200
    r = await client.get("/api/v1/metrics/windows?date=yesterday", headers=manager)
    assert await error(r) == (422, "invalid_date")


async def test_metrics_windows_follow_the_queue_rules(client: TestClient, clock: Clock) -> None:
    staff = await login(client, "staff9")
    await take(client, "tax")
    await take(client, "tax")
    clock.now += 120
    await client.post("/api/v1/windows/9/call", headers=staff)
    clock.now += 300
    await client.post("/api/v1/windows/9/call", headers=staff)  # finishes the first
    clock.now += 60
    await client.post("/api/v1/windows/9/no-show", headers=staff)
    manager = await login(client, "manager")
    rows = await (
        await client.get("/api/v1/metrics/windows?date=2026-11-25", headers=manager)
    ).json()
    (w9,) = rows
    assert (w9["window"], w9["served"], w9["no_show"]) == ("9", 1, 1)
    assert w9["wait_mean_s"] == 270.0 and w9["wait_max_s"] == 420.0
    assert w9["service_mean_s"] == 300.0


async def test_the_hall_refuses_tickets_outside_opening_hours(
    aiohttp_client, tmp_path: Path
) -> None:
    general = {"code": "general", "prefix": "A", "name": "综合"}
    config = parse_config(
        hall_toml("某村党群服务中心", [general], [["general"]], hall_id="v1", hours=["08:30-12:00"])
    )
    evening = Clock(MORNING + 9 * 3600)
    config = config.model_copy(update={"kiosk": [Kiosk(id="k1")]})
    client = await kiosk_client(
        aiohttp_client, make_app(config, tmp_path / "v.db", clock=evening), tmp_path / "v.db"
    )
    r = await client.post("/api/v1/tickets", json={"service": "general"})
    assert await error(r) == (409, "hall_closed")
    services = await (await client.get("/api/v1/services")).json()
    assert services[0]["open"] is False


async def test_a_restart_rebuilds_exactly_the_state(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig, clock: Clock
) -> None:
    db = tmp_path / "hall.db"
    add_demo_accounts(db, demo_config)
    first = await kiosk_client(aiohttp_client, make_app(demo_config, db, clock=clock), db)
    tickets = [await take(first, "tax") for _ in range(3)]
    staff = await login(first, "staff9")
    await first.post("/api/v1/windows/9/call", headers=staff)
    await first.post("/api/v1/windows/8/pause", headers=await login(first, "manager"))
    before_windows = await (await first.get("/api/v1/windows")).json()
    before_services = await (await first.get("/api/v1/services")).json()
    await first.close()

    second = await kiosk_client(aiohttp_client, make_app(demo_config, db, clock=clock), db)
    assert await (await second.get("/api/v1/windows")).json() == before_windows
    after_services = await (await second.get("/api/v1/services")).json()
    queue_state = [(s["code"], s["waiting"], s["open"]) for s in before_services]
    assert [(s["code"], s["waiting"], s["open"]) for s in after_services] == queue_state
    fourth = await take(second, "tax")
    assert fourth["number"] == "H004"
    for t in tickets:
        assert (await second.get(f"/api/v1/tickets/{t['token']}")).status == 200
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (4,)


async def test_a_visitor_gives_up_their_place_once(client: TestClient) -> None:
    t = await take(client, "tax")
    r = await client.delete(f"/api/v1/tickets/{t['token']}")
    assert r.status == 200 and (await r.json())["status"] == "cancelled"
    services = {s["code"]: s for s in await (await client.get("/api/v1/services")).json()}
    assert services["tax"]["waiting"] == 0
    assert await error(await client.delete(f"/api/v1/tickets/{t['token']}")) == (
        409,
        "invalid_state",
    )


async def test_only_windows_a_clerk_is_logged_in_at_and_not_paused_count_as_capacity(
    client: TestClient,
) -> None:
    """Tax is taken at windows 8 and 9. Open but unstaffed, they serve nobody: the estimate
    and the manager's count of open windows follow the clerks who log in, and pauses."""
    tickets = [await take(client, "tax") for _ in range(3)]
    manager = await login(client, "manager")

    async def third() -> tuple[int, int, bool]:
        eta = await (await client.get(f"/api/v1/tickets/{tickets[2]['token']}")).json()
        live = await (await client.get("/api/v1/metrics/live", headers=manager)).json()
        tax = next(s for s in live["services"] if s["service"] == "tax")
        nine = next(w for w in live["windows"] if w["id"] == "9")
        return eta["eta_s"], tax["open_windows"], nine["staffed"]

    _, open_none, staffed = await third()
    assert (open_none, staffed) == (0, False)
    nine = await login(client, "staff9", "9")
    alone, open_one, staffed = await third()
    assert (open_one, staffed) == (1, True)
    await login(client, "staff8", "8")
    both, open_two, _ = await third()
    assert open_two == 2
    assert 0 < both < alone  # two windows ahead of the third ticket, then one
    r = await client.post("/api/v1/windows/9/pause", headers=nine)
    assert r.status == 200, await r.text()
    paused, open_again, _ = await third()
    assert (paused, open_again) == (alone, 1)
    r = await client.post("/api/v1/auth/logout", headers=nine)
    assert r.status == 200
    assert (await third())[1:] == (1, False)


async def test_a_ticket_carries_the_item_the_visitor_chose(client: TestClient) -> None:
    t = await take(client, "social-insurance", item="A-012")
    assert (t["item"], t["item_name"]) == ("A-012", "社会保障卡补领、换领(即时制卡)")
    public = await (await client.get(f"/api/v1/tickets/{t['token']}")).json()
    assert public["item_name"] == "社会保障卡补领、换领(即时制卡)"
    wrong = await client.post("/api/v1/tickets", json={"service": "tax", "item": "A-012"})
    assert await error(wrong) == (422, "unknown_item")
    assert (await take(client, "tax"))["item"] is None


async def test_transfer_to_a_window_with_a_note_is_called_first_there(client: TestClient) -> None:
    """Window 9 sends H001 to window 3 with a note; window 3 calls it before its own queue,
    and its clerk sees the note and who sent it. The visitor sees where to go, never the note."""
    sent = await take(client, "tax")
    await take(client, "social-insurance")  # window 3's ordinary queue
    clerk9, clerk3 = await login(client, "staff9"), await login(client, "staff3")
    await client.post("/api/v1/windows/9/call", headers=clerk9)
    note = "材料已收，缺户口本复印件 <b>&"
    r = await client.post(
        "/api/v1/windows/9/transfer", json={"to_window": "3", "note": note}, headers=clerk9
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["window"]["current"] is None
    waiting = await (await client.get("/api/v1/tickets?status=waiting", headers=clerk3)).json()
    mine = next(t for t in waiting if t["number"] == sent["number"])
    assert (mine["to_window"], mine["note"], mine["sent_by"], mine["sent_from"]) == (
        "3",
        note,
        "staff9",
        "9",
    )
    windows = {w["id"]: w for w in await (await client.get("/api/v1/windows")).json()}
    assert windows["3"]["sent_waiting"] == 1
    public = await (await client.get(f"/api/v1/tickets/{sent['token']}")).json()
    assert public["status"] == "waiting" and public["position"] == 0
    assert public["eta_s"] == 0  # window 3 is staffed and free: its next call
    assert public["sent"] == {
        "kind": "window",
        "window": "3",
        "window_name": "3号窗口",
        "window_name_en": "Window 3",
    }
    assert "材料" not in str(public) and "staff9" not in str(public)
    called = (await (await client.post("/api/v1/windows/3/call", headers=clerk3)).json())["ticket"]
    assert (called["number"], called["note"], called["sent_by"]) == ("H001", note, "staff9")
    assert called["service"] == "tax" and called["issued_at"] == sent["issued_at"]


async def test_transfer_to_a_colleague_waits_for_them_and_follows_them(
    client: TestClient,
) -> None:
    sent = await take(client, "tax")
    clerk9 = await login(client, "staff9", window="9")
    colleagues = await (await client.get("/api/v1/staff", headers=clerk9)).json()
    by_no = {c["staff_no"]: c for c in colleagues}
    assert by_no["staff3"]["name"] and by_no["staff3"]["window"] is None
    assert by_no["staff9"]["window"] == "9"
    await client.post("/api/v1/windows/9/call", headers=clerk9)
    r = await client.post("/api/v1/windows/9/transfer", json={"to_staff": "staff3"}, headers=clerk9)
    assert r.status == 200, await r.text()
    public = await (await client.get(f"/api/v1/tickets/{sent['token']}")).json()
    assert public["sent"]["kind"] == "staff" and public["sent"]["window"] is None
    assert public["eta_s"] is None  # nobody can tell while they are not at a window
    clerk3 = await login(client, "staff3", window="3")  # comes in: the ticket follows
    public = await (await client.get(f"/api/v1/tickets/{sent['token']}")).json()
    assert public["sent"]["window"] == "3" and public["eta_s"] is not None
    called = (await (await client.post("/api/v1/windows/3/call", headers=clerk3)).json())["ticket"]
    assert called["number"] == sent["number"] and called["to_staff"] == "staff3"


async def test_transfer_refusals_say_what_is_wrong_in_the_readers_language(
    client: TestClient,
) -> None:
    await take(client, "tax")
    clerk9 = await login(client, "staff9")
    await client.post("/api/v1/windows/9/call", headers=clerk9)
    url = "/api/v1/windows/9/transfer"
    refusals = [
        ({"service": "general", "to_window": "3"}, 422, "transfer_one_target"),
        ({}, 422, "transfer_one_target"),
        ({"note": "只有备注"}, 422, "transfer_one_target"),
        ({"to_window": "99"}, 404, "unknown_window"),
        ({"to_staff": "nobody"}, 404, "unknown_staff"),
        ({"to_staff": "manager"}, 404, "unknown_staff"),  # not a window clerk
        ({"to_window": "9"}, 409, "transfer_to_self"),
        ({"to_staff": "staff9"}, 409, "transfer_to_self"),
        ({"service": "tax"}, 409, "transfer_to_self"),
        ({"to_window": "3", "note": "备" * 201}, 422, "note_too_long"),
        ({"to_window": "3", "note": "备" * 1001}, 422, "invalid_field"),
    ]
    for target, status, code in refusals:
        r = await client.post(url, json=target, headers=clerk9)
        assert await error(r) == (status, code), target
    r = await client.post(url, json={"to_staff": "nobody"}, headers=clerk9)
    assert (await r.json())["error"]["message"] == "没有工号为“nobody”的窗口工作人员"
    r = await client.post(url, json={"to_window": "9"}, headers={**clerk9, "Accept-Language": "en"})
    assert "H001 is already there" in (await r.json())["error"]["message"]
    windows = {w["id"]: w for w in await (await client.get("/api/v1/windows")).json()}
    assert windows["9"]["current"] == "H001"  # every refusal left the ticket where it was
    assert (await client.get("/api/v1/staff")).status == 401


async def test_a_transfer_note_never_leaves_the_hall(client: TestClient, tmp_path: Path) -> None:
    """The note and the colleague stay in the event log (the audit) and out of what goes to
    the hub and to webhooks."""
    await take(client, "tax")
    clerk9 = await login(client, "staff9")
    await client.post("/api/v1/windows/9/call", headers=clerk9)
    body = {"to_staff": "staff3", "note": "缺户口本复印件"}
    assert (
        await client.post("/api/v1/windows/9/transfer", json=body, headers=clerk9)
    ).status == 200
    db = sqlite3.connect(tmp_path / "hall.db")
    (data,) = db.execute("SELECT data FROM events WHERE type = 'ticket_transferred'").fetchone()
    event = json.loads(data)
    assert (event["window"], event["by"], event["to_staff"], event["note"]) == (
        "9",
        "staff9",
        "staff3",
        "缺户口本复印件",
    )
    shared = outbox_event(event)
    assert shared is not None and "note" not in shared and "to_staff" not in shared
    message = from_event(event, {"issued_at": 0.0}, lambda at: str(at))
    assert message is not None and message.data["to_window"] is None  # a colleague: not said
    assert message is not None and "户口" not in json.dumps(message.data, ensure_ascii=False)
    assert "staff3" not in json.dumps(message.data)
