"""SAM frame codec for second-generation ID card readers (二代身份证阅读器). No I/O.

Theory of operation
-------------------
Host and reader exchange frames of one shape in both directions: the preamble
``AA AA AA 96 69``, a big-endian LEN counting every byte after it, the body, and a checksum
byte that XORs everything from LEN's high byte to the end of the body. A host body is
``CMD PARA DATA``; a reader body is ``SW1 SW2 SW3 DATA`` where SW3 is the status (`Status`).

Serial lines deliver bytes in arbitrary chunks and sometimes deliver noise, so parsing is a
state machine in the style of h11: `FrameParser.feed` takes whatever the port returned and
hands back the events it completed: a frame, `Garbage` (bytes skipped while hunting for the
next preamble) or `ChecksumError` (a whole frame that failed its checksum; it is dropped and
parsing carries on after it). It never blocks and never raises on bad input, so a driver is
just "write `command_frame(...)`, feed reads to the parser until a reply or a deadline".

Reading a card is find -> select -> read. The read reply carries a 256-byte text block
(UCS-2 little-endian, space padded) and a 1024-byte photo in a vendor format (WLT) that only
a closed decoder understands, so the photo is kept as opaque bytes. `parse_text` turns the
text block into a `Card` for the three card types the reader reports; `encode_text` is its
inverse, used by the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum
from typing import Generic, TypeVar

from hall_server.core import idnumber

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2
MAX_LEN = 0x1000  # text + photo + a 1 KiB fingerprint fits well below this
TEXT_LEN = 256
PHOTO_LEN = 1024


class Op(IntEnum):
    """Host commands as ``CMD << 8 | PARA``."""

    RESET_SAM = 0x10FF
    SAM_STATUS = 0x11FF
    READ_SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_TEXT_PHOTO = 0x3001
    READ_EXTRA_ADDRESS = 0x3003
    READ_TEXT_PHOTO_FINGERPRINT = 0x3010


class Status(IntEnum):
    """SW3 values a reader answers with."""

    SUCCESS = 0x90
    CARD_FOUND = 0x9F
    NO_CONTENT = 0x91
    HOST_CHECKSUM_ERROR = 0x10
    HOST_LENGTH_ERROR = 0x11
    HOST_COMMAND_ERROR = 0x21
    UNAUTHORISED = 0x23
    UNRECOGNISED_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VALIDATION_ERROR = 0x33
    WRONG_CARD_TYPE = 0x40
    CARD_READ_FAILED = 0x41
    RANDOM_NUMBER_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81


def status_text(sw3: int) -> str:
    """Readable name of a status byte, also for values outside the table."""
    try:
        return Status(sw3).name.lower()
    except ValueError:
        return f"status_0x{sw3:02x}"


def _xor(data: bytes | bytearray) -> int:
    chk = 0
    for b in data:
        chk ^= b
    return chk


def build_frame(body: bytes) -> bytes:
    """Wrap a body (host or reader) in preamble, LEN and checksum."""
    head = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([_xor(head + body)])


def command_frame(op: Op, data: bytes = b"") -> bytes:
    """Host -> reader frame, e.g. ``command_frame(Op.FIND_CARD)``."""
    return build_frame(op.to_bytes(2, "big") + data)


def reply_frame(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """Reader -> host frame; the simulator's side of the conversation."""
    return build_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class CommandFrame:
    """A decoded host -> reader frame."""

    op: int
    data: bytes = b""

    MIN_LEN = 3  # CMD PARA CHK

    @classmethod
    def from_body(cls, body: bytes) -> CommandFrame:
        return cls(op=int.from_bytes(body[:2], "big"), data=bytes(body[2:]))


