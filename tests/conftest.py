"""Fixtures shared by every test: a demo hall on a real SQLite file, in-process or as a
subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hall_server.auth import Accounts, Role
from hall_server.config import DEMO_CONFIG, HallConfig, load_config
from hall_server.store import Store
from tests.support import ServerProcess


@pytest.fixture
def demo_config() -> HallConfig:
    return load_config(DEMO_CONFIG)


def add_demo_accounts(db: Path, config: HallConfig) -> None:
    store = Store(db)
    accounts = Accounts(store)
    accounts.add("admin", "demo", Role.ADMIN)
    accounts.add("manager", "demo", Role.MANAGER)
    for i, w in enumerate(config.window, start=1):
        accounts.add(f"staff{i}", "demo", Role.STAFF, [w.id])
    store.close()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A demo hall in a subprocess (accounts admin, manager, staffN with password demo)."""
    server = ServerProcess(tmp_path / "hall.db", demo=True)
    server.start()
    yield server
    server.stop()
