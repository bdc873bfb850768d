"""The city's figures, computed with the halls' own measures.

A hall's figures on the hub come out of ``hall_server.core.reports`` (and its per-window view
``hall_server.metrics.window_figures``) fed with the rows the hub derived from the hall's
events (the same columns, in the same order), and the hall's own configuration as far as
figures need it (its services with their waiting targets, its windows, hours and time zone:
the *profile* it pushes). No measure is written twice.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from hall_server import metrics
from hall_server.config import HallConfig
from hall_server.core import reports
from hall_server.core.ratings import BAD

from .store import HubStore

STALE_S, OFFLINE_S = 60.0, 300.0
DEFAULT_TZ = "Asia/Shanghai"


def status(last_seen: float | None, now: float) -> str:
    """``online``, ``stale`` (nothing heard for a minute), ``offline`` (five) or ``never``."""
    if last_seen is None:
        return "never"
    quiet = now - last_seen
    return "online" if quiet < STALE_S else "stale" if quiet < OFFLINE_S else "offline"


def iso(at: float | None, tz: str = DEFAULT_TZ) -> str | None:
    return (
        None if at is None else datetime.fromtimestamp(at, ZoneInfo(tz)).isoformat("T", "seconds")
    )


def hall_view(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A hall as ``GET /api/v1/halls`` and the city websocket show it."""
    state = row.get("state") or {}
    profile = row.get("profile") or {}
    tz = (profile.get("hall") or {}).get("timezone", DEFAULT_TZ)
    return {
        "id": row["id"],
        "name": row["name"],
        "level": row["level"],
        "parent": row["parent"],
        "lat": row["lat"],
        "lon": row["lon"],
        "status": status(row["last_seen"], now),
        "last_seen": iso(row["last_seen"], tz),
        "waiting": state.get("waiting", 0),
        "open_windows": state.get("open_windows", 0),
        "longest_wait_s": state.get("longest_wait_s", 0.0),
        "catalog_version": row["catalog_version"],
        "open_now": state.get("open_now", False),
        "day": state.get("day"),
        "services": state.get("services", []),
        "followups": state.get("followups", {"open": 0, "overdue": 0}),
        "alarms_open": state.get("alarms_open", 0),
        "state_at": iso(row.get("state_at"), tz),
        "name_en": (profile.get("hall") or {}).get("name_en") or "",
        "public_url": (profile.get("hall") or {}).get("public_url"),
    }


@lru_cache(maxsize=1024)
def _config(profile_json: str) -> HallConfig:
    p = json.loads(profile_json)
    return HallConfig.model_validate(
        {
            "hall": p["hall"],
            "service": [
                {k: s[k] for k in ("code", "prefix", "name", "name_en", "target_wait_min")}
                for s in p["service"]
            ],
            "window": [
                {"id": w["id"], "name": w.get("name", ""), "services": w["services"]}
                for w in p["window"]
            ],
        }
    )


def hall_config(profile: dict[str, Any]) -> HallConfig:
    """The part of a hall's configuration its figures depend on, from its profile."""
    return _config(json.dumps(profile, sort_keys=True, ensure_ascii=False))


async def windows(store: HubStore, hall: dict[str, Any], day: date) -> list[dict[str, Any]]:
    """Exactly the hall's own ``GET /api/v1/metrics/windows?date=``: its report by window for
    that day, as ``hall_server.metrics`` presents it."""
    if not hall.get("profile"):
        return []  # the hall has not said what it serves: it has sent no ticket either
    return metrics.window_figures(await hall_report(store, hall, day, day, "window"))


async def report_by_hall(
    store: HubStore, halls: list[dict[str, Any]], start: date, end: date
) -> list[dict[str, Any]]:
    """One row per hall over a range: the hall report's totals, plus its ratings."""
    a, b = start.isoformat(), end.isoformat()
    ratings = await store.rating_counts(a, b, BAD)
    out = []
    for h in halls:
        total: dict[str, Any] = {}
        if h.get("profile"):
            config = hall_config(h["profile"])
            rows = await store.day_rows(h["id"], a, b)
            days = [reports.build_day(r, config, d) for d, r in sorted(rows.items())]
            total = reports.aggregate(reports.merge(days), config, "service")["total"] or {}
        n, bad = ratings.get(h["id"], (0, 0))
        out.append(
            {
                "hall": h["id"],
                "name": h["name"],
                "level": h["level"],
                "issued": total.get("arrived", 0),
                "served": total.get("served", 0),
                "no_show": total.get("no_show", 0),
                "wait_p50_s": total.get("wait_p50_s"),
                "wait_p90_s": total.get("wait_p90_s"),
                "service_level": total.get("service_level"),
                "ratings": n,
                "bad_ratings": bad,
                # beyond the contract, for the ranking of halls (监督考核)
                "wait_mean_s": total.get("wait_mean_s"),
                "no_show_rate": total.get("no_show_rate"),
                "satisfaction": round((n - bad) / n, 4) if n else None,
            }
        )
    return out


