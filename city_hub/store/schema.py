"""The hub's schema history, per engine. Each entry moves a database one version forward; never
edit a released one, append a new one. ``schema_version`` records how many have run.

Every table that grows with the halls' traffic (``events``, ``tickets``, ``ratings``,
``hall_progress``) has ``hall_id`` first in its primary key, so that PostgreSQL can be
distributed by hall with Citus (``create_distributed_table(..., 'hall_id')``), all of one hall's
rows on one node and every query of the hub touching one hall or all of them. The small tables
(``halls``, ``hall_tokens``, ``users``, ``sessions``, ``catalogs``) become reference tables.
Push tokens live in their own table because a distributed table cannot hold a unique key that
does not contain its distribution column.
"""

from __future__ import annotations

_COMMON = [
    """CREATE TABLE halls (
        hall_id TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL, parent TEXT,
        lat {REAL}, lon {REAL}, created_at {REAL} NOT NULL)""",
    "CREATE TABLE hall_tokens (token_hash TEXT PRIMARY KEY, hall_id TEXT NOT NULL)",
    """CREATE TABLE hall_progress (
        hall_id TEXT PRIMARY KEY, applied_seq {INT} NOT NULL DEFAULT 0,
        received_seq {INT} NOT NULL DEFAULT 0, last_seen {REAL}, state TEXT, state_at {REAL},
        profile TEXT, catalog_version {INT})""",
    """CREATE TABLE events (
        hall_id TEXT NOT NULL, seq {INT} NOT NULL, day TEXT NOT NULL, at {REAL} NOT NULL,
        type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (hall_id, seq))""",
    """CREATE TABLE tickets (
        hall_id TEXT NOT NULL, id TEXT NOT NULL, day TEXT NOT NULL, service TEXT NOT NULL,
        status TEXT NOT NULL, issued_at {REAL} NOT NULL, enqueued_at {REAL} NOT NULL,
        called_at {REAL}, started_at {REAL}, finished_at {REAL}, window_id TEXT,
        recalls {INT} NOT NULL DEFAULT 0, predecessor TEXT, successor TEXT,
        PRIMARY KEY (hall_id, id))""",
    "CREATE INDEX tickets_day ON tickets (hall_id, day)",
    "CREATE INDEX tickets_open ON tickets (hall_id, status)",
    """CREATE TABLE ratings (
        hall_id TEXT NOT NULL, id {INT} NOT NULL, day TEXT NOT NULL, service TEXT,
        window_id TEXT, level {INT} NOT NULL, at {REAL} NOT NULL, PRIMARY KEY (hall_id, id))""",
    "CREATE INDEX ratings_day ON ratings (hall_id, day)",
    """CREATE TABLE users (
        username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
        scope TEXT, created_at {REAL} NOT NULL)""",
    """CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at {REAL} NOT NULL)""",
    """CREATE TABLE catalogs (
        version {INT} PRIMARY KEY, published_at {REAL} NOT NULL, published_by TEXT,
        data TEXT NOT NULL)""",
]

_TYPES = {
    "sqlite": {"REAL": "REAL", "INT": "INTEGER"},
    "postgresql": {"REAL": "DOUBLE PRECISION", "INT": "BIGINT"},
}


def migrations(engine: str) -> list[list[str]]:
    """Statements of each version, for ``sqlite`` or ``postgresql``."""
    return [[s.format(**_TYPES[engine]) for s in _COMMON]]
