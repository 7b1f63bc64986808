"""The few cell styles an export uses, registered once per workbook as style ids.

Cells refer to a style by its index (``s="3"``); building one style object per cell would cost
more than writing the cell. Styles exist per value format and per row tone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: Row tones a :class:`~soar_ext.export.xlsx.SheetSpec` may give a row, in style-table order.
TONES: Final = (None, "warn", "error")
TONE_INDEX: Final = {tone: index for index, tone in enumerate(TONES)}

#: Excel number formats per value format (text is "@": edited cells stay text).
NUMBER_FORMATS: Final = {
    "text": "@",
    "quoted": "@",
    "integer": "0",
    "decimal": "#,##0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "blank": "General",
}
# Excel's built-in "Bad" and "Neutral" cell colours.
_TONE_COLOURS: Final = {"warn": ("FFEB9C", "9C5700"), "error": ("FFC7CE", "9C0006")}
_HEADER_FILL: Final = "D9E1F2"


@dataclass(frozen=True)
class StyleIds:
    """Style ids (as XML attribute text) by value format, each a tuple indexed by :data:`TONE_INDEX`."""

    by_format: dict[str, tuple[str, ...]]
    header: str


def register_styles(sheet: WriteOnlyWorksheet) -> StyleIds:
    """Register the export's styles in ``sheet``'s workbook and return their ids."""
    by_format: dict[str, tuple[str, ...]] = {}
    for name, number_format in NUMBER_FORMATS.items():
        ids = []
        for tone in TONES:
            cell = WriteOnlyCell(sheet)
            cell.number_format = number_format
            if name == "quoted":
                cell.quotePrefix = True
            if tone is not None:
                fill, font = _TONE_COLOURS[tone]
                cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)
                cell.font = Font(color=font)
            ids.append(str(cell.style_id))
        by_format[name] = tuple(ids)
    header = WriteOnlyCell(sheet)
    header.font = Font(bold=True)
    header.fill = PatternFill(fill_type="solid", start_color=_HEADER_FILL, end_color=_HEADER_FILL)
    header.alignment = Alignment(horizontal="center", vertical="center")
    header.number_format = "@"
    header.quotePrefix = True
    return StyleIds(by_format=by_format, header=str(header.style_id))
