"""Waiting-time estimates for the kiosk, the progress page and the boards, with a range whose
accuracy the hall measures on itself.

Theory of operation
-------------------
*The play.* From now, on expected values, the windows that are really serving (open, and
staffed when the hall says who is logged in: :meth:`Estimator.set_serving`) take the next
ticket of their services in their order of preference, high classes first within the engine's
streak limit, after the tickets sent to the window or to the clerk logged in at it (the
engine's :func:`~hall_server.core.engine.own_lines`, first sent, first called). Each call
keeps a window busy for the time this service takes, times the window's own pace (its
clerk's recent services against the service's mean, shrunk towards 1), mixed with today's
no-show rate (a no-show costs the recalls, not a service). Windows closed
now come back when the hall's record of past days says they usually do (after lunch); a window
closed when it is usually open is not expected back for a while. The play only counts people:
who is called when follows from a ticket's place in its lane, so the play costs one step per
call, and its result (an expected call instant per ticket) stays true while the day goes as
played. It is played again when the windows change, when calls run off the play, and every
``REFRESH_S``; tickets issued in between are placed after the play's newcomer.

*Visitors still to come* are played in at the rate of the hall's usual day for this time,
scaled by how today compares with it so far, and never above what today has actually shown:
a surge makes the forecast follow it, a quiet day quiets it. High-class visitors go ahead of
normal ones already waiting; newcomers to a window's preferred service hold up its others.

*The bound.* Whatever the play says, a ticket is called no later than the windows that serve
its service, all working, need to serve everybody now waiting in any of their services ahead
of it: an estimate never goes past what the open windows can physically serve.

*The range* comes from the estimator's own record: for every ticket the estimate shown at issue
is compared with the wait it had, as a ratio of (wait + 2 min) to (estimate + 2 min), kept by
how far ahead the estimate looked. The median of those ratios corrects the estimate, the 10th
and 90th percentiles give the range. Until enough tickets have been called a deliberately wide
default is used.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hall_server.config import HallConfig
from hall_server.core.engine import (
    Engine,
    Event,
    Status,
    Ticket,
    TicketTransferred,
    Window,
    is_serving,
    next_streak,
    own_lines,
    takes_high,
)
from hall_server.core.measures import percentile

SLOT_S = 900  # time-of-day resolution of the profiles (arrivals, windows at work)
SLOTS = 86400 // SLOT_S
STEP_S = 120  # visitors still to come are played in two minutes at a time
HORIZON_S = 12 * 3600
REFRESH_S = 30.0  # a play is replaced at least this often...
REPLAY_EVERY_S = 1.0  # ...and at most this often, whatever happens
OFF_PLAY_S = 90.0  # a call this far from its played instant means the day left the play
RECENT_S = 3600.0  # today's arrivals are compared with the usual day over the last hour
LEVEL_PRIOR = 4.0  # visitors: how much of "today is like usual" the first arrivals outweigh
LEVEL_RANGE = (0.3, 2.5)
RATE_CAP = 2.0  # the forecast never exceeds this many times today's recent rate
#: A window closed when it is usually open (an absence nobody announced) is expected back no
#: sooner than it has been away, and not before this.
ABSENT_S = 1800.0
AWAY_SHARE = 0.5
#: A window's pace (its clerk against the service's mean): prior weight in services, how much
#: each service keeps of the ones before, and the weight left to yesterday's pace at a new day.
PACE = (8.0, 0.95, 2.0)
OWN_PRIOR = 5.0  # services: how much a window's own record of a service must outweigh
NO_SHOW = (30.0, 0.98)  # today's no-show rate: prior weight in calls, keep per call
RESIDUAL = 0.35
SHIFT_S = 120.0  # ratios of (wait + SHIFT) / (estimate + SHIFT): short waits stay meaningful
HORIZONS = (120, 600, 1500, 3000)  # the range is kept apart for estimates up to these, and more
MIN_ERRORS = 30
COVERAGE = (0.12, 0.88)


@dataclass(frozen=True)
class Estimate:
    eta_s: int
    low_s: int
    high_s: int


class _Mean:
    """A mean that forgets (older values fade by ``keep`` at each new one) and starts from a
    prior worth ``weight`` values, so a few odd values do not swing it."""

    def __init__(self, prior: float, weight: float, keep: float) -> None:
        self.sum, self.n, self.keep = prior * weight, weight, keep

    def add(self, value: float) -> None:
        self.sum = self.sum * self.keep + value
        self.n = self.n * self.keep + 1

    def shrink(self, weight: float) -> None:
        """Keep the value but trust it only as much as ``weight`` values (a new day)."""
        if self.n > weight:
            self.sum, self.n = self.value * weight, weight

    @property
    def value(self) -> float:
        return self.sum / self.n


def _blend(old: float | None, new: float | None) -> float | None:
    """A day folded into the days before (``None``: not seen)."""
    if old is None or new is None:
        return new if old is None else old
    return 0.7 * old + 0.3 * new


@dataclass(frozen=True)
class _Forecast:
    """Visitors of one service expected per second at a later instant: the usual day's rate
    for that time of day scaled by ``level``, at most ``cap``; without past days, ``cap``."""

    base: float
    usual: list[float] | None
    level: float
    cap: float

    def at(self, t: float) -> float:
        if self.usual is None:
            return self.cap
        return min(
            self.cap, self.usual[int((t - self.base) // SLOT_S) % SLOTS] / SLOT_S * self.level
        )


def _at(sorted_values: list[float], q: float) -> float:
    value = percentile(sorted_values, q)
    assert value is not None  # callers only ask with enough samples
    return value


class _Calibration:
    """The estimator's record of itself: (wait + SHIFT) / (raw estimate + SHIFT) per horizon."""

    def __init__(self) -> None:
        self.ratios = [deque[float](maxlen=400) for _ in range(len(HORIZONS) + 1)]
        self._cut: dict[int, tuple[float, float]] = {}

    @staticmethod
    def _bucket(raw: float) -> int:
        return bisect.bisect_left(HORIZONS, raw)

    def add(self, raw: float, waited: float) -> None:
        b = self._bucket(raw)
        self.ratios[b].append(math.log((waited + SHIFT_S) / (raw + SHIFT_S)))
        self._cut.pop(b, None)

    def cut(self, raw: float) -> tuple[float, float]:
        """Low and high log-ratio for an estimate of ``raw`` seconds."""
        b = self._bucket(raw)
        if b not in self._cut:
            values = list(self.ratios[b])
            for step in range(1, len(self.ratios)):  # too few: borrow from the neighbours
                if len(values) >= MIN_ERRORS:
                    break
                for n in (b - step, b + step):
                    if 0 <= n < len(self.ratios):
                        values += self.ratios[n]
            if len(values) >= MIN_ERRORS:
                values.sort()
                lo, hi = (_at(values, q) for q in COVERAGE)
                self._cut[b] = (min(lo, 0.0), max(hi, 0.0))
            else:
                self._cut[b] = (math.log(0.5), math.log(1.8))
        return self._cut[b]


