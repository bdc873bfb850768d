"""The routes the shared contract (``../shared/spec/api-v1.md``) promises outside clients are
all served, with the method it names: the OpenAPI document lists every route the server has
(a guard refuses to build it otherwise), so a route renamed or dropped shows up here before an
integrator finds it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from city_hub.app import make_app as make_hub
from hall_server.app import make_app
from hall_server.config import DEMO_CONFIG, load_config
from tests.support import ROOT

SPEC = ROOT.parent / "shared" / "spec" / "api-v1.md"
HUB_SPEC = SPEC.with_name("hub-v1.md")


def promised_routes(text: str, prose: bool = True) -> set[tuple[str, str]]:
    """``(METHOD, /path)`` of every route the contract's table names (and, with ``prose``, its
    text); ``/pause``, ``/resume`` in one table cell are two sibling routes, and query strings
    are not part of a route."""
    routes: set[tuple[str, str]] = set()
    if prose:
        routes |= set(re.findall(r"`([A-Z]+) (/api/[^`?\s]*)[^`]*`", text))
    rows = re.findall(r"^\| `([A-Z]+) (/api/[^`?]*)[^`]*`([^|]*)\|", text, re.M)
    for method, path, siblings in rows:
        routes.add((method, path))
        for sibling in re.findall(r"`(/[^`]+)`", siblings):
            routes.add((method, path.rsplit("/", 1)[0] + sibling))
    return routes


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_contract_lists_the_routes_it_promises() -> None:
    routes = promised_routes(SPEC.read_text(encoding="utf-8"))
    assert ("POST", "/api/v1/tickets") in routes
    assert ("POST", "/api/v1/windows/{window}/resume") in routes
    assert ("GET", "/api/v1/ratings") in routes
    assert ("POST", "/api/v1/auth/login") in routes  # named in the prose, not the table
    assert len(routes) >= 22


async def test_every_route_of_the_contract_is_served(aiohttp_client: Any, tmp_path: Path) -> None:
    client: TestClient = await aiohttp_client(make_app(load_config(DEMO_CONFIG), tmp_path / "h.db"))
    r = await client.get("/api/v1/openapi.json")
    served = {
        (method.upper(), shape(path))
        for path, operations in (await r.json())["paths"].items()
        for method in operations
    }
    promised = {(method, shape(path)) for method, path in promised_routes(SPEC.read_text("utf-8"))}
    assert promised - served == set()


async def test_every_route_of_the_hub_contract_is_served(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """The hub's table (its prose also names routes of the halls, which the test above keeps)."""
    client: TestClient = await aiohttp_client(make_hub(str(tmp_path / "hub.db")))
    served = {
        (route.method, shape(route.resource.canonical))
        for route in client.server.app.router.routes()
        if route.resource is not None
    }
    promised = {
        (method, shape(path))
        for method, path in promised_routes(HUB_SPEC.read_text("utf-8"), prose=False)
    }
    assert len(promised) >= 7
    assert promised - served == set()
