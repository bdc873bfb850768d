"""The report's pure figures (``hall_server/core/reports.py``): grouping by item, the service
level, the headline figures and their comparison with the previous period. Days are built
from ticket rows as the store gives them (``ROW_COLUMNS``), with no database."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from hall_server.config import HallConfig
from hall_server.core.reports import (
    NO_ITEM,
    ROW_COLUMNS,
    aggregate,
    build_day,
    compare,
    headline,
    merge,
    previous_period,
    twin_of_today,
)

DAY = "2025-03-03"
SOCIAL = "social-insurance"  # target_wait_min 20 in the demo hall


def ticket(
    config: HallConfig,
    issued: str,
    waited_min: float | None,
    status: str = "done",
    service: str = SOCIAL,
    item: str | None = None,
    left_after_min: float | None = None,
) -> tuple:
    """One ticket row: called ``waited_min`` after issue at window 1 and served for 5
    minutes, or (``waited_min`` None) gone from the queue after ``left_after_min``."""
    t0 = datetime.combine(
        date.fromisoformat(DAY), datetime.strptime(issued, "%H:%M").time(), config.tz
    ).timestamp()
    if waited_min is None:
        gone = t0 + (left_after_min or 0) * 60
        return (t0, None, None, gone, status, service, None, None, None, item)
    called = t0 + waited_min * 60
    end = called + 300
    row = (t0, called, called, end, status, service, "1", "alice", None, item)
    assert len(row) == len(ROW_COLUMNS)
    return row


def total(rows: list[tuple], config: HallConfig, by: str = "service") -> dict:
    return aggregate(merge([build_day(rows, config, DAY)]), config, by)


def test_service_level_counts_only_waits_within_target(demo_config: HallConfig) -> None:
    """Called within 20 minutes (20 itself included) counts; called after 25 does not; who
    gave up after 30 minutes missed the target; who left after 5 is not counted at all."""
    rows = [
        ticket(demo_config, "09:00", 5),
        ticket(demo_config, "09:01", 20),
        ticket(demo_config, "09:02", 25),
        ticket(demo_config, "09:03", None, "cancelled", left_after_min=30),
        ticket(demo_config, "09:04", None, "cancelled", left_after_min=5),
    ]
    assert total(rows, demo_config)["total"]["service_level"] == 0.5  # 2 of 4


def test_by_item_groups_served_per_item_and_gathers_visits_without_one(
    demo_config: HallConfig,
) -> None:
    rows = [
        ticket(demo_config, "09:00", 5, item="A-012"),
        ticket(demo_config, "09:01", 6, item="A-012"),
        ticket(demo_config, "09:02", 7, "no_show", item="A-012"),
        ticket(demo_config, "09:03", 8, item="A-011"),
        ticket(demo_config, "09:04", 9),
        ticket(demo_config, "09:05", None, "cancelled", left_after_min=40),
    ]
    rep = total(rows, demo_config, "item")
    by = {r["key"]: r for r in rep["rows"]}
    assert set(by) == {"A-012", "A-011", NO_ITEM}
    assert (by["A-012"]["arrived"], by["A-012"]["served"], by["A-012"]["no_show"]) == (3, 2, 1)
    assert (by["A-011"]["served"], by["A-011"]["wait_mean_s"]) == (1, 480.0)
    assert (by[NO_ITEM]["arrived"], by[NO_ITEM]["served"]) == (2, 1)
    assert sum(r["served"] for r in rep["rows"]) == rep["total"]["served"] == 4


_times = st.integers(min_value=8 * 60 + 30, max_value=17 * 60)


@st.composite
def day_rows(draw: st.DrawFn, config: HallConfig) -> list[tuple]:
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        minute = draw(_times)
        issued = f"{minute // 60:02d}:{minute % 60:02d}"
        service = draw(st.sampled_from([s.code for s in config.service]))
        items = [i.code for s in config.service if s.code == service for i in s.items]
        item = draw(st.sampled_from([None, *items]))
        if draw(st.booleans()):
            status = draw(st.sampled_from(["done", "no_show"]))
            rows.append(ticket(config, issued, draw(st.integers(0, 90)), status, service, item))
        else:
            left = draw(st.integers(0, 90))
            rows.append(ticket(config, issued, None, "cancelled", service, item, left))
    return rows


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_rows_by_item_and_by_service_add_up_to_the_total(data: st.DataObject) -> None:
    from hall_server.config import DEMO_CONFIG, load_config

    config = load_config(DEMO_CONFIG)
    rows = data.draw(day_rows(config))
    merged = merge([build_day(rows, config, DAY)])
    for by in ("item", "service", "day"):
        rep = aggregate(merged, config, by)
        for figure in ("arrived", "called", "served", "no_show"):
            assert sum(r[figure] for r in rep["rows"]) == (rep["total"] or {}).get(figure, 0)


def test_previous_period_has_the_same_length() -> None:
    week = (date(2026, 11, 23), date(2026, 11, 29))  # Monday to Sunday
    assert previous_period(*week) == (date(2026, 11, 16), date(2026, 11, 22))
    assert previous_period(date(2026, 3, 1), date(2026, 3, 1)) == (
        date(2026, 2, 28),
        date(2026, 2, 28),
    )
    a, b = previous_period(date(2026, 3, 1), date(2026, 3, 30))
    assert (b - a).days + 1 == 30 and b == date(2026, 2, 28)


def figures(now: dict, before: dict) -> dict[str, dict]:
    return {
        f["key"]: f
        for f in compare(headline(now, *now.pop("_r")), headline(before, *before.pop("_r")))
    }


def test_a_longer_wait_is_a_change_for_the_worse_and_more_served_for_the_better() -> None:
    now = {"served": 120, "wait_mean_s": 600.0, "wait_p90_s": 1500.0, "service_level": 0.8,
           "no_show_rate": 0.05, "_r": (10, 0.9)}  # fmt: skip
    before = {"served": 100, "wait_mean_s": 300.0, "wait_p90_s": 1500.0, "service_level": 0.9,
              "no_show_rate": 0.08, "_r": (8, 0.75)}  # fmt: skip
    f = figures(now, before)
    assert (f["served"]["direction"], f["served"]["good"], f["served"]["change"]) == (
        "up",
        True,
        20,
    )
    assert (f["wait_mean_s"]["direction"], f["wait_mean_s"]["good"]) == ("up", False)
    assert (f["wait_p90_s"]["direction"], f["wait_p90_s"]["good"]) == ("same", None)
    assert (f["service_level"]["direction"], f["service_level"]["good"]) == ("down", False)
    assert f["service_level"]["change"] == -0.1
    assert (f["satisfaction"]["direction"], f["satisfaction"]["good"]) == ("up", True)
    assert (f["no_show_rate"]["direction"], f["no_show_rate"]["good"]) == ("down", True)


def test_changes_below_what_the_page_shows_read_as_unchanged() -> None:
    now = {"served": 100, "wait_mean_s": 302.0, "service_level": 0.9004, "_r": (0, None)}
    before = {"served": 100, "wait_mean_s": 300.0, "service_level": 0.9, "_r": (0, None)}
    f = figures(now, before)
    assert [f[k]["direction"] for k in ("served", "wait_mean_s", "service_level")] == ["same"] * 3


def test_a_period_without_data_has_no_direction_and_ratings_without_count_no_satisfaction() -> None:
    f = figures({"_r": (0, None)}, {"served": 50, "wait_mean_s": 300.0, "_r": (0, 0.8)})
    assert f["wait_mean_s"]["direction"] is None and f["wait_mean_s"]["good"] is None
    assert f["satisfaction"]["value"] is None and f["satisfaction"]["previous"] is None
    assert (f["served"]["value"], f["served"]["direction"]) == (0, "down")


def test_only_a_range_not_over_has_a_counterpart_of_today() -> None:
    monday, wednesday = date(2026, 11, 23), date(2026, 11, 25)
    sunday = date(2026, 11, 29)
    assert twin_of_today(monday, sunday, wednesday) == date(2026, 11, 18)  # last Wednesday
    assert twin_of_today(wednesday, wednesday, wednesday) == date(2026, 11, 24)
    assert twin_of_today(monday, date(2026, 11, 24), wednesday) is None  # over already
