"""The measures every figure of the hall is built from, defined once: live metrics, reports,
the replay and the estimator all use these.

Percentiles are nearest-rank: the smallest value with at least ``q`` of the values at or
below it. It is always one of the values (a wait someone actually had), and the same rule
over a histogram of whole seconds gives the same answer as over the list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPS = 1e-9  # q * n computed in floating point: 0.9 * 10 must be rank 9, not 10


def nearest_rank(q: float, n: int) -> int:
    """The 1-based rank of the ``q`` percentile among ``n`` values (at least 1)."""
    return max(1, math.ceil(q * n - _EPS))


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence; None when it is empty."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values), nearest_rank(q, len(sorted_values))) - 1]
