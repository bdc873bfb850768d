"""The hub's storage: one interface, two engines (SQLite embedded, PostgreSQL on a server).

All SQL of the hub lives in this package. :class:`HubStore` states what the rest of the hub may
ask; :mod:`.sqlite` and :mod:`.postgres` answer it, and the one algorithm that must be the same
on both, idempotent ingest (:meth:`HubStore.ingest`), is written once here on top of a small
transaction interface (:class:`Tx`).

Ingest, in one transaction per batch: lock the hall's progress row, store the events it does
not have yet (``hall_id`` + ``seq`` is the primary key: a repeated batch adds nothing), then take
the events that continue the hall's contiguous run from ``applied_seq`` (from this batch, and
from earlier batches that arrived ahead of a gap), fold them into the tickets' rows
(:mod:`city_hub.fold`) and move ``applied_seq``. The answer to the hall is ``applied_seq``:
every event up to it is stored and counted, so the hall may forget about them. A batch that
arrives early waits in ``events`` until the gap before it is filled; nothing is counted twice
because only events above ``applied_seq`` are ever folded.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from ..fold import Logged, fold, referenced

#: Events folded per round when a gap closes and a long run waits.
RUN_LIMIT = 50_000


class SchemaTooNew(Exception):
    """The database was written by a newer hallq hub."""


@dataclass(frozen=True)
class Hall:
    id: str
    name: str
    level: str
    parent: str | None = None
    lat: float | None = None
    lon: float | None = None


class Tx(ABC):
    """What ingest needs inside one transaction."""

    @abstractmethod
    async def lock_progress(self, hall_id: str) -> tuple[int, int]:
        """``(applied_seq, received_seq)`` of the hall, locked until the end of the transaction."""

    @abstractmethod
    async def insert_events(self, hall_id: str, events: Sequence[Logged]) -> None:
        """Store events, ignoring those already stored."""

    @abstractmethod
    async def events_from(self, hall_id: str, seq: int, limit: int) -> list[Logged]:
        """Stored events from ``seq`` on, in order."""

    @abstractmethod
    async def tickets(self, hall_id: str, ids: set[str], open_ones: bool) -> list[dict]:
        """Rows of these tickets, and of every open ticket of the hall when ``open_ones``."""

    @abstractmethod
    async def upsert_tickets(self, hall_id: str, rows: Sequence[dict[str, Any]]) -> None: ...

    @abstractmethod
    async def update_hall(
        self,
        hall_id: str,
        now: float,
        progress: tuple[int, int] | None = None,
        state: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """One UPDATE of the hall's row: ``last_seen``, and ``(applied_seq, received_seq)``,
        the live state and the profile when given."""

    @abstractmethod
    async def save_ratings(self, hall_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Ratings, ignoring those already stored."""


