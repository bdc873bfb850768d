"""The catalogue the kiosk searches: every service item with the pinyin a visitor may type."""

from __future__ import annotations

import re
from typing import Any

from pypinyin import Style, lazy_pinyin

from hall_server.config import HallConfig


def initials(text: str) -> str:
    """Pinyin initials of the Chinese characters in ``text`` ("社会保障卡" -> "shbzk"); Latin
    letters and digits are kept, punctuation dropped, so visitors can type what they see."""
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return re.sub(r"[^a-z0-9]", "", "".join(parts).lower())


def full_pinyin(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text)).lower())


def catalog(config: HallConfig) -> list[dict[str, Any]]:
    """Every service item with what the kiosk search matches on, computed once per hall: the
    browser then searches 100+ items as the visitor types, without a round trip."""
    out = []
    for s in config.service:
        for entry in [{"code": s.code, "name": s.name, "name_en": s.name_en, "keywords": []}] + [
            i.model_dump() for i in s.items
        ]:
            words = [entry["name"], *entry.get("keywords", [])]
            out.append(
                {
                    "code": entry["code"],
                    "service": s.code,
                    "name": entry["name"],
                    "name_en": entry["name_en"],
                    "keywords": entry.get("keywords", []),
                    "initials": [initials(w) for w in words],
                    "pinyin": [full_pinyin(w) for w in words],
                }
            )
    return out


_catalogs: dict[int, tuple[HallConfig, list[dict[str, Any]]]] = {}


def catalog_of(config: HallConfig) -> list[dict[str, Any]]:
    held = _catalogs.get(id(config))
    if held is None or held[0] is not config:
        held = _catalogs[id(config)] = (config, catalog(config))
    return held[1]
