"""The manager's reports over two weeks of history in a real Chromium, in Chinese and English:
headline figures checked against the ticket table itself, the comparison with the week before
(arrows, good/bad, words for screen readers), served per item, the trend and the hourly
chart's labelled axes. The history is simulated by ``benchmarks/gen_history.py``: a quiet week,
then a busy one (more served, longer waits), with ratings written through the ratings store."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hall_server.store import ratings as ratings_store
from hall_server.store.db import Store
from tests.browser.helpers import ROOT, SCREENSHOTS, axe_violations, screenshot_both
from tests.browser.test_manager import login
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location("gen_history", ROOT / "benchmarks/gen_history.py")
assert _spec and _spec.loader
gen_history = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_history)

TODAY = date.today()
WEEK = (TODAY - timedelta(days=7), TODAY - timedelta(days=1))
BEFORE = (TODAY - timedelta(days=14), TODAY - timedelta(days=8))


def _rate(db: Path, start: date, end: date, good: int, bad: int) -> None:
    """``good`` ratings of 5 and ``bad`` of 1 on the period's first served tickets."""
    conn = sqlite3.connect(db)
    tickets = conn.execute(
        "SELECT id, day, service, number, window, called_by, finished_at FROM tickets "
        "WHERE status = 'done' AND day BETWEEN ? AND ? ORDER BY finished_at LIMIT ?",
        (start.isoformat(), end.isoformat(), good + bad),
    ).fetchall()
    conn.close()
    store = Store(db)
    try:
        for i, (tid, day, service, number, window, staff, at) in enumerate(tickets):
            ratings_store.insert(
                store,
                {"ticket_id": tid, "day": day, "service": service, "number": number,
                 "window": window, "staff": staff, "level": 5 if i < good else 1,
                 "options": "[]", "comment": None, "source": "pad", "at": at},
            )  # fmt: skip
    finally:
        store.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("history") / "hall.db"
    gen_history.generate(db, days=7, per_day=250, scale=1, end=BEFORE[1], seed=3)
    gen_history.generate(db, days=7, per_day=900, scale=1, end=WEEK[1], seed=4)
    _rate(db, *BEFORE, good=15, bad=5)  # 75%
    _rate(db, *WEEK, good=19, bad=1)  # 95%
    server = ServerProcess(db, demo=True)
    server.start()
    yield server
    server.stop()


def _sql(db: Path, start: date, end: date) -> dict[str, float]:
    """The figures straight from the ticket table (gen_history makes no transfers)."""
    conn = sqlite3.connect(db)
    served, waits, wait_sum, no_show, called = conn.execute(
        "SELECT sum(status = 'done'), count(called_at), sum(called_at - issued_at), "
        "sum(status = 'no_show'), count(called_at) FROM tickets WHERE day BETWEEN ? AND ?",
        (start.isoformat(), end.isoformat()),
    ).fetchone()
    conn.close()
    return {"served": served, "wait_mean_s": wait_sum / waits, "no_show_rate": no_show / called}


def _range(path: str = "/manager/reports", **q: str) -> str:
    query = {"from": WEEK[0].isoformat(), "to": WEEK[1].isoformat(), **q}
    return path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def open_report(page: Page, s: ServerProcess, path: str) -> None:
    login(page, s, "/manager/reports")
    expect(page.locator(".report-form")).to_be_visible()  # signed in, not still on /login
    page.goto(s.url + path)


def test_headline_figures_compare_the_week_with_the_week_before(
    page: Page, history: ServerProcess
) -> None:
    s = history
    now, before = _sql(s.db, *WEEK), _sql(s.db, *BEFORE)
    assert now["served"] > before["served"] and now["wait_mean_s"] > before["wait_mean_s"]
    open_report(page, s, _range(by="item"))
    head = page.locator("#headline")
    expect(head.locator("#headline-period")).to_contain_text(
        f"与上期（{BEFORE[0].isoformat()} 至 {BEFORE[1].isoformat()}"
    )
    served = head.locator('[data-figure="served"]')
    expect(served.locator(".value")).to_have_text(f"{now['served']:,}")
    expect(served).to_have_attribute("data-direction", "up")
    expect(served).to_have_attribute("data-judgement", "good")  # more people served
    expect(served.locator(".figure-change")).to_contain_text(
        f"↑ {now['served'] - before['served']:,} 人 · 向好"
    )
    expect(served.locator(".figure-previous")).to_have_text(f"上期 {before['served']:,} 人")
    wait = head.locator('[data-figure="wait_mean_s"]')
    expect(wait.locator(".value")).to_have_text(f"{now['wait_mean_s'] / 60:.1f}")
    expect(wait).to_have_attribute("data-direction", "up")
    expect(wait).to_have_attribute("data-judgement", "bad")  # a longer wait is worse
    expect(wait.locator(".sr-only")).to_have_text(re.compile(r"^比上期增加 [\d.]+ 分钟，变差。"))
    sat = head.locator('[data-figure="satisfaction"]')
    expect(sat.locator(".value")).to_have_text("95.0")
    expect(sat.locator(".figure-note")).to_have_text("共 20 条评价")
    expect(sat.locator(".figure-change")).to_contain_text("↑ 20.0 个百分点 · 向好")
    no_show = head.locator('[data-figure="no_show_rate"]')
    expect(no_show.locator(".value")).to_have_text(f"{now['no_show_rate'] * 100:.1f}")
    level = head.locator('[data-figure="service_level"]')
    expect(level.locator(".figure-note")).to_contain_text("在等候目标（")
    expect(head.locator(".figure")).to_have_count(6)
    screenshot_both(page, "manager-reports-headline")
    assert axe_violations(page) == []
    # today is not over: compared with yesterday up to the same time of day, not all of it
    page.goto(s.url + "/manager/reports")
    expect(page.locator("#headline-period")).to_contain_text(
        f"与上期同一时段比较：{(TODAY - timedelta(days=1)).isoformat()} 至 "
    )


