"""Kiosks and evaluator pads are devices of the hall, not anonymous web pages.

A device is named ``K`` (kiosk K) or ``pad:W`` (window W's evaluator pad). It proves itself
with a device token, as ``Authorization: Bearer TOKEN`` (API clients, the kiosk's agent), or,
in a browser, with the HttpOnly cookie ``hallq_device`` that opening a pairing address sets.

A pairing address carries a code made by ``hall-server device add`` (single use, ten minutes)
or by ``hall-server demo`` (any number of uses while the demo runs). Codes and tokens are
kept as SHA-256 hashes only (they are 32 random bytes: nothing to stretch), so a copy of the
database pairs nothing. Everything is read from the database on each request: a device added
or removed with the CLI takes effect at once, without a restart. (The codes, tokens and
paired browsers are kept by ``store/devices.py``; this module is what the web layer needs.)
"""

from __future__ import annotations

from aiohttp import web

DEVICE_COOKIE = "hallq_device"
DEVICE_COOKIE_MAX_AGE = 5 * 365 * 86400  # a kiosk stays paired until it is removed


def pad(window: str) -> str:
    return f"pad:{window}"


def window_of_pad(device: str | None) -> str | None:
    return device[4:] if device and device.startswith("pad:") else None


def kiosk_of(device: str | None) -> str | None:
    return device if device and not device.startswith("pad:") else None


def device_token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(DEVICE_COOKIE)


def set_device_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=DEVICE_COOKIE_MAX_AGE,
        path="/",
    )
