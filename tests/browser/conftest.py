"""One real Chromium per test session, shared by every browser test of the team.

Fixtures: ``browser`` (session), ``page`` (a fresh desktop context per test), ``touch_page``
(a portrait 1080x1920 touchscreen context), ``live_server`` (one demo hall subprocess per
module, for tests that only add tickets). Helpers for screenshots and axe-core are in
``tests/browser/helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # boards run unattended: nobody is there to click before the first announcement
    "--autoplay-policy=no-user-gesture-required",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every test that uses the browser after all the others. Sync Playwright keeps an
    event loop running in the main thread for as long as the session's browser lives, and
    pytest-asyncio cannot start its own loops while it does; so the browser starts at the
    first browser test and no async test comes after it."""
    uses = [i for i in items if "browser" in getattr(i, "fixturenames", ())]
    if uses:
        chosen = set(map(id, uses))
        items[:] = [i for i in items if id(i) not in chosen] + uses


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test.sh installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


# bypass_csp: Playwright evaluates wait_for_function's string predicates with eval, which the
# pages' Content-Security-Policy forbids. That the pages themselves run under the policy is
# tested without the bypass in tests/browser/test_csp.py.


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        bypass_csp=True, viewport={"width": 1920, "height": 1080}, locale="zh-CN"
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def touch_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        bypass_csp=True,
        viewport={"width": 1080, "height": 1920},
        has_touch=True,
        is_mobile=False,
        locale="zh-CN",
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo hall shared by the tests of one module: cheaper than one per test; tests must
    not depend on the queue being empty."""
    server = ServerProcess(tmp_path_factory.mktemp("hall") / "hall.db", demo=True)
    server.start()
    yield server
    server.stop()
