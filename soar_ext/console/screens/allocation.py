"""调房划拨 and 选房划拨: SOAR's allocation batches (``TPG_HBPC``) and the batch page.

On the batch page the clerk chooses applicants and houses; SOAR writes them to ``TPG_HBRY`` /
``TPG_HBFY`` (its own writes), then calls ``SoarHost.allocation_selected`` with the batch's
whole selection (what the batch holds after the change) and shows what the plugins answer. The
page also shows what the plugins contribute to ``DetailView("allocation_batch", pcid)``.
选房划拨's applicant search is the query screen ``allocation.selection`` (qualified applications
with their main applicant and lottery result), which plugins extend; 调房划拨 searches SOAR's
tenants with a signed contract.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, delete, exists, func, insert, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.audit_store import new_id
from soar_ext.console import formatting as fmt
from soar_ext.console.blocks import Flash, notice
from soar_ext.console.detail import detail_contributions, view_params
from soar_ext.console.query_screen import OwnColumn, OwnFilter, QuerySpec, contains, district_filter, prefix, run_query
from soar_ext.console.records import house_label
from soar_ext.console.screens import Screen
from soar_ext.console.web import (
    form_list,
    form_text,
    full_ids,
    post_route,
    query_args,
    record_page,
    redirect,
    render,
    runtime,
    soar_call,
)
from soar_ext.console.widgets import Link
from soar_ext.db.codes import (
    DISTRICTS,
    AllocationBatchStatus,
    AllocationKind,
    ApprovalStatus,
    ContractStatus,
    GuaranteeType,
    HouseStatus,
)
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_batches,
    allocation_houses,
    applications,
    contracts,
    families,
    houses,
    housing_projects,
    lottery_results,
    persons,
)
from soar_ext.db.portability import check_lengths, in_chunks
from soar_ext.errors import InvalidInput, NotFound
from soar_ext.hook_payloads import AllocationSelection, DetailView, KeyValues, Notice

ENTITY = "allocation_batch"
SCREEN_SELECTION = "allocation.selection"
SLUGS = {"adjustment": AllocationKind.ADJUSTMENT, "selection": AllocationKind.SELECTION}
MAX_CHOSEN = 500
CANDIDATES_PER_PAGE = 10

b, ry, fy = allocation_batches, allocation_applicants, allocation_houses
a, fam, per, lot = applications, families, persons, lottery_results
hs, pj = houses, housing_projects


def _title(kind: str) -> str:
    return AllocationKind.LABELS[kind]


# ------------------------------------------------------------------------------- batch list


def batch_base(kind: str) -> Select:
    applicants = select(func.count()).select_from(ry).where(ry.c.pcid == b.c.pcid).scalar_subquery()
    chosen_houses = select(func.count()).select_from(fy).where(fy.c.pcid == b.c.pcid).scalar_subquery()
    return select(
        b.c.pcid,
        b.c.pcmc,
        b.c.qx,
        b.c.czyid,
        b.c.cjsj,
        applicants.label("rs"),
        chosen_houses.label("fys"),
    ).where(b.c.hblx == kind)


def batch_list_spec(kind: str) -> QuerySpec:
    return QuerySpec(
        base=lambda: batch_base(kind),
        key="pcid",
        order_by=lambda: [b.c.cjsj.desc(), b.c.pcid],
        filters=[
            OwnFilter("pcmc", "批次名称", contains(b.c.pcmc), placeholder="名称中的文字"),
            district_filter(b.c.qx),
        ],
        columns=[
            OwnColumn("批次名称", "pcmc"),
            OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
            OwnColumn("申请人数", show=lambda r, _f: fmt.number(r["rs"])),
            OwnColumn("房源数", show=lambda r, _f: fmt.number(r["fys"])),
            OwnColumn("经办人", "czyid"),
            OwnColumn("创建时间", show=lambda r, _f: fmt.datetime(r["cjsj"])),
        ],
    )


def _kind(request: Request) -> tuple[str, str]:
    slug = request.url.path.split("/")[2]
    return slug, SLUGS[slug]


def batches_page(request: Request) -> Response:
    rt = runtime(request)
    slug, kind = _kind(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx,
            rt.host,
            batch_list_spec(kind),
            query_args(request),
            page_size=rt.settings.page_size,
            full_ids=full_ids(request),
        )
    for row in page.rows:
        row.controls = [Link("进入批次", f"/allocation/{slug}/{row.key}")]
    return render(
        request,
        "batches.html",
        title=_title(kind),
        query=page,
        slug=slug,
        districts=DISTRICTS,
        intro=f"{_title(kind)}批次。进入批次后选择申请人和房源，确认后由扩展功能处理（如一一对应关联）。",
    )


def create_batch(request: Request, form: FormData) -> Response:
    slug, kind = _kind(request)
    name = form_text(form, "pcmc", limit=400)
    district = form_text(form, "qx", limit=10)
    if not name:
        raise InvalidInput("请填写批次名称。")
    if district and district not in DISTRICTS:
        raise InvalidInput("区县不正确，请在列表中选择。")
    values = {"pcmc": name, "qx": district}
    check_lengths(b, values)
    pcid = new_id().upper()
    with soar_call(request) as ctx:
        ctx.connection.execute(
            insert(b).values(
                pcid=pcid,
                hblx=kind,
                pczt=AllocationBatchStatus.OPEN,
                czyid=ctx.operator.id,
                cjsj=ctx.now(),
                **values,
            )
        )
    return redirect(request, f"/allocation/{slug}/{pcid}", [notice(f"已新建批次「{name}」。", "ok")])


# ------------------------------------------------------------------------------- the batch page


def _applicant_columns() -> list[Any]:
    return [
        a.c.sqid,
        a.c.pzzgzh,
        a.c.bzlx,
        a.c.qx,
        fam.c.jtrs,
        per.c.xm,
        per.c.sfzh,
        lot.c.yhnd,
        lot.c.qs,
        lot.c.sxh,
    ]


def _applicant_from() -> Any:
    return (
        a.join(fam, fam.c.jtid == a.c.jtid).join(per, per.c.ryid == fam.c.sqrid).outerjoin(lot, lot.c.sqid == a.c.sqid)
    )


def _in_batch(pcid: str) -> Any:
    return exists().where(ry.c.pcid == pcid, ry.c.sqid == a.c.sqid)


def chosen_applicants(pcid: str) -> Select:
    """The batch's applicants, read from ``TPG_HBRY`` by its (pcid, sqid) key."""
    return (
        select(*_applicant_columns())
        .select_from(ry.join(a, a.c.sqid == ry.c.sqid).join(fam, fam.c.jtid == a.c.jtid))
        .join(per, per.c.ryid == fam.c.sqrid)
        .outerjoin(lot, lot.c.sqid == a.c.sqid)
        .where(ry.c.pcid == pcid)
    )


