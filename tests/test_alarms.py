"""Alarms: raised when a queue passes its threshold, pushed over a real websocket to managers
only, acknowledged with the name of who did it, cleared when the queue shrinks."""

from __future__ import annotations

import aiohttp

from tests.support import ServerProcess


async def next_alarm(ws: aiohttp.ClientWebSocketResponse) -> dict:
    while True:
        msg = await ws.receive_json(timeout=10)
        if msg["type"] == "alarm":
            return msg


async def test_alarm_raised_pushed_acknowledged_and_cleared(server_process: ServerProcess) -> None:
    s = server_process
    token = s.login("manager")
    staff = s.login("staff1")
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(s.url) as http:
        board = await http.ws_connect("/ws/board")
        async with http.ws_connect("/ws/manager", headers=auth) as ws:
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["type"] == "snapshot" and snapshot["alarms"] == []
            assert {x["service"] for x in snapshot["live"]["services"]} >= {"social-insurance"}
            for _ in range(12):  # the demo's social-insurance alarm_waiting is 12
                async with http.post(
                    "/api/v1/tickets",
                    json={"service": "social-insurance"},
                    headers={"Authorization": f"Bearer {staff}"},
                ) as r:
                    assert r.status == 201
            raised = await next_alarm(ws)
            assert raised["state"] == "raised"
            alarm = raised["alarm"]
            assert (alarm["service"], alarm["kind"], alarm["value"], alarm["threshold"]) == (
                "social-insurance",
                "waiting",
                12.0,
                12.0,
            )
            async with http.get("/api/v1/alarms?open=1", headers=auth) as r:
                assert [a["id"] for a in await r.json()] == [alarm["id"]]
            async with http.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=auth) as r:
                assert r.status == 200 and (await r.json())["acked_by"] == "manager"
            acked = await next_alarm(ws)
            assert acked["state"] == "acknowledged" and acked["alarm"]["acked_by"] == "manager"
            async with http.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=auth) as r:
                assert r.status == 409
                assert (await r.json())["error"]["code"] == "already_acknowledged"
            async with http.post(
                "/api/v1/windows/1/call", headers={"Authorization": f"Bearer {staff}"}
            ) as r:
                assert r.status == 200
            cleared = await next_alarm(ws)
            assert cleared["state"] == "cleared" and cleared["alarm"]["cleared_at"]
        heard = []
        while not board.closed:  # the public board heard the calls, never the alarms
            msg = await board.receive(timeout=0.5)
            heard.append(msg.json()["type"])
            if "call" in heard:
                break
        await board.close()
        assert "call" in heard and "alarm" not in heard
        async with http.get("/api/v1/alarms", headers=auth) as r:
            log = await r.json()
        assert [(a["id"], a["acked_by"], a["peak"]) for a in log] == [(alarm["id"], "manager", 12)]


async def test_alarms_and_their_socket_need_a_manager(server_process: ServerProcess) -> None:
    s = server_process
    staff = {"Authorization": f"Bearer {s.login('staff1')}"}
    manager = {"Authorization": f"Bearer {s.login('manager')}"}
    async with aiohttp.ClientSession(s.url) as http:
        async with http.get("/api/v1/alarms") as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
        async with http.get("/api/v1/alarms", headers=staff) as r:
            assert r.status == 403
        async with http.post("/api/v1/alarms/1/ack", headers=staff) as r:
            assert r.status == 403
        async with http.post("/api/v1/alarms/99/ack", headers=manager) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "unknown_alarm"
        async with http.get("/api/v1/alarms?date=soon", headers=manager) as r:
            assert r.status == 422
        async with http.get("/ws/manager") as r:
            assert r.status == 401
        async with http.get("/manager", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"].startswith("/login?next=/manager")
