"""Chinese first, English a switch away: page texts by key, chosen per request.

Every module with pages adds its own texts with :func:`register`; a key missing in English
falls back to Chinese, never to the bare key.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

LANGS = ("zh", "en")
TEXTS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}


def register(zh: dict[str, str], en: dict[str, str]) -> None:
    TEXTS["zh"].update(zh)
    TEXTS["en"].update(en)


def lang_of(request: web.Request) -> str:
    """``?lang=`` wins, then the ``lang`` cookie the switch sets; Chinese otherwise."""
    lang = request.query.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in LANGS else "zh"


def translator(lang: str) -> Callable[..., str]:
    table, fallback = TEXTS[lang], TEXTS["zh"]

    def t(key: str, **values: object) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


register(
    zh={
        "lang.switch": "English",
        "hall.closed": "大厅已下班",
        "offline": "连接中断，正在重新连接…",
        "login": "登录",
        "logout": "退出",
        "username": "用户名",
        "password": "密码",
        "minutes": "分钟",
        "about_minutes": "约 {low}–{high} 分钟",
        "people_waiting": "等候 {n} 人",
    },
    en={
        "lang.switch": "中文",
        "hall.closed": "The hall is closed",
        "offline": "Connection lost, reconnecting…",
        "login": "Log in",
        "logout": "Log out",
        "username": "User name",
        "password": "Password",
        "minutes": "min",
        "about_minutes": "about {low}–{high} min",
        "people_waiting": "{n} waiting",
    },
)
