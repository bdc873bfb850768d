"""Webhooks against a real HTTP receiver that verifies every signature with the Standard
Webhooks library: in order, every message after deduplication, through receiver outages and
hall restarts; no personal data in any body; the delivery log and replays; 好差评 upward."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hall_server.app import make_app
from hall_server.config import parse_config
from hall_server.core.integration import retry_delay
from hall_server.http.common import HALL as HALL_KEY
from hall_server.http.common import WEBHOOKS
from hall_server.network import RATING_FIELDS, outbox_rating
from tests.support import (
    ROOT,
    ServerProcess,
    add_demo_accounts,
    bearer,
    eventually,
    kiosk_client,
    paired,
)

HALL = """
[hall]
id = "test"
name = "测试便民服务中心"
hours = ["00:00-24:00"]

[[service]]
code = "social"
prefix = "A"
name = "社会保障"
items = [{ code = "330100-A-001", name = "城乡居民基本养老保险参保登记" }]

[[service]]
code = "tax"
prefix = "B"
name = "税务"

[[window]]
id = "1"
services = ["social", "tax"]

[[window]]
id = "2"
services = ["tax"]

[[kiosk]]
id = "k1"
"""
FAST = """
[webhooks]
retry_base_s = 0.05
retry_cap_s = 0.4
timeout_s = 2
"""
HAOCHA = """
[haocha]
region_code = "330102"
department_code = "11330102MB0000000X"
department_name = "某某区人力资源和社会保障局"
channels = { pad = "4" }
staff = { staff1 = "330102-0017" }
reasons = { wait_long = "101", attitude = "102" }
fields = { item_code = "taskCode", item_name = "taskName", level = "alternate" }

