"""Page plumbing shared by every screen: templates, static files, language, login for pages.

Each screen lives with its own routes, templates and static files (``kiosk_ui/``,
``display_board/``, ``staff_console/``, ``manager_pages/``, ``visitor_pages/``; shared ones in
``hall_server/templates`` and ``hall_server/static``); this module only knows how to render
and where files are. Everything is served by hallq itself: no CDN.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hall_server.core.access import Principal, Role
from hall_server.http.common import HALL, principal
from hall_server.http.lang import lang_of
from hall_server.i18n import translator

ROOT = Path(__file__).resolve().parents[2]
PAGE_FOLDERS = {  # static URL name -> the folder holding a screen's templates/ and static/
    "common": ROOT / "hall_server",
    "kiosk": ROOT / "kiosk_ui",
    "board": ROOT / "display_board",
    "staff": ROOT / "staff_console",
    "manager": ROOT / "manager_pages",
    "visitor": ROOT / "visitor_pages",
}
TEMPLATE_DIRS = [d / "templates" for d in PAGE_FOLDERS.values()]
STATIC_DIRS = {name: d / "static" for name, d in PAGE_FOLDERS.items()}


def mount(app: web.Application, templates: list[Path], static: dict[str, Path]) -> None:
    """Templates (autoescaped) and static folders, as the hall's and the hub's pages use them."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader([str(d) for d in templates]),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    for name, path in static.items():
        app.router.add_static(f"/static/{name}/", path, name=f"static-{name}")


def setup(app: web.Application) -> None:
    mount(app, TEMPLATE_DIRS, STATIC_DIRS)
    app.middlewares.append(_not_found_page)
    app.middlewares.append(_static_name_too_long)


@web.middleware
async def _not_found_page(request: web.Request, handler: Any) -> web.StreamResponse:
    """A person who mistypes an address gets the hall's own page in their language, not a bare
    "404: Not Found" (the API and websockets keep their JSON and status answers)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith(("/api/", "/ws/")) or request.method != "GET":
            raise
        return not_found(request)


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
    """Pages send visitors without a session to the login form (and back); someone signed in
    whose role is not enough is told they have no permission, not asked to log in again."""
    who = principal(request)
    if who is None:
        raise web.HTTPFound(f"/login?next={request.path_qs}")
    if not who.at_least(role):
        raise web.HTTPForbidden(
            body=render(
                request, "forbidden.html", {"who": who, "needed": role.value}, status=403
            ).body,
            content_type="text/html",
        )
    return who


def not_found(request: web.Request, kind: str | None = None, name: str = "") -> web.Response:
    """The 404 page. ``kind`` says what was asked for (``kiosk``, ``window``, ``ticket``…, a
    ``not_found.kind.*`` text) and ``name`` its id, so the sentence reads whole in either
    language ("没有编号为 k9 的自助机"); without them, the address itself is unknown."""
    t = translator(lang_of(request))
    body = t(f"not_found.{kind}", name=name) if kind else t("not_found.page")
    return render(request, "not_found.html", {"body": body}, status=404)


def public_base(request: web.Request) -> str:
    """Where visitors' phones reach the hall: ``public_url`` from the config, else this host."""
    hall = request.app[HALL]
    return (hall.config.hall.public_url or str(request.url.origin())).rstrip("/")


def services_public(request: web.Request) -> list[dict[str, Any]]:
    """The services as pages' scripts name them."""
    return [
        {"code": s.code, "name": s.name, "name_en": s.name_en, "prefix": s.prefix}
        for s in request.app[HALL].config.service
    ]
