"""The hub on SQLite: one file, one connection, driven from one thread.

Every call runs on a single-thread executor, so the event loop never waits for the disk and
no two statements ever share the connection at once. Transactions are ``BEGIN IMMEDIATE``
(one writer), in WAL mode with ``synchronous=FULL``: an acknowledged batch is on disk. Pushes
that arrive while another group is being written are committed together, one fsync for the
group (see the package doc): 244 halls pushing every second would otherwise be 244 fsyncs a
second. Reads go through the same connection and may see a group not yet committed; nothing
is answered from a push before its group is.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from hall_server.core.reports import ROW_COLUMNS as DAY_COLUMNS

from ..fold import OPEN, TICKET_COLUMNS, Logged
from . import Hall, HallUpdate, HubStore, SchemaTooNew, Tx, hall_update, logged
from .schema import migrations

T = TypeVar("T")
_TICKET_UPSERT = (
    f"INSERT OR REPLACE INTO tickets (hall_id, {', '.join(TICKET_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in TICKET_COLUMNS)})"
)
#: The hall's column names as the hub stores them; who served whom and what each visitor came
#: for (``called_by``, ``item``) stay in the hall.
_AS_HUB = {"window": "window_id", "called_by": "NULL", "item": "NULL"}


def _select(columns: Sequence[str]) -> str:
    return ", ".join(_AS_HUB.get(c, c) for c in columns)


class SqliteStore(HubStore):
    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._ex = ThreadPoolExecutor(1, thread_name_prefix="hub-sqlite")
        self._lock = asyncio.Lock()
        self.conn: sqlite3.Connection

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        store = cls(path)
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        self.conn = conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version, steps = row[0] or 0, migrations("sqlite")
        if version > len(steps):
            raise SchemaTooNew(f"hub schema v{version} is newer than this hub (v{len(steps)})")
        for i in range(version, len(steps)):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in steps[i]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (i + 1,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._ex, fn, *args)

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> None:
        async with self._exclusive():
            await self._run(self._commit, [(sql, args)])

    def _commit(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                c.execute(sql, args)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda: self.conn.execute(sql, args).fetchall())

    async def _dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            cur = self.conn.execute(sql, args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        return await self._run(run)

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """The connection alone, for a transaction."""
        async with self._lock:
            yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._exclusive():
            await self._run(self.conn.execute, "BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self)
            except BaseException:
                await asyncio.shield(self._run(self.conn.execute, "ROLLBACK"))
                raise
            await asyncio.shield(self._run(self.conn.execute, "COMMIT"))

    async def close(self) -> None:
        await self._run(self.conn.close)
        self._ex.shutdown(wait=True)

    # -- the network --

    async def add_hall(self, hall: Hall, token_hash: str, now: float) -> None:
        async with self._exclusive():
            await self._run(
                self._commit,
                [
                    (
                        "INSERT INTO halls (hall_id, name, level, parent, lat, lon, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hall_id) DO UPDATE SET "
                        "name = excluded.name, level = excluded.level, parent = excluded.parent, "
                        "lat = excluded.lat, lon = excluded.lon",
                        (hall.id, hall.name, hall.level, hall.parent, hall.lat, hall.lon, now),
                    ),
                    ("DELETE FROM hall_tokens WHERE hall_id = ?", (hall.id,)),
                    ("INSERT INTO hall_tokens VALUES (?, ?)", (token_hash, hall.id)),
                    ("INSERT OR IGNORE INTO hall_progress (hall_id) VALUES (?)", (hall.id,)),
                ],
            )

    async def hall_of_token(self, token_hash: str) -> str | None:
        sql = "SELECT hall_id FROM hall_tokens WHERE token_hash = ?"
        rows = await self._all(sql, (token_hash,))
        return rows[0][0] if rows else None

    async def halls(self) -> list[dict[str, Any]]:
        rows = await self._dicts(
            "SELECT h.hall_id AS id, name, level, parent, lat, lon, last_seen, state, state_at, "
            "profile, catalog_version, applied_seq, received_seq FROM halls h "
            "JOIN hall_progress p ON p.hall_id = h.hall_id ORDER BY h.hall_id"
        )
        for r in rows:
            r["state"] = json.loads(r["state"]) if r["state"] else None
            r["profile"] = json.loads(r["profile"]) if r["profile"] else None
        return rows

    # -- what halls send --

    # -- figures --

    async def day_rows(self, hall_id: str, start: str, end: str) -> dict[str, list[tuple]]:
        out: dict[str, list[tuple]] = {}
        for row in await self._all(
            f"SELECT day, {_select(DAY_COLUMNS)} FROM tickets WHERE hall_id = ? "
            "AND day BETWEEN ? AND ?",
            (hall_id, start, end),
        ):
            out.setdefault(row[0], []).append(tuple(row[1:]))
        return out

    async def rating_counts(self, start: str, end: str, bad: int) -> dict[str, tuple[int, int]]:
        rows = await self._all(
            "SELECT hall_id, count(*), sum(CASE WHEN level <= ? THEN 1 ELSE 0 END) FROM ratings "
            "WHERE day BETWEEN ? AND ? GROUP BY hall_id",
            (bad, start, end),
        )
        return {h: (int(n), int(b or 0)) for h, n, b in rows}

    # -- accounts --

    async def add_user(
        self, username: str, password_hash: str, role: str, scope: str | None, now: float
    ) -> None:
        await self._write(
            "INSERT OR REPLACE INTO users (username, password_hash, role, scope, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (username, password_hash, role, scope, now),
        )

    async def user(self, username: str) -> dict[str, Any] | None:
        rows = await self._dicts("SELECT * FROM users WHERE username = ?", (username,))
        return rows[0] if rows else None

    async def add_session(self, token_hash: str, username: str, expires_at: float) -> None:
        await self._write(
            "INSERT INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)",
            (token_hash, username, expires_at),
        )

    async def session_user(self, token_hash: str, now: float) -> dict[str, Any] | None:
        rows = await self._dicts(
            "SELECT u.* FROM sessions s JOIN users u ON u.username = s.username "
            "WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash, now),
        )
        return rows[0] if rows else None

    async def drop_session(self, token_hash: str) -> None:
        await self._write("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    async def drop_expired_sessions(self, now: float) -> int:
        def run() -> int:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                n = self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            return int(n)

        async with self._exclusive():
            return await self._run(run)

    # -- the catalog --

    async def publish_catalog(self, data: dict[str, Any], by: str | None, now: float) -> int:
        def run() -> int:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                sql = "SELECT coalesce(max(version), 0) + 1 FROM catalogs"
                (version,) = c.execute(sql).fetchone()
                c.execute(
                    "INSERT INTO catalogs (version, published_at, published_by, data) "
                    "VALUES (?, ?, ?, ?)",
                    (version, now, by, json.dumps(data, ensure_ascii=False)),
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return int(version)

        async with self._exclusive():
            return await self._run(run)

    async def catalog(self) -> tuple[int, dict[str, Any]] | None:
        rows = await self._all("SELECT version, data FROM catalogs ORDER BY version DESC LIMIT 1")
        return (int(rows[0][0]), json.loads(rows[0][1])) if rows else None


class _SqliteTx(Tx):
    def __init__(self, store: SqliteStore) -> None:
        self.s = store

    async def lock_progress(self, hall_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        rows = await self.s._all(  # BEGIN IMMEDIATE holds the whole database already
            "SELECT hall_id, applied_seq, received_seq FROM hall_progress WHERE hall_id IN "
            f"({', '.join('?' for _ in hall_ids)})",
            tuple(hall_ids),
        )
        return {h: (int(a), int(r)) for h, a, r in rows}

    async def insert_events(self, events: Sequence[tuple[str, Logged]]) -> None:
        rows = [
            (h, e.seq, e.day, e.at, e.type, json.dumps(dict(e.data), ensure_ascii=False))
            for h, e in events
        ]
        await self.s._run(
            self.s.conn.executemany,
            "INSERT OR IGNORE INTO events (hall_id, seq, day, at, type, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def events_from(self, hall_id: str, seq: int, limit: int) -> list[Logged]:
        rows = await self.s._all(
            "SELECT seq, day, type, at, data FROM events WHERE hall_id = ? AND seq >= ? "
            "ORDER BY seq LIMIT ?",
            (hall_id, seq, limit),
        )
        return [logged(r) for r in rows]

    async def tickets(self, wanted: Mapping[str, tuple[set[str], bool]]) -> dict[str, list[dict]]:
        cols = ", ".join(TICKET_COLUMNS)

        def run() -> dict[str, list[dict]]:
            c, out = self.s.conn, {}
            for hall_id, (ids, open_ones) in wanted.items():
                found: list[tuple] = []
                listed = list(ids)
                for i in range(0, len(listed), 500):
                    chunk = listed[i : i + 500]
                    found += c.execute(
                        f"SELECT {cols} FROM tickets WHERE hall_id = ? AND id IN "
                        f"({', '.join('?' for _ in chunk)})",
                        (hall_id, *chunk),
                    ).fetchall()
                if open_ones:
                    found += c.execute(
                        f"SELECT {cols} FROM tickets WHERE hall_id = ? AND status IN (?, ?, ?)",
                        (hall_id, *OPEN),
                    ).fetchall()
                out[hall_id] = [dict(zip(TICKET_COLUMNS, r, strict=True)) for r in found]
            return out

        return await self.s._run(run)

    async def upsert_tickets(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        values = [(h, *(r[c] for c in TICKET_COLUMNS)) for h, r in rows]
        await self.s._run(self.s.conn.executemany, _TICKET_UPSERT, values)

    async def update_halls(self, updates: Sequence[HallUpdate]) -> None:
        def run() -> None:
            for u in updates:
                sets, args = hall_update(u)
                self.s.conn.execute(
                    f"UPDATE hall_progress SET {', '.join(f'{c} = ?' for c in sets)} "
                    "WHERE hall_id = ?",
                    (*args, u.hall_id),
                )

        await self.s._run(run)

    async def save_ratings(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        values = [
            (h, r["id"], r["day"], r.get("service"), r.get("window"), r["level"], r["at"])
            for h, r in rows
        ]
        await self.s._run(
            self.s.conn.executemany,
            "INSERT OR IGNORE INTO ratings (hall_id, id, day, service, window_id, level, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
