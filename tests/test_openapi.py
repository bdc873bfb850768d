"""The API's OpenAPI document: it validates, covers every /api/ route, renders at /api/docs from
the hall's own files, and schemathesis fuzzes every operation against a running demo hall as
each role: no server error, no answer that breaks the document."""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, settings
from openapi_spec_validator import validate
from schemathesis import checks

from hall_server.app import make_app
from hall_server.config import DEMO_CONFIG, load_config
from hall_server.http.openapi import OPERATIONS, api_routes, document
from tests.support import ServerProcess, add_demo_accounts

#: Checks left out, and why: the server has rules a JSON Schema cannot say (a service code
#: must exist, a rating needs a token or a ticket id, a card needs its number), so a request
#: the schema allows may rightly be refused; and aiohttp's 405 lists the methods of every
#: route matching a path (``/appointments/days`` also matches ``/appointments/{code}``).
LENIENT = [checks.positive_data_acceptance, checks.allow_header_conformance]
ROLES = ("anonymous", "kiosk", "staff1", "manager", "admin")
#: examples per operation, each sent as every role: ~50 operations stay within two minutes
EXAMPLES = int(os.environ.get("HALLQ_FUZZ_EXAMPLES", "12"))


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:
    return await aiohttp_client(make_app(load_config(DEMO_CONFIG), tmp_path / "hall.db"))


async def test_the_served_document_is_valid_openapi_31_and_covers_every_api_route(
    client: TestClient,
) -> None:
    r = await client.get("/api/v1/openapi.json")
    assert r.status == 200
    doc = await r.json()
    validate(doc)  # openapi-spec-validator, 3.1 rules
    assert doc["openapi"].startswith("3.1")
    described = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    served = api_routes(client.server.app)
    assert served - {("post", "/api/v1/windows/{window}/{action}")} <= described
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            errors = [s for s in op["responses"] if s >= "400"]
            assert errors, f"{method} {path} lists no error"
            for status in errors:
                if path == "/api/v1/health":
                    continue  # a failing hall still says so in the health answer
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            if "x-hallq-role" in op:
                assert {"401", "403"} <= set(op["responses"])
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}


async def test_a_route_left_out_of_the_document_is_refused(client: TestClient) -> None:
    OPERATIONS.append(OPERATIONS[0].__class__("get", "/api/v1/nowhere", "a route nobody serves"))
    try:
        with pytest.raises(RuntimeError, match="nowhere"):
            document(client.server.app)
    finally:
        OPERATIONS.pop()


async def test_api_docs_render_from_the_halls_own_files(client: TestClient) -> None:
    r = await client.get("/api/docs")
    assert r.status == 200
    html = await r.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets)
    assert "http://" not in html and "https://" not in html
    for a in assets:
        got = await client.get(a)
        assert got.status == 200 and len(await got.read()) > 100, a


# -- fuzzing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("fuzz") / "hall.db"
    add_demo_accounts(path, load_config(DEMO_CONFIG))
    server = ServerProcess(path, demo=True).start()
    yield server
    server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def tokens(demo_hall: ServerProcess) -> dict[str, str]:
    with urllib.request.urlopen(demo_hall.url + "/api/v1/openapi.json") as r:
        assert json.loads(r.read()) == DOCUMENT  # the fuzzed document is the served one
    tokens = {role: demo_hall.login(role) for role in ROLES if role not in ("anonymous", "kiosk")}
    return tokens | {"kiosk": demo_hall.paired("k1")}  # the paired kiosk's device token


def _document() -> dict[str, Any]:
    """The document of the app as the server builds it (the server's own copy is compared
    in the test: the fuzzing reads it before the hall runs)."""
    with tempfile.TemporaryDirectory() as d:
        return document(make_app(load_config(DEMO_CONFIG), Path(d) / "hall.db"))


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(
    case: Any, demo_hall: ServerProcess, tokens: dict[str, str]
) -> None:
    """Each generated request is sent as every role in turn."""
    for role in ROLES:
        if role != "anonymous" and case.path == "/api/v1/auth/logout":
            continue  # would end the session the other cases of this role use
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role != "anonymous" else {}
        case.call_and_validate(base_url=demo_hall.url, headers=headers, excluded_checks=LENIENT)


