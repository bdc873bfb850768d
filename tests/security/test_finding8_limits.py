"""Finding 8: no length limit on id_card.name (50 requests added 21.5 MB), deeply nested
JSON gave a 500, a staff user name starting with "=" reached the CSV export as a formula, and
a client sending its body slowly held its request open. (Appointment codes and cancelling:
test_finding2; security headers: test_finding7.)"""

from __future__ import annotations

import asyncio
import csv
import io
import time

from hall_server.core.access import Role
from hall_server.http.common import ACCOUNTS, HALL
from tests.security.conftest import Start, auth, login
from tests.support import bearer, paired


async def test_an_endless_name_on_a_card_is_refused_and_stores_nothing(start: Start) -> None:
    client = await start()
    k1 = bearer(paired(client.app[HALL].store.path, "k1"))
    db = client.app[HALL].store.path
    before = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
    card = {"id_number": "11010519491231002X", "name": "张" * 400_00}
    for _ in range(50):
        r = await client.post(
            "/api/v1/tickets", json={"service": "tax", "id_card": card}, headers=k1
        )
        assert r.status == 422 and (await r.json())["error"]["field"] == "id_card.name"
    after = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
    assert after - before < 100_000  # was 21.5 MB


async def test_deeply_nested_json_is_a_400_not_a_500(start: Start) -> None:
    client = await start()
    k1 = bearer(paired(client.app[HALL].store.path, "k1"))
    for depth in (25, 5_000, 100_000):
        body = '{"service": "tax", "id_card": ' + "[" * depth + "]" * depth + "}"
        r = await client.post(
            "/api/v1/tickets", data=body, headers={**k1, "Content-Type": "application/json"}
        )
        assert r.status == 400 and (await r.json())["error"]["code"] == "too_deep", depth


async def test_a_user_name_that_is_a_formula_is_exported_as_text(start: Start) -> None:
    client = await start()
    evil = '=HYPERLINK("http://evil.test","x")'
    client.app[ACCOUNTS].add(evil, "demo", Role.STAFF, ["1"])
    k1 = bearer(paired(client.app[HALL].store.path, "k1"))
    await client.post("/api/v1/tickets", json={"service": "social-insurance"}, headers=k1)
    clerk = auth(await login(client, evil))
    assert (await client.post("/api/v1/windows/1/call", headers=clerk)).status == 200
    assert (await client.post("/api/v1/windows/1/finish", headers=clerk)).status == 200
    manager = auth(await login(client, "manager"))
    r = await client.get("/api/v1/metrics/report.csv?by=staff", headers=manager)
    assert r.status == 200
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    cells = [c for row in rows for c in row]
    assert "'" + evil in cells and evil not in cells
    r = await client.get("/api/v1/metrics/report.xlsx?by=staff", headers=manager)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(await r.read())).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'" + evil in values and not any(
        isinstance(v, str) and v.startswith("=") for v in values
    )


async def test_a_client_trickling_its_body_is_cut_off(start: Start) -> None:
    client = await start()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /api/v1/appointments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    t0 = time.perf_counter()
    head = await asyncio.wait_for(reader.readline(), timeout=30)
    waited = time.perf_counter() - t0
    writer.close()
    assert b"408" in head and waited < 20


def test_a_client_that_never_finishes_its_headers_is_cut_off(server_process) -> None:
    """hall-server closes a connection idle or stuck in its headers after 15 s (slowloris)."""
    import socket

    s = socket.create_connection(("127.0.0.1", server_process.port))
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.settimeout(40)
    t0 = time.perf_counter()
    assert s.recv(100) == b""  # closed by the server, no answer
    waited = time.perf_counter() - t0
    s.close()
    assert 10 < waited < 30
