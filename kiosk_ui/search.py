"""The catalogue the kiosk searches: every service (a category) and item with the pinyin a
visitor may type and the everyday short names people use for them (社保, 医保, 户口本…)."""

from __future__ import annotations

import re
from typing import Any

from pypinyin import Style, lazy_pinyin

from hall_server.config import HallConfig

#: Everyday words and short names people say (and type) for what catalogs call by their
#: official names: a short name is added as a keyword of every entry whose name contains one of
#: its official forms. Halls add their own with an item's ``keywords``.
SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "社保": ("社会保障", "社会保险", "养老保险", "失业保险", "工伤", "参保证明", "退休"),
    "社保卡": ("社会保障卡",),
    "养老金": ("养老保险", "养老金"),
    "失业金": ("失业保险金",),
    "医保": ("医疗保险", "医疗保障", "医疗费用", "就医", "慢特病", "生育医疗", "医疗救助"),
    "报销": ("报销",),
    "户口本": ("户口簿", "户口", "入户", "户籍"),
    "户口": ("户口簿", "入户", "户籍"),
    "身份证": ("居民身份证",),
    "残疾证": ("残疾人证",),
    "房产证": ("不动产权证书", "房屋所有权", "不动产登记", "不动产转移", "预告登记"),
    "房本": ("不动产权证书", "房屋所有权"),
    "过户": ("转移登记",),
    "宅基地": ("宅基地",),
    "个税": ("个人所得税",),
    "交税": ("税费申报", "纳税", "所得税"),
    "开发票": ("发票",),
    "公积金": ("住房公积金",),
    "营业执照": ("个体工商户", "公司设立", "营业执照", "企业开办"),
    "开公司": ("公司设立", "企业开办", "新办纳税人"),
    "低保": ("最低生活保障", "低保"),
    "结婚": ("婚姻登记", "结婚"),
    "生孩子": ("生育", "新生儿", "出生医学证明"),
    "老人补贴": ("老年人", "高龄"),
    "退伍": ("退役军人",),
    "找工作": ("就业", "失业登记"),
    "打官司": ("法律援助", "人民调解"),
    "复印": ("复印", "打印"),
}


def initials(text: str) -> str:
    """Pinyin initials of the Chinese characters in ``text`` ("社会保障卡" -> "shbzk"); Latin
    letters and digits are kept, punctuation dropped, so visitors can type what they see."""
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return re.sub(r"[^a-z0-9]", "", "".join(parts).lower())


def syllables(text: str) -> str:
    """Full pinyin, one syllable per space ("社会保障卡" -> "she hui bao zhang ka"): the kiosk
    matches typing from the start of any syllable, so ``baozhang`` and ``shebao`` both find."""
    parts = (re.sub(r"[^a-z0-9]", "", p.lower()) for p in lazy_pinyin(text))
    return " ".join(p for p in parts if p)


def full_pinyin(text: str) -> str:
    return syllables(text).replace(" ", "")


def short_names(name: str) -> list[str]:
    return [short for short, longs in SHORT_NAMES.items() if any(w in name for w in longs)]


def searchable(entry: dict[str, Any], service: str) -> dict[str, Any]:
    """One catalog entry (a service or an item: ``code``, ``name``, ``name_en``, ``keywords``,
    ``kind``) with what the search matches on. The hub's 就近办 page searches its published
    catalog through this too, with the same script (``static/search.js``)."""
    keywords = list(dict.fromkeys([*entry.get("keywords", []), *short_names(entry["name"])]))
    words = [entry["name"], *keywords]
    return {
        "code": entry["code"],
        "kind": entry.get("kind", "service"),
        "service": service,
        "name": entry["name"],
        "name_en": entry.get("name_en") or "",
        "keywords": keywords,
        "initials": [initials(w) for w in words],
        "pinyin": [syllables(w) for w in words],
    }


def catalog(config: HallConfig) -> list[dict[str, Any]]:
    """Every service (a category) and its items with what the kiosk search matches on,
    computed once per hall: the browser then searches 100+ items as the visitor types, without
    a round trip. Categories come first; ``kind`` says which is which."""
    out = []
    for s in config.service:
        entries = [{"code": s.code, "name": s.name, "name_en": s.name_en, "keywords": []}]
        entries += [{**i.model_dump(), "kind": "item"} for i in s.items]
        out += [searchable(entry, s.code) for entry in entries]
    return out


#: The everyday words offered as one-tap keys beside the kiosk's keyboard, in this order.
POPULAR: tuple[str, ...] = ("社保", "社保卡", "医保", "身份证", "户口本", "公积金", "房产证")
POPULAR += ("营业执照", "个税", "残疾证", "低保", "退休")


def popular_words(config: HallConfig) -> list[str]:
    """The popular words that find something in this hall."""
    entries = catalog_of(config)
    return [w for w in POPULAR if any(w in e["name"] or w in e["keywords"] for e in entries)]


_catalogs: dict[int, tuple[HallConfig, list[dict[str, Any]]]] = {}


def catalog_of(config: HallConfig) -> list[dict[str, Any]]:
    held = _catalogs.get(id(config))
    if held is None or held[0] is not config:
        held = _catalogs[id(config)] = (config, catalog(config))
    return held[1]
