"""房源查询 (``housing.query``): SOAR's base select over ``TPG_FYXX`` joined to ``TPG_FYXM``."""

from __future__ import annotations

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
    contains,
    district_filter,
    run_query,
)
from soar_ext.console.screens import Screen
from soar_ext.console.web import full_ids, query_args, render, runtime, soar_call
from soar_ext.db.codes import HouseStatus
from soar_ext.db.legacy import houses, housing_projects

SCREEN = "housing.query"
hs, pj = houses, housing_projects


def housing_base() -> Select:
    return select(
        hs.c.fyid, hs.c.lh, hs.c.dy, hs.c.fh, hs.c.jzmj, hs.c.hx, hs.c.fyzt, hs.c.yzj, pj.c.xmbh, pj.c.xmmc, pj.c.qx
    ).select_from(hs.join(pj, pj.c.xmid == hs.c.xmid))


LAYOUTS = {name: name for name in ("一室一厅", "两室一厅", "两室两厅", "三室一厅")}

QUERY = QuerySpec(
    screen=SCREEN,
    base=housing_base,
    key="fyid",
    order_by=lambda: [hs.c.fyid],
    filters=[
        OwnFilter("xmmc", "项目名称", contains(pj.c.xmmc), placeholder="名称中的文字"),
        district_filter(pj.c.qx),
        choice_filter("fyzt", "房源状态", hs.c.fyzt, HouseStatus.LABELS),
        choice_filter("hx", "户型", hs.c.hx, LAYOUTS),
    ],
    columns=[
        OwnColumn("项目编号", "xmbh"),
        OwnColumn("项目名称", "xmmc"),
        OwnColumn("楼号", "lh"),
        OwnColumn("单元", "dy"),
        OwnColumn("房号", "fh"),
        OwnColumn("建筑面积（㎡）", show=lambda r, _f: fmt.money(r["jzmj"])),
        OwnColumn("户型", "hx"),
        OwnColumn("房源状态", show=lambda r, _f: fmt.choice(r["fyzt"], HouseStatus.LABELS)),
        OwnColumn("月租金（元）", show=lambda r, _f: fmt.money(r["yzj"])),
        OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
    ],
)


def query_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, QUERY, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    return render(request, "query.html", title="房源查询", query=page, intro="按项目、区县、房源状态和户型查询房源。")


SCREENS = (
    Screen(
        key="housing",
        title="房源查询",
        path="/housing",
        summary="房源查询；扩展功能可增加查询条件和结果列（如是否已划拨）。",
        routes=(Route("/housing", query_page),),
    ),
)
