"""The hub's pages: the city dashboard (``/city``, with a hall's day at ``/city/halls/{id}``),
the public nearby page (``/near``), the login, and the small read-only APIs they need beyond
``hub-v1.md``: the 监督考核 ranking (``/api/v1/ranking``, ``.csv``), the work plan's pilot targets
(``/api/v1/pilot``) and the searchable catalog (``/api/v1/near/items``).

Pages extend the hall's ``base.html`` and use its style, script helpers and the manager's
sheet and charts, so a hall's day looks on the hub as it does in the hall. Texts are in the
hall's catalogs (``hall_server/i18n``, keys ``hub.``, ``city.``, ``near.``): Chinese unless
``?lang=en`` or the ``lang`` cookie. Figures are the hub's (``figures``), themselves the
halls' measures.
"""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from hall_server.core import reports
from hall_server.http.errors import ApiError
from hall_server.http.lang import lang_of
from hall_server.http.pages import PAGE_FOLDERS, mount
from hall_server.i18n import texts, translator
from hall_server.network import items_for
from kiosk_ui.search import searchable
from manager_pages.charts import hours_svg, waits_svg
from manager_pages.figures import views

from . import figures
from .auth import COOKIE, Principal, principal, require, token_hash, token_of
from .live import Network

routes = web.RouteTableDef()
HERE = Path(__file__).resolve().parent
#: Ours, then the hall's frame (base.html).
TEMPLATE_DIRS = [HERE / "templates", PAGE_FOLDERS["common"] / "templates"]
#: The hall's common style and scripts, the manager's sheet, the kiosk's search; and ours.
STATIC_DIRS = {
    **{k: PAGE_FOLDERS[k] / "static" for k in ("common", "manager", "kiosk")},
    "hub": HERE / "static",
}
LEVELS = ("city", "town", "village")
#: The work plan's pilot targets for a town center (入驻事项不少于100项, 网上可办率不低于90%).
PILOT_ITEMS, PILOT_ONLINE = 100, 0.9
#: Where "do it online" sends a visitor: the province's online service portal (一网通办).
ONLINE_URL = os.environ.get("HALL_HUB_ONLINE_URL", "https://www.gdzwfw.gov.cn/")
#: Ranking measures: key, the direction that is better.
MEASURES = {
    "wait_p90_s": "low",
    "service_level": "high",
    "no_show_rate": "low",
    "satisfaction": "high",
    "followups_overdue": "low",
}


def setup(app: web.Application) -> None:
    mount(app, TEMPLATE_DIRS, STATIC_DIRS)
    app.add_routes(routes)


def _store(request: web.Request) -> Any:
    from .api import STORE

    return request.app[STORE]


def _net(request: web.Request) -> Network:
    from .api import NETWORK

    return request.app[NETWORK]


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    who: Principal | None = None,
    status: int = 200,
) -> web.Response:
    lang = lang_of(request)
    t = translator(lang)
    ctx = {"lang": lang, "t": t, "hall_name": t("hub.name"), "user": who, **context}
    resp = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    if request.query.get("lang") in ("zh", "en"):
        resp.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax")
    return resp


async def _page_login(request: web.Request) -> Principal:
    who = await principal(request, _store(request))
    if who is None:  # the login page in the language asked for, then back here
        query = {"next": request.path_qs, **{k: v for k, v in request.query.items() if k == "lang"}}
        raise web.HTTPFound(f"/login?{urlencode(query)}")
    return who


def _safe_next(raw: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/city"


def _scope_name(request: web.Request, who: Principal) -> str:
    t = translator(lang_of(request))
    if who.role == "city" or not who.scope:
        return t("city.scope_all")
    row = _net(request).rows.get(who.scope)
    return row["name"] if row else who.scope


def _today() -> date:
    from .api import _today as today

    return today()


# -- pages -------------------------------------------------------------------------------------


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/near")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return render(
        request,
        "login.html",  # the hall's staff login, shared
        {
            "next": _safe_next(request.query.get("next")),
            "title_key": "hub.login_title",
            "home": "/city",
        },
    )


@routes.get("/logout")
async def logout_page(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        await _store(request).drop_session(token_hash(token))
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE)
    raise resp


@routes.get("/city")
async def city_page(request: web.Request) -> web.Response:
    who = await _page_login(request)
    lang = lang_of(request)
    setup = {
        "lang": lang,
        "today": _today().isoformat(),
        "role": who.role,
        "scope": who.scope,
        "texts": texts(lang, "city."),
        "pilot": {"items": PILOT_ITEMS, "online": PILOT_ONLINE},
    }
    return render(
        request,
        "city.html",
        {"setup": setup, "scope_name": _scope_name(request, who), "levels": LEVELS},
        who,
    )


