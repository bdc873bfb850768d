"""Issue 11, item 10: a 差评 records a way to reach the visitor. In a real Chromium against a
real demo hall: a visitor rates 非常不满意 on their phone and leaves a number; the manager sees
it masked, reveals it (audited), marks the rating 已联系, and the number is gone from the page,
the API and the database file. On the window's pad the number is typed on big keys, and
skipping it is one tap."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import axe_violations, screenshot, screenshot_both
from tests.browser.test_manager import login
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

CLEAR, MASKED = "13812345678", "138****5678"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        bypass_csp=True,
        viewport={"width": 375, "height": 812},
        has_touch=True,
        is_mobile=True,
        locale="zh-CN",
        device_scale_factor=2,
    )
    pg = context.new_page()
    yield pg
    context.close()


def served(server: ServerProcess, window: str, service: str) -> dict:
    """A ticket taken at the kiosk, called and finished at `window` (its queue emptied first)."""
    staff = server.login(f"staff{window}")
    while server.request("POST", f"/api/v1/windows/{window}/call", {}, staff)[0] == 200:
        server.request("POST", f"/api/v1/windows/{window}/finish", {}, staff)
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    status, called = server.request("POST", f"/api/v1/windows/{window}/call", {}, staff)
    assert status == 200 and called["ticket"]["number"] == body["ticket"]["number"], called
    assert server.request("POST", f"/api/v1/windows/{window}/finish", {}, staff)[0] == 200
    return {**body["ticket"], "id": called["ticket"]["id"]}


def on_disk(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.suffix != ".key")


def test_visitor_leaves_a_phone_on_a_very_bad_rating_and_the_manager_calls_back(
    live_server: ServerProcess, phone: Page, page: Page
) -> None:
    s = live_server
    mine = served(s, "7", "real-estate")
    phone.goto(f"{s.url}/t/{mine['token']}")
    expect(phone.locator("#status")).to_have_text("办理完毕，谢谢光临")
    phone.locator("#rating button[data-level='1']").click()
    box = phone.locator("#rating .phone-box")
    expect(box).to_be_visible()
    expect(box.locator("legend")).to_have_text("留下手机号，便于我们联系您（选填）")
    expect(box).to_contain_text("用途：仅用于回访本次评价，回访后删除")
    expect(box.locator("input")).to_have_attribute("inputmode", "numeric")
    phone.locator("#rating button[data-reason='attitude']").click()
    box.get_by_label("手机号码").fill("138 1234 567")  # one digit short
    phone.locator("[data-action='send-rating']").click()
    expect(phone.locator("#rating [role='alert']")).to_have_text(
        "手机号码不正确：请输入 11 位手机号，或点“不留号码，直接提交”"
    )
    expect(box.locator("input")).to_be_focused()
    box.get_by_label("手机号码").fill("138 1234 5678")
    box.scroll_into_view_if_needed()
    screenshot(phone, "journey-progress-bad-rating-phone")
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.locator("[data-action='send-rating']").click()
    expect(phone.locator("#thanks")).to_contain_text("感谢您的评价")
    expect(phone.locator("#thanks")).to_contain_text(f"我们会尽快与您联系（{MASKED}）")
    assert CLEAR not in phone.content()
    assert CLEAR.encode() not in on_disk(s.db)

    manager = s.login("manager")
    _, listed = s.request("GET", "/api/v1/ratings?followup=open", token=manager)
    rating = next(r for r in listed if r["number"] == mine["number"])
    assert rating["phone_masked"] == MASKED and rating["level"] == 1
    with sqlite3.connect(s.db) as db:
        (sealed,) = db.execute(
            "SELECT sealed FROM rating_phones WHERE rating_id = ?", [rating["id"]]
        ).fetchone()
    assert sealed and sealed in on_disk(s.db)

    login(page, s, "/manager/ratings")
    item = page.locator(f'#ratings li[data-id="{rating["id"]}"]')
    expect(item.locator(".r-phone")).to_have_text(MASKED)
    expect(item).to_contain_text("查看完整号码会记录查看人和时间")
    expect(item.locator(".r-reveals-fact")).to_have_text("尚无人查看")
    item.scroll_into_view_if_needed()
    screenshot_both(page, "manager-ratings-phone-masked")
    assert axe_violations(page) == []
    item.get_by_role("button", name="查看号码").click()
    expect(item.locator("a.r-phone")).to_have_text(CLEAR)
    expect(item.locator("a.r-phone")).to_have_attribute("href", f"tel:{CLEAR}")
    expect(item.locator(".r-phone-note")).to_contain_text(
        re.compile(r"manager 于 .+ 查看（已记录）")
    )
    screenshot(page, "manager-ratings-phone-revealed")
    with sqlite3.connect(s.db) as db:
        trail = db.execute(
            "SELECT actor, action FROM audit_log WHERE subject = ?", [f"rating:{rating['id']}"]
        ).fetchall()
    assert trail == [("manager", "phone_revealed")]
    status, one = s.request("GET", f"/api/v1/ratings/{rating['id']}", token=manager)
    assert status == 200 and CLEAR not in str(one)
    (opened,) = one["phone_reveals"]
    seen = f"manager（{datetime.fromisoformat(opened['at']).strftime('%m/%d %H:%M')}）"
    expect(item.locator(".r-reveals li")).to_have_text([seen])  # who saw it, in hall time

    item.get_by_role("button", name="标记已联系").click()
    item = page.locator(f'#ratings li[data-id="{rating["id"]}"]')
    expect(item.locator(".r-state")).to_have_text("已联系")
    expect(item.locator(".r-phone-none")).to_contain_text(re.compile(r"号码已于 .+ 删除"))
    expect(item).not_to_contain_text(CLEAR)
    expect(item).not_to_contain_text(MASKED)
    assert axe_violations(page) == []
    page.reload()
    expect(page.locator(f'#ratings li[data-id="{rating["id"]}"] .r-phone-none')).to_be_visible()
    # who saw the number stays on record after the number is gone
    expect(page.locator(f'#ratings li[data-id="{rating["id"]}"] .r-reveals li')).to_have_text(
        [seen]
    )
    assert CLEAR not in page.content() and MASKED not in page.content()
    status, gone = s.request("POST", f"/api/v1/ratings/{rating['id']}/phone/reveal", {}, manager)
    assert status == 409 and gone["error"]["code"] == "phone_erased"
    raw = on_disk(s.db)
    assert sealed not in raw and CLEAR.encode() not in raw and MASKED.encode() not in raw

    page.goto(f"{s.url}/manager/ratings?lang=en")
    in_english = page.locator(f'#ratings li[data-id="{rating["id"]}"]')
    expect(in_english).to_contain_text("Number deleted")
    expect(in_english).to_contain_text("Number viewed by")
    expect(in_english.locator(".r-reveals li")).to_have_text([re.compile(r"^manager \(.+\)$")])


def test_the_pad_types_the_number_on_big_keys_and_skipping_is_one_tap(
    live_server: ServerProcess, touch_page: Page
) -> None:
    s = live_server
    pad = touch_page
    pad.set_viewport_size({"width": 1280, "height": 800})
    pad.goto(s.pairing_url("/rate/4", "pad:4"))
    expect(pad.locator("#idle")).to_be_visible()

    first = served(s, "4", "household-registration")
    expect(pad.locator("#number")).to_have_text(first["number"])
    pad.locator("#form button[data-level='2']").click()
    pad.locator("#form button[data-reason='wait_long']").click()
    keys = pad.locator("#form .keypad")
    expect(keys).to_have_attribute("aria-label", "数字键盘")
    expect(pad.locator("#form .phone-box input")).to_have_attribute("inputmode", "none")
    for digit in "139000011112":  # one too many: the field stops at 11
        keys.locator(f"button[data-key='{digit}']").click()
    keys.locator("button[data-key='back']").click()
    keys.locator("button[data-key='1']").click()
    expect(pad.locator("#form .phone-box input")).to_have_value("13900001111")
    for key in keys.locator("button").all():
        box = key.bounding_box()
        assert box and box["height"] >= 64 and box["width"] >= 64, key.text_content()
    pad.locator("#form .phone-box").scroll_into_view_if_needed()
    screenshot(pad, "journey-pad-bad-rating-phone-keypad")
    assert axe_violations(pad) == []
    pad.locator("[data-action='send-rating']").click()
    expect(pad.locator("#thanks")).to_be_visible()
    expect(pad.locator("#thanks-phone")).to_have_text(
        "我们会尽快与您联系（139****1111），回访后号码即删除"
    )

    second = served(s, "4", "household-registration")
    pad.goto(f"{s.url}/rate/4?lang=en")
    expect(pad.locator("#number")).to_have_text(second["number"])
    pad.locator("#form button[data-level='1']").click()
    pad.locator("#form button[data-reason='slow']").click()
    expect(pad.locator("#form .phone-box legend")).to_have_text(
        "Leave your mobile number so that we can contact you (optional)"
    )
    keys.locator("button[data-key='5']").click()  # typed something, then thought better of it
    pad.get_by_role("button", name="Send without a number").click()
    expect(pad.locator("#thanks")).to_be_visible()
    expect(pad.locator("#thanks-phone")).to_be_hidden()

    manager = s.login("manager")
    _, listed = s.request("GET", "/api/v1/ratings?followup=open", token=manager)
    by_number = {r["number"]: r["phone_masked"] for r in listed}
    assert by_number[first["number"]] == "139****1111"
    assert by_number[second["number"]] is None
