"""The hub's store on both engines: idempotent ingest, schema made and migrated, the catalog."""

from __future__ import annotations

import asyncio
import random
from contextlib import AbstractAsyncContextManager
from datetime import date

import pytest

from city_hub import figures
from city_hub.fold import Logged
from city_hub.store import Hall, HubStore, SchemaTooNew, Tx, open_store

DAY = "2026-11-30"


def ev(seq: int, type_: str, at: float, **data: str) -> Logged:
    return Logged(seq, DAY, type_, at, {"type": type_, "at": at, **data})


def a_day() -> list[Logged]:
    """Open, four visitors: served, no-show, transferred then served, still waiting; closed."""
    out = [ev(1, "day_opened", 0.0, day=DAY)]
    for i in range(4):
        out.append(ev(len(out) + 1, "ticket_issued", 10.0 + i, ticket_id=f"t{i}", service="a"))
    steps = [
        ("ticket_called", 20.0, {"ticket_id": "t0", "window": "1"}),
        ("ticket_started", 25.0, {"ticket_id": "t0", "window": "1"}),
        ("ticket_finished", 80.0, {"ticket_id": "t0", "window": "1"}),
        ("ticket_called", 81.0, {"ticket_id": "t1", "window": "1"}),
        ("ticket_recalled", 90.0, {"ticket_id": "t1", "window": "1"}),
        ("ticket_no_show", 100.0, {"ticket_id": "t1", "window": "1"}),
        ("ticket_called", 101.0, {"ticket_id": "t2", "window": "2"}),
        ("ticket_transferred", 130.0,
         {"ticket_id": "t2", "window": "2", "service": "b", "successor_id": "t2b"}),
        ("ticket_called", 140.0, {"ticket_id": "t2b", "window": "1"}),
        ("ticket_finished", 200.0, {"ticket_id": "t2b", "window": "1"}),
        ("day_closed", 900.0, {"day": DAY}),
    ]  # fmt: skip
    for type_, at, data in steps:
        out.append(ev(len(out) + 1, type_, at, **data))
    return out


PROFILE = {
    "hall": {"id": "h", "name": "H", "level": "town", "timezone": "Asia/Shanghai",
             "hours": ["00:00-24:00"]},
    "service": [{"code": c, "prefix": c.upper(), "name": c, "name_en": "", "target_wait_min": 30,
                 "items": []} for c in "ab"],
    "window": [{"id": "1", "name": "", "services": ["a", "b"]},
               {"id": "2", "name": "", "services": ["b", "a"]}],
}  # fmt: skip


async def windows(store: HubStore, hall: str) -> list[dict]:
    """The hall's per-window figures of the day on the hub."""
    await store.save_state(hall, None, PROFILE, 1.0)
    row = next(h for h in await store.halls() if h["id"] == hall)
    return await figures.windows(store, row, date.fromisoformat(DAY))


EXPECTED = [
    {"window": "1", "served": 2, "no_show": 1, "called": 3, "wait_mean_s": 40.0,
     "wait_p50_s": 10.0, "wait_p90_s": 70.0, "wait_max_s": 70.0, "service_mean_s": 57.5},
    {"window": "2", "served": 0, "no_show": 0, "called": 1, "wait_mean_s": 89.0,
     "wait_p50_s": 89.0, "wait_p90_s": 89.0, "wait_max_s": 89.0, "service_mean_s": None},
]  # fmt: skip


