"""QR codes as SVG, made off the event loop and remembered.

Making one takes milliseconds of pure Python; on the event loop, 100 requests for new codes
stalled every other request of the hall for seconds. So codes are made in one thread of their
own (a flood waits there, or is shed with 503 when too many wait, and nothing else waits
behind it), each text's SVG is kept in a small LRU cache (a kiosk shows the same ticket's code
many times), and each client may ask for a limited number per minute (``qr`` limit).
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import qrcode
import qrcode.image.svg
from aiohttp import web

from hall_server.guard.edge import LIMITER, TooMany, client_key
from hall_server.http.errors import ApiError

MAX_WAITING = 16
_executor = ThreadPoolExecutor(1, thread_name_prefix="qr")
_waiting = 0  # touched on the event loop only


@lru_cache(maxsize=2048)
def svg_of(data: str) -> bytes:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


async def qr_response(request: web.Request, data: str) -> web.Response:
    """The SVG of `data` for this client (429 past its limit, 503 when the maker is busy)."""
    global _waiting
    wait = request.app[LIMITER].hit("qr", client_key(request.remote))
    if wait is not None:
        raise TooMany(wait, "QR codes from this client")
    if _waiting >= MAX_WAITING:
        raise ApiError(503, "busy", "too many QR codes at once", headers={"Retry-After": "1"})
    _waiting += 1
    try:
        body = await asyncio.get_running_loop().run_in_executor(_executor, svg_of, data)
    finally:
        _waiting -= 1
    return web.Response(
        body=body,
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=86400"},
    )
