"""The visitor's journey in a real Chromium against a real demo hall: booking on a phone, the
progress page following a ticket until it is called and then rated, the evaluator pad."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from hall_server.core import idnumber
from tests.browser.helpers import axe_violations, screenshot
from tests.support import DEMO_CONFIG, ServerProcess

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
VALID_ID = "11010519800101001" + idnumber.check_digit("11010519800101001")
OTHER_ID = "11010519750505002" + idnumber.check_digit("11010519750505002")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A phone-sized touch screen that records vibrations (Chromium headless has no motor)."""
    context = browser.new_context(
        bypass_csp=True,
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
        locale="zh-CN",
        device_scale_factor=2,
    )
    context.add_init_script(
        "window.__vibrations = []; navigator.vibrate = (p) => (window.__vibrations.push(p), true);"
    )
    pg = context.new_page()
    yield pg
    context.close()


def take(server: ServerProcess, service: str) -> dict:
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    return body["ticket"]


def act(server: ServerProcess, token: str, window: str, action: str) -> dict | None:
    status, body = server.request("POST", f"/api/v1/windows/{window}/{action}", {}, token)
    assert status in (200, 204), body
    return body


def test_booking_on_a_phone_gives_a_code_and_qr_and_can_be_cancelled(
    live_server: ServerProcess, phone: Page
) -> None:
    phone.goto(live_server.url + "/book")
    expect(phone.locator("h1")).to_have_text("网上预约")
    phone.locator("#services button", has_text="不动产与规划建设").click()
    # an item, not a category (issue 11, item 13)
    phone.locator("#items button", has_text="不动产权证书补发、换发登记").click()
    day = phone.locator("#days button").first
    expect(day).to_have_text(re.compile(r"^\d{1,2}月\d{1,2}日周[一二三四五六日]$"))
    day.click()
    phone.locator("#slots button:not([disabled])").first.click()
    phone.fill("#name", "王小明")
    phone.fill("#id_number", "110105198001010010")  # wrong check digit
    phone.click("#submit")
    expect(phone.locator("#error")).to_contain_text("身份证号码不正确")
    phone.fill("#id_number", VALID_ID)
    phone.click("#submit")
    expect(phone.locator("#result")).to_be_visible()
    expect(phone.locator("#result-title")).to_have_text("预约成功")
    code = phone.locator("#result-code").get_attribute("data-code")
    assert code and re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", code)
    expect(phone.locator("#result-name")).to_contain_text("王*明")
    expect(phone.locator("#result-service")).to_have_text(
        "不动产权证书补发、换发登记（不动产与规划建设）"
    )
    expect(phone.locator("#result-when")).to_contain_text(re.compile(r"\d{1,2}月\d{1,2}日 周"))
    expect(phone.locator("#save-code")).to_contain_text("请截图保存本页，或记下预约码")
    expect(phone.locator("#materials")).to_contain_text("不动产权证书（换发时）")
    expect(phone.locator("#where-address")).to_have_text("示范镇人民路 88 号 便民服务中心一楼")
    expect(phone.locator("#where-map")).to_have_attribute(
        "href", re.compile(r"^https://uri\.amap\.com/")
    )
    phone.wait_for_function("document.getElementById('result-qr').complete")  # made off-loop
    assert phone.evaluate("document.getElementById('result-qr').naturalWidth") > 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "journey-book-done-phone")
    status, looked_up = live_server.request("GET", f"/api/v1/appointments/{code}")
    assert (
        status == 200
        and looked_up["status"] == "booked"
        and looked_up["service"] == ("real-estate")
        and looked_up["item"] == "F-009"
    )
    assert phone.url.endswith(f"code={code}")

    phone.once("dialog", lambda d: d.accept())
    phone.click("#cancel")
    expect(phone.locator("#result-status")).to_have_text("预约已取消")
    assert live_server.request("GET", f"/api/v1/appointments/{code}")[1]["status"] == "cancelled"

    phone.goto(live_server.url + f"/book?lang=en&code={code.lower()}")
    expect(phone.locator("h1")).to_have_text("Book an appointment")
    expect(phone.locator("#result-title")).to_have_text("Cancelled")
    assert axe_violations(phone) == []


