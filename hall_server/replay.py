"""``hall-server replay``: a whole day through the real queue engine on a virtual clock.

For planning ("with one more window at 9:00, what would the p90 wait be?") and for measuring
the wait estimates: the estimate recorded for each ticket is the one the kiosk would have shown
when it was issued. Every open window calls the next ticket as soon as it is free; a no-show
costs the window 60 s of recalls; a window closing while serving finishes that visitor first.
Nothing is written but the result file: the engine runs without a store.

ARRIVALS.csv: ``t_s,service,service_s,no_show`` and optionally ``priority`` (normal, priority,
appointment). WINDOWS.csv: ``t_s,window,action`` with action ``open`` or ``close``; a window
whose first action is ``open`` starts the day closed, every other window starts open.
"""

from __future__ import annotations

import csv
import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hall_server.config import HallConfig
from hall_server.core.engine import DayOpened, Engine, Priority, Ticket, TicketCalled, WindowStatus
from hall_server.core.estimate import Estimator
from hall_server.core.measures import percentile

NO_SHOW_COST_S = 60.0
RESULT_COLUMNS = (
    "number",
    "service",
    "priority",
    "issued_t_s",
    "eta_s",
    "eta_low_s",
    "eta_high_s",
    "called_t_s",
    "wait_s",
    "window",
    "status",
    "finished_t_s",
)
#: A baseline predictor for the benchmark: (engine, the ticket just issued, now) -> seconds.
Predictor = Callable[[Engine, Ticket, float], float]


class ReplayError(ValueError):
    """An input file that cannot be replayed; the message names the file and line."""


@dataclass(frozen=True)
class Arrival:
    t_s: float
    service: str
    service_s: float
    no_show: bool
    priority: Priority = Priority.NORMAL


@dataclass(frozen=True)
class WindowAction:
    t_s: float
    window: str
    action: str


