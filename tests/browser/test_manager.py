"""The manager's dashboard and reports in a real Chromium against a real hall: login, live
queues and windows, an alarm pushed and acknowledged, reports with charts and exports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import axe_violations, screenshot_both
from tests.support import ServerProcess, wait_until

pytestmark = pytest.mark.browser


def login(page: Page, server: ServerProcess, path: str) -> None:
    page.goto(f"{server.url}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.locator("#username").fill("manager")
    page.locator("#password").fill("demo")
    page.locator("button[type=submit]").click()
    # /login?next=/manager itself ends with the path: wait to have left the login page
    expect(page).not_to_have_url(re.compile(r"/login\?"))
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def test_dashboard_shows_queues_pushes_an_alarm_and_records_who_acknowledged_it(
    page: Page, live_server: ServerProcess
) -> None:
    s = live_server
    login(page, s, "/manager")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    expect(page.locator("#services tr")).to_have_count(10)
    expect(page.locator("#windows tr")).to_have_count(11)
    expect(page.locator("#no-alarms")).to_be_visible()
    for _ in range(12):
        assert (
            s.request(
                "POST", "/api/v1/tickets", {"service": "social-insurance"}, token=s.paired("k1")
            )[0]
            == 201
        )
    alarm = page.locator("#alarms li")
    expect(alarm).to_have_count(1)
    expect(alarm).to_contain_text("社会保障：等候 12 人")
    expect(page.locator('#services tr[data-service="social-insurance"] td').first).to_have_text(
        "12"
    )
    screenshot_both(page, "manager-alarm")
    alarm.locator("button.ack").click()
    expect(alarm).to_contain_text("manager 已确认")
    status, _ = s.request("POST", "/api/v1/windows/1/call", token=s.login("staff1"))
    assert status == 200
    expect(page.locator('#windows tr[data-window="1"]')).to_contain_text("A001")
    expect(page.locator("#alarms li")).to_have_count(0)
    page.locator(".alarm-log summary").click()
    logged = page.locator("#alarm-log tr")
    expect(logged).to_have_count(1)
    expect(logged.locator("td").nth(4)).to_contain_text("manager")
    assert axe_violations(page) == []


def test_reports_draw_their_charts_and_export(page: Page, live_server: ServerProcess) -> None:
    s = live_server
    s.request("POST", "/api/v1/tickets", {"service": "tax"}, token=s.paired("k1"))
    login(page, s, "/manager/reports?by=service")
    table = page.locator("#report")
    expect(table.locator("tbody th").first).to_have_text("社会保障")
    expect(table.locator("tfoot th")).to_have_text("合计")
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("svg.chart title").first).to_have_text("每小时到达与办结人数")
    csv = page.request.get(s.url + (page.locator("#export-csv").get_attribute("href") or ""))
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    assert "社会保障" in csv.body().decode("utf-8-sig")
    xlsx = page.request.get(s.url + (page.locator("#export-xlsx").get_attribute("href") or ""))
    assert xlsx.ok and xlsx.body()[:2] == b"PK"
    screenshot_both(page, "manager-reports")
    # times are shown in minutes and the headers say minutes (they said 秒 over 0.4′)
    expect(table.locator("thead th", has_text="平均等候")).to_have_text("平均等候(分钟)")
    assert axe_violations(page) == []
    page.locator("#by").select_option("hour")
    page.locator(".report-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"by=hour"))
    page.locator("#by").select_option("day")  # 按日: one row per business day
    page.locator(".report-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"by=day"))
    expect(page.locator("#report tbody th").first).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    page.goto(f"{s.url}/manager/reports?from=2025-03-04&to=2025-03-01")
    expect(page.locator(".notice-error")).to_have_text("日期范围不正确")  # not English
    page.goto(f"{s.url}/manager?lang=en")
    expect(page.locator("#services-h")).to_have_text("Queues")


def test_dashboard_names_device_states_in_words(page: Page, live_server: ServerProcess) -> None:
    s = live_server
    token = s.login("manager")
    login(page, s, "/manager")
    row = page.locator('#devices tr[data-kiosk="k2"]')
    expect(row).to_contain_text("打印机 正常")
    assert (
        s.request("POST", "/api/v1/devices/k2/simulate", {"action": "paper_out"}, token)[0] == 200
    )
    # the simulator's printer reports its state on the device loop's next check, after the
    # answer above; once the hall knows it, a reload shows it (the list refreshes every 30 s)
    wait_until(
        lambda: any(
            d["kiosk"] == "k2" and d["printer"] == "paper_out"
            for d in s.request("GET", "/api/v1/devices", None, token)[1]
        ),
        what="k2's printer reported paper out",
    )
    page.reload()
    expect(row).to_contain_text("打印机 缺纸")
    assert not re.search(r"\b(ok|offline|paper_out)\b", row.inner_text())
    screenshot_both(page, "manager-devices-paper-out")
    assert s.request("POST", "/api/v1/devices/k2/simulate", {"action": "paper_ok"}, token)[0] == 200


def test_windows_nobody_is_signed_in_at_are_not_counted_open(
    page: Page, live_server: ServerProcess
) -> None:
    """Window 5 (户籍证件 with window 4) is open in the engine, but nobody works it until
    staff5 signs in."""
    s = live_server
    login(page, s, "/manager")
    window = page.locator('#windows tr[data-window="5"]')
    expect(window.locator(".pill")).to_have_text("无人登录")
    household = page.locator('#services tr[data-service="household-registration"] td').nth(3)
    before = int(household.inner_text())
    s.login("staff5")  # 陈静 signs in at window 5
    page.reload()
    expect(window.locator(".pill")).to_have_text("开放")
    expect(household).to_have_text(str(before + 1))
    screenshot_both(page, "manager-windows-staffed")
