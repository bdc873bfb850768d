"""The device agent against a real hall server (aiohttp, real SQLite file) over a real
websocket, with the printer and reader simulators on pty pairs and loopback TCP."""

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from devices.agent import AgentRefused, DeviceLoop, agent_url, run_agent
from devices.agent_cli import main as agent_main
from devices.sim.cards import RESIDENT
from devices.sim.links import PtyLink, TcpLink
from devices.sim.printer_sim import PrinterSimulator
from devices.sim.reader_sim import ReaderSimulator
from hall_server.app import make_app
from hall_server.cli import main
from hall_server.config import parse_config
from hall_server.core.access import Role
from hall_server.core.identity import identity_from_card
from hall_server.http.common import DEVICES, HALL
from hall_server.store.accounts import Accounts
from hall_server.store.devices import add_token
from tests.support import bearer, eventually, kiosk_hall_toml, paired, printed_tickets

CONFIG = kiosk_hall_toml("测试镇便民服务中心", kiosks=("k1", "k2"), hall_id="t", priority_age=60)


class Kiosk:
    """Simulated devices of a kiosk PC and its agent, connected to the hall."""

    def __init__(self, base: str, token: str) -> None:
        self.printer = PrinterSimulator()
        self.reader = ReaderSimulator()
        self.printer_link = PtyLink(self.printer)
        self.reader_link = TcpLink(self.reader)
        self.loop = DeviceLoop.open(
            "k1",
            self.printer_link.address,
            self.reader_link.address,
            # The simulator answers at once, but a loaded machine may not run its thread
            # for a while: a status query timing out would fail the job as offline.
            printer_settings={"timeout": 2.0, "settle": 0},
            reader_settings={"poll_interval": 0.05},
            server_url=base,
            status_every=0.1,
        )
        self.connections = 0
        self.token = token
        self.task = asyncio.create_task(
            run_agent(base, "k1", token, self.loop, backoff=(0.05, 0.2), on_connected=self.count)
        )

    def count(self) -> None:
        self.connections += 1

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await asyncio.to_thread(self.loop.close)
        self.printer_link.close()
        self.reader_link.close()

    def printed(self, number: str) -> list:
        return printed_tickets(self.printer, number)


@pytest.fixture
async def hall(aiohttp_server, tmp_path):
    app = make_app(parse_config(CONFIG), tmp_path / "hall.db", heartbeat_s=60)
    server = await aiohttp_server(app)
    Accounts(app[HALL].store).add("manager", "demo", Role.MANAGER)
    base = str(server.make_url(""))
    async with aiohttp.ClientSession(base) as login:
        credentials = {"username": "manager", "password": "demo"}
        async with login.post("/api/v1/auth/login", json=credentials) as r:
            auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
    async with aiohttp.ClientSession(base, headers=auth) as http:
        yield server, http


@pytest.fixture
async def kiosk(hall):
    server, _ = hall
    token = add_token(server.app[HALL].store, "k1")
    k = Kiosk(str(server.make_url("")).rstrip("/"), token)
    await eventually(lambda: k.connections == 1, what="agent connected")
    yield k
    await k.close()


async def devices(http) -> dict:
    async with http.get("/api/v1/devices") as r:
        assert r.status == 200
        return {d["kiosk"]: d for d in await r.json()}


def kiosk_page(server, kiosk: str = "k1") -> dict[str, str]:
    """The credential of `kiosk`'s paired screen."""
    return bearer(paired(server.app[HALL].store.path, kiosk))


async def take(http, server, kiosk: str = "k1") -> dict:
    """A ticket taken at `kiosk`'s paired screen."""
    auth = kiosk_page(server, kiosk)
    async with http.post(
        "/api/v1/tickets", json={"service": "social-insurance", "kiosk": kiosk}, headers=auth
    ) as r:
        assert r.status == 201
        return (await r.json())["ticket"]


async def job_state(http, token: str) -> dict:
    async with http.get(f"/api/v1/tickets/{token}/print") as r:
        return await r.json()


async def poll(http, fetch, predicate, what: str, timeout: float = 10.0):
    """Ask the server (`fetch`) until its answer satisfies `predicate`; returns that answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate(answer := await fetch(http)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {answer}")
        await asyncio.sleep(0.02)
    return answer


async def wait_devices(http, predicate, what: str) -> dict:
    return await poll(http, devices, predicate, what)


def devices_up(state: dict) -> bool:
    """Both of k1's devices reported ok: the printer and the reader report independently."""
    return state["k1"]["printer"] == "ok" and state["k1"]["reader"] == "ok"


