"""The public edge every request crosses before a handler sees it.

- **Who the client is**: the peer address, or, when the peer is one of the hall's
  ``trusted_proxies`` (its nginx), the address that proxy says it forwarded for, and the
  scheme it was reached by (so cookies are ``Secure`` behind a TLS proxy too).
- **Cross-site requests** (CSRF): a write under ``/api/`` carries JSON or nothing (anything
  else, such as the ``text/plain`` a plain HTML form can send from any site, is 415), and a
  write or websocket from a browser whose ``Origin`` is not this hall is 403. Same-site pages
  on another port are another origin, so ``SameSite`` cookies alone are not enough.
- **Per-client limits** on every public write (``limiter.py``), answered 429 with
  ``Retry-After``. Staff sessions are not limited here (their accounts are the limit); the
  login counts its own tries, by client and by client and user name.
- **Security headers** on every answer: a Content-Security-Policy that allows only the hall's
  own scripts, no framing, no MIME sniffing, no referrer (progress-page addresses hold tokens).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from aiohttp import web

from hall_server.guard.limiter import Limiter
from hall_server.http.errors import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LIMITER = web.AppKey("limiter", Limiter)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Which limit a public write counts against (by route); other writes count as "write".
WRITE_RULES = {
    ("POST", "/api/v1/tickets"): "ticket",
    ("POST", "/api/v1/appointments"): "book",
    ("DELETE", "/api/v1/appointments/{code}"): "cancel",
    ("POST", "/api/v1/ratings"): "rate",
    ("POST", "/api/v1/auth/login"): None,  # counted by the handler, with the user name
}


class TooMany(ApiError):
    """429 with the seconds to wait, in the body and as ``Retry-After``."""

    def __init__(
        self,
        retry_after: float,
        what: str = "requests from this client",
        code: str = "too_many_requests",
    ) -> None:
        seconds = int(retry_after)
        super().__init__(
            429,
            code,
            f"too many {what}; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after_s=seconds,
        )


def _refuse(status: int, code: str, message: str) -> web.Response:
    """Raised, not returned: the errors middleware answers it in the reader's language."""
    raise ApiError(status, code, message)


def client_key(address: str | None) -> str:
    """One key per client: its IPv4 address, or its IPv6 /64 (one household or phone gets a
    whole /64, so single addresses would be free to change)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _trusted(address: str | None, proxies: Collection[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


def forwarded_middleware(proxies: Collection[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Behind the hall's own reverse proxy, the client is the one the proxy names."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if proxies and _trusted(request.remote, proxies):
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
            client = next((h for h in reversed(hops) if h and not _trusted(h, proxies)), None)
            proto = request.headers.get("X-Forwarded-Proto", "").strip().lower()
            changes: dict[str, str] = {}
            if client:
                changes["remote"] = client
            if proto in ("http", "https"):
                changes["scheme"] = proto
            if changes:
                request = request.clone(**changes)  # type: ignore[arg-type]
        return await handler(request)

    return forwarded


def _same_origin(request: web.Request, origin: str, public_url: str | None) -> bool:
    netloc = urlsplit(origin).netloc.lower()
    allowed = {request.host.lower()}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return bool(netloc) and netloc in allowed


def csrf_middleware(public_url: str | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.method in UNSAFE or websocket:
            origin = request.headers.get("Origin")
            site = request.headers.get("Sec-Fetch-Site")
            if origin is not None and not _same_origin(request, origin, public_url):
                return _refuse(403, "cross_origin", "requests from another site are refused")
            if origin is None and site in ("cross-site", "same-site"):
                return _refuse(403, "cross_origin", "requests from another site are refused")
        json_body = request.content_type == "application/json"
        if request.method in UNSAFE and request.body_exists and not json_body:
            return _refuse(
                415, "json_only", "send the body as JSON (Content-Type: application/json)"
            )
        return await handler(request)

    return csrf


def limits_middleware(
    staff: Callable[[web.Request], bool],
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every write under ``/api/`` without a staff login counts against its client's limit.
    `staff` tells whether the request carries a staff (or device) credential."""

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in UNSAFE and request.path.startswith("/api/"):
            resource = request.match_info.route.resource
            canonical = resource.canonical if resource is not None else request.path
            rule = WRITE_RULES.get((request.method, canonical), "write")
            if rule is not None and not staff(request):
                wait = request.app[LIMITER].hit(rule, client_key(request.remote))
                if wait is not None:
                    raise TooMany(wait)
        return await handler(request)

    return limits


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def setup(
    app: web.Application,
    limiter: Limiter,
    staff: Callable[[web.Request], bool],
    trusted_proxies: Collection[str] = (),
    public_url: str | None = None,
) -> None:
    """Put the edge in front of every route (call before the app starts)."""
    app[LIMITER] = limiter
    app.middlewares.append(forwarded_middleware(list(trusted_proxies)))
    app.middlewares.append(csrf_middleware(public_url))
    app.middlewares.append(limits_middleware(staff))
    app.on_response_prepare.append(_security_headers)
