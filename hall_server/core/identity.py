"""From the fields of an ID card to what the hall may keep: a keyed hash, a masked name, an age.

The clear number is used here, in memory, and nowhere else: it is not stored, logged or sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hall_server.core import idnumber
from hall_server.core.errors import DomainError


@dataclass(frozen=True)
class Identity:
    hash: str
    name_masked: str
    age: int | None


class InvalidCard(DomainError):
    """A card whose data cannot stand for a person (a 422 to whoever sent it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("invalid", code, message)


_FOREIGN = re.compile(r"^[A-Z]{3}\d{12}$|^9\d{17}$")


def identity_from_card(card: dict[str, Any], key: bytes, today: date) -> Identity:
    """Accepts ``{"id_number", "name"}`` (resident cards and HK/Macau/Taiwan residence permits,
    both GB 11643) or ``{"card_type": "I", "id_number", "name", "birth": "YYYYMMDD"}``."""
    number = idnumber.normalize(str(card.get("id_number") or card.get("number") or ""))
    name = str(card.get("name") or card.get("name_zh") or "").strip()
    if not number:
        raise InvalidCard("missing_id_number", "id_card.id_number is required")
    if card.get("card_type") == "I":
        if not _FOREIGN.match(number):
            raise InvalidCard("invalid_id_number", "not a permanent residence card number")
        birth = str(card.get("birth") or "")
        try:
            born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
            age: int | None = idnumber.age_on(born, today)
        except ValueError:
            age = None
    else:
        if not idnumber.is_valid(number):
            raise InvalidCard(
                "invalid_id_number", "the ID number is not valid (GB 11643 check digit)"
            )
        age = idnumber.age_on(idnumber.birth_date(number), today)
    return Identity(idnumber.identity_hash(number, key), idnumber.mask_name(name), age)