class HubStore(ABC):
    engine: str

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    @abstractmethod
    async def close(self) -> None: ...

    # -- the network --

    @abstractmethod
    async def add_hall(self, hall: Hall, token_hash: str, now: float) -> None:
        """Register (or re-register, with a new token) a hall."""

    @abstractmethod
    async def hall_of_token(self, token_hash: str) -> str | None: ...

    @abstractmethod
    async def halls(self) -> list[dict[str, Any]]:
        """Every hall with its progress: id, name, level, parent, lat, lon, last_seen, state
        (decoded), state_at, profile (decoded), catalog_version, applied_seq, received_seq."""

    # -- what halls send --

    async def ingest(
        self,
        hall_id: str,
        events: Iterable[Logged],
        now: float,
        state: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        ratings: Sequence[dict[str, Any]] = (),
    ) -> int:
        """Store and count a push (events, and the state, profile and ratings that came with
        them) in one transaction; returns the hall's ``applied_seq`` (see the module doc)."""
        async with self.transaction() as tx:
            applied, received = await tx.lock_progress(hall_id)
            fresh = sorted({e.seq: e for e in events if e.seq > applied}.values(),
                           key=lambda e: e.seq)  # fmt: skip
            if fresh:
                await tx.insert_events(hall_id, fresh)
            top = max(received, fresh[-1].seq if fresh else 0)
            if received <= applied:  # nothing waits behind a gap: the batch is all there is
                applied = await _apply(tx, hall_id, _contiguous(fresh, applied), applied)
            else:  # earlier batches wait behind a gap this one may fill: read them in order
                while True:
                    stored = await tx.events_from(hall_id, applied + 1, RUN_LIMIT)
                    run = _contiguous(stored, applied)
                    applied = await _apply(tx, hall_id, run, applied)
                    if len(run) < RUN_LIMIT:
                        break
            progress = (applied, top) if fresh else None
            await tx.update_hall(hall_id, now, progress, state, profile)
            if ratings:
                await tx.save_ratings(hall_id, ratings)
            return applied

    async def save_state(
        self,
        hall_id: str,
        state: dict[str, Any] | None,
        profile: dict[str, Any] | None,
        now: float,
    ) -> None:
        """The hall's live state and profile outside a push (``ingest`` saves its own)."""
        async with self.transaction() as tx:
            await tx.update_hall(hall_id, now, None, state, profile)

    # -- figures --

    @abstractmethod
    async def day_rows(self, hall_id: str, start: str, end: str) -> dict[str, list[tuple]]:
        """Tickets of each day in a range as ``hall_server.core.reports.ROW_COLUMNS``."""

    @abstractmethod
    async def rating_counts(self, start: str, end: str, bad: int) -> dict[str, tuple[int, int]]:
        """Per hall: ratings in the range and those at or below ``bad``."""

    # -- accounts --

    @abstractmethod
    async def add_user(
        self, username: str, password_hash: str, role: str, scope: str | None, now: float
    ) -> None: ...

    @abstractmethod
    async def user(self, username: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def add_session(self, token_hash: str, username: str, expires_at: float) -> None: ...

    @abstractmethod
    async def session_user(self, token_hash: str, now: float) -> dict[str, Any] | None: ...

    @abstractmethod
    async def drop_session(self, token_hash: str) -> None: ...

    # -- the catalog --

    @abstractmethod
    async def publish_catalog(self, data: dict[str, Any], by: str | None, now: float) -> int: ...

    @abstractmethod
    async def catalog(self) -> tuple[int, dict[str, Any]] | None:
        """The latest published version and its data."""


async def _apply(tx: Tx, hall_id: str, run: list[Logged], applied: int) -> int:
    """Fold a contiguous run into the tickets' rows; returns the new ``applied_seq``."""
    if not run:
        return applied
    ids, closes = referenced(run)
    rows = {r["id"]: r for r in await tx.tickets(hall_id, ids, closes)}
    changed = fold(run, rows)
    if changed:
        await tx.upsert_tickets(hall_id, changed)
    return run[-1].seq


def _contiguous(events: list[Logged], applied: int) -> list[Logged]:
    run: list[Logged] = []
    for e in events:
        if e.seq != applied + len(run) + 1:
            break
        run.append(e)
    return run


def hall_update(
    now: float,
    progress: tuple[int, int] | None,
    state: dict[str, Any] | None,
    profile: dict[str, Any] | None,
) -> tuple[list[str], list[Any]]:
    """Columns and values of one ``hall_progress`` update."""
    sets, args = ["last_seen"], [now]
    if progress is not None:
        sets += ["applied_seq", "received_seq"]
        args += list(progress)
    if state is not None:
        sets += ["state", "state_at", "catalog_version"]
        args += [json.dumps(state), now, state.get("catalog_version")]
    if profile is not None:
        sets.append("profile")
        args.append(json.dumps(profile, ensure_ascii=False))
    return sets, args


def logged(row: Sequence[Any]) -> Logged:
    """An ``events`` row (seq, day, type, at, data) as a :class:`Logged`."""
    seq, day, type_, at, data = row
    return Logged(int(seq), day, type_, float(at), json.loads(data))


async def open_store(db: str) -> HubStore:
    """A file path opens SQLite, a ``postgresql://`` URL PostgreSQL; schema made or migrated."""
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return await PostgresStore.open(db)
    from .sqlite import SqliteStore

    return await SqliteStore.open(db)
