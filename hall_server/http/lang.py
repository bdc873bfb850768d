"""Which language a request wants: pages by their switch, API answers also by the browser."""

from __future__ import annotations

from aiohttp import web

from hall_server.i18n import DEFAULT, LANGS


def lang_of(request: web.Request) -> str:
    """A page's language: ``?lang=`` wins, then the ``lang`` cookie the switch sets; Chinese
    otherwise (a browser's own language does not switch a kiosk or a board)."""
    lang = request.query.get("lang") or request.cookies.get("lang") or DEFAULT
    return lang if lang in LANGS else DEFAULT


def api_lang(request: web.Request) -> str:
    """An API answer's language: ``?lang=``, the page's ``lang`` cookie, then the first
    language of ``Accept-Language`` we have (pages' scripts send their own); Chinese
    otherwise."""
    for lang in (request.query.get("lang"), request.cookies.get("lang")):
        if lang in LANGS:
            return lang
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag == "*":
            break
        if tag[:2] in LANGS:
            return tag[:2]
    return DEFAULT
