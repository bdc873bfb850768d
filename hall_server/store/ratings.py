"""Ratings on disk (``ratings``), and the ticket a rating is about."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from hall_server.core.errors import DomainError
from hall_server.store.db import Store

_TICKET = (
    "SELECT id, day, service, number, status, window, finished_at, finished_by, called_by "
    "FROM tickets"
)


def ticket_by(store: Store, column: str, value: str) -> dict[str, Any] | None:
    """The ticket with this ``token`` or ``id``: the last of a transferred chain."""
    assert column in ("token", "id")
    rows = list(
        store.db.query(
            f"{_TICKET} WHERE {column} = ? ORDER BY successor IS NOT NULL, enqueued_at DESC "
            "LIMIT 1",
            [value],
        )
    )
    return rows[0] if rows else None


def last_done_at(store: Store, window: str) -> dict[str, Any] | None:
    rows = store.db.query(
        f"{_TICKET} WHERE window = ? AND status = 'done' ORDER BY finished_at DESC LIMIT 1",
        [window],
    )
    return next(iter(rows), None)


def of_ticket(store: Store, ticket_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM ratings WHERE ticket_id = ?", [ticket_id]))
    return rows[0] if rows else None


def by_id(store: Store, rating_id: int) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM ratings WHERE id = ?", [rating_id]))
    return rows[0] if rows else None


def insert(store: Store, row: dict[str, Any]) -> int:
    with store.writing() as db:
        try:
            cur = db.execute(
                f"INSERT INTO ratings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        except sqlite3.IntegrityError:
            raise DomainError("conflict", "already_rated", "this ticket has been rated") from None
        return int(cur.lastrowid or 0)


def listing(
    store: Store,
    day_from: date | None,
    day_to: date | None,
    max_level: int,
    followup: str | None,
    window: str | None,
) -> list[dict[str, Any]]:
    """Newest first."""
    where, args = ["level <= ?"], [max_level]
    if day_from:
        where.append("day >= ?")
        args.append(day_from.isoformat())
    if day_to:
        where.append("day <= ?")
        args.append(day_to.isoformat())
    if followup:
        where.append("followup = ?")
        args.append(followup)
    if window:
        where.append("window = ?")
        args.append(window)
    return list(
        store.db.query(f"SELECT * FROM ratings WHERE {' AND '.join(where)} ORDER BY at DESC", args)
    )


def set_followup(
    store: Store, rating_id: int, state: str, note: str | None, by: str, at: float
) -> None:
    with store.writing() as db:
        db.execute(
            "UPDATE ratings SET followup = ?, followup_note = coalesce(?, followup_note), "
            "followup_by = ?, followup_at = ? WHERE id = ?",
            [state, note, by, at, rating_id],
        )


def level_counts(
    db_path: str | Path, date_from: date | str, date_to: date | str, by: str
) -> list[tuple[Any, int, int]]:
    """(group, level, count) over the days ``date_from``..``date_to``; its own read-only
    connection: run it in a thread."""
    if by not in ("window", "staff", "service"):
        raise ValueError(f"cannot group ratings by {by!r}")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(
            f"SELECT {by}, level, count(*) FROM ratings WHERE day >= ? AND day <= ? "
            f"GROUP BY {by}, level",
            (str(date_from), str(date_to)),
        ).fetchall()
    finally:
        conn.close()
