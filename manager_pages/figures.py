"""How the headline figures of a report read on the page: each value in its unit, and its
change against the previous period as an arrow, a word (向好 / 变差: the colour is never the
only sign) and one sentence for screen readers. The figures themselves are computed in
``hall_server/core/reports.py`` (``headline``, ``compare``)."""

from __future__ import annotations

from typing import Any

from hall_server.config import HallConfig
from hall_server.i18n import translator

ARROWS = {"up": "↑", "down": "↓", "same": "→"}


def _kind(key: str) -> str:
    return "minutes" if key.endswith("_s") else "count" if key == "served" else "rate"


def _value(key: str, v: float | None) -> str:
    if v is None:
        return "—"
    kind = _kind(key)
    if kind == "minutes":
        return f"{v / 60:.1f}"
    if kind == "rate":
        return f"{v * 100:.1f}"
    return f"{int(v):,}"


def _unit(key: str, t: Any) -> str:
    return {"minutes": t("figure.unit.min"), "rate": "%", "count": t("figure.unit.people")}[
        _kind(key)
    ]


def _with_unit(key: str, v: float | None, t: Any) -> str:
    if v is None:
        return "—"
    return f"{_value(key, v)}{'' if _kind(key) == 'rate' else ' '}{_unit(key, t)}"


def _change(key: str, change: float, t: Any) -> str:
    """The size of a change in the figure's unit: rates in percentage points."""
    kind = _kind(key)
    if kind == "rate":
        return f"{abs(change) * 100:.1f} {t('figure.unit.pp')}"
    return _with_unit(key, abs(change), t)


def _targets(config: HallConfig, t: Any) -> str:
    """The services' waiting targets, as the service level is measured against them."""
    mins = sorted({s.target_wait_min for s in config.service})
    if not mins:
        return "—"
    span = f"{mins[0]:g}" if len(mins) == 1 else f"{mins[0]:g}–{mins[-1]:g}"
    return f"{span} {t('figure.unit.min')}"


def views(summary: dict[str, Any], config: HallConfig, lang: str) -> list[dict[str, str]]:
    """One card per headline figure: label, value, unit, a line under it, and the comparison
    (``direction``: up/down/same/none, ``judgement``: good/bad/neutral)."""
    t = translator(lang)
    now = summary["headline"]
    notes = {
        "served": t("figure.sub.served", n=f"{now['arrived']:,}"),
        "wait_mean_s": t("figure.sub.wait_mean_s"),
        "wait_p90_s": t("figure.sub.wait_p90_s"),
        "service_level": t("figure.sub.service_level", target=_targets(config, t)),
        "satisfaction": t("figure.sub.satisfaction", n=f"{now['ratings']:,}"),
        "no_show_rate": t("figure.sub.no_show_rate", n=f"{now['no_show']:,}"),
    }
    out = []
    for f in summary["figures"]:
        key, direction = f["key"], f["direction"] or "none"
        previous = _with_unit(key, f["previous"], t)
        if direction == "none":
            change = said = t("figure.no_data" if f["value"] is None else "figure.no_previous")
        elif direction == "same":
            change = t("figure.same")
            said = t("figure.same_said", previous=previous)
        else:
            size = _change(key, f["change"], t)
            word = t("figure.good" if f["good"] else "figure.bad")
            change = f"{size} · {word}"
            said = t(f"figure.{direction}_said", size=size, word=word, previous=previous)
        out.append(
            {
                "key": key,
                "label": t(f"figure.{key}"),
                "value": _value(key, f["value"]),
                "unit": "" if f["value"] is None else _unit(key, t),
                "note": notes[key],
                "direction": direction,
                "arrow": ARROWS.get(direction, ""),
                "judgement": "neutral" if f["good"] is None else "good" if f["good"] else "bad",
                "change": change,
                "previous": "" if f["previous"] is None else t("figure.previous", value=previous),
                "said": said,
            }
        )
    return out
