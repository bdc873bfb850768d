"""The wait estimate plays the queue forward through the calling rules; its range is honest."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hall_server.config import HallConfig, parse_config
from hall_server.core.engine import Engine, Priority, Status, WindowStatus
from hall_server.core.estimate import Estimator

HALL = """
[hall]
id = "estimate-test"
name = "估算测试"
hours = ["00:00-24:00"]

[[service]]
code = "tax"
prefix = "H"
name = "税务"
mean_service_min = 10

[[service]]
code = "help"
prefix = "J"
name = "咨询"
mean_service_min = 5

[[window]]
id = "1"
services = ["tax"]

[[window]]
id = "2"
services = ["tax", "help"]

[[window]]
id = "3"
services = ["help"]
"""
NOW = 1_750_000_000.0
TAX_S = 0.06 * 60 + 0.94 * (600 + 30)  # a window's expected time per tax call, prior


@pytest.fixture
def config() -> HallConfig:
    return parse_config(HALL)


def hall(config: HallConfig, *tickets: tuple[str, Priority]) -> tuple[Engine, Estimator, list]:
    engine = Engine(**config.engine_args(), day_of=lambda _: "2025-06-15")
    out = []
    for i, (service, priority) in enumerate(tickets):
        events = engine.issue(service, NOW - 100 + i, f"t{i}", priority=priority)
        out.append(engine.tickets[events[-1].ticket_id])
    return engine, Estimator(config, clock=lambda: NOW), out


def test_waiting_tickets_are_called_as_the_open_windows_free_up(config: HallConfig) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 6)
    etas = [est.for_ticket(engine, t).eta_s for t in tickets]
    # two windows take tax: two calls now, two after one service, two after two
    assert etas == [0, 0, round(TAX_S), round(TAX_S), round(2 * TAX_S), round(2 * TAX_S)]
    last = est.for_ticket(engine, tickets[-1])
    assert last.low_s <= last.eta_s <= last.high_s
    assert last.low_s % 60 == 0 and last.high_s % 60 == 0 and last.high_s - last.low_s >= 120


def test_a_priority_visitor_goes_ahead_of_normal_ones_already_waiting(config: HallConfig) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 5, ("tax", Priority.PRIORITY))
    assert est.for_ticket(engine, tickets[-1]).eta_s == 0
    assert est.for_ticket(engine, tickets[-2]).eta_s == round(2 * TAX_S)


def test_closing_a_window_lengthens_the_wait_and_an_unserved_queue_gets_a_plain_guess(
    config: HallConfig,
) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 6, ("help", Priority.NORMAL))
    engine.set_window("2", WindowStatus.CLOSED, NOW)
    assert est.for_ticket(engine, tickets[5]).eta_s == round(5 * TAX_S)
    engine.set_window("3", WindowStatus.CLOSED, NOW)
    guess = est.for_ticket(engine, tickets[6])
    assert guess.eta_s > 0  # nobody serves help now: not "0 minutes"
    assert est.for_new(engine, "help").eta_s > guess.eta_s


def test_slow_services_at_a_window_are_learned(config: HallConfig) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 8)
    before = est.for_ticket(engine, tickets[-1]).eta_s
    for t in tickets[:4]:
        est.observe(t)  # issued
        t.status, t.window, t.called_at, t.finished_at = Status.DONE, "1", NOW, NOW + 1800
        est.observe(t)
    after = est.for_ticket(engine, tickets[-1])
    assert after.eta_s > before * 1.3


def test_the_range_is_calibrated_on_the_estimates_the_visitors_saw(config: HallConfig) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 60)
    for t in tickets:  # every visitor actually waited twice what they were shown
        shown = est.for_ticket(engine, t)
        est.observe(t)
        t.status, t.called_at = Status.CALLED, t.issued_at + 2 * max(shown.eta_s, 700)
        est.observe(t)
    newcomer = [("tax", Priority.NORMAL)] * 20
    engine2, _, queue = hall(config, *newcomer)
    plain = Estimator(config, clock=lambda: NOW).for_ticket(engine2, queue[-1])
    learned = est.for_ticket(engine2, queue[-1])
    # Waits of twice the estimate: the range leans long, and is narrower than the default.
    assert learned.high_s >= 1.8 * learned.eta_s
    assert learned.low_s >= 0.9 * learned.eta_s > plain.low_s


def test_new_visitors_see_the_estimate_of_the_end_of_the_queue(config: HallConfig) -> None:
    engine, est, _ = hall(config, *[("tax", Priority.NORMAL)] * 4)
    assert est.for_new(engine, "tax").eta_s == round(2 * TAX_S)
    assert est.for_new(engine, "help").eta_s == 0  # window 3 is free


ONE_WINDOW = """
[hall]
id = "streak-test"
name = "连续优先测试"
hours = ["00:00-24:00"]

[queue]
max_priority_streak = {streak}

[[service]]
code = "tax"
prefix = "H"
name = "税务"
mean_service_min = 10

