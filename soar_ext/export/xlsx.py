"""The one Excel export of soar-ext: streamed, formula-safe ``.xlsx`` workbooks (openpyxl write-only).

A workbook is a sequence of :class:`SheetSpec` (title, :class:`Column` list, rows). Rows are
consumed as they come (generators welcome), so memory stays flat however many rows there are.

What every export gets:

- Text is always written as a string (an inline string; nothing is ever written as a formula).
  Text starting with ``= + - @``, tab, CR or LF (or their full-width forms) also gets Excel's
  quote prefix, so editing the cell in Excel keeps it text.
- Numbers, decimals, dates and datetimes are typed cells with number formats (dates
  ``2024-06-30``, datetimes ``2024-06-30 14:05:00``); a value of the wrong type is an error.
- ``id_number`` columns are masked (``330106********123X``) unless ``full_ids``.
- A bold Chinese header row, frozen, with an auto-filter over the sheet's used range, and
  column widths from the header and the first rows (CJK characters count double).
- Past :data:`MAX_SHEET_ROWS` rows (header included) a sheet continues on a new sheet
  ``<title>（2）``, ``<title>（3）``, … with the header repeated.
- Text longer than Excel's 32,767 characters is clipped with a visible marker; characters XML
  cannot hold (control characters) are removed. Titles are made valid and unique.
- Bad input (a row of the wrong length, a wrong value type, an unknown tone) raises
  :class:`ExportDataError` naming the sheet, the data row and the column, and nothing is
  written: a path target is replaced only when the whole workbook is complete.

Sheets are taken from ``sheets`` one at a time, each only after the previous one's rows are
exhausted. A summary sheet computed from the rows (counts by status) can therefore follow the
data sheet in a generator; see ``docs/export.md`` for that pattern.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO, Final, Literal, get_args

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from soar_ext.errors import InvalidInput
from soar_ext.export import cells
from soar_ext.export.cells import CellValueError, TextStats
from soar_ext.export.stream import StreamingWorksheet
from soar_ext.export.styles import TONE_INDEX, StyleIds, register_styles
from soar_ext.export.titles import TitleRegistry, continuation_title
from soar_ext.idnumber import mask_id_number

ColumnKind = Literal["text", "id_number", "integer", "decimal", "date", "datetime"]
KINDS: Final = get_args(ColumnKind)

#: Rows per worksheet, header included (Excel's limit). Tests lower it to check the roll-over.
MAX_SHEET_ROWS = 1_048_576
#: Columns per worksheet (Excel's limit).
MAX_COLUMNS: Final = 16_384
#: Rows read ahead to size the columns before the sheet is written.
WIDTH_SAMPLE_ROWS: Final = 200
MIN_WIDTH: Final = 6.0
MAX_WIDTH: Final = 60.0
XLSX_CONTENT_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# What text content must escape: XML's specials, CR (as a reference, or XML parsers turn it into
# LF), and a literal "_x0041_", which Excel would read as the character U+0041 (OOXML's escape).
_needs_escape = re.compile("[&<>\r]|_x[0-9A-Fa-f]{4}_").search
_ooxml_escape_start = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_FIXED_WIDTHS: Final = {"id_number": 18, "date": 10, "datetime": 19}
_search_illegal = cells.ILLEGAL_XML_CHARS.search
_TRIGGERS = cells.FORMULA_TRIGGERS
_SURELY_SHORT = cells.MAX_CELL_CHARS // 2


class ExportDataError(InvalidInput):
    """A sheet, column or row that cannot be exported; the Chinese message names where."""

    def __init__(self, message: str, *, sheet: str | None = None, row: int | None = None, column: str | None = None):
        self.sheet = sheet
        self.row = row
        self.column = column
        super().__init__(message)


@dataclass(frozen=True)
class Column:
    """One column: its Chinese ``header``, the ``kind`` of its values, an optional fixed ``width``.

    Kinds: ``text`` (str; an int is written as text), ``id_number`` (str, masked unless full IDs),
    ``integer`` (int, up to 15 digits), ``decimal`` (Decimal, int or float; ``#,##0.00``),
    ``date`` (date, or a datetime's date; ``yyyy-mm-dd``), ``datetime`` (datetime, or a date at
    midnight; ``yyyy-mm-dd hh:mm:ss``). ``None`` is an empty cell in every kind. ``width`` is in
    Excel character units; without it the width follows the header and the first rows.
    """

    header: str
    kind: ColumnKind = "text"
    width: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.header, str):
            raise ExportDataError(f"列的表头必须是文本，实际为 {cells.describe_value(self.header)}")
        if not cells.ILLEGAL_XML_CHARS.sub("", self.header).strip():
            raise ExportDataError("列的表头不能为空")
        if self.kind not in KINDS:
            raise ExportDataError(
                f"列「{self.header}」的类型 {self.kind!r} 未知，应为 {'、'.join(KINDS)} 之一", column=self.header
            )
        if self.width is not None and (
            isinstance(self.width, bool) or not isinstance(self.width, int | float) or not 0 < self.width <= 255
        ):
            raise ExportDataError(f"列「{self.header}」的宽度应为 0 到 255 之间的数字，实际为 {self.width!r}")


@dataclass(frozen=True)
class SheetSpec:
    """One worksheet: ``title``, ``columns``, ``rows`` (any iterable of sequences, one value per column).

    ``row_tone(row)`` may return ``"error"`` (red) or ``"warn"`` (yellow) to highlight a row, or ``None``.
    """

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]
    row_tone: Callable[[Sequence[object]], str | None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise ExportDataError(f"工作表名称必须是文本，实际为 {cells.describe_value(self.title)}")
        if isinstance(self.columns, str | bytes) or not isinstance(self.columns, Sequence) or not self.columns:
            raise ExportDataError(f"工作表「{self.title}」没有列", sheet=self.title)
        for index, column in enumerate(self.columns, 1):
            if not isinstance(column, Column):
                raise ExportDataError(
                    f"工作表「{self.title}」第 {index} 列不是 Column：{cells.describe_value(column)}", sheet=self.title
                )
        if len(self.columns) > MAX_COLUMNS:
            raise ExportDataError(
                f"工作表「{self.title}」有 {len(self.columns)} 列，超过 Excel 的 {MAX_COLUMNS} 列上限", sheet=self.title
            )
        if isinstance(self.rows, str | bytes) or not isinstance(self.rows, Iterable):
            raise ExportDataError(f"工作表「{self.title}」的数据行必须是可迭代的行序列", sheet=self.title)
        if self.row_tone is not None and not callable(self.row_tone):
            raise ExportDataError(f"工作表「{self.title}」的 row_tone 必须是函数", sheet=self.title)


@dataclass(frozen=True)
class SheetSummary:
    """What was written for one :class:`SheetSpec`: its data rows and the sheets they went to."""

    title: str
    sheet_titles: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`write_xlsx` wrote."""

    sheets: tuple[SheetSummary, ...]
    full_ids: bool
    cleaned_cells: int = 0
    clipped_cells: int = 0

    @property
    def rows(self) -> int:
        """Data rows over all sheets (header rows not counted)."""
        return sum(sheet.rows for sheet in self.sheets)

    def audit_detail(self) -> dict[str, object]:
        """Row counts and ID handling, for the export's audit record."""
        return {
            "rows": self.rows,
            "sheets": {sheet.sheet_titles[0]: sheet.rows for sheet in self.sheets},  # unique, as written
            "full_ids": self.full_ids,
            "cleaned_cells": self.cleaned_cells,
            "clipped_cells": self.clipped_cells,
        }


def sheet_position(index: int, max_rows: int | None = None) -> tuple[int, int]:
    """Where data row ``index`` (0-based) of a sheet goes: ``(part, excel_row)``, both 1-based.

    Part 1 is the sheet itself, part 2 its first continuation; every part has the header in row 1.
    """
    per_sheet = (MAX_SHEET_ROWS if max_rows is None else max_rows) - 1
    part, offset = divmod(index, per_sheet)
    return part + 1, offset + 2


def write_xlsx(
    target: str | os.PathLike[str] | BinaryIO, sheets: Iterable[SheetSpec], *, full_ids: bool
) -> ExportSummary:
    """Write ``sheets`` as one ``.xlsx`` workbook to ``target`` (a path or a binary file object).

    Nothing is written to ``target`` unless the whole workbook succeeds: the workbook is built in
    a temporary file, then moved into place (a path) or copied (a file object).
    """
    if not isinstance(full_ids, bool):
        raise TypeError(f"full_ids must be a bool, not {type(full_ids).__name__}")
    if isinstance(target, str | os.PathLike):
        path = Path(target)
        fd, part_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        try:
            summary = _write_workbook(part_name, sheets, full_ids)
            os.replace(part_name, path)
        except BaseException:
            Path(part_name).unlink(missing_ok=True)
            raise
        return summary
    with tempfile.TemporaryFile() as spool:
        summary = _write_workbook(spool, sheets, full_ids)
        spool.seek(0)
        shutil.copyfileobj(spool, target)
    return summary


def _write_workbook(destination: str | BinaryIO, sheets: Iterable[SheetSpec], full_ids: bool) -> ExportSummary:
    book = _Book(full_ids)
    try:
        summaries = []
        for spec in sheets:
            if not isinstance(spec, SheetSpec):
                raise ExportDataError(f"要导出的工作表必须是 SheetSpec，实际为 {cells.describe_value(spec)}")
            summaries.append(_SheetWriter(book, spec).write())
        if not summaries:
            raise ExportDataError("没有要导出的工作表")
        book.workbook.save(destination)
    except BaseException:
        book.discard()
        raise
    return ExportSummary(
        sheets=tuple(summaries),
        full_ids=full_ids,
        cleaned_cells=book.stats.cleaned,
        clipped_cells=book.stats.clipped,
    )


class _Book:
    """The workbook being written, its titles, styles and text statistics."""

    def __init__(self, full_ids: bool) -> None:
        self.full_ids = full_ids
        self.workbook = Workbook(write_only=True)
        self.workbook.properties.creator = "soar-ext"
        self.titles = TitleRegistry()
        self.stats = TextStats()
        self.sheets: list[StreamingWorksheet] = []
        self._styles: StyleIds | None = None

    def new_sheet(self, wanted_title: str) -> StreamingWorksheet:
        sheet = StreamingWorksheet.add_to(self.workbook, self.titles.claim(wanted_title))
        self.sheets.append(sheet)
        if self._styles is None:
            self._styles = register_styles(sheet)
        return sheet

    @property
    def styles(self) -> StyleIds:
        assert self._styles is not None, "styles are registered with the first sheet"
        return self._styles

    def discard(self) -> None:
        for sheet in self.sheets:
            sheet.discard()


CellWriter = Callable[[str, object, int], str]


class _SheetWriter:
    """Writes one :class:`SheetSpec`, continuing on new sheets past the row limit."""

    def __init__(self, book: _Book, spec: SheetSpec) -> None:
        self.book = book
        self.spec = spec
        self.columns = tuple(spec.columns)
        self.letters = tuple(get_column_letter(i) for i in range(1, len(self.columns) + 1))
        self.writers: tuple[CellWriter, ...] = ()
        self.sheet_titles: list[str] = []
        self.sheet: StreamingWorksheet | None = None
        self.widths: tuple[float, ...] = ()
        self.base_title = ""

    # -- sheets ------------------------------------------------------------------------------

    def _open_sheet(self) -> None:
        part = len(self.sheet_titles) + 1
        wanted = self.spec.title if part == 1 else continuation_title(self.base_title, part)
        sheet = self.book.new_sheet(wanted)
        if part == 1:
            self.base_title = sheet.title
        self.sheet_titles.append(sheet.title)
        for letter, width in zip(self.letters, self.widths, strict=True):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
        sheet.write_row_xml(self._header_row())
        self.sheet = sheet

    def _close_sheet(self, last_row: int) -> None:
        assert self.sheet is not None
        self.sheet.auto_filter.ref = f"A1:{self.letters[-1]}{last_row}"
        self.sheet.close()

    def _header_row(self) -> str:
        style = self.book.styles.header
        parts = ['<row r="1">']
        for column, letter in zip(self.columns, self.letters, strict=True):
            parts.append(_inline_string(f"{letter}1", style, cells.safe_text(column.header, TextStats())))
        parts.append("</row>")
        return "".join(parts)

    # -- rows --------------------------------------------------------------------------------

    def write(self) -> SheetSummary:
        rows = iter(self.spec.rows)
        sample = list(islice(rows, WIDTH_SAMPLE_ROWS))
        self.widths = self._widths(sample)
        max_rows = MAX_SHEET_ROWS
        if max_rows < 2:
            raise ValueError("MAX_SHEET_ROWS must leave room for the header and one row")
        self._open_sheet()
        self.writers = tuple(_cell_writer(column.kind, self.book) for column in self.columns)
        sheet_row = 1
        count = 0
        ncols = len(self.columns)
        writers, letters = self.writers, self.letters
        tone_of = self.spec.row_tone
        blank_styles = self.book.styles.by_format["blank"]
        for values in chain(sample, rows):
            count += 1
            if sheet_row == max_rows:
                self._close_sheet(sheet_row)
                self._open_sheet()
                sheet_row = 1
            sheet_row += 1
            if type(values) is not tuple and type(values) is not list:
                self._check_row_type(values, count)
            if len(values) != ncols:
                raise self._error(count, None, f"有 {len(values)} 个值，应为 {ncols} 个（每列一个）")
            tone = 0 if tone_of is None else self._tone(tone_of(values), count)
            r = str(sheet_row)
            parts = [f'<row r="{r}">']
            try:
                for writer, letter, value in zip(writers, letters, values, strict=True):
                    if value is None:
                        if tone:
                            parts.append(f'<c r="{letter}{r}" s="{blank_styles[tone]}"/>')
                        continue
                    parts.append(writer(letter + r, value, tone))
            except CellValueError:
                self._locate_bad_cell(values, count)
                raise
            parts.append("</row>")
            self.sheet.write_row_xml("".join(parts))  # type: ignore[union-attr]
        self._close_sheet(sheet_row)
        return SheetSummary(title=self.spec.title, sheet_titles=tuple(self.sheet_titles), rows=count)

    def _tone(self, tone: object, count: int) -> int:
        try:
            return TONE_INDEX[tone]  # type: ignore[index]
        except (KeyError, TypeError):
            raise self._error(count, None, f"row_tone 返回了 {tone!r}，应为 'error'、'warn' 或 None") from None

    def _check_row_type(self, values: object, count: int) -> None:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise self._error(count, None, f"应为一行值的序列（list 或 tuple），实际为 {cells.describe_value(values)}")

    def _locate_bad_cell(self, values: Sequence[object], count: int) -> None:
        for column, writer, value in zip(self.columns, self.writers, values, strict=True):
            if value is None:
                continue
            try:
                writer("A1", value, 0)
            except CellValueError as exc:
                raise self._error(count, column, exc.reason) from None

    def _error(self, count: int, column: Column | None, reason: str) -> ExportDataError:
        where = f"工作表「{self.spec.title}」第 {count} 行数据"
        if column is not None:
            where += f"「{column.header}」列"
        return ExportDataError(
            f"{where}：{reason}", sheet=self.spec.title, row=count, column=None if column is None else column.header
        )

    # -- widths ------------------------------------------------------------------------------

    def _widths(self, sample: list[Sequence[object]]) -> tuple[float, ...]:
        widths = []
        for index, column in enumerate(self.columns):
            if column.width is not None:
                widths.append(float(column.width))
                continue
            widest = cells.display_width(column.header) + 2  # room for the auto-filter button
            fixed = _FIXED_WIDTHS.get(column.kind)
            for values in sample:
                if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) <= index:
                    continue
                value = values[index]
                if value is not None:
                    widest = max(widest, fixed or _value_width(value))
            widths.append(min(max(float(widest) + 2, MIN_WIDTH), MAX_WIDTH))
        return tuple(widths)