def test_progress_page_follows_a_ticket_until_it_is_called_then_asks_for_a_rating(
    live_server: ServerProcess, phone: Page
) -> None:
    staff = live_server.login("staff7")
    while act(live_server, staff, "7", "call") is not None:  # an empty queue at window 7
        pass
    first, mine = take(live_server, "real-estate"), take(live_server, "real-estate")
    phone.goto(live_server.url + f"/t/{mine['token']}")
    expect(phone.locator("#number")).to_have_text(mine["number"])
    expect(phone.locator("#ahead")).to_have_text("1")
    expect(phone.locator("#eta")).to_have_text(re.compile(r"\d+–\d+"))
    assert first["token"] not in phone.content()
    phone.click("#sound")
    expect(phone.locator("#sound")).to_have_attribute("aria-pressed", "true")
    screenshot(phone, "journey-progress-waiting-phone")

    assert act(live_server, staff, "7", "call")["ticket"]["number"] == first["number"]
    expect(phone.locator("#ahead")).to_have_text("0")
    expect(phone.locator("#status")).to_have_text("马上就到您了，请留意叫号")
    act(live_server, staff, "7", "call")
    expect(phone.locator("#go")).to_have_text("请到 7号窗口 办理")
    assert phone.evaluate("window.__vibrations.length") >= 2  # the tap, then the call
    screenshot(phone, "journey-progress-called-phone")

    act(live_server, staff, "7", "finish")
    phone.reload()
    expect(phone.locator("#status")).to_have_text("办理完毕，谢谢光临")
    phone.locator("#rating button[data-level='5']").click()
    expect(phone.locator("#thanks")).to_contain_text("感谢您的评价")
    status, again = live_server.request(
        "POST", "/api/v1/ratings", {"token": mine["token"], "level": 1, "options": ["slow"]}
    )
    assert status == 409 and again["error"]["code"] == "already_rated"
    assert axe_violations(phone) == []


def test_an_unknown_token_or_window_gets_a_clear_page(
    live_server: ServerProcess, phone: Page
) -> None:
    response = phone.goto(live_server.url + "/t/not-a-real-token")
    assert response is not None and response.status == 404
    expect(phone.locator("main")).to_contain_text("没有找到这张号票")
    response = phone.goto(live_server.url + "/rate/99")
    assert response is not None and response.status == 404
    expect(phone.locator("main")).to_contain_text("没有“99”号窗口")


def test_the_evaluator_pad_asks_about_the_ticket_just_finished(
    live_server: ServerProcess, touch_page: Page
) -> None:
    pad = touch_page
    pad.set_viewport_size({"width": 1280, "height": 800})
    pad.goto(live_server.pairing_url("/rate/4", "pad:4"))
    expect(pad.locator("#idle")).to_be_visible()
    staff = live_server.login("staff4")
    while act(live_server, staff, "4", "call") is not None:
        pass
    mine = take(live_server, "household-registration")
    called = act(live_server, staff, "4", "call")["ticket"]
    assert called["number"] == mine["number"]
    act(live_server, staff, "4", "finish")
    expect(pad.locator("#number")).to_have_text(called["number"])
    pad.locator("#form button[data-level='2']").click()
    pad.locator("[data-action='send-rating']").click()
    expect(pad.locator("#form [role='alert']")).to_have_text("请至少选择一个原因")
    pad.locator("#form button[data-reason='wait_long']").click()
    pad.fill("#form textarea", "等了很久")
    screenshot(pad, "journey-pad-bad-rating")
    pad.locator("[data-action='send-rating']").click()
    expect(pad.locator("#thanks")).to_be_visible()
    expect(pad.locator("#idle")).to_be_visible(timeout=10000)

    manager = live_server.login("manager")
    status, bad = live_server.request("GET", "/api/v1/ratings?max_level=2", token=manager)
    assert status == 200
    row = next(r for r in bad if r["number"] == called["number"])
    assert row["window"] == "4" and row["staff"] == "staff4" and row["followup"] == "open"
    assert row["options"] == ["wait_long"] and row["comment"] == "等了很久"
    assert axe_violations(pad) == []


