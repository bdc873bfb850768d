"""Report figures for any date range, by window, service, staff member, item (事项), hour of
the day or day: a day's tickets packed into columnar records, days merged, figures
aggregated; and the headline figures of a period beside the period before. Pure: the day
caches are read and written by ``hall_server/reports.py`` through ``store/report_days.py``.

Definitions follow the contract's queue rules and are written out in README.md ("Reports:
definitions"). A closed day's tickets never change, so each is packed once into one columnar
blob (~26 bytes a ticket); a report over a year merges ~250 of them and aggregates in C with
``np.bincount``; percentiles are exact to the second, nearest-rank (``measures.py``) over
per-group histograms of whole seconds rather than a sort.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from hall_server.config import HallConfig
from hall_server.core.errors import DomainError
from hall_server.core.measures import nearest_rank

VERSION = 2  # 2: the item column
#: How a report groups its rows. ``day`` is one row per business day (that day's total);
#: ``item`` one row per service item chosen at the kiosk, and one (key ``NO_ITEM``) for the
#: visits that chose none.
DIMENSIONS = ("window", "service", "item", "staff", "hour", "day")
NO_ITEM = ""
STATUSES = (
    "waiting",
    "called",
    "serving",
    "done",
    "no_show",
    "transferred",
    "cancelled",
    "expired",
)
S_DONE, S_NO_SHOW = STATUSES.index("done"), STATUSES.index("no_show")
S_LEFT = (STATUSES.index("cancelled"), STATUSES.index("expired"))
#: The columns of a day's records (stored one after the other: contiguous, fast to merge).
REC = np.dtype(
    [
        ("hour", "i1"),  # local hour of issue
        ("fhour", "i1"),  # local hour of the end (-1 while live)
        ("service", "i2"),  # indices into the day's key lists (-1: none)
        ("window", "i2"),
        ("staff", "i2"),
        ("item", "i2"),
        ("first", "?"),  # the visit's first ticket (not the successor of a transfer)
        ("status", "i1"),
        ("wait", "f4"),  # first called_at - issued_at (NaN: never called)
        ("queued", "f4"),  # time in the queue until called or gone
        ("svc", "f4"),  # service time of a done ticket (NaN otherwise)
        ("busy", "f4"),  # the window's time on it: called to ended
    ]
)
FIELDS: tuple[str, ...] = REC.names or ()
WAIT_BINS_MIN = (0, 5, 10, 15, 20, 30, 45, 60, 90)
MAX_SPAN_DAYS = 3660


class ReportError(DomainError):
    """A request no report can answer (bad range or dimension)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("invalid", code, message)


Cols = dict[str, np.ndarray]


def empty(n: int) -> Cols:
    return {name: np.zeros(n, REC[name]) for name in FIELDS}


def pack(cols: Cols) -> bytes:
    return b"".join(cols[name].astype(REC[name]).tobytes() for name in FIELDS)


def unpack(blob: bytes, n: int) -> Cols:
    out, at = {}, 0
    for name in FIELDS:
        out[name] = np.frombuffer(blob, REC[name], n, at)
        at += n * REC[name].itemsize
    return out


@dataclass
class Day:
    keys: dict[str, Any]
    rec: Cols
    n: int
    day: str = ""


# -- building the records of one day -----------------------------------------------------------


