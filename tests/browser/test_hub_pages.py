"""The city hub's pages in a real Chromium against ``hall-hub demo`` in a subprocess: a hub and
ten real hall servers (a city center, three town centers, six village points) pushing to it
over HTTP. The city dashboard live, drilled down, ranked and exported, seen by a town manager,
reconnecting after the hub restarts; the public 就近办 page on a phone, in both languages."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from hall_server.core.access import Role
from hall_server.store.accounts import Accounts
from hall_server.store.db import Store
from tests.browser.helpers import axe_violations, screenshot, screenshot_both
from tests.support import ROOT, free_port, wait_until

pytestmark = pytest.mark.browser
HALLS = 10  # 1 city + 3 towns + 6 villages
PHONE = {"width": 390, "height": 844}


class HubDemo:
    """``hall-hub demo`` with idle halls (no simulated visitors: the tests make the traffic)."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "hub.db"
        self.log = tmp / "demo.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubDemo:
        cmd = [sys.executable, "-m", "city_hub.cli", "demo", "--db", str(self.db)]
        cmd += ["--port", str(self.port), "--towns", "3", "--villages", "6", "--idle"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )

        def all_online() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                halls = self.get("/api/v1/halls")[1]["halls"]
            except OSError:
                return False
            ready = [h for h in halls if h["status"] == "online" and h["catalog_version"] == 1]
            return len(ready) >= HALLS

        wait_until(all_online, 90, "the demo's halls online at the hub, running its catalog")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str, token: str | None = None, base: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request((base or self.url) + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if "json" in r.headers["Content-Type"] else raw
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def post(self, url: str, body: dict, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def login(self, user: str) -> str:
        status, body = self.post(
            self.url + "/api/v1/auth/login", {"username": user, "password": "demo"}
        )
        assert status == 200, body
        return body["token"]

    def hall_url(self, hall_id: str) -> str:
        """A hall's own address, as the hub learnt it from the hall (its public URL)."""
        halls = self.get("/api/v1/near?item=A-001")[1]["halls"]
        return next(h["public_url"] for h in halls if h["id"] == hall_id)

    def clerk(self, hall_id: str) -> str:
        """A staff account at window 1 of a demo hall, logged in at the hall itself."""
        store = Store(self.db.with_suffix(".halls") / f"{hall_id}.db")
        try:
            Accounts(store).add("clerk", "demo", Role.STAFF, ["1"])
        finally:
            store.close()
        url = self.hall_url(hall_id)
        status, body = self.post(
            url + "/api/v1/auth/login", {"username": "clerk", "password": "demo"}
        )
        assert status == 200, body
        return body["token"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubDemo]:
    demo = HubDemo(tmp_path_factory.mktemp("hub")).start()
    yield demo
    demo.stop()


def login(page: Page, hub: HubDemo, user: str, path: str = "/city") -> None:
    page.goto(hub.url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.locator("#username").fill(user)
    page.locator("#password").fill("demo")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")


def rows(page: Page) -> list[str]:
    return page.locator("#halls-body tr[data-hall]").evaluate_all(
        "trs => trs.map(tr => tr.dataset.hall)"
    )


def test_the_login_page_says_what_went_wrong_in_the_readers_language(
    page: Page, hub: HubDemo
) -> None:
    """The hall's login page, shared: wrong password, then too many tries from this browser
    (per client and name: the name is made up, so the other tests' logins are not slowed)."""
    page.goto(hub.url + "/city?lang=en")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("h1")).to_have_text("Supervision center log in")
    expect(page.locator("#window")).to_have_count(0)  # a clerk's window choice: not here
    page.locator("#username").fill("no-such-supervisor")
    page.locator("#password").fill("wrong")
    for status in [401] * 5 + [429]:
        with page.expect_response("**/api/v1/auth/login") as answer:
            page.locator("button[type=submit]").click()
        assert answer.value.status == status
        if status == 401:
            expect(page.locator("#login-error")).to_have_text("Wrong user name or password")
    expect(page.locator("#login-error")).to_have_text(
        "Too many wrong passwords; wait a few minutes"
    )
    screenshot(page, "hub-login-throttled-en")
    page.goto(hub.url + "/login?lang=zh")
    expect(page.locator("h1")).to_have_text("监督中心登录")
    page.locator("#username").fill("no-such-supervisor")
    page.locator("#password").fill("wrong")
    page.locator("button[type=submit]").click()
    expect(page.locator("#login-error")).to_have_text("密码错误次数太多，请几分钟后再试")
    assert axe_violations(page) == []


def test_city_dashboard_shows_every_hall_grouped_with_a_map_ranking_and_pilot_targets(
    page: Page, hub: HubDemo
) -> None:
    login(page, hub, "city")
    expect(page.locator("#n-online")).to_have_text(str(HALLS))
    expect(page.locator("#halls-body tr[data-hall]")).to_have_count(4)  # villages folded
    assert rows(page) == ["city", "town-01", "town-02", "town-03"]
    expect(page.locator("#map circle.hall")).to_have_count(HALLS)
    expect(page.locator("#catalog-state")).to_have_text("全部中心已运行 v1")
    toggle = page.locator('tr[data-hall="town-01"] button.toggle')
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    assert rows(page) == ["city", "town-01", "v-01-01", "v-01-02", "town-02", "town-03"]
    expect(page.locator('#halls-body tr[data-hall="v-01-01"] .pill')).to_have_text("在线")
    expect(page.locator("#ranking-body tr[data-hall]")).to_have_count(3)
    expect(page.locator("#pilot-body tr[data-hall]")).to_have_count(3)
    expect(page.locator('#pilot-body tr[data-hall="town-01"]')).to_contain_text("达标")
    assert axe_violations(page) == []
    screenshot_both(page, "hub-city-dashboard")


def test_a_ticket_taken_at_a_hall_reaches_the_dashboard_without_a_reload(
    page: Page, hub: HubDemo
) -> None:
    login(page, hub, "city")
    cell = page.locator('#halls-body tr[data-hall="town-02"] td').nth(1)
    before = int(cell.inner_text())
    token = hub.clerk("town-02")
    url = hub.hall_url("town-02")
    assert hub.post(url + "/api/v1/tickets", {"service": "social-insurance"}, token)[0] == 201
    expect(cell).to_have_text(str(before + 1), timeout=15000)
    waiting = int(page.locator("#n-waiting").inner_text())
    assert waiting >= before + 1
    # served at the hall: the hub's figures for the day, the same charts as the hall's manager
    assert hub.post(url + "/api/v1/windows/1/call", {}, token)[0] == 200
    assert hub.post(url + "/api/v1/windows/1/finish", {}, token)[0] == 200
    city = hub.login("city")
    wait_until(
        lambda: any(w["served"] for w in hub.get("/api/v1/halls/town-02/metrics/windows", city)[1]),
        20,
        "the hub to count the finished ticket",
    )
    page.locator('#halls-body tr[data-hall="town-02"] th a').click()
    expect(page).to_have_url(re.compile(r"/city/halls/town-02$"))
    expect(page.locator("h1")).to_have_text("西岭镇公共服务中心")
    expect(page.locator('#windows tr[data-window="1"] td').nth(1)).to_have_text("1")
    expect(page.locator("svg.chart")).to_have_count(2)
    # the hall's headline figures, today so far against yesterday up to the same time
    expect(page.locator('#headline [data-figure="served"] .value')).to_have_text(
        re.compile("^[1-9]")
    )
    expect(page.locator("#headline-period")).to_contain_text("与上期同一时段比较")
    assert axe_violations(page) == []
    screenshot_both(page, "hub-city-hall-day")


def test_a_town_manager_sees_only_their_town_and_its_villages(page: Page, hub: HubDemo) -> None:
    login(page, hub, "town1")
    expect(page.locator(".scope")).to_have_text("范围：东湖镇公共服务中心")
    expect(page.locator("#n-online")).to_have_text("3")
    assert rows(page) == ["town-01", "v-01-01", "v-01-02"]  # their own town unfolded
    expect(page.locator("#map circle.hall")).to_have_count(3)
    expect(page.locator("#ranking-body tr[data-hall]")).to_have_count(1)
    expect(page.locator("#pilot-body tr[data-hall]")).to_have_count(1)
    screenshot(page, "hub-city-town-manager")
    # another town's day, its figures, its ranking row: refused or absent, in Chinese
    resp = page.goto(hub.url + "/city/halls/town-02")
    assert resp is not None and resp.status == 403
    expect(page.locator("h1")).to_have_text("该服务中心不在您的管辖范围内")
    api = page.request
    assert api.get(hub.url + "/api/v1/halls/town-02/metrics/windows").status == 403
    for level, want in (("town", {"town-01"}), ("village", {"v-01-01", "v-01-02"})):
        got = api.get(hub.url + f"/api/v1/ranking?level={level}").json()["rows"]
        assert {r["hall"] for r in got} == want
    report = api.get(hub.url + "/api/v1/report?by=hall").json()["rows"]
    assert {r["hall"] for r in report} == {"town-01", "v-01-01", "v-01-02"}
    text = api.get(hub.url + "/api/v1/ranking.csv?level=town").text()
    assert "东湖" in text and "西岭" not in text and "南港" not in text


def test_the_ranking_exports_a_formula_safe_csv_in_the_readers_language(
    page: Page, hub: HubDemo
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "city_hub.cli", "hall", "add", "evil", "--name",
         '=HYPERLINK("http://evil.example","x")', "--level", "town", "--parent", "city",
         "--db", str(hub.db)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    city = hub.login("city")
    wait_until(
        lambda: any(r["hall"] == "evil" for r in hub.get("/api/v1/ranking", city)[1]["rows"]),
        20,
        "the new hall in the ranking",
    )
    login(page, hub, "city", "/city?lang=en")
    expect(page.locator("h1")).to_have_text("City service halls, live")
    link = page.locator("#ranking-csv")
    expect(link).to_have_attribute("href", re.compile(r"lang=en"))
    with page.expect_download() as dl:
        link.click()
    data = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(data)))
    assert table[0][:3] == ["Rank", "Hall", "Name"]
    evil = next(r for r in table if r[1] == "evil")
    assert evil[2] == '\'=HYPERLINK("http://evil.example","x")'
    # an error says what is wrong in the reader's language
    page.locator("#r-from").fill("2026-03-02")
    page.locator("#r-to").fill("2026-03-01")
    page.locator("#ranking-form button[type=submit]").click()
    expect(page.locator("#ranking-error")).to_have_text(
        "Invalid range (it ends before it starts, or is too long)"
    )
    page.goto(hub.url + "/city?lang=zh")
    page.locator("#r-from").fill("2026-03-02")
    page.locator("#r-to").fill("2026-03-01")
    page.locator("#ranking-form button[type=submit]").click()
    expect(page.locator("#ranking-error")).to_have_text(
        "日期范围无效（结束早于开始，或超过允许的天数）"
    )


@pytest.fixture
def phone(browser: Browser, hub: HubDemo) -> Iterator[Page]:
    town3 = next(h for h in hub.get("/api/v1/halls")[1]["halls"] if h["id"] == "town-03")
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": town3["lat"] + 0.001, "longitude": town3["lon"]},
        permissions=["geolocation"],
    )
    pg = context.new_page()
    yield pg
    context.close()