def selection_candidates(pcid: str) -> Select:
    """``allocation.selection``: qualified applications (已取得资格) not yet in this batch."""
    return (
        select(*_applicant_columns())
        .select_from(_applicant_from())
        .where(a.c.spzt == ApprovalStatus.QUALIFIED, ~_in_batch(pcid))
    )


def adjustment_candidates(pcid: str) -> Select:
    """Tenants with a signed contract (已签订) not yet in this batch."""
    signed = exists().where(contracts.c.jtid == a.c.jtid, contracts.c.htzt == ContractStatus.SIGNED)
    return select(*_applicant_columns()).select_from(_applicant_from()).where(signed, ~_in_batch(pcid))


APPLICANT_COLUMNS = [
    OwnColumn("配租资格证号", "pzzgzh"),
    OwnColumn("主申请人", "xm"),
    OwnColumn("身份证号", show=lambda r, full: fmt.id_number(r["sfzh"], full=full)),
    OwnColumn("保障类型", show=lambda r, _f: fmt.choice(r["bzlx"], GuaranteeType.LABELS)),
    OwnColumn("家庭人数", show=lambda r, _f: fmt.number(r["jtrs"])),
    OwnColumn(
        "摇号（年度-期数-顺序号）",
        show=lambda r, _f: f"{r['yhnd']}-{r['qs']}-{r['sxh']}" if r["yhnd"] is not None else fmt.EMPTY,
    ),
    OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
]
_LOTTERY_ORDER = [lot.c.yhnd, lot.c.qs, lot.c.sxh, a.c.sqid]


def applicant_spec(kind: str, pcid: str) -> QuerySpec:
    if kind == AllocationKind.SELECTION:
        return QuerySpec(
            screen=SCREEN_SELECTION,
            base=lambda: selection_candidates(pcid),
            key="sqid",
            order_by=lambda: _LOTTERY_ORDER,
            columns=APPLICANT_COLUMNS,
            prefix="a.",
        )
    return QuerySpec(
        base=lambda: adjustment_candidates(pcid),
        key="sqid",
        order_by=lambda: [a.c.pzzgzh, a.c.sqid],
        filters=[
            OwnFilter("xm", "主申请人", prefix(per.c.xm), placeholder="姓名或姓氏"),
            OwnFilter("pzzgzh", "配租资格证号", prefix(a.c.pzzgzh, upper=True)),
            district_filter(a.c.qx),
        ],
        columns=APPLICANT_COLUMNS,
        prefix="a.",
    )


def _house_columns() -> list[Any]:
    return [hs.c.fyid, hs.c.lh, hs.c.dy, hs.c.fh, hs.c.jzmj, hs.c.hx, hs.c.fyzt, pj.c.xmmc, pj.c.qx]


