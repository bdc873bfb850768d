"""Domain errors: what a rule refuses, said once, with a code a catalog translates.

The core and the services raise these; the web layer alone turns them into HTTP answers
(``hall_server/http/errors.py``), by ``kind``. ``code`` is stable (clients and the message
catalogs key on it); ``message`` is the English detail for logs and developers; ``values``
fill the catalog's placeholders and the extra fields of the JSON answer.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal[
    "invalid", "not_found", "conflict", "unauthorized", "forbidden", "too_many", "unavailable"
]


class DomainError(Exception):
    """A request the rules refuse."""

    def __init__(self, kind: Kind, code: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.code = code
        self.message = message
        self.values = values
