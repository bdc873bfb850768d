"""What a visitor typed into a rating's comment, as it leaves the hall (core/scrub.py)."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hall_server.core.idnumber import check_digit
from hall_server.core.scrub import HIDDEN, scrub_comment


def test_mobile_number_in_a_comment_is_masked_however_it_was_spaced():
    for typed in (
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+86-13812345678",
        "8613812345678",
        "1 3 8 1 2 3 4 5 6 7 8",
        "１３８ １２３４ ５６７８",
        "138\u30001234\u30005678",
    ):
        out = scrub_comment(f"窗口态度差，请打{typed}联系我")
        assert out == "窗口态度差，请打138****5678联系我", typed


def test_id_number_in_a_comment_is_masked_with_its_x():
    x_id = "11010519491231002X"
    assert scrub_comment(f"我的身份证{x_id}办不了") == "我的身份证110105********002X办不了"
    assert scrub_comment("身份证 110105 19491231 0012。") == "身份证 110105********0012。"
    assert scrub_comment("id 11010519491231002x") == "id 110105********002X"


def test_email_and_other_long_digit_runs_are_hidden():
    assert scrub_comment("发到 zhang.san+hall@qq.com 谢谢") == f"发到 {HIDDEN} 谢谢"
    assert scrub_comment("邮箱zhangsan@163。com") == f"邮箱{HIDDEN}"
    # a bank card, a 15-digit first-generation ID number: no masked form, hidden whole
    assert scrub_comment("卡号6222020200112233445") == f"卡号{HIDDEN}"
    assert scrub_comment("旧证110105491231002") == f"旧证{HIDDEN}"


def test_ordinary_comment_is_left_as_typed():
    for text in (
        "等了 45 分钟，A012 号叫了三次没人理",
        "2026-11-30 10:30 在 3 号窗口，工号 10086",
        "Staff were rude. Waited 1 hour.",
        "电话 12345 打不通",
    ):
        assert scrub_comment(text) == text
    assert scrub_comment(None) is None
    assert scrub_comment("") == ""


def _id_number(first17: str) -> str:
    return first17 + check_digit(first17)


@given(
    before=st.text(alphabet="窗口态度很差请联系我谢谢 ，。abc", max_size=12),
    after=st.text(alphabet="窗口态度很差请联系我谢谢 ，。abc", max_size=12),
    mobile=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    region=st.from_regex(r"\A[1-6][0-9]{5}\Z"),
    born=st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%Y%m%d")),
    seq=st.from_regex(r"\A[0-9]{3}\Z"),
    sep=st.sampled_from(["", " ", "-", "\u3000"]),
)
def test_no_personal_number_survives_scrubbing(before, after, mobile, region, born, seq, sep):
    id_number = _id_number(region + born + seq)
    spaced = sep.join([mobile[:3], mobile[3:7], mobile[7:]])
    out = scrub_comment(f"{before}{spaced}{after}，身份证{id_number}{after}")
    digits = re.sub(r"\D", "", out)
    assert mobile not in digits
    assert id_number[:17] not in digits
    assert mobile[:3] + "****" + mobile[-4:] in out
    assert id_number[:6] + "********" + id_number[-4:] in out
