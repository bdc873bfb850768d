"""The hall board and the window screen as a visitor sees them from across the hall (issue 11,
items 6, 7 and 14): every window and service on screen (paged only when a hall is too big to
fit readably), the voice never far behind the screen, one state at a time on a window screen
with its clerk, and a tap-for-sound prompt nobody can miss."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hall_server.config import load_config
from tests.browser.conftest import ARGS, CHROMIUM
from tests.browser.helpers import screenshot, screenshot_both
from tests.support import ServerProcess, add_demo_accounts, hall_toml

pytestmark = pytest.mark.browser


def issue(server: ServerProcess, service: str) -> str:
    status, body = server.request(
        "POST", "/api/v1/tickets", {"service": service}, token=server.paired("k1")
    )
    assert status == 201, body
    return body["ticket"]["number"]


def act(server: ServerProcess, token: str, window: str, action: str, **body: str) -> dict:
    status, answer = server.request("POST", f"/api/v1/windows/{window}/{action}", body, token)
    assert status == 200, answer
    return answer


def open_board(page: Page, server: ServerProcess, query: str = "") -> None:
    page.goto(f"{server.url}/board{query}")
    expect(page.locator("body")).to_have_attribute("data-link", "open")


def font_px(page: Page, selector: str) -> float:
    return page.evaluate(
        f"parseFloat(getComputedStyle(document.querySelector({selector!r})).fontSize)"
    )


def on_screen(page: Page, selector: str) -> list[str]:
    """The data- ids of the elements matching `selector` that are shown wholly on screen."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].filter((e) => {
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 1
               && r.right <= innerWidth + 1;
           }).map((e) => e.dataset.window || e.dataset.service)""",
        selector,
    )


def test_board_shows_every_window_and_service_readably_in_both_orientations(
    page: Page, live_server: ServerProcess
) -> None:
    hall = load_config(Path(__file__).parents[2] / "hall_server" / "data" / "demo-hall.toml")
    for size in ({"width": 1920, "height": 1080}, {"width": 1080, "height": 1920}):
        page.set_viewport_size(size)
        open_board(page, live_server)
        expect(page.locator("#windows li")).to_have_count(len(hall.window))
        assert on_screen(page, "#windows li") == [w.id for w in hall.window]
        assert on_screen(page, "#queues li") == [s.code for s in hall.service]
        assert page.locator("#windows-page").inner_text() == ""
        # window names readable at 5 m: at least 40 px on a 1080p panel (was 24)
        assert font_px(page, "#windows .wname") >= 40
        assert font_px(page, "#queues li") >= 24
    screenshot_both(page, "board-demo-hall")


@pytest.fixture
def city_hall(tmp_path: Path) -> Iterator[ServerProcess]:
    """A city centre: 40 windows and 24 services, more than one screen holds readably."""
    services = [
        {"code": f"s{i}", "prefix": chr(65 + i), "name": f"业务{i:02d}综合受理"} for i in range(24)
    ]
    windows = [[f"s{i % 24}"] for i in range(40)]
    config = tmp_path / "city.toml"
    config.write_text(hall_toml("市民中心", services, windows, kiosks=["k1"]), encoding="utf-8")
    add_demo_accounts(tmp_path / "hall.db", load_config(config))
    server = ServerProcess(tmp_path / "hall.db", config=config).start()
    yield server
    server.stop()


def test_a_hall_too_big_for_one_screen_pages_and_shows_a_fresh_call_at_once(
    page: Page, city_hall: ServerProcess
) -> None:
    open_board(page, city_hall)
    windows = page.locator("#windows")
    expect(page.locator("#windows li")).to_have_count(40)
    pages = int(windows.get_attribute("data-pages"))
    assert pages > 1
    shown = on_screen(page, "#windows li")
    assert 0 < len(shown) < 40 and shown == [str(i) for i in range(1, len(shown) + 1)]
    expect(page.locator("#windows-page")).to_have_text(f"1/{pages}")
    assert font_px(page, "#windows .wname") >= 40
    screenshot(page, "board-city-hall-page1-landscape")
    # a call at the last window brings its page up at once
    number = issue(city_hall, "s15")
    act(city_hall, city_hall.login("admin"), "40", "call", number=number)
    expect(windows).to_have_attribute("data-page", str(pages))
    assert "40" in on_screen(page, "#windows li")
    expect(page.locator('#windows li[data-window="40"]')).to_have_attribute("data-number", number)
    # and the pages turn by themselves
    expect(windows).to_have_attribute("data-page", "1", timeout=12000)
    services = on_screen(page, "#queues li")
    assert (
        services and int(page.locator("#queues").get_attribute("data-pages")) * len(services) >= 24
    )


def test_eight_calls_at_once_are_spoken_at_most_15_s_behind_the_screen_with_one_chime(
    page: Page, live_server: ServerProcess
) -> None:
    open_board(page, live_server)
    page.wait_for_function("hallqBoard.queue.length === 0 && !hallqBoard.announcer.current")
    chimes = page.evaluate("hallqBoard.announcer.chimes")
    services = ["social-insurance"] * 3 + ["household-registration"] * 2
    services += ["civil-affairs", "real-estate", "business"]
    for service in services:
        issue(live_server, service)
    token = live_server.login("admin")
    called = [act(live_server, token, str(w), "call")["ticket"]["number"] for w in range(1, 9)]
    for w, number in enumerate(called, start=1):  # the screen shows all eight at once
        expect(page.locator(f'#windows li[data-window="{w}"]')).to_have_attribute(
            "data-number", number
        )
    page.wait_for_function(
        "hallqBoard.queue.length === 0 && !hallqBoard.announcer.current"
        f" && hallqBoard.announced.length + hallqBoard.skipped.length >= {len(called)}",
        timeout=30000,
    )
    said = page.evaluate(
        "hallqBoard.announced.map(a => ({n: a.number, lag: a.startedAt - a.queuedAt,"
        " said: a.said, short: a.backlog}))"
    )
    said = [a for a in said if a["n"] in called]
    skipped = page.evaluate("hallqBoard.skipped.map(a => a.number)")
    assert [a["n"] for a in said] + [n for n in skipped if n in called] != []
    assert sorted([a["n"] for a in said] + [n for n in skipped if n in called]) == sorted(called)
    assert [a["n"] for a in said] == [n for n in called if n not in skipped]  # in order
    assert max(a["lag"] for a in said) <= 15000
    assert len(said) >= 3
    assert all(a["said"] == 1 and a["short"] for a in said[:-1])  # no repeats under a backlog
    assert page.evaluate("hallqBoard.announcer.chimes") == chimes + 1  # one chime for the burst


def test_window_screen_shows_one_state_at_a_time_and_its_clerk(
    browser: Browser, live_server: ServerProcess
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    page = ctx.new_page()
    token = live_server.login("staff7")  # staff7 works window 7, as 赵磊
    live_server.request("POST", "/api/v1/windows/7/finish", {}, token)  # whatever it held
    open_board(page, live_server, "?window=7")
    screen = page.locator("#win-screen")
    expect(page.locator("#win-clerk")).to_contain_text("工作人员：赵磊")
    expect(page.locator("#win-clerk")).to_contain_text("工号：staff7")
    expect(screen).to_have_attribute("data-state", "idle")
    expect(page.locator("#win-status")).to_have_text("欢迎光临")
    expect(page.locator("#win-number")).to_be_hidden()
    expect(page.locator("#win-label")).to_be_hidden()  # no 正在办理 over a dash
    screenshot(page, "window-screen-idle-1280x720")

    number = issue(live_server, "real-estate")
    act(live_server, token, "7", "call")
    expect(page.locator("#win-number")).to_have_text(number)
    expect(page.locator("#win-label")).to_have_text("请到本窗口办理")
    act(live_server, token, "7", "start")
    expect(page.locator("#win-label")).to_have_text("正在办理")
    expect(page.locator("#win-status")).to_be_hidden()
    screenshot(page, "window-screen-serving-1280x720")

    act(live_server, token, "7", "finish")
    act(live_server, token, "7", "pause", reason="lunch")
    expect(screen).to_have_attribute("data-state", "paused")
    expect(page.locator("#win-status")).to_have_text("暂停服务")
    expect(page.locator("#win-reason")).to_have_text("午休")
    expect(page.locator("#win-label")).to_be_hidden()  # paused alone, not beside 正在办理
    expect(page.locator("#win-number")).to_be_hidden()
    assert on_screen(page, "#win-status, #win-clerk") is not None
    for sel in ("#win-status", "#win-clerk", "#win-name"):
        box = page.locator(sel).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 720, sel
    screenshot(page, "window-screen-paused-1280x720")
    screenshot_both(page, "window-screen-paused")
    act(live_server, token, "7", "resume")
    ctx.close()


def test_a_board_without_sound_asks_to_be_tapped_in_big_letters(
    browser: Browser, live_server: ServerProcess
) -> None:
    """A browser started without the autoplay switch keeps sound off until someone taps."""
    strict = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[a for a in ARGS if "autoplay" not in a], headless=True
    )
    try:
        page = strict.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        open_board(page, live_server)
        prompt = page.locator("#sound-btn")
        expect(prompt).to_be_visible()
        expect(prompt).to_have_text("轻触屏幕，开启语音叫号")
        box = prompt.bounding_box()
        assert box and box["height"] >= 100 and box["width"] >= 600
        assert font_px(page, "#sound-btn") >= 48
        screenshot(page, "board-tap-for-sound-landscape")
        page.mouse.click(200, 600)  # anywhere on the board
        expect(page.locator("body")).to_have_attribute("data-sound", "running")
        expect(prompt).to_be_hidden()
    finally:
        strict.close()


def test_board_clock_shows_the_halls_time_not_the_devices(
    browser: Browser, live_server: ServerProcess
) -> None:
    ctx = browser.new_context(timezone_id="America/New_York", locale="zh-CN")
    page = ctx.new_page()
    open_board(page, live_server)
    hall_time = page.evaluate(
        "new Date().toLocaleTimeString('zh-CN', {timeZone: 'Asia/Shanghai', hour: '2-digit',"
        " minute: '2-digit', hour12: false})"
    )
    expect(page.locator("#clock")).to_have_attribute("data-time", hall_time)
    ctx.close()
