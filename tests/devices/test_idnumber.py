from datetime import date

import pytest

from hall_server.core import idnumber


def test_known_valid_number_passes_mod_11_2():
    assert idnumber.check_digit("11010519491231002") == "X"
    assert idnumber.is_valid("11010519491231002X")
    assert idnumber.is_valid("11010519491231002x")


@pytest.mark.parametrize(
    "number",
    ["110105194912310021", "11010519491231002", "1101051949123100XX", "11010519491331002X"],
)
def test_wrong_check_digit_length_or_date_is_invalid(number):
    assert not idnumber.is_valid(number)


def test_check_digit_alone_ignores_the_date():
    number = "110105194913310020"  # month 13, but a self-consistent check digit
    number = number[:17] + idnumber.check_digit(number[:17])
    assert idnumber.has_valid_check_digit(number)
    assert not idnumber.is_valid(number)


def test_birth_date_and_age_come_from_the_number():
    assert idnumber.birth_date("11010519491231002X") == date(1949, 12, 31)
    assert idnumber.age("11010519491231002X", today=date(2009, 12, 30)) == 59
    assert idnumber.age("11010519491231002X", today=date(2009, 12, 31)) == 60


def test_leap_day_birthday_counts_on_first_of_march():
    assert idnumber.age_on(date(2000, 2, 29), date(2060, 2, 28)) == 59
    assert idnumber.age_on(date(2000, 2, 29), date(2060, 3, 1)) == 60


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张*丰"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("张", "张"), ("", "")],
)
def test_mask_name_keeps_first_and_last_character(name, masked):
    assert idnumber.mask_name(name) == masked


def test_mask_id_hides_the_birth_date():
    assert idnumber.mask_id("11010519491231002X") == "110105********002X"
    assert idnumber.mask_id("CAN110090120001") == "CAN110*****0001"


def test_identity_hash_is_keyed_and_normalised():
    a = idnumber.identity_hash("11010519491231002X", b"hall-secret")
    assert a == idnumber.identity_hash(" 11010519491231002x", "hall-secret")
    assert a != idnumber.identity_hash("11010519491231002X", b"other-hall")
    assert len(a) == 64 and "1101" not in a


def test_identity_hash_refuses_an_empty_key():
    with pytest.raises(ValueError):
        idnumber.identity_hash("11010519491231002X", b"")
