"""The visitor's phone pages: booking online (``/book``), following a ticket (``/t/{token}``)
and rating the service (``/rate/{window}``). Their data comes from the API
(``hall_server/http/appointments.py``, ``ratings.py``, ``tickets.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hall_server.core.ratings import LEVELS, REASONS
from hall_server.guard.credentials import pad
from hall_server.guard.pairing import paired_or_page
from hall_server.http.appointments import PHONE_PROOF
from hall_server.http.common import HALL
from hall_server.http.lang import lang_of
from hall_server.http.pages import not_found, render
from hall_server.i18n import texts, translator

routes = web.RouteTableDef()


def _page_data(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What the page's script needs: its texts in the page's language, the rating choices."""
    lang = lang_of(request)
    t = translator(lang)
    return {
        "lang": lang,
        "T": texts(lang, *_PAGE_TEXTS),
        "choices": {
            "levels": [{"level": lv, "name": t(f"rating.level.{lv}")} for lv in LEVELS],
            "reasons": [{"code": c, "name": t(f"rating.reason.{c}")} for c in REASONS],
        },
        **extra,
    }


_PAGE_TEXTS = (
    "book.",
    "weekday.",
    "month.",
    "progress.",
    "rate.",
    "err.",
    "about_minutes",
    "minutes",
)


@routes.get("/book")
async def book_page(request: web.Request) -> web.Response:
    hall = request.app[HALL].config
    en = lang_of(request) == "en"
    items = {
        s.code: [
            {
                "code": i.code,
                "name": i.name_en if en and i.name_en else i.name,
                "materials": i.materials,
            }
            for i in s.items
        ]
        for s in hall.service
    }
    where = {
        "address": hall.hall.address_en if en and hall.hall.address_en else hall.hall.address,
        "map_url": hall.hall.map_url,
    }
    proof = request.app.get(PHONE_PROOF) is not None
    data = _page_data(request, items=items, where=where, phone_proof=proof)
    return render(request, "book.html", {"data": data})


@routes.get("/t/{token}")
async def progress_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    token = request.match_info["token"]
    known = hall.engine.by_token_latest(token) or hall.store.ticket_by_token(token)
    ctx = {"known": known is not None, "data": _page_data(request, token=token)}
    return render(request, "progress.html", ctx, status=200 if known else 404)


@routes.get("/rate/{window}")
async def rate_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    window = request.match_info["window"]
    if window not in hall.windows_cfg:
        return not_found(request, "window", window)
    name = hall.windows_cfg[window].label
    unpaired = paired_or_page(request, pad(window), f"{name} 评价器")
    if unpaired is not None:
        return unpaired
    ctx = {"window": window, "data": _page_data(request, window=window)}
    return render(request, "rate.html", ctx)