@routes.get("/city/halls/{id}")
async def hall_page(request: web.Request) -> web.Response:
    """A hall's day as its manager sees it: live queues, windows, the day's report and charts."""
    who = await _page_login(request)
    lang = lang_of(request)
    t = translator(lang)
    net = _net(request)
    hall_id = request.match_info["id"]
    row = net.rows.get(hall_id)
    if row is None:
        return render(request, "hub_error.html", {"message": t("city.err.unknown_hall")}, who, 404)
    if not who.sees(hall_id, net.parents()):
        return render(request, "hub_error.html", {"message": t("city.err.forbidden")}, who, 403)
    try:
        day = date.fromisoformat(request.query.get("date") or _today().isoformat())
    except ValueError:
        return render(request, "hub_error.html", {"message": t("city.err.invalid_date")}, who, 422)
    store = _store(request)
    view = net.views.get(hall_id) or figures.hall_view(row, time.time())
    profile = row.get("profile")
    rep = summary = None
    headline: list[dict[str, str]] = []
    names: dict[str, str] = {}
    if profile:
        config = figures.hall_config(profile)
        rep = await figures.hall_report(store, row, day, day, "window")
        summary = await figures.day_summary(store, row, day, _today(), time.time())
        headline = views(summary, config, lang)
        names = {w.id: w.name_en if lang == "en" and w.name_en else w.label for w in config.window}
        services = {s.code: s.name_en if lang == "en" and s.name_en else s.name
                    for s in config.service}  # fmt: skip
        for r in rep["rows"]:
            r["name"] = names.get(r["key"], r["name"])
    else:
        services = {}
    windows = await figures.windows(store, row, day)
    parent = net.rows.get(row["parent"] or "")
    ctx = {
        "hall": view,
        "hall_title": (view["name_en"] if lang == "en" and view.get("name_en") else view["name"]),
        "parent": parent if parent and who.sees(parent["id"], net.parents()) else None,
        "day": day.isoformat(),
        "rep": rep,
        "summary": summary,
        "headline": headline,
        "windows": windows,
        "window_names": names,
        "service_names": services,
        "hours_svg": hours_svg(rep["hours"], lang) if rep and rep["total"] else "",
        "waits_svg": waits_svg(rep["wait_hist"], lang) if rep and rep["total"] else "",
        "setup": {"hall": hall_id, "lang": lang, "texts": texts(lang, "city.")},
    }
    return render(request, "city_hall.html", ctx, who)


@routes.get("/near")
async def near_page(request: web.Request) -> web.Response:
    lang = lang_of(request)
    setup = {"lang": lang, "texts": texts(lang, "near."), "online_url": ONLINE_URL}
    return render(request, "near.html", {"setup": setup})


# -- read-only APIs of the pages ---------------------------------------------------------------


@routes.get("/api/v1/near/items")
async def near_items(request: web.Request) -> web.Response:
    """The published catalog as the kiosk searches it (pinyin computed here, once per version),
    and the town centers a visitor without location may pick."""
    store = _store(request)
    cat = await store.catalog()
    items = _searchable(cat) if cat else []
    towns = [
        {"id": r["id"], "name": r["name"], "lat": r["lat"], "lon": r["lon"],
         "name_en": (r.get("profile") or {}).get("hall", {}).get("name_en", "")}
        for r in _net(request).rows.values()
        if r["level"] in ("city", "town") and r["lat"] is not None
    ]  # fmt: skip
    return web.json_response({"version": cat[0] if cat else None, "items": items, "towns": towns})


_search_cache: dict[int, list[dict[str, Any]]] = {}


def _searchable(cat: tuple[int, dict[str, Any]]) -> list[dict[str, Any]]:
    version, data = cat
    if version not in _search_cache:
        _search_cache.clear()
        out = [
            {**searchable({**it, "kind": "item"}, it["service"]), "online": it["online"]}
            for it in data["items"]
        ]
        _search_cache[version] = out
    return _search_cache[version]


