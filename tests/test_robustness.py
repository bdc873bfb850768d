"""Every route of the hall server against bad input: no body, malformed JSON, wrong types,
oversized and unicode junk, absurd path and query parameters, missing, bad and wrong-role
credentials. None may answer a 500; under /api/ every error is ``{"error": {"code",
"message"}}``; pages never show a traceback. The routes come from ``make_app``'s own router,
so a new route is swept without touching this file."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from yarl import URL

from hall_server.app import make_app
from hall_server.config import DEMO_CONFIG, HallConfig, load_config
from hall_server.http.common import ACCOUNTS
from tests.support import add_demo_accounts, kiosk_client

MORNING = 1795572000.0  # 2026-11-25 10:00 in Asia/Shanghai
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every route ``make_app`` wires, static directories as
    ``/static/NAME/{filename}``."""
    with tempfile.TemporaryDirectory(prefix="hallq-routes-") as d:
        app = make_app(load_config(DEMO_CONFIG), Path(d) / "routes.db")
        try:
            found = set()
            for r in app.router.routes():
                if r.method == "HEAD":
                    continue
                path = r.resource.canonical if r.resource else ""
                if r.resource is not None and "static" in type(r.resource).__name__.lower():
                    path += "/{filename}"
                found.add((r.method, path))
        finally:
            app[ACCOUNTS].store.close()
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ROUTES = _routes()

# A value per path parameter that reaches the handler's deeper checks.
VALID_PARAMS = {
    "window": "1",
    "action": "transfer",
    "kiosk": "k1",
    "fmt": "csv",
    "id": "1",
    "code": "nope",
    "job": "nope",
    "filename": "nope.css",
}
# Raw, already percent-encoded: sent as is, never normalised by the client.
ABSURD_PARAMS = [
    "nope",
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 500,
    "%00",
    "%FF%FE",
    "%E2%98%83%F0%9D%95%8F%E2%80%AE",
    "-1",
    "9" * 40,
    "1.5",
    "%20",
]
# A valid body per route with one, so each field can be made wrong while the others are right.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/login"): {"username": "admin", "password": "demo", "window": "1"},
    ("POST", "/api/v1/tickets"): {
        "service": "social-insurance",
        "kiosk": "k1",
        "appointment": "nope",
        "id_card": {"name": "张三", "id_number": "110105194912310021"},
    },
    ("POST", "/api/v1/windows/{window}/{action}"): {"service": "social-insurance"},
    ("POST", "/api/v1/appointments"): {
        "service": "social-insurance",
        "date": "2026-11-26",
        "slot": "09:00",
        "name": "张三",
        "id_number": "110105194912310021",
        "phone": "13800000000",
    },
    ("POST", "/api/v1/ratings"): {
        "token": "nope",
        "ticket": "nope",
        "level": 3,
        "options": ["slow"],
        "comment": "ok",
    },
    ("PATCH", "/api/v1/ratings/{id}"): {"followup": "contacted", "note": "called back"},
    ("POST", "/api/v1/devices/{kiosk}/simulate"): {"action": "paper_low", "card": "resident"},
}
JUNK_VALUES: list[Any] = [
    12345,
    -1,
    1.5e308,
    True,
    "abc",
    "",
    None,
    {"a": {"b": [1, {"c": None}]}},
    [1, "2", None],
    "x" * 10_240,
    "\u0000☃𝕏\u202e\ud800",
]
RAW_BODIES = [
    b"",
    b"{not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b"12",
    b"\xff\xfe\x00garbage",
    b'{"a": NaN, "b": Infinity}',
    b"{" * 5000,
    json.dumps({"x": "y" * 10_240}).encode(),
]
QUERIES = [
    "date=2026-13-45",
    "date=-1",
    "date=%00",
    "from=2026-13-45&to=2026-02-30",
    "from=2026-12-31&to=2020-01-01",
    "from=0001-01-01&to=9999-12-31",
    "max_level=abc",
    "max_level=-1",
    "max_level=99999999999999999999999",
    "followup=nope",
    "by=%00",
    "window=..%2F..%2F",
    "window=" + "x" * 500,
    "kiosk=%FF",
    "state=nope",
    "service=%E2%98%83",
    "status=-1",
    "open=%00",
    "items=1",
    "idle=-99999999999999999999",
    "lang=xx",
    "next=http%3A%2F%2Fevil.example%2F",
    "data=" + "x" * 5000,
    "voice=%00",
    "date=2026-11-25&date=nope",
    "%=%&&==",
]
AUTH_HEADERS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer nope"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer " + "x" * 5000},
    {"Authorization": "Basic YWRtaW46ZGVtbw=="},
    {"Authorization": "Bearer \u2603".encode().decode("latin-1")},
    {"Cookie": "hallq_session=nope"},
]


