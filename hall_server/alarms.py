"""Alarms for the manager: a queue longer than its service's ``alarm_waiting``, or someone
waiting longer than its ``alarm_wait_min``.

An alarm is raised when a measure reaches its threshold and cleared when it falls back below;
between the two it stays one alarm (its peak is kept), so a queue hovering at the threshold does
not ring every second. Each alarm is logged in the ``alarms`` table with who acknowledged it,
and pushed live on the hub as ``{"type": "alarm", "state": "raised"|"cleared"|"acknowledged",
"alarm": {...}}``. Queue lengths change with events (the hall calls :meth:`Alarms.on_events`);
waits grow with time alone, so :meth:`Alarms.run` also checks periodically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from hall_server.core.engine import Event
from hall_server.core.errors import DomainError
from hall_server.hall import Hall
from hall_server.http.hub import Hub
from hall_server.store import alarms as store_alarms

log = logging.getLogger(__name__)


class Alarms:
    def __init__(self, hall: Hall, hub: Hub) -> None:
        self.hall = hall
        self.hub = hub
        self.store = hall.store
        self.open: dict[tuple[str, str], dict[str, Any]] = {
            (r["service"], r["kind"]): r for r in store_alarms.still_open(self.store)
        }

    # -- measuring -----------------------------------------------------------------------------

    def measures(self, service: str, now: float) -> dict[str, float]:
        """Queue length and the longest current wait (minutes) of one service."""
        q = self.hall.engine.queues[service]
        oldest = min((lane[0][0] for lane in (q.high, q.normal) if lane), default=now)
        return {"waiting": float(len(q)), "wait": max(0.0, now - oldest) / 60}

    def check(self) -> None:
        now = self.hall.clock()
        for s in self.hall.config.service:
            value = self.measures(s.code, now)
            for kind, threshold in (("waiting", s.alarm_waiting), ("wait", s.alarm_wait_min)):
                key = (s.code, kind)
                alarm = self.open.get(key)
                if threshold is None:
                    continue
                if value[kind] >= threshold and alarm is None:
                    self._raise(s.code, kind, value[kind], float(threshold), now)
                elif alarm is not None and value[kind] < threshold:
                    self._clear(key, now)
                elif alarm is not None:
                    alarm["value"] = round(value[kind], 1)
                    alarm["peak"] = max(alarm["peak"] or 0.0, alarm["value"])

    def on_events(self, events: Sequence[Event], hall: Hall) -> None:
        """A hall listener: queue lengths change only with events."""
        self.check()

    async def run(self, every: float = 15.0) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("alarm check failed")
            await asyncio.sleep(every)

    # -- the log -------------------------------------------------------------------------------

    def _raise(self, service: str, kind: str, value: float, threshold: float, now: float) -> None:
        row: dict[str, Any] = {
            "day": self.hall.day_of(now),
            "service": service,
            "kind": kind,
            "value": round(value, 1),
            "threshold": threshold,
            "raised_at": now,
            "peak": round(value, 1),
            "cleared_at": None,
            "acked_by": None,
            "acked_at": None,
        }
        row["id"] = store_alarms.insert(self.store, row)
        self.open[(service, kind)] = row
        self._publish("raised", row)

    def _clear(self, key: tuple[str, str], now: float) -> None:
        row = self.open.pop(key)
        row["cleared_at"] = now
        store_alarms.update(self.store, row["id"], {"cleared_at": now, "peak": row["peak"]})
        self._publish("cleared", row)

    def acknowledge(self, alarm_id: int, who: str) -> dict[str, Any]:
        row = store_alarms.by_id(self.store, alarm_id)
        if row is None:
            raise DomainError("not_found", "unknown_alarm", f"no alarm {alarm_id}")
        if row["acked_by"]:
            raise DomainError(
                "conflict", "already_acknowledged", f"alarm {alarm_id} was acknowledged already"
            )
        now = self.hall.clock()
        store_alarms.update(self.store, alarm_id, {"acked_by": who, "acked_at": now})
        row.update(acked_by=who, acked_at=now)
        live = self.open.get((row["service"], row["kind"]))
        if live is not None and live["id"] == alarm_id:
            live.update(acked_by=who, acked_at=now)
            row = live
        self._publish("acknowledged", row)
        return self.view(row)

    def list(self, day: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
        """The log of a day (newest first), or every alarm not yet cleared."""
        if open_only:
            rows = sorted(self.open.values(), key=lambda r: -r["raised_at"])
        else:
            rows = store_alarms.of_day(self.store, day)
            for r in rows:  # the live value and peak of alarms still open
                r.update(self.open.get((r["service"], r["kind"]), {}))
        return [self.view(r) for r in rows]

    def view(self, row: dict[str, Any]) -> dict[str, Any]:
        svc = self.hall.services.get(row["service"])
        return {
            "id": row["id"],
            "service": row["service"],
            "service_name": svc.name if svc else row["service"],
            "service_name_en": svc.name_en if svc else row["service"],
            "kind": row["kind"],
            "value": row["value"],
            "peak": row["peak"],
            "threshold": row["threshold"],
            "unit": "people" if row["kind"] == "waiting" else "min",
            "raised_at": self.hall.iso(row["raised_at"]),
            "cleared_at": self.hall.iso(row["cleared_at"]),
            "acked_by": row["acked_by"],
            "acked_at": self.hall.iso(row["acked_at"]),
        }

    def _publish(self, state: str, row: dict[str, Any]) -> None:
        self.hub.publish({"type": "alarm", "state": state, "alarm": self.view(row)})