async def test_a_wrong_method_on_a_window_resource_is_405_with_allow(client: TestClient) -> None:
    r = await client.post("/api/v1/windows/1/clerk")
    assert r.status == 405 and r.headers["Allow"] == "GET"
    assert (await r.json())["error"]["code"] == "method_not_allowed"


def conforms(doc: dict[str, Any], path: str, method: str, status: int, answer: Any) -> None:
    """An answer against the schema the document gives for it (jsonschema, 2020-12)."""
    from jsonschema import Draft202012Validator

    content = doc["paths"][path][method]["responses"][str(status)]["content"]
    schema = {**content["application/json"]["schema"], "components": doc["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(answer))
    assert not errors, f"{method} {path} {status}: {errors[0].message}"


async def test_the_answers_of_a_served_and_rated_visit_match_the_document(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """Answers the fuzzer rarely reaches with real data: a booking, a served ticket, its
    rating and the pad, the manager's live view and devices."""
    config = load_config(DEMO_CONFIG)
    add_demo_accounts(tmp_path / "hall.db", config)
    client = await aiohttp_client(make_app(config, tmp_path / "hall.db"))
    doc = await (await client.get("/api/v1/openapi.json")).json()
    get = {"Authorization": ""}

    async def call(method: str, path: str, status: int, doc_path: str = "", **kw: Any) -> Any:
        r = await client.request(method, path, headers=get, **kw)
        assert r.status == status, await r.text()
        answer = await r.json()
        conforms(doc, doc_path or path, method.lower(), status, answer)
        return answer

    r = await client.post("/api/v1/auth/login", json={"username": "staff1", "password": "demo"})
    staff = {"Authorization": f"Bearer {(await r.json())['token']}"}
    r = await client.post("/api/v1/auth/login", json={"username": "manager", "password": "demo"})
    manager = f"Bearer {(await r.json())['token']}"
    service = config.window[0].services[0]
    ticket = (await call("POST", "/api/v1/tickets", 201, json={"service": service}))["ticket"]
    get["Authorization"] = staff["Authorization"]
    await call("POST", "/api/v1/windows/1/call", 200, "/api/v1/windows/{window}/call")
    pad = await call("GET", "/api/v1/ratings/pad/1", 200, "/api/v1/ratings/pad/{window}")
    assert pad["ticket"] is None
    await call("POST", "/api/v1/windows/1/finish", 200, "/api/v1/windows/{window}/finish")
    pad = await call("GET", "/api/v1/ratings/pad/1", 200, "/api/v1/ratings/pad/{window}")
    assert pad["ticket"]["id"] == ticket["id"]
    body = {"token": ticket["token"], "level": 1, "options": ["slow"]}
    await call("POST", "/api/v1/ratings", 201, json=body)
    get["Authorization"] = manager
    await call("GET", "/api/v1/ratings/satisfaction", 200)
    await call("GET", "/api/v1/metrics/live", 200)
    await call("GET", "/api/v1/devices", 200)
    days = await call("GET", "/api/v1/appointments/days", 200)
    day = days[0]["date"]
    slots = await call(
        "GET",
        f"/api/v1/appointments/slots?service={service}&date={day}",
        200,
        "/api/v1/appointments/slots",
    )
    slot = next(s["slot"] for s in slots["slots"] if s["available"])
    booked = await call(
        "POST",
        "/api/v1/appointments",
        201,
        json={
            "service": service,
            "date": day,
            "slot": slot,
            "name": "张三",
            "phone": "13800138000",
        },
    )
    code = booked["code"]
    await call("GET", f"/api/v1/appointments/{code}", 200, "/api/v1/appointments/{code}")
    get["Authorization"] = staff["Authorization"]
    await call("GET", f"/api/v1/appointments?date={day}", 200, "/api/v1/appointments")
    await call("DELETE", f"/api/v1/appointments/{code}", 200, "/api/v1/appointments/{code}")
