"""The manager's pages: the live dashboard (``/manager``), reports for any range
(``/manager/reports``, with satisfaction per window and clerk beside them) and the 差评
follow-up (``/manager/ratings``). Their data comes from the API (``hall_server/http/``:
``metrics.py``, ``reports.py``, ``ratings.py``, ``alarms.py``) and ``/ws/manager``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hall_server import ratings as ratings_mod
from hall_server import reports as reports_mod
from hall_server.core import reports as figures
from hall_server.core.access import Role
from hall_server.core.errors import DomainError
from hall_server.core.ratings import LEVELS, REASONS
from hall_server.http.common import HALL, WEBHOOKS
from hall_server.http.lang import lang_of
from hall_server.http.pages import page_login, render
from hall_server.http.reports import report
from hall_server.http.webhooks import attempt_view, views
from hall_server.i18n import error_message, texts, translator
from manager_pages import figures as headline
from manager_pages.charts import hours_svg, trend_svg, waits_svg

routes = web.RouteTableDef()


@routes.get("/manager")
async def dashboard(request: web.Request) -> web.Response:
    page_login(request, Role.MANAGER)
    ctx = {
        "page": "live",
        "texts_device": texts(lang_of(request), "device."),
        "tz": request.app[HALL].config.hall.timezone,
    }
    return render(request, "manager.html", ctx)


@routes.get("/manager/reports")
async def reports_page(request: web.Request) -> web.Response:
    page_login(request, Role.MANAGER)
    hall = request.app[HALL]
    q = request.query
    t = translator(lang_of(request))
    ctx: dict[str, Any] = {
        "page": "reports",
        "from": q.get("from", hall.today().isoformat()),
        "to": q.get("to", q.get("from", hall.today().isoformat())),
        "by": q.get("by", "window"),
        "dimensions": figures.DIMENSIONS,
        # the page shows times in minutes, and its headers say so (the exports keep seconds)
        "columns": [
            (c, t(f"report.in_minutes.{c}" if c.endswith("_s") else f"report.column.{c}"))
            for c in figures.COLUMNS
            if c != "key"
        ],
        "error": None,
        "rep": None,
    }
    try:
        rep = await report(request)
    except DomainError as e:  # in the page's language, from the catalog
        ctx["error"] = error_message(lang_of(request), e.code, {**e.values, **e.params}, e.message)
        return render(request, "manager_reports.html", ctx, status=422)
    lang = lang_of(request)
    if lang == "en":  # rows named in English where the configuration gives a name
        for row in rep["rows"]:
            row["name"] = row.get("name_en") or row["name"]
    start, end = figures.parse_range(rep["from"], rep["to"], hall.today())
    summary, *sat = await asyncio.gather(
        asyncio.to_thread(
            reports_mod.summary, hall.store, hall.config, start, end, hall.today(), hall.clock()
        ),
        *(
            asyncio.to_thread(ratings_mod.satisfaction, hall.store.path, rep["from"], rep["to"], by)
            for by in ("window", "staff")
        ),
    )
    ctx.update(
        summary=summary,
        headline=headline.views(summary, hall.config, lang),
        trend_svg=trend_svg(summary["trend"], lang) if len(summary["trend"]) > 1 else "",
        satisfaction={"window": sat[0], "staff": sat[1]},
        window_names={w.id: _window_name(w, lang) for w in hall.config.window},
        rep=rep,
        hours_svg=hours_svg(rep["hours"], lang),
        waits_svg=waits_svg(rep["wait_hist"], lang),
        query=request.query_string,
    )
    return render(request, "manager_reports.html", ctx)


def _window_name(w: Any, lang: str) -> str:
    return w.name_en if lang == "en" and w.name_en else w.label


@routes.get("/manager/ratings")
async def ratings_page(request: web.Request) -> web.Response:
    """差评 follow-up; the page's script lists and moves them through the ratings API."""
    page_login(request, Role.MANAGER)
    hall = request.app[HALL]
    lang = lang_of(request)
    i = 1 if lang == "en" else 0
    t = translator(lang)
    setup = {
        "today": hall.today().isoformat(),
        "tz": hall.config.hall.timezone,
        "lang": lang,
        "windows": {w.id: _window_name(w, lang) for w in hall.config.window},
        "services": {s.code: s.name_en if i and s.name_en else s.name for s in hall.config.service},
        "levels": {lv: t(f"rating.level.{lv}") for lv in LEVELS},
        "reasons": {code: t(f"rating.reason.{code}") for code in REASONS},
    }
    return render(request, "manager_ratings.html", {"page": "ratings", "setup": setup})


@routes.get("/manager/integrations")
async def integrations_page(request: web.Request) -> web.Response:
    """Receivers with their state, and the latest attempts and failures of each."""
    page_login(request, Role.MANAGER)
    hooks = request.app[WEBHOOKS]
    receivers = await views(hooks)
    for r in receivers:
        r["recent"] = [
            attempt_view(hooks, a)
            for a in await asyncio.to_thread(hooks.outbox.attempts, r["id"], False, 10)
        ]
        r["failed"] = [
            attempt_view(hooks, a)
            for a in await asyncio.to_thread(hooks.outbox.attempts, r["id"], True, 10)
        ]
    ctx = {"page": "integrations", "receivers": receivers}
    return render(request, "manager_integrations.html", ctx)
