"""Nothing falls off a screen (issue 11, item 11): the kiosk in English with large text keeps
every service reachable with a scroll cue nobody can miss, and on phones short labels never
break inside a word (非常不满/意, 3/号/窗/口)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import ORIENTATIONS, screenshot
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, locale="zh-CN", device_scale_factor=2
    )
    yield context.new_page()
    context.close()


def lines(page: Page, selector: str) -> list[int]:
    """How many lines each matching element's text takes."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map((e) => {
             const r = document.createRange(); r.selectNodeContents(e);
             return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
           })""",
        selector,
    )


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_english_large_text_kiosk_keeps_every_service_reachable_with_a_scroll_cue(
    browser: Browser, live_server: ServerProcess, orientation: str
) -> None:
    w, h = ORIENTATIONS[orientation]
    ctx = browser.new_context(viewport={"width": w, "height": h}, has_touch=True, locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server.pairing_url("/kiosk/k1?lang=en&idle=600", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    expect(page.locator("#more-cue")).to_be_hidden()  # normal type: everything fits
    page.locator("#elder-btn").tap()
    cue = page.locator("#more-cue")
    expect(cue).to_be_visible()
    expect(cue).to_contain_text(re.compile(r"\d+ more services"))
    assert page.evaluate("document.scrollingElement.scrollHeight") <= h  # the page never spills
    screenshot(page, f"kiosk-en-elder-{orientation}")
    for _ in range(6):
        box = cue.bounding_box() if cue.is_visible() else None
        if not box:
            break
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        expect(page.locator("body")).to_have_attribute("data-scrolling", "0")  # scroll ended
    expect(cue).to_be_hidden()
    last = page.locator("#services .service").last
    box = last.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= h
    screenshot(page, f"kiosk-en-elder-scrolled-{orientation}")
    last.tap()
    expect(page.locator("#ticket-number")).to_have_text(re.compile(r"^K\d{3}$"))
    ctx.close()


def test_phone_labels_never_break_inside_a_word(phone: Page, live_server: ServerProcess) -> None:
    phone.goto(live_server.pairing_url("/rate/3", "pad:3"))
    expect(phone.locator("#window-name")).to_have_text("3号窗口")
    assert lines(phone, "#window-name") == [1]  # not 3/号/窗/口
    screenshot(phone, "phone-rate-pad-idle")

    status, body = live_server.request(
        "POST", "/api/v1/tickets", {"service": "tax"}, token=live_server.paired("k1")
    )
    assert status == 201
    token = live_server.login("staff9")
    while True:  # serve the queue down to our ticket
        status, called = live_server.request("POST", "/api/v1/windows/9/call", {}, token)
        assert status == 200, called
        live_server.request("POST", "/api/v1/windows/9/finish", {}, token)
        if called["ticket"]["number"] == body["ticket"]["number"]:
            break
    phone.goto(f"{live_server.url}/t/{body['ticket']['token']}")
    levels = phone.locator("#rating .levels button, .levels button")
    expect(levels.first).to_be_visible()
    expect(phone.locator(".levels")).to_contain_text("非常不满意")
    assert set(lines(phone, ".levels button > span:not(.stars)")) == {1}
    screenshot(phone, "phone-progress-rating")
