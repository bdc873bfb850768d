"""Measures of service, following the contract's queue rules.

Waiting time is the first ``called_at`` minus ``issued_at`` and belongs to the window that
called; service time runs from the start (or the call, when nobody pressed start) to
``finished_at``. Only tickets that were called count towards waiting; a transferred ticket's
wait is counted once, on the ticket that was first called.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from hall_server.hall import Hall


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list: the smallest value with at least
    ``q`` of the values at or below it (the same rule as the reports)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values) - 1e-9) - 1))
    return sorted_values[k]


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def windows(db_path: str | Path, day: str) -> list[dict[str, Any]]:
    """Per window for one day (run it in a thread: it opens its own connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT window, status, issued_at, called_at, started_at, finished_at, predecessor "
            "FROM tickets WHERE day = ? AND called_at IS NOT NULL AND window IS NOT NULL",
            (day,),
        ).fetchall()
    finally:
        conn.close()
    by: dict[str, dict[str, Any]] = {}
    for window, status, issued, called, started, finished, predecessor in rows:
        w = by.setdefault(window, {"waits": [], "services": [], "served": 0, "no_show": 0})
        if predecessor is None:
            w["waits"].append(called - issued)
        if status == "done":
            w["served"] += 1
            if finished is not None:
                w["services"].append(finished - (started or called))
        elif status == "no_show":
            w["no_show"] += 1
    out = []
    for window in sorted(by, key=lambda x: (len(x), x)):
        w = by[window]
        waits, svc = sorted(w["waits"]), w["services"]
        out.append(
            {
                "window": window,
                "served": w["served"],
                "no_show": w["no_show"],
                "called": len(waits),
                "wait_mean_s": _r(sum(waits) / len(waits)) if waits else None,
                "wait_p50_s": _r(percentile(waits, 0.5)),
                "wait_p90_s": _r(percentile(waits, 0.9)),
                "wait_max_s": _r(waits[-1]) if waits else None,
                "service_mean_s": _r(sum(svc) / len(svc)) if svc else None,
            }
        )
    return out


def live(hall: Hall) -> dict[str, Any]:
    """Now: per service waiting, longest current wait, open windows and the estimate."""
    now = hall.clock()
    services = []
    for s in hall.services_view():
        waiting = hall.engine.waiting_tickets(s["code"])
        longest = max((now - t.issued_at for t in waiting), default=0.0)
        services.append(
            {
                "service": s["code"],
                "name": s["name"],
                "waiting": s["waiting"],
                "longest_wait_s": round(longest, 1),
                "open_windows": len(hall.engine.open_windows(s["code"])),
                "eta_s": s["eta_s"],
                "eta_range_s": s["eta_range_s"],
                "target_wait_s": s["target_wait_min"] * 60,
            }
        )
    return {"at": hall.iso(now), "services": services, "windows": hall.windows_view()}
