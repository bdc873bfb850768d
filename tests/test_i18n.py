"""One translation mechanism: every text a person sees, error messages included, comes from
one catalog per language, and both languages say everything."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from hall_server.app import make_app
from hall_server.config import HallConfig
from hall_server.i18n import TEXTS
from tests.support import add_demo_accounts

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["hall_server", "kiosk_ui", "display_board", "staff_console", "manager_pages"]
SOURCES.append("visitor_pages")
#: Where the error code is among the positional arguments of each error class.
CODE_AT = {"DomainError": 1, "EngineError": 1, "ApiError": 1, "ReportError": 0, "InvalidCard": 0}
#: Codes made at run time: f"already_{status}", f"window_{status}", f"appointment_{status}",
#: and the web layer's answers for HTTP errors.
DYNAMIC = {
    "already_open",
    "already_paused",
    "already_closed",
    "window_paused",
    "window_closed",
    "appointment_cancelled",
    "appointment_missed",
    "appointment_checked_in",
    "appointment_arrived",
    "not_found",
    "method_not_allowed",
    "too_large",
    "http_error",
    "store_unavailable",
    "internal_error",
    "unknown_rating",
    "unknown_alarm",
    "unknown_webhook",
}


def raised_codes() -> set[str]:
    codes = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                at = CODE_AT.get(name or "")
                if at is not None and len(node.args) > at:
                    arg = node.args[at]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        codes.add(arg.value)
    return codes


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys() -> None:
    assert set(TEXTS["zh"]) == set(TEXTS["en"])


def test_both_languages_fill_the_same_placeholders() -> None:
    differ = {
        k: (placeholders(TEXTS["zh"][k]), placeholders(TEXTS["en"][k]))
        for k in TEXTS["zh"]
        if placeholders(TEXTS["zh"][k]) != placeholders(TEXTS["en"][k])
    }
    # English may say more about a bad field than a visitor needs in Chinese
    differ.pop("error.invalid_field", None)
    assert differ == {}


def test_every_error_code_the_server_raises_has_a_message_in_every_language() -> None:
    codes = raised_codes() | DYNAMIC
    assert len(codes) > 50  # the scan found the raise sites
    for lang in ("zh", "en"):
        missing = sorted(c for c in codes if "error." + c not in TEXTS[lang])
        assert missing == [], lang


def test_no_catalog_text_is_empty_or_untranslated() -> None:
    for key, zh in TEXTS["zh"].items():
        assert zh.strip() and TEXTS["en"][key].strip(), key
    chinese = re.compile(r"[\u4e00-\u9fff]")
    assert [k for k, v in TEXTS["en"].items() if chinese.search(v) and k != "lang.switch"] == []


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path, demo_config: HallConfig) -> TestClient:
    add_demo_accounts(tmp_path / "hall.db", demo_config)
    return await aiohttp_client(make_app(demo_config, tmp_path / "hall.db"))


async def test_an_api_error_is_chinese_by_default(client: TestClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong"})
    assert (await r.json())["error"] == {"code": "bad_credentials", "message": "用户名或密码错误"}
    r = await client.get("/api/v1/no-such-thing")
    assert (await r.json())["error"] == {"code": "not_found", "message": "找不到请求的内容"}


async def test_an_api_error_is_english_when_the_reader_asks(client: TestClient) -> None:
    wrong = {"username": "nobody", "password": "wrong"}
    for how in ({"params": {"lang": "en"}}, {"headers": {"Accept-Language": "en-US,en;q=0.9"}}):
        r = await client.post("/api/v1/auth/login", json=wrong, **how)
        assert (await r.json())["error"]["message"] == "Wrong user name or password", how
    client.session.cookie_jar.update_cookies({"lang": "en"})
    r = await client.post("/api/v1/auth/login", json=wrong)
    assert (await r.json())["error"]["message"] == "Wrong user name or password"


async def test_an_error_message_names_what_was_wrong_in_the_readers_language(
    client: TestClient,
) -> None:
    r = await client.get("/api/v1/ratings/pad/99")
    assert (await r.json())["error"] == {"code": "unknown_window", "message": "没有 99 号窗口"}
    r = await client.get("/api/v1/ratings/pad/99?lang=en")
    assert (await r.json())["error"]["message"] == "No window 99"


async def test_a_bad_body_is_explained_in_chinese_and_keeps_its_field(client: TestClient) -> None:
    r = await client.post("/api/v1/tickets", json={"service": 5})
    err = (await r.json())["error"]
    assert r.status == 422 and err["code"] == "invalid_field" and err["field"] == "service"
    assert err["message"] == "请检查填写的内容：service"
