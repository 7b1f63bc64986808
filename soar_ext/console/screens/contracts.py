"""合同签订: SOAR's list of draft contracts (``TPG_ZLHT``), the contract page and signing.

Signing is SOAR's workflow: read the draft, ask ``SoarHost.pre_contract``, and only when the
decision allows it write 已签订 (with the decided deposit). The decision is shown as it came
back — every plugin's message, the deposit, the checks that blocked, the trial-operation notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select, update
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.console import formatting as fmt
from soar_ext.console.blocks import Flash
from soar_ext.console.query_screen import OwnColumn, OwnFilter, QuerySpec, choice_filter, prefix, run_query
from soar_ext.console.records import house_label, members_table
from soar_ext.console.screens import Screen
from soar_ext.console.web import full_ids, post_route, query_args, record_page, redirect, render, runtime, soar_call
from soar_ext.console.widgets import Link, PostButton
from soar_ext.db.codes import ContractStatus, ContractType
from soar_ext.db.legacy import contracts, exchange_pairings, families, houses, housing_projects, persons
from soar_ext.errors import InvalidInput, NotFound
from soar_ext.hook_payloads import ContractDecision, ContractDraft, KeyValues, Notice, Section

c, f, p, h, x, e = contracts, families, persons, houses, housing_projects, exchange_pairings


def _joined() -> Any:
    return (
        c.join(f, f.c.jtid == c.c.jtid)
        .join(p, p.c.ryid == f.c.sqrid)
        .outerjoin(h, h.c.fyid == c.c.fyid)
        .outerjoin(x, x.c.xmid == h.c.xmid)
        .outerjoin(e, e.c.pdid == c.c.hfpdid)
    )


def _columns() -> list[Any]:
    return [
        c.c.htid,
        c.c.htcode,
        c.c.pzlx,
        c.c.htzt,
        c.c.yj,
        c.c.yjjmbz,
        c.c.yjjmyy,
        c.c.yzj,
        c.c.htksrq,
        c.c.htjsrq,
        c.c.qdrq,
        c.c.czyid,
        c.c.jtid,
        c.c.sqid,
        c.c.fyid,
        c.c.hfpdid,
        p.c.xm.label("sqrxm"),
        p.c.sfzh.label("sqrsfzh"),
        x.c.xmmc,
        h.c.lh,
        h.c.dy,
        h.c.fh,
        e.c.pdbh,
    ]


def draft_contracts() -> Select:
    """SOAR's 合同签订 list: contracts waiting to be signed."""
    return select(*_columns()).select_from(_joined()).where(c.c.htzt == ContractStatus.DRAFT)


LIST = QuerySpec(
    base=draft_contracts,
    key="htid",
    order_by=lambda: [c.c.htcode],
    filters=[
        OwnFilter("htcode", "合同编号", prefix(c.c.htcode, upper=True), placeholder="编号或开头部分"),
        choice_filter("pzlx", "配租类型", c.c.pzlx, ContractType.LABELS),
        OwnFilter("sqrxm", "主申请人", prefix(p.c.xm), placeholder="姓名或姓氏"),
    ],
    columns=[
        OwnColumn("合同编号", "htcode"),
        OwnColumn("配租类型", show=lambda r, _f: fmt.choice(r["pzlx"], ContractType.LABELS)),
        OwnColumn("主申请人", "sqrxm"),
        OwnColumn("身份证号", show=lambda r, full: fmt.id_number(r["sqrsfzh"], full=full)),
        OwnColumn("房源", show=lambda r, _f: house_label(r)),
        OwnColumn("押金（元）", show=lambda r, _f: fmt.money(r["yj"])),
        OwnColumn("换房配对", "pdbh"),
        OwnColumn("合同期限", show=lambda r, _f: f"{fmt.date(r['htksrq'])} 至 {fmt.date(r['htjsrq'])}"),
    ],
)


def sign_button(htid: str, code: str) -> PostButton:
    return PostButton("签订", f"/contracts/{htid}/sign", confirm=f"确认签订合同 {code}？")


def list_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, LIST, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    for row in page.rows:
        row.controls = [sign_button(row.key, row.raw["htcode"]), Link("详情", f"/contracts/{row.key}")]
    return render(request, "query.html", title="合同签订", query=page, intro=INTRO)


INTRO = "待签订的租赁合同。点击「签订」时，SOAR 先调用签约前校验（押金减免、换房验房等），校验通过才写入「已签订」。"


def _contract(conn: Any, htid: str) -> Mapping[str, Any]:
    row = conn.execute(select(*_columns()).select_from(_joined()).where(c.c.htid == htid)).mappings().first()
    if row is None:
        raise NotFound(f"未找到合同（ID {htid}）。")
    return row