[haocha.services.tax]
item_code = "330100-B-009"
item_name = "个人所得税申报"
department_code = "11330102TAX"
department_name = "国家税务总局某某区税务局"
"""


def toml(extra: str = "") -> str:
    return HALL + FAST + extra


class Receiver:
    """A webhook receiver on a real port: verifies each signature with the `standardwebhooks`
    library (401 when it does not verify), can answer 503 for a while, or go away entirely
    (its port closed) and come back on the same port."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.got: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bad_signatures = 0
        self.failing = False
        self.delay_s = 0.0
        self.port = 0
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
            self.runner = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.failing:
            return web.Response(status=503, text="down for maintenance")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        assert self.secret is not None
        try:
            msg = Webhook(self.secret).verify(raw, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        self.got.append(msg)
        self.headers.append(dict(request.headers))
        return web.Response(status=204)

    def unique(self) -> list[dict[str, Any]]:
        """Deduplicated by id, in order of first arrival."""
        seen: dict[str, dict[str, Any]] = {}
        for m in self.got:
            seen.setdefault(m["id"], m)
        return list(seen.values())


@pytest.fixture
async def receiver() -> Any:
    r = await Receiver().start()
    yield r
    await r.stop()


async def start(aiohttp_client: Any, tmp_path: Path, extra: str = "") -> TestClient:
    config = parse_config(toml(extra))
    add_demo_accounts(tmp_path / "hall.db", config)
    app = make_app(config, tmp_path / "hall.db")
    return await kiosk_client(aiohttp_client, app, tmp_path / "hall.db")  # tickets from k1


async def auth(client: TestClient, user: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": user, "password": "demo"})
    assert r.status == 200, await r.text()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def subscribe(client: TestClient, receiver: Receiver, events: str = "*") -> int:
    admin = await auth(client, "admin")
    types = events.split(",")
    r = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": types}, headers=admin
    )
    assert r.status == 201, await r.text()
    got = await r.json()
    assert got["secret"].startswith("whsec_")
    receiver.secret = got["secret"]
    return got["webhook"]["id"]


def outbox(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, type FROM outbox ORDER BY seq").fetchall()


async def serve_one(client: TestClient, window: str, staff: dict[str, str], service: str) -> dict:
    r = await client.post("/api/v1/tickets", json={"service": service})
    assert r.status == 201, await r.text()
    ticket = (await r.json())["ticket"]
    for action in ("call", "start", "finish"):
        r = await client.post(f"/api/v1/windows/{window}/{action}", headers=staff)
        assert r.status == 200, await r.text()
    return ticket


async def test_a_receiver_that_goes_down_and_comes_back_gets_everything_once_in_order(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    client = await start(aiohttp_client, tmp_path)
    await subscribe(client, receiver)
    staff = await auth(client, "staff1")
    await serve_one(client, "1", staff, "social")
    await eventually(lambda: len(receiver.got) >= 3, what="the first ticket's three events")

    receiver.failing = True  # answers 503
    await serve_one(client, "1", staff, "tax")
    await asyncio.sleep(0.3)
    await receiver.stop()  # and then nobody listens at all
    for _ in range(3):
        await serve_one(client, "1", staff, "social")
    r = await client.post("/api/v1/tickets", json={"service": "tax"})
    await client.post("/api/v1/windows/2/call", headers=await auth(client, "staff2"))
    await client.post("/api/v1/windows/2/recall", headers=await auth(client, "staff2"))
    await client.post("/api/v1/windows/2/no-show", headers=await auth(client, "staff2"))
    await asyncio.sleep(0.5)
    receiver.failing = False
    await receiver.start()

    sent = await eventually(
        lambda: (o := outbox(tmp_path / "hall.db")) and len(receiver.unique()) == len(o) and o,
        what="every message after the receiver came back",
    )
    unique = receiver.unique()
    assert [m["id"] for m in unique] == [i for i, _ in sent]  # in the outbox's order
    assert [m["type"] for m in unique] == [
        *["ticket.issued", "ticket.called", "ticket.finished"] * 5,
        "ticket.issued",
        "ticket.called",
        "ticket.called",
        "ticket.no_show",
    ]
    recalls = [m["data"]["recall"] for m in unique if m["type"] == "ticket.called"]
    assert recalls == [False] * 6 + [True]
    assert [m["data"]["number"] for m in unique if m["type"] == "ticket.issued"] == [
        "A001",
        "B001",
        "A002",
        "A003",
        "A004",
        "B002",
    ]
    assert receiver.bad_signatures == 0
    assert all(m["hall"] == "test" and m["at"].endswith("+08:00") for m in unique)
    for m, h in zip(receiver.got, receiver.headers, strict=True):
        assert h["webhook-id"] == m["id"] and h["webhook-signature"].startswith("v1,")
        assert abs(int(h["webhook-timestamp"]) - time.time()) < 60

    manager = await auth(client, "manager")
    hooks = (await (await client.get("/api/v1/webhooks", headers=manager)).json())["webhooks"]
    assert hooks[0]["state"] == "active" and hooks[0]["backlog"] == 0
    assert hooks[0]["delivered"] == len(receiver.got) and hooks[0]["failures"] == 0
    r = await client.get(f"/api/v1/webhooks/{hooks[0]['id']}/deliveries?failed=1", headers=manager)
    failures = (await r.json())["deliveries"]
    assert failures and all(not f["ok"] for f in failures)
    assert {f["status"] for f in failures} >= {503, None}  # refused connections have no status
    assert any("503" in f["error"] for f in failures)
    assert any("Connect" in f["error"] for f in failures if f["status"] is None)
    assert [f["attempt"] for f in failures][::-1][:3] == [1, 2, 3]  # counted per outage


async def test_bodies_carry_no_personal_data(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    client = await start(aiohttp_client, tmp_path, HAOCHA)
    await subscribe(client, receiver)
    card = {"name": "张三丰", "id_number": "11010519491231002X"}
    r = await client.post("/api/v1/tickets", json={"service": "tax", "id_card": card})
    ticket = (await r.json())["ticket"]
    assert ticket["name_masked"] == "张*丰"
    staff = await auth(client, "staff2")
    for action in ("call", "finish"):
        assert (await client.post(f"/api/v1/windows/2/{action}", headers=staff)).status == 200
    r = await client.post(
        "/api/v1/ratings",
        json={
            "token": ticket["token"],
            "level": 1,
            "options": ["attitude"],
            "comment": "我的电话 13800138000，请回电",
        },
    )
    assert r.status == 201, await r.text()
    await eventually(lambda: len(receiver.unique()) == 5, what="five messages")
    with sqlite3.connect(tmp_path / "hall.db") as conn:
        identity = conn.execute("SELECT identity FROM tickets").fetchone()[0]
    raw = json.dumps(receiver.got, ensure_ascii=False)
    for secret in (ticket["token"], "张", "*丰", identity, "110105", "13800138000", "电话"):
        assert secret not in raw
    assert {m["type"] for m in receiver.got} == {
        "ticket.issued",
        "ticket.called",
        "ticket.finished",
        "rating.created",
        "haocha.rating",
    }


async def test_phone_never_reaches_hub_or_webhooks(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    """A 差评's phone number, even where the 好差评 platform is allowed the comment and the
    applicant: in no webhook body, in nothing the outbox holds, in nothing the hub pusher reads
    (the ratings it sends, the event log it sends from), before or after the follow-up. Nor
    the numbers the visitor typed into the comment: the platform gets them masked."""
    permissive = "[haocha]\ninclude_comment = true\ninclude_applicant = true\n"
    client = await start(aiohttp_client, tmp_path, HAOCHA.replace("[haocha]\n", permissive))
    await subscribe(client, receiver)
    staff = await auth(client, "staff1")
    ticket = await serve_one(client, "1", staff, "tax")
    r = await client.post(
        "/api/v1/ratings",
        json={"token": ticket["token"], "level": 1, "options": ["attitude"],
              "phone": "+86 139-1234-5678",
              "comment": "也可打 137 0000 1111，身份证 11010519491231002X"},
    )  # fmt: skip
    assert r.status == 201, await r.text()
    rating = await r.json()
    assert rating["phone_masked"] == "139****5678"
    db = tmp_path / "hall.db"
    with sqlite3.connect(db) as conn:
        (sealed,) = conn.execute("SELECT sealed FROM rating_phones").fetchone()
    manager = await auth(client, "manager")
    r = await client.post(f"/api/v1/ratings/{rating['id']}/phone/reveal", headers=manager)
    assert (await r.json())["phone"] == "13912345678"
    r = await client.patch(
        f"/api/v1/ratings/{rating['id']}", json={"followup": "contacted"}, headers=manager
    )
    assert r.status == 200, await r.text()
    await eventually(
        lambda: {"rating.created", "haocha.rating"} <= {m["type"] for m in receiver.got},
        what="the rating's messages",
    )
    haocha = next(m["data"] for m in receiver.got if m["type"] == "haocha.rating")
    assert "applicant" in haocha  # the permissive platform
    assert haocha["comment"] == "也可打 137****1111，身份证 110105********002X"
    store = client.app[HALL_KEY].store
    with sqlite3.connect(db) as conn:
        outbox_bodies = [b for (b,) in conn.execute("SELECT body FROM outbox")]
        events = [d for (d,) in conn.execute("SELECT data FROM events")]
    to_hub = [outbox_rating(row) for row in store.ratings_after(0, 100)]
    assert [set(row) for row in to_hub] == [set(RATING_FIELDS)]
    text = "\n".join(
        [json.dumps(receiver.got, ensure_ascii=False), *outbox_bodies, *events, repr(to_hub)]
    )
    for secret in ("13912345678", "139****5678", "139-1234", "1391234", sealed.hex(),
                   base64.b64encode(sealed).decode(), "137 0000 1111", "13700001111",
                   "0000 1111", "11010519491231002X", "19491231"):  # fmt: skip
        assert secret not in text, secret


async def test_numbers_typed_into_a_comment_reach_the_platform_masked(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    """With ``include_comment`` the platform gets the visitor's words, but a mobile number, an
    ID number or an e-mail address typed among them goes out masked, in the record, the outbox
    and the delivery; ``rating.created`` only says there is a comment. The manager inside the
    hall still reads the comment as typed."""
    allow = HAOCHA.replace("[haocha]\n", "[haocha]\ninclude_comment = true\n")
    client = await start(aiohttp_client, tmp_path, allow)
    await subscribe(client, receiver)
    staff = await auth(client, "staff1")
    ticket = await serve_one(client, "1", staff, "tax")
    typed = "请打 +86 138 1234 5678 或发 zhang.san@qq.com，身份证 110105 19491231 0012"
    r = await client.post(
        "/api/v1/ratings",
        json={"token": ticket["token"], "level": 2, "options": ["attitude"], "comment": typed},
    )
    assert r.status == 201, await r.text()
    rating = await r.json()
    await eventually(
        lambda: {"rating.created", "haocha.rating"} <= {m["type"] for m in receiver.got},
        what="the rating's messages",
    )
    haocha = next(m["data"] for m in receiver.got if m["type"] == "haocha.rating")
    assert haocha["comment"] == "请打 138****5678 或发 [已隐去]，身份证 110105********0012"
    created = next(m["data"] for m in receiver.got if m["type"] == "rating.created")
    assert created["has_comment"] is True and "comment" not in created
    with sqlite3.connect(tmp_path / "hall.db") as conn:
        outbox_bodies = [b for (b,) in conn.execute("SELECT body FROM outbox")]
    sent = "\n".join([json.dumps(receiver.got, ensure_ascii=False), *outbox_bodies])
    for secret in ("138 1234 5678", "1234 5678", "zhang.san", "qq.com", "19491231"):
        assert secret not in sent, secret
    manager = await auth(client, "manager")
    r = await client.get("/api/v1/ratings?max_level=2", headers=manager)
    (mine,) = [x for x in await r.json() if x["id"] == rating["id"]]
    assert mine["comment"] == typed


async def test_haocha_record_from_a_real_rating_field_by_field(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    client = await start(aiohttp_client, tmp_path, HAOCHA)
    await subscribe(client, receiver, "haocha.rating")
    hall = client.server.app[WEBHOOKS]
    staff = await auth(client, "staff1")
    tax = await serve_one(client, "1", staff, "tax")
    social = await serve_one(client, "1", staff, "social")
    pad = bearer(paired(tmp_path / "hall.db", "pad:1"))  # the window's evaluator pad
    r = await client.post(
        "/api/v1/ratings",
        json={"ticket": tax["id"], "level": 2, "options": ["wait_long", "slow"]},
        headers=pad,
    )
    assert r.status == 201, await r.text()
    rating = await r.json()
    r = await client.post("/api/v1/ratings", json={"token": social["token"], "level": 5})
    assert r.status == 201, await r.text()
    await eventually(lambda: len(receiver.unique()) == 2, what="two records")
    first, second = (m["data"] for m in receiver.unique())
    with sqlite3.connect(tmp_path / "hall.db") as conn:
        conn.row_factory = sqlite3.Row
        t = dict(conn.execute("SELECT * FROM tickets WHERE id = ?", [tax["id"]]).fetchone())
    assert first == {
        "record_id": f"test-{rating['id']}",
        "case_number": None,
        "taskCode": "330100-B-009",
        "taskName": "个人所得税申报",
        "department_code": "11330102TAX",
        "department_name": "国家税务总局某某区税务局",
        "region_code": "330102",
        "hall_id": "test",
        "hall_name": "测试便民服务中心",
        "channel": "4",
        "device": "window-1-pad",
        "window": "1",
        "window_name": "1号窗口",
        "staff": "330102-0017",
        "service_code": "tax",
        "service_name": "税务",
        "ticket_number": "B001",
        "handle_start": hall.iso(t["started_at"]),
        "handle_end": hall.iso(t["finished_at"]),
        "handle_s": round(t["finished_at"] - t["started_at"]),
        "rated_at": rating["at"],
        "alternate": 2,
        "level_name": "不满意",
        "reasons": ["101", "slow"],
        "reason_names": ["排队等候时间长", "办事效率低"],
    }
    # the service's only item is its item; the QR channel keeps its name; no reasons when good
    assert (second["taskCode"], second["taskName"]) == (
        "330100-A-001",
        "城乡居民基本养老保险参保登记",
    )
    assert second["department_code"] == "11330102MB0000000X"
    assert (second["channel"], second["device"]) == ("二维码", "ticket-qr")
    assert (second["alternate"], second["level_name"], second["reasons"]) == (5, "非常满意", [])
    assert "applicant" not in second and "comment" not in second


async def test_an_applicant_is_named_only_when_the_hall_allows_it(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    allow = HAOCHA.replace("[haocha]\n", "[haocha]\ninclude_applicant = true\n")
    client = await start(aiohttp_client, tmp_path, allow)
    await subscribe(client, receiver, "haocha.rating")
    card = {"name": "张三丰", "id_number": "11010519491231002X"}
    r = await client.post("/api/v1/tickets", json={"service": "tax", "id_card": card})
    ticket = (await r.json())["ticket"]
    staff = await auth(client, "staff2")
    for action in ("call", "finish"):
        await client.post(f"/api/v1/windows/2/{action}", headers=staff)
    await client.post("/api/v1/ratings", json={"token": ticket["token"], "level": 4})
    (record,) = [m["data"] for m in await eventually(receiver.unique, what="the record")]
    assert record["applicant"] == {"name_masked": "张*丰"}  # never more: the hall has no more


async def test_replay_sends_a_range_again_and_managers_see_it_in_the_log(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    client = await start(aiohttp_client, tmp_path)
    hook = await subscribe(client, receiver, "ticket.issued")
    for _ in range(5):
        await client.post("/api/v1/tickets", json={"service": "social"})
    await eventually(lambda: len(receiver.got) == 5, what="five tickets")
    manager = await auth(client, "manager")
    seqs = [
        d["seq"]
        for d in (
            await (await client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=manager)).json()
        )["deliveries"]
    ][::-1]
    r = await client.post(
        f"/api/v1/webhooks/{hook}/replay",
        json={"from_seq": seqs[1], "to_seq": seqs[3]},
        headers=manager,
    )
    assert r.status == 202 and (await r.json())["messages"] == 3
    await eventually(lambda: len(receiver.got) == 8, what="three sent again")
    assert [m["data"]["number"] for m in receiver.got[5:]] == ["A002", "A003", "A004"]
    assert [m["id"] for m in receiver.got[5:]] == [m["id"] for m in receiver.got[1:4]]
    log = (
        await (
            await client.get(f"/api/v1/webhooks/{hook}/deliveries?limit=3", headers=manager)
        ).json()
    )["deliveries"]
    assert [d["replay"] for d in log] == [True] * 3
    page = await client.get("/manager/integrations", headers=manager)
    html = await page.text()
    assert page.status == 200 and "数据对接" in html and "ticket.issued" in html
    assert receiver.url.removesuffix("/hook") in html


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "status"),
    [
        (None, "GET", "/api/v1/webhooks", None, 401),
        ("staff1", "GET", "/api/v1/webhooks", None, 403),
        ("manager", "POST", "/api/v1/webhooks", {"url": "http://x/", "events": ["*"]}, 403),
        ("admin", "POST", "/api/v1/webhooks", {"url": "ftp://x/", "events": ["*"]}, 422),
        ("admin", "POST", "/api/v1/webhooks", {"url": "http://x/y", "events": ["nope"]}, 422),
        ("admin", "POST", "/api/v1/webhooks", {"url": "http://x/y", "events": []}, 422),
        ("manager", "GET", "/api/v1/webhooks/99", None, 404),
        ("manager", "GET", "/api/v1/webhooks/x/deliveries", None, 404),
        ("manager", "POST", "/api/v1/webhooks/99/replay", {"from_seq": 1}, 404),
        ("manager", "DELETE", "/api/v1/webhooks/1", None, 403),
    ],
)
async def test_webhook_api_refuses_what_it_should(
    aiohttp_client: Any,
    tmp_path: Path,
    user: str | None,
    method: str,
    path: str,
    body: dict | None,
    status: int,
) -> None:
    client = await start(aiohttp_client, tmp_path)
    headers = await auth(client, user) if user else {}
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status == status, await r.text()
    assert set((await r.json())["error"]) >= {"code", "message"}


async def test_a_receiver_failing_for_a_day_is_still_tried_and_then_given_up(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    client = await start(aiohttp_client, tmp_path, "give_up_after_h = 24\n")
    hook = await subscribe(client, receiver, "ticket.issued")
    receiver.failing = True
    db = tmp_path / "hall.db"
    with sqlite3.connect(db) as conn:  # it has been failing for 23 hours already
        conn.execute(
            "UPDATE webhooks SET failing_since = ?, failures = 40", [time.time() - 23 * 3600]
        )
    await client.post("/api/v1/tickets", json={"service": "social"})
    manager = await auth(client, "manager")

    async def state() -> dict:
        r = await client.get(f"/api/v1/webhooks/{hook}", headers=manager)
        return (await r.json())["webhook"]

    async def tried() -> bool:
        return (await state())["failures"] > 40

    deadline = time.monotonic() + 10
    while not await tried():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert (await state())["state"] == "failing"
    with sqlite3.connect(db) as conn:  # a day and a minute
        conn.execute("UPDATE webhooks SET failing_since = ?", [time.time() - 86460])
    while (await state())["state"] != "disabled":
        assert time.monotonic() < deadline + 10
        await asyncio.sleep(0.05)
    receiver.failing = False
    r = await client.post(f"/api/v1/webhooks/{hook}/enable", headers=manager)
    assert r.status == 200
    await eventually(lambda: len(receiver.got) == 1, what="delivery once enabled again")


@given(st.integers(1, 200), st.floats(0, 1))
def test_retry_delays_grow_with_jitter_up_to_the_cap(failures: int, jitter: float) -> None:
    d = retry_delay(failures, 5, 3600, jitter)
    assert 0.5 * min(3600, 5 * 2 ** min(failures - 1, 60)) <= d <= 3600
    assert retry_delay(failures + 1, 5, 3600, jitter) >= d


def test_the_schedule_keeps_trying_for_more_than_a_day() -> None:
    """The default rules: at the slowest jitter, tries spread over more than 24 hours."""
    config = parse_config(toml().replace(FAST, ""))
    rules = config.webhooks
    elapsed, n = 0.0, 0
    while elapsed < rules.give_up_after_h * 3600:
        n += 1
        elapsed += retry_delay(n, rules.retry_base_s, rules.retry_cap_s, 1.0)
    assert rules.give_up_after_h >= 24 and n > 24
    with pytest.raises(Exception, match="give_up_after_h"):
        parse_config(toml().replace(FAST, "[webhooks]\ngive_up_after_h = 2\n"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hall_server.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


async def test_a_hall_killed_mid_delivery_loses_nothing(tmp_path: Path, receiver: Receiver) -> None:
    """300 tickets, a receiver taking 5 ms each, the hall killed (SIGKILL) twice while
    delivering: after deduplication the receiver has every message once, in order."""
    config = tmp_path / "hall.toml"
    config.write_text(toml())
    add_demo_accounts(tmp_path / "hall.db", parse_config(toml()))
    out = cli(
        "webhook",
        "add",
        receiver.url,
        "--events",
        "ticket.issued,ticket.called",
        "--db",
        str(tmp_path / "hall.db"),
    )
    assert out.returncode == 0, out.stderr
    receiver.secret = out.stdout.strip()
    receiver.delay_s = 0.005
    server = ServerProcess(tmp_path / "hall.db", config)
    await asyncio.to_thread(server.start)
    staff = await asyncio.to_thread(server.login, "staff1")  # a kiosk would be rate limited
    try:
        for _ in range(300):
            status, _ = await asyncio.to_thread(
                server.request, "POST", "/api/v1/tickets", {"service": "social"}, staff
            )
            assert status == 201
        for _ in range(2):
            got = len(receiver.got)
            await eventually(
                lambda g=got: len(receiver.got) > g + 20, timeout=60, what="delivery under way"
            )
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)
        token = await asyncio.to_thread(server.login, "staff1")
        for _ in range(20):
            status, _ = await asyncio.to_thread(
                server.request, "POST", "/api/v1/windows/1/call", None, token
            )
            assert status == 200
        sent = await eventually(
            lambda: len(o := outbox(tmp_path / "hall.db")) == 320 and o,
            timeout=60,
            what="the outbox complete",
        )
        await eventually(lambda: len(receiver.unique()) == 320, timeout=60, what="everything")
    finally:
        await asyncio.to_thread(server.stop)
    assert [m["id"] for m in receiver.unique()] == [i for i, _ in sent]
    issued = [m["data"]["number"] for m in receiver.unique() if m["type"] == "ticket.issued"]
    assert issued == [f"A{i:03d}" for i in range(1, 301)]
    assert receiver.bad_signatures == 0
    assert len(receiver.got) < 320 + 200  # a few sent again after each kill, not everything


async def test_an_alarm_follows_the_ticket_that_raised_it(
    aiohttp_client: Any, tmp_path: Path, receiver: Receiver
) -> None:
    hall = HALL.replace('name = "税务"\n', 'name = "税务"\nalarm_waiting = 2\n')
    config = parse_config(hall + FAST)
    add_demo_accounts(tmp_path / "hall.db", config)
    app = make_app(config, tmp_path / "hall.db")
    client = await kiosk_client(aiohttp_client, app, tmp_path / "hall.db")
    await subscribe(client, receiver, "ticket.issued,alarm.raised")
    for _ in range(3):
        await client.post("/api/v1/tickets", json={"service": "tax"})
    got = await eventually(lambda: len(receiver.unique()) == 4 and receiver.unique())
    assert [m["type"] for m in got] == ["ticket.issued"] * 2 + ["alarm.raised", "ticket.issued"]
    alarm = got[2]["data"]
    assert (alarm["service"], alarm["kind"], alarm["value"], alarm["threshold"]) == (
        "tax",
        "waiting",
        2,
        2,
    )
    assert alarm["unit"] == "people" and alarm["raised_at"] >= got[1]["data"]["issued_at"]
