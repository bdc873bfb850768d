"""Print jobs: one per ticket taken at a kiosk with a printer, kept in ``print_jobs``.

The ticket is valid whatever happens to its job. A job is sent once per attempt and the kiosk
acknowledges it; the states and the moves between them:

    queued -> printing -> done
    queued | printing -> failed          (the kiosk reports a reason, or never answers)
    done | failed -> queued              (a reprint: the next attempt of the same job)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from hall_server.core.errors import DomainError

JOB_STATES = ("queued", "printing", "done", "failed")
UNFINISHED = ("queued", "printing")


@dataclass
class Job:
    id: str
    day: str
    kiosk: str
    ticket_id: str
    number: str
    service: str
    payload: dict[str, Any]
    created_at: float
    updated_at: float
    state: str = "queued"
    reason: str = ""
    attempt: int = 1
    acked: int = 0  # the highest attempt the kiosk acknowledged
    printed_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED

    def row(self) -> dict[str, Any]:
        """The ``print_jobs`` row (attributes read directly: ``asdict`` deep-copies the payload,
        and a row is made at every move of every job)."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["payload"] = json.dumps(self.payload, ensure_ascii=False)
        return row


def check_reprint(job: Job, *, failed_only: bool, ticket_live: bool, kiosk_online: bool) -> None:
    """May this job be printed again now? A job still printing, or (for the ticket's holder,
    ``failed_only``) one that printed, may not; nor a ticket no longer in the queue, nor at a
    kiosk whose printer is not connected."""
    if not job.finished:
        raise DomainError("conflict", "job_in_progress", "this ticket is being printed")
    if failed_only and job.state != "failed":
        raise DomainError("conflict", "already_printed", "this ticket was printed")
    if not ticket_live:
        raise DomainError("conflict", "ticket_finished", "this ticket is no longer in the queue")
    if not kiosk_online:
        raise DomainError(
            "conflict",
            "kiosk_offline",
            f"kiosk {job.kiosk}'s printer is not connected",
            params={"kiosk": job.kiosk},
        )
