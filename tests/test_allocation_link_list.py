"""导出清单: the rows of the Excel list of a 调房划拨 batch's links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from soar_ext.allocation import link_list, page
from soar_ext.allocation.records import load_batch
from soar_ext.hook_payloads import ActionRequest
from soar_ext.hooks import allocation
from tests.allocation_builders import add_tenant, adjustment_batch, put_applicant
from tests.host_fixtures import make_context, make_host
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


def test_list_columns_are_the_ones_the_seed_asks_for() -> None:
    assert [c.header for c in link_list.COLUMNS] == [
        "序号",
        "申请人",
        "身份证号",
        "配租资格证号",
        "家庭人数",
        "原房源地址",
        "划拨房源地址/房号",
        "建筑面积（㎡）",
        "关联时间",
        "操作人",
    ]
    assert {c.header: c.kind for c in link_list.COLUMNS}["身份证号"] == "id_number"


def test_rows_list_every_link_in_lottery_order_with_the_original_and_the_new_house(engine) -> None:
    host = make_host([("allocation", allocation)])
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
        late, _ = add_tenant(conn, '=HYPERLINK("x")', size=4, lottery=(2030, 1, 1))
        put_applicant(conn, pcid, late)
        ctx = make_context(conn, host, clock=lambda: NOW)
        for sqid, fyid in ((late, fyids[0]), (sqids[1], fyids[2])):
            result = host.action(ctx, ActionRequest(page.ACTION_LINK, pcid, {"application_id": sqid, "house_id": fyid}))
            assert result.ok, result.message
        rows = list(link_list.link_rows(conn, load_batch(conn, pcid)))
    assert [row[0] for row in rows] == [1, 2]
    first, second = rows
    assert first[1] == "调房户乙1" and second[1] == '=HYPERLINK("x")', (
        "names go out as they are; the writer keeps them text"
    )
    assert len(first[2]) == 18 and "*" not in first[2], "the export module masks by role, not the rows"
    assert first[4] == 2 and second[4] == 4
    assert first[5].startswith("杭州市西湖区文三路88号3幢1单元") and first[6].endswith("室")
    assert first[7] == Decimal("75.00") and first[8] == NOW and first[9] == "王经办"
    assert all(len(row) == len(link_list.COLUMNS) for row in rows)


def test_file_name_carries_the_batch_and_the_day(engine) -> None:
    with engine.begin() as conn:
        pcid, _s, _f = adjustment_batch(conn)
        batch = load_batch(conn, pcid)
    name = link_list.file_name(batch, dt.date(2024, 7, 1))
    assert name.startswith("调房划拨关联清单_测试调房划拨批次") and name.endswith("_20240701.xlsx")