def days_between(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _overlap(a: float, b: float, spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans)


def _open_spans(config: HallConfig, day: str) -> tuple[float, list[tuple[float, float]]]:
    """Local midnight and the day's opening spans, as epoch seconds."""
    d = date.fromisoformat(day)
    tz = config.tz
    midnight = datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()
    spans = []
    for a, b in config.opening_spans():
        start = datetime.combine(d, a, tz).timestamp()
        end = (
            datetime.combine(d + timedelta(days=1), datetime.min.time(), tz).timestamp()
            if b.hour == 23 and b.minute == 59 and b.second == 59
            else datetime.combine(d, b, tz).timestamp()
        )
        spans.append((start, end))
    return midnight, spans


#: The ticket columns a day's records are built from, in this order.
ROW_COLUMNS = (
    "issued_at",
    "called_at",
    "started_at",
    "finished_at",
    "status",
    "service",
    "window",
    "called_by",
    "predecessor",
    "item",
)


def build_day(rows: list[tuple[Any, ...]], config: HallConfig, day: str) -> Day:
    """Pack one day's tickets (``ROW_COLUMNS``) into records (the lists in ``keys`` name the
    indices)."""
    midnight, spans = _open_spans(config, day)
    rec = empty(len(rows))
    keys: dict[str, Any] = {
        "services": [], "windows": [], "staff": [], "items": [], "open_s": {}, "staff_s": {}
    }  # fmt: skip
    if not rows:
        return Day(keys, rec, 0, day)
    issued, called, started, finished, status, service, window, staff, pred, item = zip(
        *rows, strict=True
    )
    issued_a = np.array(issued, float)
    called_a = np.array(called, float)
    finished_a = np.array(finished, float)
    begun = np.where(np.isnan(np.array(started, float)), called_a, np.array(started, float))

    def index(values: Iterable[str | None], name: str) -> np.ndarray:
        names: dict[str, int] = {}
        out = np.array([-1 if v is None else names.setdefault(v, len(names)) for v in values])
        keys[name] = list(names)
        return out

    rec["service"] = index(service, "services")
    rec["window"] = index(window, "windows")
    rec["staff"] = index(staff, "staff")
    rec["item"] = index(item, "items")
    rec["status"] = np.array([STATUSES.index(s) for s in status], np.int8)
    rec["first"] = np.array([p is None for p in pred])
    rec["hour"] = np.clip((issued_a - midnight) // 3600, 0, 23)
    rec["fhour"] = np.where(
        np.isnan(finished_a), -1, np.clip((finished_a - midnight) // 3600, 0, 23)
    )
    rec["wait"] = np.where(rec["first"], called_a - issued_a, np.nan)
    rec["queued"] = np.where(np.isnan(called_a), finished_a, called_a) - issued_a
    rec["svc"] = np.where(rec["status"] == S_DONE, finished_a - begun, np.nan)
    rec["busy"] = np.nan_to_num(finished_a - called_a)
    # Open time: from a window's (or a person's) first call to its last end, within hours.
    for kind, key_of in (
        ("open_s", lambda i: window[i]),
        ("staff_s", lambda i: f"{staff[i]}\t{window[i]}"),
    ):
        first_last: dict[str, list[float]] = {}
        for i in np.flatnonzero(~np.isnan(called_a)):
            if kind == "staff_s" and staff[i] is None:
                continue
            span = first_last.setdefault(key_of(i), [called_a[i], called_a[i]])
            span[0] = min(span[0], called_a[i])
            span[1] = max(span[1], finished_a[i] if finished_a[i] == finished_a[i] else called_a[i])
        keys[kind] = {k: round(_overlap(a, b, spans), 1) for k, (a, b) in first_last.items()}
    return Day(keys, {name: np.asarray(rec[name], REC[name]) for name in FIELDS}, len(rows), day)


# -- aggregation -------------------------------------------------------------------------------


@dataclass
class Merged:
    rec: Cols
    services: list[str]
    windows: list[str]
    staff: list[str]
    items: list[str]
    open_s: dict[str, float]
    staff_s: dict[str, float]
    #: per record, the index of its day in ``dates`` (the days with tickets), and each of
    #: those days' open time over all windows
    day: np.ndarray
    dates: list[str]
    day_open_s: list[float]


def merge(days: list[Day]) -> Merged:
    """One record array with indices into range-wide key lists."""
    names: dict[str, dict[str, int]] = {"services": {}, "windows": {}, "staff": {}, "items": {}}
    field = {"services": "service", "windows": "window", "staff": "staff", "items": "item"}
    parts: list[Cols] = []
    open_s: dict[str, float] = {}
    staff_s: dict[str, float] = {}
    dates: list[str] = []
    day_open_s: list[float] = []
    for d in days:
        if not d.n:
            continue
        rec = dict(d.rec)
        for kind, col in field.items():
            table = names[kind]
            lookup = [table.setdefault(k, len(table)) for k in d.keys[kind]]
            rec[col] = np.array([*lookup, -1], np.int16)[rec[col]]
        parts.append(rec)
        dates.append(d.day)
        day_open_s.append(sum(d.keys["open_s"].values()))
        for w, s in d.keys["open_s"].items():
            open_s[w] = open_s.get(w, 0.0) + s
        for ws, s in d.keys["staff_s"].items():
            who = ws.split("\t")[0]
            staff_s[who] = staff_s.get(who, 0.0) + s
    rec = {name: np.concatenate([p[name] for p in parts]) for name in FIELDS} if parts else empty(0)
    day = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p["status"]) for p in parts])
    return Merged(rec, list(names["services"]), list(names["windows"]), list(names["staff"]),
                  list(names["items"]), open_s, staff_s, day, dates, day_open_s)  # fmt: skip


