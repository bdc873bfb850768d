"""Wiring of the hub: its store, the live network, the API, the ticker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hall_server.http.errors import errors_middleware

from . import api, pages
from .auth import Lockout
from .live import Network
from .store import HubStore, open_store


def make_app(db: str, store: HubStore | None = None) -> web.Application:
    """The hub on ``db`` (a SQLite path or a ``postgresql://`` URL), or on an open ``store``."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=16 * 1024 * 1024)
    app.add_routes(api.routes)
    app[api.LOCKOUT] = Lockout()
    pages.setup(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        s = store or await open_store(db)
        network = Network(s)
        app[api.STORE], app[api.NETWORK] = s, network
        await network.refresh()
        ticker = asyncio.create_task(network.tick())
        yield
        ticker.cancel()
        await network.close_all()
        if store is None:
            await s.close()

    app.cleanup_ctx.append(lifecycle)
    return app
