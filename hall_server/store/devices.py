"""Kiosk devices on disk: agent tokens (only their hashes), device states and print jobs.

Token functions are also used by ``hall-server device``, without a running hall."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

from hall_server.core.print_jobs import Job
from hall_server.store.db import Store


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


def save_job(store: Store, job: Job) -> None:
    _upsert(store, "print_jobs", job.row())


def save_device(store: Store, row: dict[str, Any]) -> None:
    _upsert(store, "devices", row)


def _upsert(store: Store, table: str, row: dict[str, Any]) -> None:
    cols = ", ".join(f"[{c}]" for c in row)
    marks = ", ".join("?" for _ in row)
    with store.writing() as db:
        db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", list(row.values()))