async def hall_report(
    store: HubStore, hall: dict[str, Any], start: date, end: date, by: str
) -> dict[str, Any]:
    """The hall's own report (``hall_server.reports.report``) from the hub's rows."""
    config = hall_config(hall["profile"])
    rows = await store.day_rows(hall["id"], start.isoformat(), end.isoformat())
    days = [reports.build_day(r, config, d) for d, r in sorted(rows.items())]
    agg = reports.aggregate(reports.merge(days), config, by)
    reports.name_rows(agg["rows"], config, by)
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, **agg}


async def day_summary(
    store: HubStore, hall: dict[str, Any], day: date, today: date, now: float
) -> dict[str, Any]:
    """A hall's headline figures for a day beside the day before (up to the same time of day
    while the day is not over): the hall's own computation (``reports.headline``,
    ``compare``) over the hub's rows and ratings, without the trend."""
    config = hall_config(hall["profile"])
    prev = day - timedelta(days=1)
    rows = await store.day_rows(hall["id"], prev.isoformat(), day.isoformat())
    before, until = rows.get(prev.isoformat(), []), None
    if reports.twin_of_today(day, day, today) == prev:
        until = reports.same_time_on(prev, now, config)
        issued = reports.ROW_COLUMNS.index("issued_at")
        before = [r for r in before if r[issued] < until]
    figs = []
    for d, r in ((day, rows.get(day.isoformat(), [])), (prev, before)):
        total = reports.aggregate(
            reports.merge([reports.build_day(r, config, d.isoformat())]), config, "service"
        )["total"]
        n, bad = (await store.rating_counts(d.isoformat(), d.isoformat(), BAD)).get(
            hall["id"], (0, 0)
        )
        figs.append(reports.headline(total, n, round((n - bad) / n, 4) if n else None))
    return {
        "from": day.isoformat(),
        "to": day.isoformat(),
        "previous": {
            "from": prev.isoformat(),
            "to": prev.isoformat(),
            "until": None
            if until is None
            else datetime.fromtimestamp(until, config.tz).isoformat(),
        },
        "headline": figs[0],
        "previous_headline": figs[1],
        "figures": reports.compare(figs[0], figs[1]),
    }


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a sphere of the Earth's mean radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def near(
    halls: list[dict[str, Any]],
    item: str,
    catalog: dict[str, Any] | None,
    lat: float | None,
    lon: float | None,
    now: float,
) -> dict[str, Any] | None:
    """The halls that handle an item, open and online first, then nearest (or shortest wait).
    ``None`` when no catalog and no hall knows the item."""
    info = next((i for i in (catalog or {}).get("items", []) if i.get("code") == item), None)
    found = []
    for h in halls:
        profile, state = h.get("profile") or {}, h.get("state") or {}
        served = {s for w in profile.get("window", []) for s in w["services"]}
        for s in profile.get("service", []):
            entry = next((i for i in s.get("items", []) if i["code"] == item), None)
            if entry is None or s["code"] not in served:
                continue
            info = info or entry
            live: dict[str, Any] = next(
                (x for x in state.get("services", []) if x["service"] == s["code"]), {}
            )
            st = status(h["last_seen"], now)
            dist = None
            if (
                lat is not None
                and lon is not None
                and h["lat"] is not None
                and h["lon"] is not None
            ):
                dist = round(distance_m(lat, lon, h["lat"], h["lon"]))
            found.append(
                {
                    "id": h["id"],
                    "name": h["name"],
                    "level": h["level"],
                    "status": st,
                    "open_now": bool(state.get("open_now") and live.get("open")),
                    "waiting": live.get("waiting", 0),
                    "estimated_wait_s": live.get("eta_s"),
                    "distance_m": dist,
                    "service": s["code"],
                    "name_en": (profile.get("hall") or {}).get("name_en") or "",
                    "public_url": (profile.get("hall") or {}).get("public_url"),
                    "lat": h["lat"],
                    "lon": h["lon"],
                }
            )
            break
    if info is None:
        return None

    def order(x: dict[str, Any]) -> tuple:
        first = 0 if x["open_now"] and x["status"] == "online" else 1
        if lat is not None and lon is not None:
            return (first, x["distance_m"] is None, x["distance_m"] or 0)
        eta = x["estimated_wait_s"]
        return (first, eta is None, eta or 0)

    found.sort(key=order)
    return {
        "item": {
            "code": item,
            "name": info.get("name"),
            "name_en": info.get("name_en", ""),
            "online": bool(info.get("online")),
        },
        "halls": found,
    }