def contract_blocks(row: Mapping[str, Any], *, full: bool) -> KeyValues:
    waived = {1: "减免", 0: "不减免"}.get(row["yjjmbz"], fmt.EMPTY) if row["yjjmbz"] is not None else fmt.EMPTY
    return KeyValues(
        title="合同信息",
        items=[
            ("合同编号", row["htcode"]),
            ("合同状态", fmt.choice(row["htzt"], ContractStatus.LABELS)),
            ("配租类型", fmt.choice(row["pzlx"], ContractType.LABELS)),
            ("主申请人", f"{row['sqrxm']}（{fmt.id_number(row['sqrsfzh'], full=full)}）"),
            ("房源", house_label(row)),
            ("换房配对", fmt.text(row["pdbh"])),
            ("月租金（元）", fmt.money(row["yzj"])),
            ("押金（元）", fmt.money(row["yj"])),
            ("押金减免", waived),
            ("减免原因", fmt.text(row["yjjmyy"])),
            ("合同期限", f"{fmt.date(row['htksrq'])} 至 {fmt.date(row['htjsrq'])}"),
            ("签订时间", fmt.datetime(row["qdrq"])),
            ("经办人", fmt.text(row["czyid"])),
        ],
    )


def contract_page(request: Request) -> Response:
    htid = request.path_params["htid"]
    full = full_ids(request)
    with record_page(request) as ctx:
        row = _contract(ctx.connection, htid)
        blocks = [contract_blocks(row, full=full), members_table(ctx.connection, row["jtid"], full_ids=full)]
    controls = [sign_button(htid, row["htcode"])] if row["htzt"] == ContractStatus.DRAFT else []
    return render(
        request,
        "record.html",
        title=f"合同 {row['htcode']}",
        blocks=blocks,
        controls=[*controls, Link("返回合同签订", "/contracts")],
    )


def decision_flash(code: str, decision: ContractDecision, labels: Mapping[str, str]) -> Flash:
    """How SOAR shows the facade's decision: the outcome, every message, the deposit, trial notes."""
    tone = "info" if decision.allowed else "error"
    blocks: list[object] = [
        Notice(f"合同 {code} 已签订。", "ok") if decision.allowed else Notice(f"合同 {code} 未能签订。", "error"),
        *(Notice(message, tone) for message in decision.messages),  # type: ignore[arg-type]
    ]
    items: list[tuple[str, str]] = []
    if decision.deposit is not None:
        items.append(("押金", f"{fmt.money(decision.deposit)} 元"))
    if decision.needs_recheck:
        items.append(("待复核", "是（判断依据不完整，已标记复核）"))
    if decision.blocked_by:
        items.append(("未通过的校验", "、".join(labels.get(name, name) for name in decision.blocked_by)))
    if items:
        blocks.append(KeyValues(items=items, title="签约前校验结果"))
    if decision.shadow_notes:
        notes = [Notice(note, "muted") for note in decision.shadow_notes]
        blocks.append(Section("试运行提示（仅供核对，不影响本次办理）", notes))  # type: ignore[arg-type]
    return Flash(blocks=blocks, title="合同签订")


def sign(request: Request, form: FormData) -> Response:
    """SOAR's 签订: pre-contract checks through the host, then SOAR's own write of 已签订."""
    rt = runtime(request)
    htid = request.path_params["htid"]
    with soar_call(request) as ctx:
        row = _contract(ctx.connection, htid)
        if row["htzt"] != ContractStatus.DRAFT:
            state = fmt.choice(row["htzt"], ContractStatus.LABELS)
            raise InvalidInput(f"合同 {row['htcode']} 当前状态为「{state}」，不能再次签订。")
        draft = ContractDraft(
            contract_id=htid,
            contract_type=row["pzlx"],
            family_id=row["jtid"],
            application_id=row["sqid"],
            house_id=row["fyid"],
            exchange_pairing_id=row["hfpdid"],
            deposit=Decimal(row["yj"]) if row["yj"] is not None else None,
            contract_code=row["htcode"],
        )
        decision = rt.host.pre_contract(ctx, draft)
        if decision.allowed:
            values: dict[str, Any] = {"htzt": ContractStatus.SIGNED, "qdrq": ctx.now(), "czyid": ctx.operator.id}
            if decision.deposit is not None:
                values["yj"] = decision.deposit
            ctx.connection.execute(update(c).where(c.c.htid == htid, c.c.htzt == ContractStatus.DRAFT).values(**values))
    return redirect(request, f"/contracts/{htid}", [decision_flash(row["htcode"], decision, rt.plugin_labels())])


SCREENS = (
    Screen(
        key="contracts",
        title="合同签订",
        path="/contracts",
        summary="待签订合同的签订；签约前的押金减免、换房验房等校验结果在此显示。",
        routes=(
            Route("/contracts", list_page),
            Route("/contracts/{htid}", contract_page),
            post_route("/contracts/{htid}/sign", sign),
        ),
    ),
)
