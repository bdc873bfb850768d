"""好差评: visitors rate the service they just had, managers follow up the bad ratings.

A rating comes from the window's evaluator pad (by ticket id, while the ticket is fresh) or
from the visitor's progress page (by the token on their paper). One rating per ticket. Levels
1 and 2 are 差评: they need a reason, and open a follow-up (open → contacted → resolved) due
within ``[ratings] followup_working_days`` working days. The rating belongs to the window that
served the ticket and to the clerk who finished it (or called it).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from hall_server.core.appointments import Calendar
from hall_server.core.errors import DomainError
from hall_server.hall import Hall

LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Fairly satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
BAD = 2
#: Reasons a visitor may give for a bad rating (the 好差评 system's usual list).
REASONS: dict[str, tuple[str, str]] = {
    "wait_long": ("排队等候时间长", "Waited too long"),
    "attitude": ("服务态度不好", "Unfriendly service"),
    "slow": ("办事效率低", "Slow handling"),
    "unclear": ("政策解释不清楚", "Rules not explained clearly"),
    "come_again": ("材料要求多、需要再跑一次", "Asked for more papers / to come again"),
    "not_done": ("事情没有办成", "Matter not resolved"),
    "facilities": ("环境设施不便", "Inconvenient facilities"),
    "other": ("其他", "Other"),
}
FOLLOWUP = ("open", "contacted", "resolved")


class Ratings:
    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.rules = hall.config.ratings
        self.calendar = Calendar(hall.config.appointments)

    # -- finding the ticket --------------------------------------------------------------------

    def _ticket(self, where: str, value: str) -> dict[str, Any] | None:
        rows = list(
            self.hall.store.db.query(
                "SELECT id, day, service, number, status, window, finished_at, finished_by, "
                f"called_by FROM tickets WHERE {where} = ? "
                "ORDER BY successor IS NOT NULL, enqueued_at DESC LIMIT 1",
                [value],
            )
        )
        return rows[0] if rows else None

    def _rated(self, ticket_id: str) -> dict[str, Any] | None:
        rows = list(
            self.hall.store.db.query("SELECT * FROM ratings WHERE ticket_id = ?", [ticket_id])
        )
        return rows[0] if rows else None

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
        """The evaluator pad's view: the ticket this window finished last, if it is fresh and
        not yet rated."""
        if window not in self.hall.windows_cfg:
            raise DomainError("not_found", "unknown_window", f"no window {window!r}")
        rows = self.hall.store.db.query(
            "SELECT id, day, service, number, status, window, finished_at, finished_by, "
            "called_by FROM tickets WHERE window = ? AND status = 'done' "
            "ORDER BY finished_at DESC LIMIT 1",
            [window],
        )
        t = next(iter(rows), None)
        ticket = None
        if t and self._open_for(t, self.rules.pad_show_min * 60) and not self._rated(t["id"]):
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
        }

    # -- rating ------------------------------------------------------------------------------

    async def rate(
        self,
        level: int,
        token: str | None = None,
        ticket_id: str | None = None,
        options: list[str] | None = None,
        comment: str | None = None,
    ) -> dict[str, Any]:
        if token:
            t, source = self._ticket("token", token), "progress"
            seconds = self.rules.holder_days * 86400.0
        elif ticket_id:
            t, source = self._ticket("id", ticket_id), "pad"
            seconds = self.rules.pad_show_min * 60.0
        else:
            raise DomainError("invalid", "missing_ticket", "give the ticket's token or its id")
        if t is None:
            raise DomainError("not_found", "unknown_ticket", "no such ticket")
        if t["status"] != "done":
            raise DomainError(
                "conflict", "not_finished", f"ticket {t['number']} has not been served"
            )
        if self._rated(t["id"]):
            raise DomainError("conflict", "already_rated", f"ticket {t['number']} has been rated")
        if not self._open_for(t, seconds):
            raise DomainError("conflict", "rating_closed", "this ticket can no longer be rated")
        options = list(dict.fromkeys(options or []))
        unknown = [o for o in options if o not in REASONS]
        if unknown:
            raise DomainError("invalid", "unknown_reason", f"unknown reason {unknown[0]!r}")
        bad = level <= BAD
        if bad and not options:
            raise DomainError("invalid", "reason_required", "a bad rating needs a reason")
        now = self.hall.clock()
        row = {
            "ticket_id": t["id"],
            "day": t["day"],
            "service": t["service"],
            "number": t["number"],
            "window": t["window"],
            "staff": t["finished_by"] or t["called_by"],
            "level": level,
            "options": json.dumps(options if bad else []),
            "comment": (comment or "").strip() or None,
            "source": source,
            "at": now,
            "followup": "open" if bad else None,
            "due_at": self.due(now) if bad else None,
        }
        rating_id = await asyncio.to_thread(self._insert, row)
        return self.view(self._get(rating_id))

    def _insert(self, row: dict[str, Any]) -> int:
        with self.hall.store.writing() as db:
            try:
                cur = db.execute(
                    f"INSERT INTO ratings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
            except sqlite3.IntegrityError:
                raise DomainError(
                    "conflict", "already_rated", "this ticket has been rated"
                ) from None
            return int(cur.lastrowid or 0)

    def due(self, at: float) -> float:
        """End of the n-th working day after the rating."""
        day = self.calendar.working_days_after(
            self.hall.local(at).date(), self.rules.followup_working_days
        )
        return datetime.combine(day, time(23, 59, 59), self.hall.tz).timestamp()

    # -- managers ----------------------------------------------------------------------------

    def _get(self, rating_id: int) -> dict[str, Any]:
        rows = list(self.hall.store.db.query("SELECT * FROM ratings WHERE id = ?", [rating_id]))
        if not rows:
            raise DomainError("not_found", "unknown_rating", f"no rating {rating_id}")
        return rows[0]

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
            "level_name": LEVELS[r["level"]][0],
            "level_name_en": LEVELS[r["level"]][1],
            "bad": r["level"] <= BAD,
            "options": options,
            "option_names": [REASONS[o][0] for o in options if o in REASONS],
            "comment": r["comment"],
            "source": r["source"],
            "at": self.hall.iso(r["at"]),
            "followup": r["followup"],
            "due_at": self.hall.iso(due),
            "overdue": bool(due and r["followup"] != "resolved" and self.hall.clock() > due),
            "followup_note": r["followup_note"],
            "followup_by": r["followup_by"],
            "followup_at": self.hall.iso(r["followup_at"]),
        }

    def listing(
        self,
        day_from: date | None,
        day_to: date | None,
        max_level: int = 5,
        followup: str | None = None,
        window: str | None = None,
    ) -> list[dict[str, Any]]:
        where, args = ["level <= ?"], [max_level]
        if day_from:
            where.append("day >= ?")
            args.append(day_from.isoformat())
        if day_to:
            where.append("day <= ?")
            args.append(day_to.isoformat())
        if followup:
            where.append("followup = ?")
            args.append(followup)
        if window:
            where.append("window = ?")
            args.append(window)
        rows = self.hall.store.db.query(
            f"SELECT * FROM ratings WHERE {' AND '.join(where)} ORDER BY at DESC", args
        )
        return [self.view(r) for r in rows]

    async def follow_up(
        self, rating_id: int, state: str, note: str | None, by: str
    ) -> dict[str, Any]:
        r = self._get(rating_id)
        if r["followup"] is None:
            raise DomainError(
                "conflict", "no_followup", "only bad ratings (levels 1-2) are followed up"
            )
        if FOLLOWUP.index(state) <= FOLLOWUP.index(r["followup"]):
            raise DomainError(
                "conflict",
                "invalid_followup",
                f"the follow-up is {r['followup']}: cannot go to {state}",
            )
        note = (note or "").strip() or None
        if state == "resolved" and not note:
            raise DomainError("invalid", "note_required", "say how it was resolved")

        def write() -> None:
            with self.hall.store.writing() as db:
                db.execute(
                    "UPDATE ratings SET followup = ?, followup_note = coalesce(?, followup_note), "
                    "followup_by = ?, followup_at = ? WHERE id = ?",
                    [state, note, by, self.hall.clock(), rating_id],
                )

        await asyncio.to_thread(write)
        return self.view(self._get(rating_id))


def satisfaction(
    db_path: str | Path,
    date_from: date | str,
    date_to: date | str,
    by: Literal["window", "staff", "service"] = "window",
) -> list[dict[str, Any]]:
    """Satisfaction per window, clerk or service over the days ``date_from``..``date_to``
    (inclusive), for reports. ``satisfaction_rate`` is the 好差评 满意率: the share of levels 3-5.
    Opens its own read-only connection: run it in a thread."""
    if by not in ("window", "staff", "service"):
        raise ValueError(f"cannot group ratings by {by!r}")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            f"SELECT {by}, level, count(*) FROM ratings WHERE day >= ? AND day <= ? "
            f"GROUP BY {by}, level",
            (str(date_from), str(date_to)),
        ).fetchall()
    finally:
        conn.close()
    groups: dict[str | None, dict[int, int]] = {}
    for key, level, n in rows:
        groups.setdefault(key, {})[level] = n
    out = []
    for key in sorted(groups, key=lambda k: (k is None, len(k or ""), k or "")):
        levels = groups[key]
        count = sum(levels.values())
        out.append(
            {
                by: key,
                "count": count,
                "mean_level": round(sum(lv * n for lv, n in levels.items()) / count, 2),
                "satisfaction_rate": round(
                    sum(n for lv, n in levels.items() if lv > BAD) / count, 4
                ),
                "bad": sum(n for lv, n in levels.items() if lv <= BAD),
                "levels": {str(lv): levels.get(lv, 0) for lv in LEVELS},
            }
        )
    return out
