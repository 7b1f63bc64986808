"""导出清单: the rows of the Excel list of a 调房划拨 batch's links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from soar_ext.allocation import link_list, page
from soar_ext.allocation.records import applicants_by_id, load_batch
from soar_ext.context import Operator
from soar_ext.db.codes import AllocationKind
from soar_ext.hook_payloads import ActionRequest
from soar_ext.hooks import allocation
from tests.allocation_builders import add_batch, add_tenant, adjustment_batch, put_applicant
from tests.export_readers import assert_no_formulas, calamine_sheets
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


# ---------------------------------------------------------------------------------- 导出清单 through the host

EXPORTER = Operator(id="u002", name="赵导出", roles=frozenset({"clerk", "exporter"}))
CHIEF = Operator(id="u003", name="陈科长", roles=frozenset({"clerk", "exporter", "full_id"}))
FORMULA_LIKE = ('=HYPERLINK("http://x","点我")', "+86 李四", "@SUM(A1)")


def _linked_batch(engine, host) -> tuple[str, list[str]]:
    """A batch whose three applicants (with formula-looking names) are linked; returns (pcid, their ID numbers)."""
    with engine.begin() as conn:
        pcid, _sqids, fyids = adjustment_batch(conn, applicants=0)
        numbers = []
        for n, (name, fyid) in enumerate(zip(FORMULA_LIKE, fyids, strict=True)):
            sqid, _ = add_tenant(conn, name, size=n + 1, lottery=(2020, 1, n + 1))
            put_applicant(conn, pcid, sqid)
            numbers.append(applicants_by_id(conn, [sqid])[sqid].id_number)
            result = host.action(
                make_context(conn, host, clock=lambda: NOW),
                ActionRequest(page.ACTION_LINK, pcid, {"application_id": sqid, "house_id": fyid}, plugin="allocation"),
            )
            assert result.ok, result.message
    return pcid, numbers


def _export(engine, host, pcid: str, operator: Operator, events: list | None = None):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        ctx = make_context(conn, host, operator=operator, clock=lambda: NOW)
        result = host.action(ctx, ActionRequest(page.ACTION_EXPORT, pcid, {}, plugin="allocation"))
        if events is not None:
            events.extend(ctx.audit.events)  # type: ignore[attr-defined]
        return result


def test_exported_list_read_back_independently_has_every_link_and_no_formula(engine) -> None:
    host = make_host([("allocation", allocation)])
    pcid, numbers = _linked_batch(engine, host)
    events: list = []
    result = _export(engine, host, pcid, EXPORTER, events)
    assert result.ok and result.file_name.startswith("调房划拨关联清单_测试调房划拨批次") and result.file_bytes
    assert "3" in result.message
    sheets = calamine_sheets(result.file_bytes)
    (rows,) = sheets.values()
    header, *data = rows
    assert header == [c.header for c in link_list.COLUMNS]
    assert len(data) == 3
    assert [row[1] for row in data] == list(FORMULA_LIKE), "formula-looking names come back as the same text"
    assert [row[0] for row in data] == [1.0, 2.0, 3.0] and [row[4] for row in data] == [1.0, 2.0, 3.0]
    for row, number in zip(data, numbers, strict=True):
        assert row[2] == number[:6] + "*" * 8 + number[14:], "masked for an operator without 查看完整身份证号"
        assert row[5].startswith("杭州市西湖区文三路88号3幢1单元") and row[6].endswith("室")
        assert row[7] in (45.0, 60.0, 75.0) and row[9] == "王经办"
    assert_no_formulas(result.file_bytes)
    (event,) = [e for e in events if e.action == "allocation.export"]
    assert event.result_status == "ok" and event.detail["batch_id"] == pcid and event.operator_id == "u002"


def test_an_operator_allowed_full_id_numbers_gets_them(engine) -> None:
    host = make_host([("allocation", allocation)])
    pcid, numbers = _linked_batch(engine, host)
    (rows,) = calamine_sheets(_export(engine, host, pcid, CHIEF).file_bytes).values()
    assert [row[2] for row in rows[1:]] == numbers


def test_export_needs_the_export_role_and_links(engine) -> None:
    host = make_host([("allocation", allocation)])
    pcid, _numbers = _linked_batch(engine, host)
    refused = _export(engine, host, pcid, Operator(id="u001", name="王经办", roles=frozenset({"clerk"})))
    assert not refused.ok and "您没有「数据导出」权限" in refused.message and refused.file_bytes is None
    with engine.begin() as conn:
        empty, _s, _f = adjustment_batch(conn)
        selection = add_batch(conn, AllocationKind.SELECTION)
    nothing = _export(engine, host, empty, EXPORTER)
    assert not nothing.ok and "尚无申请人与房源的关联" in nothing.message
    wrong = _export(engine, host, selection, EXPORTER)
    assert not wrong.ok and "只用于调房划拨批次" in wrong.message
