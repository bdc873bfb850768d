"""Live metrics for managers: now, per service and window; and one day's figures per window
(the measures themselves are defined in ``core/measures.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hall_server import reports
from hall_server.config import HallConfig
from hall_server.hall import Hall
from hall_server.store.db import Store

#: What the per-window figures of a day keep of the report's columns.
WINDOW_FIGURES = (
    "served",
    "no_show",
    "called",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_max_s",
    "service_mean_s",
)


def windows(store: Store, config: HallConfig, day: date, today: date) -> list[dict[str, Any]]:
    """Per window for one day: the report's figures by window for that day, so live metrics
    and reports give one answer (the window that called a ticket counts the call, a
    transferred visitor's wait counts once). Run it in a thread: it opens its own connection."""
    return window_figures(reports.report(store, config, day, day, today, "window"))


def window_figures(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """A report by window as the day's per-window figures (the city hub uses this too)."""
    return [
        {"window": row["key"], **{k: row[k] for k in WINDOW_FIGURES}}
        for row in rep["rows"]
        if row["called"]
    ]


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
                "open_windows": len(hall.serving_windows(s["code"])),
                "eta_s": s["eta_s"],
                "eta_range_s": s["eta_range_s"],
                "target_wait_s": s["target_wait_min"] * 60,
            }
        )
    return {"at": hall.iso(now), "services": services, "windows": hall.windows_view()}