async def test_batches_repeated_and_reordered_count_once(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        await store.add_hall(Hall("h", "H", "town"), "hash-h", 0.0)
        day = a_day()
        batches = [day[i : i + 3] for i in range(0, len(day), 3)]
        order = batches[::-1] + batches[1::2] + random.Random(7).sample(batches, len(batches))
        acks = [await store.ingest("h", b, 1.0) for b in order]
        assert acks[-1] == len(day)
        assert acks[0] == 0  # the last batch alone waits for the ones before it
        assert await windows(store, "h") == EXPECTED
        rows = (await store.day_rows("h", DAY, DAY))[DAY]
        statuses = sorted(r[4] for r in rows)
        assert statuses == ["done", "done", "expired", "no_show", "transferred"]
    finally:
        await store.close()


async def test_a_batch_in_order_is_acknowledged_whole(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        await store.add_hall(Hall("h", "H", "town"), "hash-h", 0.0)
        assert await store.ingest("h", a_day(), 1.0) == len(a_day())
        assert await store.ingest("h", a_day(), 2.0) == len(a_day())  # again: nothing new
        assert await windows(store, "h") == EXPECTED
        assert (await store.halls())[0]["applied_seq"] == len(a_day())
    finally:
        await store.close()


async def test_halls_are_kept_apart(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        for h in ("x", "y"):
            await store.add_hall(Hall(h, h.upper(), "village", parent="t"), f"hash-{h}", 0.0)
        await store.ingest("x", a_day(), 1.0)
        assert await windows(store, "y") == []
        assert await store.hall_of_token("hash-y") == "y"
    finally:
        await store.close()


async def test_a_new_token_replaces_the_old(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        await store.add_hall(Hall("h", "H", "town"), "old", 0.0)
        await store.add_hall(Hall("h", "H2", "town", lat=23.0, lon=113.0), "new", 0.0)
        assert await store.hall_of_token("old") is None
        assert await store.hall_of_token("new") == "h"
        assert (await store.halls())[0]["name"] == "H2"
    finally:
        await store.close()


async def test_schema_made_once_and_kept_on_reopening(hub_db: str) -> None:
    store = await open_store(hub_db)
    await store.add_hall(Hall("h", "H", "town"), "t", 0.0)
    await store.close()
    store = await open_store(hub_db)  # migrations already run: nothing to do, nothing lost
    try:
        assert [h["id"] for h in await store.halls()] == ["h"]
    finally:
        await store.close()


async def test_a_newer_schema_is_refused(hub_db: str) -> None:
    store = await open_store(hub_db)
    async with store.transaction() as tx:  # a hub from the future was here
        conn = getattr(tx, "c", None)
        if conn is not None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (99)")
        else:
            await store._run(store.conn.execute, "INSERT INTO schema_version VALUES (99)")  # type: ignore[attr-defined]
    await store.close()
    with pytest.raises(SchemaTooNew):
        await open_store(hub_db)


async def test_catalog_versions_count_up(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        assert await store.catalog() is None
        assert await store.publish_catalog({"services": [], "items": []}, "city", 1.0) == 1
        assert await store.publish_catalog({"services": [], "items": [1]}, "city", 2.0) == 2
        assert await store.catalog() == (2, {"services": [], "items": [1]})
    finally:
        await store.close()


async def test_many_halls_pushing_at_once_each_count_once_and_a_failing_push_alone_is_undone(
    hub_db: str,
) -> None:
    store = await open_store(hub_db)
    try:
        halls = [f"h{i}" for i in range(12)]
        for h in [*halls, "hx"]:
            await store.add_hall(Hall(h, h, "village"), f"hash-{h}", 0.0)
        day = a_day()
        broken = [ev(1, "ticket_issued", 1.0, ticket_id="x")]  # no service: the fold fails
        pushes = [
            store.ingest(h, day[i : i + 2], 1.0) for i in range(0, len(day), 2) for h in halls
        ]
        results = await asyncio.gather(*pushes, store.ingest("hx", broken, 1.0),
                                       return_exceptions=True)  # fmt: skip
        assert isinstance(results[-1], KeyError)
        assert not any(isinstance(r, BaseException) for r in results[:-1])
        for h in halls:
            assert await windows(store, h) == EXPECTED
        assert {h["id"]: h["applied_seq"] for h in await store.halls()}["hx"] == 0
    finally:
        await store.close()


async def test_pushes_arriving_together_share_a_transaction_and_each_hall_keeps_its_order(
    hub_db: str,
) -> None:
    """Group commit on both engines: 40 halls pushing a day in 7 batches each, all at once,
    are written in a handful of transactions (not 280), each hall's batches in order."""
    store = await open_store(hub_db)
    opened = 0
    real = store.transaction

    def counted() -> AbstractAsyncContextManager[Tx]:
        nonlocal opened
        opened += 1
        return real()

    store.transaction = counted  # type: ignore[method-assign]
    try:
        halls = [f"h{i:02d}" for i in range(40)]
        for h in halls:
            await store.add_hall(Hall(h, h, "village"), f"hash-{h}", 0.0)
        day = a_day()
        batches = [day[i : i + 2] for i in range(0, len(day), 2)]
        acks = await asyncio.gather(*(store.ingest(h, b, 1.0) for b in batches for h in halls))
        assert acks == [b[-1].seq for b in batches for _ in halls]
        assert opened <= 2 * len(batches)  # a group per batch, give or take the first push
        for h in halls:
            assert await windows(store, h) == EXPECTED
    finally:
        await store.close()


async def test_ended_sessions_are_deleted_and_live_ones_kept(hub_db: str) -> None:
    store = await open_store(hub_db)
    try:
        await store.add_user("city", "hash", "city", None, 0.0)
        for token, expires_at in [("ended", 100.0), ("just-ended", 200.0), ("live", 300.0)]:
            await store.add_session(token, "city", expires_at)
        assert await store.drop_expired_sessions(200.0) == 2
        assert await store.drop_expired_sessions(200.0) == 0
        assert await store.session_user("ended", 150.0) is None  # gone, not merely refused
        assert (await store.session_user("live", 250.0) or {}).get("username") == "city"
    finally:
        await store.close()
