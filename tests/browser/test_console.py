"""The window console as a clerk uses it by keyboard (issue 11, item 2): each action confirms
what actually happened, in the words of the status tag beside it; the third recall says the
visitor became a no-show; buttons that cannot apply are disabled and their shortcuts say why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from hall_server.core import idnumber
from tests.browser.helpers import screenshot_both
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def issue(server: ServerProcess, service: str) -> str:
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    return body["ticket"]["number"]


def console(browser: Browser, server: ServerProcess, user: str) -> Page:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    resp = ctx.request.post(
        f"{server.url}/api/v1/auth/login", data={"username": user, "password": "demo"}
    )
    assert resp.ok, resp.text()
    page = ctx.new_page()
    page.goto(f"{server.url}/staff")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    return page


def button(page: Page, action: str) -> Locator:
    return page.locator(f'.actions [data-action="{action}"]')


def test_console_confirms_what_happened_and_disables_what_cannot_apply(
    browser: Browser, live_server: ServerProcess
) -> None:
    page = console(browser, live_server, "staff11")  # window 11: help-desk, then general
    message, tag = page.locator("#message"), page.locator("#cur-status")
    for action in ("recall", "start", "finish", "no-show", "transfer"):
        expect(button(page, action)).to_be_disabled()
    expect(button(page, "call")).to_be_disabled()  # nobody waiting
    page.keyboard.press("r")
    expect(message).to_have_text("当前没有号码")

    first = issue(live_server, "help-desk")
    expect(button(page, "call")).to_be_enabled()
    page.keyboard.press("n")
    expect(message).to_have_text(f"已呼叫 {first}")
    expect(tag).to_have_text("已呼叫")
    for action in ("recall", "start", "finish", "no-show", "transfer"):
        expect(button(page, action)).to_be_enabled()

    page.keyboard.press("s")
    expect(message).to_have_text(f"{first} 开始办理")  # not 已完成 beside 办理中
    expect(tag).to_have_text("办理中")
    for action in ("recall", "start", "no-show"):
        expect(button(page, action)).to_be_disabled()
    page.keyboard.press("x")
    expect(message).to_have_text(f"{first} 已在办理中")
    expect(tag).to_have_text("办理中")
    screenshot_both(page, "console-serving")

    page.keyboard.press("f")
    expect(message).to_have_text(f"{first} 已办结")
    expect(page.locator("#cur-number")).to_have_attribute("data-number", "")

    second = issue(live_server, "help-desk")
    expect(button(page, "call")).to_be_enabled()
    page.keyboard.press("n")
    expect(message).to_have_text(f"已呼叫 {second}")
    page.keyboard.press("r")
    expect(message).to_have_text(f"已重呼 {second}（第 1 次）")
    page.keyboard.press("r")
    expect(message).to_have_text(f"已重呼 {second}（第 2 次，再重呼将记为未到）")
    page.keyboard.press("r")
    expect(message).to_have_text(f"{second} 重呼 2 次仍未到，已记为未到")
    expect(message).to_have_attribute("data-kind", "warn")
    expect(page.locator("#cur-number")).to_have_attribute("data-number", "")
    expect(button(page, "recall")).to_be_disabled()
    # the visitor turns up after all: the clerk takes the no-show back within the minute
    expect(page.locator("#undo-btn")).to_be_visible()
    screenshot_both(page, "console-no-show-undo")
    page.keyboard.press("u")
    expect(message).to_have_text(f"已撤销：{second} 重新呼叫到本窗口")
    expect(page.locator("#cur-number")).to_have_attribute("data-number", second)
    expect(tag).to_have_text("已呼叫")
    expect(page.locator("#undo-btn")).to_be_hidden()
    page.keyboard.press("x")
    expect(message).to_have_text(f"{second} 已记为未到")
    expect(page.locator("#undo-btn")).to_be_visible()  # offered again, for this no-show

    third = issue(live_server, "help-desk")
    expect(button(page, "call")).to_be_enabled()
    page.keyboard.press("n")
    expect(message).to_have_text(f"已呼叫 {third}")
    page.keyboard.press("t")
    options = page.locator("#transfer-options button")
    expect(options.first).to_be_visible()
    assert page.locator('#transfer-options [data-service="help-desk"]').count() == 0
    page.locator('#transfer-options [data-service="general"]').click()
    page.locator("#transfer-ok").click()
    expect(message).to_have_text(f"{third} 已转到「综合服务」")

    page.keyboard.press("p")  # a pause says why: 1 午休, 2 会议, 3 业务咨询…
    expect(page.locator("#pause-dialog")).to_be_visible()
    expect(page.locator("#pause-options")).to_contain_text("3. 业务咨询")
    page.keyboard.press("2")
    expect(message).to_have_text("窗口已暂停服务（会议）")
    _, windows = live_server.request("GET", "/api/v1/windows")
    assert next(w for w in windows if w["id"] == "11")["pause_reason"] == "meeting"
    expect(page.locator("#window-status")).to_have_text("窗口已暂停")
    expect(button(page, "call")).to_be_disabled()
    page.keyboard.press("n")
    expect(message).to_have_text("窗口已暂停，请先恢复服务（P）")
    page.keyboard.press("p")
    expect(message).to_have_text("窗口已恢复服务")
    expect(button(page, "call")).to_be_enabled()  # the transferred ticket waits in general
    page.context.close()


OLD_ID = "11010519400101001" + idnumber.check_digit("11010519400101001")


def test_clerk_sees_who_is_in_front_badge_masked_name_and_waiting_time(
    browser: Browser, live_server: ServerProcess
) -> None:
    status, body = live_server.request(
        "POST",
        "/api/v1/tickets",
        {"service": "real-estate", "id_card": {"name": "张三丰", "id_number": OLD_ID}},
        token=live_server.paired("k1"),
    )
    assert status == 201 and body["ticket"]["priority"] == "priority"
    number = body["ticket"]["number"]
    page = console(browser, live_server, "staff7")  # window 7: real-estate
    entry = page.locator(f'#waiting [data-number="{number}"]')
    expect(entry.locator('[data-badge="priority"]')).to_have_text("优先·长者")
    expect(entry).to_contain_text("张*丰")
    expect(entry).to_contain_text(re.compile(r"\d+分"))
    screenshot_both(page, "console-queue-with-priority")
    page.keyboard.press("n")
    who = page.locator("#cur-who")
    expect(page.locator("#cur-number")).to_have_attribute("data-number", number)
    expect(who.locator('[data-badge="priority"]')).to_be_visible()
    expect(who).to_contain_text("张*丰")
    expect(who).to_contain_text(re.compile(r"已等候 \d+ 分钟"))
    assert "1940" not in page.content() and OLD_ID not in page.content()
    page.keyboard.press("f")
    page.context.close()