async def _ranking(request: web.Request) -> dict[str, Any]:
    store = _store(request)
    who = await require(request, store)
    q = request.query
    try:
        start, end = reports.parse_range(q.get("from"), q.get("to"), _today())
    except reports.ReportError as e:
        raise ApiError(422, e.code, str(e)) from None
    level = q.get("level", "town")
    if level not in LEVELS:
        raise ApiError(422, "invalid_level", "level must be city, town or village")
    net = _net(request)
    halls = [h for h in who.visible(net.rows.values()) if h["level"] == level]
    rows = await figures.report_by_hall(store, halls, start, end)
    for r in rows:
        view = net.views.get(r["hall"], {})
        r["followups_overdue"] = (view.get("followups") or {}).get("overdue", 0)
        r["name_en"] = view.get("name_en", "")
    rank(rows)
    return {"from": start.isoformat(), "to": end.isoformat(), "level": level, "rows": rows}


def rank(rows: list[dict[str, Any]]) -> None:
    """综合排名: each hall's mean place over the measures it has figures for (1 is best), ties
    sharing a place; halls without a single figure come last, unranked."""
    for key, better in MEASURES.items():
        have = sorted((r[key] for r in rows if r[key] is not None), reverse=better == "high")
        for r in rows:
            r.setdefault("_places", [])
            if r[key] is not None:
                r["_places"].append(have.index(r[key]) + 1)
    for r in rows:
        places = r.pop("_places")
        r["score"] = round(sum(places) / len(places), 2) if places else None
    scored = sorted({r["score"] for r in rows if r["score"] is not None})
    for r in rows:
        r["rank"] = scored.index(r["score"]) + 1 if r["score"] is not None else None
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["hall"]))


@routes.get("/api/v1/ranking")
async def ranking(request: web.Request) -> web.Response:
    return web.json_response(await _ranking(request))


RANKING_COLUMNS = (
    ("rank", "综合排名", "Rank"),
    ("hall", "编号", "Hall"),
    ("name", "名称", "Name"),
    ("issued", "取号", "Issued"),
    ("served", "办结", "Served"),
    ("wait_p50_s", "等候P50(秒)", "Wait p50 (s)"),
    ("wait_p90_s", "等候P90(秒)", "Wait p90 (s)"),
    ("service_level", "达标率", "Service level"),
    ("no_show_rate", "过号率", "No-show rate"),
    ("satisfaction", "满意率", "Satisfaction"),
    ("ratings", "评价数", "Ratings"),
    ("bad_ratings", "差评", "Bad ratings"),
    ("followups_overdue", "逾期未办结差评(当前)", "Overdue follow-ups (now)"),
    ("score", "平均名次", "Mean place"),
)


def csv_cell(v: Any) -> Any:
    """A text that a spreadsheet would run as a formula (= + - @, tab, return) is quoted with a
    leading apostrophe; numbers stay numbers."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


@routes.get("/api/v1/ranking.csv")
async def ranking_csv(request: web.Request) -> web.Response:
    data = await _ranking(request)
    col = 2 if lang_of(request) == "en" else 1
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([c[col] for c in RANKING_COLUMNS])
    for r in data["rows"]:
        w.writerow([csv_cell(r.get(c[0])) for c in RANKING_COLUMNS])
    name = f"ranking-{data['level']}-{data['from']}-{data['to']}.csv"
    return web.Response(
        body=("\ufeff" + buf.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/v1/pilot")
async def pilot(request: web.Request) -> web.Response:
    """Per town center, the items of the published catalog it handles (its level, the services
    it has windows for) against the work plan's targets; ``deployed`` is the catalog version it
    runs."""
    store = _store(request)
    who = await require(request, store)
    cat = await store.catalog()
    net = _net(request)
    out = []
    for h in who.visible(net.rows.values()):
        if h["level"] != "town":
            continue
        served = {s for w in (h.get("profile") or {}).get("window", []) for s in w["services"]}
        items = [i for v in items_for(cat[1], "town", served).values() for i in v] if cat else []
        online = sum(1 for i in items if i.online)
        share = round(online / len(items), 4) if items else None
        out.append(
            {
                "hall": h["id"],
                "name": h["name"],
                "name_en": ((h.get("profile") or {}).get("hall") or {}).get("name_en") or "",
                "known": bool(served),
                "items": len(items),
                "online": online,
                "online_share": share,
                "meets": bool(served)
                and len(items) >= PILOT_ITEMS
                and (share or 0) >= PILOT_ONLINE,
                "deployed": h["catalog_version"],
            }
        )
    out.sort(key=lambda r: r["hall"])
    return web.json_response(
        {
            "published": cat[0] if cat else None,
            "target_items": PILOT_ITEMS,
            "target_online": PILOT_ONLINE,
            "halls": out,
        }
    )
