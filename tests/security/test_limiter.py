"""Properties of the per-client limiter: never more than the limit inside any window, however
the tries are spread in time or raced from threads; a refused try says how long to wait."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import limits.storage.memory
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_server.guard.limiter import Exhausted, Limiter


class FakeClock:
    """Stands in for the wall clock the ``limits`` library reads (its module's ``time``)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 8),
    window_s=st.integers(1, 30),
    gaps=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=60),
)
def test_never_more_than_the_limit_in_any_window(limit, window_s, gaps):
    clock = FakeClock()
    original = limits.storage.memory.time
    limits.storage.memory.time = clock  # type: ignore[assignment]
    try:
        limiter = Limiter({"x": f"{limit} per {window_s} seconds"})
        allowed: list[float] = []
        for gap in gaps:
            clock.now += gap
            wait = limiter.hit("x", "client")
            if wait is None:
                allowed.append(clock.now)
            else:
                assert wait >= 1
        # any window of window_s seconds holds at most `limit` allowed tries
        for i, start in enumerate(allowed):
            inside = [t for t in allowed[i:] if t - start < window_s]
            assert len(inside) <= limit
    finally:
        limits.storage.memory.time = original


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(1, 10), keys=st.lists(st.sampled_from("abc"), min_size=1, max_size=40))
def test_each_key_has_its_own_budget(limit, keys):
    limiter = Limiter({"x": f"{limit}/hour"})
    granted: dict[str, int] = {}
    for k in keys:
        if limiter.hit("x", k) is None:
            granted[k] = granted.get(k, 0) + 1
    for k in set(keys):
        assert granted.get(k, 0) == min(limit, keys.count(k))


@settings(max_examples=25, deadline=None)
@given(limit=st.integers(1, 20), threads=st.integers(2, 16))
def test_racing_threads_never_get_more_than_the_limit(limit, threads):
    limiter = Limiter({"x": f"{limit}/hour"})
    start = threading.Barrier(threads)

    def burst() -> int:
        start.wait()
        return sum(limiter.hit("x", "same client") is None for _ in range(10))

    with ThreadPoolExecutor(threads) as pool:
        got = sum(pool.map(lambda _: burst(), range(threads)))
    assert got == min(limit, threads * 10)


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(1, 6), in_flight=st.integers(1, 20), failing=st.booleans())
def test_tries_in_flight_hold_their_place_and_only_failures_cost(limit, in_flight, failing):
    """What makes login throttling race-proof: while `in_flight` checks are running at once,
    no more than the remaining failures may start; right answers spend nothing."""
    limiter = Limiter({"x": f"{limit}/hour"})
    held, started = [], 0
    for _ in range(in_flight):
        try:
            cm = limiter.attempt("x", "c")
            fail = cm.__enter__()
        except Exhausted as e:
            assert e.retry_after >= 1
            continue
        started += 1
        held.append((cm, fail))
    assert started == min(limit, in_flight)
    for cm, fail in held:
        if failing:
            fail()
        cm.__exit__(None, None, None)
    later = limiter.attempt("x", "c")
    if failing and started == limit:
        try:
            later.__enter__()
            raise AssertionError("a spent budget let another try through")
        except Exhausted:
            pass
    else:
        later.__enter__()
        later.__exit__(None, None, None)
