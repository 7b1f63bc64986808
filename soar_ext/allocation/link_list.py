"""导出清单: the Excel list of a 调房划拨 batch's applicant↔house links.

One row per link, in 顺序号 order (as on the batch page): 序号, 申请人, 身份证号, 配租资格证号,
家庭人数, 原房源地址, 划拨房源地址/房号, 建筑面积, 关联时间, 操作人. The rows are produced
lazily and written by the one export module (:mod:`soar_ext.export`): text cells as strings that
never become formulas, ID numbers full or masked by the operator's role, the export audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection

from soar_ext.allocation.links import batch_links
from soar_ext.allocation.records import Batch, applicants_by_id, houses_by_id
from soar_ext.export.xlsx import Column, SheetSpec

COLUMNS: Sequence[Column] = (
    Column("序号", "integer", 6),
    Column("申请人", "text", 12),
    Column("身份证号", "id_number", 20),
    Column("配租资格证号", "text", 18),
    Column("家庭人数", "integer", 9),
    Column("原房源地址", "text", 40),
    Column("划拨房源地址/房号", "text", 40),
    Column("建筑面积（㎡）", "decimal", 12),
    Column("关联时间", "datetime", 19),
    Column("操作人", "text", 12),
)

SHEET_TITLE = "调房划拨关联清单"


def file_name(batch: Batch, on: dt.date) -> str:
    """``调房划拨关联清单_<批次名称>_<YYYYMMDD>.xlsx`` (the export module makes it safe to offer)."""
    return f"{SHEET_TITLE}_{batch.label}_{on:%Y%m%d}.xlsx"


def sheet(conn: Connection, batch: Batch) -> SheetSpec:
    """The list as one worksheet for :func:`soar_ext.export.audited.export_workbook` (rows read lazily)."""
    return SheetSpec(SHEET_TITLE, COLUMNS, link_rows(conn, batch))


def link_rows(conn: Connection, batch: Batch) -> Iterator[tuple[object, ...]]:
    """The list's rows (cells in :data:`COLUMNS` order), in 顺序号 order."""
    links = batch_links(conn, batch.pcid)
    applicants = applicants_by_id(conn, links, with_current_house=True)
    houses = houses_by_id(conn, [link.fyid for link in links.values()])
    ordered = sorted(applicants.values(), key=lambda applicant: applicant.order_key)
    for number, applicant in enumerate(ordered, start=1):
        link = links[applicant.sqid]
        house = houses.get(link.fyid)
        yield (
            number,
            applicant.name,
            applicant.id_number,
            applicant.certificate,
            applicant.family_size,
            applicant.current_house.address if applicant.current_house else None,
            house.address if house else link.fyid,
            house.area if house else None,
            link.linked_at,
            link.operator_name,
        )
