"""SOAR's own reads that several screens show: a family's members, a house's label, a person's name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from soar_ext.console import formatting as fmt
from soar_ext.db.codes import ApprovalStatus, ContractStatus, ContractType, GuaranteeType, Relation
from soar_ext.db.legacy import applications, contracts, family_members, persons
from soar_ext.hook_payloads import Badge, Table, TableRow


def _suffixed(value: Any, suffix: str) -> str:
    if not value:
        return ""
    text = str(value)
    return text if text.endswith(suffix) else text + suffix


def house_label(row: Mapping[str, Any], prefix: str = "") -> str:
    """``项目名 3幢2单元1201`` from ``xmmc``/``lh``/``dy``/``fh`` (with an optional label prefix)."""
    name = row.get(f"{prefix}xmmc")
    if not name:
        return fmt.EMPTY
    building, unit, room = row.get(f"{prefix}lh"), row.get(f"{prefix}dy"), row.get(f"{prefix}fh")
    parts = [_suffixed(building, "幢"), _suffixed(unit, "单元"), room or ""]
    return f"{name} {''.join(parts)}".strip()


def members_table(conn: Connection, family_id: str, *, full_ids: bool, title: str = "家庭成员") -> Table:
    stmt = (
        select(
            persons.c.ryid,
            persons.c.xm,
            persons.c.sfzh,
            persons.c.xb,
            persons.c.csrq,
            family_members.c.ysqrgx,
            family_members.c.sfzsqr,
        )
        .join(persons, persons.c.ryid == family_members.c.ryid)
        .where(family_members.c.jtid == family_id)
        .order_by(family_members.c.ysqrgx, persons.c.ryid)
    )
    rows = [
        TableRow(
            cells=[
                r.xm,
                fmt.choice(r.ysqrgx, Relation.LABELS),
                fmt.id_number(r.sfzh, full=full_ids),
                fmt.choice(r.xb, {"1": "男", "2": "女"}),
                fmt.date(r.csrq),
                Badge("主申请人", "info") if r.sfzsqr == 1 else "",
            ],
            key=r.ryid,
        )
        for r in conn.execute(stmt)
    ]
    return Table(columns=["姓名", "与主申请人关系", "身份证号", "性别", "出生日期", ""], rows=rows, title=title)


def applications_table(conn: Connection, family_id: str) -> Table:
    stmt = (
        select(
            applications.c.pzzgzh,
            applications.c.bzlx,
            applications.c.spzt,
            applications.c.sqrq,
            applications.c.bjrq,
            applications.c.qx,
        )
        .where(applications.c.jtid == family_id)
        .order_by(applications.c.sqrq.desc(), applications.c.sqid)
    )
    rows = [
        TableRow(
            cells=[
                fmt.text(r.pzzgzh),
                fmt.choice(r.bzlx, GuaranteeType.LABELS),
                fmt.choice(r.spzt, ApprovalStatus.LABELS),
                fmt.date(r.sqrq),
                fmt.date(r.bjrq),
                fmt.district(r.qx),
            ]
        )
        for r in conn.execute(stmt)
    ]
    return Table(
        columns=["配租资格证号", "保障类型", "审批状态", "申请日期", "办结日期", "受理区县"],
        rows=rows,
        title="申请记录",
    )


def contracts_table(conn: Connection, family_id: str) -> Table:
    stmt = (
        select(
            contracts.c.htid,
            contracts.c.htcode,
            contracts.c.pzlx,
            contracts.c.htzt,
            contracts.c.yj,
            contracts.c.htksrq,
            contracts.c.htjsrq,
        )
        .where(contracts.c.jtid == family_id)
        .order_by(contracts.c.htksrq.desc(), contracts.c.htid)
    )
    rows = [
        TableRow(
            cells=[
                r.htcode,
                fmt.choice(r.pzlx, ContractType.LABELS),
                fmt.choice(r.htzt, ContractStatus.LABELS),
                fmt.money(r.yj),
                f"{fmt.date(r.htksrq)} 至 {fmt.date(r.htjsrq)}",
            ],
            key=r.htid,
        )
        for r in conn.execute(stmt)
    ]
    return Table(columns=["合同编号", "配租类型", "合同状态", "押金（元）", "合同期限"], rows=rows, title="租赁合同")