def _value_width(value: object) -> int:
    if isinstance(value, str):
        # The widest line, and no need to measure past what MAX_WIDTH shows.
        return max(cells.display_width(line[: int(MAX_WIDTH)]) for line in value.splitlines() or [""])
    if isinstance(value, float | int) and not isinstance(value, bool):
        return len(f"{value:,.2f}") if isinstance(value, float) else len(str(value))
    return len(str(value))


def _cell_writer(kind: str, book: _Book) -> CellWriter:
    if kind == "text":
        return _text_writer(book, cells.text_value, always_convert=False)
    if kind == "id_number":
        if book.full_ids:
            return _text_writer(book, cells.id_text, always_convert=True)
        return _text_writer(book, lambda value: mask_id_number(cells.id_text(value)), always_convert=True)
    convert = {
        "integer": cells.integer_value,
        "decimal": cells.decimal_value,
        "date": cells.date_value,
        "datetime": cells.datetime_value,
    }[kind]
    return _number_writer(book.styles.by_format[kind], convert)


def _text_writer(book: _Book, convert: Callable[[object], str], *, always_convert: bool) -> CellWriter:
    stats = book.stats
    plain = book.styles.by_format["text"]
    quoted = book.styles.by_format["quoted"]
    blank = book.styles.by_format["blank"]

    def write(ref: str, value: object, tone: int) -> str:
        text = value if type(value) is str and not always_convert else convert(value)
        if _search_illegal(text) is not None or len(text) > _SURELY_SHORT:  # type: ignore[arg-type]
            text = cells.safe_text(text, stats)  # type: ignore[arg-type]
        if not text:
            return f'<c r="{ref}" s="{blank[tone]}"/>' if tone else ""
        return _inline_string(ref, (quoted if text[0] in _TRIGGERS else plain)[tone], text)  # type: ignore[index,arg-type]

    return write


def _inline_string(ref: str, style: str, text: str) -> str:
    escaped = text
    if _needs_escape(text) is not None:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
        escaped = _ooxml_escape_start.sub("_x005F_", escaped)
    if text[0].isspace() or text[-1].isspace():
        return f'<c r="{ref}" t="inlineStr" s="{style}"><is><t xml:space="preserve">{escaped}</t></is></c>'
    return f'<c r="{ref}" t="inlineStr" s="{style}"><is><t>{escaped}</t></is></c>'


def _number_writer(styles: tuple[str, ...], convert: Callable[[object], str]) -> CellWriter:
    def write(ref: str, value: object, tone: int) -> str:
        return f'<c r="{ref}" s="{styles[tone]}"><v>{convert(value)}</v></c>'

    return write
