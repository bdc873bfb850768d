"""The measures every figure of the hall is built from, defined once: live metrics, reports,
the replay and the estimator all use these.

Percentiles are nearest-rank: the smallest value with at least ``q`` of the values at or
below it. It is always one of the values (a wait someone actually had), and the same rule
over a histogram of whole seconds gives the same answer as over the list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

_EPS = 1e-9  # q * n computed in floating point: 0.9 * 10 must be rank 9, not 10


def nearest_rank(q: float, n: int) -> int:
    """The 1-based rank of the ``q`` percentile among ``n`` values (at least 1)."""
    return max(1, math.ceil(q * n - _EPS))


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence; None when it is empty."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values), nearest_rank(q, len(sorted_values))) - 1]


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def window_figures(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Per window, from (window, status, issued_at, called_at, started_at, finished_at,
    predecessor) of the called tickets of a day.

    Waiting time is the first ``called_at`` minus ``issued_at`` and belongs to the window that
    called; service time runs from the start (or the call, when nobody pressed start) to
    ``finished_at``. A transferred ticket's wait is counted once, on the ticket that was first
    called."""
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