def fill(template: str, **params: str) -> str:
    return PARAM.sub(
        lambda m: params.get(m.group(1), VALID_PARAMS.get(m.group(1), "nope")), template
    )


class Sweep:
    """Sends raw requests to one server and collects every answer that breaks the contract."""

    def __init__(self, client: TestClient) -> None:
        self.root = str(client.make_url("/")).rstrip("/")
        self.client = client
        self.session: ClientSession = client.session
        self.failures: list[str] = []

    async def send(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> int:
        url = URL(self.root + path, encoded=True)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.request(method, url, data=data, headers=hdrs) as r:
            raw = await r.read()
            status = r.status
            ctype = r.headers.get("Content-Type", "")
        where = f"{method} {path[:120]} [{what}] -> {status}"
        if status >= 500:
            self.failures.append(f"{where}: {raw[:300]!r}")
        elif path.startswith("/api/") and status >= 400:
            try:
                err = json.loads(raw)["error"]
                assert isinstance(err["code"], str) and isinstance(err["message"], str)
            except Exception:
                self.failures.append(f"{where}: not a JSON error ({ctype}): {raw[:200]!r}")
        elif b"Traceback" in raw:
            self.failures.append(f"{where}: shows a traceback")
        return status


@pytest.fixture
async def sweep(aiohttp_client: Any, tmp_path: Path, demo_config: HallConfig) -> Sweep:
    add_demo_accounts(tmp_path / "hall.db", demo_config)
    app = make_app(demo_config, tmp_path / "hall.db", clock=lambda: MORNING)
    return Sweep(await kiosk_client(aiohttp_client, app, tmp_path / "hall.db"))


def _sessions(sweep: Sweep) -> dict[str, dict[str, str]]:
    """Real sessions of the demo accounts, opened without paying for a password hash each."""
    accounts = sweep.client.app[ACCOUNTS]
    return {
        user: {"Authorization": f"Bearer {accounts.open_session(user, window)}"}
        for user, window in [("admin", None), ("manager", None), ("staff1", "1"), ("staff2", "2")]
    }


async def _ticket_token(sweep: Sweep) -> str:
    r = await sweep.client.post("/api/v1/tickets", json={"service": "social-insurance"})
    assert r.status == 201, await r.text()
    return (await r.json())["ticket"]["token"]


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route_answers_bad_input_without_500(
    sweep: Sweep, method: str, template: str
) -> None:
    tokens = _sessions(sweep)
    admin = tokens["admin"]
    valid = {"token": await _ticket_token(sweep)}
    path = fill(template, **valid)
    names = PARAM.findall(template)

    answers = {}
    for who, headers in [*((f"auth {i}", h) for i, h in enumerate(AUTH_HEADERS)), *tokens.items()]:
        answers[who] = await sweep.send(method, path, b"", headers, who)
    if template.startswith("/api/"):
        anonymous = answers["auth 0"]
        for who, status in answers.items():
            signed_in = who in tokens
            if status == (401 if signed_in else 403):  # 401: who are you; 403: not you
                sweep.failures.append(f"{method} {path} [{who}]: {status}")
            if anonymous == 401 and not signed_in and status != 401:
                sweep.failures.append(f"{method} {path} [{who}]: {status}, not 401 like no token")

    for name in names:
        for junk in ABSURD_PARAMS:
            for who, headers in [("none", {}), ("admin", admin), ("staff1", tokens["staff1"])]:
                junk_path = fill(template, **{**valid, name: junk})
                await sweep.send(method, junk_path, b"", headers, f"{name}={junk[:20]} {who}")

    for query in QUERIES:
        await sweep.send(method, f"{path}?{query}", None, admin, query[:40])

    if method == "GET":
        await sweep.send(method, path, b"{not json", admin, "GET with a malformed body")
    else:
        for raw in RAW_BODIES:
            status = await sweep.send(method, path, raw, admin, f"body {raw[:20]!r}")
            if raw == b"{not json" and status == 422:
                sweep.failures.append(f"{method} {path}: malformed JSON is a 400, not a 422")
        base = VALID_BODIES.get((method, template))
        fields = base or {k: None for b in VALID_BODIES.values() for k in b}
        for field in fields:
            for junk in JUNK_VALUES:
                data = json.dumps({**(base or {}), field: junk}).encode()
                await sweep.send(method, path, data, admin, f"{field}={str(junk)[:20]}")

    if template.startswith("/api/"):
        await sweep.send("PUT", path, b"{}", admin, "method not allowed")

    assert not sweep.failures, f"{len(sweep.failures)} bad answers:\n" + "\n".join(
        sweep.failures[:40]
    )
