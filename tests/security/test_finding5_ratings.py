"""Finding 5: the pad endpoint gave out the ticket id without login, and a bare id opened a
差评 against a clerk and blocked the holder's own rating."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from hall_server.http.common import HALL
from tests.security.conftest import Start, auth, login
from tests.support import bearer, paired


async def served_at_window_1(client: TestClient) -> dict:
    k1 = bearer(paired(client.app[HALL].store.path, "k1"))
    ticket = (await (await client.post("/api/v1/tickets", json={"service": "social-insurance"},
                                       headers=k1)).json())["ticket"]  # fmt: skip
    staff = auth(await login(client, "staff1"))
    assert (await client.post("/api/v1/windows/1/call", headers=staff)).status == 200
    assert (await client.post("/api/v1/windows/1/finish", headers=staff)).status == 200
    client.session.cookie_jar.clear()  # what follows comes from a stranger's phone
    return ticket


async def test_a_bare_ticket_id_rates_nothing_and_the_holder_still_can(start: Start) -> None:
    client = await start()
    ticket = await served_at_window_1(client)
    r = await client.get("/api/v1/ratings/pad/1")  # the id is no longer given to strangers
    assert r.status == 401
    bad = {"ticket": ticket["id"], "level": 1, "options": ["attitude"], "comment": "差"}
    r = await client.post("/api/v1/ratings", json=bad)
    assert r.status == 401 and (await r.json())["error"]["code"] == "pad_credential_required"
    pad2 = bearer(paired(client.app[HALL].store.path, "pad:2"))
    r = await client.post("/api/v1/ratings", json=bad, headers=pad2)
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_this_window"
    r = await client.post("/api/v1/ratings", json={"token": ticket["token"], "level": 5})
    assert r.status == 201 and (await r.json())["level"] == 5


async def test_the_windows_own_pad_rates_the_ticket_it_just_served(start: Start) -> None:
    client = await start()
    await served_at_window_1(client)
    pad1 = bearer(paired(client.app[HALL].store.path, "pad:1"))
    shown = (await (await client.get("/api/v1/ratings/pad/1", headers=pad1)).json())["ticket"]
    r = await client.post("/api/v1/ratings", json={"ticket": shown["id"], "level": 4},
                          headers=pad1)  # fmt: skip
    assert r.status == 201 and (await r.json())["source"] == "pad"
