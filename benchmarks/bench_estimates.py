"""How right are the wait estimates? hallq's estimator against two classic predictors.

Several simulated working days of the demo hall's catalog (08:30-17:30) run through the real
engine with ``hall_server.replay``: a morning peak and a lunch dip, three windows closed for
lunch, 7% no-shows, 10% priority visitors, one slow service (tax takes 1.5 times its
catalog time) and one slow clerk. For every ticket the estimate at issue is compared with the
wait it had. Baselines, in the same run and on the same tickets:

* queue length: (people ahead + 1) x the service's mean service time so far / open windows;
* last to enter service: the wait of the last visitor of the same service to be called.

    python benchmarks/bench_estimates.py [--days 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall_server.config import DEMO_CONFIG, HallConfig, load_config  # noqa: E402
from hall_server.core.engine import Engine, Priority, Status, Ticket  # noqa: E402
from hall_server.core.estimate import Estimator  # noqa: E402
from hall_server.replay import Arrival, WindowAction, run  # noqa: E402

PROFILE = [6, 10, 12, 12, 11, 9, 8, 5, 3, 3, 4, 7, 9, 9, 8, 6, 4, 2]  # per half hour from 08:30
LUNCH_CLOSED = ("2", "5", "9")
SLOW_SERVICE, SLOW_FACTOR = "tax", 1.5
SLOW_CLERK, CLERK_FACTOR = "1", 1.3
TARGET_MAE_GAIN, TARGET_COVERAGE = 0.30, 0.80


def bench_config() -> HallConfig:
    config = load_config(DEMO_CONFIG)
    return config.model_copy(
        update={"hall": config.hall.model_copy(update={"hours": ["08:30-17:30"]})}
    )


def simulated_day(
    rng: random.Random, config: HallConfig, visitors: int
) -> tuple[list[Arrival], list[WindowAction]]:
    services = config.service
    shares = [float((s.model_extra or {}).get("share", 0.1)) for s in services]
    arrivals = []
    for _ in range(visitors):
        t = (rng.choices(range(len(PROFILE)), PROFILE)[0] + rng.random()) * 1800
        s = rng.choices(services, shares)[0]
        mean = s.mean_service_min * 60 * (SLOW_FACTOR if s.code == SLOW_SERVICE else 1)
        took = rng.lognormvariate(math.log(mean) - 0.18, 0.6)
        priority = Priority.PRIORITY if rng.random() < 0.10 else Priority.NORMAL
        arrivals.append(Arrival(round(t, 1), s.code, round(took, 1), rng.random() < 0.07, priority))
    plan = [WindowAction(3.5 * 3600, w, "close") for w in LUNCH_CLOSED]
    plan += [WindowAction(5 * 3600, w, "open") for w in LUNCH_CLOSED]
    return sorted(arrivals, key=lambda a: a.t_s), plan


def _mean_service(engine: Engine, service: str, fallback: float) -> float:
    took = [
        t.finished_at - (t.started_at or t.called_at)
        for t in engine.tickets.values()
        if t.service == service and t.status is Status.DONE and t.called_at and t.finished_at
    ]
    return sum(took) / len(took) if took else fallback


def queue_length(config: HallConfig):  # type: ignore[no-untyped-def]
    prior = {s.code: s.mean_service_min * 60 for s in config.service}

    def predict(engine: Engine, ticket: Ticket, now: float) -> float:
        ahead = engine.position(ticket) or 0
        windows = max(1, len(engine.open_windows(ticket.service)))
        return (ahead + 1) * _mean_service(engine, ticket.service, prior[ticket.service]) / windows

    return predict


def last_to_enter(engine: Engine, ticket: Ticket, now: float) -> float:
    called = [
        t
        for t in engine.tickets.values()
        if t.service == ticket.service and t.called_at is not None and t.predecessor is None
    ]
    if not called:
        return 0.0
    last = max(called, key=lambda t: t.called_at or 0)
    return (last.called_at or 0) - last.issued_at


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=10)
    p.add_argument("--visitors", type=int, default=520, help="mean visitors a day")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    config = bench_config()
    rng = random.Random(args.seed)
    estimator = Estimator(config, clock=time.time)
    predictors = {"queue_length": queue_length(config), "last_to_enter": last_to_enter}
    rows: list[dict] = []
    t0 = time.perf_counter()
    for d in range(args.days):
        arrivals, plan = simulated_day(rng, config, round(args.visitors * rng.uniform(0.85, 1.15)))
        day = date(2025, 1, 6) + timedelta(days=d)
        rows += run(config, arrivals, plan, estimator, predictors, day, {SLOW_CLERK: CLERK_FACTOR})
    took = time.perf_counter() - t0
    called = [r for r in rows if r["wait_s"] is not None]
    print(f"{args.days} days, {len(rows)} tickets ({len(called)} called), replayed with all "
          f"predictors in {took:.1f} s\n")  # fmt: skip
    header = f"{'predictor':<22}{'MAE min':>9}{'RMSE min':>10}{'bias min':>10}{'±5 min':>8}"
    print(header + f"{'in range':>10}")
    print("-" * (len(header) + 10))
    results = {}
    for name, key in (
        ("hallq", "eta_s"),
        ("queue length", "eta_queue_length"),
        ("last to enter service", "eta_last_to_enter"),
    ):
        err = [r[key] - r["wait_s"] for r in called]
        mae = sum(map(abs, err)) / len(err)
        rmse = math.sqrt(sum(e * e for e in err) / len(err))
        bias = sum(err) / len(err)
        near = sum(abs(e) <= 300 for e in err) / len(err)
        inside = sum(r["eta_low_s"] <= r["wait_s"] <= r["eta_high_s"] for r in called)
        cover = f"{inside / len(called):>10.1%}" if key == "eta_s" else f"{'-':>10}"
        results[name] = mae
        print(f"{name:<22}{mae / 60:>9.2f}{rmse / 60:>10.2f}{bias / 60:>+10.2f}{near:>8.1%}{cover}")
    gain = 1 - results["hallq"] / results["queue length"]
    print(f"\nhallq MAE is {gain:.0%} below the queue-length predictor "
          f"(target at least {TARGET_MAE_GAIN:.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
