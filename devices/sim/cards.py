"""Sample cards for the reader simulator, one per card type; the numbers are made up."""

from __future__ import annotations

from datetime import date

from devices.sam import PHOTO_LEN, Card, CardType

RESIDENT = Card(
    card_type=CardType.RESIDENT,
    name="张三丰",
    gender_code="1",
    ethnic_code="01",
    birth_date=date(1949, 12, 31),
    address="北京市朝阳区建国路88号院3号楼2单元1101",
    id_number="11010519491231002X",
    issuer="北京市公安局朝阳分局",
    valid_from=date(2015, 6, 1),
    valid_to=None,
)

HMT_RESIDENCE = Card(
    card_type=CardType.HMT_RESIDENCE,
    name="陈小明",
    gender_code="1",
    birth_date=date(1994, 8, 23),
    address="广东省深圳市福田区福华一路1号",
    id_number="810000199408230021",
    issuer="深圳市公安局",
    valid_from=date(2019, 3, 1),
    valid_to=date(2024, 3, 1),
    pass_number="H12345678",
    issue_count="01",
)

FOREIGN_PERMANENT = Card(
    card_type=CardType.FOREIGN_PERMANENT,
    name="李安娜",
    english_name="SMITH, ANNA MARIE",
    gender_code="2",
    birth_date=date(1985, 5, 17),
    id_number="CAN110085051701",
    nationality="CAN",
    valid_from=date(2018, 9, 1),
    valid_to=date(2028, 9, 1),
    card_version="01",
    office_code="1100",
)

SAMPLES = (RESIDENT, HMT_RESIDENCE, FOREIGN_PERMANENT)


def sample_photo(seed: int = 0) -> bytes:
    """Deterministic stand-in for a WLT photo, with bytes that look like a preamble inside."""
    body = bytes((seed + i * 37) & 0xFF for i in range(PHOTO_LEN - 8))
    return b"WLT\x00" + body[:200] + b"\xaa\xaa\xaa\x96" + body[200:]
