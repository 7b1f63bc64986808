"""export_workbook: role check first, full IDs by role, the file in the result, every attempt audited."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from soar_ext import hookimpl, roles
from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.audit import AuditEvent, MemoryAuditSink
from soar_ext.clock import FixedClock
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.errors import InvalidInput, PermissionDenied
from soar_ext.export.audited import download_name, export_workbook
from soar_ext.export.xlsx import XLSX_CONTENT_TYPE, Column, ExportDataError, SheetSpec
from soar_ext.hook_payloads import ActionRequest, ActionResult
from soar_ext.idnumber import check_char
from tests.export_readers import assert_no_formulas, calamine_sheets
from tests.host_fixtures import make_context, make_host

ID_A = "33010619850312123" + check_char("33010619850312123")
AT = dt.datetime(2024, 6, 30, 10, 0)
COLUMNS = [Column("序号", "integer"), Column("申请人"), Column("身份证号", "id_number")]


def context(*granted: str, audit: MemoryAuditSink | None = None) -> SoarContext:
    config = Config()
    return SoarContext(
        operator=Operator(id="u042", name="李导出", roles=frozenset(granted)),
        connection=None,  # type: ignore[arg-type]  # an export reads no database
        config=config,
        adapters=AdapterRegistry(config),
        audit=audit or MemoryAuditSink(),
        clock=FixedClock(AT),
    )


def sheets() -> list[SheetSpec]:
    rows = [(1, "张三", ID_A), (2, '=HYPERLINK("x")', None), (3, "王五", ID_A)]
    return [SheetSpec("划拨清单", COLUMNS, rows), SheetSpec("汇总", [Column("人数", "integer")], [(3,)])]


def only_event(ctx: SoarContext) -> AuditEvent:
    (event,) = ctx.audit.events  # type: ignore[attr-defined]
    return event


def test_export_returns_the_workbook_and_audits_row_counts() -> None:
    ctx = context(roles.EXPORTER)

    result = export_workbook(
        ctx, file_name="划拨清单", purpose="调房划拨清单导出", sheets=sheets(), detail={"batch_id": "PC001"}
    )

    assert result.ok and result.file_name == "划拨清单.xlsx" and result.content_type == XLSX_CONTENT_TYPE
    assert result.message == "已导出「划拨清单.xlsx」，共 4 行（划拨清单 3 行，汇总 1 行），身份证号已脱敏。"
    read = calamine_sheets(result.file_bytes)
    assert read["划拨清单"][1] == [1.0, "张三", ID_A[:6] + "********" + ID_A[14:]]
    assert read["划拨清单"][2][1] == '=HYPERLINK("x")'
    assert_no_formulas(result.file_bytes)
    event = only_event(ctx)
    assert (event.action, event.operator_id, event.purpose, event.result_status) == (
        "export.excel",
        "u042",
        "调房划拨清单导出",
        "ok",
    )
    assert event.interfaces == ("excel",) and event.at == AT
    assert event.detail == {
        "batch_id": "PC001",
        "file_name": "划拨清单.xlsx",
        "rows": 4,
        "sheets": {"划拨清单": 3, "汇总": 1},
        "full_ids": False,
        "cleaned_cells": 0,
        "clipped_cells": 0,
    }


def test_full_id_role_gets_full_id_numbers_and_the_audit_says_so() -> None:
    ctx = context(roles.EXPORTER, roles.FULL_ID)

    result = export_workbook(ctx, file_name="清单.XLSX", purpose="导出", sheets=sheets())

    assert calamine_sheets(result.file_bytes)["划拨清单"][1][2] == ID_A
    assert "含完整身份证号" in result.message and result.file_name == "清单.xlsx"
    assert only_event(ctx).detail["full_ids"] is True
    assert roles.LABELS[roles.FULL_ID] == "查看完整身份证号"


def test_export_without_the_role_is_refused_before_any_row_is_read_and_audited() -> None:
    ctx = context(roles.CLERK, roles.FULL_ID)
    pulled: list[int] = []

    def rows() -> Iterator[tuple[object, ...]]:
        pulled.append(1)
        yield (1, "张三", ID_A)

    with pytest.raises(PermissionDenied, match=re.escape("您没有「数据导出」权限，不能导出「清单.xlsx」")):
        export_workbook(ctx, file_name="清单", purpose="导出", sheets=[SheetSpec("清单", COLUMNS, rows())])

    assert pulled == []
    event = only_event(ctx)
    assert event.result_status == "denied" and event.detail["required_role"] == roles.EXPORTER


def test_a_feature_can_require_its_own_role_and_name_its_audit_action() -> None:
    refused = context(roles.EXPORTER)
    with pytest.raises(PermissionDenied, match="批量核查人员"):
        export_workbook(
            refused, file_name="核查", purpose="户籍核查导出", sheets=sheets(), required_role=roles.BATCH_CHECKER
        )

    ctx = context(roles.BATCH_CHECKER)
    export_workbook(
        ctx,
        file_name="核查",
        purpose="户籍核查导出",
        sheets=sheets(),
        required_role=roles.BATCH_CHECKER,
        action="hukou_check.export",
    )
    assert only_event(ctx).action == "hukou_check.export"


def test_admin_may_export_with_full_ids() -> None:
    ctx = context(roles.ADMIN)

    result = export_workbook(ctx, file_name="清单", purpose="导出", sheets=sheets())

    assert calamine_sheets(result.file_bytes)["划拨清单"][1][2] == ID_A


def test_bad_rows_return_nothing_and_are_audited_as_an_error() -> None:
    ctx = context(roles.EXPORTER)
    bad = [SheetSpec("清单", COLUMNS, [(1, "张三", ID_A), ("二", "李四", None)])]

    with pytest.raises(ExportDataError, match="工作表「清单」第 2 行数据「序号」列"):
        export_workbook(ctx, file_name="清单", purpose="导出", sheets=bad)

    event = only_event(ctx)
    assert event.result_status == "error" and "第 2 行数据" in str(event.detail["error"])


def test_an_export_that_cannot_be_audited_is_not_handed_out() -> None:
    class BrokenSink(MemoryAuditSink):
        def record(self, event: AuditEvent) -> None:
            raise RuntimeError("audit store unavailable")

    with pytest.raises(RuntimeError, match="audit store unavailable"):
        export_workbook(context(roles.EXPORTER, audit=BrokenSink()), file_name="清单", purpose="导出", sheets=sheets())


def test_purpose_is_required() -> None:
    ctx = context(roles.EXPORTER)
    with pytest.raises(InvalidInput, match="导出用途"):
        export_workbook(ctx, file_name="清单", purpose=" ", sheets=sheets())
    assert ctx.audit.events == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("given", "offered"),
    [
        ("划拨清单", "划拨清单.xlsx"),
        ("划拨清单.xlsx", "划拨清单.xlsx"),
        ("../../etc/清单", "_.._etc_清单.xlsx"),
        ('a:b*c?"d<e>f|g\\h', "a_b_c__d_e_f_g_h.xlsx"),
        ("  ", "导出.xlsx"),
        ("长" * 300, "长" * 100 + ".xlsx"),
    ],
)
def test_download_names_are_safe(given: str, offered: str) -> None:
    assert download_name(given) == offered


class ExportingPlugin:
    """A plugin whose 导出清单 action exports through the one export module."""

    @hookimpl
    def soar_action(self, ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
        if request.key != "demo.export":
            return None
        bad = bool(request.params.get("bad"))
        rows = [(1, "张三", ID_A), ("二" if bad else 2, "李四", None)]
        return export_workbook(ctx, file_name="清单", purpose="导出", sheets=[SheetSpec("清单", COLUMNS, rows)])


@pytest.mark.parametrize(
    ("granted", "params", "ok", "message"),
    [
        ({roles.CLERK}, {}, False, "您没有「数据导出」权限，不能导出「清单.xlsx」。请联系系统管理员开通。"),
        ({roles.EXPORTER}, {}, True, "已导出「清单.xlsx」，共 2 行（清单 2 行），身份证号已脱敏。"),
        ({roles.EXPORTER}, {"bad": 1}, False, "工作表「清单」第 2 行数据「序号」列：应为整数，实际为 str '二'"),
    ],
)
def test_a_plugin_action_exports_through_the_host(granted: set[str], params: dict, ok: bool, message: str) -> None:
    host = make_host([("demo_export", ExportingPlugin())])
    operator = Operator(id="u042", name="李导出", roles=frozenset(granted))
    with create_engine("sqlite://").connect() as conn:  # the host runs each plugin in a savepoint
        ctx = make_context(conn, host, operator=operator)
        result = host.action(ctx, ActionRequest(key="demo.export", params=params, plugin="demo_export"))

    assert (result.ok, result.message) == (ok, message)
    assert (result.file_bytes is not None) == ok
    assert [event.result_status for event in ctx.audit.events] == [  # type: ignore[attr-defined]
        "ok" if ok else ("denied" if not params else "error")
    ]
