"""The hub on PostgreSQL, through asyncpg (a pool of connections, binary protocol).

Every round trip to the server counts: with a busy machine each one waits for a core. Pushes
are written in groups (one transaction for the pushes of many halls, see the package doc),
and a group's rows go in as arrays (``unnest``), one statement per table, or in one pipelined
``executemany``; a group of 64 pushes costs about the seven round trips one push cost. The
group locks its halls' ``hall_progress`` rows (``FOR UPDATE``, in hall order), so two hubs on
one database count a hall's pushes one after the other. See ``schema.py`` for distributing by
hall with Citus.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from hall_server.core.reports import ROW_COLUMNS as DAY_COLUMNS

from ..fold import OPEN, TICKET_COLUMNS, Logged
from . import Hall, HallUpdate, HubStore, SchemaTooNew, Tx, hall_update, logged
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
    f"SELECT * FROM unnest($1::text[], "
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

    async def drop_expired_sessions(self, now: float) -> int:
        status = await self.pool.execute("DELETE FROM sessions WHERE expires_at <= $1", now)
        return int(status.split()[-1])  # "DELETE n"

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

    async def lock_progress(self, hall_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        rows = await self.c.fetch(
            "SELECT hall_id, applied_seq, received_seq FROM hall_progress "
            "WHERE hall_id = ANY($1::text[]) ORDER BY hall_id FOR UPDATE",
            list(hall_ids),
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    async def insert_events(self, events: Sequence[tuple[str, Logged]]) -> None:
        await self.c.execute(
            "INSERT INTO events (hall_id, seq, day, at, type, data) SELECT * FROM "
            "unnest($1::text[], $2::int8[], $3::text[], $4::float8[], $5::text[], $6::text[]) "
            "ON CONFLICT DO NOTHING",
            [h for h, _ in events],
            [e.seq for _, e in events],
            [e.day for _, e in events],
            [e.at for _, e in events],
            [e.type for _, e in events],
            [json.dumps(dict(e.data), ensure_ascii=False) for _, e in events],
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

    async def tickets(self, wanted: Mapping[str, tuple[set[str], bool]]) -> dict[str, list[dict]]:
        pairs = [(h, i) for h, (ids, _) in wanted.items() for i in ids]
        cols = ", ".join(TICKET_COLUMNS)
        rows = await self.c.fetch(
            f"SELECT hall_id, {cols} FROM tickets WHERE (hall_id, id) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[])) UNION ALL "
            f"SELECT hall_id, {cols} FROM tickets WHERE hall_id = ANY($3::text[]) "
            "AND status = ANY($4::text[])",
            [h for h, _ in pairs],
            [i for _, i in pairs],
            [h for h, (_, closes) in wanted.items() if closes],
            list(OPEN),
        )
        out: dict[str, list[dict]] = {}
        for r in rows:
            row = dict(r)
            out.setdefault(row.pop("hall_id"), []).append(row)
        return out

    async def upsert_tickets(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        await self.c.execute(
            _TICKET_UPSERT,
            [h for h, _ in rows],
            *([r[c] for _, r in rows] for c in TICKET_COLUMNS),
        )

    async def update_halls(self, updates: Sequence[HallUpdate]) -> None:
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for u in updates:
            sets, args = hall_update(u)
            by_columns.setdefault(sets, []).append((u.hall_id, *args))
        for sets, rows in by_columns.items():  # one pipelined round trip per shape
            assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(sets))
            await self.c.executemany(
                f"UPDATE hall_progress SET {assignments} WHERE hall_id = $1", rows
            )

    async def save_ratings(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        await self.c.execute(
            "INSERT INTO ratings (hall_id, id, day, service, window_id, level, at) "
            "SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], "
            "$6::int8[], $7::float8[]) ON CONFLICT DO NOTHING",
            [h for h, _ in rows],
            [r["id"] for _, r in rows],
            [r["day"] for _, r in rows],
            [r.get("service") for _, r in rows],
            [r.get("window") for _, r in rows],
            [r["level"] for _, r in rows],
            [r["at"] for _, r in rows],
        )
