"""Appointments on disk (``appointments``): slots taken, bookings, check-ins, the sweep.

A person is a keyed hash; no number is stored in clear."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from hall_server.core.appointments import ALPHABET, CODE_LENGTH, HOLDING
from hall_server.core.errors import DomainError
from hall_server.store.db import Store

_HOLDING = f"status IN ({', '.join('?' * len(HOLDING))})"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def taken_per_slot(store: Store, service: str, day: str) -> dict[str, int]:
    return {
        r["slot"]: r["n"]
        for r in store.db.query(
            "SELECT slot, count(*) AS n FROM appointments WHERE service = ? AND day = ? "
            f"AND {_HOLDING} GROUP BY slot",
            [service, day, *HOLDING],
        )
    }


def missed_slot_ends(
    store: Store, person: str, since: float, grace: float, now: float
) -> list[float]:
    """Slot ends of the person's appointments since ``since`` that were missed (recorded, or
    booked and past their grace before the sweep saw them)."""
    return [
        r["slot_end"]
        for r in store.db.query(
            "SELECT slot_end FROM appointments WHERE person = ? AND slot_end >= ? AND "
            "verified = 1 AND (status = 'missed' OR (status = 'booked' AND slot_end + ? < ?))",
            [person, since, grace, now],
        )
    ]


def insert(store: Store, row: dict[str, Any], capacity: int, per_person: int) -> str:
    """Check the slot and the person's limit and write, in one transaction, so two visitors
    racing for the last place cannot both get it. Returns the new code."""
    with store.transaction() as c:
        (taken,) = c.execute(
            "SELECT count(*) FROM appointments WHERE service = ? AND day = ? AND slot = ? "
            f"AND {_HOLDING}",
            (row["service"], row["day"], row["slot"], *HOLDING),
        ).fetchone()
        if taken >= capacity:
            raise DomainError(
                "conflict",
                "slot_full",
                f"the {row['slot']} slot of {row['day']} is full",
                params={"slot": row["slot"], "day": row["day"]},
            )
        (mine,) = c.execute(
            "SELECT count(*) FROM appointments WHERE person = ? AND service = ? "
            f"AND day = ? AND {_HOLDING}",
            (row["person"], row["service"], row["day"], *HOLDING),
        ).fetchone()
        if mine >= per_person:
            raise DomainError(
                "conflict",
                "already_booked",
                "this person already has an appointment for this service that day",
            )
        while True:
            code = new_code()
            try:
                cols = ["code", *row]
                c.execute(
                    f"INSERT INTO appointments ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' * len(cols))})",
                    (code, *row.values()),
                )
                break
            except sqlite3.IntegrityError:
                continue
    return code


def by_code(store: Store, code: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM appointments WHERE code = ?", [code]))
    return rows[0] if rows else None


def update(store: Store, code: str, expect: str, values: dict[str, Any]) -> None:
    """Set ``values`` if the appointment is still in status ``expect``."""
    sets = ", ".join(f"{k} = ?" for k in values)
    with store.writing() as db:
        db.execute(
            f"UPDATE appointments SET {sets} WHERE code = ? AND status = ?",
            [*values.values(), code, expect],
        )


def mark_missed(store: Store, grace: float, now: float) -> int:
    """Record as missed the bookings nobody checked in to (a ticket carrying the code counts as
    a check-in, should the server have stopped between the two writes)."""
    with store.writing() as db:
        cur = db.execute(
            "UPDATE appointments SET status = 'missed' WHERE status = 'booked' "
            "AND slot_end + ? < ? AND code NOT IN "
            "(SELECT appointment FROM tickets WHERE appointment IS NOT NULL)",
            [grace, now],
        )
        return cur.rowcount


def codes_of_day(store: Store, day: str) -> list[str]:
    return [
        r["code"]
        for r in store.db.query(
            "SELECT code FROM appointments WHERE day = ? ORDER BY slot_start, created_at", [day]
        )
    ]


def booked_of_person(store: Store, person: str, day: str) -> list[dict[str, Any]]:
    """The person's booked appointments of ``day``, earliest first."""
    return list(
        store.db.query(
            "SELECT * FROM appointments WHERE person = ? AND day = ? AND status = 'booked' "
            "ORDER BY slot_start",
            [person, day],
        )
    )


def attendance(
    db_path: str | Path, date_from: date | str, date_to: date | str
) -> list[dict[str, Any]]:
    """Per day and service, for reports: how many were booked (not cancelled), checked in on
    time, late, came outside their window, missed, and how many were cancelled. Opens its own
    read-only connection: run it in a thread."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT day, service, "
            "sum(status != 'cancelled'), "
            "sum(status = 'checked_in' AND coalesce(late_s, 0) <= 0), "
            "sum(status = 'checked_in' AND late_s > 0), "
            "sum(status = 'arrived'), sum(status = 'missed'), sum(status = 'cancelled') "
            "FROM appointments WHERE day >= ? AND day <= ? GROUP BY day, service "
            "ORDER BY day, service",
            (str(date_from), str(date_to)),
        ).fetchall()
    finally:
        conn.close()
    names = ("booked", "on_time", "late", "outside_window", "missed", "cancelled")
    return [{"day": r[0], "service": r[1], **dict(zip(names, r[2:], strict=True))} for r in rows]