class _Seconds:
    """Values of each group as a histogram of whole seconds: group 0 holds the rows without a
    key, the total is the sum of all groups. Quantiles read off it are exact to the second
    without sorting a million values; means come from the exact sums."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, groups: int) -> None:
        self.n = np.bincount(keys, minlength=groups)
        self.sum = np.bincount(keys, weights=values, minlength=groups)
        secs = np.clip(values, 0, None).astype(np.int64)
        width = int(secs.max()) + 1 if len(secs) else 1
        if width * groups > 30_000_000:  # absurd durations: cap at a day, the rest is noise
            secs, width = np.minimum(secs, 86_399), 86_400
        self.hist = np.bincount(keys * width + secs, minlength=groups * width).reshape(
            groups, width
        )
        self._cum: np.ndarray | None = None

    def total(self) -> _Seconds:
        out = object.__new__(_Seconds)
        out.n, out.sum = self.n.sum(keepdims=True), self.sum.sum(keepdims=True)
        out.hist = self.hist.sum(axis=0, keepdims=True)
        out._cum = None
        return out

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum / self.n

    def quantile(self, q: float) -> np.ndarray:
        """Nearest rank: the smallest value with at least ``q`` of the group at or below it."""
        if self._cum is None:
            self._cum = np.cumsum(self.hist, axis=1)
        rank = [nearest_rank(q, int(n)) for n in self.n]
        at = [np.searchsorted(row, k) for row, k in zip(self._cum, rank, strict=True)]
        return np.where(self.n > 0, at, np.nan)

    def max(self) -> np.ndarray:
        return self.quantile(1.0)


def _num(v: Any, digits: int = 1) -> float | None:
    v = float(v)
    return None if v != v else round(v, digits)


def _ratio(a: float, b: float, digits: int = 4) -> float | None:
    return round(float(min(1.0, a / b)), digits) if b else None


def aggregate(m: Merged, config: HallConfig, dim: str) -> dict[str, Any]:
    """One row per value of ``dim`` and the total row, with every measure, in one pass: keys
    are shifted by one so that group 0 gathers the rows without a key (a ticket never called
    has no window) and the total is the sum over all groups."""
    r = m.rec
    if dim == "hour":
        names = [f"{h:02d}:00" for h in range(24)]
        karr, ksrv = r["hour"].astype(np.int64) + 1, r["fhour"].astype(np.int64) + 1
    elif dim == "day":  # a ticket belongs to its day from issue to end
        names, karr = m.dates, m.day + 1
        ksrv = karr
    elif dim == "item":  # group 1 gathers the visits that chose no item
        names, karr = [NO_ITEM, *m.items], r["item"].astype(np.int64) + 2
        ksrv = karr
    else:
        col = {"window": "window", "service": "service", "staff": "staff"}[dim]
        names = {"window": m.windows, "service": m.services, "staff": m.staff}[dim]
        karr = ksrv = r[col].astype(np.int64) + 1
    g = len(names) + 1
    first, is_called = r["first"], r["window"] >= 0  # a ticket gets its window when called
    status = r["status"]
    target_by_svc = {s.code: s.target_wait_min * 60 for s in config.service}
    targets = np.array([target_by_svc.get(s, np.inf) for s in m.services] + [np.inf])[r["service"]]

    def count(mask: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return np.bincount(keys, weights=mask, minlength=g)

    waited = first & is_called
    waits = _Seconds(karr[waited], r["wait"][waited].astype(float), g)
    done = status == S_DONE
    svc = _Seconds(ksrv[done], r["svc"][done].astype(float), g)
    in_target = count(waited & (r["wait"] <= targets), karr)
    gave_up = first & ~is_called & np.isin(status, S_LEFT) & (r["queued"] > targets)
    measures = {
        "arrived": count(first, karr),
        "called": count(is_called, karr),
        "served": svc.n,
        "no_show": count(status == S_NO_SHOW, karr),
        "busy": np.bincount(ksrv, weights=r["busy"].astype(float), minlength=g),
        "in_target": in_target,
        "sl_base": waits.n + count(gave_up, karr),
    }
    if dim == "window":
        open_s = np.array([0.0] + [m.open_s.get(w, 0.0) for w in names])
    elif dim == "staff":
        open_s = np.array([0.0] + [m.staff_s.get(s, 0.0) for s in names])
    elif dim == "day":
        open_s = np.array([0.0, *m.day_open_s])
    else:
        open_s = np.zeros(g)
    total_open = sum(m.open_s.values())

    def rows(
        ms: dict[str, np.ndarray], w: _Seconds, sv: _Seconds, opened: np.ndarray
    ) -> list[dict[str, Any] | None]:
        wq = {q: w.quantile(q) for q in (0.5, 0.9, 0.95)}
        wmean, wmax, smean, sq = w.mean(), w.max(), sv.mean(), sv.quantile(0.9)
        out: list[dict[str, Any] | None] = []
        for i in range(len(ms["arrived"])):
            if not (ms["arrived"][i] or ms["called"][i] or ms["served"][i]):
                out.append(None)
                continue
            called = ms["called"][i]
            out.append(
                {
                    "arrived": int(ms["arrived"][i]),
                    "called": int(called),
                    "served": int(ms["served"][i]),
                    "no_show": int(ms["no_show"][i]),
                    "no_show_rate": _ratio(ms["no_show"][i], called),
                    "wait_mean_s": _num(wmean[i]),
                    "wait_p50_s": _num(wq[0.5][i]),
                    "wait_p90_s": _num(wq[0.9][i]),
                    "wait_p95_s": _num(wq[0.95][i]),
                    "wait_max_s": _num(wmax[i]),
                    "service_mean_s": _num(smean[i]),
                    "service_p90_s": _num(sq[i]),
                    "service_level": _ratio(ms["in_target"][i], ms["sl_base"][i]),
                    "busy_s": _num(ms["busy"][i]),
                    "open_s": _num(opened[i]) if opened[i] else None,
                    "utilisation": _ratio(ms["busy"][i], opened[i]),
                }
            )
        return out

    by = rows(measures, waits, svc, open_s)
    totals = {k: v.sum(keepdims=True) for k, v in measures.items()}
    total = rows(totals, waits.total(), svc.total(), np.array([total_open]))[0]
    hist = waits.total().hist[0]
    edges = [min(b * 60, len(hist)) for b in WAIT_BINS_MIN] + [len(hist)]
    return {
        "rows": [{"key": names[i - 1], **row} for i, row in enumerate(by) if i and row],
        "total": total,
        "hours": [
            {"hour": h, "arrived": int(a), "served": int(s)}
            for h, (a, s) in enumerate(
                zip(
                    np.bincount(r["hour"][first].astype(np.int64), minlength=24),
                    np.bincount(r["fhour"][done].astype(np.int64), minlength=24),
                    strict=True,
                )
            )
        ],
        "wait_hist": [
            {
                "from_min": WAIT_BINS_MIN[i],
                "to_min": WAIT_BINS_MIN[i + 1] if i + 1 < len(WAIT_BINS_MIN) else None,
                "n": int(hist[edges[i] : edges[i + 1]].sum()),
            }
            for i in range(len(WAIT_BINS_MIN))
        ],
    }


# -- the report --------------------------------------------------------------------------------


def parse_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """``from``/``to`` as YYYY-MM-DD (both default to today); refused when reversed or huge."""
    try:
        a = date.fromisoformat(start) if start else today
        b = date.fromisoformat(end) if end else (a if start else today)
    except ValueError:
        raise ReportError("invalid_date", "from and to must be dates, YYYY-MM-DD") from None
    if b < a:
        raise ReportError("invalid_range", "the range ends before it starts")
    if (b - a).days >= MAX_SPAN_DAYS:
        raise ReportError("invalid_range", f"a report covers at most {MAX_SPAN_DAYS} days")
    return a, b


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length that ends the day before ``start`` (this week: last
    week; a month of 30 days: the 30 days before it)."""
    length = end - start + timedelta(days=1)
    return start - length, start - timedelta(days=1)


