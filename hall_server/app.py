"""Application setup: one hall, its store, its accounts and its live hub, as an aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

import kiosk_ui.routes as screens
import manager_pages.routes as manager
import visitor_pages.routes as journey
from hall_server import device_hub
from hall_server.auth import Accounts
from hall_server.config import HallConfig
from hall_server.hall import Hall
from hall_server.http import pages
from hall_server.http import tickets as api
from hall_server.http.common import ACCOUNTS, HALL, HUB, errors_middleware
from hall_server.http.feed import board_listener
from hall_server.http.hub import Hub
from hall_server.simulate import simulate as run_simulation
from hall_server.store.db import Store

log = logging.getLogger(__name__)


def make_app(
    config: HallConfig,
    db_path: str | Path,
    clock: Callable[[], float] = time.time,
    heartbeat_s: float = 10.0,
    hub_buffer: int = 256,
    simulate: bool = False,
    base_url: str = "",
) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=256 * 1024)
    store = Store(db_path)
    hub = Hub(hub_buffer)
    app[HUB] = hub
    app[ACCOUNTS] = Accounts(store)
    app.add_routes(api.routes)
    app.add_routes(screens.routes)
    pages.setup(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        hall = Hall(config, store, clock=clock)
        hall.listeners.append(board_listener(hub))
        app[HALL] = hall
        await hall.start()
        tasks = [
            asyncio.create_task(hub.heartbeats(heartbeat_s)),
            asyncio.create_task(_roll_days(hall)),
        ]
        if simulate:
            tasks.append(asyncio.create_task(run_simulation(hall)))
        yield
        for t in tasks:
            t.cancel()
        await hall.stop()
        store.close()

    app.cleanup_ctx.append(lifecycle)

    async def close_websockets(app: web.Application) -> None:
        """Before the server waits for open requests to end: boards never end by themselves."""
        await hub.close_all()

    app.on_shutdown.append(close_websockets)
    journey.setup(app)
    manager.setup(app)
    device_hub.setup(app, base_url)  # after the hall: its devices stop before it does
    return app


async def _roll_days(hall: Hall, every: float = 30.0) -> None:
    """Close the business day at midnight even when nobody is issuing tickets."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            await hall.roll_day()
