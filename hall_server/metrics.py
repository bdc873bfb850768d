"""Live metrics for managers: now, per service and window; and one day's figures per window
(the measures themselves are defined in ``core/measures.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hall_server.core.measures import window_figures
from hall_server.hall import Hall
from hall_server.store.tickets import called_of_day


def windows(db_path: str | Path, day: str) -> list[dict[str, Any]]:
    """Per window for one day (run it in a thread: it opens its own connection)."""
    return window_figures(called_of_day(db_path, day))


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
