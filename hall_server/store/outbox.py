"""The webhook outbox in SQLite: receivers, the ordered messages they read, the delivery log.

The event log, the ratings and the alarms are the durable facts; the outbox is derived from
them by :meth:`Outbox.pump`, which copies what is new into ``outbox`` and moves its cursors
(``meta``: ``outbox.events``, ``outbox.ratings``, ``outbox.alarms``) in the same transaction.
A crash between a fact's commit and the pump loses nothing: the next pump finds it. The three
sources are merged by time, so a ticket's ``ticket.finished`` always comes before its rating.

Each receiver reads the outbox in ``seq`` order from its own ``cursor``; it is moved forward
only after the receiver answered 2xx, and written lazily (at-least-once: after a crash a few
messages may be sent again, receivers deduplicate by ``id``). A replay is a range of ``seq``
sent again before the receiver carries on. Only types some receiver wants are copied, and
nothing is copied while no receiver exists (adding the first one moves the cursors to now).

One connection of its own, used by one thread at a time (the lock), so that the pump and the
delivery log never wait on the ticket path's writer lock in Python.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hall_server.core.integration import EVENT_SOURCES, Message
from hall_server.store.db import Store, connect

SOURCES = (
    ("events", "outbox.events", "seq", "at"),
    ("ratings", "outbox.ratings", "id", "at"),
    ("alarms", "outbox.alarms", "id", "raised_at"),
)
#: Messages made from one source row: (source table, row, its ticket row or None).
Convert = Callable[[str, dict[str, Any], dict[str, Any] | None], list[Message]]
Body = Callable[[str, Message], str]

RECEIVER_COLUMNS = (
    "id, url, events, description, created_at, state, cursor, replay_next, replay_to, failures, "
    "failing_since, next_attempt_at, last_attempt_at, last_success_at, last_status, last_error, "
    "delivered"
)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Outbox:
    def __init__(self, store: Store) -> None:
        self.conn = connect(store.path)
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.conn.execute(sql, args)]

    # -- receivers --------------------------------------------------------------------------

    def add(
        self, url: str, events: list[str], description: str | None, now: float
    ) -> tuple[int, str]:
        """Register a receiver; it gets what happens from now on. Returns its id and secret."""
        secret = new_secret()
        with self._tx() as c:
            if not c.execute("SELECT 1 FROM webhooks LIMIT 1").fetchone():
                for table, key, pk, _ in SOURCES:  # nothing was copied while nobody listened
                    last = c.execute(f"SELECT max({pk}) FROM {table}").fetchone()[0] or 0
                    c.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(last))
                    )
            cursor = c.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
            cur = c.execute(
                "INSERT INTO webhooks (url, events, secret, description, created_at, state, "
                "cursor, failures, delivered) VALUES (?, ?, ?, ?, ?, 'active', ?, 0, 0)",
                (url, json.dumps(events), secret, description, now, cursor),
            )
        return int(cur.lastrowid or 0), secret

    def remove(self, receiver: int) -> bool:
        with self._tx() as c:
            c.execute("DELETE FROM webhook_attempts WHERE webhook = ?", (receiver,))
            return c.execute("DELETE FROM webhooks WHERE id = ?", (receiver,)).rowcount > 0

    def receivers(self) -> list[dict[str, Any]]:
        rows = self._query(f"SELECT {RECEIVER_COLUMNS} FROM webhooks ORDER BY id")
        for r in rows:
            r["events"] = json.loads(r["events"])
        return rows

    def receiver(self, receiver: int) -> dict[str, Any] | None:
        rows = self._query(f"SELECT {RECEIVER_COLUMNS} FROM webhooks WHERE id = ?", (receiver,))
        if rows:
            rows[0]["events"] = json.loads(rows[0]["events"])
        return rows[0] if rows else None

    def secret(self, receiver: int) -> str | None:
        rows = self._query("SELECT secret FROM webhooks WHERE id = ?", (receiver,))
        return rows[0]["secret"] if rows else None

    def enable(self, receiver: int) -> bool:
        """Try a disabled (or failing) receiver again now."""
        with self._tx() as c:
            return (
                c.execute(
                    "UPDATE webhooks SET state = 'active', failures = 0, failing_since = NULL, "
                    "next_attempt_at = NULL WHERE id = ?",
                    (receiver,),
                ).rowcount
                > 0
            )

    def replay(
        self,
        receiver: int,
        first: int | None,
        last: int | None,
        since: float | None = None,
        until: float | None = None,
    ) -> tuple[int, int, int] | None:
        """Send the messages of a ``seq`` range (or a time range) again, before anything new;
        the receiver is enabled. Returns (first seq, last seq, messages of its types), or None
        for an unknown receiver."""
        with self._tx() as c:
            row = c.execute("SELECT events, cursor FROM webhooks WHERE id = ?", (receiver,))
            found = row.fetchone()
            if found is None:
                return None
            lo = first if first is not None else 1
            hi = last if last is not None else found["cursor"]
            if since is not None:
                got = c.execute("SELECT min(seq) FROM outbox WHERE at >= ?", (since,)).fetchone()
                lo = max(lo, got[0] if got[0] is not None else hi + 1)
            if until is not None:
                got = c.execute("SELECT max(seq) FROM outbox WHERE at <= ?", (until,)).fetchone()
                hi = min(hi, got[0] if got[0] is not None else 0)
            hi = min(hi, found["cursor"])  # what was not sent yet will be sent anyway
            types = json.loads(found["events"])
            n = c.execute(
                f"SELECT count(*) FROM outbox WHERE seq BETWEEN ? AND ? "
                f"AND type IN ({','.join('?' * len(types))})",
                (lo, hi, *types),
            ).fetchone()[0]
            c.execute(
                "UPDATE webhooks SET replay_next = ?, replay_to = ?, state = 'active', "
                "failures = 0, failing_since = NULL, next_attempt_at = NULL WHERE id = ?",
                (lo, hi, receiver) if n else (None, None, receiver),
            )
        return lo, hi, n

    # -- the pump ---------------------------------------------------------------------------

    def wanted(self) -> set[str]:
        rows = self._query("SELECT events FROM webhooks")
        return {t for r in rows for t in json.loads(r["events"])}

    def pump(self, convert: Convert, body: Body, batch: int = 2000) -> int:
        """Copy what is new in the event log, ratings and alarms into the outbox, in time
        order; returns how many messages were added."""
        if not self.wanted() or not self._news():
            return 0
        added = 0
        with self._tx() as c:
            wanted = {t for (e,) in c.execute("SELECT events FROM webhooks") for t in json.loads(e)}
            cursors = {key: self._cursor(c, key) for _, key, _, _ in SOURCES}
            fetched: dict[str, list[dict[str, Any]]] = {}
            horizon = float("inf")
            for table, key, pk, at in SOURCES:
                rows = [
                    dict(r)
                    for r in c.execute(
                        f"SELECT * FROM {table} WHERE {pk} > ? ORDER BY {pk} LIMIT ?",
                        (cursors[key], batch),
                    )
                ]
                if table == "events":  # the logged event itself, with its place in the log
                    rows = [json.loads(r["data"]) | {"seq": r["seq"], "at": r["at"]} for r in rows]
                if len(rows) == batch:  # more to come: nothing later than this may go first
                    horizon = min(horizon, rows[-1][at])
                fetched[table] = rows
            merged: list[tuple[float, int, int, str, dict[str, Any]]] = []
            for order, (table, key, pk, at) in enumerate(SOURCES):
                for row in fetched[table]:
                    if row[at] > horizon:
                        break
                    merged.append((row[at], order, row[pk], table, row))
                    cursors[key] = row[pk]
            merged.sort(key=lambda m: m[:3])
            tickets = self._tickets(c, merged)
            rows_out = []
            for _, _, _, table, row in merged:
                if table == "events" and row["type"] not in EVENT_SOURCES:
                    continue
                ticket = tickets.get(row.get("ticket_id") or "")
                for m in convert(table, row, ticket):
                    if m.type in wanted:
                        msg_id = "msg_" + uuid.uuid4().hex
                        rows_out.append((msg_id, m.type, m.at, body(msg_id, m)))
            c.executemany("INSERT INTO outbox (id, type, at, body) VALUES (?, ?, ?, ?)", rows_out)
            for _, key, _, _ in SOURCES:
                c.execute("UPDATE meta SET value = ? WHERE key = ?", (str(cursors[key]), key))
            added = len(rows_out)
        return added

    def _news(self) -> bool:
        with self._lock:
            c = self.conn
            for table, key, pk, _ in SOURCES:
                last = c.execute(f"SELECT max({pk}) FROM {table}").fetchone()[0] or 0
                if last > self._cursor(c, key):
                    return True
        return False

    @staticmethod
    def _cursor(c: sqlite3.Connection, key: str) -> int:
        row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _tickets(
        c: sqlite3.Connection, merged: list[tuple[float, int, int, str, dict[str, Any]]]
    ) -> dict[str, dict[str, Any]]:
        ids = list({row["ticket_id"] for *_, row in merged if row.get("ticket_id")})
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for r in c.execute(
                "SELECT id, number, service, issued_at, called_at, started_at, finished_at, "
                f"name_masked FROM tickets WHERE id IN ({','.join('?' * len(part))})",
                part,
            ):
                out[r["id"]] = dict(r)
        return out

    # -- delivering ---------------------------------------------------------------------------

    def next_messages(
        self, receiver: dict[str, Any], limit: int = 200
    ) -> tuple[bool, list[dict[str, Any]]]:
        """The next messages for a receiver, replayed ones first: (replaying?, messages)."""
        types = receiver["events"]
        marks = ",".join("?" * len(types))
        if receiver["replay_next"] is not None:
            rows = self._query(
                f"SELECT seq, id, type, body FROM outbox WHERE seq >= ? AND seq <= ? "
                f"AND type IN ({marks}) ORDER BY seq LIMIT ?",
                (receiver["replay_next"], receiver["replay_to"], *types, limit),
            )
            if rows:
                return True, rows
            self.save(receiver["id"], {"replay_next": None, "replay_to": None}, [])
            receiver["replay_next"] = receiver["replay_to"] = None
        rows = self._query(
            f"SELECT seq, id, type, body FROM outbox WHERE seq > ? AND type IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (receiver["cursor"], *types, limit),
        )
        return False, rows

    def backlog(self, receiver: dict[str, Any]) -> int:
        """Messages waiting for a receiver."""
        types = receiver["events"]
        rows = self._query(
            f"SELECT count(*) AS n FROM outbox WHERE seq > ? "
            f"AND type IN ({','.join('?' * len(types))})",
            (receiver["cursor"], *types),
        )
        return int(rows[0]["n"])

    def save(self, receiver: int, state: dict[str, Any], attempts: list[tuple[Any, ...]]) -> None:
        """A receiver's progress and its new delivery log lines, in one transaction."""
        with self._tx() as c:
            if state:
                sets = ", ".join(f"{k} = ?" for k in state)
                c.execute(f"UPDATE webhooks SET {sets} WHERE id = ?", (*state.values(), receiver))
            c.executemany(
                "INSERT INTO webhook_attempts (webhook, seq, msg, type, at, attempt, replay, "
                "status, ok, error, ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                attempts,
            )

    def attempts(
        self, receiver: int, failed_only: bool = False, limit: int = 100, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The delivery log of a receiver, newest first."""
        where = ["webhook = ?"]
        args: list[Any] = [receiver]
        if failed_only:
            where.append("ok = 0")
        if before is not None:
            where.append("id < ?")
            args.append(before)
        return self._query(
            "SELECT id, seq, msg, type, at, attempt, replay, status, ok, error, ms "
            f"FROM webhook_attempts WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )

    def prune(self, before: float, keep_attempts: int = 5000) -> None:
        """Forget messages every receiver has passed that are older than ``before``, and all
        but the newest delivery log lines of each receiver."""
        with self._tx() as c:
            low = c.execute(
                "SELECT min(min(cursor, coalesce(replay_next - 1, cursor))) FROM webhooks"
            ).fetchone()[0]
            if low is None:
                c.execute("DELETE FROM outbox WHERE at < ?", (before,))
            else:
                c.execute("DELETE FROM outbox WHERE at < ? AND seq <= ?", (before, low))
            c.execute(
                "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM (SELECT id, "
                "row_number() OVER (PARTITION BY webhook ORDER BY id DESC) AS n "
                "FROM webhook_attempts) WHERE n > ?) AND at < ?",
                (keep_attempts, before),
            )