def twin_of_today(start: date, end: date, today: date) -> date | None:
    """Today's counterpart in the previous period, when the range has not ended yet: that
    day is compared up to the same time of day, and the days after it not at all (this week
    so far against last week up to the same moment, not against all of last week)."""
    a, b = previous_period(start, end)
    twin = today - (end - start + timedelta(days=1))
    return twin if a <= twin <= b else None


def same_time_on(day: date, now: float, config: HallConfig) -> float:
    """``day`` at the hall's local time of day of ``now``."""
    return datetime.combine(
        day, datetime.fromtimestamp(now, config.tz).time(), config.tz
    ).timestamp()


def order(config: HallConfig, by: str) -> Any:
    """Windows and staff in natural order (2 before 10), services as configured, items the
    busiest first (those who chose none last)."""
    if by == "service":
        rank = {s.code: i for i, s in enumerate(config.service)}
        return lambda row: (rank.get(row["key"], len(rank)), row["key"])
    if by == "item":
        return lambda row: (row["key"] == NO_ITEM, -row["served"], -row["arrived"], row["key"])
    return lambda row: (len(row["key"]), row["key"])


def labels(config: HallConfig, by: str, lang: str = "zh") -> dict[str, str]:
    """The names of a report's rows, in English where the configuration gives one."""
    en = lang == "en"
    if by == "window":
        return {w.id: w.name_en if en and w.name_en else w.label for w in config.window}
    if by == "service":
        return {s.code: s.name_en if en and s.name_en else s.name for s in config.service}
    if by == "item":  # an item keeps its name after its visitor was transferred elsewhere
        return {
            i.code: i.name_en if en and i.name_en else i.name
            for s in reversed(config.service)
            for i in s.items
        }
    return {}


