"""换房平台: the inspection list (``exchange.inspection``) with 验房确认, and 换房业务查询 (``exchange.business``).

SOAR's side: the base selects over ``TPG_HFPD`` (applicant and partner by their main
applicants), its own filters and columns, newest pairings first (``pdcgsj DESC, pdid DESC``,
served by ``ix_sx_hfpd_pdcgsj``). Plugins add filters, columns and exclusions through the query
hooks; 验房确认 is the exchange-inspection plugin's action, which SOAR's inspection screen offers
on every row while that plugin is active.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.console import formatting as fmt
from soar_ext.console.query_screen import (
    OwnColumn,
    OwnFilter,
    QuerySpec,
    choice_filter,
    district_filter,
    prefix,
    run_query,
)
from soar_ext.console.screens import Screen
from soar_ext.console.web import full_ids, query_args, render, runtime, soar_call
from soar_ext.console.widgets import PluginAction
from soar_ext.db.codes import ExchangeKind, InspectionStatus, PairingStatus
from soar_ext.db.legacy import exchange_pairings, families, inspections, persons
from soar_ext.hook_payloads import ActionButton, Badge, InputField

SCREEN_INSPECTION = "exchange.inspection"
SCREEN_BUSINESS = "exchange.business"
INSPECTION_PLUGIN = "exchange_inspection"
CONFIRM_ACTION = "exchange_inspection.confirm"

p, i = exchange_pairings, inspections
fa, pa = families.alias("fa"), persons.alias("pa")
fb, pb = families.alias("fb"), persons.alias("pb")

STATUS_TONES = {InspectionStatus.PENDING: "warn", InspectionStatus.PASSED: "ok", InspectionStatus.FAILED: "error"}


def _pairing_columns() -> list[Any]:
    return [
        p.c.pdid,
        p.c.pdbh,
        p.c.hflx,
        p.c.pdzt,
        p.c.pdcgsj,
        p.c.qx,
        pa.c.xm.label("sqfxm"),
        pb.c.xm.label("dfxm"),
    ]


def _pairing_from() -> Any:
    return (
        p.join(fa, fa.c.jtid == p.c.sqfjtid)
        .join(pa, pa.c.ryid == fa.c.sqrid)
        .outerjoin(fb, fb.c.jtid == p.c.dfjtid)
        .outerjoin(pb, pb.c.ryid == fb.c.sqrid)
    )


def inspection_base() -> Select:
    """SOAR's 验房 list: successfully paired exchanges with the platform's inspection record."""
    return (
        select(*_pairing_columns(), i.c.yfzt, i.c.yfjg, i.c.yfry, i.c.yfqrsj)
        .select_from(_pairing_from().outerjoin(i, i.c.pdid == p.c.pdid))
        .where(p.c.pdzt == PairingStatus.MATCHED)
    )


def business_base() -> Select:
    """SOAR's 换房业务查询: every pairing."""
    return select(*_pairing_columns()).select_from(_pairing_from())


def _newest_first() -> list[Any]:
    return [p.c.pdcgsj.desc(), p.c.pdid.desc()]


def _status_badge(row: Any, _full: bool) -> Badge | str:
    code = row["yfzt"] or InspectionStatus.PENDING
    return Badge(InspectionStatus.LABELS.get(code, code), STATUS_TONES.get(code, "info"))  # type: ignore[arg-type]


_CODE = OwnFilter("pdbh", "配对编号", prefix(p.c.pdbh, upper=True), placeholder="编号或开头部分")
_DISTRICT = district_filter(p.c.qx)
_PAIRING_COLUMNS = [
    OwnColumn("配对编号", "pdbh"),
    OwnColumn("换房类型", show=lambda r, _f: fmt.choice(r["hflx"], ExchangeKind.LABELS)),
    OwnColumn("申请方", "sqfxm"),
    OwnColumn("对方", "dfxm"),
    OwnColumn("配对成功时间", show=lambda r, _f: fmt.datetime(r["pdcgsj"])),
    OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
]

INSPECTION = QuerySpec(
    screen=SCREEN_INSPECTION,
    base=inspection_base,
    key="pdid",
    order_by=_newest_first,
    filters=[_CODE, _DISTRICT],
    columns=[
        *_PAIRING_COLUMNS,
        OwnColumn("验房状态", show=_status_badge),
        OwnColumn("验房结果说明", "yfjg"),
        OwnColumn("验房人员", "yfry"),
        OwnColumn("验房确认时间", show=lambda r, _f: fmt.datetime(r["yfqrsj"])),
    ],
)

BUSINESS = QuerySpec(
    screen=SCREEN_BUSINESS,
    base=business_base,
    key="pdid",
    order_by=_newest_first,
    filters=[
        _CODE,
        choice_filter("hflx", "换房类型", p.c.hflx, ExchangeKind.LABELS),
        choice_filter("pdzt", "配对状态", p.c.pdzt, PairingStatus.LABELS),
        _DISTRICT,
    ],
    columns=[
        *_PAIRING_COLUMNS[:2],
        OwnColumn("配对状态", show=lambda r, _f: fmt.choice(r["pdzt"], PairingStatus.LABELS)),
        *_PAIRING_COLUMNS[2:],
    ],
)


def confirm_action(pairing_id: str) -> PluginAction:
    """验房确认 on one pairing: the exchange-inspection plugin's action."""
    return PluginAction(
        ActionButton(
            key=CONFIRM_ACTION,
            label="验房确认",
            target=pairing_id,
            inputs=(
                InputField(
                    "result",
                    "验房结果",
                    "choice",
                    required=True,
                    choices={InspectionStatus.PASSED: "验房通过", InspectionStatus.FAILED: "验房不通过"},
                ),
                InputField("remarks", "验房结果说明", "text", max_length=200, placeholder="不超过200字"),
            ),
        ),
        INSPECTION_PLUGIN,
    )


TABS = (("验房", "/exchange"), ("换房业务查询", "/exchange/business"))


def _tabs(active: str) -> list[tuple[str, str, bool]]:
    return [(label, href, href == active) for label, href in TABS]


def inspection_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, INSPECTION, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    if rt.plugin_active(INSPECTION_PLUGIN):
        for row in page.rows:
            if row.raw["hflx"] != ExchangeKind.UNALLOCATED:
                row.controls = [confirm_action(row.key)]
    return render(
        request,
        "query.html",
        title="换房平台",
        query=page,
        tabs=_tabs("/exchange"),
        intro="配对成功的换房申请及其验房记录。验房人员核验房屋后，在对应配对上选择验房结果并点击「验房确认」。",
    )


def business_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, BUSINESS, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    return render(
        request,
        "query.html",
        title="换房平台",
        query=page,
        tabs=_tabs("/exchange/business"),
        intro="换房业务查询：按配对编号、换房类型、配对状态等条件查询换房配对。",
    )


SCREENS = (
    Screen(
        key="exchange",
        title="换房平台",
        path="/exchange",
        summary="验房列表与验房确认；换房业务查询（含验房状态、是否已签合同等条件）。",
        routes=(Route("/exchange", inspection_page), Route("/exchange/business", business_page)),
    ),
)
