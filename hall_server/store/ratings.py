"""Ratings on disk (``ratings``), the ticket a rating is about, the sealed phone number a
差评 may carry (``rating_phones``) and the audit log of what was done with it.

A phone number leaves this file only sealed (to ``Ratings.reveal_phone``) or masked. Erasing
it is an UPDATE to NULL under ``secure_delete`` (the freed bytes are zeroed, whatever the
SQLite build's default), then :func:`empty_wal` copies the WAL into the file and truncates it,
so that neither the database file nor its WAL keeps the sealed bytes.
"""

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


#: A rating as managers see it: its row and, of its phone number, only the masked form and
#: when it was kept or erased (never the sealed bytes).
_RATING = (
    "SELECT r.*, p.masked AS phone_masked, p.erased_at AS phone_erased_at "
    "FROM ratings r LEFT JOIN rating_phones p ON p.rating_id = r.id"
)
_AUDIT = "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)"


def of_ticket(store: Store, ticket_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM ratings WHERE ticket_id = ?", [ticket_id]))
    return rows[0] if rows else None


def by_id(store: Store, rating_id: int) -> dict[str, Any] | None:
    rows = list(store.db.query(f"{_RATING} WHERE r.id = ?", [rating_id]))
    return rows[0] if rows else None


def insert(store: Store, row: dict[str, Any], phone: tuple[bytes, str] | None = None) -> int:
    """The rating and, with a 差评, its phone number (``(sealed, masked)``), in one
    transaction: a rating refused as a duplicate keeps no number."""
    try:
        with store.transaction() as c:
            cur = c.execute(
                f"INSERT INTO ratings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            rating_id = int(cur.lastrowid or 0)
            if phone is not None:
                c.execute(
                    "INSERT INTO rating_phones (rating_id, sealed, masked, kept_at) "
                    "VALUES (?, ?, ?, ?)",
                    (rating_id, phone[0], phone[1], row["at"]),
                )
    except sqlite3.IntegrityError:
        raise DomainError("conflict", "already_rated", "this ticket has been rated") from None
    return rating_id


def sealed_phone(store: Store, rating_id: int) -> bytes | None:
    row = store.db.execute(
        "SELECT sealed FROM rating_phones WHERE rating_id = ?", [rating_id]
    ).fetchone()
    return row[0] if row else None


def audit(store: Store, at: float, actor: str, action: str, subject: str, detail: str) -> None:
    """One line in the audit log (who did what to whose personal data, and when)."""
    with store.writing() as db:
        db.execute(_AUDIT, [at, actor, action, subject, detail])


def audit_of(store: Store, subject: str) -> list[dict[str, Any]]:
    return list(
        store.db.query(
            "SELECT at, actor, action, detail FROM audit_log WHERE subject = ? ORDER BY id",
            [subject],
        )
    )


def reveals_of(store: Store, rating_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Who opened each rating's phone number and when (``actor``, ``at``), oldest first; one
    query per 500 ratings, not one per rating."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in rating_ids}
    for start in range(0, len(rating_ids), 500):
        subjects = [f"rating:{i}" for i in rating_ids[start : start + 500]]
        rows = store.db.query(
            "SELECT subject, at, actor FROM audit_log WHERE action = 'phone_revealed' "
            f"AND subject IN ({', '.join('?' * len(subjects))}) ORDER BY id",
            subjects,
        )
        for r in rows:
            out[int(r["subject"].removeprefix("rating:"))].append(
                {"actor": r["actor"], "at": r["at"]}
            )
    return out


def _erase(c: sqlite3.Connection, where: str, args: list[Any], at: float, why: str, by: str) -> int:
    """Erase the numbers still kept that ``where`` selects; audit each; returns how many."""
    ids = [
        r[0]
        for r in c.execute(
            f"SELECT rating_id FROM rating_phones WHERE sealed IS NOT NULL AND {where}", args
        )
    ]
    for rating_id in ids:
        c.execute(
            "UPDATE rating_phones SET sealed = NULL, masked = NULL, erased_at = ?, "
            "erased_why = ? WHERE rating_id = ?",
            (at, why, rating_id),
        )
        c.execute(_AUDIT, (at, by, "phone_erased", f"rating:{rating_id}", why))
    return len(ids)


def empty_wal(store: Store, wait_s: float = 1.0) -> bool:
    """Copy the WAL into the database file and truncate it, so that no earlier version of an
    erased page survives there. While it runs SQLite holds writers back, so it waits at most
    ``wait_s`` for readers (a long report) and gives up rather than hold the ticket path:
    False means try again later. Its own connection, outside the writer's lock."""
    conn = sqlite3.connect(str(store.path), timeout=wait_s, isolation_level=None)
    try:
        (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    finally:
        conn.close()


def listing(
    store: Store,
    day_from: date | None,
    day_to: date | None,
    max_level: int,
    followup: str | None,
    window: str | None,
) -> list[dict[str, Any]]:
    """Newest first."""
    where, args = ["level <= ?"], list[int | str]([max_level])
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
    return list(store.db.query(f"{_RATING} WHERE {' AND '.join(where)} ORDER BY at DESC", args))


def set_followup(
    store: Store,
    rating_id: int,
    state: str,
    note: str | None,
    by: str,
    at: float,
    erase_phone: bool,
) -> bool:
    """Move the follow-up; with ``erase_phone``, the rating's number goes in the same
    transaction (the visitor was reached: it has served its purpose). True when a number was
    erased (the WAL is then to be emptied)."""
    erase_phone = erase_phone and sealed_phone(store, rating_id) is not None
    with store.transaction(secure_delete=erase_phone) as c:
        c.execute(
            "UPDATE ratings SET followup = ?, followup_note = coalesce(?, followup_note), "
            "followup_by = ?, followup_at = ? WHERE id = ?",
            [state, note, by, at, rating_id],
        )
        if erase_phone:
            _erase(c, "rating_id = ?", [rating_id], at, f"followup_{state}", by)
    return erase_phone


def erase_phones_kept_since(store: Store, before: float, at: float) -> int:
    """Erase every number kept since before ``before`` (the retention period's end)."""
    if (
        store.db.execute(
            "SELECT 1 FROM rating_phones WHERE sealed IS NOT NULL AND kept_at < ? LIMIT 1", [before]
        ).fetchone()
        is None
    ):
        return 0  # the sweep runs every minute: no write, no checkpoint for nothing
    with store.transaction(secure_delete=True) as c:
        return _erase(c, "kept_at < ?", [before], at, "retention", "system")


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
