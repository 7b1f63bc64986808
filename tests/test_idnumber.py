"""Resident ID validation, normalisation and masking (GB 11643-1999)."""

from __future__ import annotations

import pytest

from soar_ext.idnumber import (
    InvalidIdNumber,
    check_char,
    mask_id_number,
    mask_in_text,
    normalize_id_number,
)

# 11010519491231002X is the standard's own worked example (check character X).
VALID_X = "11010519491231002X"
VALID = "330106198001010019"  # computed below, asserted to be valid


def test_check_character_of_standard_example_is_x() -> None:
    assert check_char(VALID_X[:17]) == "X"


def test_valid_number_with_x_is_accepted() -> None:
    assert normalize_id_number(VALID_X) == VALID_X


def test_lowercase_x_is_accepted_and_stored_uppercase() -> None:
    assert normalize_id_number(VALID_X.lower()) == VALID_X


def test_surrounding_spaces_are_ignored() -> None:
    number = "330106198001010" + "01"
    number += check_char(number)
    assert normalize_id_number(f"  {number} ") == number


def test_bad_checksum_is_rejected() -> None:
    wrong = VALID_X[:17] + "1"
    with pytest.raises(InvalidIdNumber, match="校验位不正确"):
        normalize_id_number(wrong)


@pytest.mark.parametrize("date", ["19800230", "19801301", "20991231", "18991231"])
def test_impossible_birth_date_is_rejected(date: str) -> None:
    body = "330106" + date + "001"
    with pytest.raises(InvalidIdNumber, match="出生日期"):
        normalize_id_number(body + check_char(body))


@pytest.mark.parametrize("value", ["33010619800101001", "3301061980010100191", ""])
def test_wrong_length_is_rejected(value: str) -> None:
    with pytest.raises(InvalidIdNumber):
        normalize_id_number(value)


@pytest.mark.parametrize("value", ["33010619800101A019", "3301061980010100１9", "X30106198001010019"])
def test_non_digits_are_rejected(value: str) -> None:
    with pytest.raises(InvalidIdNumber, match="数字"):
        normalize_id_number(value)


def test_error_names_the_field() -> None:
    with pytest.raises(InvalidIdNumber) as info:
        normalize_id_number("123", field="成员身份证号")
    assert str(info.value).startswith("成员身份证号格式错误")
    assert info.value.field == "成员身份证号"


def test_none_and_non_text_are_rejected() -> None:
    with pytest.raises(InvalidIdNumber, match="不能为空"):
        normalize_id_number(None)
    with pytest.raises(InvalidIdNumber, match="文本"):
        normalize_id_number(330106198001010019)


def test_mask_keeps_area_and_last_four() -> None:
    assert mask_id_number(VALID_X) == "110105********002X"


def test_mask_in_text_masks_every_number() -> None:
    text = f"查询 {VALID_X} 与 {VALID_X.lower()}，电话 13800001111"
    masked = mask_in_text(text)
    assert VALID_X not in masked and VALID_X.lower() not in masked
    assert "13800001111" in masked
    assert masked.count("********") == 2
