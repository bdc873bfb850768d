"""The hall's side of the city network: push events and live state to the hub (``[network]``).

Theory of operation
-------------------
The hall's event log is the outbox. A background task reads the events after the last sequence
number the hub acknowledged (the *cursor*, kept in the hall's own SQLite ``meta``), sends them
in batches with the hall's push token, and moves the cursor only when the hub answers with an
acknowledgement: ``{"acked": N}`` means the hub holds every event of this hall up to ``N``. A
hub that is down, slow or killed mid-batch costs nothing but a retry, with a growing pause
(``BACKOFF_S``); the hub ingests idempotently (hall id + sequence number), so a batch sent twice
counts once. The task wakes when the hall's listeners hear new events (and at least every
``push_every_s``), so the city sees a ticket within a round trip. An acknowledgement below
the cursor means the hub lost events (restored from an
older backup): the cursor goes back and the hall sends them again. Nothing here is awaited by
issuing or calling: the task only reads the log.

Every few seconds the same task sends the live state (waiting per service, open windows,
longest wait, estimates, open now, catalog version) and the hall's *profile* (services with
their targets, windows, hours: what the hub needs to compute the hall's figures).

Nothing personal leaves the hall. Each event is rebuilt from :data:`OUTBOX_FIELDS`, a list of
the fields that may go, per event type (a whitelist: a field added to an event later stays
home until somebody adds it here on purpose). Names, identity hashes, ticket tokens,
appointment codes, kiosk and staff names are not in it. The hub applies the same list to what
it receives.

The hub also publishes the city's catalog of service items. When the hub's answer names a
newer version than the one this hall runs, the hall fetches it, checks it
(:func:`items_for`) and applies the items of its level to the services it has windows for; the
last good catalog is kept in ``meta`` and applied again at start, so a hall that cannot reach
the hub keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from .config import HallConfig, Item, NetworkConfig, Service
from .core.ratings import BAD
from .store import alarms as alarm_rows
from .store import ratings as rating_rows

if TYPE_CHECKING:
    from .hall import Hall

log = logging.getLogger(__name__)

#: Per event type, the fields that may leave the hall. Anything else stays home.
OUTBOX_FIELDS: Mapping[str, tuple[str, ...]] = {
    "day_opened": ("at", "day"),
    "day_closed": ("at", "day"),
    "ticket_issued": ("at", "ticket_id", "service"),
    "ticket_called": ("at", "ticket_id", "window"),
    "ticket_recalled": ("at", "ticket_id", "window"),
    "ticket_started": ("at", "ticket_id", "window"),
    "ticket_finished": ("at", "ticket_id", "window"),
    "ticket_no_show": ("at", "ticket_id", "window"),
    "ticket_transferred": ("at", "ticket_id", "window", "service", "successor_id"),
    "ticket_cancelled": ("at", "ticket_id"),
    "window_changed": ("at", "window", "status"),
}
#: What a rating may tell the hub (no comment, no staff member, no ticket).
RATING_FIELDS = ("id", "day", "service", "window", "level", "at")
CURSOR_KEY, RATINGS_CURSOR_KEY, CATALOG_KEY = "hub_cursor", "hub_ratings_cursor", "hub_catalog"
BACKOFF_S = (0.5, 1, 2, 5, 10, 30)
#: After the hall's first new event, wait this long for more before sending.
COALESCE_S = 0.05


def outbox_event(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The shareable part of one logged event (``None``: a type that never leaves)."""
    allowed = OUTBOX_FIELDS.get(str(data.get("type")))
    if allowed is None:
        return None
    return {"type": data["type"], **{k: data[k] for k in allowed if k in data}}


def outbox_rating(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in RATING_FIELDS if k in row}


class HubRefused(Exception):
    """The hub answered, but not with an acknowledgement (a wrong token, a hub in trouble)."""


class CatalogRejected(ValueError):
    """A catalog that cannot be applied; the message names the entry at fault."""


LEVELS = ("city", "town", "village")
_ITEM_KEYS = {"code": str, "name": str, "name_en": str, "service": str, "online": bool}


