"""Reads of the ``tickets`` table for figures (the engine's own reads and writes are in
``db.py``). Each opens its own read-only connection: run them in a thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def called_of_day(db_path: str | Path, day: str) -> list[tuple[Any, ...]]:
    """(window, status, issued_at, called_at, started_at, finished_at, predecessor) of every
    ticket of ``day`` that a window called."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT window, status, issued_at, called_at, started_at, finished_at, predecessor "
            "FROM tickets WHERE day = ? AND called_at IS NOT NULL AND window IS NOT NULL",
            (day,),
        ).fetchall()
    finally:
        conn.close()
