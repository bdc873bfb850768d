"""Waiting-time estimates for the kiosk, the progress page and the boards.

The first estimator: people ahead, plus this visitor, times a service time learned from the
hall's own recent finishes (exponentially weighted, seeded from the configuration), divided by
the windows open for the service now. Answers are ranges because precision would be false.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import HallConfig
from .engine import Engine, Status, Ticket


@dataclass(frozen=True)
class Estimate:
    eta_s: int
    low_s: int
    high_s: int


class Estimator:
    alpha = 0.2

    def __init__(self, config: HallConfig) -> None:
        self.service_s = {s.code: s.mean_service_min * 60 for s in config.service}

    def observe(self, ticket: Ticket) -> None:
        """Learn from a finished ticket's service time."""
        if ticket.status is not Status.DONE or ticket.called_at is None:
            return
        if ticket.finished_at is None:
            return
        took = ticket.finished_at - (ticket.started_at or ticket.called_at)
        if 0 < took < 4 * 3600:
            old = self.service_s.get(ticket.service, took)
            self.service_s[ticket.service] = (1 - self.alpha) * old + self.alpha * took

    def for_position(self, engine: Engine, service: str, ahead: int) -> Estimate:
        windows = max(1, len(engine.open_windows(service)))
        mean = self.service_s.get(service, 480.0)
        eta = (ahead + 1) * mean / windows
        if ahead == 0 and windows:
            eta = mean / (2 * windows)
        return Estimate(round(eta), round(eta * 0.7), round(eta * 1.4 + 60))

    def for_ticket(self, engine: Engine, ticket: Ticket) -> Estimate | None:
        ahead = engine.position(ticket)
        if ahead is None:
            return None
        return self.for_position(engine, ticket.service, ahead)

    def for_new(self, engine: Engine, service: str) -> Estimate:
        return self.for_position(engine, service, engine.waiting(service))
