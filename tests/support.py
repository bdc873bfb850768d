"""What tests and benchmarks share: real hall servers (a subprocess on a free port with its own
database), hall configurations, demo accounts and waiting for a condition."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hall_server.cli import demo_staff_name
from hall_server.config import HallConfig
from hall_server.core.access import Role
from hall_server.store.accounts import Accounts
from hall_server.store.db import Store
from hall_server.store.devices import add_pairing, redeem

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "hall_server" / "data" / "demo-hall.toml"
T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something true, and return that. The timeout only
    bounds a failure: a loaded CI machine may take seconds where a quiet one takes milliseconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return result


async def eventually(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition"
) -> T:
    """`wait_until` inside an event loop."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return result


def hall_toml(
    name: str,
    services: Sequence[dict[str, Any]],
    windows: Sequence[Sequence[str]],
    *,
    hall_id: str = "test",
    hours: Sequence[str] = ("00:00-24:00",),
    kiosks: Sequence[str] = (),
    **hall: Any,
) -> str:
    """A hall's TOML: `services` as their tables, windows "1", "2"... serving the listed
    service codes, kiosks by id; more ``[hall]`` keys (``priority_age=60``) as keywords."""

    def table(header: str, keys: dict[str, Any]) -> str:
        return f"\n{header}\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())

    head = {"id": hall_id, "name": name, "hours": list(hours), **hall}
    parts = [table("[hall]", head)]
    parts += [table("[[service]]", s) for s in services]
    parts += [
        table("[[window]]", {"id": str(i), "services": list(codes)})
        for i, codes in enumerate(windows, start=1)
    ]
    parts += [table("[[kiosk]]", {"id": k}) for k in kiosks]
    return "".join(parts)


SOCIAL_INSURANCE = {"code": "social-insurance", "prefix": "A", "name": "社会保障"}


def kiosk_hall_toml(name: str, kiosks: Sequence[str] = ("k1",), **hall: Any) -> str:
    """The device tests' hall: one service (社会保障, A) at window 1, open around the clock,
    and kiosks whose devices hang on a kiosk PC."""
    return hall_toml(name, [SOCIAL_INSURANCE], [["social-insurance"]], kiosks=kiosks, **hall)


def printed_tickets(printer: Any, number: str) -> list[Any]:
    """The tickets a printer simulator has cut that carry this number."""
    return [t for t in printer.complete_tickets() if number in [x.text for x in t.lines]]


_account_templates: dict[tuple[str, ...], Path] = {}
_templates_dir = tempfile.TemporaryDirectory(prefix="hallq-accounts-")
atexit.register(_templates_dir.cleanup)


def add_demo_accounts(db: Path, config: HallConfig) -> None:
    """The demo accounts (admin, manager, staffN at the Nth window; password ``demo``) in a
    new database at `db`. Thirteen scrypt hashes take most of a second, so they are made once
    per list of windows in a template database, through `Accounts`, and the file is copied."""
    windows = tuple(w.id for w in config.window)
    template = _account_templates.get(windows)
    if template is None:
        template = Path(_templates_dir.name) / f"{len(_account_templates)}.db"
        store = Store(template)
        accounts = Accounts(store)
        accounts.add("admin", "demo", Role.ADMIN)
        accounts.add("manager", "demo", Role.MANAGER)
        for i, w in enumerate(windows, start=1):
            accounts.add(f"staff{i}", "demo", Role.STAFF, [w], demo_staff_name(i))
        store.close()
        _account_templates[windows] = template
    if db.exists():
        raise FileExistsError(f"{db} exists: demo accounts go into a new database")
    shutil.copyfile(template, db)


def paired(db: Path | str, device: str = "k1") -> str:
    """Pair a device (kiosk ``k1``, pad ``pad:3``) as its browser would, in the hall's own
    database, and return the device token it got (send as ``Authorization: Bearer``)."""
    store = Store(db)
    try:
        token = redeem(store, add_pairing(store, device), device)
    finally:
        store.close()
    assert token is not None
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def kiosk_client(aiohttp_client: Any, app: Any, db: Path, kiosk: str = "k1") -> Any:
    """A test client that speaks as the hall's paired kiosk `kiosk` unless a request sends
    its own Authorization (staff). Call after ``make_app`` (which creates the database)."""
    return await aiohttp_client(app, headers=bearer(paired(db, kiosk)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``hall-server serve`` (or ``demo``) in a subprocess, for tests that restart or kill it."""

    def __init__(
        self, db: Path, config: Path | None = None, port: int | None = None, demo: bool = False
    ) -> None:
        self.db, self.config, self.demo = db, config or DEMO_CONFIG, demo
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> ServerProcess:
        cmd = [sys.executable, "-m", "hall_server.cli"]
        cmd += ["demo"] if self.demo else ["serve", "--config", str(self.config)]
        cmd += ["--db", str(self.db), "--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()  # not left running behind a failed test
        raise TimeoutError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def request(
        self, method: str, path: str, body: dict | None = None, token: str | None = None
    ) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def paired(self, device: str = "k1") -> str:
        """A device token for one of this hall's kiosks or pads (``pad:W``)."""
        return paired(self.db, device)

    def pairing_url(self, path: str, device: str) -> str:
        """The one-time address that pairs a browser with `device` and opens `path` (which may
        carry a query): what ``hall-server device add`` prints."""
        store = Store(self.db)
        try:
            code = add_pairing(store, device)
        finally:
            store.close()
        return f"{self.url}{path}{'&' if '?' in path else '?'}pair={code}"

    def login(self, username: str, password: str = "demo") -> str:
        status, body = self.request(
            "POST", "/api/v1/auth/login", {"username": username, "password": password}
        )
        assert status == 200, body
        return body["token"]
