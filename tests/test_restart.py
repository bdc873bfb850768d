"""A restart rebuilds the hall exactly: after every command of a day that crosses midnight, a
new hall on the same SQLite file (replaying the log) holds the same state as the live one,
and the estimator has learnt the same from the day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from hall_server.config import HallConfig
from hall_server.core.engine import Priority
from hall_server.hall import Hall
from hall_server.store.db import Store


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def state(hall: Hall) -> dict[str, Any]:
    """Everything the engine answers from, and what the estimator has learnt."""
    e, est = hall.engine, hall.estimator
    return {
        "day": e.day,
        "tickets": sorted(
            (t.id, t.number, t.service, t.status.value, t.window, t.called_at, t.finished_at)
            for t in e.tickets.values()
        ),
        "by_token": sorted(e.by_token.items()),
        "by_number": sorted(e.by_number.items()),
        "queues": {s: [x[2] for x in (*q.high, *q.normal)] for s, q in e.queues.items()},
        "lines": e.lines,
        "sent": sorted(
            (t.id, t.to_window, t.to_staff, t.note, t.sent_by, t.sent_from)
            for t in e.tickets.values()
        ),
        "windows": {w.id: (w.status.value, w.current, w.streak) for w in e.windows.values()},
        "seq": e.seq,
        "recent_calls": list(e.recent_calls),
        "learnt": sorted(est.seen),  # what it learnt today (earlier days' means are not
    }  # in the day's log: a restart starts them again from the config's priors)


def restarted(config: HallConfig, path: Path, clock: Clock) -> dict[str, Any]:
    store = Store(path)
    try:
        return state(Hall(config, store, clock=clock))
    finally:
        store.close()


async def test_a_restart_at_any_moment_across_midnight_rebuilds_the_same_hall(
    tmp_path: Path, demo_config: HallConfig
) -> None:
    path = tmp_path / "hall.db"
    evening = datetime(2026, 11, 25, 23, 50, tzinfo=demo_config.tz).timestamp()
    clock = Clock(evening)
    store = Store(path)
    hall = Hall(demo_config, store, clock=clock)
    await hall.start()
    service = demo_config.service[0].code
    window = next(w.id for w in demo_config.window if service in w.services)

    async def step(command: Any, *args: Any, **kw: Any) -> None:
        clock.now += 30
        await command(*args, **kw)
        assert restarted(demo_config, path, clock) == state(hall), command

    try:
        await step(hall.issue, service)
        await step(hall.issue, service, priority=Priority.PRIORITY)
        await step(hall.issue, service)
        await step(hall.act, window, "call")
        await step(hall.act, window, "start")
        await step(hall.act, window, "finish")
        await step(hall.act, window, "call", by="clerk1")
        other = next(w.id for w in demo_config.window if w.id != window)
        await step(hall.act, window, "transfer", by="clerk1", to_window=other, note="缺复印件")
        await step(hall.act, window, "call", by="clerk1")
        await step(hall.act, window, "transfer", by="clerk1", to_staff="clerk2", note="请核对")
        await step(hall.act, other, "call", by="clerk3")  # the window's own line first
        await step(hall.act, other, "transfer", by="clerk3", to_staff="clerk2")
        assert len(hall.engine.lines[("staff", "clerk2")]) == 2
        await step(hall.act, window, "call", by="clerk2")  # follows clerk2 to any window
        clock.now = evening + 11 * 60  # past midnight: the day closes with no command
        await hall.roll_day()
        assert restarted(demo_config, path, clock) == state(hall)
        assert {t.status.value for t in hall.engine.tickets.values()} == {"expired"}
        await step(hall.issue, service)  # the new day opens with its first ticket
        assert [t.number for t in hall.engine.tickets.values()] == [
            f"{demo_config.service[0].prefix}001"
        ]
        await step(hall.act, window, "call")
    finally:
        await hall.stop()
        store.close()