[[window]]
id = "1"
services = ["tax"]
"""


@pytest.mark.parametrize("streak", [1, 3])
def test_changing_the_priority_streak_changes_the_calls_and_the_estimates_alike(
    streak: int,
) -> None:
    """One calling rule: the order the estimator expects is the order the engine calls in,
    whatever the setting; and the setting matters."""
    config = parse_config(ONE_WINDOW.format(streak=streak))
    waiting = [("tax", Priority.NORMAL)] * 4 + [("tax", Priority.PRIORITY)] * 4
    engine, est, tickets = hall(config, *waiting)
    expected = [t.number for t in sorted(tickets, key=lambda t: est.for_ticket(engine, t).eta_s)]
    called = []
    for _ in tickets:
        engine.call_next("1", NOW)
        called.append(engine.tickets[engine.windows["1"].current].number)
        engine.finish("1", NOW)
    assert called == expected
    # the first normal visitor is called after `streak` priority ones
    assert called.index(tickets[0].number) == streak


def test_a_window_nobody_is_logged_in_at_or_paused_adds_no_capacity(config: HallConfig) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 6)
    both = [est.for_ticket(engine, t).eta_s for t in tickets]
    est.set_serving({"1", "3"})  # window 2 is open, but nobody is logged in there
    alone = [est.for_ticket(engine, t).eta_s for t in tickets]
    assert alone == [round(k * TAX_S) for k in range(6)]
    est.set_serving({"1", "2", "3"})
    assert [est.for_ticket(engine, t).eta_s for t in tickets] == both
    engine.set_window("2", WindowStatus.PAUSED, NOW)  # logged in, but paused
    assert [est.for_ticket(engine, t).eta_s for t in tickets] == alone


SURGE_HALL = """
[hall]
id = "surge-test"
name = "高峰测试"
timezone = "Asia/Shanghai"
hours = ["08:30-17:30"]

[[service]]
code = "tax"
prefix = "H"
name = "税务"
mean_service_min = 10

[[service]]
code = "help"
prefix = "J"
name = "咨询"
mean_service_min = 10

[[window]]
id = "1"
services = ["tax", "help"]

[[window]]
id = "2"
services = ["tax", "help"]
"""


def test_a_surge_never_yields_an_estimate_past_closing_time() -> None:
    """Tax visitors pour in three times faster than two windows can serve them, and both
    windows serve tax first: played forward, help would wait until tax empties after closing.
    But the windows can serve everybody waiting now long before closing."""
    config = parse_config(SURGE_HALL)
    tz = config.tz
    day = datetime(2025, 6, 16, tzinfo=tz)
    ten = (day + timedelta(hours=10)).timestamp()
    closing = (day + timedelta(hours=17, minutes=30)).timestamp()
    engine = Engine(**config.engine_args(), day_of=lambda _: "2025-06-16")
    est = Estimator(config, clock=lambda: ten)
    for i in range(36):  # the last hour: 36 tax visitors, 6 for help
        at = ten - 3600 + i * 100
        for service in ("tax",) if i % 6 else ("tax", "help"):
            events = engine.issue(service, at, f"{service}{i}")
            est.observe(engine.tickets[events[-1].ticket_id])
    waiting = [t for t in engine.tickets.values() if t.status is Status.WAITING]
    assert len(waiting) == 42
    for t in waiting:
        eta = est.for_ticket(engine, t)
        assert eta is not None and ten + eta.eta_s <= closing, t.number
    for service in ("tax", "help"):
        assert ten + est.for_new(engine, service).eta_s <= closing
    last_help = max((t for t in waiting if t.service == "help"), key=lambda t: t.order)
    assert est.for_ticket(engine, last_help).eta_s > 3600  # long, but not past closing


def test_a_deferred_estimator_plays_again_only_when_refreshed(config: HallConfig) -> None:
    """In the hall, estimates asked for on a commit's path use the play there is; the hall
    refreshes it after the commit. A change of windows is never deferred."""
    now = [NOW]
    engine, _, tickets = hall(config, *[("tax", Priority.NORMAL)] * 6)
    est = Estimator(config, clock=lambda: now[0])
    est.deferred = True
    first = est.for_ticket(engine, tickets[-1]).eta_s
    now[0] += 120  # the windows take longer than played: the play is old
    assert est.for_ticket(engine, tickets[-1]).eta_s == first - 120
    est.refresh(engine)
    assert est.for_ticket(engine, tickets[-1]).eta_s > first - 120
    engine.set_window("2", WindowStatus.CLOSED, now[0])
    assert est.for_ticket(engine, tickets[-1]).eta_s == round(5 * TAX_S)


def test_a_ticket_sent_to_a_window_is_its_next_call_and_holds_up_that_windows_queue(
    config: HallConfig,
) -> None:
    engine, est, tickets = hall(config, *[("tax", Priority.NORMAL)] * 3)
    engine.call_next("1", NOW - 50, by="ann")
    (moved,) = engine.transfer("1", None, NOW - 40, by="ann", to_window="2", note="缺复印件")
    sent = engine.tickets[moved.successor_id]
    assert est.for_ticket(engine, sent).eta_s == 0  # window 2 takes it first, now
    # window 1 takes H002 now; H003 waits for a window: 2 is busy with the one sent to it
    assert est.for_ticket(engine, tickets[1]).eta_s == 0
    assert est.for_ticket(engine, tickets[2]).eta_s == round(TAX_S)


def test_a_ticket_sent_to_a_colleague_has_an_estimate_only_while_they_are_at_a_window(
    config: HallConfig,
) -> None:
    engine, est, _ = hall(config, ("tax", Priority.NORMAL), ("help", Priority.NORMAL))
    engine.call_next("1", NOW - 50, by="ann")
    (moved,) = engine.transfer("1", None, NOW - 40, by="ann", to_staff="carol")
    sent = engine.tickets[moved.successor_id]
    assert est.for_ticket(engine, sent) is None  # nobody can tell when carol comes
    est.set_serving(None, {"3": "carol"})  # carol logs in at window 3 (help only)
    assert est.for_ticket(engine, sent).eta_s == 0  # her next call, ahead of J001
    assert engine.position(sent) == 0