@dataclass
class _Play:
    """One forward play: expected call instants, and what it was played on."""

    at: float
    key: tuple[object, ...]
    calls: dict[str, float] = field(default_factory=dict)  # ticket id -> call instant
    high: dict[str, list[float]] = field(default_factory=dict)  # service -> high calls in order
    newcomer: dict[str, float] = field(default_factory=dict)  # service -> a normal one now
    per_call: dict[str, float] = field(default_factory=dict)  # service -> window time / call
    free: dict[str, float] = field(default_factory=dict)  # service -> a window first free


class Estimator:
    """Learns from every ticket it is shown (:meth:`observe`), answers for tickets and
    newcomers (:meth:`for_ticket`, :meth:`for_new`). Pure: the clock is passed in."""

    def __init__(self, config: HallConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.spans = [
            (a.hour * 3600 + a.minute * 60, b.hour * 3600 + b.minute * 60 + b.second)
            for a, b in config.opening_spans()
        ]
        self.windows = {w.id: tuple(w.services) for w in config.window}
        services = [s.code for s in config.service]
        # A window's time on a ticket runs from the call to the end (walking up included).
        self.by_service = {
            s.code: _Mean(s.mean_service_min * 60 + 30, 5, 0.98) for s in config.service
        }
        # Per window: its recent times and the services' means for the same tickets.
        self.pace: dict[str, tuple[_Mean, _Mean]] = {}
        self.by_window: dict[tuple[str, str], _Mean] = {}  # this service at this window
        self.no_show_p = _Mean(0.06, *NO_SHOW)
        self.no_show_usual = 0.06
        self.no_show_s = _Mean(60.0, 5, 0.95)
        self.high_share = {s: _Mean(0.1, 10, 0.97) for s in services}
        # Arrivals: today's, as instants per service, and per time-of-day slot over past days.
        self.arrived: dict[str, list[float]] = {s: [] for s in services}
        self.today: dict[str, list[int]] = {s: [0] * SLOTS for s in services}
        self.usual: dict[str, list[float]] = {}
        # Windows at work per slot: today's seconds serving / seconds seen, and past days.
        self.at_work_today: dict[str, list[list[float]]] = {}
        self.at_work: dict[str, list[float | None]] = {}
        self.away_since: dict[str, float] = {}
        self.serving: frozenset[str] | None = None
        self.clerks: dict[str, str] = {}  # window -> the login working it
        self.record = _Calibration()
        self.at_issue: dict[str, float] = {}  # ticket id -> raw estimate shown at issue
        self.seen: set[tuple[str, str]] = set()
        self.day: str | None = None
        self._play: _Play | None = None
        self.deferred = False  # see refresh()
        self._stale = False
        #: A ticket was sent to a window or a clerk, or the clerks moved: the play has not
        #: placed it, and its visitor is looking at the phone now, so play again at once.
        self._sent = False
        self._sampled: float | None = None

    # -- what the hall tells it ------------------------------------------------------------------

    def set_serving(
        self, windows: Iterable[str] | None, clerks: Mapping[str, str] | None = None
    ) -> None:
        """Which windows have a clerk at work (logged in); ``None``: every open window does.
        A paused or closed window never counts, whoever is logged in. ``clerks``: who works
        which window (window -> login), for the tickets sent to a colleague."""
        serving = None if windows is None else frozenset(windows)
        if serving != self.serving:
            self.serving = serving
            self._stale = True
        if clerks is not None and dict(clerks) != self.clerks:
            self.clerks = dict(clerks)
            self._sent = True

    def learn(self, events: Iterable[Event], engine: Engine) -> None:
        """The one way the estimator is taught: the events the engine just applied (issues,
        calls, no-shows, finishes teach it; repeats and the rest are ignored). The live hall,
        its restart and the replay all call this. It costs nothing until an estimate is
        asked for."""
        for e in events:
            t = engine.tickets.get(getattr(e, "ticket_id", ""))
            if t is not None:
                self.observe(t)
            if isinstance(e, TicketTransferred):  # a successor the play has not placed
                if e.kind == "transfer":
                    self._stale = True
                else:
                    self._sent = True

    def observe(self, ticket: Ticket) -> None:
        """Learn from a ticket that was issued, called, served or did not come (each once)."""
        if (ticket.id, ticket.status.value) in self.seen:
            return
        if ticket.day != self.day:
            self._new_day(ticket.day)
        self.seen.add((ticket.id, ticket.status.value))
        s = ticket.service
        if s not in self.by_service:
            return
        if ticket.status is Status.WAITING:
            if ticket.predecessor is None:
                self._arrival(ticket)
            return
        if ticket.called_at is None:
            return
        if ticket.status is Status.CALLED or (ticket.id, "called") not in self.seen:
            self._called(ticket)
        if ticket.finished_at is None:
            return
        took = ticket.finished_at - ticket.called_at
        if ticket.status is Status.NO_SHOW:
            self.no_show_p.add(1.0)
            self.no_show_s.add(min(took, 900.0))
        elif ticket.status is Status.DONE and 0 < took < 4 * 3600:
            self.no_show_p.add(0.0)
            mean = self.by_service[s]
            usual = mean.value
            took = min(4 * usual, max(0.25 * usual, took))  # one odd visit moves it little
            mean.add(took)
            if ticket.window in self.windows:
                self.by_window.setdefault((s, ticket.window), _Mean(0.0, 0.0, 0.98)).add(took)
                w, keep, _ = PACE
                own, expected = self.pace.setdefault(
                    ticket.window, (_Mean(usual, w, keep), _Mean(usual, w, keep))
                )
                own.add(took)
                expected.add(usual)

    def _arrival(self, ticket: Ticket) -> None:
        s = ticket.service
        self.arrived[s].append(ticket.issued_at)
        local = datetime.fromtimestamp(ticket.issued_at, self.config.tz)
        self.today[s][(local.hour * 3600 + local.minute * 60) // SLOT_S] += 1
        self.high_share[s].add(float(ticket.high))
        if ticket.high:
            self._stale = True  # jumps ahead of everybody the play placed

    def _called(self, ticket: Ticket) -> None:
        self.seen.add((ticket.id, "called"))
        raw = self.at_issue.pop(ticket.id, None)
        if raw is not None and ticket.called_at is not None:
            self.record.add(raw, ticket.called_at - ticket.issued_at)
        play = self._play
        if play is not None and ticket.called_at is not None:
            expected = play.calls.get(ticket.id)
            if expected is None or abs(ticket.called_at - expected) > OFF_PLAY_S:
                self._stale = True

    def _new_day(self, day: str) -> None:
        """Fold the day into the profiles of the days before; clerks and no-shows start over."""
        if any(sum(c) for c in self.today.values()):
            for s, counts in self.today.items():
                old = self.usual.get(s)
                self.usual[s] = (
                    [float(c) for c in counts]
                    if old is None
                    else [0.7 * o + 0.3 * c for o, c in zip(old, counts, strict=True)]
                )
            self.no_show_usual = 0.7 * self.no_show_usual + 0.3 * self.no_show_p.value
        for wid, slots in self.at_work_today.items():
            old_w = self.at_work.get(wid)
            new = [w / n if n > 0 else None for w, n in slots]
            self.at_work[wid] = [
                _blend(o, v) for o, v in zip(old_w or [None] * SLOTS, new, strict=True)
            ]
        self.at_work_today = {}
        self.today = {s: [0] * SLOTS for s in self.today}
        self.arrived = {s: [] for s in self.arrived}
        self.no_show_p = _Mean(self.no_show_usual, *NO_SHOW)
        for own, expected in self.pace.values():
            own.shrink(PACE[2])
            expected.shrink(PACE[2])
        for mine in self.by_window.values():
            mine.shrink(OWN_PRIOR / 2)
        self.away_since = {}
        self.day, self.seen, self.at_issue = day, set(), {}
        self._play = None

    # -- the pieces of a play ----------------------------------------------------------------------

    def _base(self, now: float) -> float:
        """The local midnight before ``now``, as an epoch instant."""
        local = datetime.fromtimestamp(now, self.config.tz)
        return now - (
            local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        )

    def _open(self, day_s: float) -> bool:
        return any(a <= day_s < b for a, b in self.spans)

    def _is_serving(self, w: Window) -> bool:
        return is_serving(w, self.serving)

    def _factor(self, window: str) -> float:
        pace = self.pace.get(window)
        return 1.0 if pace is None else min(3.0, max(0.5, pace[0].value / pace[1].value))

    def _busy(self, service: str, window: str | None) -> float:
        """Expected time a window spends on the next ticket of a service, no-shows included."""
        p = self.no_show_p.value
        own = self.by_service[service].value
        if window:  # this window's record of it, shrunk to the service's mean at its pace
            own *= self._factor(window)
            mine = self.by_window.get((service, window))
            if mine is not None:
                own = (mine.sum + OWN_PRIOR * own) / (mine.n + OWN_PRIOR)
        return p * self.no_show_s.value + (1 - p) * own

    def _sample(self, engine: Engine, now: float, base: float) -> None:
        """Which windows are at work at this time of day, weighted by the time it lasted."""
        last, self._sampled = self._sampled, now
        if last is None or not 0 < now - last < 3600:
            return
        slot = int((now - base) // SLOT_S) % SLOTS
        for wid, w in engine.windows.items():
            if wid not in self.windows:
                continue
            slots = self.at_work_today.setdefault(wid, [[0.0, 0.0] for _ in range(SLOTS)])
            slots[slot][0] += (now - last) * self._is_serving(w)
            slots[slot][1] += now - last

    def _usually(self, wid: str, slot: int) -> float | None:
        profile = self.at_work.get(wid)
        return None if profile is None else profile[slot % SLOTS]

    def _back_at(self, wid: str, now: float, base: float) -> float | None:
        """When a window that is not serving now will be, if it is expected to be today."""
        slot = int((now - base) // SLOT_S)
        usual = self._usually(wid, slot)
        since = self.away_since.setdefault(wid, now)
        if usual is not None and usual >= 0.5:  # away when it is usually at work
            return now + max(ABSENT_S, AWAY_SHARE * (now - since))
        for later in range(slot + 1, SLOTS):
            p = self._usually(wid, later)
            if p is not None and p >= 0.5:
                return base + later * SLOT_S
        return None

    def _at_work_from(self, wid: str, t: float, now: float, base: float) -> float:
        """The first instant from ``t`` at which the window works: inside opening hours and,
        beyond the next few minutes, in a slot where it has usually been at work."""
        for _ in range(200):
            day_s = (t - base) % 86400
            if not self._open(day_s):
                later = [a for a, _ in self.spans if a > day_s]
                if not later:
                    return t  # after hours the queue is still served
                t += later[0] - day_s
                continue
            if t > now + 300:
                slot = int((t - base) // SLOT_S)
                p = self._usually(wid, slot)
                if p is not None and p < 0.5:
                    t = base + (slot + 1) * SLOT_S
                    continue
            return t
        return t

    def _rates(self, now: float, base: float) -> dict[str, _Forecast]:
        """Per service, the visitors still to come: the usual day's rate for the time scaled
        by how today compares with it over the last hour, never above twice what today has
        shown; without past days, today's recent rate."""
        out: dict[str, _Forecast] = {}
        start = now - RECENT_S
        for s, arrived in self.arrived.items():
            seen = len(arrived) - bisect.bisect_left(arrived, start)
            first = arrived[0] if arrived else now
            span = max(900.0, min(RECENT_S, now - first))
            recent = seen / span
            usual = self.usual.get(s)
            if usual is None:
                if seen:
                    out[s] = _Forecast(base, None, 1.0, recent)
                continue
            expected = 0.0
            t = max(start, first if arrived else now, now - span)
            while t < now:  # the usual arrivals over the same stretch, slot by slot
                slot = int((t - base) // SLOT_S)
                end = min(now, base + (slot + 1) * SLOT_S)
                expected += usual[slot % SLOTS] * (end - t) / SLOT_S
                t = end
            level = (seen + LEVEL_PRIOR) / (expected + LEVEL_PRIOR)
            level = min(LEVEL_RANGE[1], max(LEVEL_RANGE[0], level))
            out[s] = _Forecast(base, usual, level, RATE_CAP * max(recent, 1 / 3600))
        return out

    # -- the forward play ------------------------------------------------------------------------

    def refresh(self, engine: Engine) -> None:
        """Play again if the play is due. With ``deferred`` set, only this plays a due play
        again (the hall calls it after a commit, off the commit path); estimates asked for
        meanwhile use the play there is, unless the windows changed or the day did."""
        self._played(engine, refreshing=True)

    def _played(self, engine: Engine, refreshing: bool = False) -> tuple[_Play, float]:
        """The current play, played again when the windows changed, the day left it or it is
        old; a burst of changes plays it at most every REPLAY_EVERY_S."""
        now = self.clock()
        key = (
            id(engine),
            engine.day,
            tuple(wid for wid, w in engine.windows.items() if self._is_serving(w)),
        )
        play = self._play
        if play is None or play.key != key or now < play.at or self._sent:
            due = True
        else:
            old = now - play.at
            due = (refreshing or not self.deferred) and (
                old >= REFRESH_S or (self._stale and old >= REPLAY_EVERY_S)
            )
        if due or play is None:
            play = self._play = self._play_forward(engine, now, key)
            self._stale = self._sent = False
        return play, now

    def _play_forward(self, engine: Engine, now: float, key: tuple[object, ...]) -> _Play:
        base = self._base(now)
        self._sample(engine, now, base)
        play = _Play(now, key)
        heap: list[tuple[float, int, str]] = []
        streak: dict[str, int] = {}
        for i, (wid, w) in enumerate(engine.windows.items()):
            if not w.services:
                continue
            if self._is_serving(w):
                self.away_since.pop(wid, None)
                t = now
                if w.current and w.current in engine.tickets:
                    cur = engine.tickets[w.current]
                    expected = self._busy(cur.service, wid)
                    t = now + max(expected - (now - (cur.called_at or now)), RESIDUAL * expected)
            else:
                back = self._back_at(wid, now, base)
                if back is None:
                    continue
                t = back
            streak[wid] = w.streak
            heap.append((t, i, wid))
        heapq.heapify(heap)
        for t, _, wid in heap:
            for s in engine.windows[wid].services:
                play.free[s] = min(t, play.free.get(s, t))
        # What each window calls before its services: the lines sent to it and to its clerk.
        own: dict[str, deque[Ticket]] = {}
        placed_own: set[tuple[str, str]] = set()
        for _, _, wid in heap:
            keys = [k for k in own_lines(wid, self.clerks.get(wid)) if k not in placed_own]
            placed_own.update(keys)
            own[wid] = deque(engine.tickets[tid] for k in keys for tid in engine.lines.get(k, ()))
        served = set(play.free)
        high_n = {s: len(q.high) for s, q in engine.queues.items()}
        normal_n = {s: len(q.normal) + 1 for s, q in engine.queues.items()}  # + the newcomer
        # Calls per lane in order; a normal lane's call number len(normal) is the newcomer.
        high_calls: dict[str, list[float]] = {s: [] for s in engine.queues}
        normal_calls: dict[str, list[float]] = {s: [] for s in engine.queues}
        left = sum(high_n[s] + normal_n[s] for s in served) + sum(map(len, own.values()))
        high_now = dict(high_n)
        normal_due = dict(normal_n)
        rates = self._rates(now, base)
        owed = {s: [0.0, 0.0] for s in rates}
        placed = now
        horizon = now + HORIZON_S
        while heap and left:
            t, i, wid = heapq.heappop(heap)
            at = self._at_work_from(wid, t, now, base)
            if at > horizon:
                continue
            if at > t:  # away until then: others may call before it
                heapq.heappush(heap, (at, i, wid))
                continue
            while placed + STEP_S <= at:  # visitors arriving meanwhile, a step at a time
                placed += STEP_S
                mid = placed - STEP_S / 2
                if not self._open((mid - base) % 86400):
                    continue
                for s, forecast in rates.items():
                    n = forecast.at(mid) * STEP_S
                    if n <= 0:
                        continue
                    h = self.high_share[s].value
                    due = owed[s]
                    due[0] += n * h
                    due[1] += n * (1 - h)
                    if due[0] >= 1:
                        k = int(due[0])
                        due[0] -= k
                        high_n[s] += k
                    if due[1] >= 1:
                        k = int(due[1])
                        due[1] -= k
                        normal_n[s] += k
            if own[wid]:
                sent = own[wid].popleft()
                play.calls[sent.id] = at
                left -= 1
                heapq.heappush(heap, (at + self._busy(sent.service, wid), i, wid))
                continue
            chosen = None
            for s in engine.windows[wid].services:
                if takes_high(high_n[s] > 0, normal_n[s] > 0, streak[wid], engine.rules):
                    streak[wid] = next_streak(True, normal_n[s] > 0, streak[wid])
                    chosen = (s, True)
                elif normal_n[s]:
                    streak[wid] = next_streak(False, True, streak[wid])
                    chosen = (s, False)
                if chosen:
                    break
            if chosen is None:  # idle until the next visitors of its services may come
                if any(s in rates for s in engine.windows[wid].services):
                    heapq.heappush(heap, (placed + STEP_S, i, wid))
                continue
            s, high = chosen
            took = self._busy(s, wid)
            if high:
                high_n[s] -= 1
                calls = high_calls[s]
                if len(calls) < high_now[s]:
                    left -= 1
                calls.append(at)
            else:
                normal_n[s] -= 1
                calls = normal_calls[s]
                calls.append(at)
                if len(calls) <= normal_due[s]:
                    left -= 1
                    if len(calls) == normal_due[s]:
                        play.newcomer[s] = at
                        took = 0.0  # the newcomer is hypothetical: it holds up nobody real
            heapq.heappush(heap, (at + took, i, wid))
        for s, q in engine.queues.items():
            for lane, calls in ((q.high, high_calls[s]), (q.normal, normal_calls[s])):
                for (_, _, tid), at in zip(lane, calls, strict=False):
                    play.calls[tid] = at
            play.high[s] = high_calls[s][: len(q.high)]  # real ones only
            speed = sum(
                1 / self._busy(s, wid) for _, _, wid in heap if s in engine.windows[wid].services
            )
            play.per_call[s] = 1 / speed if speed else self._busy(s, None)
        return play

    def _bound(self, engine: Engine, service: str, ahead: int, now: float) -> float | None:
        """No later than closing time if the windows serving this service now, all working,
        can serve everybody waiting in any of their services ahead of this ticket before
        then, and no later than that if they cannot (``None``: no window serves it now)."""
        windows = [
            w for w in engine.windows.values() if service in w.services and self._is_serving(w)
        ]
        if not windows:
            return None
        others = {s for w in windows for s in w.services} - {service}
        work = ahead * self._busy(service, None)
        work += sum(len(engine.queues[s]) * self._busy(s, None) for s in others)
        speed = sum(1 / self._factor(w.id) for w in windows)
        longest = max(self._busy(s, w.id) for w in windows for s in w.services)
        return max(work / speed + longest, self._closing(now) - now)

    def _closing(self, now: float) -> float:
        """The end of today's opening hours (``now`` if they are over)."""
        base = self._base(now)
        ends = [base + b for _, b in self.spans if base + b > now]
        return max(ends, default=now)

    def _raw(self, engine: Engine, ticket: Ticket | None, service: str, ahead: int) -> float:
        """Seconds from now until the call: the play (or, for a ticket issued since, the play's
        newcomer plus those in between), within the bound."""
        play, now = self._played(engine)
        call_at = play.calls.get(ticket.id) if ticket is not None else None
        if call_at is None and ticket is not None and ticket.high and service in play.free:
            # Issued since the play: behind the high ones it played, ahead of everybody else.
            high = play.high.get(service, [])
            index = bisect.bisect_left(engine.queues[service].high, (*ticket.key, ticket.id))
            call_at = (
                high[index]
                if index < len(high)
                else max([play.free[service], *high[-1:]])
                + (index - len(high) + 1) * play.per_call[service]
            )
        if call_at is None and service in play.newcomer:
            arrived = self.arrived.get(service, [])
            until = ticket.issued_at if ticket is not None else now
            between = bisect.bisect_left(arrived, until) - bisect.bisect_right(arrived, play.at)
            call_at = play.newcomer[service] + max(0, between) * play.per_call[service]
        bound = self._bound(engine, service, ahead, now)
        if call_at is not None:
            raw = max(0.0, call_at - now)
            return raw if bound is None else min(raw, bound)
        if bound is not None and service in play.free:
            return bound  # windows take it, but not within the play's horizon
        return (ahead + 1) * self._busy(service, None)  # no window will: a plain guess

    def _estimate(self, eta: float) -> Estimate:
        lo, hi = self.record.cut(eta)
        low = max(0.0, min(eta, (eta + SHIFT_S) * math.exp(lo) - SHIFT_S))
        high = max(eta, (eta + SHIFT_S) * math.exp(hi) - SHIFT_S)
        low = 60 * math.floor(low / 60)
        high = 60 * math.ceil(max(high, low + 120) / 60)
        return Estimate(round(eta), round(low), round(high))

    # -- what the hall asks ------------------------------------------------------------------

    def for_ticket(self, engine: Engine, ticket: Ticket) -> Estimate | None:
        """From now until this waiting ticket is called; ``None`` once it is not waiting. The
        first estimate a ticket gets is the one its visitor saw: it is kept to measure us."""
        ahead = engine.position(ticket)
        if ahead is None:
            return None
        if ticket.personal is not None:
            # Sent to a window or a colleague: when that window (the colleague's, if they
            # are at one) gets to it; nobody can tell while it is not serving.
            play, now = self._played(engine)
            call_at = play.calls.get(ticket.id)
            return None if call_at is None else self._estimate(max(0.0, call_at - now))
        raw = self._raw(engine, ticket, ticket.service, ahead)
        first = ticket.id not in self.at_issue and (ticket.id, "called") not in self.seen
        if first and ticket.predecessor is None:
            self.at_issue[ticket.id] = raw
        return self._estimate(raw)

    def for_new(self, engine: Engine, service: str) -> Estimate:
        """For a visitor who takes a normal ticket of this service now."""
        return self._estimate(self._raw(engine, None, service, engine.waiting(service)))


def minutes_range(range_s: list[int]) -> tuple[int, int]:
    """An estimate as whole minutes a visitor can read: never "0–0", never a one-point range
    (the kiosk script formats live updates the same way)."""
    low = max(1, round(range_s[0] / 60))
    return low, max(low + 1, round(range_s[1] / 60))
