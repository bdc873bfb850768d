"""Finding what one came for at the kiosk (issue 11, item 5): everyday words and short names,
full pinyin as well as initials, the best match first, one-tap common words, and a way to
browse by category for those who cannot type."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import screenshot_both
from tests.support import ServerProcess

pytestmark = pytest.mark.browser


def open_search(page: Page, server: ServerProcess) -> None:
    page.goto(server.pairing_url("/kiosk/k1", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    page.locator("#search-btn").tap()
    expect(page.locator("#search")).to_be_visible()


@pytest.mark.parametrize(
    ("typed", "first", "among"),
    [
        ("社保", "社会保障", "社会保障卡补领、换领(即时制卡)"),
        ("社保卡", "社会保障卡", "社会保障卡补领、换领(即时制卡)"),
        ("医保", "医疗保障", "医疗费用手工(零星)报销"),
        ("户口本", "户籍证件", "居民户口簿补(换)领"),
        ("残疾证", "残疾人证", "残疾人证挂失补办"),
        ("房产证", "不动产", "不动产权证书补发、换发登记"),
        ("个税", "个人所得税综合所得年度汇算", "个人所得税综合所得年度汇算"),
        ("shebao", "社会保障", "社会保障卡申领"),
        ("gongjijin", "公积金", "住房公积金租房提取"),
        ("baozhang", "社会保障", "医疗保障"),
    ],
)
def test_everyday_words_and_full_pinyin_find_the_item(
    touch_page: Page, live_server: ServerProcess, typed: str, first: str, among: str
) -> None:
    open_search(touch_page, live_server)
    touch_page.locator("#search-input").fill(typed)
    expect(touch_page.locator("#results .result").first).to_contain_text(first)
    expect(touch_page.locator("#results")).to_contain_text(among)
    expect(touch_page.locator("#search-none")).to_be_hidden()


def test_full_pinyin_typed_on_the_kiosk_keyboard_and_a_common_word_by_one_tap(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    open_search(page, live_server)
    expect(page.locator('#search .key[data-key="1"]')).to_be_visible()  # digits too
    for key in "GONGJIJIN":
        page.locator(f'#search .key[data-key="{key}"]').tap()
    expect(page.locator("#search-input")).to_have_value("gongjijin")
    expect(page.locator("#results .result").first).to_contain_text("公积金")
    page.locator('#word-chips [data-word="医保"]').tap()
    expect(page.locator("#search-input")).to_have_value("医保")
    expect(page.locator("#results .result").first).to_contain_text("医疗保障")
    screenshot_both(page, "kiosk-search-common-word")
    page.locator("#results .result").nth(1).tap()  # an item of 医疗保障
    expect(page.locator("#ticket-number")).to_have_text(re.compile(r"^B\d{3}$"))


def test_browsing_by_category_takes_a_ticket_without_typing(
    touch_page: Page, live_server: ServerProcess
) -> None:
    page = touch_page
    page.goto(live_server.pairing_url("/kiosk/k1", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    page.locator("#browse-btn").tap()
    expect(page.locator("#categories")).to_be_in_viewport()
    expect(page.locator("#categories [data-category]")).to_have_count(10)
    screenshot_both(page, "kiosk-browse-categories")
    page.locator('#categories [data-category="disability-health"]').tap()
    expect(page.locator("#browse-h")).to_have_text("残联卫健")
    item = page.locator("#category-items .result", has_text="残疾人证新办")
    expect(item).to_be_visible()
    screenshot_both(page, "kiosk-browse-items")
    page.locator("#category-back").tap()
    expect(page.locator("#categories")).to_be_visible()
    page.locator('#categories [data-category="disability-health"]').tap()
    item.tap()
    expect(page.locator("#ticket-number")).to_have_text(re.compile(r"^E\d{3}$"))


def test_kiosk_clock_shows_the_halls_time_not_the_devices(
    browser: Browser, live_server: ServerProcess
) -> None:
    ctx = browser.new_context(timezone_id="Europe/London", locale="zh-CN")
    page = ctx.new_page()
    page.goto(live_server.pairing_url("/kiosk/k1", "k1"))
    hall_time = page.evaluate(
        "new Date().toLocaleTimeString('zh-CN', {timeZone: 'Asia/Shanghai', hour: '2-digit',"
        " minute: '2-digit', hour12: false})"
    )
    expect(page.locator("#clock")).to_have_attribute("data-time", hall_time)
    ctx.close()


def test_the_item_found_at_the_kiosk_is_on_the_ticket_the_printout_and_the_console(
    browser: Browser, touch_page: Page, live_server: ServerProcess
) -> None:
    """Issue 11, item 4: a visitor who searched 社保卡 and chose 补领、换领 gets a ticket that
    says so, and the clerk who calls them learns what they came for."""
    item = "社会保障卡补领、换领(即时制卡)"
    open_search(touch_page, live_server)
    touch_page.locator("#search-input").fill("社保卡")
    touch_page.locator("#results .result", has_text=item).tap()
    number = touch_page.locator("#ticket-number")
    expect(number).to_have_text(re.compile(r"^A\d{3}$"))
    expect(touch_page.locator("#ticket-item")).to_have_text(item)
    expect(touch_page.locator("#ticket-keep")).to_have_attribute("data-print", "done")
    mine = number.inner_text()
    token = live_server.login("manager")
    _, printed = live_server.request("GET", "/api/v1/devices/k1/printed", token=token)
    ticket = next(t for t in printed if mine in t["lines"])
    assert item in ticket["lines"]

    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    assert ctx.request.post(
        f"{live_server.url}/api/v1/auth/login", data={"username": "admin", "password": "demo"}
    ).ok
    console = ctx.new_page()
    console.goto(f"{live_server.url}/staff?window=2")
    expect(console.locator("body")).to_have_attribute("data-link", "open")
    console.locator(".act-call").click()  # window 2 takes 社会保障 first, in order
    expect(console.locator("#cur-number")).not_to_have_attribute("data-number", "")
    while console.locator("#cur-number").get_attribute("data-number") != mine:
        console.keyboard.press("f")
        expect(console.locator("#cur-number")).to_have_attribute("data-number", "")
        console.locator(".act-call").click()
        expect(console.locator("#cur-number")).not_to_have_attribute("data-number", "")
    expect(console.locator("#cur-item")).to_have_text(item)
    console.keyboard.press("f")
    ctx.close()
