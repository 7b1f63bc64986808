"""Reading exported workbooks back: python-calamine (independent of openpyxl) and openpyxl."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.workbook import Workbook
from python_calamine import CalamineWorkbook

Source = Path | bytes


def calamine_sheets(source: Source) -> dict[str, list[list[object]]]:
    """Every sheet's rows as python-calamine reads them (numbers come back as float)."""
    book = (
        CalamineWorkbook.from_filelike(io.BytesIO(source))
        if isinstance(source, bytes)
        else CalamineWorkbook.from_path(str(source))
    )
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def openpyxl_book(source: Source) -> Workbook:
    return openpyxl.load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source)


def sheet_xml(source: Source) -> dict[str, str]:
    """The raw XML of each worksheet part."""
    with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        }


_FORMULA_ELEMENT = re.compile(r"<(?:\w+:)?f[\s>/]")


def assert_no_formulas(source: Source) -> None:
    """No cell of any sheet is a formula: neither in the XML nor as openpyxl reads it."""
    for name, xml in sheet_xml(source).items():
        assert _FORMULA_ELEMENT.search(xml) is None, f"formula element in {name}"
    for sheet in openpyxl_book(source).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
