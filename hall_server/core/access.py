"""Who may do what: roles, ranked, and the principal a session stands for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    MANAGER = "manager"
    ADMIN = "admin"


RANK = {Role.STAFF: 1, Role.MANAGER: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    windows: tuple[str, ...]
    window: str | None

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    def may_act_on(self, window: str) -> bool:
        """Staff act on the window they logged in at; managers and admins on any."""
        if self.at_least(Role.MANAGER):
            return True
        return self.window == window