def chosen_houses(pcid: str) -> Select:
    return (
        select(*_house_columns(), fy.c.hbsj)
        .select_from(fy.join(hs, hs.c.fyid == fy.c.fyid).join(pj, pj.c.xmid == hs.c.xmid))
        .where(fy.c.pcid == pcid)
    )


def house_candidates(pcid: str) -> Select:
    """Vacant houses (空置) not yet in this batch."""
    in_batch = exists().where(fy.c.pcid == pcid, fy.c.fyid == hs.c.fyid)
    return (
        select(*_house_columns())
        .select_from(hs.join(pj, pj.c.xmid == hs.c.xmid))
        .where(hs.c.fyzt == HouseStatus.VACANT, ~in_batch)
    )


HOUSE_COLUMNS = [
    OwnColumn("房源", show=lambda r, _f: house_label(r)),
    OwnColumn("建筑面积（㎡）", show=lambda r, _f: fmt.money(r["jzmj"])),
    OwnColumn("户型", "hx"),
    OwnColumn("房源状态", show=lambda r, _f: fmt.choice(r["fyzt"], HouseStatus.LABELS)),
    OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
]


def house_spec(pcid: str) -> QuerySpec:
    return QuerySpec(
        base=lambda: house_candidates(pcid),
        key="fyid",
        order_by=lambda: [pj.c.xmmc, hs.c.lh, hs.c.dy, hs.c.fh, hs.c.fyid],
        filters=[
            OwnFilter("xmmc", "项目名称", contains(pj.c.xmmc), placeholder="名称中的文字"),
            district_filter(pj.c.qx),
        ],
        columns=HOUSE_COLUMNS,
        prefix="h.",
    )


def chosen_specs(pcid: str) -> tuple[QuerySpec, QuerySpec]:
    applicants = QuerySpec(
        base=lambda: chosen_applicants(pcid),
        key="sqid",
        order_by=lambda: _LOTTERY_ORDER,
        columns=APPLICANT_COLUMNS,
        prefix="ca.",
    )
    chosen = QuerySpec(
        base=lambda: chosen_houses(pcid),
        key="fyid",
        order_by=lambda: [pj.c.xmmc, hs.c.lh, hs.c.dy, hs.c.fh, hs.c.fyid],
        columns=[*HOUSE_COLUMNS, OwnColumn("划拨时间", show=lambda r, _f: fmt.datetime(r["hbsj"]))],
        prefix="ch.",
    )
    return applicants, chosen


def _batch(conn: Connection, pcid: str, kind: str) -> Any:
    row = conn.execute(select(b).where(b.c.pcid == pcid, b.c.hblx == kind)).first()
    if row is None:
        raise NotFound(f"未找到{_title(kind)}批次（ID {pcid}）。")
    return row


def batch_blocks(row: Any) -> KeyValues:
    return KeyValues(
        title="批次信息",
        items=[
            ("批次名称", fmt.text(row.pcmc)),
            ("划拨类型", fmt.choice(row.hblx, AllocationKind.LABELS)),
            ("区县", fmt.district(row.qx)),
            ("经办人", fmt.text(row.czyid)),
            ("创建时间", fmt.datetime(row.cjsj)),
        ],
    )


def batch_page(request: Request) -> Response:
    rt = runtime(request)
    slug, kind = _kind(request)
    pcid = request.path_params["pcid"]
    args, full = query_args(request), full_ids(request)
    size = rt.settings.page_size
    chosen_apps_spec, chosen_houses_spec = chosen_specs(pcid)
    with record_page(request) as ctx:
        row = _batch(ctx.connection, pcid, kind)
        lists = {
            "chosen_applicants": run_query(ctx, rt.host, chosen_apps_spec, args, page_size=size, full_ids=full),
            "chosen_houses": run_query(ctx, rt.host, chosen_houses_spec, args, page_size=size, full_ids=full),
            "applicants": run_query(
                ctx, rt.host, applicant_spec(kind, pcid), args, page_size=CANDIDATES_PER_PAGE, full_ids=full
            ),
            "houses": run_query(ctx, rt.host, house_spec(pcid), args, page_size=CANDIDATES_PER_PAGE, full_ids=full),
        }
        page = detail_contributions(ctx, rt.host, DetailView(ENTITY, pcid))
    return render(
        request,
        "batch.html",
        title=f"{_title(kind)}：{row.pcmc or pcid}",
        blocks=[batch_blocks(row)],
        page=page,
        slug=slug,
        pcid=pcid,
        kind_label=_title(kind),
        controls=[Link(f"返回{_title(kind)}", f"/allocation/{slug}")],
        **lists,
    )


def _existing(conn: Connection, column: Any, ids: list[str]) -> set[str]:
    return set(conn.execute(select(column).where(in_chunks(column, ids))).scalars())


