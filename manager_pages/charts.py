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


_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**4, 10**5, 10**6, 10**7)


def _scale(peak: float) -> tuple[float, float]:
    """A round step for about five grid lines, and the axis's top (a multiple of it)."""
    peak = max(1.0, peak)
    step = next(s for s in _STEPS if peak / s <= 6)
    return step, step * -(-peak // step)


def _axes(w: int, h: int, box: tuple[int, int, int, int], y_title: str, x_title: str) -> str:
    """Axis titles: the value axis's unit along the left, the category axis's under it."""
    left, top, bottom = box[0], box[1], box[3]
    mid = top + (h - top - bottom) / 2
    return (
        f'<text x="14" y="{mid:.0f}" transform="rotate(-90 14 {mid:.0f})" text-anchor="middle" '
        f'class="axis-title">{escape(y_title)}</text>'
        f'<text x="{left + (w - left - box[2]) / 2:.0f}" y="{h - 6}" text-anchor="middle" '
        f'class="axis-title">{escape(x_title)}</text>'
    )


def _every(n: int, room: float) -> int:
    """Label every k-th category so that labels of ~50 px never overlap."""
    return max(1, -(-n * 50 // max(1, int(room))))


def _bars(
    labels: list[str],
    series: list[tuple[str, str, list[int]]],
    label: str,
    y_title: str,
    x_title: str,
    w: int = 720,
) -> str:
    """Grouped bars with a value axis of round steps; series are (name, css class, values)."""
    h, left, right, bottom, top = 320, 64, 10, 58, 36
    step, top_v = _scale(max([0, *(v for _, _, vs in series for v in vs)]))
    plot_w, plot_h = w - left - right, h - bottom - top
    y = lambda v: top + plot_h - plot_h * v / top_v  # noqa: E731
    out = []
    for i in range(0, int(top_v) + 1, int(step)):
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y(i):.1f}" y2="{y(i):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(i) + 5:.1f}" text-anchor="end">{i}</text>'
        )
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / len(series)
    every = _every(len(labels), plot_w)
    for gi, name in enumerate(labels):
        x0 = left + gi * group + group * 0.1
        for si, (sname, css, values) in enumerate(series):
            v = values[gi]
            out.append(
                f'<rect x="{x0 + si * bar:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                f'height="{y(0) - y(v):.1f}" class="{css}"><title>{escape(name)} '
                f"{escape(sname)}: {v}</title></rect>"
            )
        if gi % every == 0:
            out.append(
                f'<text x="{x0 + group * 0.4:.1f}" y="{h - bottom + 20}" '
                f'text-anchor="middle" class="tick">{escape(name)}</text>'
            )
    for si, (sname, css, _) in enumerate(series):
        out.append(
            f'<rect x="{left + si * 200}" y="8" width="18" height="18" class="{css}"/>'
            f'<text x="{left + si * 200 + 24}" y="23">{escape(sname)}</text>'
        )
    out.append(_axes(w, h, (left, top, right, bottom), y_title, x_title))
    return _frame(w, h, label, "".join(out))


def hours_svg(hours: list[dict[str, int]], lang: str = "zh") -> str:
    """Arrivals (by hour of issue) and served (by hour of finish), over the hours with any."""
    used = [h for h in hours if h["arrived"] or h["served"]] or hours[8:18]
    first, last = used[0]["hour"], used[-1]["hour"]
    span = [h for h in hours if first <= h["hour"] <= last]
    t = translator(lang)
    return _bars(
        [f"{h['hour']:02d}:00" for h in span],
        [
            (t("chart.arrived"), "s1", [h["arrived"] for h in span]),
            (t("chart.served"), "s2", [h["served"] for h in span]),
        ],
        t("chart.hours"),
        t("chart.axis.people"),
        t("chart.axis.hour"),
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
        t("chart.axis.people"),
        t("chart.axis.wait_min"),
    )


def trend_svg(days: list[dict[str, Any]], lang: str = "zh", w: int = 1080) -> str:
    """Served per day as bars on the left axis (people), the mean wait as a line on the right
    axis (minutes): the range's trend, one point per day with tickets."""
    t = translator(lang)
    h, left, right, bottom, top = 340, 64, 64, 58, 36
    plot_w, plot_h = w - left - right, h - bottom - top
    step, top_v = _scale(max([0, *(d["served"] for d in days)]))
    waits = [None if d["wait_mean_s"] is None else d["wait_mean_s"] / 60 for d in days]
    wstep, wtop = _scale(max([0.0, *(v for v in waits if v is not None)]))
    y = lambda v: top + plot_h - plot_h * v / top_v  # noqa: E731
    yw = lambda v: top + plot_h - plot_h * v / wtop  # noqa: E731
    out = []
    for i in range(0, int(top_v) + 1, int(step)):
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y(i):.1f}" y2="{y(i):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(i) + 5:.1f}" text-anchor="end">{i}</text>'
        )
    ticks = int(wtop // wstep)
    for k in range(ticks + 1):
        v = k * wstep
        out.append(f'<text x="{w - right + 6}" y="{yw(v) + 5:.1f}" class="s3-text">{v:g}</text>')
    group = plot_w / max(1, len(days))
    every = _every(len(days), plot_w)
    served, mean_wait = t("chart.served"), t("chart.wait_mean")
    points = []
    for i, d in enumerate(days):
        x0 = left + i * group
        label = d["day"][5:]  # MM-DD
        wait = waits[i]
        said = f"{d['day']} {served}: {d['served']}" + (
            "" if wait is None else f", {mean_wait}: {wait:.1f} {t('figure.unit.min')}"
        )
        out.append(
            f'<rect x="{x0 + group * 0.15:.1f}" y="{y(d["served"]):.1f}" '
            f'width="{group * 0.7:.1f}" height="{y(0) - y(d["served"]):.1f}" class="s1">'
            f"<title>{escape(said)}</title></rect>"
        )
        if wait is not None:
            points.append(f"{x0 + group / 2:.1f},{yw(wait):.1f}")
        if i % every == 0:
            out.append(
                f'<text x="{x0 + group / 2:.1f}" y="{h - bottom + 20}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    if points:
        out.append(f'<polyline points="{" ".join(points)}" class="s3-line"/>')
        out.extend(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3.5" '
                   'class="s3-dot"/>' for p in points)  # fmt: skip
    out.append(
        f'<rect x="{left}" y="8" width="18" height="18" class="s1"/>'
        f'<text x="{left + 24}" y="23">{escape(served)}</text>'
        f'<line x1="{left + 200}" x2="{left + 224}" y1="17" y2="17" class="s3-line"/>'
        f'<text x="{left + 230}" y="23">{escape(mean_wait)}</text>'
    )
    mid = top + plot_h / 2
    out.append(
        f'<text x="{w - 12}" y="{mid:.0f}" transform="rotate(90 {w - 12} {mid:.0f})" '
        f'text-anchor="middle" class="axis-title">{escape(t("chart.axis.wait_mean_min"))}</text>'
    )
    out.append(_axes(w, h, (left, top, right, bottom), t("chart.axis.served"), t("chart.axis.day")))
    return _frame(w, h, t("chart.trend"), "".join(out))