async def test_agent_reports_its_devices_and_prints_each_ticket_taken_at_its_kiosk(hall, kiosk):
    server, http = hall
    state = await wait_devices(http, devices_up, "printer and reader ok")
    assert state["k1"]["mode"] == "agent" and state["k1"]["connected"]
    assert state["k1"]["last_seen"]
    assert state["k2"]["printer"] is None and state["k2"]["connected"] is False  # no devices
    ticket = await take(http, server)
    await eventually(lambda: kiosk.printed(ticket["number"]), what="ticket printed")
    [printed] = kiosk.printed(ticket["number"])
    base = str(server.make_url("")).rstrip("/")
    assert printed.qr_codes == [f"{base}/t/{ticket['token']}"]
    assert "社会保障" in printed.text and "测试镇便民服务中心" in printed.text
    await wait_job(http, ticket["token"], "done")  # the agent's report follows the paper
    await take(http, server, "k2")  # no printer there: no job, no failure
    assert [j.kiosk for j in server.app[DEVICES].jobs.values()] == ["k1"]


async def wait_job(http, token: str, state: str) -> dict:
    return await poll(
        http, lambda h: job_state(h, token), lambda j: j["state"] == state, f"job {state}"
    )


async def test_paper_out_mid_job_keeps_the_ticket_reports_it_and_a_reprint_prints_once(hall, kiosk):
    server, http = hall
    await wait_devices(http, lambda s: s["k1"]["printer"] == "ok", "printer ok")
    kiosk.printer.run_out_after(3)
    ticket = await take(http, server)
    assert (await wait_job(http, ticket["token"], "failed"))["reason"] == "paper_out"
    [torn] = kiosk.printer.tickets
    assert torn.cut is None
    async with http.get(f"/api/v1/tickets/{ticket['token']}") as r:
        assert (await r.json())["status"] == "waiting"  # the ticket stays valid
    state = await wait_devices(http, lambda s: s["k1"]["printer"] == "paper_out", "paper out")
    assert state["k1"]["jobs_failed"] == 1

    kiosk.printer.set_state("ok")  # paper refilled
    await wait_devices(http, lambda s: s["k1"]["printer"] == "ok", "printer ok again")
    async with http.post(f"/api/v1/tickets/{ticket['token']}/reprint") as r:
        assert r.status == 202, await r.text()
    await wait_job(http, ticket["token"], "done")
    async with http.post(f"/api/v1/tickets/{ticket['token']}/reprint") as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "already_printed"
    await asyncio.sleep(0.3)  # time for a duplicate to come out, if there were one
    assert len(kiosk.printed(ticket["number"])) == 1
    assert server.app[DEVICES].job_of_ticket(ticket["id"]).attempt == 2


async def test_a_printed_job_is_not_printed_again_when_the_agent_reconnects(hall, kiosk):
    server, http = hall
    await wait_devices(http, lambda s: s["k1"]["printer"] == "ok", "printer ok")
    ticket = await take(http, server)
    await wait_job(http, ticket["token"], "done")
    await server.app[DEVICES].kiosks["k1"].link.close()  # the network drops
    await eventually(lambda: kiosk.connections == 2, what="reconnected")
    await wait_devices(http, lambda s: s["k1"]["connected"], "connected again")
    await asyncio.sleep(0.3)
    assert len(kiosk.printed(ticket["number"])) == 1
    job = server.app[DEVICES].job_of_ticket(ticket["id"])
    assert (job.state, job.attempt) == ("done", 1)


async def test_ticket_taken_while_the_agent_is_away_fails_at_once_and_staff_can_reprint_it(
    hall, kiosk
):
    server, http = hall
    await wait_devices(http, lambda s: s["k1"]["printer"] == "ok", "printer ok")
    kiosk.task.cancel()
    await asyncio.gather(kiosk.task, return_exceptions=True)
    await wait_devices(http, lambda s: not s["k1"]["connected"], "agent gone")
    ticket = await take(http, server)
    job = await wait_job(http, ticket["token"], "failed")
    assert job["reason"] == "offline"
    job_id = server.app[DEVICES].job_of_ticket(ticket["id"]).id
    async with http.post(f"/api/v1/print-jobs/{job_id}/reprint") as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "kiosk_offline"

    kiosk.task = asyncio.create_task(
        run_agent(str(server.make_url("")), "k1", kiosk.token, kiosk.loop, backoff=(0.05, 0.2))
    )
    await wait_devices(http, lambda s: s["k1"]["printer"] == "ok", "agent back")
    async with http.get("/api/v1/print-jobs?state=failed") as r:
        assert [j["id"] for j in await r.json()] == [job_id]
    async with http.post(f"/api/v1/print-jobs/{job_id}/reprint") as r:
        assert r.status == 200 and (await r.json())["attempt"] == 2
    await wait_job(http, ticket["token"], "done")
    assert len(kiosk.printed(ticket["number"])) == 1