def name_rows(
    rows: list[dict[str, Any]],
    config: HallConfig,
    by: str,
    names: dict[str, str] | None = None,
    names_en: dict[str, str] | None = None,
) -> None:
    """Name a report's rows as people know them (``name``; ``name_en`` too by window,
    service and item), ``names`` adding to or overriding the configuration's, and put them in
    the report's order: the hall's own reports and the hub's drill-down into a hall alike."""
    zh = {**labels(config, by), **(names or {})}
    en = {**labels(config, by, "en"), **(names_en or {})}
    for row in rows:
        row["name"] = zh.get(row["key"], row["key"])
        if by in ("window", "service", "item"):
            row["name_en"] = en.get(row["key"], row["key"])
    rows.sort(key=order(config, by))


# -- headline figures --------------------------------------------------------------------------

#: The figures at the head of a report, each with the direction that is better: more served
#: and a higher service level and satisfaction are good, longer waits and more no-shows bad.
HEADLINE: tuple[tuple[str, int], ...] = (
    ("served", 1),
    ("wait_mean_s", -1),
    ("wait_p90_s", -1),
    ("service_level", 1),
    ("satisfaction", 1),
    ("no_show_rate", -1),
)
#: Changes smaller than half of these are shown as unchanged (the page's precision: one
#: person, a tenth of a minute, a tenth of a percentage point).
PRECISION = {"served": 1.0, "wait_mean_s": 6.0, "wait_p90_s": 6.0}
RATE_PRECISION = 0.001


def headline(
    total: dict[str, Any] | None, ratings: int, satisfaction: float | None
) -> dict[str, Any]:
    """A period's headline figures from its report's total row and its ratings (their number
    and 满意率, ``core.ratings.satisfaction_figures``)."""
    t = total or {}
    return {
        "served": t.get("served", 0),
        "arrived": t.get("arrived", 0),
        "wait_mean_s": t.get("wait_mean_s"),
        "wait_p90_s": t.get("wait_p90_s"),
        "service_level": t.get("service_level"),
        "satisfaction": satisfaction if ratings else None,
        "ratings": ratings,
        "no_show": t.get("no_show", 0),
        "no_show_rate": t.get("no_show_rate"),
    }


def compare(now: dict[str, Any], before: dict[str, Any]) -> list[dict[str, Any]]:
    """Each headline figure beside the previous period's: the change, its direction (``up``,
    ``down``, ``same``; None when either period has no value) and whether it is good."""
    out = []
    for key, better in HEADLINE:
        value, previous = now.get(key), before.get(key)
        change: float | None = None
        direction: str | None = None
        good: bool | None = None
        if value is not None and previous is not None:
            change = round(float(value) - float(previous), 4)
            if abs(change) < PRECISION.get(key, RATE_PRECISION) / 2:
                direction = "same"
            else:
                direction = "up" if change > 0 else "down"
                good = (change > 0) == (better > 0)
        out.append(
            {
                "key": key,
                "value": value,
                "previous": previous,
                "change": change,
                "direction": direction,
                "good": good,
                "better": "up" if better > 0 else "down",
            }
        )
    return out


# -- exports -----------------------------------------------------------------------------------

#: The columns of a report's table, in order (their headers: ``report.column.KEY``).
COLUMNS = (
    "key",
    "name",
    "arrived",
    "called",
    "served",
    "no_show",
    "no_show_rate",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_p95_s",
    "wait_max_s",
    "service_mean_s",
    "service_p90_s",
    "service_level",
    "utilisation",
)


def cell(value: Any) -> Any:
    """A value as a spreadsheet may show it: text that a spreadsheet would run as a formula
    (a staff name "=HYPERLINK(...)", "+1", "@SUM") gets a leading apostrophe (OWASP's CSV
    injection advice); numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(rep: dict[str, Any], headers: list[str], total_name: str) -> list[list[Any]]:
    """Header and rows (the total last), as exported to CSV and Excel, formula-safe."""
    out: list[list[Any]] = [headers]
    for row in rep["rows"]:
        out.append([cell(row.get(c)) for c in COLUMNS])
    if rep["total"]:
        total = {**rep["total"], "key": "*", "name": total_name}
        out.append([cell(total.get(c)) for c in COLUMNS])
    return out
