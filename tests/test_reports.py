"""Reports against a small day computed by hand, from tickets the real engine wrote to a real
SQLite file; the day cache gives the same numbers; exports open; the API guards its door."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hall_server import reports
from hall_server.config import HallConfig
from hall_server.core.engine import Engine, WindowStatus
from hall_server.core.reports import ReportError, parse_range
from hall_server.store.db import Store, ticket_row
from tests.support import ServerProcess

DAY = date(2025, 3, 3)


def at(hhmm: str, config: HallConfig) -> float:
    return datetime.combine(DAY, datetime.strptime(hhmm, "%H:%M").time(), config.tz).timestamp()


@pytest.fixture
def small_day(tmp_path: Path, demo_config: HallConfig) -> Path:
    """A001 waits 5 min and is served at window 1 in 10; A002 waits 30 (over the 20-minute
    target) at window 2, started a minute after the call; A003 waits 13 and does not come;
    B001 waits 2 at window 3 and is transferred to social insurance, served at window 1;
    A004 gives up after 30 min in the queue, A005 after 5."""
    db = tmp_path / "hall.db"
    store = Store(db)
    e = Engine(**demo_config.engine_args(), day_of=lambda _: DAY.isoformat())
    t = lambda hhmm: at(hhmm, demo_config)  # noqa: E731
    steps = [
        lambda: e.issue("social-insurance", t("09:00"), "k1"),
        lambda: e.issue("social-insurance", t("09:01"), "k2"),
        lambda: e.issue("social-insurance", t("09:02"), "k3"),
        lambda: e.call_ticket("1", "A001", t("09:05"), by="alice"),
        lambda: e.issue("medical-insurance", t("09:10"), "k4"),
        lambda: e.call_ticket("3", "B001", t("09:12"), by="carol"),
        lambda: e.finish("1", t("09:15"), by="alice"),
        lambda: e.call_ticket("1", "A003", t("09:15"), by="alice"),
        lambda: e.no_show("1", t("09:16"), by="alice"),
        lambda: e.transfer("3", "social-insurance", t("09:20"), by="carol"),
        lambda: e.issue("social-insurance", t("09:20"), "k5"),
        lambda: e.call_ticket("1", "B001", t("09:25"), by="alice"),
        lambda: e.issue("social-insurance", t("09:30"), "k6"),
        lambda: e.call_ticket("2", "A002", t("09:31"), by="bob"),
        lambda: e.start("2", t("09:32"), by="bob"),
        lambda: e.finish("1", t("09:35"), by="alice"),
        lambda: e.cancel(e.by_number["A005"], t("09:35")),
        lambda: e.finish("2", t("09:40"), by="bob"),
        lambda: e.cancel(e.by_number["A004"], t("09:50")),
        lambda: e.set_window("4", WindowStatus.PAUSED, t("09:55")),
    ]
    for step in steps:
        store.write(step(), [ticket_row(x) for x in e.take_changed()])
    store.close()
    return db


def report(db: Path, config: HallConfig, by: str, today: date = DAY) -> dict:
    store = Store(db)
    try:
        return reports.report(store, config, DAY, DAY, today, by)
    finally:
        store.close()


def test_report_by_window_matches_the_hand_computed_day(
    small_day: Path, demo_config: HallConfig
) -> None:
    rep = report(small_day, demo_config, "window")
    rows = {r["key"]: r for r in rep["rows"]}
    assert list(rows) == ["1", "2", "3"]
    w1 = rows["1"]
    assert (w1["arrived"], w1["called"], w1["served"], w1["no_show"]) == (2, 3, 2, 1)
    assert w1["no_show_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert (w1["wait_mean_s"], w1["wait_p50_s"], w1["wait_p90_s"], w1["wait_max_s"]) == (
        540.0,
        300.0,
        780.0,
        780.0,
    )
    assert (w1["service_mean_s"], w1["service_p90_s"], w1["service_level"]) == (600.0, 600.0, 1.0)
    assert (w1["busy_s"], w1["open_s"], w1["utilisation"]) == (1260.0, 1800.0, 0.7)
    w2 = rows["2"]
    assert (w2["wait_mean_s"], w2["service_mean_s"], w2["service_level"]) == (1800.0, 480.0, 0.0)
    assert (w2["busy_s"], w2["open_s"], w2["utilisation"]) == (540.0, 540.0, 1.0)
    w3 = rows["3"]
    assert (w3["arrived"], w3["served"], w3["wait_mean_s"], w3["service_mean_s"]) == (
        1,
        0,
        120.0,
        None,
    )
    assert rows["1"]["name"] == "1号窗口"


def test_report_total_counts_each_visit_once_and_those_who_gave_up_after_the_target(
    small_day: Path, demo_config: HallConfig
) -> None:
    total = report(small_day, demo_config, "window")["total"]
    assert (total["arrived"], total["called"], total["served"], total["no_show"]) == (6, 5, 3, 1)
    assert (total["wait_mean_s"], total["wait_p50_s"], total["wait_p90_s"]) == (
        750.0,
        300.0,
        1800.0,
    )
    assert (total["wait_p95_s"], total["wait_max_s"]) == (1800.0, 1800.0)
    assert (total["service_mean_s"], total["service_p90_s"]) == (560.0, 600.0)
    # within target: 2, 5 and 13 minutes; missed: 30 minutes, and A004 who left after 30
    assert total["service_level"] == 0.6
    assert total["utilisation"] == round(2280 / 2820, 4)


def test_report_by_service_staff_and_hour(small_day: Path, demo_config: HallConfig) -> None:
    by_service = {r["key"]: r for r in report(small_day, demo_config, "service")["rows"]}
    social = by_service["social-insurance"]
    assert (social["arrived"], social["called"], social["served"]) == (5, 4, 3)
    assert (social["wait_mean_s"], social["wait_p50_s"], social["service_level"]) == (
        960.0,
        780.0,
        0.5,
    )
    assert list(by_service) == ["social-insurance", "medical-insurance"]
    by_staff = {r["key"]: r for r in report(small_day, demo_config, "staff")["rows"]}
    assert by_staff["alice"]["served"] == 2 and by_staff["bob"]["utilisation"] == 1.0
    rep = report(small_day, demo_config, "hour")
    assert [(r["key"], r["arrived"], r["served"]) for r in rep["rows"]] == [("09:00", 6, 3)]
    assert rep["hours"][9] == {"hour": 9, "arrived": 6, "served": 3}
    hist = {b["from_min"]: b["n"] for b in rep["wait_hist"]}
    assert (hist[0], hist[5], hist[10], hist[30]) == (1, 1, 1, 1)  # [from, to) minutes


def test_a_closed_day_is_cached_once_and_gives_the_same_numbers(
    small_day: Path, demo_config: HallConfig
) -> None:
    fresh = report(small_day, demo_config, "window")  # today: computed, not cached
    conn = sqlite3.connect(small_day)
    assert conn.execute("SELECT count(*) FROM report_days").fetchone()[0] == 0
    later = date(2025, 3, 4)
    first = report(small_day, demo_config, "window", today=later)
    assert conn.execute("SELECT day, n FROM report_days").fetchall() == [("2025-03-03", 7)]
    assert report(small_day, demo_config, "window", today=later) == first == fresh


def test_exports_open_in_csv_and_excel(small_day: Path, demo_config: HallConfig) -> None:
    rep = report(small_day, demo_config, "window")
    raw = reports.to_csv(rep)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["键", "名称", "到达"]
    assert rows[-1][1] == "合计" and rows[-1][2] == "6"
    wb = load_workbook(io.BytesIO(reports.to_xlsx(rep, "en")))
    sheet = wb.worksheets[0]
    assert sheet["A1"].value == "Key" and sheet.max_row == 5
    assert [c.value for c in sheet[5]][1:3] == ["Total", 6]
    assert wb["By hour"]["A11"].value == "09:00"
    zh = load_workbook(io.BytesIO(reports.to_xlsx(rep, "zh")))
    main, hours = zh.worksheets
    assert main.title.startswith("按窗口") and hours.title == "按小时"
    assert [c.value for c in hours[1]] == ["时段", "到达", "办结"]
    headers = [c.value for c in main[1]]
    rate = main.cell(row=2, column=headers.index("达标率") + 1)
    assert rate.number_format == "0.0%" and 0 <= rate.value <= 1  # 0.75 shows as 75.0%


def test_range_and_dimension_errors_are_named() -> None:
    today = date(2025, 3, 3)
    with pytest.raises(ReportError, match="ends before"):
        parse_range("2025-03-04", "2025-03-01", today)
    with pytest.raises(ReportError) as e:
        parse_range("yesterday", None, today)
    assert e.value.code == "invalid_date"
    assert parse_range("2025-03-01", None, today) == (date(2025, 3, 1), date(2025, 3, 1))


def test_report_api_requires_a_manager_and_answers_json_errors(
    server_process: ServerProcess,
) -> None:
    s = server_process
    assert s.request("GET", "/api/v1/metrics/report")[0] == 401
    staff = s.login("staff1")
    assert s.request("GET", "/api/v1/metrics/report", token=staff)[0] == 403
    token = s.login("manager")
    status, body = s.request("GET", "/api/v1/metrics/report?by=colour", token=token)
    assert status == 422 and body["error"]["code"] == "invalid_dimension"
    status, body = s.request("GET", "/api/v1/metrics/report?from=2025-02-30", token=token)
    assert status == 422 and body["error"]["code"] == "invalid_date"
    s.request("POST", "/api/v1/tickets", {"service": "tax"}, token=staff)
    status, body = s.request("GET", "/api/v1/metrics/report?by=service", token=token)
    assert status == 200 and body["rows"][0]["key"] == "tax" and body["total"]["arrived"] == 1
    status, windows = s.request("GET", "/api/v1/metrics/windows", token=token)
    assert status == 200 and windows == []


async def test_live_metrics_and_reports_agree_after_a_transfer(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig
) -> None:
    """One answer per window and per clerk: the window that called counts the call, also of a
    transferred visitor, and the visitor's wait counts once, where they were first called;
    the same after a transfer to a service, to a window (with a note) and to a colleague."""
    from hall_server.app import make_app
    from tests.support import add_demo_accounts

    add_demo_accounts(tmp_path / "hall.db", demo_config)
    client = await aiohttp_client(make_app(demo_config, tmp_path / "hall.db"))

    async def login(user: str) -> dict[str, str]:
        r = await client.post("/api/v1/auth/login", json={"username": user, "password": "demo"})
        return {"Authorization": f"Bearer {(await r.json())['token']}"}

    clerk8, clerk1, manager = await login("staff8"), await login("staff1"), await login("manager")
    clerk3, clerk2 = await login("staff3"), await login("staff2")
    r = await client.post("/api/v1/tickets", json={"service": "tax"})
    assert r.status == 201
    await client.post("/api/v1/windows/8/call", headers=clerk8)
    r = await client.post(
        "/api/v1/windows/8/transfer", json={"service": "social-insurance"}, headers=clerk8
    )
    assert r.status == 200, await r.text()
    await client.post("/api/v1/windows/1/call", headers=clerk1)
    await client.post("/api/v1/windows/1/finish", headers=clerk1)
    for target, clerk, window in (
        ({"to_window": "3", "note": "材料已收"}, clerk3, "3"),
        ({"to_staff": "staff2"}, clerk2, "2"),
    ):
        assert (await client.post("/api/v1/tickets", json={"service": "tax"})).status == 201
        r = await client.post("/api/v1/windows/8/call", headers=clerk8)
        assert (await r.json())["ticket"]["service"] == "tax"
        r = await client.post("/api/v1/windows/8/transfer", json=target, headers=clerk8)
        assert r.status == 200, await r.text()
        r = await client.post(f"/api/v1/windows/{window}/call", headers=clerk)
        assert (await r.json())["ticket"]["service"] == "tax"  # it keeps its service
        await client.post(f"/api/v1/windows/{window}/finish", headers=clerk)
    live = await (await client.get("/api/v1/metrics/windows", headers=manager)).json()
    rep = await (await client.get("/api/v1/metrics/report?by=window", headers=manager)).json()
    by_report = {row["key"]: row for row in rep["rows"]}
    assert {w["window"]: w["called"] for w in live} == {"1": 1, "2": 1, "3": 1, "8": 3}
    for w in live:
        row = by_report[w["window"]]
        for figure in ("called", "served", "no_show", "wait_mean_s", "wait_max_s"):
            assert w[figure] == row[figure], (w["window"], figure)
    for w in ("1", "2", "3"):  # served there, waited (once) where first called
        assert by_report[w]["served"] == 1 and by_report[w]["wait_mean_s"] is None
    assert by_report["8"]["served"] == 0 and by_report["8"]["called"] == 3
    total = rep["total"]
    # three visitors, each called twice (first at window 8), each served once
    assert (total["arrived"], total["called"], total["served"]) == (3, 6, 3)
    staff = await (await client.get("/api/v1/metrics/report?by=staff", headers=manager)).json()
    names = {row["key"]: row["name"] for row in staff["rows"]}
    assert names["staff8"] == "黄丽" and names["staff1"] == "王芳"  # people, not logins
    served = {row["key"]: row["served"] for row in staff["rows"]}
    assert served == {"staff1": 1, "staff2": 1, "staff3": 1, "staff8": 0}


def test_a_closed_days_cache_is_written_through_the_stores_writer(
    small_day: Path, demo_config: HallConfig
) -> None:
    """The report waits for the store's writer (the hall's own writes go through it too)
    instead of writing past it on a connection of its own."""
    store = Store(small_day)
    later = DAY + timedelta(days=1)
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (reports.report(store, demo_config, DAY, DAY, later, "window"), done.set())
    )
    try:
        with store.writing():
            worker.start()
            assert not done.wait(0.5)  # built, and waiting to write its cache
        worker.join(10)
        assert done.is_set()
        (n,) = store.db.execute("SELECT count(*) FROM report_days").fetchone()
        assert n == 1
    finally:
        store.close()


def test_report_by_day_has_one_row_per_day_with_that_days_total(
    small_day: Path, demo_config: HallConfig
) -> None:
    store = Store(small_day)
    try:
        rep = reports.report(store, demo_config, DAY - timedelta(days=1), DAY, DAY, "day")
    finally:
        store.close()
    assert [r["key"] for r in rep["rows"]] == [DAY.isoformat()]  # the empty day has no row
    (row,) = rep["rows"]
    assert {k: v for k, v in row.items() if k not in ("key", "name")} == rep["total"]
    assert rep["by"] == "day" and rep["hours"]


async def test_served_per_item_in_the_api_csv_and_excel_and_the_summary_beside_it(
    aiohttp_client, tmp_path: Path, demo_config: HallConfig
) -> None:
    """by=item: one row per item chosen at the kiosk, the visits without one as 未选事项;
    the exports name the rows in the reader's language and show shares as percentages; the
    summary answers the headline figures and the previous period's."""
    from hall_server.app import make_app
    from tests.support import add_demo_accounts, bearer, kiosk_client

    db = tmp_path / "hall.db"
    add_demo_accounts(db, demo_config)
    client = await kiosk_client(aiohttp_client, make_app(demo_config, db), db)
    login = await client.post("/api/v1/auth/login", json={"username": "staff1", "password": "demo"})
    clerk = bearer((await login.json())["token"])
    login = await client.post(
        "/api/v1/auth/login", json={"username": "manager", "password": "demo"}
    )
    manager = bearer((await login.json())["token"])
    for item in ("A-012", "A-012", "A-011", None):
        body = {"service": "social-insurance", **({"item": item} if item else {})}
        assert (await client.post("/api/v1/tickets", json=body)).status == 201
        assert (await client.post("/api/v1/windows/1/call", headers=clerk)).status == 200
        assert (await client.post("/api/v1/windows/1/finish", headers=clerk)).status == 200
    r = await client.get("/api/v1/metrics/report?by=item", headers=manager)
    assert r.status == 200
    rows = (await r.json())["rows"]
    assert [(x["key"], x["name"], x["served"]) for x in rows] == [
        ("A-012", "社会保障卡补领、换领(即时制卡)", 2),
        ("A-011", "社会保障卡申领", 1),
        ("", "未选事项", 1),
    ]  # the busiest first, those who chose no item last
    assert [x["name_en"] for x in rows][1:] == [
        "Social security card application",
        "no item chosen",
    ]
    r = await client.get("/api/v1/metrics/report.csv?by=item", headers=manager)
    table = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert table[0][:3] == ["键", "名称", "到达"]
    assert [row[1] for row in table[1:]] == [
        "社会保障卡补领、换领(即时制卡)", "社会保障卡申领", "未选事项", "合计"
    ]  # fmt: skip
    r = await client.get("/api/v1/metrics/report.xlsx?by=item&lang=en", headers=manager)
    book = load_workbook(io.BytesIO(await r.read()))
    glance = book["At a glance"]  # the headline figures beside the previous period
    assert [c.value for c in glance[2]] == ["Served", 4, 0, 4, "better"]
    assert glance["A3"].value == "Mean wait (min)" and glance["B5"].number_format == "0.0%"
    sheet = book.worksheets[0]
    assert sheet.title.startswith("By item")
    headers = [c.value for c in sheet[1]]
    assert [sheet.cell(row=i, column=2).value for i in (2, 4)] == [
        "Social security card replacement (instant issuance)", "no item chosen"
    ]  # fmt: skip
    level = sheet.cell(row=2, column=headers.index("Service level") + 1)
    assert level.number_format == "0.0%" and level.value == 1.0
    assert (await client.get("/api/v1/metrics/summary")).status == 401
    r = await client.get("/api/v1/metrics/summary", headers=manager)
    summary = await r.json()
    assert r.status == 200 and summary["headline"]["served"] == 4
    assert summary["previous"]["to"] < summary["from"] == summary["to"]
    served = next(f for f in summary["figures"] if f["key"] == "served")
    assert (served["previous"], served["direction"], served["good"]) == (0, "up", True)
    assert [d["served"] for d in summary["trend"]] == [4]
    r = await client.get("/api/v1/metrics/summary?from=2025-03-04&to=2025-03-01", headers=manager)
    assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_range"


def test_a_range_not_over_is_compared_with_the_previous_period_up_to_the_same_moment(
    small_day: Path, demo_config: HallConfig
) -> None:
    """Today at 09:20 against yesterday up to 09:20 (four visits came by then), not against
    all of yesterday (six)."""
    today = DAY + timedelta(days=1)
    now = datetime.combine(today, datetime.strptime("09:20", "%H:%M").time(), demo_config.tz)
    store = Store(small_day)
    try:
        so_far = reports.summary(store, demo_config, today, today, today, now.timestamp())
        whole = reports.summary(store, demo_config, today, today, today)
    finally:
        store.close()
    assert so_far["previous"] == {
        "from": "2025-03-03", "to": "2025-03-03", "until": "2025-03-03T09:20:00+08:00"
    }  # fmt: skip
    assert so_far["previous_headline"]["arrived"] == 4
    assert whole["previous"]["until"] is None and whole["previous_headline"]["arrived"] == 6
