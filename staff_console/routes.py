"""The staff's pages: ``GET /login`` and ``GET /logout`` (the session cookie pages use,
``hallq_session``) and ``GET /staff``, the window console: staff land on their window,
managers choose one."""

from __future__ import annotations

import re

from aiohttp import web

from hall_server.core.access import Role
from hall_server.core.engine import NOTE_MAX, PAUSE_REASONS
from hall_server.http.common import ACCOUNTS, COOKIE, HALL, token_of
from hall_server.http.lang import lang_of
from hall_server.http.pages import not_found, page_login, render, services_public
from hall_server.i18n import texts

routes = web.RouteTableDef()


#: One slash, then printable ASCII without backslashes: browsers drop tabs and newlines from
#: addresses and read "\\" as "/", so "/\t/evil.test" would become "//evil.test".
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")


def _safe_next(raw: str | None) -> str | None:
    """Only local paths: a login link must not send the user to another site."""
    if raw and _LOCAL_PATH.fullmatch(raw):
        return raw
    return None


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    hall = request.app[HALL]
    windows = [{"id": w.id, "name": w.label, "name_en": w.name_en} for w in hall.config.window]
    return render(
        request,
        "login.html",
        {"next": _safe_next(request.query.get("next")) or "", "windows": windows},
    )


@routes.get("/logout")
async def logout_page(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        request.app[ACCOUNTS].close_session(token)
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE)
    raise resp


@routes.get("/staff")
async def staff_page(request: web.Request) -> web.Response:
    who = page_login(request, Role.STAFF)
    hall = request.app[HALL]
    wanted = request.query.get("window") or who.window
    if wanted is not None and wanted not in hall.windows_cfg:
        return not_found(request, "window", wanted)
    window = hall.windows_cfg[wanted] if wanted else None
    lang = lang_of(request)
    return render(
        request,
        "staff.html",
        {
            "window": window,
            "windows": hall.config.window,
            "may_act": window is not None and who.may_act_on(window.id),
            "pause_reasons": PAUSE_REASONS,
            "note_max": NOTE_MAX,
            "console": {
                "window": window.id if window else None,
                "window_services": list(window.services) if window else [],
                "services": services_public(request),
                "kiosks": {k.id: k.name or k.id for k in hall.config.kiosk},
                "user": who.username,
                "max_recalls": hall.config.queue.max_recalls,
                "texts": texts(lang, "staff.", "common."),
            },
        },
    )
