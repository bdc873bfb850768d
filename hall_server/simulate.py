"""Demo traffic: visitors arrive by the catalog's shares, windows call and serve them.

Runs through :class:`Hall` like real kiosks and staff do, so boards, consoles and reports in
the demo show live, plausible activity. Times are sped up so a demo shows movement in minutes.
"""

from __future__ import annotations

import asyncio
import logging
import random

from hall_server.core.engine import EngineError
from hall_server.hall import Hall, HallUnavailable

log = logging.getLogger(__name__)


async def simulate(hall: Hall, speed: float = 20.0, seed: int | None = None) -> None:
    """Arrivals at about 60 visitors an hour of hall time, compressed ``speed`` times."""
    rng = random.Random(seed)
    services = hall.config.service
    weights = [float((s.model_extra or {}).get("share", 1.0)) for s in services]
    kiosks = [k.id for k in hall.config.kiosk] or [None]
    tasks = [asyncio.create_task(_window(hall, w.id, rng, speed)) for w in hall.config.window]
    try:
        while True:
            await asyncio.sleep(rng.expovariate(60 / 3600 * speed))
            service = rng.choices(services, weights)[0]
            try:
                await hall.issue(service.code, kiosk=rng.choice(kiosks))
            except EngineError as e:
                log.debug("simulated visitor turned away: %s", e.message)
    finally:
        for t in tasks:
            t.cancel()


async def _window(hall: Hall, window: str, rng: random.Random, speed: float) -> None:
    by = f"sim-{window}"
    while True:
        try:
            ticket = await hall.act(window, "call", by)
            if ticket is None:
                await asyncio.sleep(rng.uniform(5, 15) / speed * 10)
                continue
            mean = hall.services[ticket.service].mean_service_min * 60
            if rng.random() < 0.06:
                await asyncio.sleep(60 / speed)
                await hall.act(window, "no-show", by)
                continue
            await asyncio.sleep(20 / speed)
            await hall.act(window, "start", by)
            await asyncio.sleep(rng.expovariate(1 / mean) / speed)
            await hall.act(window, "finish", by)
        except EngineError:
            await asyncio.sleep(30 / speed)  # paused by a human at the console, or closed
        except HallUnavailable:
            return