@dataclass(frozen=True)
class ReplyFrame:
    """A decoded reader -> host frame."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    MIN_LEN = 4  # SW1 SW2 SW3 CHK

    @classmethod
    def from_body(cls, body: bytes) -> ReplyFrame:
        return cls(sw1=body[0], sw2=body[1], sw3=body[2], data=bytes(body[3:]))


@dataclass(frozen=True)
class Garbage:
    """Bytes skipped while looking for a preamble."""

    data: bytes


@dataclass(frozen=True)
class ChecksumError:
    """A complete frame whose checksum did not match; it was dropped."""

    frame: bytes


F = TypeVar("F", CommandFrame, ReplyFrame)


class FrameParser(Generic[F]):
    """Incremental frame parser: feed it chunks, get back completed events.

    `FrameParser()` parses reader replies; `FrameParser(CommandFrame)` parses host commands
    (the simulator's side).
    """

    def __init__(self, frame_type: type[F] = ReplyFrame) -> None:  # type: ignore[assignment]
        self._frame_type: type[F] = frame_type
        self._buf = bytearray()

    def reset(self) -> None:
        """Forget buffered bytes, e.g. after a timeout when a stale reply may be half-read."""
        self._buf.clear()

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[F | Garbage | ChecksumError]:
        """Add bytes and return every event they complete, in stream order."""
        self._buf += data
        events: list[F | Garbage | ChecksumError] = []
        buf = self._buf
        while buf:
            start = buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the start of a preamble split across chunks.
                keep = next(
                    (n for n in range(len(PREAMBLE) - 1, 0, -1) if buf.endswith(PREAMBLE[:n])),
                    0,
                )
                if len(buf) > keep:
                    events.append(Garbage(bytes(buf[: len(buf) - keep])))
                    del buf[: len(buf) - keep]
                break
            if start:
                events.append(Garbage(bytes(buf[:start])))
                del buf[:start]
            if len(buf) < HEADER_LEN:
                break
            length = int.from_bytes(buf[5:7], "big")
            if not self._frame_type.MIN_LEN <= length <= MAX_LEN:
                # A preamble-looking run inside noise: skip one byte and hunt again.
                events.append(Garbage(bytes(buf[:1])))
                del buf[:1]
                continue
            end = HEADER_LEN + length
            if len(buf) < end:
                break
            frame = bytes(buf[:end])
            del buf[:end]
            if _xor(frame[5:-1]) != frame[-1]:
                events.append(ChecksumError(frame))
            else:
                events.append(self._frame_type.from_body(frame[HEADER_LEN:-1]))
        return events


@dataclass(frozen=True)
class CardData:
    """The payload of a successful read: text block, photo and optional fingerprint."""

    text: bytes
    photo: bytes
    fingerprint: bytes | None = None


def pack_read_data(card_data: CardData) -> bytes:
    """Lengths then blocks, as in the read reply (fingerprint length only when present)."""
    lengths = len(card_data.text).to_bytes(2, "big") + len(card_data.photo).to_bytes(2, "big")
    tail = b""
    if card_data.fingerprint is not None:
        lengths += len(card_data.fingerprint).to_bytes(2, "big")
        tail = card_data.fingerprint
    return lengths + card_data.text + card_data.photo + tail


def unpack_read_data(data: bytes, with_fingerprint: bool = False) -> CardData:
    """Split a read reply's data; `with_fingerprint` for replies to `Op.READ_..._FINGERPRINT`."""
    n_lengths = 3 if with_fingerprint else 2
    if len(data) < 2 * n_lengths:
        raise CardFormatError("read reply too short")
    lengths = [int.from_bytes(data[i : i + 2], "big") for i in range(0, 2 * n_lengths, 2)]
    if 2 * n_lengths + sum(lengths) != len(data):
        raise CardFormatError(f"read reply lengths {lengths} do not match {len(data)} bytes")
    pos = 2 * n_lengths
    blocks = []
    for n in lengths:
        blocks.append(data[pos : pos + n])
        pos += n
    return CardData(
        text=blocks[0], photo=blocks[1], fingerprint=blocks[2] if with_fingerprint else None
    )


class CardFormatError(ValueError):
    """The reader returned a reply or text block that does not follow the layout."""


class CardType(StrEnum):
    """Card type, from the flag at text byte 248."""

    RESIDENT = "resident"  # 居民身份证
    HMT_RESIDENCE = "hmt_residence"  # 港澳台居民居住证, flag J
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证 (2017), flag I


# GB/T 3304 ethnic group codes as printed on the card (without the 族 suffix).
ETHNIC_GROUPS: dict[str, str] = {
    "01": "汉",
    "02": "蒙古",
    "03": "回",
    "04": "藏",
    "05": "维吾尔",
    "06": "苗",
    "07": "彝",
    "08": "壮",
    "09": "布依",
    "10": "朝鲜",
    "11": "满",
    "12": "侗",
    "13": "瑶",
    "14": "白",
    "15": "土家",
    "16": "哈尼",
    "17": "哈萨克",
    "18": "傣",
    "19": "黎",
    "20": "傈僳",
    "21": "佤",
    "22": "畲",
    "23": "高山",
    "24": "拉祜",
    "25": "水",
    "26": "东乡",
    "27": "纳西",
    "28": "景颇",
    "29": "柯尔克孜",
    "30": "土",
    "31": "达斡尔",
    "32": "仫佬",
    "33": "羌",
    "34": "布朗",
    "35": "撒拉",
    "36": "毛南",
    "37": "仡佬",
    "38": "锡伯",
    "39": "阿昌",
    "40": "普米",
    "41": "塔吉克",
    "42": "怒",
    "43": "乌孜别克",
    "44": "俄罗斯",
    "45": "鄂温克",
    "46": "德昂",
    "47": "保安",
    "48": "裕固",
    "49": "京",
    "50": "塔塔尔",
    "51": "独龙",
    "52": "鄂伦春",
    "53": "赫哲",
    "54": "门巴",
    "55": "珞巴",
    "56": "基诺",
    "97": "其他",
    "98": "外国血统中国籍人士",
}

LONG_TERM = "长期"
_FLAG_OFFSET = 248
_FLAGS = {" ": CardType.RESIDENT, "J": CardType.HMT_RESIDENCE, "I": CardType.FOREIGN_PERMANENT}
_FOREIGN_2017_RE = re.compile(r"^[A-Z]{3}\d{12}$")


@dataclass(frozen=True)
class Card:
    """What the text block says about the holder. Dates are `date`; `valid_to` None = 长期.

    For foreigner cards `name` is the Chinese name (may be empty), `english_name` the
    English one, and `valid_from`/`valid_to` the issue and expiry dates.
    """

    card_type: CardType
    name: str
    gender_code: str
    birth_date: date
    id_number: str
    valid_from: date
    valid_to: date | None
    ethnic_code: str = ""
    address: str = ""
    issuer: str = ""
    pass_number: str = ""
    issue_count: str = ""
    english_name: str = ""
    nationality: str = ""
    card_version: str = ""
    office_code: str = ""
    photo: bytes = b""

    def __repr__(self) -> str:
        # Cards end up in logs; never put the clear number or name there.
        return (
            f"Card({self.card_type.value}, {idnumber.mask_name(self.display_name)}, "
            f"{idnumber.mask_id(self.id_number)})"
        )

    @property
    def display_name(self) -> str:
        """Chinese name, or the English name on a foreigner card without one."""
        return self.name or self.english_name

    @property
    def gender(self) -> str:
        """``male``, ``female`` or ``unknown`` (GB/T 2261.1 codes 1 and 2)."""
        return {"1": "male", "2": "female"}.get(self.gender_code, "unknown")

    @property
    def ethnic_group(self) -> str:
        """Name of the ethnic group; empty for cards that carry none."""
        return ETHNIC_GROUPS.get(self.ethnic_code, "")

    @property
    def valid_check_digit(self) -> bool:
        """Whether the card number passes the check its format defines.

        Resident and HMT residence numbers use GB 11643 (MOD 11-2). The 2017 foreigner
        number (three letters for the nationality, then 12 digits) has no published check
        algorithm we could confirm, so it is checked for form and nationality only; an
        18-digit foreigner number starting with 9 (2023 card) uses MOD 11-2 again.
        """
        if self.card_type is not CardType.FOREIGN_PERMANENT:
            return idnumber.has_valid_check_digit(self.id_number)
        if len(self.id_number) == 18:
            return self.id_number.startswith("9") and idnumber.has_valid_check_digit(self.id_number)
        return bool(_FOREIGN_2017_RE.match(self.id_number)) and (
            not self.nationality or self.id_number[:3] == self.nationality
        )

    def age(self, today: date | None = None) -> int:
        """Age in completed years, from the card's birth date field."""
        return idnumber.age_on(self.birth_date, today or date.today())

    def is_expired(self, today: date | None = None) -> bool:
        """True after the valid-to date; long-term cards never expire."""
        return self.valid_to is not None and (today or date.today()) > self.valid_to

    def to_server_dict(self, today: date | None = None) -> dict[str, object]:
        """What the kiosk sends the hall server, over TLS (or inside one PC): the number, so
        that the server hashes it with a key no kiosk holds; never the address, photo or
        ethnic group (personal information law: minimum necessary)."""
        today = today or date.today()
        return {
            "card_type": self.card_type.value,
            "id_number": self.id_number,
            "name": self.display_name,
            "birth": self.birth_date.strftime("%Y%m%d"),
            "age": self.age(today),
            "valid_check_digit": self.valid_check_digit,
        }

    def to_public_dict(self, hash_key: bytes | str, today: date | None = None) -> dict[str, object]:
        """What may leave the kiosk: masked name and number, keyed hash, age. Never the
        clear number, address, photo or ethnic group (personal information law: minimum
        necessary)."""
        today = today or date.today()
        return {
            "card_type": self.card_type.value,
            "name_masked": idnumber.mask_name(self.display_name),
            "id_masked": idnumber.mask_id(self.id_number),
            "identity_hash": idnumber.identity_hash(self.id_number, hash_key),
            "age": self.age(today),
            "gender": self.gender,
            "valid_check_digit": self.valid_check_digit,
            "expired": self.is_expired(today),
        }


# (attribute, offset, size, kind) per card type; kind "date", "until" (date or 长期) or "str".
_Layout = Sequence[tuple[str, int, int, str]]
_COMMON: _Layout = (
    ("name", 0, 30, "str"),
    ("gender_code", 30, 2, "str"),
    ("birth_date", 36, 16, "date"),
    ("address", 52, 70, "str"),
    ("id_number", 122, 36, "str"),
    ("issuer", 158, 30, "str"),
    ("valid_from", 188, 16, "date"),
    ("valid_to", 204, 16, "until"),
)
LAYOUTS: dict[CardType, _Layout] = {
    CardType.RESIDENT: (*_COMMON, ("ethnic_code", 32, 4, "str")),
    CardType.HMT_RESIDENCE: (
        *_COMMON,
        ("pass_number", 220, 18, "str"),
        ("issue_count", 238, 4, "str"),
    ),
    CardType.FOREIGN_PERMANENT: (
        ("english_name", 0, 120, "str"),
        ("gender_code", 120, 2, "str"),
        ("id_number", 122, 30, "str"),
        ("nationality", 152, 6, "str"),
        ("name", 158, 30, "str"),
        ("valid_from", 188, 16, "date"),
        ("valid_to", 204, 16, "until"),
        ("birth_date", 220, 16, "date"),
        ("card_version", 236, 4, "str"),
        ("office_code", 240, 8, "str"),
    ),
}


def _decode_field(text: bytes, offset: int, size: int) -> str:
    return text[offset : offset + size].decode("utf-16-le", errors="replace").rstrip(" \x00")


def _parse_date(value: str, attr: str) -> date:
    if len(value) != 8 or not value.isdigit():
        raise CardFormatError(f"{attr}: {value!r} is not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise CardFormatError(f"{attr}: {value!r} is not a date") from exc


def card_type_of(text: bytes) -> CardType:
    """Card type from the flag character at byte 248."""
    flag = _decode_field(text, _FLAG_OFFSET, 2) or " "
    try:
        return _FLAGS[flag]
    except KeyError:
        raise CardFormatError(f"unknown card type flag {flag!r}") from None


def parse_text(text: bytes, photo: bytes = b"") -> Card:
    """Decode a 256-byte text block; raises `CardFormatError` when it breaks the layout."""
    if len(text) != TEXT_LEN:
        raise CardFormatError(f"text block is {len(text)} bytes, expected {TEXT_LEN}")
    card_type = card_type_of(text)
    values: dict[str, object] = {}
    for attr, offset, size, kind in LAYOUTS[card_type]:
        value = _decode_field(text, offset, size)
        if kind == "date":
            values[attr] = _parse_date(value, attr)
        elif kind == "until":
            values[attr] = None if value == LONG_TERM else _parse_date(value, attr)
        else:
            values[attr] = value
    return Card(card_type=card_type, photo=photo, **values)  # type: ignore[arg-type]


def encode_text(card: Card) -> bytes:
    """Inverse of `parse_text`: the 256-byte block a reader would return for `card`."""
    text = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    for attr, offset, size, kind in LAYOUTS[card.card_type]:
        value = getattr(card, attr)
        if kind in ("date", "until"):
            value = LONG_TERM if value is None else value.strftime("%Y%m%d")
        raw = value.encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{attr} {value!r} does not fit in {size} bytes")
        text[offset : offset + len(raw)] = raw
    flag = {v: k for k, v in _FLAGS.items()}[card.card_type]
    text[_FLAG_OFFSET : _FLAG_OFFSET + 2] = flag.encode("utf-16-le")
    return bytes(text)
