"""Schema history. Each function moves the database one version forward; never edit a released
one, append a new one. ``PRAGMA user_version`` records how many have run."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database


def v1_core(db: Database) -> None:
    db["events"].create({"seq": int, "day": str, "at": float, "type": str, "data": str}, pk="seq")
    db["events"].create_index(["day"])
    db["tickets"].create(
        {
            "id": str,
            "day": str,
            "service": str,
            "number": str,
            "priority": str,
            "status": str,
            "issued_at": float,
            "enqueued_at": float,
            "called_at": float,
            "started_at": float,
            "finished_at": float,
            "window": str,
            "kiosk": str,
            "token": str,
            "recalls": int,
            "called_by": str,
            "finished_by": str,
            "predecessor": str,
            "successor": str,
            "identity": str,
            "name_masked": str,
            "appointment": str,
        },
        pk="id",
    )
    db["tickets"].create_index(["day", "service"])
    db["tickets"].create_index(["token"])
    db["tickets"].create_index(["issued_at"])
    db["users"].create(
        {
            "username": str,
            "password_hash": str,
            "role": str,
            "windows": str,
            "display_name": str,
            "created_at": float,
        },
        pk="username",
    )
    db["sessions"].create(
        {
            "token_hash": str,
            "username": str,
            "window": str,
            "created_at": float,
            "expires_at": float,
        },
        pk="token_hash",
    )
    db["meta"].create({"key": str, "value": str}, pk="key")


MIGRATIONS: list[Callable[[Database], None]] = [v1_core]
