"""Wiring of the hub: its store, the live network, the API, the ticker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from hall_server.guard.edge import LIMITER, forwarded_middleware
from hall_server.guard.limiter import Limiter
from hall_server.guard.passwords import PASSWORDS, HashPool
from hall_server.http.errors import errors_middleware

from . import api, pages
from .auth import sweep_sessions
from .live import Network
from .store import HubStore, open_store


def make_app(
    db: str, store: HubStore | None = None, trusted_proxies: Sequence[str] = ()
) -> web.Application:
    """The hub on ``db`` (a SQLite path or a ``postgresql://`` URL), or on an open ``store``.
    Behind a reverse proxy, ``trusted_proxies`` name it: logins are limited per client, and
    the client is then the address the proxy forwarded for (as on a hall)."""
    middlewares = [forwarded_middleware(trusted_proxies), errors_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
    app.add_routes(api.routes)
    app[LIMITER] = Limiter()  # the hall's default login limits
    app[PASSWORDS] = HashPool()
    pages.setup(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        s = store or await open_store(db)
        network = Network(s)
        app[api.STORE], app[api.NETWORK] = s, network
        await network.refresh()
        tasks = [asyncio.create_task(network.tick()), asyncio.create_task(sweep_sessions(s))]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await network.close_all()
        if store is None:
            await s.close()
        app[PASSWORDS].close()

    app.cleanup_ctx.append(lifecycle)
    return app
