"""The hub's API on both engines: statuses, logins and scopes, the catalog, 就近办, ingest
checks and the city websocket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from city_hub.api import NETWORK, STORE
from city_hub.app import make_app
from city_hub.auth import add_user, token_hash
from city_hub.store import Hall, open_store

CATALOG = {
    "services": [
        {"code": "a", "prefix": "A", "name": "社会保障"},
        {"code": "b", "prefix": "B", "name": "户籍"},
    ],
    "items": [
        {"code": "A-001", "name": "社会保障卡申领", "name_en": "Card", "service": "a",
         "levels": ["city", "town", "village"], "online": True, "keywords": ["社保卡"]},
        {"code": "B-001", "name": "户口迁移", "service": "b", "levels": ["city", "town"],
         "online": False},
    ],
}  # fmt: skip


def profile(hall_id: str, items: list[str]) -> dict[str, Any]:
    return {
        "hall": {"id": hall_id, "name": hall_id, "level": "town", "timezone": "Asia/Shanghai",
                 "hours": ["00:00-24:00"]},
        "service": [{"code": "a", "prefix": "A", "name": "社会保障", "name_en": "",
                     "target_wait_min": 20,
                     "items": [{"code": c, "name": c, "name_en": "", "online": True}
                               for c in items]}],
        "window": [{"id": "1", "services": ["a"]}],
    }  # fmt: skip


def state(waiting: int, eta: float, open_now: bool = True) -> dict[str, Any]:
    return {"at": time.time(), "day": "2026-11-30", "open_now": open_now, "waiting": waiting,
            "open_windows": 1, "longest_wait_s": 60.0, "catalog_version": None,
            "services": [{"service": "a", "waiting": waiting, "longest_wait_s": 60.0,
                          "open_windows": 1, "eta_s": eta, "open": open_now}]}  # fmt: skip


@pytest.fixture
async def hub(hub_db: str, aiohttp_client: Any) -> TestClient:
    """A hub with a city center, a town under it and a village under the town (each with a
    push token ``tok-ID``), a ``city`` account and a town manager."""
    store = await open_store(hub_db)
    now = time.time()
    for h, level, parent, lat, lon in [
        ("c0", "city", None, 23.13, 113.26),
        ("t1", "town", "c0", 23.30, 113.80),
        ("v1", "village", "t1", 23.31, 113.82),
        ("v2", "village", "t1", None, None),
    ]:
        await store.add_hall(
            Hall(h, f"hall {h}", level, parent, lat, lon), token_hash(f"tok-{h}"), now
        )
    await add_user(store, "city", "city-pass", "city", None)
    await add_user(store, "town", "town-pass", "manager", "t1")
    await store.close()
    return await aiohttp_client(make_app(hub_db))


async def login(client: TestClient, user: str) -> str:
    r = await client.post("/api/v1/auth/login", json={"username": user, "password": f"{user}-pass"})
    assert r.status == 200
    return (await r.json())["token"]


async def push(client: TestClient, hall: str, **body: Any) -> Any:
    r = await client.post(
        "/api/v1/ingest",
        json={"hall": hall, **body},
        headers={"Authorization": f"Bearer tok-{hall}"},
    )
    return r.status, await r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_halls_are_online_stale_offline_or_never(hub: TestClient) -> None:
    store = hub.server.app[STORE]
    now = time.time()
    await store.save_state("c0", state(3, 120), None, now)
    await store.save_state("t1", None, None, now - 90)
    await store.save_state("v1", None, None, now - 400)
    await hub.server.app[NETWORK].refresh()
    r = await hub.get("/api/v1/halls")
    halls = {h["id"]: h for h in (await r.json())["halls"]}
    assert {h: v["status"] for h, v in halls.items()} == {
        "c0": "online",
        "t1": "stale",
        "v1": "offline",
        "v2": "never",
    }
    assert halls["c0"]["waiting"] == 3 and halls["c0"]["last_seen"].endswith("+08:00")
    assert (await (await hub.get("/api/v1/health")).json())["status"] == "ok"


async def test_wrong_passwords_slow_the_client_guessing_at_a_name(hub: TestClient) -> None:
    """Per client and name (``tests/test_hub_login.py``: other clients are not slowed)."""
    for _ in range(5):
        r = await hub.post("/api/v1/auth/login", json={"username": "city", "password": "guess"})
        assert r.status == 401
    r = await hub.post("/api/v1/auth/login", json={"username": "city", "password": "city-pass"})
    assert r.status == 429 and (await r.json())["error"]["code"] == "too_many_attempts"
    assert (await login(hub, "town")) != ""  # other names from the same client are not


async def test_ended_sessions_are_deleted_when_the_hub_starts_and_at_a_login(
    hub_db: str, aiohttp_client: Any
) -> None:
    store = await open_store(hub_db)
    await add_user(store, "city", "city-pass", "city", None)
    await store.add_session(token_hash("old-1"), "city", time.time() - 1)
    await store.close()
    client = await aiohttp_client(make_app(hub_db))  # the sweep runs as the hub starts
    store = client.server.app[STORE]
    assert await store.drop_expired_sessions(time.time()) == 0
    await store.add_session(token_hash("old-2"), "city", time.time() - 1)
    token = await login(client, "city")
    assert await store.drop_expired_sessions(time.time()) == 0  # the login took it away
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer("old-2"))).status == 401


async def test_logins_and_scopes(hub: TestClient) -> None:
    r = await hub.post("/api/v1/auth/login", json={"username": "city", "password": "nope"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "bad_credentials"
    assert (await hub.get("/api/v1/report")).status == 401
    town = await login(hub, "town")
    rows = (await (await hub.get("/api/v1/report", headers=bearer(town))).json())["rows"]
    assert sorted(r["hall"] for r in rows) == ["t1", "v1", "v2"]
    city = await login(hub, "city")
    rows = (await (await hub.get("/api/v1/report", headers=bearer(city))).json())["rows"]
    assert sorted(r["hall"] for r in rows) == ["c0", "t1", "v1", "v2"]
    r = await hub.get("/api/v1/report?from=2026-11-30&to=2026-11-01", headers=bearer(city))
    assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_range"
    r = await hub.get("/api/v1/halls/c0/metrics/windows?date=bad", headers=bearer(city))
    assert r.status == 422


async def test_an_invalid_catalog_is_refused_naming_the_entry(hub: TestClient) -> None:
    assert (await hub.post("/api/v1/catalog", json=CATALOG)).status == 401
    city, town = await login(hub, "city"), await login(hub, "town")
    assert (await hub.post("/api/v1/catalog", json=CATALOG, headers=bearer(town))).status == 403
    assert (await hub.get("/api/v1/catalog")).status == 404
    bad = [
        ({"items": [*CATALOG["items"], CATALOG["items"][0]]}, "items[2].code"),
        ({"items": [{**CATALOG["items"][0], "service": "zz"}]}, "items[0].service"),
        ({"items": [{**CATALOG["items"][0], "levels": ["province"]}]}, "items[0].levels"),
        ({"services": [*CATALOG["services"], CATALOG["services"][0]]}, "services[2].code"),
    ]
    for change, entry in bad:
        r = await hub.post("/api/v1/catalog", json={**CATALOG, **change}, headers=bearer(city))
        err = (await r.json())["error"]
        assert r.status == 422 and err["code"] == "invalid_catalog" and err["entry"] == entry, err
        assert entry in err["message"]
    r = await hub.post("/api/v1/catalog", json=CATALOG, headers=bearer(city))
    assert r.status == 201 and (await r.json()) == {"version": 1}
    r = await hub.post("/api/v1/catalog", json=CATALOG, headers=bearer(city))
    assert (await r.json()) == {"version": 2}
    got = await (await hub.get("/api/v1/catalog")).json()
    assert got["version"] == 2 and got["items"] == CATALOG["items"]


async def test_near_lists_open_online_halls_first_then_nearest(hub: TestClient) -> None:
    assert (await push(hub, "c0", state=state(9, 1800), profile=profile("c0", ["A-001"])))[0] == 200
    await push(hub, "t1", state=state(2, 300, open_now=False), profile=profile("t1", ["A-001"]))
    await push(hub, "v1", state=state(0, 0), profile=profile("v1", ["A-001"]))
    await push(hub, "v2", state=state(0, 0), profile=profile("v2", ["B-9"]))
    r = await hub.get("/api/v1/near?item=A-001&lat=23.30&lon=113.80")
    body = await r.json()
    assert body["item"]["code"] == "A-001"
    assert [h["id"] for h in body["halls"]] == ["v1", "c0", "t1"]  # t1 is nearest but closed
    assert body["halls"][0]["distance_m"] < 3000 and body["halls"][1]["waiting"] == 9
    body = await (await hub.get("/api/v1/near?item=A-001")).json()
    assert [h["id"] for h in body["halls"]] == ["v1", "c0", "t1"]  # by estimated wait
    assert (await hub.get("/api/v1/near?item=NOPE")).status == 404
    assert (await hub.get("/api/v1/near?item=A-001&lat=99&lon=1")).status == 422


async def test_ingest_needs_the_halls_token_and_keeps_only_shareable_fields(
    hub: TestClient,
) -> None:
    event = {"seq": 1, "day": "2026-11-30", "type": "ticket_issued", "at": 1.0,
             "ticket_id": "t1", "service": "a", "token": "SECRET",
             "name_masked": "张*丰"}  # fmt: skip
    r = await hub.post("/api/v1/ingest", json={"hall": "c0", "events": [event]})
    assert r.status == 401
    status, body = await push(hub, "t1", events=[event])
    assert status == 200 and body["acked"] == 1
    async with hub.server.app[STORE].transaction() as tx:
        (kept,) = await tx.events_from("t1", 1, 10)
    assert dict(kept.data) == {"type": "ticket_issued", "at": 1.0, "ticket_id": "t1",
                               "service": "a"}  # fmt: skip
    r = await hub.post("/api/v1/ingest", json={"hall": "c0", "events": []},
                       headers=bearer("tok-t1"))  # fmt: skip
    assert r.status == 403
    for broken in ({**event, "seq": "1"}, {**event, "day": "today"}, {**event, "service": 5},
                   "x", {**event, "at": None}):  # fmt: skip
        status, body = await push(hub, "v1", events=[broken])
        assert status == 422 and body["error"]["code"] == "invalid_event", broken
    r = await hub.post("/api/v1/ingest", data=b"{not json", headers=bearer("tok-v1"))
    assert r.status == 400
    status, body = await push(hub, "v1", state={**state(1, 1), "waiting": "many"})
    assert status == 422 and body["error"]["code"] == "invalid_state"
    status, body = await push(hub, "v1", profile={"hall": {"id": "v1"}})
    assert status == 422 and body["error"]["code"] == "invalid_profile"
    status, _ = await push(hub, "v1", state={**state(1, 1), "secret": "x"})
    assert status == 200
    halls = await (await hub.get("/api/v1/halls")).json()
    assert "secret" not in str(halls)


async def test_city_socket_sends_a_snapshot_then_hall_changes(hub: TestClient) -> None:
    assert (await hub.get("/ws/city")).status == 401
    town = await login(hub, "town")
    ws = await hub.ws_connect("/ws/city", headers=bearer(town))
    snap = await ws.receive_json(timeout=5)
    assert snap["type"] == "snapshot"
    assert sorted(h["id"] for h in snap["halls"]) == ["t1", "v1", "v2"]
    await push(hub, "c0", state=state(5, 100))  # outside the town's scope: not heard
    await push(hub, "v1", state=state(4, 100))
    msg = await ws.receive_json(timeout=5)
    while msg["type"] != "hall":
        msg = await ws.receive_json(timeout=5)
    assert msg["hall"]["id"] == "v1" and msg["hall"]["waiting"] == 4
    assert msg["hall"]["status"] == "online"
    await ws.close()