def _rows(path: Path, needed: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise ReplayError(f"{path}: header lacks {', '.join(missing)}")
            yield from enumerate(reader, start=2)
    except OSError as e:
        raise ReplayError(f"{path}: cannot read: {e.strerror}") from None


def _number(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        v = float(row[key])
    except (TypeError, ValueError):
        raise ReplayError(f"{path}:{line}: {key} must be a number, not {row[key]!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ReplayError(f"{path}:{line}: {key} must be zero or more")
    return v


def read_arrivals(path: Path, config: HallConfig) -> list[Arrival]:
    codes = {s.code for s in config.service}
    out = []
    for line, row in _rows(path, ("t_s", "service", "service_s", "no_show")):
        if row["service"] not in codes:
            raise ReplayError(f"{path}:{line}: unknown service {row['service']!r}")
        try:
            priority = Priority((row.get("priority") or "normal").strip())
        except ValueError:
            raise ReplayError(
                f"{path}:{line}: priority must be normal, priority or appointment"
            ) from None
        out.append(
            Arrival(
                _number(path, line, row, "t_s"),
                row["service"],
                _number(path, line, row, "service_s"),
                row["no_show"].strip() in ("1", "true", "yes"),
                priority,
            )
        )
    return sorted(out, key=lambda a: a.t_s)


def read_windows(path: Path, config: HallConfig) -> list[WindowAction]:
    ids = {w.id for w in config.window}
    out = []
    for line, row in _rows(path, ("t_s", "window", "action")):
        if row["window"] not in ids:
            raise ReplayError(f"{path}:{line}: unknown window {row['window']!r}")
        if row["action"] not in ("open", "close"):
            raise ReplayError(f"{path}:{line}: action must be open or close")
        out.append(WindowAction(_number(path, line, row, "t_s"), row["window"], row["action"]))
    return sorted(out, key=lambda a: a.t_s)


def opening_epoch(config: HallConfig, day: date = date(2025, 1, 6)) -> float:
    """t_s = 0: the first opening of a fixed Monday, so estimates see the hall's hours."""
    first = config.opening_spans()[0][0]
    return datetime.combine(day, first, config.tz).timestamp()


def run(
    config: HallConfig,
    arrivals: list[Arrival],
    plan: list[WindowAction] | None = None,
    estimator: Estimator | None = None,
    predictors: dict[str, Predictor] | None = None,
    day: date = date(2025, 1, 6),
    slower: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Play the day; one result row per ticket, in issue order. Pass an ``estimator`` to keep
    what it learned across days, ``predictors`` to record other estimates beside it, and
    ``slower`` to make a window's clerk take that factor of every service time."""
    base = opening_epoch(config, day)
    now = [base]
    estimator = estimator or Estimator(config, clock=lambda: now[0])
    estimator.clock = lambda: now[0]
    engine = Engine(**config.engine_args(), day_of=lambda at: day.isoformat())
    plan = plan or []
    first: dict[str, str] = {}
    for act in plan:
        first.setdefault(act.window, act.action)
    # Events: (time, kind, seq, payload); at one instant ends go first, then window changes,
    # then arrivals, so a window freed at t can call a visitor who arrives at t.
    events: list[tuple[float, int, int, Any]] = []
    for i, a in enumerate(arrivals):
        events.append((base + a.t_s, 2, i, a))
    for i, w in enumerate(plan):
        events.append((base + w.t_s, 1, i, w))
    heapq.heapify(events)
    seq = len(events)
    rows: dict[str, dict[str, Any]] = {}
    arrival_of: dict[str, Arrival] = {}
    busy: set[str] = set()

    def learn(evs: Iterable[Any]) -> None:
        estimator.learn(evs, engine)

    engine.apply(DayOpened(at=base, day=day.isoformat()))
    for wid, action in first.items():
        if action == "open":
            engine.set_window(wid, WindowStatus.CLOSED, base)

    def dispatch(at: float) -> None:
        nonlocal seq
        for w in config.window:
            state = engine.windows[w.id]
            if w.id in busy or state.status is not WindowStatus.OPEN:
                continue
            evs = engine.call_next(w.id, at)
            learn(evs)
            called = next((e for e in evs if isinstance(e, TicketCalled)), None)
            if called is None:
                continue
            t = engine.tickets[called.ticket_id]
            a = arrival_of[t.id]
            rows[t.id].update(
                called_t_s=round(at - base, 1),
                wait_s=round(at - t.issued_at, 1),
                window=w.id,
            )
            took = NO_SHOW_COST_S if a.no_show else a.service_s * (slower or {}).get(w.id, 1.0)
            busy.add(w.id)
            seq += 1
            heapq.heappush(events, (at + took, 0, seq, (w.id, t.id, a.no_show)))

    while events:
        at, kind, _, payload = heapq.heappop(events)
        now[0] = at
        if kind == 0:
            wid, tid, no_show = payload
            learn(engine.no_show(wid, at) if no_show else engine.finish(wid, at))
            busy.discard(wid)
            t = engine.tickets[tid]
            rows[tid].update(status=t.status.value, finished_t_s=round(at - base, 1))
        elif kind == 1:
            status = WindowStatus.OPEN if payload.action == "open" else WindowStatus.CLOSED
            if engine.windows[payload.window].status is not status:
                engine.set_window(payload.window, status, at)
        else:
            arrival: Arrival = payload
            evs = engine.issue(
                arrival.service, at, token=f"r{len(rows)}", priority=arrival.priority
            )
            t = engine.tickets[evs[-1].ticket_id]  # type: ignore[attr-defined]
            learn(evs)
            arrival_of[t.id] = arrival
            est = estimator.for_ticket(engine, t)
            assert est is not None
            row = {
                "number": t.number,
                "service": t.service,
                "priority": t.priority.value,
                "issued_t_s": round(at - base, 1),
                "eta_s": est.eta_s,
                "eta_low_s": est.low_s,
                "eta_high_s": est.high_s,
                "called_t_s": None,
                "wait_s": None,
                "window": None,
                "status": "waiting",
                "finished_t_s": None,
            }
            for name, predict in (predictors or {}).items():
                row[f"eta_{name}"] = round(predict(engine, t, at))
            rows[t.id] = row
        dispatch(at)
    return list(rows.values())


def write_result(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(RESULT_COLUMNS) + [c for c in (rows[0] if rows else {}) if c.startswith("eta_")
                                      and c not in RESULT_COLUMNS]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def summary(rows: list[dict[str, Any]], config: HallConfig) -> dict[str, Any]:
    """The day in a few numbers: waits, service level (as in the reports) and how right the
    estimates were (mean absolute error, share of waits inside the announced range)."""
    targets = {s.code: s.target_wait_min * 60 for s in config.service}
    called = [r for r in rows if r["wait_s"] is not None]
    waits = [r["wait_s"] for r in called]
    never = len(rows) - len(called)
    within = sum(r["wait_s"] <= targets[r["service"]] for r in called)
    errors = [abs(r["eta_s"] - r["wait_s"]) for r in called]
    inside = sum(r["eta_low_s"] <= r["wait_s"] <= r["eta_high_s"] for r in called)
    return {
        "tickets": len(rows),
        "called": len(called),
        "never_called": never,
        "no_show": sum(r["status"] == "no_show" for r in rows),
        "wait_mean_s": round(sum(waits) / len(waits), 1) if waits else None,
        "wait_p50_s": percentile(sorted(waits), 0.5),
        "wait_p90_s": percentile(sorted(waits), 0.9),
        "wait_max_s": max(waits, default=None),
        "service_level": round(within / len(rows), 4) if rows else None,
        "estimate_mae_s": round(sum(errors) / len(errors), 1) if errors else None,
        "range_coverage": round(inside / len(called), 4) if called else None,
    }


def main(config: HallConfig, arrivals: Path, out: Path, windows: Path | None) -> None:
    plan = read_windows(windows, config) if windows else None
    rows = run(config, read_arrivals(arrivals, config), plan)
    write_result(out, rows)
    s = summary(rows, config)

    def mins(v: float | None) -> str:
        return "-" if v is None else f"{v / 60:.1f} min"

    print(f"{s['tickets']} tickets, {s['called']} called, {s['no_show']} no-shows, "
          f"{s['never_called']} never called; result in {out}")  # fmt: skip
    print(f"wait p50 {mins(s['wait_p50_s'])}, p90 {mins(s['wait_p90_s'])}, "
          f"max {mins(s['wait_max_s'])}")  # fmt: skip
    level = "-" if s["service_level"] is None else f"{s['service_level']:.1%}"
    print(f"service level (called within the service's target): {level}")
    coverage = "-" if s["range_coverage"] is None else f"{s['range_coverage']:.1%}"
    print(f"estimates at issue: MAE {mins(s['estimate_mae_s'])}, inside the range {coverage}")