def test_near_finds_an_item_by_pinyin_and_the_nearest_halls_with_their_wait(
    phone: Page, hub: HubDemo
) -> None:
    page = phone
    page.goto(hub.url + "/near")
    expect(page.locator("h1")).to_have_text("查事项，找最近、等候最短的服务中心")
    page.locator("#q").fill("sfzhl")
    first = page.locator("#items button").first
    expect(first).to_have_text("居民身份证换领")
    assert first.bounding_box()["height"] >= 64  # type: ignore[index]
    screenshot(page, "hub-near-search-phone")
    first.click()
    expect(page.locator("#answer-h")).to_have_text("可办理“居民身份证换领”的服务中心")
    halls = page.locator("#halls li")
    expect(halls).to_have_count(4)  # the city and three towns; no village takes ID cards
    expect(page.locator("#online")).to_be_hidden()
    expect(halls.first).to_contain_text("正在办公")
    expect(halls.first).to_contain_text("等候")
    page.locator("#locate").click()
    expect(page.locator("#where-state")).to_have_text("已使用您的位置")
    expect(halls.first).to_have_attribute("data-hall", "town-03")
    expect(halls.first.locator(".dist")).to_have_text(re.compile(r"^1\d0 米$"))
    book = halls.first.locator("a.book")
    expect(book).to_have_attribute("href", hub.hall_url("town-03") + "/book")
    assert book.bounding_box()["height"] >= 64  # type: ignore[index]
    assert axe_violations(page) == []
    screenshot(page, "hub-near-halls-phone")
    # an item done online says so; a town chosen instead of the phone's location
    page.locator("#again").click()
    page.locator("#q").fill("sbk")
    page.locator("#items button", has_text="社会保障卡申领").click()
    expect(page.locator("#online")).to_be_visible()
    expect(halls).to_have_count(6)  # a phone's screenful first
    page.locator("#more").click()
    expect(halls).to_have_count(HALLS)  # villages handle it too
    expect(page.locator("#more")).to_be_hidden()
    page.locator("#town").select_option("town-01")
    expect(halls.first).to_have_attribute("data-hall", "town-01")


