"""Turning Python values into safe Excel cell values: text cleaning, clipping, numbers, dates.

Nothing here knows about workbooks; :mod:`soar_ext.export.xlsx` calls these per cell and turns a
:class:`CellValueError` into an error that names the sheet, row and column.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal
from typing import Final

from soar_ext.clock import BEIJING
from soar_ext.idnumber import mask_in_text

#: Excel's limit of characters in one cell (counted in UTF-16 code units, as Excel counts them).
MAX_CELL_CHARS: Final = 32_767
#: Appended to a value cut at :data:`MAX_CELL_CHARS`, so a reader sees that text is missing.
CLIP_MARKER: Final = "…（内容超过 Excel 单元格 32767 字符上限，已截断）"
#: Characters XML 1.0 cannot carry (C0 controls except tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
ILLEGAL_XML_CHARS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: First characters that make Excel (or a user editing the cell) read text as a formula or command.
#: ASCII and full-width forms; such text gets the quote-prefix style as well as being a string.
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r\n＝＋－＠")
#: Largest integer magnitude Excel stores exactly (15 significant digits).
MAX_EXACT_INTEGER: Final = 10**15 - 1

# A string of at most this many characters cannot exceed MAX_CELL_CHARS UTF-16 units.
_SURELY_SHORT = MAX_CELL_CHARS // 2
_EXCEL_EPOCH_ORDINAL = dt.date(1899, 12, 30).toordinal()
_FIRST_EXCEL_DATE = dt.date(1900, 1, 1)
# Excel counts a non-existent 1900-02-29; serials before 1900-03-01 are one lower than the day count.
_LEAP_BUG_ORDINAL = dt.date(1900, 3, 1).toordinal()


class CellValueError(ValueError):
    """A value that its column cannot hold; ``reason`` is Chinese and says what was expected."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def describe_value(value: object, limit: int = 40) -> str:
    """A short, masked rendering of a rejected value for an error message."""
    text = mask_in_text(repr(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(value).__name__} {text}"


class TextStats:
    """Counts of text cells that had to be changed, for the export summary."""

    __slots__ = ("cleaned", "clipped")

    def __init__(self) -> None:
        self.cleaned = 0
        self.clipped = 0


def clip_text(text: str) -> str:
    """``text`` cut to :data:`MAX_CELL_CHARS` UTF-16 units including :data:`CLIP_MARKER`."""
    encoded = text.encode("utf-16-le", "surrogatepass")
    if len(encoded) // 2 <= MAX_CELL_CHARS:
        return text
    keep = (MAX_CELL_CHARS - len(CLIP_MARKER)) * 2
    # Decoding a cut in the middle of a surrogate pair drops the half character.
    return encoded[:keep].decode("utf-16-le", "ignore") + CLIP_MARKER


def safe_text(text: str, stats: TextStats) -> str:
    """``text`` without characters XML cannot hold, clipped to Excel's cell limit."""
    if ILLEGAL_XML_CHARS.search(text) is not None:
        text = ILLEGAL_XML_CHARS.sub("", text)
        stats.cleaned += 1
    if len(text) > _SURELY_SHORT:
        clipped = clip_text(text)
        if clipped is not text:
            stats.clipped += 1
            text = clipped
    return text


def text_value(value: object) -> str:
    """The text of a ``text`` column's value: a string, or an integer written as text."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise CellValueError(f"应为文本，实际为 {describe_value(value)}")


def id_text(value: object) -> str:
    """The text of an ``id_number`` column's value (a string)."""
    if isinstance(value, str):
        return str.__str__(value).strip()
    raise CellValueError(f"身份证号应为文本，实际为 {describe_value(value)}")


def integer_value(value: object) -> str:
    """XML number text of an ``integer`` column's value."""
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            return str(int(value))
        raise CellValueError(f"整数超过 Excel 能精确保存的 15 位：{describe_value(value)}（请改用文本列）")
    raise CellValueError(f"应为整数，实际为 {describe_value(value)}")


def decimal_value(value: object) -> str:
    """XML number text of a ``decimal`` column's value (``Decimal``, ``int`` or ``float``).

    Excel keeps numbers as doubles, so the value is written as the double nearest to it.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int):
        raise CellValueError(f"应为数字，实际为 {describe_value(value)}")
    try:
        number = float(value)
    except (OverflowError, ValueError):  # a huge int, a signalling NaN
        number = math.nan
    if not math.isfinite(number):
        raise CellValueError(f"应为 Excel 能保存的有限数字，实际为 {describe_value(value)}")
    return repr(number)


def _naive(value: dt.datetime) -> dt.datetime:
    # Excel has no time zones; SOAR's times are Beijing time (soar_ext.clock).
    if value.tzinfo is not None:
        return value.astimezone(BEIJING).replace(tzinfo=None)
    return value


def _day_serial(day: dt.date) -> int:
    ordinal = day.toordinal()
    if ordinal >= _LEAP_BUG_ORDINAL:
        return ordinal - _EXCEL_EPOCH_ORDINAL
    if day < _FIRST_EXCEL_DATE:
        raise CellValueError(f"Excel 不能保存 1900-01-01 以前的日期：{day.isoformat()}")
    return ordinal - _EXCEL_EPOCH_ORDINAL - 1


def date_value(value: object) -> str:
    """Excel serial (XML number text) of a ``date`` column's value.

    A ``datetime`` counts by its date (Oracle ``DATE`` values arrive as datetimes).
    """
    if isinstance(value, dt.datetime):
        return str(_day_serial(_naive(value).date()))
    if isinstance(value, dt.date):
        return str(_day_serial(value))
    raise CellValueError(f"应为日期，实际为 {describe_value(value)}")


def datetime_value(value: object) -> str:
    """Excel serial (XML number text) of a ``datetime`` column's value; a ``date`` is its midnight."""
    if isinstance(value, dt.datetime):
        value = _naive(value)
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        days = _day_serial(value.date())
        return repr(days + seconds / 86400) if seconds else str(days)
    if isinstance(value, dt.date):
        return str(_day_serial(value))
    raise CellValueError(f"应为日期时间，实际为 {describe_value(value)}")


def display_width(text: str) -> int:
    """Width of ``text`` in Excel character units: East Asian wide and full-width characters count 2."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
