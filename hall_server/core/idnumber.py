"""Citizen ID numbers (GB 11643): check digit, birth date, age, masking and keyed hashing.

The hall must recognise a returning visitor and grant age-based priority without ever storing
or sending the clear number, so everything outside the kiosk works from `identity_hash` (a
keyed HMAC: an unkeyed hash of an 18-digit number with a date inside is brute-forced in
minutes) and the masked forms used for display.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def normalize(id_number: str) -> str:
    """Strip spaces and upper-case a trailing `x`, as visitors and some readers write it."""
    return id_number.strip().replace(" ", "").upper()


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def birth_date(id_number: str) -> date:
    """Birth date encoded in digits 7-14; raises ValueError when it is not a real date."""
    number = normalize(id_number)
    if len(number) != 18:
        raise ValueError("need an 18-character number")
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def has_valid_check_digit(id_number: str) -> bool:
    """True when the number is 17 digits plus a matching MOD 11-2 check character."""
    number = normalize(id_number)
    return bool(_ID_RE.match(number)) and check_digit(number[:17]) == number[17]


def is_valid(id_number: str) -> bool:
    """True for a number with a correct check character and a real birth date."""
    if not has_valid_check_digit(id_number):
        return False
    try:
        birth_date(id_number)
    except ValueError:
        return False
    return True


def age_on(born: date, today: date) -> int:
    """Completed years on `today` (a 29 February birthday counts on 1 March in other years)."""
    before_birthday = (today.month, today.day) < (born.month, born.day)
    return today.year - born.year - before_birthday


def age(id_number: str, today: date) -> int:
    """Age in completed years of the holder of `id_number` (the caller knows the day: the
    core reads no clock)."""
    return age_on(birth_date(id_number), today)


def mask_name(name: str) -> str:
    """Keep the first and last character: "张三丰" -> "张*丰", "张三" -> "张*"."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id(id_number: str) -> str:
    """Hide the middle of a number: "11010519491231002X" -> "110105********002X"."""
    number = normalize(id_number)
    if len(number) > 10:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    return "*" * max(len(number) - 2, 0) + number[-2:]


def identity_hash(id_number: str, key: bytes | str) -> str:
    """HMAC-SHA256 hex of the normalised number, so the hall can match a person without it."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise ValueError("identity_hash needs a non-empty secret key")
    return hmac.new(key, normalize(id_number).encode("utf-8"), hashlib.sha256).hexdigest()
