"""Waiting-time estimates for the kiosk, the progress page and the boards, with a range whose
accuracy the hall measures on itself.

The estimate plays the hall forward from now, on expected values, through the same calling
rules as the engine: every window that is open (or, by the hall's own record of recent days,
will reopen, after lunch say) takes the next ticket of its services in its order of preference,
high classes first within the engine's streak limit. Each call keeps the window busy for the
time this service takes *at this window*, learned from its finishes, mixed with the no-show
rate (a no-show costs the recall time, not a service). Visitors still to come are played in at
the recent arrival rate of each service: a priority visitor who arrives later is called before
a normal one already waiting, and newcomers to a window's preferred service hold up the others
there. Gaps between opening spans (a lunch closure) are skipped.

The range comes from the estimator's own record: for every ticket, the estimate shown when it
was issued is compared with the wait it actually had, and the range spans the 8th to 92nd
percentile of those errors (relative for long waits, absolute for short ones). Until enough
tickets have been called a deliberately wide default is used.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from hall_server.config import HallConfig
from hall_server.core.engine import (
    Engine,
    Event,
    Status,
    Ticket,
    WindowStatus,
    next_streak,
    takes_high,
)
from hall_server.core.measures import percentile

SLOT_S = 900  # time-of-day resolution of the window-availability profile
LONG_S = 600  # estimates at least this long get a relative range, shorter ones an absolute one
RATE_WINDOW_S = 1800  # arrival rates are measured over the last half hour
HORIZON_S = 10 * 3600
STEP_S = 120  # visitors still to come are played in two minutes at a time
#: Newcomers to a window's preferred service hold up the others there, but played at their
#: mean rate, evenly spaced, they would hold them up all the time; real arrivals bunch and
#: leave gaps. Half of them, measured with benchmarks/bench_estimates.py, comes closest.
NORMAL_WEIGHT = 0.5
MIN_ERRORS = 30
#: The play costs milliseconds per hundred waiting; under a burst of arrivals (nothing else
#: changing) it runs at most this often, and tickets issued in between are placed after the
#: play's newcomer.
REPLAY_EVERY_S = 0.5


@dataclass(frozen=True)
class Estimate:
    eta_s: int
    low_s: int
    high_s: int


class _Mean:
    """A mean that forgets slowly (older values fade by ``keep`` at each new one) and starts
    from a prior worth ``weight`` values, so a few odd services do not swing it."""

    def __init__(self, prior: float, weight: float, keep: float = 0.98) -> None:
        self.sum, self.n, self.keep = prior * weight, weight, keep

    def add(self, value: float) -> None:
        self.sum = self.sum * self.keep + value
        self.n = self.n * self.keep + 1

    @property
    def value(self) -> float:
        return self.sum / self.n


def _at(sorted_values: list[float], q: float) -> float:
    value = percentile(sorted_values, q)
    assert value is not None  # callers only ask with enough samples
    return value


class Estimator:
    alpha = 0.15
    coverage = (0.08, 0.92)

    def __init__(self, config: HallConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.spans = [
            (a.hour * 3600 + a.minute * 60, b.hour * 3600 + b.minute * 60 + b.second)
            for a, b in config.opening_spans()
        ]
        self.windows = {w.id: tuple(w.services) for w in config.window}
        # A window's time on a ticket runs from the call to the end (walking up included).
        self.by_service = {s.code: _Mean(s.mean_service_min * 60 + 30, 3) for s in config.service}
        self.by_window: dict[tuple[str, str], _Mean] = {}
        self.no_show_p = {s: _Mean(0.05, 20) for s in self.by_service}
        self.no_show_s = _Mean(60.0, 5)
        self.arrivals: dict[str, deque[tuple[float, bool]]] = {s: deque() for s in self.by_service}
        self.today: dict[str, list[int]] = {s: [0] * 96 for s in self.by_service}
        self.arriving: dict[str, list[float]] = {}  # usual arrivals per slot, over past days
        self.errors: dict[bool, deque[float]] = {False: deque(maxlen=400), True: deque(maxlen=400)}
        self._bounds: dict[bool, tuple[float, float]] = {}
        self.at_issue: dict[str, tuple[float, float]] = {}  # id -> (shown, played) at issue
        self.drift: deque[float] = deque(maxlen=400)
        self._factor: float | None = None
        self.seen: set[tuple[str, str]] = set()
        self.day: str | None = None
        self.profile: dict[str, list[float | None]] = {w: [None] * 96 for w in self.windows}
        self._key: tuple[object, ...] | None = None
        self._cached: dict[str, float] = {}
        self._played_at: float | None = None
        self._waiting_then: dict[str, int] = {}
        self._learned = 0  # calls and ends observed: what changes the play besides arrivals

    # -- learning ------------------------------------------------------------------------------

    def _ewma(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.alpha) * old + self.alpha * new

    def learn(self, events: Iterable[Event], engine: Engine) -> None:
        """The one way the estimator is taught: the events the engine just applied (issues,
        calls, no-shows, finishes teach it; repeats and the rest are ignored). The live hall,
        its restart and the replay all call this."""
        for e in events:
            t = engine.tickets.get(getattr(e, "ticket_id", ""))
            if t is not None:
                self.observe(t)

    def observe(self, ticket: Ticket) -> None:
        """Learn from a ticket that was issued, called, served or did not come (each once)."""
        if (ticket.id, ticket.status.value) in self.seen:
            return
        if ticket.day != self.day:
            self._new_day(ticket.day)
        self.seen.add((ticket.id, ticket.status.value))
        s = ticket.service
        if ticket.status is Status.WAITING and ticket.predecessor is None and s in self.arrivals:
            self.arrivals[s].append((ticket.issued_at, ticket.high))
            local = datetime.fromtimestamp(ticket.issued_at, self.config.tz)
            self.today[s][(local.hour * 3600 + local.minute * 60) // SLOT_S] += 1
            return
        if ticket.called_at is None:
            return
        self._learned += 1
        issued = self.at_issue.pop(ticket.id, None)
        if issued is not None and ticket.predecessor is None:
            shown, played = issued
            waited = ticket.called_at - ticket.issued_at
            long = shown >= LONG_S
            self.errors[long].append(waited / shown if long else waited - shown)
            self._bounds.pop(long, None)
            if played >= LONG_S:
                self.drift.append(waited / played)
                self._factor = None
        if ticket.finished_at is None or s not in self.by_service:
            return
        took = ticket.finished_at - ticket.called_at
        if ticket.status is Status.NO_SHOW:
            self.no_show_p[s].add(1.0)
            self.no_show_s.add(took)
        elif ticket.status is Status.DONE and 0 < took < 4 * 3600:
            self.no_show_p[s].add(0.0)
            self.by_service[s].add(took)
            key = (s, ticket.window or "")
            if key not in self.by_window:  # a clerk starts as fast as the service's average
                self.by_window[key] = _Mean(self.by_service[s].value, 5)
            self.by_window[key].add(took)

    def _new_day(self, day: str) -> None:
        """Fold the day's arrivals per time of day into the profile of the days before."""
        if any(sum(c) for c in self.today.values()):
            for s, counts in self.today.items():
                old = self.arriving.get(s)
                self.arriving[s] = (
                    [float(c) for c in counts]
                    if old is None
                    else [0.7 * o + 0.3 * c for o, c in zip(old, counts, strict=True)]
                )
        self.today = {s: [0] * 96 for s in self.by_service}
        self.day, self.seen, self.at_issue = day, set(), {}

    def _sample_windows(self, engine: Engine, now: float, base: float) -> None:
        """Record which windows are open at this time of day, for the days to come."""
        slot = int((now - base) // SLOT_S) % 96
        for wid, w in engine.windows.items():
            if wid in self.profile:
                old = self.profile[wid][slot]
                self.profile[wid][slot] = self._ewma(old, float(w.status is WindowStatus.OPEN))

    # -- the forward play ------------------------------------------------------------------------

    def _busy(self, service: str, window: str) -> float:
        """Expected time a window spends on the next ticket of a service, no-shows included."""
        mean = self.by_window.get((service, window)) or self.by_service[service]
        p = self.no_show_p[service].value
        return p * self.no_show_s.value + (1 - p) * mean.value

    def _rates(self, now: float, base: float) -> dict[str, tuple[float, float, float]]:
        """Per service: arrivals per second over the last half hour, the high-class share, and
        how busy today is against the usual profile for this time of day (1: as usual)."""
        out = {}
        slot = int((now - base) // SLOT_S)
        frac = (now - base) / SLOT_S - slot
        for s, seen in self.arrivals.items():
            while seen and seen[0][0] < now - RATE_WINDOW_S:
                seen.popleft()
            if not seen:
                continue
            span = max(600.0, min(RATE_WINDOW_S, now - seen[0][0]))
            level = 1.0
            usual = self.arriving.get(s)
            if usual and slot >= 2:
                expected = usual[slot - 1] + frac * usual[slot] + (1 - frac) * usual[slot - 2]
                if expected >= 3:
                    level = min(2.0, max(0.5, len(seen) / expected))
            out[s] = (len(seen) / span, sum(h for _, h in seen) / len(seen), level)
        return out

    def _rate(self, s: str, t: float, base: float, rate: tuple[float, float, float]) -> float:
        """Visitors of a service expected per second at ``t``: the usual rate of that time of
        day (scaled to today) once days have been seen, else the recent rate; none while the
        hall is closed."""
        day_s = (t - base) % 86400
        if not any(a <= day_s < b for a, b in self.spans):
            return 0.0
        usual = self.arriving.get(s)
        return usual[int(day_s // SLOT_S)] / SLOT_S * rate[2] if usual else rate[0]

    def _open_from(self, wid: str, t: float, now: float, base: float) -> float | None:
        """The first instant from ``t`` at which the window works: inside opening hours and,
        beyond the next few minutes, in a slot where it has usually been open."""
        for _ in range(200):
            tod = t - base
            day_s = tod % 86400
            inside = [(a, b) for a, b in self.spans if a <= day_s < b]
            if not inside:
                later = [a for a, _ in self.spans if a > day_s]
                if not later:
                    return t  # after hours the queue is still served
                t += later[0] - day_s
                continue
            if t > now + 300:
                p = self.profile.get(wid, [None] * 96)[int(tod // SLOT_S) % 96]
                if p is not None and p < 0.5:
                    t = base + (int(tod // SLOT_S) + 1) * SLOT_S
                    continue
            return t
        return None

    def _play(self, engine: Engine, now: float) -> dict[str, float]:
        """Expected call time of every waiting ticket, and of a newcomer (``+service``)."""
        local = datetime.fromtimestamp(now, self.config.tz)
        base = now - (
            local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        )
        self._sample_windows(engine, now, base)
        heap: list[tuple[float, int, str]] = []
        streak: dict[str, int] = {}
        for i, (wid, w) in enumerate(engine.windows.items()):
            if not w.services:
                continue
            if w.status is WindowStatus.OPEN:
                t = now
                if w.current:
                    cur = engine.tickets[w.current]
                    expected = self._busy(cur.service, wid)
                    t = now + max(expected - (now - (cur.called_at or now)), 0.35 * expected)
            else:
                reopens = self._reopening(wid, now, base)
                if reopens is None:
                    continue
                t = reopens
            streak[wid] = w.streak
            heap.append((t, i, wid))
        heapq.heapify(heap)
        served = {s for _, _, wid in heap for s in engine.windows[wid].services}
        lanes: dict[str, tuple[deque[str | None], deque[str | None]]] = {}
        left = 0
        for s in engine.queues:
            waiting = engine.waiting_tickets(s)
            high: deque[str | None] = deque(t.id for t in waiting if t.high)
            normal: deque[str | None] = deque(t.id for t in waiting if not t.high)
            normal.append(f"+{s}")
            lanes[s] = (high, normal)
            if s in served:  # a queue no window will take gets no play
                left += len(waiting) + 1
        rates = self._rates(now, base)
        owed = {s: [0.0, 0.0] for s in rates}  # expected visitors not yet placed: high, normal
        placed = now
        per_step: dict[int, list[tuple[str, float, float]]] = {}
        calls: dict[str, float] = {}
        while heap and left:
            t, i, wid = heapq.heappop(heap)
            at = self._open_from(wid, t, now, base)
            if at is None or at > now + HORIZON_S:
                continue
            while placed + STEP_S <= at:  # visitors arriving meanwhile, a step at a time
                placed += STEP_S
                slot = int((placed - STEP_S / 2 - base) // SLOT_S)
                if slot not in per_step:  # rates only change from one slot to the next
                    per_step[slot] = [
                        (s, n * rate[1], n * (1 - rate[1]) * NORMAL_WEIGHT)
                        for s, rate in rates.items()
                        if (n := self._rate(s, placed - STEP_S / 2, base, rate) * STEP_S) > 0
                    ]
                for s, n_high, n_normal in per_step[slot]:
                    due = owed[s]
                    due[0] += n_high
                    due[1] += n_normal
                    for lane in (0, 1):
                        if due[lane] >= 1:
                            k = int(due[lane])
                            due[lane] -= k
                            lanes[s][lane].extend([None] * k)
            chosen: tuple[str, str | None] | None = None
            for s in engine.windows[wid].services:
                high, normal = lanes[s]
                if takes_high(bool(high), bool(normal), streak[wid], engine.rules):
                    streak[wid] = next_streak(True, bool(normal), streak[wid])
                    chosen = (s, high.popleft())
                elif normal:
                    streak[wid] = next_streak(False, True, streak[wid])
                    chosen = (s, normal.popleft())
                if chosen:
                    break
            if chosen is None:  # idle until the next visitors of its services may come
                if any(s in rates for s in engine.windows[wid].services):
                    heapq.heappush(heap, (placed + STEP_S, i, wid))
                continue
            s, tid = chosen
            if tid is not None:
                calls[tid] = at
                left -= 1
            # The newcomer is hypothetical: it must not hold up the real tickets behind it.
            took = 0.0 if tid is not None and tid[0] == "+" else self._busy(s, wid)
            heapq.heappush(heap, (at + took, i, wid))
        return calls

    def _reopening(self, wid: str, now: float, base: float) -> float | None:
        """When a window that is not open now has usually opened again, if it has."""
        profile = self.profile.get(wid)
        if not profile:
            return None
        first = int((now - base) // SLOT_S) + 1
        for slot in range(first, 96):
            p = profile[slot]
            if p is not None and p >= 0.5:
                return base + slot * SLOT_S
        return None

    def _calls(self, engine: Engine) -> tuple[dict[str, float], float]:
        now = self.clock()
        key = (
            engine.order,
            engine.day,
            sum(len(q) for q in engine.queues.values()),
            tuple((w.current, w.status) for w in engine.windows.values()),
            len(self.seen),
            int(now // 15),
            self._learned,
        )
        fresh = self._played_at is not None and now - self._played_at < REPLAY_EVERY_S
        only_arrivals = self._key is not None and all(key[i] == self._key[i] for i in (1, 3, 5, 6))
        if key != self._key and not (fresh and only_arrivals):
            self._key, self._cached, self._played_at = key, self._play(engine, now), now
            self._waiting_then = {s: engine.waiting(s) for s in engine.queues}
        return self._cached, now

    def _later(self, engine: Engine, ticket: Ticket, ahead: int) -> float | None:
        """A ticket issued since the last play: the play's newcomer, plus the share of the
        windows' time taken by those who came in between."""
        newcomer = self._cached.get(f"+{ticket.service}")
        if newcomer is None:
            return None
        between = max(0, ahead - self._waiting_then.get(ticket.service, 0))
        windows = max(1, len(engine.open_windows(ticket.service)))
        return newcomer + between * self._busy(ticket.service, "") / windows

    # -- the range -------------------------------------------------------------------------------

    def _range(self, eta: float) -> tuple[float, float]:
        long = eta >= LONG_S
        if long not in self._bounds:
            errs = sorted(self.errors[long])
            if len(errs) >= MIN_ERRORS:
                self._bounds[long] = (_at(errs, self.coverage[0]), _at(errs, self.coverage[1]))
            else:
                self._bounds[long] = (0.6, 1.6) if long else (-120.0, 300.0)
        lo, hi = self._bounds[long]
        low, high = (eta * lo, eta * hi) if long else (eta + lo, eta + hi)
        low = 60 * math.floor(max(0.0, min(low, eta)) / 60)
        high = 60 * math.ceil(max(high, eta, low + 120) / 60)
        return low, high

    def _correct(self, played: float) -> float:
        """Long plays tend to be short of reality (every delay adds up, none subtracts): scale
        them by the median of actual over played waits measured so far, fading in from 0."""
        if self._factor is None:
            ratios = sorted(self.drift)
            median = _at(ratios, 0.5) if len(ratios) >= MIN_ERRORS else 1.0
            self._factor = min(1.5, max(0.8, median))
        return played * (1 + (self._factor - 1) * min(1.0, played / LONG_S))

    def _estimate(
        self, call_at: float | None, now: float, ahead: int, service: str
    ) -> tuple[Estimate, float]:
        """The estimate and the raw play; ``ahead`` and ``service`` give a plain guess when no
        window will take the queue."""
        guess = (ahead + 1) * self._busy(service, "")
        played = guess if call_at is None else max(0.0, call_at - now)
        eta = self._correct(played)
        low, high = self._range(eta)
        return Estimate(round(eta), round(low), round(high)), played

    # -- what the hall asks ------------------------------------------------------------------

    def for_ticket(self, engine: Engine, ticket: Ticket) -> Estimate | None:
        """From now until this waiting ticket is called; ``None`` once it is not waiting. The
        first estimate a ticket gets is the one its visitor saw: it is kept to measure us."""
        ahead = engine.position(ticket)
        if ahead is None:
            return None
        calls, now = self._calls(engine)
        call_at = calls.get(ticket.id)
        if call_at is None:
            call_at = self._later(engine, ticket, ahead)
        est, played = self._estimate(call_at, now, ahead, ticket.service)
        if ticket.id not in self.at_issue and (ticket.id, "called") not in self.seen:
            self.at_issue[ticket.id] = (max(1.0, float(est.eta_s)), played)
        return est

    def for_new(self, engine: Engine, service: str) -> Estimate:
        """For a visitor who takes a normal ticket of this service now."""
        calls, now = self._calls(engine)
        return self._estimate(calls.get(f"+{service}"), now, engine.waiting(service), service)[0]


def minutes_range(range_s: list[int]) -> tuple[int, int]:
    """An estimate as whole minutes a visitor can read: never "0–0", never a one-point range
    (the kiosk script formats live updates the same way)."""
    low = max(1, round(range_s[0] / 60))
    return low, max(low + 1, round(range_s[1] / 60))
