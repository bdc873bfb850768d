"""The pages run under their own Content-Security-Policy (the other browser tests bypass it,
because Playwright's string predicates use eval): every page a person opens loads, runs its
scripts and connects its socket with no violation reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def strict_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield page, violations
    context.close()


def test_every_page_runs_under_the_policy(
    live_server: ServerProcess, strict_page: tuple[Page, list[str]]
) -> None:
    page, violations = strict_page
    s = live_server
    page.goto(s.pairing_url("/kiosk/k1", "k1"))
    expect(page.locator("body")).to_have_attribute("data-link", "open")  # script ran, socket up
    page.goto(s.url + "/board")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    page.goto(s.url + "/book")
    expect(page.locator("#services button").first).to_be_visible()
    page.goto(s.url + "/login?next=/staff")
    page.fill("#username", "staff1")
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/staff")
    expect(page.locator("body")).to_have_attribute("data-link", "open")
    page.goto(s.pairing_url("/rate/2", "pad:2"))
    expect(page.locator("#idle")).to_be_visible()
    assert violations == []


def test_api_docs_render_every_operation_under_the_policy(
    live_server: ServerProcess, strict_page: tuple[Page, list[str]]
) -> None:
    """Swagger UI is vendored so that /api/docs needs nothing the policy forbids; an integrator
    opening it sees the operations, not a blank page and a console full of refusals."""
    page, violations = strict_page
    page.goto(live_server.url + "/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/tickets").first).to_be_visible()
    assert page.locator(".opblock").count() >= 50
    assert violations == []
