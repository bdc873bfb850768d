"""Error pages people land on (issue 11, item 12): a mistyped address gets the hall's own page
in the reader's language, sentences are whole in one language ("没有编号为“k9”的自助机", not
"没有 kiosk k9"), and a clerk opening the manager's page is told they have no permission
instead of being sent to a login form they have already passed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import screenshot_both
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

LATIN_WORD = re.compile(r"\b(kiosk|window|not found|no)\b", re.I)


def test_an_unknown_address_gets_a_chinese_404_page_and_english_on_request(
    page: Page, live_server: ServerProcess
) -> None:
    resp = page.goto(f"{live_server.url}/no/such/page")
    assert resp is not None and resp.status == 404
    expect(page.locator("h1")).to_have_text("找不到此页面")
    expect(page.locator("main")).to_contain_text("这个地址没有页面。")
    assert "Not Found" not in page.content()
    screenshot_both(page, "error-404")
    page.goto(f"{live_server.url}/no/such/page?lang=en")
    expect(page.locator("h1")).to_have_text("Page not found")
    api = page.request.get(f"{live_server.url}/api/v1/nothing-here")
    assert api.status == 404 and api.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "sentence"),
    [("/kiosk/k9", "没有编号为“k9”的自助机。"), ("/board?window=99", "没有“99”号窗口。")],
)
def test_not_found_sentences_are_whole_chinese(
    page: Page, live_server: ServerProcess, path: str, sentence: str
) -> None:
    resp = page.goto(live_server.url + path)
    assert resp is not None and resp.status == 404
    text = page.locator("main").inner_text()
    assert sentence in text
    assert not LATIN_WORD.search(text), text


def test_a_clerk_opening_the_managers_page_is_told_they_have_no_permission(
    browser: Browser, live_server: ServerProcess
) -> None:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    assert ctx.request.post(
        f"{live_server.url}/api/v1/auth/login", data={"username": "staff1", "password": "demo"}
    ).ok
    page = ctx.new_page()
    for path in ("/manager", "/manager/reports"):
        resp = page.goto(live_server.url + path)
        assert resp is not None and resp.status == 403
        assert "/login" not in page.url
        expect(page.locator("h1")).to_have_text("没有权限")
        expect(page.locator("main")).to_contain_text("staff1（窗口工作人员）不能打开此页面")
    screenshot_both(page, "error-403-clerk-on-manager")
    page.locator("a", has_text="回到窗口工作台").click()
    expect(page).to_have_url(re.compile(r"/staff$"))
    ctx.close()


def test_server_errors_reach_chinese_screens_in_chinese(
    browser: Browser, live_server: ServerProcess
) -> None:
    """Issue 11, item 1: the kiosk and the console show the API's errors in their language."""
    kiosk = browser.new_context(locale="en-US", has_touch=True).new_page()  # an English browser
    kiosk.goto(live_server.pairing_url("/kiosk/k1", "k1"))
    expect(kiosk.locator("body")).to_have_attribute("data-link", "open")
    kiosk.locator("#appt-btn").tap()
    kiosk.locator("#appt-input").fill("ZZZZ2345")
    kiosk.locator("#appt-go").tap()
    expect(kiosk.locator("#appt-error")).to_have_text("没有找到这个预约码，请核对")
    kiosk.context.close()

    clerk = browser.new_context(locale="en-US")
    assert clerk.request.post(
        f"{live_server.url}/api/v1/auth/login", data={"username": "staff2", "password": "demo"}
    ).ok
    page = clerk.new_page()
    page.goto(f"{live_server.url}/staff")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    page.keyboard.press("c")
    page.locator("#number-input").fill("A999")
    page.keyboard.press("Enter")
    message = page.locator("#message")
    expect(message).to_have_attribute("data-kind", "error")
    expect(message).not_to_be_empty()
    assert not re.search(r"[A-Za-z]{3,}", message.inner_text().replace("A999", "")), (
        message.inner_text()
    )
    clerk.close()
