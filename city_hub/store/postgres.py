"""The hub on PostgreSQL, through asyncpg (a pool of connections, binary protocol).

Batches go in as arrays (``unnest``), one statement per table, so a batch of thousands of
events costs a handful of round trips. A hall's ingest locks its ``hall_progress`` row
(``FOR UPDATE``): two batches of the same hall are counted one after the other, batches of
different halls in parallel. See ``schema.py`` for distributing by hall with Citus.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from hall_server.core.reports import ROW_COLUMNS as DAY_COLUMNS

from ..fold import OPEN, TICKET_COLUMNS, Logged
from . import Hall, HubStore, SchemaTooNew, Tx, hall_update, logged
from .schema import migrations

_AS_HUB = {"window": "window_id", "called_by": "NULL::text", "item": "NULL::text"}
_TICKET_TYPES = {
    "id": "text",
    "day": "text",
    "service": "text",
    "status": "text",
    "issued_at": "float8",
    "enqueued_at": "float8",
    "called_at": "float8",
    "started_at": "float8",
    "finished_at": "float8",
    "window_id": "text",
    "recalls": "int8",
    "predecessor": "text",
    "successor": "text",
}
_TICKET_UPSERT = (
    f"INSERT INTO tickets (hall_id, {', '.join(TICKET_COLUMNS)}) "
    f"SELECT $1, * FROM unnest("
    + ", ".join(f"${i + 2}::{_TICKET_TYPES[c]}[]" for i, c in enumerate(TICKET_COLUMNS))
    + ") ON CONFLICT (hall_id, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in TICKET_COLUMNS if c != "id")
)
_LOCK_KEY = 0x6861_6C6C  # advisory lock while migrating: two hubs starting at once


def _select(columns: Sequence[str]) -> str:
    return ", ".join(_AS_HUB.get(c, c) for c in columns)


class PostgresStore(HubStore):
    engine = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=16)
        try:
            await cls._migrate(pool)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    @staticmethod
    async def _migrate(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as c, c.transaction():
            await c.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            await c.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            version = await c.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            steps = migrations("postgresql")
            if version > len(steps):
                raise SchemaTooNew(f"hub schema v{version} is newer than this hub (v{len(steps)})")
            for i in range(version, len(steps)):
                for statement in steps[i]:
                    await c.execute(statement)
                await c.execute("INSERT INTO schema_version (version) VALUES ($1)", i + 1)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as c, c.transaction():
            yield _PgTx(c)

    async def _dicts(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(sql, *args)]

    # -- the network --

    async def add_hall(self, hall: Hall, token_hash: str, now: float) -> None:
        async with self.pool.acquire() as c, c.transaction():
            await c.execute(
                "INSERT INTO halls (hall_id, name, level, parent, lat, lon, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hall_id) DO UPDATE SET "
                "name = excluded.name, level = excluded.level, parent = excluded.parent, "
                "lat = excluded.lat, lon = excluded.lon",
                hall.id, hall.name, hall.level, hall.parent, hall.lat, hall.lon, now,
            )  # fmt: skip
            await c.execute("DELETE FROM hall_tokens WHERE hall_id = $1", hall.id)
            await c.execute("INSERT INTO hall_tokens VALUES ($1, $2)", token_hash, hall.id)
            await c.execute(
                "INSERT INTO hall_progress (hall_id) VALUES ($1) ON CONFLICT DO NOTHING", hall.id
            )

    async def hall_of_token(self, token_hash: str) -> str | None:
        value = await self.pool.fetchval(
            "SELECT hall_id FROM hall_tokens WHERE token_hash = $1", token_hash
        )
        return None if value is None else str(value)

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
        for row in await self.pool.fetch(
            f"SELECT day, {_select(DAY_COLUMNS)} FROM tickets WHERE hall_id = $1 "
            "AND day BETWEEN $2 AND $3",
            hall_id,
            start,
            end,
        ):
            out.setdefault(row[0], []).append(tuple(row)[1:])
        return out

    async def rating_counts(self, start: str, end: str, bad: int) -> dict[str, tuple[int, int]]:
        rows = await self.pool.fetch(
            "SELECT hall_id, count(*), count(*) FILTER (WHERE level <= $1) FROM ratings "
            "WHERE day BETWEEN $2 AND $3 GROUP BY hall_id",
            bad,
            start,
            end,
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    # -- accounts --

    async def add_user(
        self, username: str, password_hash: str, role: str, scope: str | None, now: float
    ) -> None:
        await self.pool.execute(
            "INSERT INTO users (username, password_hash, role, scope, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET "
            "password_hash = excluded.password_hash, role = excluded.role, scope = excluded.scope",
            username, password_hash, role, scope, now,
        )  # fmt: skip

    async def user(self, username: str) -> dict[str, Any] | None:
        rows = await self._dicts("SELECT * FROM users WHERE username = $1", username)
        return rows[0] if rows else None

    async def add_session(self, token_hash: str, username: str, expires_at: float) -> None:
        await self.pool.execute(
            "INSERT INTO sessions (token_hash, username, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            username,
            expires_at,
        )

    async def session_user(self, token_hash: str, now: float) -> dict[str, Any] | None:
        rows = await self._dicts(
            "SELECT u.* FROM sessions s JOIN users u ON u.username = s.username "
            "WHERE s.token_hash = $1 AND s.expires_at > $2",
            token_hash,
            now,
        )
        return rows[0] if rows else None

    async def drop_session(self, token_hash: str) -> None:
        await self.pool.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)

    # -- the catalog --

    async def publish_catalog(self, data: dict[str, Any], by: str | None, now: float) -> int:
        async with self.pool.acquire() as c, c.transaction():
            await c.execute("LOCK TABLE catalogs IN EXCLUSIVE MODE")
            version = await c.fetchval("SELECT coalesce(max(version), 0) + 1 FROM catalogs")
            await c.execute(
                "INSERT INTO catalogs (version, published_at, published_by, data) "
                "VALUES ($1, $2, $3, $4)",
                version, now, by, json.dumps(data, ensure_ascii=False),
            )  # fmt: skip
            return int(version)

    async def catalog(self) -> tuple[int, dict[str, Any]] | None:
        row = await self.pool.fetchrow(
            "SELECT version, data FROM catalogs ORDER BY version DESC LIMIT 1"
        )
        return (int(row[0]), json.loads(row[1])) if row else None


class _PgTx(Tx):
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.c = conn

    async def lock_progress(self, hall_id: str) -> tuple[int, int]:
        row = await self.c.fetchrow(
            "SELECT applied_seq, received_seq FROM hall_progress WHERE hall_id = $1 FOR UPDATE",
            hall_id,
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def insert_events(self, hall_id: str, events: Sequence[Logged]) -> None:
        await self.c.execute(
            "INSERT INTO events (hall_id, seq, day, at, type, data) SELECT $1, * FROM "
            "unnest($2::int8[], $3::text[], $4::float8[], $5::text[], $6::text[]) "
            "ON CONFLICT DO NOTHING",
            hall_id,
            [e.seq for e in events],
            [e.day for e in events],
            [e.at for e in events],
            [e.type for e in events],
            [json.dumps(dict(e.data), ensure_ascii=False) for e in events],
        )

    async def events_from(self, hall_id: str, seq: int, limit: int) -> list[Logged]:
        rows = await self.c.fetch(
            "SELECT seq, day, type, at, data FROM events WHERE hall_id = $1 AND seq >= $2 "
            "ORDER BY seq LIMIT $3",
            hall_id,
            seq,
            limit,
        )
        return [logged(tuple(r)) for r in rows]

    async def tickets(self, hall_id: str, ids: set[str], open_ones: bool) -> list[dict]:
        cols = ", ".join(TICKET_COLUMNS)
        rows = await self.c.fetch(
            f"SELECT {cols} FROM tickets WHERE hall_id = $1 AND id = ANY($2::text[])",
            hall_id,
            list(ids),
        )
        if open_ones:
            rows += await self.c.fetch(
                f"SELECT {cols} FROM tickets WHERE hall_id = $1 AND status = ANY($2::text[])",
                hall_id,
                list(OPEN),
            )
        return [dict(r) for r in rows]

    async def upsert_tickets(self, hall_id: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.c.execute(
            _TICKET_UPSERT, hall_id, *([r[c] for r in rows] for c in TICKET_COLUMNS)
        )

    async def update_hall(
        self,
        hall_id: str,
        now: float,
        progress: tuple[int, int] | None = None,
        state: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        sets, args = hall_update(now, progress, state, profile)
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(sets))
        await self.c.execute(
            f"UPDATE hall_progress SET {assignments} WHERE hall_id = $1", hall_id, *args
        )

    async def save_ratings(self, hall_id: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.c.execute(
            "INSERT INTO ratings (hall_id, id, day, service, window_id, level, at) "
            "SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], "
            "$6::int8[], $7::float8[]) ON CONFLICT DO NOTHING",
            hall_id,
            [r["id"] for r in rows],
            [r["day"] for r in rows],
            [r.get("service") for r in rows],
            [r.get("window") for r in rows],
            [r["level"] for r in rows],
            [r["at"] for r in rows],
        )
