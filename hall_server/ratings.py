"""好差评 over the hall and its store: rating a served ticket, the window's pad, managers'
listing and follow-up. The rules are in ``core/ratings.py`` (read its docstring first); the
SQL in ``store/ratings.py``.

A 差评 may carry the visitor's mobile number so that the follow-up (标记已联系) can reach them.
It must be callable back, so it cannot be hashed: it is sealed (``guard/phone_box.py``, a key
derived from the identity key), shown masked (138****5678) everywhere, opened only by
:meth:`Ratings.reveal_phone` for a manager (each opening audited: who, when), and erased when
the rating is marked contacted or resolved, or after ``[ratings] phone_keep_days``
(:meth:`Ratings.sweep_phones`). It never goes to webhooks, the 好差评 platform or the city hub:
those read ``ratings`` through their own field lists, and the number is not in that table."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from hall_server.core.appointments import Calendar
from hall_server.core.errors import DomainError
from hall_server.core.phone import mask_mobile, normalize_mobile
from hall_server.core.ratings import (
    BAD,
    REASONS,
    check_follow_up,
    check_phone,
    check_rating,
    erases_phone,
    satisfaction_figures,
)
from hall_server.guard.phone_box import PhoneBox, Unreadable
from hall_server.hall import Hall
from hall_server.i18n import translator
from hall_server.store import ratings as store

ZH, EN = translator("zh"), translator("en")


class Ratings:
    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.rules = hall.config.ratings
        self.calendar = Calendar(hall.config.appointments)
        self.phones = PhoneBox(hall.identity_key)
        #: An erasure whose WAL could not be emptied yet (a long reader): the sweep retries.
        self._wal_pending = False

    # -- finding the ticket --------------------------------------------------------------------

    def _ticket(self, where: str, value: str) -> dict[str, Any] | None:
        return store.ticket_by(self.hall.store, where, value)

    def _rated(self, ticket_id: str) -> dict[str, Any] | None:
        return store.of_ticket(self.hall.store, ticket_id)

    def for_token(self, token: str) -> dict[str, Any]:
        """For the progress page: may this visitor still rate, or how did they rate."""
        t = self._ticket("token", token)
        if t is None:
            raise DomainError("not_found", "unknown_ticket", "no ticket has this token")
        r = self._rated(t["id"])
        return {
            "rateable": r is None and self._open_for(t, self.rules.holder_days * 86400.0),
            "rated": r is not None,
            "level": r["level"] if r else None,
        }

    def _open_for(self, t: dict[str, Any], seconds: float) -> bool:
        return (
            t["status"] == "done"
            and t["finished_at"] is not None
            and self.hall.clock() - t["finished_at"] <= seconds
        )

    def pad(self, window: str) -> dict[str, Any]:
        """The evaluator pad's view: the ticket this window finished last, if it is fresh, not
        yet rated (on the pad or the holder's phone) and nobody has been called since: the pad
        never asks the visitor now at the counter about the one before (``serving`` names who
        is at the counter instead)."""
        if window not in self.hall.windows_cfg:
            raise DomainError(
                "not_found", "unknown_window", f"no window {window!r}", params={"window": window}
            )
        current = self.hall.engine.current(window)
        t = store.last_done_at(self.hall.store, window)
        ticket = None
        if (
            current is None
            and t
            and self._open_for(t, self.rules.pad_show_min * 60)
            and not self._rated(t["id"])
        ):
            svc = self.hall.services[t["service"]]
            ticket = {
                "id": t["id"],
                "number": t["number"],
                "service_name": svc.name,
                "service_name_en": svc.name_en,
                "finished_at": self.hall.iso(t["finished_at"]),
            }
        return {
            "window": window,
            "window_name": self.hall.windows_cfg[window].label,
            "ticket": ticket,
            "serving": current.number if current else None,
        }

    # -- rating ------------------------------------------------------------------------------

    async def rate(
        self,
        level: int,
        token: str | None = None,
        ticket_id: str | None = None,
        options: list[str] | None = None,
        comment: str | None = None,
        pad_window: str | None = None,
        phone: str | None = None,
    ) -> dict[str, Any]:
        """By the holder's `token`, or by `ticket_id` from the pad of `pad_window`, which must
        be the window that served the ticket (a bare id proves nothing). `phone`: with a 差评,
        the number the visitor left for the follow-up (kept sealed)."""
        if token:
            t, source = self._ticket("token", token), "progress"
            seconds = self.rules.holder_days * 86400.0
        elif ticket_id:
            t, source = self._ticket("id", ticket_id), "pad"
            seconds = self.rules.pad_show_min * 60.0
        else:
            raise DomainError("invalid", "missing_ticket", "give the ticket's token or its id")
        if source == "pad" and t is not None and t["window"] != pad_window:
            raise DomainError(
                "forbidden", "not_this_window", "a pad rates only its own window's tickets"
            )
        rated = t is not None and self._rated(t["id"]) is not None
        still_open = t is not None and self._open_for(t, seconds)
        options = check_rating(t, rated, still_open, level, options or [])
        assert t is not None
        typed = check_phone(level, phone)
        number = normalize_mobile(typed) if typed else None
        bad = level <= BAD
        now = self.hall.clock()
        row = {
            "ticket_id": t["id"],
            "day": t["day"],
            "service": t["service"],
            "number": t["number"],
            "window": t["window"],
            "staff": t["finished_by"] or t["called_by"],
            "level": level,
            "options": json.dumps(options),
            "comment": (comment or "").strip() or None,
            "source": source,
            "at": now,
            "followup": "open" if bad else None,
            "due_at": self.due(now) if bad else None,
        }
        sealed = None
        if number is not None:
            sealed = (self.phones.seal(number, t["id"]), mask_mobile(number))
        rating_id = await asyncio.to_thread(store.insert, self.hall.store, row, sealed)
        return self.view(self._get(rating_id))

    def due(self, at: float) -> float:
        """End of the n-th working day after the rating."""
        day = self.calendar.working_days_after(
            self.hall.local(at).date(), self.rules.followup_working_days
        )
        return datetime.combine(day, time(23, 59, 59), self.hall.tz).timestamp()

    # -- managers ----------------------------------------------------------------------------

    def _get(self, rating_id: int) -> dict[str, Any]:
        row = store.by_id(self.hall.store, rating_id)
        if row is None:
            raise DomainError("not_found", "unknown_rating", f"no rating {rating_id}")
        return row

    def view(self, r: dict[str, Any]) -> dict[str, Any]:
        svc = self.hall.services.get(r["service"])
        options = json.loads(r["options"] or "[]")
        due = r["due_at"]
        return {
            "id": r["id"],
            "ticket": r["ticket_id"],
            "number": r["number"],
            "day": r["day"],
            "service": r["service"],
            "service_name": svc.name if svc else r["service"],
            "window": r["window"],
            "staff": r["staff"],
            "level": r["level"],
            "level_name": ZH(f"rating.level.{r['level']}"),
            "level_name_en": EN(f"rating.level.{r['level']}"),
            "bad": r["level"] <= BAD,
            "options": options,
            "option_names": [ZH(f"rating.reason.{o}") for o in options if o in REASONS],
            "comment": r["comment"],
            "source": r["source"],
            "at": self.hall.iso(r["at"]),
            "followup": r["followup"],
            "due_at": self.hall.iso(due),
            "overdue": bool(due and r["followup"] != "resolved" and self.hall.clock() > due),
            "followup_note": r["followup_note"],
            "followup_by": r["followup_by"],
            "followup_at": self.hall.iso(r["followup_at"]),
            "phone_masked": r.get("phone_masked"),
            "phone_erased_at": self.hall.iso(r.get("phone_erased_at")),
        }

    def managed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`view` for a manager: also who revealed the phone number and when
        (``phone_reveals``, from the audit log; never the number). The visitor's own answer
        does not carry it."""
        reveals = store.reveals_of(self.hall.store, [r["id"] for r in rows])
        return [
            {
                **self.view(r),
                "phone_reveals": [
                    {"by": a["actor"], "at": self.hall.iso(a["at"])} for a in reveals[r["id"]]
                ],
            }
            for r in rows
        ]

    def one(self, rating_id: int) -> dict[str, Any]:
        """One rating as a manager sees it."""
        return self.managed([self._get(rating_id)])[0]

    def listing(
        self,
        day_from: date | None,
        day_to: date | None,
        max_level: int = 5,
        followup: str | None = None,
        window: str | None = None,
    ) -> list[dict[str, Any]]:
        rows = store.listing(self.hall.store, day_from, day_to, max_level, followup, window)
        return self.managed(rows)

    async def follow_up(
        self, rating_id: int, state: str, note: str | None, by: str
    ) -> dict[str, Any]:
        r = self._get(rating_id)
        note = (note or "").strip() or None
        check_follow_up(r["followup"], state, note)
        erased = await asyncio.to_thread(
            store.set_followup,
            self.hall.store,
            rating_id,
            state,
            note,
            by,
            self.hall.clock(),
            erases_phone(state),
        )
        if erased:
            await self._empty_wal()
        return self.one(rating_id)

    async def _empty_wal(self) -> None:
        self._wal_pending = not await asyncio.to_thread(store.empty_wal, self.hall.store)

    async def reveal_phone(self, rating_id: int, by: str) -> dict[str, Any]:
        """The full number, for the manager `by` about to call; the opening is audited first
        (an opening that cannot be recorded does not happen)."""
        r = self._get(rating_id)
        sealed = store.sealed_phone(self.hall.store, rating_id)
        if sealed is None:
            if r.get("phone_erased_at") is not None:
                raise DomainError(
                    "conflict", "phone_erased", "the number was erased after the follow-up"
                )
            raise DomainError("not_found", "no_phone", "the visitor left no phone number")
        now = self.hall.clock()
        await asyncio.to_thread(
            store.audit, self.hall.store, now, by, "phone_revealed", f"rating:{rating_id}", ""
        )
        try:
            number = self.phones.open(sealed, r["ticket_id"])
        except Unreadable:
            raise DomainError(
                "conflict", "phone_unreadable", "the number does not open with this hall's key"
            ) from None
        return {
            "rating": rating_id,
            "phone": number,
            "phone_masked": mask_mobile(number),
            "revealed_by": by,
            "revealed_at": self.hall.iso(now),
        }

    def phone_audit(self, rating_id: int) -> list[dict[str, Any]]:
        """Who opened or erased this rating's number, and when."""
        return [
            {**a, "at": self.hall.iso(a["at"])}
            for a in store.audit_of(self.hall.store, f"rating:{rating_id}")
        ]

    async def sweep_phones(self) -> int:
        """Erase the numbers kept longer than ``phone_keep_days`` (nobody marked the rating
        contacted); returns how many."""
        now = self.hall.clock()
        before = now - self.rules.phone_keep_days * 86400.0
        n = await asyncio.to_thread(store.erase_phones_kept_since, self.hall.store, before, now)
        if n or self._wal_pending:
            await self._empty_wal()
        return n


def satisfaction(
    db_path: str | Path,
    date_from: date | str,
    date_to: date | str,
    by: Literal["window", "staff", "service"] = "window",
) -> list[dict[str, Any]]:
    """Satisfaction per window, clerk or service over the days ``date_from``..``date_to``
    (inclusive), for reports. Opens its own read-only connection: run it in a thread."""
    return satisfaction_figures(store.level_counts(db_path, date_from, date_to, by), by)
