"""The day caches of the reports (``report_days``): one packed blob per closed day, and the
ticket rows a day is built from. Reads take a connection the caller opened with `reading` in
its own thread (reports run off the event loop); `save` runs on the store's writer."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hall_server.core.reports import ROW_COLUMNS

_QUERY = f"SELECT {', '.join(ROW_COLUMNS)} FROM tickets WHERE day = ?"


@contextmanager
def reading(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(db_path), timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        yield conn
    finally:
        conn.close()


def ticket_rows(
    conn: sqlite3.Connection, day: str, issued_before: float | None = None
) -> list[tuple[Any, ...]]:
    """The day's tickets, or those issued before ``issued_before`` (a day so far)."""
    if issued_before is None:
        return conn.execute(_QUERY, (day,)).fetchall()
    return conn.execute(_QUERY + " AND issued_at < ?", (day, issued_before)).fetchall()


def is_closed(conn: sqlite3.Connection, day: str) -> bool:
    """A day may be cached once none of its tickets can change any more."""
    row = conn.execute(
        "SELECT 1 FROM tickets WHERE day = ? AND status IN ('waiting', 'called', 'serving') "
        "LIMIT 1",
        (day,),
    ).fetchone()
    return row is None


def cached(
    conn: sqlite3.Connection, start: str, end: str, version: int
) -> Iterator[tuple[str, int, dict[str, Any], bytes]]:
    """(day, n, keys, blob) of the cached days in ``start``..``end``."""
    for d, n, k, b in conn.execute(
        "SELECT day, n, keys, data FROM report_days WHERE day BETWEEN ? AND ? AND version = ?",
        (start, end, version),
    ):
        yield d, n, json.loads(k), b


def save(
    conn: sqlite3.Connection, days: list[tuple[str, int, float, int, dict[str, Any], bytes]]
) -> None:
    """(day, version, built_at, n, keys, blob) rows, in one transaction, on the store's
    writer connection (``Store.writing``)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO report_days (day, version, built_at, n, keys, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(d, v, t, n, json.dumps(k), b) for d, v, t, n, k, b in days],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
