"""The security suite: each test replays an attack of issue 14 against a real hall over real
HTTP (an aiohttp server on a loopback port, or ``hall-server`` in a subprocess) and asserts
that it now fails, and that the real user still gets through.

Several tests need several *clients*: the hall trusts 127.0.0.1 as its reverse proxy
(``[security] trusted_proxies``), and each simulated client sends its own
``X-Forwarded-For``, exactly as nginx would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hall_server.app import make_app
from hall_server.config import DEMO_CONFIG, HallConfig, load_config
from tests.support import add_demo_accounts

Start = Callable[..., Awaitable[TestClient]]


def demo_with(**security: Any) -> HallConfig:
    """The demo hall, trusting the loopback proxy, with more ``[security]`` settings."""
    config = load_config(DEMO_CONFIG)
    rules = config.security.model_copy(update={"trusted_proxies": ["127.0.0.1"], **security})
    return config.model_copy(update={"security": rules})


@pytest.fixture
def start(aiohttp_client: Any, tmp_path: Path) -> Start:
    """Start the demo hall (accounts admin, manager, staffN / demo) on a real socket."""

    async def start(config: HallConfig | None = None, **options: Any) -> TestClient:
        config = config or demo_with()
        db = tmp_path / "hall.db"
        add_demo_accounts(db, config)
        return await aiohttp_client(make_app(config, db, **options))

    return start


def client_ip(n: int) -> dict[str, str]:
    """The headers the hall's proxy adds for the n-th client."""
    return {"X-Forwarded-For": f"203.0.113.{n % 250 + 1}"}


async def login(client: TestClient, user: str, **headers: str) -> str:
    r = await client.post(
        "/api/v1/auth/login", json={"username": user, "password": "demo"}, headers=headers
    )
    assert r.status == 200, await r.text()
    return (await r.json())["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
