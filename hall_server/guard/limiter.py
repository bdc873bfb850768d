"""How often one client may do one thing: moving-window limits on public writes.

Built on the ``limits`` library (moving window, in memory): counting is one locked step per
key, so a burst of parallel requests can never get more than the limit through, whatever the
interleaving; a try is counted *before* the work it guards is done (a password is checked
only after its try was counted), which is what makes throttling impossible to race.

A rule is named (``login``, ``book``...) and written as ``limits`` does: ``"10/minute"``,
``"5 per 10 seconds"``. The hall's ``[security.limits]`` table overrides the defaults below.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

#: Defaults, per client (IP address, or /64 network for IPv6) unless the name says otherwise.
DEFAULT_RULES: dict[str, str] = {
    "login": "20/minute",  # wrong passwords per client
    "login_user": "5/minute",  # wrong passwords per client and user name
    "ticket": "6/minute",  # ticket requests without a credential (all refused: 401)
    "kiosk_ticket": "60/minute",  # tickets per paired kiosk (a printer manages ~10)
    "book": "5/hour",  # bookings per client
    "book_contact": "3/day",  # bookings per phone or ID number (its keyed hash)
    "book_all": "60/minute",  # anonymous bookings of all clients before proof of work is asked
    "sms": "3/hour",  # verification codes sent per phone
    "cancel": "10/hour",  # appointment cancels and wrong contacts per client
    "rate": "20/hour",  # ratings per client
    "write": "60/minute",  # any other write without a staff login
    "qr": "120/minute",  # QR images rendered per client
}


class Exhausted(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class Limiter:
    """Named moving-window limits, counted per key."""

    def __init__(self, rules: Mapping[str, str] | None = None) -> None:
        self.items: dict[str, RateLimitItem] = {
            name: parse(spec) for name, spec in {**DEFAULT_RULES, **(rules or {})}.items()
        }
        self._storage = MemoryStorage()
        self._window = MovingWindowRateLimiter(self._storage)
        self._pending: Counter[tuple[str, ...]] = Counter()

    def hit(self, rule: str, *key: str) -> float | None:
        """Count one try. None when it is allowed, else the seconds until the oldest try in
        the window leaves it (an honest ``Retry-After``)."""
        item = self.items[rule]
        if self._window.hit(item, rule, *key):
            return None
        return self.retry_after(rule, *key)

    @contextlib.contextmanager
    def attempt(self, rule: str, *key: str) -> Iterator[Callable[[], None]]:
        """A try that costs only if it fails (a right password spends nothing), yet cannot be
        raced: while it is being checked it holds a place in the budget, so no more tries run
        at once than failures are left. Raises `Exhausted` when no place is left; call the
        yielded function when the try failed. Use on the event loop (the count is not locked)."""
        item, k = self.items[rule], (rule, *key)
        remaining = self._window.get_window_stats(item, rule, *key).remaining
        if self._pending[k] >= remaining:
            raise Exhausted(self.retry_after(rule, *key) if remaining <= 0 else 1.0)
        self._pending[k] += 1

        def failed() -> None:
            self._window.hit(item, rule, *key)

        try:
            yield failed
        finally:
            self._pending[k] -= 1
            if not self._pending[k]:
                del self._pending[k]

    def retry_after(self, rule: str, *key: str) -> float:
        stats = self._window.get_window_stats(self.items[rule], rule, *key)
        return max(1.0, float(math.ceil(stats.reset_time - time.time())))

    def limit(self, rule: str) -> int:
        return self.items[rule].amount

    def reset(self) -> None:
        self._storage.reset()
