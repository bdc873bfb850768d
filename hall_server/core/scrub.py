"""Personal data a visitor typed into free text, hidden before the text leaves the hall.

A 差评's comment is free text, and people write what they would say at the counter: "请打
138 1234 5678 联系我", an ID number, an e-mail address. The manager's page inside the hall may
show the comment as typed; anything sent out (the 好差评 platform's record, webhooks) carries
:func:`scrub_comment` of it instead: mobile numbers as ``138****5678``, 18-character ID
numbers as ``110105********0012`` (the masks of ``phone.py`` and ``idnumber.py``, so a number
looks the same wherever the hall shows it), e-mail addresses and any other long run of digits
(a bank card, a 15-digit old ID number) as ``[已隐去]``.

Erring towards hiding: a ticket number or a date never has 11 digits in a row, a personal
number written with spaces is still found (``138 1234 5678``, ``+86-138-1234-5678``,
``110105 19491231 0012``), full-width digits (``１３８…``, typed with a Chinese IME) too.
"""

from __future__ import annotations

import re

from hall_server.core.idnumber import mask_id
from hall_server.core.phone import mask_mobile

#: What stands in for something that has no masked form of its own.
HIDDEN = "[已隐去]"

_D = "[0-9０-９]"
#: between the digits of one number: spaces (also full-width and no-break), dashes, dots
_S = "[ \u00a0\u3000\\-－–.]"
_NOT_AFTER_DIGIT = f"(?<!{_D})"
_NOT_BEFORE_DIGIT = f"(?!{_D})"
_ID = re.compile(
    f"{_NOT_AFTER_DIGIT}{_D}(?:{_S}?{_D}){{16}}{_S}?[0-9０-９XxＸｘ]{_NOT_BEFORE_DIGIT}"
)
_MOBILE = re.compile(
    f"{_NOT_AFTER_DIGIT}(?:[+＋]?(?:86|８６){_S}*)?[1１]{_S}?[3-9３-９](?:{_S}?{_D}){{9}}"
    f"{_NOT_BEFORE_DIGIT}"
)
_LONG_DIGITS = re.compile(f"{_D}{{11,}}")
#: ASCII only on both sides: ``\w`` would take the Chinese words around the address too
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s?[@＠]\s?[A-Za-z0-9\-]+(?:\s?[.。]\s?[A-Za-z0-9\-]+)+")
_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


def _plain(found: str) -> str:
    """The digits of a number as typed (separators gone, full-width made ASCII)."""
    return re.sub(_S, "", found).translate(_ASCII).upper()


def scrub_comment(text: str | None) -> str | None:
    """``text`` with every mobile number, ID number, e-mail address and long digit run
    hidden; ``None`` stays ``None``."""
    if text is None:
        return None
    text = _EMAIL.sub(HIDDEN, text)
    text = _ID.sub(lambda m: mask_id(_plain(m.group())), text)
    text = _MOBILE.sub(lambda m: mask_mobile(_plain(m.group())[-11:]), text)
    return _LONG_DIGITS.sub(HIDDEN, text)
