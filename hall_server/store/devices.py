"""Kiosk devices on disk: agent tokens (only their hashes), device states and print jobs.

Token functions are also used by ``hall-server device``, without a running hall."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from typing import Any

from hall_server.core.print_jobs import Job
from hall_server.store.db import Store, Write


def _token_hash(token: str) -> str:
    # Tokens are 32 random bytes, so a plain hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(store: Store, kiosk: str) -> str:
    """Create (or replace) the kiosk's agent token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    with store.writing() as db:
        db.execute(
            "INSERT OR REPLACE INTO device_tokens (kiosk, token_hash, created_at) VALUES (?, ?, ?)",
            (kiosk, _token_hash(token), time.time()),
        )
    return token


def remove_token(store: Store, kiosk: str) -> bool:
    """Revoke the kiosk's token (a lost or stolen kiosk PC); False when it had none."""
    with store.writing() as db:
        cur = db.execute("DELETE FROM device_tokens WHERE kiosk = ?", (kiosk,))
    return cur.rowcount > 0


def kiosk_of_token(store: Store, token: str) -> str | None:
    row = store.db.execute(
        "SELECT kiosk FROM device_tokens WHERE token_hash = ?", (_token_hash(token),)
    ).fetchone()
    return row[0] if row else None


def has_token(store: Store, kiosk: str) -> bool:
    row = store.db.execute("SELECT 1 FROM device_tokens WHERE kiosk = ?", (kiosk,)).fetchone()
    return row is not None


def devices(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT * FROM devices"))


def jobs_of_day(store: Store, day: str) -> list[Job]:
    return [
        Job(**{**row, "payload": json.loads(row["payload"])})
        for row in store.db.query("SELECT * FROM print_jobs WHERE day = ?", [day])
    ]


def job_write(job: Job) -> Write:
    """The job as it is now, saved in the hall's next group commit (`Store.write`): a kiosk
    ticket's first job in the very transaction of its ticket."""
    return _upsert("print_jobs", job.row())


def device_write(row: dict[str, Any]) -> Write:
    """A kiosk's device states, saved in the hall's next group commit."""
    return _upsert("devices", row)


def _upsert(table: str, row: dict[str, Any]) -> Write:
    cols = ", ".join(f"[{c}]" for c in row)
    marks = ", ".join("?" for _ in row)
    sql, values = f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", list(row.values())

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(sql, values)

    return write


# -- paired browsers of kiosks and pads (``guard/credentials.py`` says what they are for) ------

PAIRING_TTL_S = 600.0


def add_pairing(
    store: Store, device: str, ttl_s: float = PAIRING_TTL_S, single_use: bool = True
) -> str:
    code = secrets.token_urlsafe(24)
    with store.writing() as db:
        db.execute(
            "INSERT INTO pairing_codes (code_hash, device, expires_at, single_use) "
            "VALUES (?, ?, ?, ?)",
            (_token_hash(code), device, time.time() + ttl_s, int(single_use)),
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
            (now, _token_hash(code[:100]), device, now),
        )
        if cur.rowcount != 1:
            return None
        token = secrets.token_urlsafe(32)
        db.execute(
            "INSERT INTO device_sessions (token_hash, device, created_at) VALUES (?, ?, ?)",
            (_token_hash(token), device, now),
        )
        db.execute("DELETE FROM pairing_codes WHERE expires_at < ?", (now,))
    return token


def device_of_token(store: Store, token: str) -> str | None:
    h = _token_hash(token)
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
