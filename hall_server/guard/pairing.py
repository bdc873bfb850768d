"""The pages of a paired device (``/kiosk/K``, ``/rate/W``): pairing a browser, and what an
unpaired browser sees instead (how to pair it, in the visitor's language, not a broken kiosk)."""

from __future__ import annotations

from aiohttp import web

from hall_server.guard.credentials import set_device_cookie
from hall_server.http.common import HALL, device_of
from hall_server.http.pages import render
from hall_server.store.devices import redeem


def paired_or_page(request: web.Request, device: str, name: str) -> web.Response | None:
    """None when this browser is `device`; else the answer to give instead: after a valid
    ``?pair=CODE``, the cookie and a redirect to the same page without the code (so it is
    neither bookmarked nor shown), otherwise the page saying how to pair."""
    code = request.query.get("pair")
    if code:
        token = redeem(request.app[HALL].store, code, device)
        if token is not None:
            query = {k: v for k, v in request.query.items() if k != "pair"}
            resp = web.HTTPFound(request.rel_url.with_query(query).path_qs)
            set_device_cookie(request, resp, token)
            raise resp
    if device_of(request) == device:
        return None
    command = f"hall-server device add {device.replace('pad:', '--pad ')}"
    context = {"device": device, "device_name": name, "command": command, "expired": bool(code)}
    return render(request, "pair.html", context, status=401)
