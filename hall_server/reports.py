"""Reports for any date range, by window, service, item, staff member, hour or day, their CSV
and Excel exports, and the headline figures of a range beside the range before it. The
figures are computed in ``core/reports.py``; here the days are fetched: closed days from their
caches in ``report_days`` (built on first use, kept in memory once read: a closed day never
changes), today always fresh from ``tickets``.

Run the functions here in a thread: they read through their own SQLite connection and write
the caches through the store's writer.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from hall_server.config import HallConfig
from hall_server.core.ratings import satisfaction_figures
from hall_server.core.reports import (
    COLUMNS,
    DIMENSIONS,
    NO_ITEM,
    VERSION,
    Day,
    ReportError,
    aggregate,
    build_day,
    compare,
    days_between,
    headline,
    merge,
    name_rows,
    pack,
    previous_period,
    same_time_on,
    table,
    twin_of_today,
    unpack,
)
from hall_server.i18n import translator
from hall_server.store import ratings as ratings_store
from hall_server.store import report_days
from hall_server.store.db import Store

ZH, EN = translator("zh"), translator("en")
#: Closed days already read, per database file: a closed day never changes, and reading a
#: year of blobs again costs more than aggregating them. Bounded to a few years.
_MEMORY: dict[tuple[str, str], Day] = {}
MEMORY_DAYS = 1200


def _remember(store: Store, day: str, d: Day) -> None:
    if len(_MEMORY) >= MEMORY_DAYS:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[(str(store.path), day)] = d


def load(store: Store, config: HallConfig, start: date, end: date, today: date) -> list[Day]:
    """The days of a range: closed days from their caches (built on first use, and written
    through the store's writer), today fresh."""
    days = [d for d in days_between(start, end) if d <= today.isoformat()]
    path = str(store.path)
    known = {d: _MEMORY[(path, d)] for d in days if (path, d) in _MEMORY}
    if len(known) == len(days):
        return [known[d] for d in days]
    with report_days.reading(store.path) as conn:
        for d, n, k, b in report_days.cached(conn, start.isoformat(), end.isoformat(), VERSION):
            if d not in known:
                known[d] = Day(k, unpack(b, n), n, d)
                _remember(store, d, known[d])
        out, fresh = [], []
        for day in days:
            if day in known:
                out.append(known[day])
                continue
            built = build_day(report_days.ticket_rows(conn, day), config, day)
            out.append(built)
            if day < today.isoformat() and report_days.is_closed(conn, day):
                fresh.append((day, VERSION, time.time(), built.n, built.keys, pack(built.rec)))
                _remember(store, day, built)
    if fresh:
        with store.writing() as db:
            report_days.save(db.conn, fresh)
    return out


def warm(store: Store, config: HallConfig, today: date, years: int = 3) -> int:
    """Build the caches of recent closed days ahead of the first report; returns their number."""
    start = today - timedelta(days=365 * years)
    return len(load(store, config, start, today - timedelta(days=1), today))


def report(
    store: Store,
    config: HallConfig,
    start: date,
    end: date,
    today: date,
    by: str = "window",
    staff_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The report of a range grouped ``by`` one of :data:`DIMENSIONS`, with its total row and
    the data of the charts (arrivals and served per hour, distribution of waiting times).
    ``staff_names`` (login name -> display name) names the rows by staff as people know them.
    Rows by window, service and item carry ``name_en`` as well."""
    if by not in DIMENSIONS:
        raise ReportError("invalid_dimension", f"by must be one of {', '.join(DIMENSIONS)}")
    agg = aggregate(merge(load(store, config, start, end, today)), config, by)
    if by == "item":
        name_rows(agg["rows"], config, by, {NO_ITEM: ZH("report.no_item")},
                  {NO_ITEM: EN("report.no_item")})  # fmt: skip
    else:
        name_rows(agg["rows"], config, by, staff_names if by == "staff" else None)
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, **agg}


def satisfaction(store: Store, start: date, end: date) -> tuple[int, float | None]:
    """The number of ratings over the days and their 满意率, by the ratings' one rule."""
    levels: Counter[int] = Counter()
    for _, level, n in ratings_store.level_counts(store.path, start, end, "window"):
        levels[level] += n
    figures = satisfaction_figures([(None, lv, n) for lv, n in levels.items()], "all")
    return (figures[0]["count"], figures[0]["satisfaction_rate"]) if figures else (0, None)


def summary(
    store: Store, config: HallConfig, start: date, end: date, today: date, now: float | None = None
) -> dict[str, Any]:
    """The headline figures of a range beside those of the range of the same length just
    before it, and the range's trend: served and mean wait per day with tickets. While the
    range is not over (``now`` given), the previous period counts up to the same moment:
    today's counterpart up to the same time of day (the tickets issued before it), and none
    of the days after it; its ratings by whole days up to the counterpart."""
    by_day = aggregate(merge(load(store, config, start, end, today)), config, "day")
    a, b = previous_period(start, end)
    twin = twin_of_today(start, end, today) if now is not None else None
    until = None
    if twin is None:
        days, rated_to = load(store, config, a, b, today), b
    else:
        until = same_time_on(twin, now or 0.0, config)
        days = load(store, config, a, twin - timedelta(days=1), today) if twin > a else []
        with report_days.reading(store.path) as conn:
            rows = report_days.ticket_rows(conn, twin.isoformat(), until)
        days.append(build_day(rows, config, twin.isoformat()))
        rated_to = twin
    before = aggregate(merge(days), config, "service")["total"]
    now_fig = headline(by_day["total"], *satisfaction(store, start, end))
    before_fig = headline(before, *satisfaction(store, a, rated_to))
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "previous": {
            "from": a.isoformat(),
            "to": b.isoformat(),
            "until": None
            if until is None
            else datetime.fromtimestamp(until, config.tz).isoformat(),
        },
        "headline": now_fig,
        "previous_headline": before_fig,
        "figures": compare(now_fig, before_fig),
        "trend": [
            {"day": row["key"], "served": row["served"], "wait_mean_s": row["wait_mean_s"]}
            for row in by_day["rows"]
        ],
    }


#: The columns that are shares (0..1): exported as percentages.
RATE_COLUMNS = frozenset({"no_show_rate", "service_level", "utilisation"})


def _table(rep: dict[str, Any], lang: str) -> list[list[Any]]:
    t = translator(lang)
    if lang == "en":  # rows named in English where they have an English name
        rep = {**rep, "rows": [{**r, "name": r.get("name_en") or r["name"]} for r in rep["rows"]]}
    return table(rep, [t(f"report.column.{c}") for c in COLUMNS], t("report.total"))


def to_csv(rep: dict[str, Any], lang: str = "zh") -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows PC shows the names right."""
    buf = io.StringIO()
    csv.writer(buf).writerows(_table(rep, lang))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(rep: dict[str, Any], lang: str = "zh", summary: dict[str, Any] | None = None) -> bytes:
    """The report's table, its hours and, given the range's ``summary``, a last sheet with
    the headline figures beside the previous period (times in minutes, shares as %)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    t = translator(lang)
    wb = Workbook()
    ws = wb.active
    ws.title = f"{t('report.by.' + rep['by'])} {rep['from']}"[:31]
    for row in _table(rep, lang):
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    # rates read as percentages (12.5%), not raw fractions (0.125)
    for i, column in enumerate(COLUMNS, start=1):
        if column in RATE_COLUMNS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = "0.0%"
    ws.freeze_panes = "C2"
    hours = wb.create_sheet(t("report.sheet.hours"))
    hours.append([t("report.hour"), t("report.column.arrived"), t("report.column.served")])
    for cell in hours[1]:
        cell.font = Font(bold=True)
    for h in rep.get("hours", []):
        hours.append([f"{h['hour']:02d}:00", h["arrived"], h["served"]])
    if summary:
        head = wb.create_sheet(t("report.sheet.summary"))
        prev = summary["previous"]
        head.append([t("report.summary.figure"),
                     f"{t('report.summary.now')} {summary['from']}–{summary['to']}",
                     f"{t('report.summary.previous')} {prev['from']}–{prev['to']}",
                     t("report.summary.change"), t("report.summary.judgement")])  # fmt: skip
        for cell in head[1]:
            cell.font = Font(bold=True)
        for f in summary["figures"]:
            key, minutes = f["key"], f["key"].endswith("_s")
            scale = (
                (lambda v: None if v is None else round(v / 60, 1)) if minutes else (lambda v: v)
            )
            word = {True: "figure.good", False: "figure.bad"}.get(f["good"])
            head.append([
                t(f"figure.{key}") + (f" ({t('figure.unit.min')})" if minutes else ""),
                scale(f["value"]), scale(f["previous"]), scale(f["change"]),
                t(word) if word else t("figure.same") if f["direction"] == "same" else "—",
            ])  # fmt: skip
            if key in ("service_level", "satisfaction", "no_show_rate"):
                for cell in head[head.max_row][1:4]:
                    cell.number_format = "0.0%"
        head.column_dimensions["A"].width = 24
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
