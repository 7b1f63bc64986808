"""Resident ID numbers (GB 11643-1999): validation, normalisation and masking.

Every module that accepts, stores, logs or shows an ID number goes through here.
"""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
# Anything that may hold an 18-character resident ID inside free text (used for log masking): a
# run of at least 17 digits and a final digit or X, in ASCII or full-width forms (０-９, Ｘ),
# wherever it stands — also glued to letters (``sfzh3301…``). Longer runs are masked too, so an
# ID glued to other digits never shows its birth date.
_DIGIT = "[0-9\uff10-\uff19]"
_IN_TEXT = re.compile(rf"(?<!{_DIGIT}){_DIGIT}{{17,}}(?:{_DIGIT}|[XxＸｘ])")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


class InvalidIdNumber(ValueError):
    """An ID number failed validation; the message is Chinese and names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}格式错误：{reason}")


def check_char(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_id_number(value: object, field: str = "身份证号") -> str:
    """Validate a resident ID number and return it upper-cased.

    Raises :class:`InvalidIdNumber` with a specific Chinese reason: empty, wrong length,
    non-digits, impossible birth date, or wrong check character.
    """
    if value is None:
        raise InvalidIdNumber(field, "不能为空")
    if not isinstance(value, str):
        raise InvalidIdNumber(field, "必须是文本")
    text = value.strip().upper()
    if not text:
        raise InvalidIdNumber(field, "不能为空")
    if len(text) != 18:
        raise InvalidIdNumber(field, f"应为18位，实际为{len(text)}位")
    if not _SHAPE.match(text):
        raise InvalidIdNumber(field, "前17位必须是数字，最后一位是数字或X")
    try:
        birth = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise InvalidIdNumber(field, "第7至14位的出生日期不是有效日期") from None
    if birth.year < 1900 or birth > dt.date.today():
        raise InvalidIdNumber(field, "第7至14位的出生日期超出合理范围")
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InvalidIdNumber(field, "校验位不正确")
    return text


def is_valid_id_number(value: object) -> bool:
    """True when :func:`normalize_id_number` would accept the value."""
    try:
        normalize_id_number(value)
    except InvalidIdNumber:
        return False
    return True


def birth_date(id_number: str) -> dt.date:
    """Birth date encoded in a (valid) ID number."""
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(id_number: str, on: dt.date) -> int:
    """Age in whole years on a given day."""
    born = birth_date(id_number)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def mask_id_number(value: str | None) -> str:
    """Mask an ID number for display and logs: ``330106********123X``.

    Keeps the 6-digit area code and the last four characters; anything that is not
    18 characters long is masked entirely except its last two characters.
    """
    if not value:
        return ""
    text = str(value)
    if len(text) == 18:
        return text[:6] + "*" * 8 + text[14:]
    if len(text) <= 2:
        return "*" * len(text)
    return "*" * (len(text) - 2) + text[-2:]


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return run[:6] + "*" * (len(run) - 10) + run[-4:]


def mask_in_text(text: str) -> str:
    """Mask every ID-number-shaped token inside free text: ``330106********123X``.

    Finds 18-character IDs in ASCII or full-width digits, also glued to letters; a longer
    digit run keeps only its first 6 and last 4 characters.
    """
    return _IN_TEXT.sub(_mask_run, text)


def to_ascii_digits(text: str) -> str:
    """Full-width digits and X (``３３０１…Ｘ``) as ASCII, so a full-width ID can be checked like any other."""
    return text.translate(_FULL_WIDTH)


def mask_name(name: str | None) -> str:
    """Mask a Chinese name for logs: keep the surname only (``张*``, ``欧阳**``)."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
