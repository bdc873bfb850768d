"""Fixtures shared by every test: a demo hall on a real SQLite file, in-process or as a
subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hall_server.config import DEMO_CONFIG, HallConfig, load_config
from tests.support import ServerProcess, add_demo_accounts


@pytest.fixture
def demo_config() -> HallConfig:
    return load_config(DEMO_CONFIG)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A demo hall in a subprocess (accounts admin, manager, staffN with password demo, made
    here so that ``hall-server demo`` finds them and hashes none)."""
    add_demo_accounts(tmp_path / "hall.db", load_config(DEMO_CONFIG))
    server = ServerProcess(tmp_path / "hall.db", demo=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session (see ``tests/hub_support.py``)."""
    from tests.hub_support import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh hub database on each engine: the same tests run on both."""
    from tests.hub_support import new_database

    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    return new_database(request.param, server, tmp_path)