def test_the_pad_asks_only_about_the_visitor_at_the_counter_and_stops_once_they_rated(
    live_server: ServerProcess, touch_page: Page
) -> None:
    """Issue 11, item 10: it asked about B005 while B006 was served, and kept asking B006
    after B006 had rated on the phone."""
    pad = touch_page
    pad.set_viewport_size({"width": 1280, "height": 800})
    pad.goto(live_server.pairing_url("/rate/6", "pad:6"))
    expect(pad.locator("#idle")).to_be_visible()
    staff = live_server.login("staff6")
    while act(live_server, staff, "6", "call") is not None:  # window 6 starts empty
        act(live_server, staff, "6", "finish")
    first, second = take(live_server, "civil-affairs"), take(live_server, "civil-affairs")
    assert act(live_server, staff, "6", "call")["ticket"]["number"] == first["number"]
    act(live_server, staff, "6", "finish")
    expect(pad.locator("#number")).to_have_text(first["number"])
    act(live_server, staff, "6", "call")  # the next visitor comes to the counter
    expect(pad.locator("#idle")).to_be_visible()
    expect(pad.locator("#serving")).to_have_text(
        f"正在为 {second['number']} 号办理，办结后请在此评价"
    )
    expect(pad.locator("#asking")).to_be_hidden()
    screenshot(pad, "journey-pad-serving")
    act(live_server, staff, "6", "finish")
    expect(pad.locator("#number")).to_have_text(second["number"])
    status, _ = live_server.request(
        "POST", "/api/v1/ratings", {"token": second["token"], "level": 5}
    )
    assert status == 201
    expect(pad.locator("#asking")).to_be_hidden(timeout=3000)  # at once, not after 30 s
    expect(pad.locator("#idle")).to_be_visible()


@pytest.fixture
def flooded_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The demo hall as if a script were booking it empty: past one anonymous booking a
    minute, every booking must carry solved work (hall_server/guard/pow.py)."""
    directory = tmp_path_factory.mktemp("flooded")
    config = directory / "hall.toml"
    config.write_text(
        DEMO_CONFIG.read_text(encoding="utf-8")
        + '\n[security]\nlimits = { book_all = "1/minute" }\npow_difficulty = 12\n',
        encoding="utf-8",
    )
    server = ServerProcess(directory / "hall.db", config=config).start()
    yield server
    server.stop()


def test_booking_in_a_flood_solves_the_challenge_in_the_browser_and_still_books(
    flooded_hall: ServerProcess, phone: Page
) -> None:
    statuses: list[int] = []
    phone.on(
        "response",
        lambda r: (
            statuses.append(r.status)
            if r.url.endswith("/api/v1/appointments") and r.request.method == "POST"
            else None
        ),
    )

    def booked(r: Response) -> bool:
        return r.url.endswith("/api/v1/appointments") and r.status == 201

    for n, id_number in enumerate((VALID_ID, OTHER_ID)):
        phone.goto(flooded_hall.url + "/book")
        phone.locator("#services button", has_text="不动产与规划建设").click()
        phone.locator("#items button", has_text="不动产权证书补发、换发登记").click()
        phone.locator("#days button").first.click()
        phone.locator("#slots button:not([disabled])").nth(n).click()
        phone.fill("#name", "王小明")
        phone.fill("#id_number", id_number)
        with phone.expect_response(booked, timeout=30_000):
            phone.click("#submit")
        expect(phone.locator("#result-title")).to_have_text("预约成功")
    # the first went straight through; the second was asked for work, did it, and booked
    assert statuses == [201, 428, 201]
    code = phone.locator("#result-code").get_attribute("data-code")
    assert flooded_hall.request("GET", f"/api/v1/appointments/{code}")[1]["status"] == "booked"
