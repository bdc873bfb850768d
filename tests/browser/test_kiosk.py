"""The touchscreen kiosk in a real Chromium: taking a ticket by touch, search, language,
accessibility and touch-target sizes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from kiosk_ui.search import catalog, initials
from tests.browser.helpers import axe_violations, screenshot_both
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def open_kiosk(page: Page, server: ServerProcess, query: str = "") -> None:
    page.goto(server.pairing_url(f"/kiosk/k1{query}", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")


def test_pinyin_initials_are_computed_server_side(demo_config) -> None:
    assert initials("社会保障卡申领") == "shbzksl"
    items = {i["name"]: i for i in catalog(demo_config)}
    assert items["社会保障卡申领"]["initials"][0] == "shbzksl"
    assert items["社会保障卡申领"]["service"] == "social-insurance"
    assert items["社会保障卡申领"]["pinyin"][0] == "she hui bao zhang ka shen ling"
    # the short names people use are keywords, with their own pinyin
    assert {"社保", "社保卡"} <= set(items["社会保障卡申领"]["keywords"])
    assert "she bao ka" in items["社会保障卡申领"]["pinyin"]


def test_visitor_takes_a_ticket_by_touch_and_sees_it(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    open_kiosk(page, live_server)
    page.locator('.service[data-service="medical-insurance"]').tap()
    number = page.locator("#ticket-number")
    expect(number).to_have_text(re.compile(r"^B\d{3}$"))
    status, tickets = live_server.request(
        "GET", "/api/v1/tickets", token=live_server.login("admin")
    )
    assert status == 200
    mine = next(t for t in tickets if t["number"] == number.inner_text())
    assert mine["kiosk"] == "k1" and mine["service"] == "medical-insurance"
    expect(page.locator("#ticket-service")).to_have_text("医疗保障")
    expect(page.locator("#ticket-eta")).to_have_text(re.compile(r"约 \d+–\d+ 分钟"))
    qr = page.locator("#ticket-qr")
    expect(qr).to_have_attribute("src", re.compile(r"/qr\.svg\?data=.*%2Ft%2F" + mine["token"]))
    page.wait_for_function("document.getElementById('ticket-qr').naturalWidth > 0")
    screenshot_both(page, "kiosk-ticket")
    page.locator("#done-btn").tap()
    expect(page.locator("#start")).to_be_visible()


def test_search_by_pinyin_initials_takes_a_ticket_for_the_items_service(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    open_kiosk(page, live_server)
    page.locator("#search-btn").tap()
    for key in "SBK":
        page.locator(f'#search .key[data-key="{key}"]').tap()
    expect(page.locator("#search-input")).to_have_value("sbk")
    first = page.locator("#results .result").first
    expect(first).to_contain_text("社会保障卡")
    screenshot_both(page, "kiosk-search")
    first.tap()
    expect(page.locator("#ticket-number")).to_have_text(re.compile(r"^A\d{3}$"))


def test_search_by_chinese_name_and_english_name(page: Page, live_server: ServerProcess) -> None:
    open_kiosk(page, live_server)
    page.locator("#search-btn").click()
    page.locator("#search-input").fill("户口")
    expect(page.locator("#results .result").first).to_contain_text("户口")
    page.locator("#search-input").fill("pension")
    expect(page.locator("#results")).to_contain_text("城乡居民基本养老保险待遇申领")


def test_english_switch_turns_the_kiosk_english_and_idle_brings_chinese_back(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    page.clock.install()
    open_kiosk(page, live_server, "?idle=30")
    expect(page.locator("#start-h")).to_have_text("请选择要办理的业务")
    page.locator("a.lang-switch").tap()
    expect(page.locator("#start-h")).to_have_text("Please choose a service")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator('.service[data-service="tax"] .s-name')).to_have_text("Taxation")
    page.clock.fast_forward("00:40")
    expect(page.locator("#start-h")).to_have_text("请选择要办理的业务")


def test_elder_mode_enlarges_type_and_queues_a_voice_prompt(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    open_kiosk(page, live_server)
    size = page.locator(".s-name").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    page.locator("#elder-btn").tap()
    expect(page.locator("#elder-btn")).to_have_attribute("aria-pressed", "true")
    bigger = page.locator(".s-name").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert bigger >= size * 1.3
    page.wait_for_function("hallqKiosk.voice.announced.length === 1")
    clips = page.evaluate("hallqKiosk.voice.announced[0].parts[0][1]")
    assert clips == ["p_choose"]
    page.locator('.service[data-service="tax"]').tap()
    page.wait_for_function(
        "hallqKiosk.voice.announced.length + hallqKiosk.voice.queue.length === 2"
    )
    spoken = page.evaluate(
        "[...hallqKiosk.voice.announced, ...hallqKiosk.voice.queue][1].parts[0][1]"
    )
    number = page.locator("#ticket-number").inner_text()
    assert spoken[0] == "p_your_number" and spoken[-1] == "p_wait"
    assert spoken[1:-1] == [number[0]] + [f"d{c}" for c in number[1:]]
    screenshot_both(page, "kiosk-elder")


def test_kiosk_touch_targets_are_at_least_60_px(
    browser: Browser, live_server: ServerProcess
) -> None:
    small = []
    for w, h in ((1080, 1920), (1920, 1080)):
        ctx = browser.new_context(
            bypass_csp=True, viewport={"width": w, "height": h}, has_touch=True
        )
        page = ctx.new_page()
        open_kiosk(page, live_server)
        for screen, opener in (("start", None), ("search", "#search-btn"), ("appt", "#appt-btn")):
            if opener:
                page.locator(opener).tap()
            for target in page.locator(f"#{screen} button:visible, header .btn:visible").all():
                b = target.bounding_box()
                if b and (b["width"] < 60 or b["height"] < 60):
                    small.append((f"{w}x{h}", screen, target.inner_text(), b))
            if opener:
                page.locator(f"#{screen} [data-back]").tap()
        ctx.close()
    assert not small


def test_kiosk_has_no_serious_accessibility_violations(
    page: Page, live_server: ServerProcess
) -> None:
    open_kiosk(page, live_server)
    screenshot_both(page, "kiosk-start")
    assert axe_violations(page) == []
    page.locator("#search-btn").click()
    page.locator("#search-input").fill("sb")
    assert axe_violations(page) == []


def test_unknown_kiosk_gets_a_not_found_page(page: Page, live_server: ServerProcess) -> None:
    resp = page.goto(f"{live_server.url}/kiosk/nowhere")
    assert resp is not None and resp.status == 404
    expect(page.locator("h1")).to_have_text("找不到此页面")
