"""Chinese first, English a switch away: every text a person sees, by key, from one catalog per
language (``zh.toml``, ``en.toml`` beside this file).

Pages, their scripts (which get the keys they need with the page), the API's error messages
(``error.<code>``), the printed ticket and the report exports all read these catalogs; nothing
else holds translated text. Which language a request wants is the web layer's business
(``hall_server/http/lang.py``). A key missing in English
falls back to Chinese, never to the bare key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT = "zh"
_DIR = Path(__file__).resolve().parent


def _load(lang: str) -> dict[str, str]:
    with open(_DIR / f"{lang}.toml", "rb") as f:
        return tomllib.load(f)


TEXTS: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGS}


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


class _Keep(dict[str, object]):
    """Placeholders nobody filled stay as they are rather than failing the whole message."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def error_message(lang: str, code: str, values: dict[str, object], fallback: str) -> str:
    """The catalog's ``error.<code>`` in ``lang``, filled with ``values``; ``fallback`` (the
    English detail) only for a code the catalogs do not know."""
    text = TEXTS.get(lang, TEXTS[DEFAULT]).get("error." + code)
    if text is None:
        return fallback
    return text.format_map(_Keep(values))
