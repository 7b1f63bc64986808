"""openpyxl's write-only worksheet with a fast path for the rows.

openpyxl's own ``append`` turns every value into a ``WriteOnlyCell``, infers its type (a string
starting with ``=`` becomes a formula) and writes it through nested lxml contexts; that per-cell
work is most of an export's time. This sheet keeps everything else of openpyxl's write-only mode
(its temporary file per sheet, sheet properties and views, column widths, auto-filter, styles,
the package) and takes the ``<sheetData>`` rows as XML text made by :mod:`soar_ext.export.xlsx`,
which only ever produces inline strings and numbers, so no formula can reach the file.

It relies on openpyxl 3.1's write-only internals (``WorksheetWriter`` and its ``xf`` stream
protocol, which ``WriteOnlyWorksheet._write_rows`` uses too); ``pyproject.toml`` pins openpyxl
to 3.1.x for that reason, and the export tests read every file back with two readers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from typing import BinaryIO

from lxml import etree
from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS

# Row XML is collected and written in chunks of this many rows.
_ROWS_PER_WRITE = 500


class _FileWorksheetWriter(WorksheetWriter):
    """openpyxl's worksheet writer over a file object we hold, so row XML can be written into it.

    ``get_stream`` is openpyxl's own, except that lxml writes to ``self.file`` instead of opening
    ``self.out`` itself; ``self.out`` stays the temporary file's path (openpyxl zips it from there).
    """

    file: BinaryIO

    def get_stream(self) -> Generator[object, object, None]:
        self.file = open(self.out, "wb")  # noqa: SIM115 - closed in close()
        with etree.xmlfile(self.file) as xf, xf.element("worksheet", xmlns=SHEET_MAIN_NS):
            try:
                while True:
                    element = yield
                    if element is True:
                        yield xf
                    elif element is not None:
                        xf.write(element)
            except GeneratorExit:
                pass

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.file.close()


class StreamingWorksheet(WriteOnlyWorksheet):
    """A write-only worksheet whose rows arrive as ``<row>`` XML text (see the module docstring).

    Set column widths and frozen panes before the first row: openpyxl writes them then.
    """

    @classmethod
    def add_to(cls, workbook: Workbook, title: str) -> StreamingWorksheet:
        """Create the sheet at the end of ``workbook`` (``title`` must already be valid and unique)."""
        sheet = cls(parent=workbook, title=title)
        workbook._add_sheet(sheet)
        return sheet

    def write_row_xml(self, row: str) -> None:
        """Add one well-formed ``<row>`` element (XML text) to the sheet."""
        if self._rows is None:
            self._get_writer()
            self._rows = self._row_sink()
            next(self._rows)
        self._rows.send(row)

    def _get_writer(self) -> None:
        if self._writer is None:
            self._writer = _FileWorksheetWriter(self)
            self._writer.write_top()

    def _row_sink(self) -> Generator[None, str, None]:
        xf = self._writer.xf.send(True)
        out = self._writer.file
        pending: list[str] = []
        with xf.element("sheetData"):
            xf.flush()  # lxml's "<sheetData>" must be in the file before our rows
            try:
                while True:
                    pending.append((yield))
                    if len(pending) >= _ROWS_PER_WRITE:
                        out.write("".join(pending).encode("utf-8"))
                        pending.clear()
            except GeneratorExit:
                out.write("".join(pending).encode("utf-8"))
        self._writer.xf.send(None)

    def discard(self) -> None:
        """Close the sheet's stream and delete its temporary file (after a failed export)."""
        writer = self._writer
        if writer is None:
            return
        with contextlib.suppress(Exception):
            if self._rows is not None:
                self._rows.close()
            writer.close()
        with contextlib.suppress(Exception):
            writer.cleanup()
        if isinstance(writer.out, str):
            with contextlib.suppress(FileNotFoundError):
                os.remove(writer.out)
