"""Every page a person sees, in both orientations (1920x1080 and 1080x1920), saved under
test-artifacts/screenshots/every-page-* for a person to look at; each one must not spill
sideways (no horizontal scrolling) in either orientation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import ORIENTATIONS, SCREENSHOTS
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def both(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for orientation, (w, h) in ORIENTATIONS.items():
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(150)  # layouts settle (board tiles, kiosk cue)
        page.screenshot(path=str(SCREENSHOTS / f"every-page-{name}-{orientation}.png"))
        spill = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert spill <= 0, f"{name} spills {spill} px sideways in {orientation}"


def signed_in(browser: Browser, server: ServerProcess, user: str) -> Page:
    ctx = browser.new_context(locale="zh-CN", has_touch=True)
    assert ctx.request.post(
        f"{server.url}/api/v1/auth/login", data={"username": user, "password": "demo"}
    ).ok
    return ctx.new_page()


def test_every_page_in_both_orientations(browser: Browser, live_server: ServerProcess) -> None:
    s = live_server
    status, body = s.request(
        "POST", "/api/v1/tickets", {"service": "civil-affairs"}, token=s.paired("k1")
    )
    assert status == 201
    ticket = body["ticket"]
    staff = s.login("staff6")
    assert s.request("POST", "/api/v1/windows/6/call", {}, staff)[0] == 200

    visitor = browser.new_context(locale="zh-CN", has_touch=True).new_page()
    visitor.goto(s.pairing_url("/kiosk/k1", "k1"))  # this browser is kiosk k1
    for name, path in [
        ("kiosk", "/kiosk/k1"),
        ("kiosk-en", "/kiosk/k1?lang=en"),
        ("board", "/board"),
        ("window-screen", "/board?window=6"),
        ("book", "/book"),
        ("progress", f"/t/{ticket['token']}"),
        ("login", "/login"),
        ("not-found", "/no/such/page"),
    ]:
        visitor.goto(s.url + path)
        visitor.wait_for_load_state("networkidle")
        both(visitor, name)
    visitor.goto(s.url + "/kiosk/k1?lang=zh")  # the English kiosk above set the language cookie
    visitor.locator("#search-btn").tap()
    visitor.locator("#search-input").fill("社保")
    both(visitor, "kiosk-search")
    visitor.locator("#search [data-back]").tap()
    visitor.locator("#browse-btn").tap()
    both(visitor, "kiosk-browse")
    visitor.locator("#search [data-back]").tap()
    visitor.locator('.service[data-service="tax"]').tap()
    expect(visitor.locator("#ticket-number")).to_be_visible()
    both(visitor, "kiosk-ticket")
    visitor.context.close()

    pad = browser.new_context(locale="zh-CN", has_touch=True).new_page()
    pad.goto(s.pairing_url("/rate/6", "pad:6"))
    pad.wait_for_load_state("networkidle")
    both(pad, "rate-pad")
    pad.context.close()

    clerk = signed_in(browser, s, "staff6")
    for name, path in [("console", "/staff"), ("no-permission", "/manager")]:
        clerk.goto(s.url + path)
        clerk.wait_for_load_state("networkidle")
        both(clerk, name)
    clerk.context.close()

    manager = signed_in(browser, s, "manager")
    for name, path in [
        ("manager", "/manager"),
        ("manager-reports", "/manager/reports"),
        ("manager-ratings", "/manager/ratings"),
        ("console-choose-window", "/staff"),
    ]:
        manager.goto(s.url + path)
        manager.wait_for_load_state("networkidle")
        both(manager, name)
    manager.context.close()
