"""The hall board and the window screens: ``GET /board`` and ``GET /board?window=W``.

Their live messages come over ``/ws/board`` (``hall_server/http/websockets.py``); the voice
(``static/voice.js`` and the clips in ``static/voice/``) is shared with the kiosk and the
progress page.
"""

from __future__ import annotations

from aiohttp import web

from hall_server.http.common import ACCOUNTS, HALL
from hall_server.http.lang import lang_of
from hall_server.http.pages import not_found, render, services_public
from hall_server.i18n import texts

routes = web.RouteTableDef()


@routes.get("/board")
async def board_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    window = request.query.get("window")
    if window is not None and window not in hall.windows_cfg:
        return not_found(request, "window", window)
    lang = lang_of(request)
    wcfg = hall.windows_cfg[window] if window else None
    names = {
        s.code: s.name_en if lang == "en" and s.name_en else s.name for s in hall.config.service
    }
    return render(
        request,
        "board.html",
        {
            "window": wcfg,
            "window_services": [names[s] for s in wcfg.services] if wcfg else [],
            "clerk": request.app[ACCOUNTS].clerk_at(window) if window else None,
            "setup": {
                "window": window,
                "services": services_public(request),
                "texts": texts(lang, "board.", "common."),
                "lang": lang,
                "tz": hall.config.hall.timezone,
                "voice": request.query.get("voice", lang),
            },
        },
    )