def check_catalog(catalog: Any) -> None:
    """Refuse a catalog with a malformed entry, a duplicate code, an item of a service it does
    not list or an unknown level. The hub checks before publishing, every hall before applying."""
    if not isinstance(catalog, Mapping):
        raise CatalogRejected("catalog: must be an object with services and items")
    services, items = catalog.get("services"), catalog.get("items")
    if not isinstance(services, list) or not isinstance(items, list):
        raise CatalogRejected("catalog: services and items must be lists")
    codes: set[str] = set()
    for i, s in enumerate(services):
        if not isinstance(s, Mapping):
            raise CatalogRejected(f"services[{i}]: must be an object")
        for key in ("code", "prefix", "name"):
            if not isinstance(s.get(key), str) or not s[key] or len(s[key]) > 200:
                raise CatalogRejected(f"services[{i}].{key}: a text of 1 to 200 characters")
        if s["code"] in codes:
            raise CatalogRejected(f"services[{i}].code: duplicate {s['code']!r}")
        codes.add(s["code"])
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, Mapping):
            raise CatalogRejected(f"{where}: must be an object")
        for key, kind in _ITEM_KEYS.items():
            value = item.get(key, "" if key == "name_en" else None)
            if not isinstance(value, kind) or (isinstance(value, str) and len(value) > 200):
                raise CatalogRejected(f"{where}.{key}: must be a {kind.__name__}")
        code = item["code"]
        if not code:
            raise CatalogRejected(f"{where}.code: empty")
        if code in seen:
            raise CatalogRejected(f"{where}.code: duplicate {code!r}")
        seen.add(code)
        if item["service"] not in codes:
            raise CatalogRejected(f"{where}.service: {code} names unknown service "
                                  f"{item['service']!r}")  # fmt: skip
        levels = item.get("levels")
        if not isinstance(levels, list) or not levels:
            raise CatalogRejected(f"{where}.levels: {code} needs a list of levels")
        for level in levels:
            if level not in LEVELS:
                raise CatalogRejected(f"{where}.levels: {code} has unknown level {level!r}")
        words = item.get("keywords", [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise CatalogRejected(f"{where}.keywords: {code} needs a list of texts")


def items_for(catalog: Mapping[str, Any], level: str, services: set[str]) -> dict[str, list[Item]]:
    """The catalog's items of this hall's level, per service it has windows for."""
    check_catalog(catalog)
    out: dict[str, list[Item]] = {code: [] for code in services}
    for item in catalog["items"]:
        if level in item["levels"] and item["service"] in services:
            entry = {k: item.get(k) for k in ("code", "name", "name_en", "online", "keywords")}
            entry["name_en"] = entry["name_en"] or ""
            entry["keywords"] = entry["keywords"] or []
            out[item["service"]].append(Item.model_validate(entry))
    return out


def hall_profile(config: HallConfig, services: Mapping[str, Service]) -> dict[str, Any]:
    """What the hub needs to compute a hall's figures as the hall does: its services with
    their targets and the items it applies (``services``: the configured ones, or as a catalog
    replaced their items), its windows, hours and time zone. Nothing about anybody."""
    c = config
    return {
        "hall": {
            "id": c.hall.id,
            "name": c.hall.name,
            "name_en": c.hall.name_en,
            "level": c.hall.level,
            "public_url": c.hall.public_url,
            "timezone": c.hall.timezone,
            "hours": list(c.hall.hours),
        },
        "service": [
            {
                "code": s.code,
                "prefix": s.prefix,
                "name": s.name,
                "name_en": s.name_en,
                "target_wait_min": s.target_wait_min,
                "items": [
                    {"code": i.code, "name": i.name, "name_en": i.name_en, "online": i.online}
                    for i in services[s.code].items
                ],
            }
            for s in c.service
        ],
        "window": [{"id": w.id, "name": w.name, "services": list(w.services)} for w in c.window],
    }


class Pusher:
    """Feeds the hub; one per hall, started and stopped with the app."""

    def __init__(self, hall: Hall, config: NetworkConfig, clock: Any = time.time) -> None:
        self.hall, self.config, self.clock = hall, config, clock
        self.base = config.hub.rstrip("/")
        self.token = config.read_token()
        self.cursor = int(hall.store.meta(CURSOR_KEY, "0") or 0)
        self.ratings_cursor = int(hall.store.meta(RATINGS_CURSOR_KEY, "0") or 0)
        self.catalog_version: int | None = None
        self.last_ok: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._state_due = 0.0
        self._wake = asyncio.Event()
        saved = hall.store.meta(CATALOG_KEY)
        if saved:
            with contextlib.suppress(CatalogRejected, ValueError):
                self._apply_catalog(json.loads(saved))

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.hall.listeners.append(self._on_events)
        self._task = asyncio.create_task(self._run(), name="hub-pusher")

    def _on_events(self, events: object, hall: object) -> None:
        """A hall listener: new events are on disk, push soon rather than at the next tick."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session:
            await self._session.close()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=30, connect=5),
        )
        failures = 0
        while True:
            try:
                more = await self.push_once()
                failures = 0
                if not more:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.config.push_every_s):
                            await self._wake.wait()
                    self._wake.clear()
                    await asyncio.sleep(COALESCE_S)  # a burst of tickets goes as one batch
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the hub is down, slow, or answered nonsense: later
                pause = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                if isinstance(e, aiohttp.ClientError | TimeoutError | HubRefused):
                    log.info("hub %s unreachable (%s); retrying in %s s", self.base, e, pause)
                else:  # a fault of ours: say so loudly, but never let it stop the hall
                    log.exception("pushing to the hub failed; retrying in %s s", pause)
                await asyncio.sleep(pause)

    # -- one round -------------------------------------------------------------------------------

    async def push_once(self) -> bool:
        """Send the next batch (and the state when due); True when more events wait."""
        store, limit = self.hall.store, self.config.batch
        rows = await asyncio.to_thread(store.events_after, self.cursor, limit)
        ratings = await asyncio.to_thread(store.ratings_after, self.ratings_cursor, limit)
        now = self.clock()
        send_state = now >= self._state_due or bool(rows)  # the dashboard sees changes at once
        if not rows and not ratings and not send_state:
            return False
        body: dict[str, Any] = {"hall": self.hall.config.hall.id, "events": []}
        for seq, day, data in rows:
            event = outbox_event(json.loads(data))
            # A type that never leaves still moves the cursor: the hub records its number.
            body["events"].append({"seq": seq, "day": day, **(event or {"type": "private"})})
        if ratings:
            body["ratings"] = [outbox_rating(r) for r in ratings]
        if send_state:
            body["state"] = self.state()
            body["profile"] = self.profile()
        answer = await self._post("/api/v1/ingest", body)
        acked = int(answer["acked"])
        if acked != self.cursor:  # below the cursor: the hub lost events (a restored backup)
            self.cursor = acked
            await asyncio.to_thread(store.set_meta, CURSOR_KEY, str(acked))
        if ratings:
            self.ratings_cursor = ratings[-1]["id"]
            await asyncio.to_thread(store.set_meta, RATINGS_CURSOR_KEY, str(self.ratings_cursor))
        if send_state:
            self._state_due = now + self.config.state_every_s
        self.last_ok = now
        published = answer.get("catalog_version")
        if published and published != self.catalog_version:
            await self._fetch_catalog()
        return len(rows) == limit

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.post(self.base + path, json=body) as r:
            if r.status != 200:
                raise HubRefused(f"hub answered {r.status}: {(await r.text())[:200]}")
            return dict(await r.json())

    async def _fetch_catalog(self) -> None:
        assert self._session is not None
        async with self._session.get(self.base + "/api/v1/catalog") as r:
            if r.status != 200:
                return
            catalog = await r.json()
        try:
            self._apply_catalog(catalog)
        except CatalogRejected as e:
            log.warning("catalog v%s from the hub not applied: %s", catalog.get("version"), e)
            return
        await asyncio.to_thread(
            self.hall.store.set_meta, CATALOG_KEY, json.dumps(catalog, ensure_ascii=False)
        )
        self._state_due = 0.0  # tell the hub at once which version now runs here

    def _apply_catalog(self, catalog: Mapping[str, Any]) -> None:
        hall = self.hall
        served = {s for w in hall.config.window for s in w.services}
        items = items_for(catalog, hall.config.hall.level, served)
        hall.services = {
            code: (s.model_copy(update={"items": items[code]}) if code in items else s)
            for code, s in hall.services.items()
        }
        self.catalog_version = int(catalog["version"])

    # -- what the hub is told --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The hall now, without a single ticket in it: queues, windows, bad ratings still to
        answer (差评 follow-ups, overdue ones), alarms not yet cleared."""
        hall, now = self.hall, self.clock()
        services, longest_all = [], 0.0
        for s in hall.services_view():
            waiting = hall.engine.waiting_tickets(s["code"])
            longest = max((now - t.issued_at for t in waiting), default=0.0)
            longest_all = max(longest_all, longest)
            services.append(
                {
                    "service": s["code"],
                    "waiting": s["waiting"],
                    "longest_wait_s": round(longest, 1),
                    "open_windows": len(hall.serving_windows(s["code"])),
                    "eta_s": s["eta_s"],
                    "open": s["open"],
                }
            )
        open_windows = len(hall.serving_windows())  # staffed, open, not paused
        pending = [
            r
            for state in ("open", "contacted")
            for r in rating_rows.listing(hall.store, None, None, BAD, state, None)
        ]
        return {
            "at": now,
            "day": hall.engine.day,
            "open_now": hall.is_open(),
            "waiting": sum(s["waiting"] for s in services),
            "open_windows": open_windows,
            "longest_wait_s": round(longest_all, 1),
            "catalog_version": self.catalog_version,
            "services": services,
            "followups": {
                "open": len(pending),
                "overdue": sum(1 for r in pending if r["due_at"] and r["due_at"] < now),
            },
            "alarms_open": len(alarm_rows.still_open(hall.store)),
        }

    def profile(self) -> dict[str, Any]:
        return hall_profile(self.hall.config, self.hall.services)
