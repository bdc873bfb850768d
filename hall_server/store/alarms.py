"""The alarm log (``alarms``): raised, cleared, acknowledged."""

from __future__ import annotations

from typing import Any

from hall_server.store.db import Store


def still_open(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT * FROM alarms WHERE cleared_at IS NULL"))


def by_id(store: Store, alarm_id: int) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM alarms WHERE id = ?", [alarm_id]))
    return rows[0] if rows else None


def of_day(store: Store, day: str | None) -> list[dict[str, Any]]:
    """Newest first."""
    return list(store.db.query("SELECT * FROM alarms WHERE day = ? ORDER BY raised_at DESC", [day]))


def insert(store: Store, row: dict[str, Any]) -> int:
    with store.writing() as db:
        pk = db.table("alarms").insert(row).last_pk
    assert pk is not None  # an insert into a rowid table always has one
    return int(pk)


def update(store: Store, alarm_id: int, values: dict[str, Any]) -> None:
    with store.writing() as db:
        db.table("alarms").update(alarm_id, values)
