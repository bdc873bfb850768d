"""How fast are reports on a year of history? Every report beside plain scans of the same table.

Fills a hallq SQLite file with about a million tickets (``gen_history.py``) unless ``--db``
already holds them, builds the day caches once (timed: a running server does this in the
background at start and on first use), then times each report over a year, a month and a day,
and the summary of each range (headline figures beside the same-length period before it, and
the trend per day), best of ``--repeat`` runs (read days stay in memory, as in the server), next to
``SELECT count(*)`` and a full scan of ``tickets``.

    python benchmarks/bench_reports.py [--db /tmp/hallq-year.db] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gen_history import generate  # noqa: E402

from hall_server import reports  # noqa: E402
from hall_server.config import DEMO_CONFIG, load_config  # noqa: E402
from hall_server.core.reports import DIMENSIONS  # noqa: E402
from hall_server.store.db import Store  # noqa: E402

BUDGET_MS = 300


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, default=Path("/tmp/hallq-year.db"))
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    config = load_config(DEMO_CONFIG)
    today = date.today()
    conn = sqlite3.connect(str(args.db)) if args.db.exists() else None
    count = conn.execute("SELECT count(*) FROM tickets").fetchone()[0] if conn else 0
    if count < 500_000:
        t0 = time.perf_counter()
        count = generate(args.db, end=today - timedelta(days=1))
        print(f"generated {count} tickets in {time.perf_counter() - t0:.1f} s")
        conn = sqlite3.connect(str(args.db))
    assert conn is not None
    store = Store(args.db)  # the caches are written through the store's writer
    t0 = time.perf_counter()
    days = reports.warm(store, config, today, years=1)
    print(f"day caches for {days} days ready in {time.perf_counter() - t0:.1f} s (once)")
    mb = args.db.stat().st_size / 1e6
    print(f"{count} tickets, file {mb:.0f} MB\n")

    rows: list[tuple[str, float]] = [
        ("baseline: SELECT count(*) FROM tickets", best_ms(
            lambda: conn.execute("SELECT count(*) FROM tickets").fetchone(), args.repeat)),
        ("baseline: full scan, SELECT sum(called_at - issued_at)", best_ms(
            lambda: conn.execute("SELECT sum(called_at - issued_at) FROM tickets").fetchone(),
            args.repeat)),
    ]  # fmt: skip
    reports._MEMORY.clear()
    t0 = time.perf_counter()
    reports.report(store, config, today - timedelta(days=365), today, today, "window")
    rows.append(("report by window, year, day caches read from the file (first report)",
                 (time.perf_counter() - t0) * 1000))  # fmt: skip
    ranges = {
        "year": (today - timedelta(days=365), today),
        "month": (today - timedelta(days=30), today - timedelta(days=1)),
        "day": (today - timedelta(days=1), today - timedelta(days=1)),
    }
    for label, (a, b) in ranges.items():
        for by in DIMENSIONS:
            ms = best_ms(lambda a=a, b=b, by=by: reports.report(store, config, a, b, today, by),
                         args.repeat)  # fmt: skip
            rows.append((f"report by {by}, {label}", ms))
        ms = best_ms(lambda a=a, b=b: reports.summary(store, config, a, b, today), args.repeat)
        rows.append((f"summary (headline, previous {label}, trend), {label}", ms))
        rep = reports.report(store, config, *ranges[label], today, "window")
        rows.append((f"CSV export by window, {label}", best_ms(lambda r=rep: reports.to_csv(r), 1)))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'best ms':>9}  within {BUDGET_MS} ms")
    print("-" * (width + 26))
    for name, ms in rows:
        ok = "" if name.startswith("baseline") else ("yes" if ms < BUDGET_MS else "NO")
        print(f"{name:<{width}}  {ms:>9.1f}  {ok}")


if __name__ == "__main__":
    main()
