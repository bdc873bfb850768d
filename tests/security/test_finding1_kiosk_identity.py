"""Finding 1: anyone could claim an identity at the kiosk (a made-up id_card got priority, an
anonymous socket heard card reads, a victim's ID number checked in their appointment)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError

from hall_server.http.common import HALL
from tests.security.conftest import Start, auth, login
from tests.support import ROOT, ServerProcess, add_demo_accounts, bearer, paired

ELDER = {"id_number": "11010519491231002X", "name": "张三丰"}  # born 1949: priority


def db_of(client) -> Path:
    return client.app[HALL].store.path


async def test_an_invented_id_card_gets_no_ticket_without_a_kiosk(start: Start) -> None:
    client = await start()
    for _ in range(6):  # the report: 6 of 6 invented numbers got priority
        r = await client.post("/api/v1/tickets", json={"service": "tax", "id_card": ELDER})
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "kiosk_credential_required"
    staff = auth(await login(client, "staff1"))
    r = await client.post(
        "/api/v1/tickets", json={"service": "tax", "id_card": ELDER}, headers=staff
    )
    assert r.status == 403 and (await r.json())["error"]["code"] == "kiosk_only"
    # no ticket at all was issued to the invented identity
    tickets = await (await client.get("/api/v1/tickets", headers=staff)).json()
    assert tickets == []
    # the real kiosk still gives the elder priority
    k1 = bearer(paired(db_of(client), "k1"))
    r = await client.post("/api/v1/tickets", json={"service": "tax", "id_card": ELDER}, headers=k1)
    assert r.status == 201 and (await r.json())["ticket"]["priority"] == "priority"


async def test_a_kiosk_takes_tickets_only_as_itself(start: Start) -> None:
    client = await start()
    k1 = bearer(paired(db_of(client), "k1"))
    r = await client.post("/api/v1/tickets", json={"service": "tax", "kiosk": "k2"}, headers=k1)
    assert r.status == 403 and (await r.json())["error"]["code"] == "wrong_kiosk"
    pad = bearer(paired(db_of(client), "pad:1"))  # a pad is not a kiosk
    r = await client.post("/api/v1/tickets", json={"service": "tax"}, headers=pad)
    assert r.status == 401


async def test_a_stranger_cannot_listen_to_a_kiosks_card_reads(start: Start) -> None:
    client = await start()
    for headers in ({}, bearer(paired(db_of(client), "k2")), bearer("made-up")):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/kiosk/k1", headers=headers)
        assert refused.value.status == 401
    async with client.ws_connect("/ws/kiosk/k1", headers=bearer(paired(db_of(client)))) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"


async def test_a_victims_appointment_cannot_be_checked_in_by_a_stranger(start: Start) -> None:
    client = await start()
    r = await client.post("/api/v1/tickets", json={"appointment": "ABCD2345"})
    assert r.status == 401  # refused before the code is even looked at
    staff = auth(await login(client, "staff1"))
    r = await client.post("/api/v1/tickets", json={"appointment": "ABCD2345"}, headers=staff)
    assert r.status == 403


async def test_a_pairing_address_pairs_one_browser_once(start: Start) -> None:
    client = await start()
    r = await client.get("/kiosk/k1", allow_redirects=False)
    assert r.status == 401
    page = await r.text()
    assert "此设备尚未配对" in page and "hall-server device add k1" in page
    from hall_server.store.devices import add_pairing

    code = add_pairing(client.app[HALL].store, "k1")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(str(client.make_url("")), cookie_jar=jar) as kiosk:
        async with kiosk.get(f"/kiosk/k1?idle=60&pair={code}", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/kiosk/k1?idle=60"
            cookie = r.headers["Set-Cookie"]
            assert "hallq_device=" in cookie and "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
        async with kiosk.get("/kiosk/k1") as r:
            assert r.status == 200 and "kiosk-setup" in await r.text()
        async with kiosk.post("/api/v1/tickets", json={"service": "tax"}) as r:
            assert r.status == 201 and (await r.json())["ticket"]["number"].startswith("H")
    # the same address again, from another browser: spent
    r = await client.get(f"/kiosk/k1?pair={code}", allow_redirects=False)
    assert r.status == 401 and "已失效或已被使用" in await r.text()
    # a code for k1 does not pair k2
    other = add_pairing(client.app[HALL].store, "k1")
    r = await client.get(f"/kiosk/k2?pair={other}", allow_redirects=False)
    assert r.status == 401


def test_device_add_pairs_a_running_hall_without_a_restart(tmp_path: Path) -> None:
    from hall_server.config import DEMO_CONFIG, load_config

    db = tmp_path / "hall.db"
    add_demo_accounts(db, load_config(DEMO_CONFIG))
    server = ServerProcess(db).start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "hall_server.cli", "device", "add", "k2", "--db", str(db),
             "--url", server.url],
            capture_output=True, text=True, cwd=ROOT, check=True,
        ).stdout.splitlines()  # fmt: skip
        token, address = out[0], out[1]
        assert address.startswith(f"{server.url}/kiosk/k2?pair=")
        status, body = server.request("POST", "/api/v1/tickets", {"service": "tax"}, token=token)
        assert status == 201, body
        assert body["ticket"]["number"].startswith("H")
        subprocess.run(
            [sys.executable, "-m", "hall_server.cli", "device", "remove", "k2", "--db", str(db)],
            capture_output=True, cwd=ROOT, check=True,
        )  # fmt: skip
        status, _ = server.request("POST", "/api/v1/tickets", {"service": "tax"}, token=token)
        assert status == 401
    finally:
        server.stop()
