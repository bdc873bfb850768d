"""What browser tests share: screenshots as artifacts, axe-core checks, touch-target sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
ORIENTATIONS = {"landscape": (1920, 1080), "portrait": (1080, 1920)}


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def screenshot_both(page: Page, name: str) -> None:
    """The page at 1920x1080 and at 1080x1920, as artifacts for a human to look at."""
    original = page.viewport_size
    for orientation, (w, h) in ORIENTATIONS.items():
        page.set_viewport_size({"width": w, "height": h})
        screenshot(page, f"{name}-{orientation}")
    if original:
        page.set_viewport_size(original)


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations of the given impacts, as ``{id, impact, help, targets}``."""
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} missing: run scripts/test.sh (npm install axe-core)")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]