def test_near_speaks_english_when_asked_and_errors_in_the_readers_language(
    phone: Page, hub: HubDemo
) -> None:
    page = phone
    page.goto(hub.url + "/near?item=NOPE")
    expect(page.locator("#error")).to_have_text("没有这个事项")
    page.goto(hub.url + "/near?lang=en")
    expect(page.locator("h1")).to_have_text(
        "Find an item, then the nearest hall with the shortest wait"
    )
    page.locator("#q").fill("birth")
    page.locator("#items button", has_text="Birth registration").click()
    expect(page.locator("#answer-h")).to_have_text("Halls for “Birth registration”")
    expect(page.locator("#halls li").first).to_contain_text("Book at this hall")
    expect(page.locator("#halls li .tag", has_text="Town").first).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "hub-near-english-phone")
    page.goto(hub.url + "/near?item=NOPE&lang=en")
    expect(page.locator("#error")).to_have_text("There is no such item")


def test_the_dashboard_reconnects_when_the_hub_comes_back(page: Page, hub: HubDemo) -> None:
    login(page, hub, "city")
    expect(page.locator("#n-online")).to_have_text(re.compile(r"^1[01]$"))
    hub.stop()
    expect(page.locator("body")).not_to_have_attribute("data-link", "open")
    expect(page.locator(".link-state")).to_be_visible()
    time.sleep(1)
    hub.start()
    expect(page.locator("body")).to_have_attribute("data-link", "open", timeout=20000)
    expect(page.locator(".link-state")).to_be_hidden()
    expect(page.locator('#halls-body tr[data-hall="town-01"] .pill')).to_have_text("在线")
