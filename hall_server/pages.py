"""Page plumbing shared by every screen: templates, static files, language, login for pages.

Each screen lives with its own templates and static files (``kiosk_ui/``, ``display_board/``,
``hall_server/templates``) and adds its routes through :func:`setup`'s caller; this module only
knows how to render and where files are. Everything is served by hallq itself: no CDN.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from .auth import Principal, Role
from .i18n import lang_of, translator
from .web import HALL, principal

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [
    ROOT / "hall_server" / "templates",
    ROOT / "kiosk_ui" / "templates",
    ROOT / "display_board" / "templates",
]
STATIC_DIRS = {
    "common": ROOT / "hall_server" / "static",
    "kiosk": ROOT / "kiosk_ui" / "static",
    "board": ROOT / "display_board" / "static",
}


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    for name, path in STATIC_DIRS.items():
        app.router.add_static(f"/static/{name}/", path, name=f"static-{name}")
    app.middlewares.append(_static_name_too_long)


@web.middleware
async def _static_name_too_long(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's static handler lets "file name too long" from the file system escape as a 500
    (``Path.is_dir`` re-raises ENAMETOOLONG): no file has such a name, so it is a 404."""
    try:
        return await handler(request)
    except OSError as e:
        if e.errno != errno.ENAMETOOLONG or not request.path.startswith("/static/"):
            raise
        raise web.HTTPNotFound() from None


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    """Render with the language, its texts and the hall at hand."""
    lang = lang_of(request)
    hall = request.app[HALL]
    ctx = {
        "lang": lang,
        "t": translator(lang),
        "hall": hall.config.hall,
        "hall_name": hall.config.hall.name_en
        if lang == "en" and hall.config.hall.name_en
        else hall.config.hall.name,
        "user": principal(request),
        **(context or {}),
    }
    resp = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    if "lang" in request.query and request.query["lang"] in ("zh", "en"):
        resp.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax")
    return resp


def page_login(request: web.Request, role: Role) -> Principal:
    """Pages redirect to the login form (and back) instead of answering 401."""
    who = principal(request)
    if who is None or not who.at_least(role):
        raise web.HTTPFound(f"/login?next={request.path_qs}")
    return who
