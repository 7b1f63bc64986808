"""人员信息查询 → 查看详情: SOAR's person search and the person's page (detail view ``person``).

The page shows SOAR's own record (person, family members, applications, contracts) and what
the plugins contribute to ``DetailView("person", ryid, application_id)``, where the application
is the latest of the person's family.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.console import formatting as fmt
from soar_ext.console.detail import detail_contributions
from soar_ext.console.query_screen import OwnColumn, OwnFilter, QuerySpec, prefix, run_query
from soar_ext.console.records import applications_table, contracts_table, members_table
from soar_ext.console.screens import Screen
from soar_ext.console.web import full_ids, query_args, render, runtime, soar_call
from soar_ext.console.widgets import Link
from soar_ext.db.codes import Gender
from soar_ext.db.legacy import applications, family_members, persons
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import DetailView, KeyValues
from soar_ext.idnumber import InvalidIdNumber, normalize_id_number

ENTITY = "person"
r = persons


def person_base() -> Select:
    return select(r.c.ryid, r.c.xm, r.c.sfzh, r.c.xb, r.c.csrq, r.c.lxdh, r.c.gzdw)


def _id_number(stmt: Select, value: str) -> Select:
    try:
        number = normalize_id_number(value, field="身份证号")
    except InvalidIdNumber as exc:
        raise InvalidInput(str(exc)) from None
    return stmt.where(r.c.sfzh == number)


SEARCH = QuerySpec(
    base=person_base,
    key="ryid",
    order_by=lambda: [r.c.xm, r.c.ryid],
    filters=[
        OwnFilter("xm", "姓名", prefix(r.c.xm), placeholder="姓名或姓氏"),
        OwnFilter("sfzh", "身份证号", _id_number, type="id_number", placeholder="18位身份证号"),
    ],
    columns=[
        OwnColumn("姓名", "xm"),
        OwnColumn("性别", show=lambda row, _f: fmt.choice(row["xb"], Gender.LABELS)),
        OwnColumn("身份证号", show=lambda row, full: fmt.id_number(row["sfzh"], full=full)),
        OwnColumn("出生日期", show=lambda row, _f: fmt.date(row["csrq"])),
        OwnColumn("联系电话", show=lambda row, _f: fmt.phone(row["lxdh"])),
        OwnColumn("工作单位", "gzdw"),
    ],
)


def search_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, SEARCH, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    for row in page.rows:
        row.controls = [Link("查看详情", f"/persons/{row.key}")]
    return render(
        request,
        "query.html",
        title="人员信息查询",
        query=page,
        intro="按姓名或身份证号查询人员，点击「查看详情」进入人员页面。",
    )


def family_and_application(conn: Connection, person_id: str) -> tuple[str | None, str | None]:
    """The person's family and that family's latest application (SOAR's rule for 查看详情)."""
    row = conn.execute(
        select(family_members.c.jtid, applications.c.sqid)
        .select_from(family_members.outerjoin(applications, applications.c.jtid == family_members.c.jtid))
        .where(family_members.c.ryid == person_id)
        .order_by(applications.c.sqrq.desc(), applications.c.sqid.desc())
        .limit(1)
    ).first()
    return (row.jtid, row.sqid) if row else (None, None)


def person_blocks(row: Any, *, full: bool) -> KeyValues:
    return KeyValues(
        title="人员信息",
        items=[
            ("姓名", row.xm),
            ("身份证号", fmt.id_number(row.sfzh, full=full)),
            ("性别", fmt.choice(row.xb, Gender.LABELS)),
            ("出生日期", fmt.date(row.csrq)),
            ("联系电话", fmt.phone(row.lxdh)),
            ("户籍地址", fmt.text(row.hjdz)),
            ("工作单位", fmt.text(row.gzdw)),
        ],
    )


def person_page(request: Request) -> Response:
    rt = runtime(request)
    person_id = request.path_params["ryid"]
    full = full_ids(request)
    with soar_call(request) as ctx:
        conn = ctx.connection
        row = conn.execute(select(r).where(r.c.ryid == person_id)).first()
        if row is None:
            raise HTTPException(404, "未找到该人员。")
        family_id, application_id = family_and_application(conn, person_id)
        blocks: list[object] = [person_blocks(row, full=full)]
        if family_id:
            blocks += [
                members_table(conn, family_id, full_ids=full),
                applications_table(conn, family_id),
                contracts_table(conn, family_id),
            ]
        page = detail_contributions(ctx, rt.host, DetailView(ENTITY, person_id, application_id=application_id))
    return render(
        request,
        "record.html",
        title=f"人员详情：{row.xm}",
        blocks=blocks,
        page=page,
        controls=[Link("返回人员信息查询", "/persons")],
    )


SCREENS = (
    Screen(
        key="persons",
        title="人员信息查询",
        path="/persons",
        summary="查询人员并查看详情；扩展功能（如核查）在人员详情页上提供。",
        routes=(Route("/persons", search_page), Route("/persons/{ryid}", person_page)),
    ),
)
