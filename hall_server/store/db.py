"""SQLite store: an append-only event log and the current state of every ticket.

Both are written in one transaction, with ``synchronous=FULL`` in WAL mode, so a batch is on
disk when :meth:`Store.write` returns: that is the moment the server may answer. Concurrent
requests are committed together (group commit, see ``hall.py``), which is how the hall issues
more tickets per second than the disk does fsyncs.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from hall_server.core.engine import Event, Ticket, event_from_dict
from hall_server.store.migrations import MIGRATIONS

TICKET_COLUMNS = (
    "id",
    "day",
    "service",
    "number",
    "priority",
    "status",
    "issued_at",
    "enqueued_at",
    "called_at",
    "started_at",
    "finished_at",
    "window",
    "kiosk",
    "token",
    "recalls",
    "called_by",
    "finished_by",
    "predecessor",
    "successor",
    "identity",
    "name_masked",
    "appointment",
    "item",
)
_UPSERT = (
    f"INSERT OR REPLACE INTO tickets ({', '.join(f'[{c}]' for c in TICKET_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in TICKET_COLUMNS)})"
)


#: A write that rides a group commit beside the events that caused it (a kiosk ticket's print
#: job, for one): it runs inside the transaction, on the writer's connection. Made by the
#: store's modules (``store/devices.py``), so SQL stays in the store.
Write = Callable[[sqlite3.Connection], None]


class SchemaTooNew(Exception):
    """The file was written by a newer hallq; refusing is safer than guessing."""


def connect(path: str | Path, check_same_thread: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=30
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema forward; returns the version reached."""
    db = Database(conn)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"database schema v{version} is newer than this hallq (v{len(MIGRATIONS)})"
        )
    for i in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[i](db)
            conn.execute(f"PRAGMA user_version={i + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def ticket_row(t: Ticket) -> tuple[Any, ...]:
    """Attributes read directly: ``dataclasses.asdict`` deep-copies, a tenth of the issue path."""
    d = {c: getattr(t, c) for c in TICKET_COLUMNS}
    d["priority"], d["status"] = t.priority.value, t.status.value
    return tuple(d.values())


class Store:
    """One writer connection (used from one thread at a time) plus read helpers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        self.version = migrate(self.conn)
        self._wdb = Database(self.conn)
        self._lock = threading.Lock()
        #: For reads from the event loop; writes go through :meth:`writing` or :meth:`write`.
        self.db = Database(connect(self.path))
        row = self.conn.execute(
            "SELECT day FROM events WHERE type = 'day_opened' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self.day: str | None = row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            self.db.conn.close()

    @contextmanager
    def writing(self) -> Iterator[Database]:
        """The writer connection, for small writes outside the ticket path (accounts...)."""
        with self._lock:
            yield self._wdb

    @contextmanager
    def transaction(self, secure_delete: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on the writer connection, for a read-check-write that must not race
        (a slot's last place) or writes that belong together. ``secure_delete`` zeroes what it
        deletes in the database file (personal data; the WAL still holds the old page)."""
        with self.writing() as db:
            c = db.conn
            if secure_delete:
                (before,) = c.execute("PRAGMA secure_delete").fetchone()
                c.execute("PRAGMA secure_delete = ON")
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield c
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            finally:
                if secure_delete:
                    c.execute(f"PRAGMA secure_delete = {int(before)}")

    # -- the durable write -------------------------------------------------------------------

    def write(
        self,
        events: Iterable[Event],
        rows: Iterable[tuple[Any, ...]],
        also: Iterable[Write] = (),
    ) -> None:
        """Append events, upsert ticket rows (see :func:`ticket_row`) and run the writes that
        belong with them (`Write`) in one durable transaction: all of it is on disk, or none."""
        log = []
        for e in events:
            if e.type == "day_opened":
                self.day = e.day  # type: ignore[attr-defined]
            log.append((self.day, e.at, e.type, json.dumps(e.to_dict(), ensure_ascii=False)))
        with self._lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("INSERT INTO events (day, at, type, data) VALUES (?, ?, ?, ?)", log)
                c.executemany(_UPSERT, rows)
                for write in also:
                    write(c)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # -- restart -----------------------------------------------------------------------------

    def events_of_last_day(self) -> Iterator[Event]:
        """Events since the last day opened: enough to rebuild the engine after a restart."""
        row = self.db.execute("SELECT max(seq) FROM events WHERE type = 'day_opened'").fetchone()
        start = row[0] or 0
        for (data,) in self.db.execute(
            "SELECT data FROM events WHERE seq >= ? ORDER BY seq", (start,)
        ):
            yield event_from_dict(json.loads(data))

    # -- the outbox of the city hub (``network.py``) ---------------------------------------------

    def events_after(self, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """``(seq, day, data)`` of logged events after ``seq``, oldest first. Its own short
        connection: the pusher reads from a thread while the loop reads through ``db``."""
        conn = connect(self.path)
        try:
            return conn.execute(
                "SELECT seq, day, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        finally:
            conn.close()

    def ratings_after(self, rating_id: int, limit: int) -> list[dict[str, Any]]:
        """Ratings with an id above ``rating_id``: only the columns a hub may see."""
        conn = connect(self.path)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "SELECT id, day, service, window, level, at FROM ratings WHERE id > ? "
                "ORDER BY id LIMIT ?",
                (rating_id, limit),
            ).fetchall()
            return [dict(r) for r in rows]
        finally:
            conn.close()

    # -- small things kept in meta ------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.writing() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def forget_meta(self, key: str) -> None:
        """Remove a value for good (the identity key, moved out of the database)."""
        with self.writing() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # not left in the WAL either

    def secret(self, key: str) -> bytes:
        """A per-hall random secret, made once (keyed hashes of ID numbers, for one)."""
        value = self.meta(key)
        if value is None:
            with self.writing() as db:
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    (key, secrets.token_hex(32)),
                )
            value = self.meta(key)
        assert value is not None
        return bytes.fromhex(value)

    def ticket_by_token(self, token: str) -> dict[str, Any] | None:
        """Latest ticket of a token from the store (an earlier day's ticket is no longer live)."""
        rows = list(
            self.db.query(
                "SELECT * FROM tickets WHERE token = ? ORDER BY successor IS NOT NULL, "
                "enqueued_at DESC LIMIT 1",
                [token],
            )
        )
        return rows[0] if rows else None
