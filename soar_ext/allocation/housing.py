"""房源查询 是否已划拨: whether a house has been allocated (划拨), defined in one place.

A house is allocated (已划拨) when an allocation batch that was not cancelled (已撤销) lists it among
its houses (``TPG_HBFY``): the batch is open (办理中) or completed (已办结). The filter and the
result column of the housing query both use :func:`allocation_records`, so they always agree.
Served by the legacy index on ``TPG_HBFY.FYID`` and the batch's primary key.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Select, exists, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from soar_ext.db.codes import AllocationBatchStatus
from soar_ext.db.legacy import allocation_batches, allocation_houses, houses

YES, NO = "1", "0"
ALLOCATED_CHOICES: Mapping[str, str] = {YES: "是", NO: "否"}


def allocation_records(fyid: ColumnElement[str] = houses.c.fyid) -> Select:
    """The allocation records of the house ``fyid`` (correlated): its rows in batches not cancelled."""
    return (
        select(literal(YES))
        .select_from(allocation_houses.join(allocation_batches, allocation_batches.c.pcid == allocation_houses.c.pcid))
        .where(allocation_houses.c.fyid == fyid, allocation_batches.c.pczt != AllocationBatchStatus.CANCELLED)
    )


def allocated_condition(allocated: bool) -> ColumnElement[bool]:
    """WHERE condition: the house is (or is not) allocated."""
    found = exists(allocation_records())
    return found if allocated else ~found


def allocated_flag() -> ColumnElement[str]:
    """是否已划拨 as ``'1'`` / ``'0'``: a correlated scalar lookup, evaluated only for the rows of a page.

    (``CASE WHEN EXISTS`` may be planned as a hashed subplan reading all of ``TPG_HBFY``.)
    """
    first = allocation_records().with_only_columns(func.max(literal(YES))).scalar_subquery()
    return func.coalesce(first, literal(NO))
