import random
from dataclasses import replace
from datetime import date

import pytest

from devices import sam
from devices.sam import (
    CardData,
    ChecksumError,
    CommandFrame,
    FrameParser,
    Garbage,
    Op,
    ReplyFrame,
    Status,
)
from devices.sim import cards
from hall_server.core import idnumber
from hall_server.core.idnumber import check_digit


@pytest.mark.parametrize(
    ("op", "frame"),
    [
        (Op.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
        (Op.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
        (Op.READ_SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
        (Op.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
        (Op.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
        (Op.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
        (Op.READ_EXTRA_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
        (Op.READ_TEXT_PHOTO_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
    ],
)
def test_command_frames_match_the_documented_bytes(op, frame):
    assert sam.command_frame(op) == bytes.fromhex(frame)


def test_reply_frames_match_the_documented_examples():
    assert sam.reply_frame(Status.CARD_FOUND, bytes(4)) == bytes.fromhex(
        "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"
    )
    assert sam.reply_frame(Status.NO_CARD) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")
    assert sam.reply_frame(Status.CARD_READ_FAILED) == bytes.fromhex(
        "AA AA AA 96 69 00 04 00 00 41 45"
    )


def read_reply(card=cards.RESIDENT):
    data = sam.pack_read_data(CardData(sam.encode_text(card), cards.sample_photo()))
    return sam.reply_frame(Status.SUCCESS, data)


def test_read_reply_is_1295_bytes_with_len_0508():
    frame = read_reply()
    assert len(frame) == 1295
    assert frame[5:12] == bytes.fromhex("05 08 00 00 90 01 00") and frame[12:14] == b"\x04\x00"


def test_parser_reassembles_a_reply_fed_one_byte_at_a_time():
    parser = FrameParser()
    events = [e for b in read_reply() for e in parser.feed(bytes([b]))]
    assert len(events) == 1 and isinstance(events[0], ReplyFrame)
    assert events[0].sw3 == Status.SUCCESS and parser.buffered == 0


def test_parser_skips_garbage_including_a_partial_preamble():
    parser = FrameParser()
    noise = b"\x00\xff\xaa\xaa\x96\x69\xaa\xaa\xaa\x96"
    events = parser.feed(noise + sam.reply_frame(Status.NO_CARD) + b"\x13\x37")
    kinds = [type(e) for e in events]
    assert kinds == [Garbage, ReplyFrame, Garbage]
    assert b"".join(e.data for e in events if isinstance(e, Garbage)) == noise + b"\x13\x37"


def test_parser_reports_a_bad_checksum_and_recovers_on_the_next_frame():
    bad = bytearray(read_reply())
    bad[100] ^= 0x01
    parser = FrameParser()
    events = parser.feed(bytes(bad) + sam.reply_frame(Status.NO_CARD))
    assert [type(e) for e in events] == [ChecksumError, ReplyFrame]
    assert events[1].sw3 == Status.NO_CARD


def test_parser_rejects_an_impossible_length_as_garbage():
    parser = FrameParser()
    events = parser.feed(sam.PREAMBLE + b"\xff\xff" + sam.reply_frame(Status.NO_CARD))
    assert isinstance(events[-1], ReplyFrame)
    assert all(isinstance(e, Garbage) for e in events[:-1])


def test_parser_survives_random_noise_between_frames():
    rng = random.Random(7)
    stream = b""
    for _ in range(50):
        stream += rng.randbytes(rng.randrange(0, 40)) + sam.reply_frame(Status.CARD_FOUND, bytes(4))
    parser = FrameParser()
    events = []
    pos = 0
    while pos < len(stream):
        n = rng.randrange(1, 64)
        events += parser.feed(stream[pos : pos + n])
        pos += n
    assert sum(isinstance(e, ReplyFrame) for e in events) == 50


def test_command_parser_decodes_host_frames():
    events = FrameParser(CommandFrame).feed(sam.command_frame(Op.FIND_CARD))
    assert events == [CommandFrame(op=Op.FIND_CARD)]


@pytest.mark.parametrize("card", cards.SAMPLES, ids=lambda c: c.card_type.value)
def test_text_block_round_trips_for_each_card_type(card):
    text = sam.encode_text(card)
    assert len(text) == 256
    assert sam.parse_text(text, photo=card.photo) == card


def test_resident_card_fields_follow_the_layout_table():
    text = sam.encode_text(cards.RESIDENT)
    assert text[0:6].decode("utf-16-le") == "张三丰"
    assert text[32:36].decode("utf-16-le") == "01"
    assert text[122:158].decode("utf-16-le") == "11010519491231002X"
    assert text[204:208].decode("utf-16-le") == "长期"
    assert text[248:250] == b"\x20\x00"
    card = sam.parse_text(text)
    assert card.ethnic_group == "汉" and card.gender == "male" and card.valid_to is None
    assert not card.is_expired(date(2099, 1, 1))


def test_hmt_card_has_pass_number_and_flag_j():
    text = sam.encode_text(cards.HMT_RESIDENCE)
    assert text[248:250] == "J".encode("utf-16-le")
    assert text[220:238].decode("utf-16-le").rstrip() == "H12345678"
    card = sam.parse_text(text)
    assert card.ethnic_code == "" and card.issue_count == "01" and card.valid_check_digit


def test_foreigner_card_uses_the_2017_layout():
    text = sam.encode_text(cards.FOREIGN_PERMANENT)
    assert text[0:34].decode("utf-16-le") == "SMITH, ANNA MARIE"
    assert text[152:158].decode("utf-16-le") == "CAN"
    assert text[220:236].decode("utf-16-le") == "19850517"
    assert text[248:250] == "I".encode("utf-16-le")
    card = sam.parse_text(text)
    assert card.display_name == "李安娜" and card.gender == "female"


def test_foreigner_number_is_not_checked_with_gb11643():
    card = cards.FOREIGN_PERMANENT
    assert card.valid_check_digit
    assert not replace(card, id_number="USA110085051701").valid_check_digit  # nationality
    assert not replace(card, id_number="11010519491231002X").valid_check_digit
    new_style = "9" + "1100851985051700"
    assert replace(card, id_number=new_style + check_digit(new_style)).valid_check_digit


def test_invalid_check_digit_is_visible_on_the_card():
    card = replace(cards.RESIDENT, id_number="110105194912310021")
    assert not sam.parse_text(sam.encode_text(card)).valid_check_digit


def test_all_56_ethnic_groups_are_named():
    assert len([c for c in sam.ETHNIC_GROUPS if int(c) <= 56]) == 56
    assert sam.ETHNIC_GROUPS["56"] == "基诺" and sam.ETHNIC_GROUPS["05"] == "维吾尔"


def test_broken_dates_and_flags_raise_card_format_error():
    text = bytearray(sam.encode_text(cards.RESIDENT))
    text[36:52] = "19491331".encode("utf-16-le")
    with pytest.raises(sam.CardFormatError):
        sam.parse_text(bytes(text))
    text = bytearray(sam.encode_text(cards.RESIDENT))
    text[248:250] = "Z".encode("utf-16-le")
    with pytest.raises(sam.CardFormatError):
        sam.parse_text(bytes(text))


def test_card_repr_never_shows_the_clear_number():
    assert "11010519491231002X" not in repr(cards.RESIDENT)
    assert "张三丰" not in repr(cards.RESIDENT)


def test_read_data_with_fingerprint_round_trips():
    data = CardData(b"t" * 256, b"p" * 1024, b"f" * 1024)
    assert sam.unpack_read_data(sam.pack_read_data(data), with_fingerprint=True) == data
    with pytest.raises(sam.CardFormatError):
        sam.unpack_read_data(sam.pack_read_data(data)[:-1], with_fingerprint=True)


def test_public_dict_carries_no_clear_identity():
    public = cards.RESIDENT.to_public_dict(b"hall-key", today=date(2024, 6, 1))
    assert public == {
        "card_type": "resident",
        "name_masked": "张*丰",
        "id_masked": "110105********002X",
        "identity_hash": idnumber.identity_hash("11010519491231002X", b"hall-key"),
        "age": 74,
        "gender": "male",
        "valid_check_digit": True,
        "expired": False,
    }
    assert "11010519491231002X" not in repr(public) and "北京" not in repr(public)
