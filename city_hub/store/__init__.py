"""The hub's storage: one interface, two engines (SQLite embedded, PostgreSQL on a server).

All SQL of the hub lives in this package. :class:`HubStore` states what the rest of the hub may
ask; :mod:`.sqlite` and :mod:`.postgres` answer it, and what must be the same on both,
idempotent ingest (:meth:`HubStore.ingest`) and the grouping of pushes into transactions, is
written once here on top of a small transaction interface (:class:`Tx`).

Ingest: lock the hall's progress row, store the events it does not have yet (``hall_id`` +
``seq`` is the primary key: a repeated batch adds nothing), then take the events that continue
the hall's contiguous run from ``applied_seq`` (from this batch, and from earlier batches that
arrived ahead of a gap), fold them into the tickets' rows (:mod:`city_hub.fold`) and move
``applied_seq``. The answer to the hall is ``applied_seq``: every event up to it is stored and
counted, so the hall may forget about them. A batch that arrives early waits in ``events``
until the gap before it is filled; nothing is counted twice because only events above
``applied_seq`` are ever folded.

Group commit: 244 halls pushing every second would be 244 transactions a second, each a
handful of statements; on PostgreSQL each statement is a round trip to the server. So pushes
that arrive while a group is being written wait and go together in the next group (at most
:data:`GROUP_MAX` pushes, one per hall), in one transaction whose statements each carry the
rows of every push in it: a group costs about as many round trips as one push did. A lone push
is written at once (no timer). Each caller is answered only after its group committed; a group
that fails is written again push by push, so a bad push fails alone.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from ..fold import Logged, fold, referenced

#: Events folded per round when a gap closes and a long run waits.
RUN_LIMIT = 50_000
#: Pushes written in one transaction at most, and events (a group also ends when nobody waits).
GROUP_MAX = 64
GROUP_EVENTS = 20_000


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


@dataclass(frozen=True)
class Push:
    """What one hall sent: events, and the live state, profile and ratings that came with them."""

    hall_id: str
    events: Sequence[Logged]
    now: float
    state: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    ratings: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class HallUpdate:
    """One hall's row after a push: ``last_seen``, and ``(applied_seq, received_seq)``, the
    live state and the profile when given."""

    hall_id: str
    now: float
    progress: tuple[int, int] | None = None
    state: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None


class Tx(ABC):
    """What ingest needs inside one transaction; every write takes the rows of many halls."""

    @abstractmethod
    async def lock_progress(self, hall_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``(applied_seq, received_seq)`` of each known hall, locked until the end of the
        transaction (in ``hall_ids`` order, which callers sort: no deadlock between hubs)."""

    @abstractmethod
    async def insert_events(self, events: Sequence[tuple[str, Logged]]) -> None:
        """Store ``(hall_id, event)`` pairs, ignoring those already stored."""

    @abstractmethod
    async def events_from(self, hall_id: str, seq: int, limit: int) -> list[Logged]:
        """Stored events of a hall from ``seq`` on, in order."""

    @abstractmethod
    async def tickets(self, wanted: Mapping[str, tuple[set[str], bool]]) -> dict[str, list[dict]]:
        """Per hall, the rows of the tickets ``ids``, and of every open ticket of the hall when
        the flag is set (a ticket may come twice)."""

    @abstractmethod
    async def upsert_tickets(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``(hall_id, row)`` pairs, inserted or replacing the stored row."""

    @abstractmethod
    async def update_halls(self, updates: Sequence[HallUpdate]) -> None: ...

    @abstractmethod
    async def save_ratings(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``(hall_id, rating)`` pairs, ignoring those already stored."""


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
        them), committed with the pushes of other halls that arrived meanwhile; returns the
        hall's ``applied_seq`` (see the module doc)."""
        return await self._groups().submit(
            Push(hall_id, list(events), now, state, profile, ratings)
        )

    async def save_state(
        self,
        hall_id: str,
        state: dict[str, Any] | None,
        profile: dict[str, Any] | None,
        now: float,
    ) -> None:
        """The hall's live state and profile outside a push (``ingest`` saves its own)."""
        await self._groups().submit(Push(hall_id, (), now, state, profile))

    def _groups(self) -> _Groups:
        groups: _Groups | None = getattr(self, "_group_writer", None)
        if groups is None:
            groups = self._group_writer = _Groups(self._write_group)
        return groups

    async def _write_group(self, pushes: Sequence[Push]) -> list[int]:
        """One transaction for pushes of different halls; their ``applied_seq`` in order."""
        async with self.transaction() as tx:
            progress = await tx.lock_progress(sorted(p.hall_id for p in pushes))
            fresh: dict[str, list[Logged]] = {}
            for p in pushes:
                applied = progress.get(p.hall_id, (0, 0))[0]
                by_seq = {e.seq: e for e in p.events if e.seq > applied}
                fresh[p.hall_id] = [by_seq[seq] for seq in sorted(by_seq)]
            new = [(h, e) for h, events in fresh.items() for e in events]
            if new:
                await tx.insert_events(new)
            runs, acked = {}, {}
            for h, events in fresh.items():
                applied, received = progress.get(h, (0, 0))
                if received <= applied:  # nothing waits behind a gap: the push is all there is
                    runs[h] = _contiguous(events, applied)
                    acked[h] = runs[h][-1].seq if runs[h] else applied
                else:  # earlier pushes wait behind a gap this one may fill: read them in order
                    acked[h] = await _catch_up(tx, h, applied)
            await _apply(tx, {h: run for h, run in runs.items() if run})
            updates = []
            for p in pushes:
                events, received = fresh[p.hall_id], progress.get(p.hall_id, (0, 0))[1]
                top = max(received, events[-1].seq) if events else received
                progress_ = (acked[p.hall_id], top) if events else None
                updates.append(HallUpdate(p.hall_id, p.now, progress_, p.state, p.profile))
            await tx.update_halls(updates)
            ratings = [(p.hall_id, r) for p in pushes for r in p.ratings]
            if ratings:
                await tx.save_ratings(ratings)
            return [acked[p.hall_id] for p in pushes]

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

    @abstractmethod
    async def drop_expired_sessions(self, now: float) -> int:
        """Delete the sessions that ended before ``now``; how many there were."""

    # -- the catalog --

    @abstractmethod
    async def publish_catalog(self, data: dict[str, Any], by: str | None, now: float) -> int: ...

    @abstractmethod
    async def catalog(self) -> tuple[int, dict[str, Any]] | None:
        """The latest published version and its data."""


