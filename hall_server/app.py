"""The one place that wires the hall server: its store, accounts and live hub, every route
(the API, the websockets, each screen's pages) and every lifecycle, in start order.

Read top to bottom: what is created before the hall starts, what starts with it, what stops
before it. Nothing else adds routes or background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

import display_board.routes
import kiosk_ui.routes
import manager_pages.routes
import staff_console.routes
import visitor_pages.routes
from hall_server import reports
from hall_server.alarms import Alarms
from hall_server.appointments import Appointments
from hall_server.config import HallConfig
from hall_server.device_hub import DeviceHub
from hall_server.guard import edge
from hall_server.guard.keys import load_identity_key
from hall_server.guard.limiter import Limiter
from hall_server.guard.passwords import PASSWORDS, HashPool
from hall_server.guard.phone_proof import PhoneProof, sender_of
from hall_server.guard.pow import ProofOfWork
from hall_server.hall import Hall
from hall_server.http import (
    alarms,
    appointments,
    auth,
    devices,
    health,
    metrics,
    openapi,
    pages,
    ratings,
    tickets,
    webhooks,
    websockets,
    windows,
)
from hall_server.http import (
    reports as report_routes,
)
from hall_server.http.appointments import PHONE_PROOF, POW
from hall_server.http.common import (
    ACCOUNTS,
    ALARMS,
    APPOINTMENTS,
    DEVICES,
    HALL,
    HUB,
    RATINGS,
    WEBHOOKS,
    credentialed,
)
from hall_server.http.errors import errors_middleware
from hall_server.http.feed import board_listener
from hall_server.http.hub import Hub
from hall_server.network import Pusher
from hall_server.ratings import Ratings
from hall_server.simulate import simulate as run_simulation
from hall_server.store.accounts import Accounts
from hall_server.store.db import Store
from hall_server.webhooks import Webhooks

log = logging.getLogger(__name__)

API = (
    health,
    auth,
    tickets,
    windows,
    appointments,
    ratings,
    metrics,
    report_routes,
    alarms,
    webhooks,
    openapi,
)
PAGES = (staff_console, kiosk_ui, display_board, visitor_pages, manager_pages)


def make_app(
    config: HallConfig,
    db_path: str | Path,
    clock: Callable[[], float] = time.time,
    heartbeat_s: float = 10.0,
    hub_buffer: int = 256,
    simulate: bool = False,
    base_url: str = "",
    sweep_every: float = 60.0,
) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=256 * 1024)
    store = Store(db_path)
    identity_key = load_identity_key(store, config.security.identity_key_file)
    hub = Hub(hub_buffer)
    app[HUB] = hub
    app[ACCOUNTS] = Accounts(store)
    app[openapi.OPENAPI] = {}
    app[PASSWORDS] = HashPool()
    app[POW] = ProofOfWork(config.security.pow_difficulty)
    sender = sender_of(config.security.phone_proof, config.security.sms_url)
    if sender is not None:
        app[PHONE_PROOF] = PhoneProof(sender, config.hall.name)
    edge.setup(
        app,
        Limiter(config.security.limits),
        staff=credentialed,
        trusted_proxies=config.security.trusted_proxies,
        public_url=config.hall.public_url,
    )

    for module in API:
        app.add_routes(module.routes)
    app.add_routes(devices.routes)
    app.add_routes(websockets.routes)
    for package in PAGES:
        app.add_routes(package.routes.routes)
    pages.setup(app)

    async def the_hall(app: web.Application) -> AsyncIterator[None]:
        hall = Hall(config, store, clock=clock, identity_key=identity_key)
        hall.listeners.append(board_listener(hub))
        app[HALL] = hall
        if simulate:  # the demo's clerks are at every window
            hall.simulated_staff = frozenset(w.id for w in config.window)
        hall.set_staffed(app[ACCOUNTS].staffed_windows(), app[ACCOUNTS].clerks())
        await hall.start()
        tasks = [
            asyncio.create_task(hub.heartbeats(heartbeat_s)),
            asyncio.create_task(_roll_days(hall, app[ACCOUNTS])),
        ]
        if simulate:
            tasks.append(asyncio.create_task(run_simulation(hall)))
        pusher = Pusher(hall, config.network) if config.network else None
        if pusher:
            pusher.start()
        yield
        if pusher:
            await pusher.stop()
        for t in tasks:
            t.cancel()
        await hall.stop()
        app[PASSWORDS].close()
        store.close()

    async def desk(app: web.Application) -> AsyncIterator[None]:
        """Booking and ratings, and the sweep that records missed appointments and erases
        the phone numbers of 差评 kept past their retention."""
        hall = app[HALL]
        app[APPOINTMENTS] = Appointments(hall)
        app[RATINGS] = Ratings(hall)
        task = asyncio.create_task(_sweep(app[APPOINTMENTS], app[RATINGS], sweep_every))
        yield
        task.cancel()

    async def watch(app: web.Application) -> AsyncIterator[None]:
        """Alarms and warm report caches."""
        hall = app[HALL]
        alarms = Alarms(hall, app[HUB])
        app[ALARMS] = alarms
        hall.listeners.append(alarms.on_events)
        tasks = [
            asyncio.create_task(alarms.run()),
            asyncio.create_task(
                asyncio.to_thread(reports.warm, hall.store, hall.config, hall.today(), 1)
            ),
        ]
        yield
        for t in tasks:
            t.cancel()

    async def kiosk_devices(app: web.Application) -> AsyncIterator[None]:
        """After the hall starts, before it stops: its kiosks' printers and card readers."""
        device_hub = DeviceHub(app[HALL], app[HUB], base_url)
        app[DEVICES] = device_hub
        app[HALL].companions.append(device_hub.companion)
        app[HALL].listeners.append(device_hub.listener)
        await device_hub.start()
        yield
        await device_hub.stop()

    async def integrations(app: web.Application) -> AsyncIterator[None]:
        """Webhooks: after alarms and ratings, whose rows its pump reads; stopped first."""
        hooks = Webhooks(store, config)
        app[WEBHOOKS] = hooks
        app[HALL].listeners.append(hooks.on_events)
        task = asyncio.create_task(hooks.run(), name="webhooks")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.extend([the_hall, desk, watch, kiosk_devices, integrations])

    async def close_websockets(app: web.Application) -> None:
        """Before the server waits for open requests to end: boards and agents never end by
        themselves."""
        await hub.close_all()
        device_hub = app.get(DEVICES)
        if device_hub is not None:
            await websockets.close_agents(device_hub)

    app.on_shutdown.append(close_websockets)
    return app


async def _roll_days(hall: Hall, accounts: Accounts, every: float = 30.0) -> None:
    """Close the business day at midnight even when nobody is issuing tickets; forget the
    windows whose clerk's session ran out."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            hall.set_staffed(accounts.staffed_windows(), accounts.clerks())
            await hall.roll_day()


async def _sweep(desk: Appointments, ratings: Ratings, every: float) -> None:
    while True:
        with contextlib.suppress(Exception):
            n = await desk.sweep()
            if n:
                log.info("%d appointment(s) missed", n)
        with contextlib.suppress(Exception):
            n = await ratings.sweep_phones()
            if n:
                log.info("%d phone number(s) of bad ratings erased after retention", n)
        await asyncio.sleep(every)
