"""Finding 7: a cross-site text/plain form POST replaced a manager's session; a page of the
same site on another port paused a window; /login?next=/%09/evil.test/ redirected off site."""

from __future__ import annotations

import re

from tests.security.conftest import Start, login


async def test_a_plain_form_post_cannot_log_anyone_in(start: Start) -> None:
    client = await start()
    form = '{"username": "manager", "password": "demo", "x": "'  # text/plain, JSON-shaped
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = await client.post(
            "/api/v1/auth/login", data=form + '"}', headers={"Content-Type": ctype}
        )
        assert r.status == 415 and (await r.json())["error"]["code"] == "json_only"
        assert "Set-Cookie" not in r.headers


async def test_a_page_of_another_origin_cannot_act_with_the_clerks_cookie(start: Start) -> None:
    client = await start()
    await login(client, "staff8")  # the console's session cookie is now in this browser
    here = f"http://{client.host}:{client.port}"
    other_port = f"http://{client.host}:{client.port + 1}"  # same site, another port
    for origin, site in ((other_port, "same-site"), ("https://evil.test", "cross-site")):
        r = await client.post("/api/v1/windows/8/pause", headers={"Origin": origin})
        assert r.status == 403 and (await r.json())["error"]["code"] == "cross_origin"
        r = await client.post("/api/v1/windows/8/pause", headers={"Sec-Fetch-Site": site})
        assert r.status == 403
        r = await client.get("/ws/board", headers={"Origin": origin, "Upgrade": "websocket",
                                                   "Connection": "Upgrade"})  # fmt: skip
        assert r.status == 403
    r = await client.post("/api/v1/windows/8/pause", headers={"Origin": here})
    assert r.status == 200  # the console itself still works


async def test_login_sends_users_only_to_local_pages(start: Start) -> None:
    client = await start()
    for evil in ("/%09/evil.test/x", "//evil.test", "/\\evil.test", "https://evil.test",
                 "/%0a/evil.test", "/%5Cevil.test"):  # fmt: skip
        page = await (await client.get(f"/login?next={evil}")).text()
        assert re.search(r'data-next=""', page), evil
    page = await (await client.get("/login?next=/manager/reports%3Fby%3Dstaff")).text()
    assert 'data-next="/manager/reports?by=staff"' in page


async def test_every_answer_carries_the_security_headers(start: Start) -> None:
    client = await start()
    for path in ("/book", "/login", "/api/v1/health", "/static/common/hallq.js", "/nowhere",
                 "/api/v1/nowhere", "/kiosk/k1"):  # fmt: skip
        r = await client.get(path, allow_redirects=False)
        h = r.headers
        assert "script-src 'self'" in h["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["X-Frame-Options"] == "DENY", path
        assert h["Referrer-Policy"] == "no-referrer", path