async def test_missing_bad_or_foreign_tokens_are_refused(hall, kiosk):
    server, _ = hall
    base = str(server.make_url(""))
    other = add_token(server.app[HALL].store, "k2")
    cases = [
        ({}, "k1", 401, "missing_token"),
        ({"Authorization": "Bearer not-a-token"}, "k1", 401, "bad_token"),
        ({"Authorization": f"Bearer {other}"}, "k1", 403, "wrong_kiosk"),
    ]
    for headers, kiosk_id, status, code in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(agent_url(base, kiosk_id), additional_headers=headers):
                pass
        assert refused.value.response.status_code == status
        assert json.loads(refused.value.response.body)["error"]["code"] == code
    loop = DeviceLoop("k1")
    with pytest.raises(AgentRefused, match="401"):
        await asyncio.wait_for(run_agent(base, "k1", "wrong", loop), 5)
    loop.close()
    assert kiosk.connections == 1  # the real agent was never disturbed


async def test_a_device_loop_cancelled_as_it_is_asked_to_check_now_stops():
    """A finished job asks for the printer's state at once (check_now); a connection that
    closes at that instant cancels the loop, which must stop, not poll on for ever."""
    loop = DeviceLoop("k1", status_every=60)
    reported = asyncio.Event()

    async def send(msg: dict) -> None:
        reported.set()

    runner = asyncio.create_task(loop.run(send))
    await reported.wait()
    await asyncio.sleep(0)  # the status poll is now waiting for its next turn
    loop.check_now()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(runner), 5)


async def test_a_card_read_goes_to_the_kiosk_page_masked_and_to_the_next_ticket_there(hall, kiosk):
    server, http = hall
    hall_ = server.app[HALL]
    async with http.ws_connect("/ws/kiosk/k1", headers=kiosk_page(server)) as page:
        assert (await page.receive_json())["type"] == "snapshot"
        kiosk.reader.place(RESIDENT)
        while (msg := await page.receive_json(timeout=5))["type"] != "card":
            pass
        age = RESIDENT.age(hall_.today())
        assert msg == {
            "type": "card",
            "kiosk": "k1",
            "name_masked": "张*丰",
            "age": age,
            "priority": True,
        }
        card = {"id_number": RESIDENT.id_number, "name": RESIDENT.name}
        expected = identity_from_card(card, hall_.identity_key, hall_.today())
        assert hall_.pending_identity["k1"][0].hash == expected.hash  # hashed on the kiosk PC
        ticket = await take(http, server)
        assert ticket["priority"] == "priority" and ticket["name_masked"] == "张*丰"
        assert "k1" not in hall_.pending_identity
        second = await take(http, server)  # the card belonged to one ticket only
        assert second["priority"] == "normal" and second["name_masked"] is None


async def test_a_card_whose_number_fails_its_check_is_refused(hall, kiosk):
    server, http = hall
    forged = replace(RESIDENT, id_number=RESIDENT.id_number[:-1] + "1")
    async with http.ws_connect("/ws/kiosk/k1", headers=kiosk_page(server)) as page:
        await page.receive_json()
        kiosk.reader.place(forged)
        while (msg := await page.receive_json(timeout=5))["type"] not in ("card", "card_rejected"):
            pass
    assert msg == {"type": "card_rejected", "kiosk": "k1", "reason": "invalid_number"}
    assert "k1" not in server.app[HALL].pending_identity


async def test_device_add_prints_a_token_stored_only_as_a_hash_and_remove_revokes_it(hall, capsys):
    server, _ = hall
    db = str(server.app[HALL].store.path)
    main(["device", "add", "k2", "--db", db])
    token = capsys.readouterr().out.splitlines()[0]
    assert len(token) >= 40
    for f in server.app[HALL].store.path.parent.glob("hall.db*"):
        assert token.encode() not in f.read_bytes()
    url = agent_url(str(server.make_url("")), "k2")
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=auth) as ws:
        welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome" and welcome["kiosk"] == "k2"
    main(["device", "remove", "k2", "--db", db])
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=auth):
            pass
    assert refused.value.response.status_code == 401
    with pytest.raises(SystemExit, match="no kiosk 'k9'"):
        main(["device", "add", "k9", "--db", db, "--config", str(write_config(server))])


def write_config(server) -> Path:
    path = server.app[HALL].store.path.parent / "hall.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def test_hall_devices_with_a_wrong_token_stops_with_a_clear_message(hall):
    server, _ = hall
    argv = ["--server", str(server.make_url("")), "--kiosk", "k1", "--token", "wrong"]
    with pytest.raises(SystemExit) as stopped:
        await asyncio.to_thread(agent_main, [*argv, "--printer", "sim:"])
    assert "refused" in str(stopped.value.code) and "bad_token" in str(stopped.value.code)
