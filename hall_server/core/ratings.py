"""好差评: visitors rate the service they just had, managers follow up the bad ratings.

A rating comes from the window's evaluator pad (by ticket id, while the ticket is fresh) or
from the visitor's progress page (by the token on their paper). One rating per ticket. Levels
1 and 2 are 差评: they need a reason, and open a follow-up (open → contacted → resolved) due
within ``[ratings] followup_working_days`` working days. The rating belongs to the window that
served the ticket and to the clerk who finished it (or called it).

A 差评 may carry a mobile number the visitor chose to leave, only so that the follow-up can
reach them: it is kept until the rating is marked contacted (or resolved), then erased (the
storage, sealing and retention are ``hall_server/ratings.py``'s; these are the rules).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hall_server.core.errors import DomainError

#: The five levels, best first (their names: ``rating.level.N`` in the catalogs).
LEVELS = (5, 4, 3, 2, 1)
BAD = 2
#: Reasons a visitor may give for a bad rating (the 好差评 system's usual list; their names:
#: ``rating.reason.CODE`` in the catalogs).
REASONS = (
    "wait_long",
    "attitude",
    "slow",
    "unclear",
    "come_again",
    "not_done",
    "facilities",
    "other",
)
#: A bad rating's follow-up moves forward only.
FOLLOWUP = ("open", "contacted", "resolved")


def check_rating(
    ticket: dict[str, Any] | None, rated: bool, still_open: bool, level: int, options: list[str]
) -> list[str]:
    """May this ticket be rated so; the reasons to keep (deduplicated, none for a good one)."""
    if ticket is None:
        raise DomainError("not_found", "unknown_ticket", "no such ticket")
    if ticket["status"] != "done":
        raise DomainError(
            "conflict",
            "not_finished",
            f"ticket {ticket['number']} has not been served",
            params={"number": ticket["number"]},
        )
    if rated:
        raise DomainError("conflict", "already_rated", f"ticket {ticket['number']} has been rated")
    if not still_open:
        raise DomainError("conflict", "rating_closed", "this ticket can no longer be rated")
    options = list(dict.fromkeys(options))
    unknown = [o for o in options if o not in REASONS]
    if unknown:
        raise DomainError("invalid", "unknown_reason", f"unknown reason {unknown[0]!r}")
    bad = level <= BAD
    if bad and not options:
        raise DomainError("invalid", "reason_required", "a bad rating needs a reason")
    return options if bad else []


def check_phone(level: int, phone: str | None) -> str | None:
    """The number typed to keep, if any: only a 差评 keeps one (it exists for the follow-up)."""
    if not phone:
        return None
    if level > BAD:
        raise DomainError(
            "invalid", "phone_only_bad", "a phone number is kept only with a bad rating (1-2)"
        )
    return phone


def erases_phone(state: str) -> bool:
    """The number has served its purpose once the visitor was reached (or the case closed)."""
    return FOLLOWUP.index(state) > FOLLOWUP.index("open")


def check_follow_up(current: str | None, state: str, note: str | None) -> None:
    """Follow-ups only move forward, and a resolution says how."""
    if current is None:
        raise DomainError(
            "conflict", "no_followup", "only bad ratings (levels 1-2) are followed up"
        )
    if FOLLOWUP.index(state) <= FOLLOWUP.index(current):
        raise DomainError(
            "conflict", "invalid_followup", f"the follow-up is {current}: cannot go to {state}"
        )
    if state == "resolved" and not note:
        raise DomainError("invalid", "note_required", "say how it was resolved")


def satisfaction_figures(rows: Iterable[tuple[Any, int, int]], by: str) -> list[dict[str, Any]]:
    """From (group, level, count): per group the count, mean level, 满意率 (the share of levels
    3-5), the bad ones and the count per level."""
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
