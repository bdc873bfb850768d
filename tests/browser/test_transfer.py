"""Transfer to a window or a colleague, with a note (issue 11, item 3), as two clerks do it:
clerk A at window 9 sends the visitor to window 3 with 材料已收，缺户口本复印件; clerk B at window
3 sees the ticket in their own line with the note and who sent it, calls it before their
ordinary queue, and still sees the note while serving. The visitor's phone says 已转至 3号窗口
and never shows the note."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.helpers import axe_violations, screenshot
from tests.support import ServerProcess

pytestmark = pytest.mark.browser

NOTE = "材料已收，缺户口本复印件 <b>加急</b>"


def clerk(browser: Browser, server: ServerProcess, user: str, lang: str = "zh") -> Page:
    ctx: BrowserContext = browser.new_context(
        bypass_csp=True, viewport={"width": 1920, "height": 1080}, locale="zh-CN"
    )
    resp = ctx.request.post(
        f"{server.url}/api/v1/auth/login", data={"username": user, "password": "demo"}
    )
    assert resp.ok, resp.text()
    page = ctx.new_page()
    page.goto(f"{server.url}/staff?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    return page


def take(server: ServerProcess, service: str) -> dict:
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    return body["ticket"]


def test_clerk_a_sends_a_visitor_to_window_3_with_a_note_and_clerk_b_calls_them_first(
    browser: Browser, live_server: ServerProcess
) -> None:
    a = clerk(browser, live_server, "staff9")  # window 9: tax, business
    b = clerk(browser, live_server, "staff3")  # window 3: medical, then social insurance
    visitor = take(live_server, "tax")
    ordinary = take(live_server, "social-insurance")  # window 3's own queue
    number = visitor["number"]
    expect(a.locator(".act-call")).to_be_enabled()
    a.keyboard.press("n")
    expect(a.locator("#cur-number")).to_have_attribute("data-number", number)

    a.keyboard.press("t")
    dialog = a.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    expect(a.locator("#transfer-h")).to_have_text(f"转移 {number}")
    expect(a.locator("#transfer-tab-service")).to_have_attribute("aria-selected", "true")
    assert a.locator('#transfer-options [data-service="tax"]').count() == 0  # never its own
    a.keyboard.press("ArrowRight")
    expect(a.locator("#transfer-tab-window")).to_have_attribute("aria-selected", "true")
    target = a.locator('#transfer-options [data-window="3"]')
    expect(target).to_contain_text("3号窗口")
    expect(target).to_contain_text("开放·有人")  # clerk B is logged in there
    assert a.locator('#transfer-options [data-window="9"]').count() == 0  # never itself
    a.keyboard.press("3")  # the third window listed: 1, 2, 3
    expect(target).to_have_attribute("aria-pressed", "true")
    a.locator("#transfer-note").fill(NOTE)
    expect(a.locator("#transfer-note-left")).to_have_text(f"还可输入 {200 - len(NOTE)} 字")
    assert axe_violations(a) == []
    screenshot(a, "console-transfer-dialog")
    a.locator("#transfer-note").press("Control+Enter")
    expect(dialog).to_be_hidden()
    expect(a.locator("#message")).to_have_text(f"{number} 已转到 3号窗口")
    expect(a.locator("#cur-number")).to_have_attribute("data-number", "")

    phone = a.context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{live_server.url}/t/{visitor['token']}")
    expect(phone.locator("#status")).to_have_text("已转至 3号窗口，请留意叫号")
    expect(phone.locator("#ahead")).to_have_text("0")
    expect(phone.locator("#eta")).not_to_have_text("–")  # window 3 is staffed: it can tell
    expect(phone.locator("body")).not_to_contain_text("户口本")
    screenshot(phone, "phone-transferred-to-window")

    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1920, "height": 1080})
    assert ctx.request.post(
        f"{live_server.url}/api/v1/auth/login", data={"username": "manager", "password": "demo"}
    ).ok
    manager = ctx.new_page()  # the dashboard says where the visitor waits
    manager.goto(f"{live_server.url}/manager")
    expect(manager.locator('#windows tr[data-window="3"]')).to_contain_text("另有 1 位转入等候")
    ctx.close()

    sent = b.locator(f'#waiting [data-sent] [data-number="{number}"]')
    expect(sent).to_be_visible()
    expect(sent).to_contain_text(NOTE)  # as text: the markup is shown, not obeyed
    expect(sent).to_contain_text("工号 staff9")
    assert b.locator("#waiting [data-sent] b").count() == 0
    screenshot(b, "console-transfer-waiting-at-window-3")
    b.keyboard.press("n")  # before the ordinary queue of window 3
    expect(b.locator("#cur-number")).to_have_attribute("data-number", number)
    expect(b.locator("#cur-sent")).to_be_visible()
    expect(b.locator("#cur-sent-note")).to_have_text(NOTE)
    expect(b.locator("#cur-sent-from")).to_contain_text("工号 staff9")
    expect(b.locator("#cur-sent-from")).to_contain_text("9号窗口")
    expect(b.locator("#cur-service")).to_have_text("税务")
    screenshot(b, "console-transfer-called-at-window-3")
    expect(phone.locator("#go")).to_contain_text("3号窗口")
    b.keyboard.press("s")
    expect(b.locator("#cur-status")).to_have_text("办理中")
    expect(b.locator("#cur-sent-note")).to_have_text(NOTE)  # still there while serving
    b.keyboard.press("n")
    expect(b.locator("#cur-number")).to_have_attribute("data-number", ordinary["number"])
    expect(b.locator("#cur-sent")).to_be_hidden()
    b.keyboard.press("f")
    a.context.close()
    b.context.close()


def test_transfer_to_a_colleague_in_english_shows_who_is_where(
    browser: Browser, live_server: ServerProcess
) -> None:
    a = clerk(browser, live_server, "staff8", lang="en")  # window 8: business, tax
    b = clerk(browser, live_server, "staff10")  # window 10
    number = take(live_server, "business")["number"]
    expect(a.locator(".act-call")).to_be_enabled()
    a.keyboard.press("n")
    expect(a.locator("#cur-number")).to_have_attribute("data-number", number)
    a.keyboard.press("t")
    a.locator("#transfer-tab-staff").click()
    expect(a.locator("#transfer-h")).to_have_text(f"Transfer {number}")
    colleague = a.locator('#transfer-options [data-staff="staff10"]')
    expect(colleague).to_contain_text("staff no. staff10")
    expect(colleague).to_contain_text("at Window 10")
    expect(a.locator('#transfer-options [data-staff="staff2"]')).to_contain_text("not logged in")
    assert a.locator('#transfer-options [data-staff="staff8"]').count() == 0
    expect(a.locator("#transfer-options button").first).to_contain_text(
        "at Window"
    )  # at work first
    a.locator("#transfer-ok").click()  # nothing chosen yet
    expect(a.locator("#transfer-error")).to_have_text("Choose where to transfer first")
    assert axe_violations(a) == []
    screenshot(a, "console-transfer-colleague-en")
    colleague.click()
    a.locator("#transfer-ok").click()
    expect(a.locator("#message")).to_contain_text(f"{number} transferred to")
    expect(b.locator(f'#waiting [data-sent] [data-number="{number}"]')).to_contain_text("转给我")
    b.keyboard.press("n")
    expect(b.locator("#cur-number")).to_have_attribute("data-number", number)
    expect(b.locator("#cur-sent-note")).to_have_text("—")
    b.keyboard.press("f")
    a.context.close()
    b.context.close()
