"""Boards and the staff console in a real Chromium, against a real hall server: calls by
keyboard reach the board within a second, announcements queue in order, boards survive a
server restart, pages are accessible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.helpers import axe_violations, screenshot_both
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def issue(server: ServerProcess, service: str = "social-insurance") -> str:
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    return body["ticket"]["number"]


def open_board(page: Page, server: ServerProcess, query: str = "") -> None:
    page.goto(f"{server.url}/board{query}")
    expect(page.locator("body")).to_have_attribute("data-link", "open")


def staff_context(browser: Browser, server: ServerProcess, user: str) -> BrowserContext:
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1920, "height": 1080})
    resp = ctx.request.post(
        f"{server.url}/api/v1/auth/login", data={"username": user, "password": "demo"}
    )
    assert resp.ok, resp.text()
    return ctx


def test_login_page_signs_staff_in_and_lands_on_their_window(
    page: Page, live_server: ServerProcess
) -> None:
    page.goto(f"{live_server.url}/staff")
    expect(page).to_have_url(re.compile(r"/login\?next=/staff$"))
    page.locator("#username").fill("staff2")
    page.locator("#password").fill("wrong")
    page.locator("button[type=submit]").click()
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    screenshot_both(page, "login")
    page.locator("#password").fill("demo")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/staff$"))
    expect(page.locator(".staff-window")).to_have_text("2号窗口")


def test_staff_calls_by_keyboard_and_the_board_shows_it_within_a_second(
    browser: Browser, page: Page, live_server: ServerProcess
) -> None:
    open_board(page, live_server)
    staff = staff_context(browser, live_server, "staff1").new_page()
    staff.goto(f"{live_server.url}/staff")
    expect(staff.locator("body")).to_have_attribute("data-link", "open")
    number = issue(live_server)
    expect(staff.locator(f'#waiting [data-number="{number}"]')).to_be_visible()
    staff.keyboard.press("n")
    expect(staff.locator("#cur-number")).to_have_attribute("data-number", number)
    expect(page.locator("#latest")).to_have_attribute("data-number", number, timeout=1000)
    expect(page.locator('#windows li[data-window="1"]')).to_have_attribute("data-number", number)
    # the voice starts after the burst's chime (1.1 s)
    page.wait_for_function(f"hallqBoard.announced.some(a => a.number === {number!r})", timeout=3000)
    text = page.evaluate(f"hallqBoard.announced.find(a => a.number === {number!r}).text")
    assert text == f"请 {number} 号到 1 号窗口办理"
    expect(staff.locator("#cur-timer")).to_have_text(re.compile(r"^0:0\d$"))
    screenshot_both(staff, "staff")
    screenshot_both(page, "board")
    staff.keyboard.press("f")
    expect(staff.locator("#cur-number")).to_have_attribute("data-number", "")
    staff.context.close()


def test_two_calls_in_quick_succession_are_announced_in_order_without_cutting_off(
    page: Page, live_server: ServerProcess
) -> None:
    open_board(page, live_server)
    first, second = issue(live_server, "tax"), issue(live_server, "tax")
    token = live_server.login("admin")
    for window in ("8", "9"):
        status, _ = live_server.request("POST", f"/api/v1/windows/{window}/call", {}, token=token)
        assert status == 200
    page.wait_for_function("hallqBoard.announced.length + hallqBoard.queue.length >= 2")
    page.wait_for_function(
        f"hallqBoard.announced.some(a => a.number === {second!r} && a.endedAt)", timeout=30000
    )
    said = page.evaluate(
        "hallqBoard.announced.map(a => ({n: a.number, w: a.window, s: a.startedAt,"
        " e: a.endedAt, said: a.said, repeat: a.repeat}))"
    )
    a, b = said[-2], said[-1]
    assert (a["n"], a["w"], b["n"], b["w"]) == (first, "8", second, "9")
    # the first is said once while the second waits; the last of a burst gets its repeats
    assert a["said"] == 1 and b["said"] == b["repeat"] == 2
    assert a["e"] is not None and b["s"] >= a["e"]
    assert page.evaluate("hallqBoard.announcer.chimes") >= 1


def test_window_screen_shows_its_own_number_big(page: Page, live_server: ServerProcess) -> None:
    open_board(page, live_server, "?window=4")
    number = issue(live_server, "household-registration")
    token = live_server.login("staff4")
    assert live_server.request("POST", "/api/v1/windows/4/call", {}, token=token)[0] == 200
    expect(page.locator("#win-number")).to_have_text(number, timeout=1000)
    page.wait_for_function(f"hallqBoard.announced.some(a => a.number === {number!r})")
    screenshot_both(page, "window-screen")


def test_english_board_speaks_and_shows_english(page: Page, live_server: ServerProcess) -> None:
    open_board(page, live_server, "?lang=en")
    expect(page.locator("#latest-h")).to_have_text("Now calling")
    number = issue(live_server, "civil-affairs")
    token = live_server.login("staff6")
    assert live_server.request("POST", "/api/v1/windows/6/call", {}, token=token)[0] == 200
    page.wait_for_function(f"hallqBoard.announced.some(a => a.number === {number!r})")
    entry = page.evaluate(f"hallqBoard.announced.find(a => a.number === {number!r})")
    assert entry["text"] == f"Number {number}, please go to window 6"
    assert entry["parts"][0][1][0] == "number"
    expect(page.locator("#latest")).to_contain_text("please go to Window 6")


def test_staff_see_clear_errors_and_a_consistent_hall(
    browser: Browser, live_server: ServerProcess
) -> None:
    one = staff_context(browser, live_server, "staff10").new_page()
    two = staff_context(browser, live_server, "staff11").new_page()
    for p in (one, two):
        p.goto(f"{live_server.url}/staff")
        expect(p.locator("body")).to_have_attribute("data-link", "open")
    one.keyboard.press("f")
    expect(one.locator("#message")).to_have_attribute("role", "alert")
    expect(one.locator("#message")).not_to_be_empty()
    number = issue(live_server, "help-desk")
    for p in (one, two):
        expect(p.locator(f'#waiting [data-number="{number}"]')).to_be_visible()
    two.locator(".act-call").click()
    expect(two.locator("#cur-number")).to_have_attribute("data-number", number)
    expect(one.locator(f'#waiting [data-number="{number}"]')).to_have_count(0)
    two.keyboard.press("t")
    two.locator('#transfer-options [data-service="general"]').click()
    two.keyboard.press("Enter")
    expect(
        one.locator(f'#waiting [data-service="general"] [data-number="{number}"]')
    ).to_be_visible()
    one.context.close()
    two.context.close()


def test_board_recovers_by_itself_after_the_server_restarts(page: Page, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "hall.db", demo=True).start()
    try:
        open_board(page, server)
        expect(page.locator("body")).to_have_attribute("data-snapshots", "1")
        server.stop()
        expect(page.locator("body")).not_to_have_attribute("data-link", "open")
        expect(page.locator(".link-state")).to_be_visible()
        server.start()
        expect(page.locator("body")).to_have_attribute("data-snapshots", "2", timeout=15000)
        number = issue(server)
        token = server.login("staff1")
        assert server.request("POST", "/api/v1/windows/1/call", {}, token=token)[0] == 200
        expect(page.locator("#latest")).to_have_attribute("data-number", number, timeout=1000)
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/board", "/board?window=3", "/staff", "/login"])
def test_pages_have_no_serious_accessibility_violations(
    browser: Browser, live_server: ServerProcess, path: str
) -> None:
    ctx = staff_context(browser, live_server, "staff3")
    page = ctx.new_page()
    page.goto(live_server.url + path)
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    ctx.close()
