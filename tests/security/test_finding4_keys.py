"""Finding 4: the identity key sat in the SQLite file and went to every kiosk agent over plain
ws://; masks kept 7 of 11 phone digits. From a read-only copy the phone came back in 1,235
tries and the ID in 18,262."""

from __future__ import annotations

import json
import os
import sqlite3
import ssl
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from devices.agent import DeviceLoop, protected
from devices.reader import CardEvent
from devices.sim import cards
from hall_server.config import DEMO_CONFIG, load_config, parse_config
from hall_server.core import idnumber
from hall_server.http.common import HALL
from hall_server.store.db import Store
from hall_server.store.devices import add_token
from tests.security.conftest import Start
from tests.support import (
    ROOT,
    ServerProcess,
    add_demo_accounts,
    free_port,
    kiosk_hall_toml,
    wait_until,
)


async def test_a_copy_of_the_database_holds_no_key(start: Start, tmp_path: Path) -> None:
    client = await start()
    r = await client.post(
        "/api/v1/appointments",
        json={"service": "tax", "date": (await (await client.get("/api/v1/appointments/days"))
              .json())[0]["date"], "slot": "09:00", "name": "张三", "phone": "13912345678"},
    )  # fmt: skip
    assert r.status == 201
    db = client.app[HALL].store.path
    key = client.app[HALL].identity_key
    copy = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert copy.execute("SELECT value FROM meta WHERE key = 'identity_key'").fetchone() is None
    person = copy.execute("SELECT person FROM appointments").fetchone()[0]
    copy.close()
    for f in db.parent.glob(db.name + "*"):
        if not f.name.endswith(".key"):
            assert key.hex().encode() not in f.read_bytes(), f
    # the attack of the report: try every phone number near the masked one, keyed with what
    # the copy holds. Nothing in the copy is the key, so the right number does not match.
    assert idnumber.identity_hash("TEL13912345678", key) == person  # (with the key it would)
    assert idnumber.identity_hash("TEL13912345678", b"a guess") != person
    keyfile = Path(f"{db}.key")
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    key = tmp_path / "hall.db.key"
    key.write_text("00" * 32)
    key.chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        ServerProcess(db).start()


def test_a_key_left_in_an_old_database_moves_out_and_keeps_matching(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    store = Store(db)
    with store.writing() as w:
        w.execute("INSERT INTO meta (key, value) VALUES ('identity_key', ?)", ("ab" * 32,))
    store.close()
    server = ServerProcess(db).start()
    server.stop()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM meta WHERE key = 'identity_key'").fetchone()[0] == 0
    conn.close()
    assert Path(f"{db}.key").read_text().strip() == "ab" * 32


def test_the_key_can_come_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "hall.db"
    env_key = "cd" * 32
    os.environ["HALLQ_IDENTITY_KEY"] = env_key
    try:
        server = ServerProcess(db).start()
        server.stop()
    finally:
        del os.environ["HALLQ_IDENTITY_KEY"]
    assert not Path(f"{db}.key").exists()


async def test_agents_never_receive_the_key(start: Start) -> None:
    client = await start(parse_config(kiosk_hall_toml("某镇便民服务中心")))  # k1 on a kiosk PC
    token = add_token(client.app[HALL].store, "k1")
    url = str(client.make_url("/ws/agent?kiosk=k1")).replace("http", "ws")
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome" and "identity_key" not in welcome
    assert client.app[HALL].identity_key.hex() not in json.dumps(welcome)


def test_an_agent_sends_card_numbers_only_over_tls_or_inside_its_pc() -> None:
    assert protected("https://hall.example:8443") and protected("http://127.0.0.1:8080")
    assert not protected("http://192.168.1.10:8080") and not protected("http://hall:8080")
    loop = DeviceLoop("k1")
    event = CardEvent(cards.SAMPLES[0])
    loop.send_numbers = False
    assert loop._card_message(event) is None  # dropped, not sent in clear over the LAN
    loop.send_numbers = True
    sent = loop._card_message(event)
    assert sent is not None and "identity_key" not in json.dumps(sent)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_built_in_and_its_cookies_are_secure(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    db = tmp_path / "hall.db"
    add_demo_accounts(db, load_config(DEMO_CONFIG))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hall_server.cli", "serve", "--config", str(DEMO_CONFIG),
         "--db", str(db), "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key),
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(base + "/api/v1/health", context=trusted, timeout=2):
                    return True
            except OSError:
                return False

        wait_until(up, timeout=20, what="TLS server")
        req = urllib.request.Request(
            base + "/api/v1/auth/login",
            data=json.dumps({"username": "staff1", "password": "demo"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, context=trusted, timeout=10) as r:
            cookie = r.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie
            assert "Strict-Transport-Security" in r.headers
        with pytest.raises(urllib.error.URLError):  # a client that verifies refuses a stranger
            urllib.request.urlopen(base + "/api/v1/health", timeout=5)
    finally:
        proc.terminate()
        proc.wait(10)
