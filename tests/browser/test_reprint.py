"""Tickets that did not print, in a real Chromium against the demo hall's simulated printers:
the visitor reprints from the kiosk's ticket screen, a clerk from the console's print jobs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import axe_violations, screenshot_both
from tests.browser.test_board_staff import staff_context
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def simulate(server: ServerProcess, kiosk: str, action: str) -> None:
    status, body = server.request(
        "POST", f"/api/v1/devices/{kiosk}/simulate", {"action": action}, server.login("manager")
    )
    assert status == 200, body


def printed(server: ServerProcess, kiosk: str, number: str) -> int:
    _, tickets = server.request(
        "GET", f"/api/v1/devices/{kiosk}/printed", token=server.login("manager")
    )
    return sum(bool(number in t["lines"] and t["cut"]) for t in tickets)


def test_kiosk_reprints_a_ticket_after_the_paper_ran_out_once_it_is_refilled(
    touch_page: Page, live_server: ServerProcess
) -> None:
    s, page = live_server, touch_page
    page.goto(s.pairing_url("/kiosk/k1?idle=600", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    simulate(s, "k1", "paper_out")
    page.wait_for_function("hallqKiosk.state.printer === 'paper_out'")
    # the kiosk says so before a number is taken, and asks
    expect(page.locator("#printer-down")).to_contain_text("本机暂时不能打印号票（打印机缺纸）")
    page.locator('.service[data-service="tax"]').tap()
    confirm = page.locator("#printer-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("本机打印机缺纸，号票打印不出来")
    screenshot_both(page, "kiosk-printer-off-confirm")
    page.locator("#printer-cancel").tap()
    expect(confirm).to_be_hidden()
    expect(page.locator("#start")).to_be_visible()
    page.locator('.service[data-service="tax"]').tap()
    page.locator("#printer-go").tap()
    number = page.locator("#ticket-number")
    expect(number).to_have_text(re.compile(r"^\w\d{3}$"))
    keep, reprint = page.locator("#ticket-keep"), page.locator("#reprint-btn")
    expect(keep).to_have_attribute("data-print", "failed")
    expect(keep).to_contain_text("号票没有打印出来：打印机缺纸")
    expect(page.locator("#ticket-qr-box")).to_have_class(re.compile(r"\bfallback\b"))
    expect(page.locator("#ticket-qr-caption")).to_have_text(re.compile("此二维码就是您的号票"))
    expect(reprint).to_be_visible()
    assert (reprint.bounding_box() or {"height": 0})["height"] >= 64
    screenshot_both(page, "kiosk-print-failed")
    assert axe_violations(page) == []

    page.evaluate(
        """() => { window.printStates = [];
        new MutationObserver(() => printStates.push(document.getElementById('ticket-keep')
          .dataset.print)).observe(document.getElementById('ticket-keep'),
          {attributes: true, attributeFilter: ['data-print']}); }"""
    )
    reprint.tap()
    expect(keep).to_contain_text("重新打印仍未成功：打印机缺纸")
    expect(reprint).to_be_enabled()

    simulate(s, "k1", "paper_ok")
    page.wait_for_function("hallqKiosk.state.printer === 'ok'")
    reprint.tap()
    expect(keep).to_have_attribute("data-print", "done")
    expect(keep).to_have_text("号票已打印，请从出票口取走")
    expect(reprint).to_be_hidden()
    states = page.evaluate("printStates.filter((s, i, all) => s !== all[i - 1])")
    assert (
        states[0] == "queued"
        and "failed" in states
        and states[-2:]
        in (
            ["queued", "done"],
            ["printing", "done"],
        )
    )
    assert printed(s, "k1", number.inner_text()) == 1


def test_clerk_sees_a_failed_print_live_and_reprints_it_by_keyboard(
    browser: Browser, live_server: ServerProcess
) -> None:
    s = live_server
    failed_before = len(
        s.request("GET", "/api/v1/print-jobs?state=failed", token=s.login("staff1"))[1]
    )
    page = staff_context(browser, s, "staff1").new_page()
    page.goto(f"{s.url}/staff")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    box = page.locator("#print-jobs")
    expect(box).to_have_attribute("data-count", str(failed_before))

    simulate(s, "k2", "paper_out")
    status, body = s.request(
        "POST", "/api/v1/tickets", {"service": "tax", "kiosk": "k2"}, token=s.paired("k2")
    )
    assert status == 201, body
    number = body["ticket"]["number"]
    expect(box).to_have_attribute("data-count", str(failed_before + 1))
    expect(page.locator("#jobs-summary")).to_have_text(f"今天 {failed_before + 1} 张没有打印出来")

    page.keyboard.press("j")
    row = page.locator("#jobs tr").filter(has_text=number)
    expect(row).to_contain_text("二楼")
    expect(row).to_contain_text("打印机缺纸")
    expect(row.locator("button")).to_be_focused()
    screenshot_both(page, "staff-print-jobs")
    assert axe_violations(page) == []

    simulate(s, "k2", "paper_ok")
    page.keyboard.press("Enter")
    expect(row.locator(".note")).to_have_text("已打印，请到 二楼 取票")
    expect(box).to_have_attribute("data-count", str(failed_before))
    assert printed(s, "k2", number) == 1
    page.keyboard.press("Escape")
    expect(page.locator("#jobs-dialog")).not_to_be_visible()