def _chosen(form: FormData) -> tuple[list[str], list[str]]:
    apps, chosen_houses_ = form_list(form, "app"), form_list(form, "house")
    if not apps and not chosen_houses_:
        raise InvalidInput("请先勾选申请人或房源。")
    if len(apps) > MAX_CHOSEN or len(chosen_houses_) > MAX_CHOSEN:
        raise InvalidInput(f"一次最多选择 {MAX_CHOSEN} 条记录。")
    return list(dict.fromkeys(apps)), list(dict.fromkeys(chosen_houses_))


def _selection(conn: Connection, pcid: str, kind: str) -> AllocationSelection:
    apps = conn.execute(select(ry.c.sqid).where(ry.c.pcid == pcid).order_by(ry.c.sqid)).scalars().all()
    chosen = conn.execute(select(fy.c.fyid).where(fy.c.pcid == pcid).order_by(fy.c.fyid)).scalars().all()
    return AllocationSelection(batch_id=pcid, kind=kind, application_ids=tuple(apps), house_ids=tuple(chosen))


def _after_change(request: Request, slug: str, pcid: str, kind: str, message: str) -> Response:
    """Call ``allocation_selected`` with the batch's whole selection and show what the plugins answer."""
    rt = runtime(request)
    with soar_call(request) as ctx:
        selection = _selection(ctx.connection, pcid, kind)
        answered = rt.host.allocation_selected(ctx, selection)
    flash = Flash(
        blocks=[Notice(message, "ok")],
        title="划拨选择",
        contributions=answered,
        target=pcid,
        params=view_params(DetailView(ENTITY, pcid)),
    )
    return redirect(request, f"/allocation/{slug}/{pcid}", [flash])


def select_chosen(request: Request, form: FormData) -> Response:
    """SOAR's own write of the chosen applicants and houses, then ``allocation_selected``."""
    slug, kind = _kind(request)
    pcid = request.path_params["pcid"]
    apps, chosen = _chosen(form)
    with soar_call(request) as ctx:
        conn = ctx.connection
        _batch(conn, pcid, kind)
        allowed = {r for r in apps if conn.execute(applicant_spec(kind, pcid).base().where(a.c.sqid == r)).first()}
        refused = [r for r in apps if r not in allowed]
        if refused:
            raise InvalidInput(
                f"所选申请人中有 {len(refused)} 人不符合{_title(kind)}条件或已在本批次中，请刷新后重新选择。"
            )
        vacant = _existing(conn, hs.c.fyid, chosen) if chosen else set()
        vacant = {h for h in vacant if conn.execute(house_candidates(pcid).where(hs.c.fyid == h)).first()}
        if len(vacant) != len(chosen):
            raise InvalidInput("所选房源中有房源不是空置状态或已在本批次中，请刷新后重新选择。")
        now = ctx.now()
        for sqid in apps:
            conn.execute(insert(ry).values(hbryid=new_id().upper(), pcid=pcid, sqid=sqid))
        for fyid in chosen:
            conn.execute(insert(fy).values(hbfyid=new_id().upper(), pcid=pcid, fyid=fyid, hbsj=now))
    return _after_change(request, slug, pcid, kind, f"已加入本批次：申请人 {len(apps)} 名，房源 {len(chosen)} 套。")


def remove_chosen(request: Request, form: FormData) -> Response:
    slug, kind = _kind(request)
    pcid = request.path_params["pcid"]
    apps, chosen = _chosen(form)
    with soar_call(request) as ctx:
        conn = ctx.connection
        _batch(conn, pcid, kind)
        removed = 0
        if apps:
            removed += conn.execute(delete(ry).where(ry.c.pcid == pcid, in_chunks(ry.c.sqid, apps))).rowcount
        if chosen:
            removed += conn.execute(delete(fy).where(fy.c.pcid == pcid, in_chunks(fy.c.fyid, chosen))).rowcount
    return _after_change(request, slug, pcid, kind, f"已从本批次移出 {removed} 条记录。")


def _screen(slug: str, kind: str, summary: str) -> Screen:
    base = f"/allocation/{slug}"
    return Screen(
        key=f"allocation-{slug}",
        title=_title(kind),
        path=base,
        summary=summary,
        routes=(
            Route(base, batches_page),
            post_route(f"{base}/batches", create_batch),
            Route(base + "/{pcid}", batch_page),
            post_route(base + "/{pcid}/select", select_chosen),
            post_route(base + "/{pcid}/remove", remove_chosen),
        ),
    )


SCREENS = (
    _screen("adjustment", AllocationKind.ADJUSTMENT, "调房划拨批次：选择调房申请人与房源；关联与导出由扩展功能提供。"),
    _screen(
        "selection", AllocationKind.SELECTION, "选房划拨批次：按条件查找选房申请人（可由扩展功能增加条件）并选择房源。"
    ),
)
