"""Mainland mobile numbers a visitor types: what counts as one, and how it is shown.

A number is written many ways (``138 1234 5678``, ``138-1234-5678``, ``+86 13812345678``);
the hall keeps the 11 digits and shows them masked as people in China are used to seeing them
(``138****5678``: the carrier prefix and the last four, enough for the visitor to recognise
their own, too little to call anyone). The clear number is never put into an error message.
"""

from __future__ import annotations

import re

from hall_server.core.errors import DomainError

#: 11 digits, 1 first, a carrier's second digit (the one rule, shared with booking).
MOBILE = re.compile(r"^1[3-9]\d{9}$")
#: What a visitor may type: digits with spaces or dashes, an optional +86 / 0086 in front.
MAX_TYPED = 24
_SEPARATORS = re.compile(r"[\s\-()（）]")
_COUNTRY = re.compile(r"^(?:\+86|0086|86(?=1\d{10}$))")


def normalize_mobile(typed: str) -> str:
    """The 11 digits of a mainland mobile number, or a clear error (``invalid_phone``)."""
    if len(typed) > MAX_TYPED:
        raise DomainError("invalid", "invalid_phone", "a mobile number has 11 digits, 1 first")
    digits = _COUNTRY.sub("", _SEPARATORS.sub("", typed))
    if not MOBILE.match(digits):
        raise DomainError("invalid", "invalid_phone", "a mobile number has 11 digits, 1 first")
    return digits


def mask_mobile(number: str) -> str:
    """``138****5678``."""
    return number[:3] + "****" + number[-4:]
