"""The server side of the screens, in-process (no browser): the kiosk websocket's filter, the
QR endpoint, page answers for unknown things, the login redirect."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientWebSocketResponse

from hall_server.app import make_app
from hall_server.config import HallConfig
from hall_server.http.common import HUB
from tests.support import bearer, kiosk_client, paired


async def next_for_k1(ws: ClientWebSocketResponse) -> dict:
    """The next message on k1's socket other than its devices' own reports (the demo kiosks'
    simulated printer and reader report whenever their state changes) and heartbeats; every
    message passed over must still be one k1 may hear."""
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] not in ("device", "printer", "heartbeat"):
            return msg
        assert msg["type"] == "heartbeat" or msg["kiosk"] == "k1", msg


async def test_kiosk_socket_passes_queue_state_and_only_its_own_device_messages(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig
) -> None:
    app = make_app(demo_config, tmp_path / "hall.db")
    client = await kiosk_client(aiohttp_client, app, tmp_path / "hall.db")
    async with client.ws_connect("/ws/kiosk/k1") as ws:
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot" and snapshot["kiosk"] == "k1"
        assert {s["code"] for s in snapshot["services"]} >= {"social-insurance", "tax"}
        hub = client.app[HUB]
        hub.publish({"type": "card", "kiosk": "k2", "name_masked": "李*"})
        hub.publish({"type": "call", "number": "A001", "window": "1"})
        hub.publish({"type": "card", "kiosk": "k1", "name_masked": "张*三", "priority": True})
        got = await next_for_k1(ws)
        assert got == {"type": "card", "kiosk": "k1", "name_masked": "张*三", "priority": True}
        at_k2 = bearer(paired(tmp_path / "hall.db", "k2"))  # another kiosk's ticket
        resp = await client.post("/api/v1/tickets", json={"service": "tax"}, headers=at_k2)
        assert resp.status == 201
        state = await next_for_k1(ws)
        assert state["type"] == "state"
        assert next(s for s in state["services"] if s["code"] == "tax")["waiting"] == 1


async def test_screens_answer_unknown_things_with_404_and_bad_qr_data_with_400(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig
) -> None:
    client = await aiohttp_client(make_app(demo_config, tmp_path / "hall.db"))
    for path in ("/kiosk/none", "/board?window=99"):
        resp = await client.get(path)
        assert resp.status == 404
        assert "找不到此页面" in await resp.text()
    assert (await client.get("/ws/kiosk/none")).status == 404
    assert (await client.get("/qr.svg")).status == 400
    assert (await client.get("/qr.svg", params={"data": "x" * 600})).status == 400
    resp = await client.get("/qr.svg", params={"data": "http://hall.example/t/abc"})
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert (await resp.text()).lstrip().startswith("<?xml")


async def test_staff_page_sends_visitors_to_login_and_back(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig
) -> None:
    client = await aiohttp_client(make_app(demo_config, tmp_path / "hall.db"))
    resp = await client.get("/staff?window=3", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/login?next=/staff?window=3"
    page = await (await client.get("/login?next=//evil.example/")).text()
    assert 'data-next=""' in page
