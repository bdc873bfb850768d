"""What the city hub's tests share: a throwaway PostgreSQL, a fresh database on either engine,
``hall-hub`` in a subprocess, halls configured to feed it, and a TCP link that can be cut."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, free_port

PG_ENV = "HALLQ_TEST_POSTGRES"
ENGINES = ("sqlite", "postgresql")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """``$HALLQ_TEST_POSTGRES`` (scripts/test.sh starts one), else a cluster of our own from
    ``scripts/pg.sh``. Tests that need PostgreSQL fail, not skip, when neither works: the hub
    promises both engines."""
    url = os.environ.get(PG_ENV)
    if url:
        yield url
        return
    d = tempfile.mkdtemp(prefix="hallq-pg-")
    os.chmod(d, 0o755)
    try:
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "pg.sh"), "start", d],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            pytest.fail(
                f"PostgreSQL is needed for these tests and none could be started: set {PG_ENV} "
                f"or run bash scripts/test.sh (which installs and starts one).\n{out.stderr}",
                pytrace=False,
            )
        yield out.stdout.strip()
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", d], timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def new_database(engine: str, server_url: str | None, tmp: Path) -> str:
    """A fresh, empty hub database: a file, or a new database on the test server."""
    if engine == "sqlite":
        return str(tmp / f"hub-{uuid.uuid4().hex[:8]}.db")
    assert server_url is not None
    import asyncpg

    name = f"hub_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    return server_url.rsplit("/", 1)[0] + "/" + name


def hub_cli(*args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "city_hub.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def http(
    base: str, method: str, path: str, body: dict | None = None, token: str | None = None
) -> tuple[int, Any]:
    """One request; the status and the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


class HubProcess:
    """``hall-hub serve`` in a subprocess, killed and restarted on the same port."""

    def __init__(self, db: str, log: Path, port: int | None = None) -> None:
        self.db, self.log = db, log
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> HubProcess:
        cmd = [sys.executable, "-m", "city_hub.cli", "serve", "--db", self.db]
        cmd += ["--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"hub did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Link:
    """A TCP proxy between a hall and the hub that can be cut (open connections reset, new
    ones refused at once) and restored: a network outage under our control."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut_off = False
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self.cut_off = True
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.close()
            self._conns.clear()

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self._stop = True
        self.cut()
        self.server.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.cut_off:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self.cut_off:
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._conns -= {a, b}
