"""The touchscreen kiosk's server side.

- ``GET /kiosk/{kiosk}``: the kiosk page (404 page for an unknown kiosk).
- ``GET /qr.svg?data=TEXT``: a QR code as SVG (the ticket screen shows the progress page's).

The kiosk's live messages come over ``/ws/kiosk/{kiosk}`` (``hall_server/http/websockets.py``,
where the messages are described).
"""

from __future__ import annotations

from aiohttp import web

from hall_server.core.estimate import minutes_range
from hall_server.guard.pairing import paired_or_page
from hall_server.http.common import HALL
from hall_server.http.lang import lang_of
from hall_server.http.pages import not_found, public_base, render
from hall_server.http.qr import qr_response
from hall_server.i18n import texts
from kiosk_ui.search import catalog_of, popular_words

routes = web.RouteTableDef()

IDLE_DEFAULT_S = 30
QR_MAX_CHARS = 512


@routes.get("/kiosk/{kiosk}")
async def kiosk_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    kiosk = request.match_info["kiosk"]
    if kiosk not in hall.kiosks:
        return not_found(request, "kiosk", kiosk)
    unpaired = paired_or_page(request, kiosk, hall.kiosks[kiosk].name or f"自助机 {kiosk}")
    if unpaired is not None:
        return unpaired
    try:
        idle = int(request.query.get("idle", IDLE_DEFAULT_S))
    except ValueError:
        idle = IDLE_DEFAULT_S
    lang = lang_of(request)
    items = {s.code: len(s.items) for s in hall.config.service}
    services = [
        {**s, "eta_min": minutes_range(s["eta_range_s"]), "item_count": items.get(s["code"], 0)}
        for s in hall.services_view()
    ]
    return render(
        request,
        "kiosk.html",
        {
            "kiosk": kiosk,
            "services": services,
            "popular": popular_words(hall.config),
            "setup": {
                "kiosk": kiosk,
                "idle_s": min(max(idle, 5), 600),
                "base": public_base(request),
                "catalog": catalog_of(hall.config),
                "services": hall.services_view(),
                "texts": texts(lang, "kiosk.", "common."),
                "lang": lang,
                "tz": hall.config.hall.timezone,
            },
        },
    )


@routes.get("/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    data = request.query.get("data", "")
    if not data or len(data) > QR_MAX_CHARS:
        raise web.HTTPBadRequest(text=f"data must be 1 to {QR_MAX_CHARS} characters")
    return await qr_response(request, data)
