"""The report page's charts, drawn as inline SVG: no chart library, nothing from a CDN."""

from __future__ import annotations

from html import escape
from typing import Any

from hall_server.i18n import translator


def _frame(w: int, h: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{escape(label)}" class="chart"><title>{escape(label)}</title>{body}</svg>'
    )


def _bars(
    labels: list[str], series: list[tuple[str, str, list[int]]], label: str, w: int = 720
) -> str:
    """Grouped bars with a y-axis of round steps; series are (name, css class, values)."""
    h, left, bottom, top = 300, 48, 40, 36
    peak = max([1, *(v for _, _, vs in series for v in vs)])
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**4, 10**5,
                            10**6, 10**7) if peak / s <= 6)  # fmt: skip
    top_v = step * -(-peak // step)
    plot_w, plot_h = w - left - 10, h - bottom - top
    y = lambda v: top + plot_h - plot_h * v / top_v  # noqa: E731
    out = []
    for i in range(0, top_v + 1, step):
        out.append(
            f'<line x1="{left}" x2="{w - 10}" y1="{y(i):.1f}" y2="{y(i):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(i) + 5:.1f}" text-anchor="end">{i}</text>'
        )
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / len(series)
    for gi, name in enumerate(labels):
        x0 = left + gi * group + group * 0.1
        for si, (sname, css, values) in enumerate(series):
            v = values[gi]
            out.append(
                f'<rect x="{x0 + si * bar:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                f'height="{y(0) - y(v):.1f}" class="{css}"><title>{escape(name)} '
                f"{escape(sname)}: {v}</title></rect>"
            )
        out.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{h - bottom + 22}" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    for si, (sname, css, _) in enumerate(series):
        out.append(
            f'<rect x="{left + si * 160}" y="8" width="18" height="18" class="{css}"/>'
            f'<text x="{left + si * 160 + 24}" y="23">{escape(sname)}</text>'
        )
    return _frame(w, h, label, "".join(out))


def hours_svg(hours: list[dict[str, int]], lang: str = "zh") -> str:
    """Arrivals (by hour of issue) and served (by hour of finish), over the hours with any."""
    used = [h for h in hours if h["arrived"] or h["served"]] or hours[8:18]
    first, last = used[0]["hour"], used[-1]["hour"]
    span = [h for h in hours if first <= h["hour"] <= last]
    t = translator(lang)
    return _bars(
        [f"{h['hour']}" for h in span],
        [
            (t("chart.arrived"), "s1", [h["arrived"] for h in span]),
            (t("chart.served"), "s2", [h["served"] for h in span]),
        ],
        t("chart.hours"),
    )


def waits_svg(hist: list[dict[str, Any]], lang: str = "zh") -> str:
    t = translator(lang)
    labels = [
        f"{b['from_min']}–{b['to_min']}" if b["to_min"] is not None else f"{b['from_min']}+"
        for b in hist
    ]
    return _bars(
        labels,
        [(t("chart.waits_series"), "s1", [b["n"] for b in hist])],
        t("chart.waits"),
    )
