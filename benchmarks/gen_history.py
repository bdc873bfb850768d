"""Write a year of realistic ticket history straight into a hallq SQLite file.

A city-sized version of the demo hall (its windows repeated ``--scale`` times) open
08:30-17:30 on weekdays and Saturday mornings: visitors arrive with a morning peak, a lunch dip
and a smaller afternoon peak, choose services by the catalog's shares (85% also one of its items,
事项) and take lognormal service times around the catalog's means. Half the windows close for
lunch, priority visitors go first, 6% never come when called (the window loses 60 s), and some
give up after a long wait. The queue is simulated event by event, so waits, windows and staff
are consistent with each other.

    python benchmarks/gen_history.py --db /tmp/year.db            # about a million tickets
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import secrets
import sqlite3
import sys
import time
from collections import deque
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall_server.config import DEMO_CONFIG, HallConfig, load_config  # noqa: E402
from hall_server.store.db import _UPSERT, Store  # noqa: E402

#: Relative arrival intensity per half hour from 08:30 to 17:30.
PROFILE = [6, 10, 12, 12, 11, 9, 8, 5, 3, 3, 4, 7, 9, 9, 8, 6, 4, 2]
OPEN_H, LUNCH = 8.5, (12.0, 13.5)
NO_SHOW, PRIORITY, SIGMA = 0.06, 0.08, 0.6
NO_ITEM = 0.15  # took a ticket for the service without choosing an item


def _windows(config: HallConfig, scale: int) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for _ in range(scale):
        for w in config.window:
            out.append((str(len(out) + 1), tuple(w.services)))
    return out


def simulate_day(
    rng: random.Random,
    config: HallConfig,
    windows: list[tuple[str, tuple[str, ...]]],
    day: date,
    arrivals: int,
    close_h: float,
    day_index: int,
) -> list[tuple]:
    """One day of tickets, as ``tickets`` rows in the store's column order."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=config.tz).timestamp()
    services = config.service
    shares = [float((s.model_extra or {}).get("share", 0.1)) for s in services]
    slots = PROFILE[: int((close_h - OPEN_H) * 2)]
    times = sorted(
        midnight + (OPEN_H + (rng.choices(range(len(slots)), slots)[0] + rng.random()) / 2) * 3600
        for _ in range(arrivals)
    )
    tickets = []  # [service, priority, issued, patience, item]
    for t in times:
        s = rng.choices(services, shares)[0]
        item = rng.choice(s.items).code if s.items and rng.random() >= NO_ITEM else None
        tickets.append((s, rng.random() < PRIORITY, t, 1200 + rng.expovariate(1 / 5400), item))
    queues = {s.code: (deque(), deque()) for s in services}
    staff_pool = len(windows) + len(windows) // 3
    lunch = (midnight + LUNCH[0] * 3600, midnight + LUNCH[1] * 3600)
    rows: list[tuple] = []
    seq = dict.fromkeys(queues, 0)
    events: list[tuple[float, int, int]] = [(t[2], 0, i) for i, t in enumerate(tickets)]
    events += [(midnight + OPEN_H * 3600, 1, w) for w in range(len(windows))]
    heapq.heapify(events)
    idle: set[int] = set()

    def closed_for_lunch(w: int, at: float) -> bool:
        return w % 2 == 1 and lunch[0] <= at < lunch[1]

    def dispatch(w: int, at: float) -> None:
        if closed_for_lunch(w, at):
            heapq.heappush(events, (lunch[1], 1, w))
            return
        for code in windows[w][1]:
            high, normal = queues[code]
            while high or normal:
                i = (high or normal).popleft()
                svc, prio, issued, patience, item = tickets[i]
                seq[code] += 1
                number = f"{svc.prefix}{seq[code]:03d}"
                if at - issued > patience:  # gave up and left before being called
                    rows.append(_row(day, svc, number, prio, "cancelled", issued, None, None,
                                     issued + patience, None, None, item))  # fmt: skip
                    continue
                half = 0 if at < lunch[0] else 1
                who = f"staff{(w + day_index * 7 + half * 13) % staff_pool + 1}"
                if rng.random() < NO_SHOW:
                    end = at + 60
                    rows.append(_row(day, svc, number, prio, "no_show", issued, at, None, end,
                                     windows[w][0], who, item))  # fmt: skip
                else:
                    mean = svc.mean_service_min * 60
                    took = rng.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA)
                    end = at + 20 + took
                    rows.append(_row(day, svc, number, prio, "done", issued, at, at + 20, end,
                                     windows[w][0], who, item))  # fmt: skip
                heapq.heappush(events, (end, 1, w))
                return
        idle.add(w)

    while events:
        at, kind, i = heapq.heappop(events)
        if kind == 1:
            dispatch(i, at)
            continue
        svc, prio = tickets[i][:2]
        queues[svc.code][0 if prio else 1].append(i)
        for w in sorted(idle):
            if svc.code in windows[w][1] and not closed_for_lunch(w, at):
                idle.discard(w)
                dispatch(w, at)
                break
    return rows


def _row(day, svc, number, prio, status, issued, called, started, finished, window, who, item):
    return (
        secrets.token_hex(8),
        day.isoformat(),
        svc.code,
        number,
        "priority" if prio else "normal",
        status,
        issued,
        issued,
        called,
        started,
        finished,
        window,
        "k1",
        secrets.token_urlsafe(12),
        0,
        who,
        who,
        None,
        None,
        None,
        None,
        None,
        item,
    )


def generate(
    db: Path,
    days: int = 365,
    per_day: int = 3700,
    scale: int = 7,
    end: date | None = None,
    seed: int = 7,
    config: HallConfig | None = None,
) -> int:
    """Fill ``db`` (created with hallq's schema if missing); returns the tickets written."""
    config = config or load_config(DEMO_CONFIG)
    Store(db).close()
    rng = random.Random(seed)
    windows = _windows(config, scale)
    end = end or date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    conn = sqlite3.connect(str(db))
    conn.execute("PRAGMA synchronous=OFF")
    total = 0
    batch: list[tuple] = []
    for i in range(days):
        d = start + timedelta(days=i)
        if d.weekday() == 6:
            continue
        saturday = d.weekday() == 5
        mean = per_day * (0.35 if saturday else rng.uniform(0.85, 1.15))
        n = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        batch += simulate_day(rng, config, windows, d, n, 12.0 if saturday else 17.5, i)
        if len(batch) > 100_000 or i == days - 1:
            with conn:
                conn.executemany(_UPSERT, batch)
            total += len(batch)
            batch = []
    with conn:
        conn.executemany(_UPSERT, batch)
        total += len(batch)
        conn.execute(
            "DELETE FROM report_days WHERE day BETWEEN ? AND ?",
            (start.isoformat(), end.isoformat()),
        )
    conn.close()
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", required=True, type=Path, help="hallq SQLite file to fill")
    p.add_argument("--days", type=int, default=365, help="calendar days ending yesterday")
    p.add_argument("--per-day", type=int, default=3700, help="mean arrivals on a weekday")
    p.add_argument("--scale", type=int, default=7, help="copies of the demo hall's windows")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    t0 = time.perf_counter()
    n = generate(args.db, args.days, args.per_day, args.scale, seed=args.seed)
    print(f"{n} tickets written to {args.db} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
