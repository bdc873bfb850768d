"""Domain errors: what a rule refuses, said once, with a code a catalog translates.

The core and the services raise these; the web layer alone turns them into HTTP answers
(``hall_server/http/errors.py``), by ``kind``. ``code`` is stable: clients key on it, and the
message catalogs translate it (``error.<code>`` in ``hall_server/i18n/*.toml``), so the answer's
``message`` is in the reader's language. ``message`` here is the English detail for logs;
``values`` become extra fields of the JSON answer (``until``, ``field``...); ``params`` and
``values`` fill the catalog's placeholders.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal[
    "invalid", "not_found", "conflict", "unauthorized", "forbidden", "too_many", "unavailable"
]


class DomainError(Exception):
    """A request the rules refuse."""

    def __init__(
        self,
        kind: Kind,
        code: str,
        message: str,
        *,
        params: dict[str, Any] | None = None,
        **values: Any,
    ) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.code = code
        self.message = message
        self.values = values
        self.params = params or {}
