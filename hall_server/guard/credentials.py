"""Kiosks and evaluator pads are devices of the hall, not anonymous web pages.

A device is named ``K`` (kiosk K) or ``pad:W`` (window W's evaluator pad). It proves itself
with a device token, as ``Authorization: Bearer TOKEN`` (API clients, the kiosk's agent), or,
in a browser, with the HttpOnly cookie ``hallq_device`` that opening a pairing address sets.

A pairing address carries a code made by ``hall-server device add`` (single use, ten minutes)
or by ``hall-server demo`` (any number of uses while the demo runs). Codes and tokens are
kept as SHA-256 hashes only (they are 32 random bytes: nothing to stretch), so a copy of the
database pairs nothing. Everything is read from the database on each request: a device added
or removed with the CLI takes effect at once, without a restart.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from aiohttp import web

from hall_server.store.db import Store

DEVICE_COOKIE = "hallq_device"
PAIRING_TTL_S = 600.0
DEVICE_COOKIE_MAX_AGE = 5 * 365 * 86400  # a kiosk stays paired until it is removed


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def pad(window: str) -> str:
    return f"pad:{window}"


def window_of_pad(device: str | None) -> str | None:
    return device[4:] if device and device.startswith("pad:") else None


def kiosk_of(device: str | None) -> str | None:
    return device if device and not device.startswith("pad:") else None


def add_pairing(
    store: Store, device: str, ttl_s: float = PAIRING_TTL_S, single_use: bool = True
) -> str:
    code = secrets.token_urlsafe(24)
    with store.writing() as db:
        db.execute(
            "INSERT INTO pairing_codes (code_hash, device, expires_at, single_use) "
            "VALUES (?, ?, ?, ?)",
            (_hash(code), device, time.time() + ttl_s, int(single_use)),
        )
    return code


def remove_reusable_pairings(store: Store) -> None:
    """The demo's codes end with the demo (and are cleared again when the next one starts,
    should this one have been killed)."""
    with store.writing() as db:
        db.execute("DELETE FROM pairing_codes WHERE single_use = 0")


def redeem(store: Store, code: str, device: str) -> str | None:
    """Pair a browser with `device` if `code` is a live code for it: a new device session's
    token, else None. A single-use code is spent in the same statement that checks it, so two
    browsers racing with one code cannot both be paired."""
    now = time.time()
    with store.writing() as db:
        cur = db.execute(
            "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ? AND device = ? "
            "AND expires_at > ? AND (single_use = 0 OR used_at IS NULL)",
            (now, _hash(code[:100]), device, now),
        )
        if cur.rowcount != 1:
            return None
        token = secrets.token_urlsafe(32)
        db.execute(
            "INSERT INTO device_sessions (token_hash, device, created_at) VALUES (?, ?, ?)",
            (_hash(token), device, now),
        )
        db.execute("DELETE FROM pairing_codes WHERE expires_at < ?", (now,))
    return token


def device_of_token(store: Store, token: str) -> str | None:
    h = _hash(token)
    row = store.db.execute(
        "SELECT kiosk FROM device_tokens WHERE token_hash = ? "
        "UNION ALL SELECT device FROM device_sessions WHERE token_hash = ? LIMIT 1",
        (h, h),
    ).fetchone()
    return row[0] if row else None


def revoke(store: Store, device: str) -> int:
    """Unpair every browser of the device and forget its codes (its agent token is removed by
    ``device_hub.remove_token``)."""
    with store.writing() as db:
        n = db.execute("DELETE FROM device_sessions WHERE device = ?", (device,)).rowcount
        db.execute("DELETE FROM pairing_codes WHERE device = ?", (device,))
    return n


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