async def _apply(tx: Tx, runs: Mapping[str, list[Logged]]) -> None:
    """Fold each hall's contiguous run into its tickets' rows: one read, one write for all."""
    if not runs:
        return
    found = await tx.tickets({h: referenced(run) for h, run in runs.items()})
    changed = []
    for h, run in runs.items():
        rows = {r["id"]: r for r in found.get(h, [])}
        changed += [(h, row) for row in fold(run, rows)]
    if changed:
        await tx.upsert_tickets(changed)


async def _catch_up(tx: Tx, hall_id: str, applied: int) -> int:
    """Fold the stored events that now continue the hall's run; returns the new
    ``applied_seq`` (rare: only after a gap, so one hall at a time)."""
    while True:
        run = _contiguous(await tx.events_from(hall_id, applied + 1, RUN_LIMIT), applied)
        if run:
            await _apply(tx, {hall_id: run})
            applied = run[-1].seq
        if len(run) < RUN_LIMIT:
            return applied


class _Groups:
    """Pushes queue here; one writer at a time takes every queued push it may (one per hall,
    at most ``GROUP_MAX``) and writes them together, then the next group, until none wait."""

    def __init__(self, write: Callable[[Sequence[Push]], Awaitable[list[int]]]) -> None:
        self._write = write
        self._queue: list[tuple[Push, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, push: Push) -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((push, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        group: list[tuple[Push, asyncio.Future[int]]] = []
        try:
            while self._queue:
                group, later, halls, events = [], [], set(), 0
                for item in self._queue:
                    push = item[0]
                    full = len(group) >= GROUP_MAX or (
                        group and events + len(push.events) > GROUP_EVENTS
                    )
                    if push.hall_id in halls or full:  # a hall's next push: the next group
                        later.append(item)
                        continue
                    group.append(item)
                    halls.add(push.hall_id)
                    events += len(push.events)
                self._queue = later
                await self._commit(group)
        except BaseException as e:  # cancelled with the store: nobody may wait forever
            for _, done in group + self._queue:
                _settle(done, error=e)
            self._queue = []
            raise
        finally:
            self._writer = None

    async def _commit(self, group: list[tuple[Push, asyncio.Future[int]]]) -> None:
        try:
            acked = await self._write([push for push, _ in group])
        except Exception as e:
            if len(group) == 1:
                _settle(group[0][1], error=e)
                return
            for item in group:  # undone together; written again alone, a bad push fails alone
                await self._commit([item])
            return
        for (_, done), n in zip(group, acked, strict=True):
            _settle(done, n)


def _settle(done: asyncio.Future[int], value: int = 0, error: BaseException | None = None) -> None:
    if done.done():  # its caller gave up (a hall's request cancelled): it will push again
        return
    if isinstance(error, asyncio.CancelledError):
        done.cancel()
    elif error is not None:
        done.set_exception(error)
    else:
        done.set_result(value)


def _contiguous(events: list[Logged], applied: int) -> list[Logged]:
    run: list[Logged] = []
    for e in events:
        if e.seq != applied + len(run) + 1:
            break
        run.append(e)
    return run


def hall_update(u: HallUpdate) -> tuple[tuple[str, ...], list[Any]]:
    """Columns and values of one ``hall_progress`` update (updates with the same columns can
    go in one ``executemany``)."""
    now, progress, state, profile = u.now, u.progress, u.state, u.profile
    sets: list[str] = ["last_seen"]
    args: list[Any] = [now]
    if progress is not None:
        sets += ["applied_seq", "received_seq"]
        args += list(progress)
    if state is not None:
        sets += ["state", "state_at", "catalog_version"]
        args += [json.dumps(state), now, state.get("catalog_version")]
    if profile is not None:
        sets.append("profile")
        args.append(json.dumps(profile, ensure_ascii=False))
    return tuple(sets), args


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
