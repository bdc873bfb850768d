"""Demo traffic: visitors arrive by the catalog's shares, windows call and serve them.

Runs through :class:`Hall` like real kiosks and staff do, so boards, consoles and reports in
the demo show live, plausible activity. Times are sped up so a demo shows movement in minutes.
The city hub's demo (``city_hub/demo.py``) runs one of these per hall, each with its own
arrival rate and its own staffed windows, so that a network of halls looks like a real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from hall_server.core.engine import EngineError, Ticket
from hall_server.hall import Hall, HallUnavailable

log = logging.getLogger(__name__)

#: Called with each ticket a simulated window finished (the demo city rates some of them).
Finished = Callable[[Ticket, random.Random], Awaitable[None]]


async def simulate(
    hall: Hall,
    speed: float = 20.0,
    seed: int | None = None,
    per_hour: float = 60.0,
    staffed: list[str] | None = None,
    finished: Finished | None = None,
) -> None:
    """Arrivals at ``per_hour`` visitors an hour of hall time, compressed ``speed`` times.
    Only the ``staffed`` windows (all by default) call; the others are paused."""
    rng = random.Random(seed)
    services = hall.config.service
    weights = [float((s.model_extra or {}).get("share", 1.0)) for s in services]
    kiosks: list[str | None] = [k.id for k in hall.config.kiosk] or [None]
    windows = [w.id for w in hall.config.window]
    clerks = windows if staffed is None else [w for w in windows if w in staffed]
    for w in windows:
        if w not in clerks:
            # already paused (a restart) or serving: nothing to do
            with contextlib.suppress(EngineError):
                await hall.act(w, "pause", "sim")
    tasks = [asyncio.create_task(_window(hall, w, rng, speed, finished)) for w in clerks]
    try:
        while True:
            await asyncio.sleep(rng.expovariate(per_hour / 3600 * speed))
            service = rng.choices(services, weights)[0]
            try:
                await hall.issue(service.code, kiosk=rng.choice(kiosks))
            except EngineError as e:
                log.debug("simulated visitor turned away: %s", e.message)
    finally:
        for t in tasks:
            t.cancel()


async def _window(
    hall: Hall, window: str, rng: random.Random, speed: float, finished: Finished | None
) -> None:
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
            if finished is not None:
                await finished(ticket, rng)
        except EngineError:
            await asyncio.sleep(30 / speed)  # paused by a human at the console, or closed
        except HallUnavailable:
            return
