"""好差评 for managers in a real Chromium against a real hall: bad ratings followed up from
open to contacted to resolved (with a note), overdue ones first, satisfaction per window and
clerk beside the reports."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import axe_violations, screenshot_both
from tests.browser.test_manager import login
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

COMMENT = "等了一个多小时，窗口还态度冷淡"


def served_and_rated(server: ServerProcess, level: int, options: list[str]) -> dict:
    """A ticket served at window 1 by staff1, then rated on the window's pad."""
    staff = server.login("staff1")
    assert (
        server.request(
            "POST", "/api/v1/tickets", {"service": "social-insurance"}, token=server.paired("k1")
        )[0]
        == 201
    )
    status, called = server.request("POST", "/api/v1/windows/1/call", token=staff)
    assert status == 200, called
    assert server.request("POST", "/api/v1/windows/1/finish", token=staff)[0] == 200
    rating = {"ticket": called["ticket"]["id"], "level": level, "options": options}
    status, body = server.request(
        "POST", "/api/v1/ratings", {**rating, "comment": COMMENT}, token=server.paired("pad:1")
    )
    assert status == 201, body
    return body


@pytest.fixture(scope="module")
def rated(live_server: ServerProcess) -> dict:
    """Today: one 差评 and one 好评 at window 1; last week: a 差评 nobody followed up."""
    bad = served_and_rated(live_server, 1, ["wait_long", "attitude"])
    served_and_rated(live_server, 5, [])
    week_ago = time.time() - 8 * 86400
    with sqlite3.connect(live_server.db) as db:
        db.execute(
            "INSERT INTO ratings (ticket_id, day, service, number, window, staff, level, options,"
            " source, at, followup, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ["old-ticket", (date.today() - timedelta(days=8)).isoformat(), "tax", "H031", "7",
             "staff7", 2, '["slow"]', "pad", week_ago, "open", week_ago + 3 * 86400],
        )  # fmt: skip
    return bad


def test_manager_follows_a_bad_rating_up_from_open_to_resolved_with_a_note(
    page: Page, live_server: ServerProcess, rated: dict
) -> None:
    s = live_server
    login(page, s, "/manager")
    page.get_by_role("link", name="差评跟进").click()
    expect(page).to_have_url(re.compile(r"/manager/ratings$"))
    items = page.locator("#ratings li")
    expect(items).to_have_count(2)
    expect(page.locator("#r-count")).to_have_text("共 2 条，其中 1 条已超期")
    old, fresh = items.nth(0), items.nth(1)
    expect(old).to_contain_text("H031")
    expect(old.locator(".overdue")).to_have_text("已超期")
    expect(fresh).to_contain_text(rated["number"])
    for text in ("非常不满意", "排队等候时间长、服务态度不好", COMMENT, "1号窗口", "staff1"):
        expect(fresh).to_contain_text(text)
    expect(fresh.locator(".overdue")).to_have_count(0)
    expect(fresh.locator(".r-state")).to_have_text("待联系")
    screenshot_both(page, "manager-ratings")
    assert axe_violations(page) == []

    fresh.get_by_role("button", name="标记已联系").click()
    fresh = page.locator(f'#ratings li[data-id="{rated["id"]}"]')
    expect(fresh.locator(".r-state")).to_have_text("已联系")
    resolve = fresh.get_by_role("button", name="办结…")
    expect(resolve).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#resolve-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#resolve-note")).to_be_focused()
    dialog.get_by_role("button", name="确认办结").click()
    expect(page.locator("#resolve-error")).to_have_text("请填写处理结果")
    assert axe_violations(page) == []
    page.locator("#resolve-note").fill("已电话致歉，并加开社保窗口")
    dialog.get_by_role("button", name="确认办结").click()
    expect(dialog).to_be_hidden()
    expect(fresh.locator(".r-state")).to_have_text("已办结")
    expect(fresh.locator(".r-note")).to_have_text("已电话致歉，并加开社保窗口")
    expect(fresh).to_contain_text("manager 于")
    _, done = s.request("GET", "/api/v1/ratings?followup=resolved", token=s.login("manager"))
    assert [(r["id"], r["followup_by"]) for r in done] == [(rated["id"], "manager")]

    page.locator("#r-show").select_option("resolved")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text(rated["number"])
    page.goto(f"{s.url}/manager/ratings?lang=en")
    expect(page.locator("h1")).to_have_text("Bad ratings")
    expect(page.locator("#ratings li").first).to_contain_text("Slow handling")


def test_reports_show_satisfaction_per_window_and_clerk(
    page: Page, live_server: ServerProcess, rated: dict
) -> None:
    login(page, live_server, "/manager/reports")
    window = page.locator("#sat-window tbody tr").filter(has_text="1号窗口")
    expect(window.locator("td")).to_have_text(["2", "50.0%", "3.00", "1"])
    clerk = page.locator("#sat-staff tbody tr").filter(has_text="staff1")
    expect(clerk.locator("td")).to_have_text(["2", "50.0%", "3.00", "1"])
    expect(page.locator("#sat-window")).not_to_contain_text("7号窗口")  # last week's
    page.locator("#satisfaction").scroll_into_view_if_needed()
    screenshot_both(page, "manager-satisfaction")
    assert axe_violations(page) == []


def test_follow_up_times_are_the_halls_on_a_laptop_set_to_another_zone(
    browser: Browser, live_server: ServerProcess
) -> None:
    """A manager reading from New York sees when the visitor rated, when it is due and when it
    was followed up in the hall's time (Asia/Shanghai), as the kiosk and the board show it, not
    thirteen hours off."""
    s = live_server
    rating = served_and_rated(s, 2, ["slow"])
    status, contacted = s.request(
        "PATCH", f"/api/v1/ratings/{rating['id']}", {"followup": "contacted"}, s.login("manager")
    )
    assert status == 200, contacted
    ctx = browser.new_context(
        bypass_csp=True,
        viewport={"width": 1920, "height": 1080},
        locale="zh-CN",
        timezone_id="America/New_York",
    )
    page = ctx.new_page()
    login(page, s, "/manager/ratings")
    mine = page.locator(f'#ratings li[data-id="{rating["id"]}"]')
    rated_at = datetime.fromisoformat(rating["at"])  # carries the hall's offset
    assert rated_at.utcoffset() == timedelta(hours=8)
    in_new_york = rated_at.astimezone(ZoneInfo("America/New_York"))
    expect(mine).to_contain_text(rated_at.strftime("%m/%d %H:%M"))
    expect(mine).not_to_contain_text(in_new_york.strftime("%m/%d %H:%M"))
    expect(mine).to_contain_text(datetime.fromisoformat(rating["due_at"]).strftime("%Y/%m/%d"))
    followed = datetime.fromisoformat(contacted["followup_at"]).strftime("%m/%d %H:%M")
    expect(mine).to_contain_text(f"manager 于 {followed}")
    ctx.close()
