"""Chinese first, English a switch away: every text a person sees, by key, from one catalog per
language (``zh.toml``, ``en.toml`` beside this file).

Pages, their scripts (which get the keys they need with the page) and the API's error
messages all read these catalogs; nothing else holds translated text. A key missing in English
falls back to Chinese, never to the bare key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

LANGS = ("zh", "en")
DEFAULT = "zh"
_DIR = Path(__file__).resolve().parent


def _load(lang: str) -> dict[str, str]:
    with open(_DIR / f"{lang}.toml", "rb") as f:
        return tomllib.load(f)


TEXTS: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGS}


def lang_of(request: web.Request) -> str:
    """``?lang=`` wins, then the ``lang`` cookie the switch sets; Chinese otherwise."""
    lang = request.query.get("lang") or request.cookies.get("lang") or DEFAULT
    return lang if lang in LANGS else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    table, fallback = TEXTS.get(lang, TEXTS[DEFAULT]), TEXTS[DEFAULT]

    def t(key: str, **values: object) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


def texts(lang: str, *prefixes: str) -> dict[str, str]:
    """The texts whose keys start with one of ``prefixes``, in ``lang``: what a page's script
    needs, already in the page's language."""
    t = translator(lang)
    return {k: t(k) for k in TEXTS[DEFAULT] if k.startswith(prefixes)}