def test_served_per_item_with_those_who_chose_none_last(page: Page, history: ServerProcess) -> None:
    s = history
    conn = sqlite3.connect(s.db)
    top_served, no_item = conn.execute(
        "SELECT max(n), (SELECT count(*) FROM tickets WHERE item IS NULL AND status = 'done' "
        "AND day BETWEEN ?1 AND ?2) FROM (SELECT count(*) AS n FROM tickets WHERE status = "
        "'done' AND item IS NOT NULL AND day BETWEEN ?1 AND ?2 GROUP BY item)",
        (WEEK[0].isoformat(), WEEK[1].isoformat()),
    ).fetchone()
    conn.close()
    open_report(page, s, _range(by="item"))
    expect(page.locator("#by")).to_have_value("item")
    expect(page.locator("#by option:checked")).to_have_text("按事项")
    rows = page.locator("#report tbody tr")
    served_col = page.locator("#report thead th").all_inner_texts().index("办结")
    first = rows.first.locator("th, td").nth(served_col)
    expect(first).to_have_text(str(top_served))  # the busiest item first
    last = rows.last
    expect(last.locator("th")).to_have_text("未选事项")
    expect(last.locator("th, td").nth(served_col)).to_have_text(str(no_item))
    csv = page.request.get(s.url + (page.locator("#export-csv").get_attribute("href") or ""))
    text = csv.body().decode("utf-8-sig")
    assert "未选事项" in text and "社会保障卡补领、换领(即时制卡)" in text
    page.goto(s.url + _range(by="item", lang="en"))
    expect(page.locator("#report tbody tr").last.locator("th")).to_have_text("no item chosen")
    expect(page.locator("#by option:checked")).to_have_text("By item")


def test_trend_and_hourly_axes_are_labelled_in_both_languages(
    page: Page, history: ServerProcess
) -> None:
    s = history
    open_report(page, s, _range(by="day"))
    trend = page.locator("#trend svg")
    expect(trend.locator("title").first).to_have_text("每日办结人数与平均等候")
    expect(trend.locator("rect.s1")).to_have_count(1 + 6)  # the legend, and 6 days (no Sunday)
    expect(trend.locator("polyline.s3-line")).to_have_count(1)
    expect(trend.locator(".axis-title")).to_have_text(
        ["平均等候（分钟）", "办结人数（人）", "日期（月-日）"]
    )
    hours = page.locator("svg.chart").nth(1)
    expect(hours.locator("title").first).to_have_text("每小时到达与办结人数")
    ticks = hours.locator("text.tick").all_text_contents()
    assert ticks[0] == "08:00" and "12:00" in ticks, ticks
    assert all(re.fullmatch(r"\d\d:00", x) for x in ticks), ticks  # not "8", "9"
    expect(hours.locator(".axis-title")).to_have_text(["人数（人）", "时段（取号或办结的小时）"])
    screenshot_both(page, "manager-reports-trend")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".charts").screenshot(path=str(SCREENSHOTS / "manager-reports-charts.png"))
    page.goto(s.url + _range(by="day", lang="en"))
    expect(page.locator("#headline h2")).to_have_text("At a glance")
    served = page.locator('#headline [data-figure="served"]')
    expect(served.locator(".figure-change")).to_contain_text("better")
    expect(served.locator(".sr-only")).to_have_text(re.compile(r"^Up [\d,]+ people on the prev"))
    wait = page.locator('#headline [data-figure="wait_mean_s"]')
    expect(wait.locator(".figure-change")).to_contain_text("worse")
    hours = page.locator("svg.chart").nth(1)
    expect(hours.locator(".axis-title")).to_have_text(
        ["Visitors (people)", "Hour (of the ticket or its end)"]
    )
    expect(page.locator("#trend svg .axis-title").last).to_have_text("Day (month-day)")
    screenshot_both(page, "manager-reports-en")
    page.locator(".charts").screenshot(path=str(SCREENSHOTS / "manager-reports-charts-en.png"))
    assert axe_violations(page) == []
