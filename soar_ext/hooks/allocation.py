"""Seed item 5: house allocation (房源划拨) — 调房划拨 links, 选房划拨 廉租房 candidates, 是否已划拨.

- ``soar_allocation_selected`` (调房划拨 / 选房划拨, after the clerk chose applicants and houses) and
  ``soar_detail_view`` on ``allocation_batch`` (key = 批次ID): the batch page — for 调房划拨 the
  one-to-one link table (关联, 改为关联, 解除关联 per row), 推荐配对 and 导出清单; for 选房划拨 the
  batch's people and 筛选廉租房人员 with 添加. After a selection, links whose applicant or house
  left the batch are cleared.
- ``soar_action``: ``allocation.link`` 关联, ``allocation.unlink`` 解除关联, ``allocation.relink``
  改为关联, ``allocation.suggest`` 推荐配对, ``allocation.accept`` 全部采纳, ``allocation.export``
  导出清单, ``allocation.search`` 筛选廉租房人员, ``allocation.add`` 添加.
- ``soar_query_fields`` / ``soar_query_build`` on ``allocation.selection`` (选房划拨 candidate search):
  保障类型, 姓名 (exact or prefix), 身份证, 配租资格证号, 摇号年度, 摇号期数, 顺序号起/止; on
  ``housing.query`` (房源查询): the 是否已划拨 filter and result column.

Settings (``[plugins.allocation]``): ``area_per_person`` (㎡ per family member for 推荐配对, 15) and
``search_limit`` (rows shown by 筛选廉租房人员, 200). In ``shadow`` mode every action checks and
says what it would do, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, inspect

from soar_ext import hookimpl
from soar_ext.allocation import candidates as cand
from soar_ext.allocation import link_list, page
from soar_ext.allocation import links as link_store
from soar_ext.allocation.housing import ALLOCATED_CHOICES, YES, allocated_condition, allocated_flag
from soar_ext.allocation.pairing import DEFAULT_AREA_PER_PERSON, pairs, suggest
from soar_ext.allocation.records import (
    Batch,
    applicants_by_id,
    batch_applicants,
    batch_houses,
    load_batch,
)
from soar_ext.audit import AuditEvent
from soar_ext.config import ConfigError
from soar_ext.context import SoarContext
from soar_ext.db.codes import AllocationKind, GuaranteeType
from soar_ext.db.extension import allocation_links
from soar_ext.db.legacy import applications, houses, lottery_results, persons
from soar_ext.db.paging import count_statement, shown_total
from soar_ext.errors import InvalidInput, SoarUserError
from soar_ext.export.audited import export_workbook
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    AllocationSelection,
    Contribution,
    DetailView,
    Notice,
    QueryField,
)
from soar_ext.query_filters import choice_filter, require_tables
from soar_ext.roles import CLERK

PLUGIN_LABEL = "房源划拨"

SCREEN_SELECTION = "allocation.selection"
SCREEN_HOUSING = "housing.query"
ENTITY_BATCH = "allocation_batch"
FILTER_ALLOCATED = "allocated"
COLUMN_ALLOCATED = "allocated"

DEFAULT_SEARCH_LIMIT = 200
SEARCH_COUNT_CAP = 1000
SHADOW = "[试运行]"


# ------------------------------------------------------------------------------ settings


def read_settings(settings: Mapping[str, Any]) -> tuple[Decimal, int]:
    """``area_per_person`` and ``search_limit``; :class:`ConfigError` naming the key when invalid."""
    raw_area = settings.get("area_per_person", DEFAULT_AREA_PER_PERSON)
    try:
        area = Decimal(str(raw_area).strip())
    except InvalidOperation:
        raise ConfigError(f"allocation.area_per_person must be a number, got {raw_area!r}") from None
    if isinstance(raw_area, bool) or not area.is_finite() or not Decimal("1") <= area <= Decimal("100"):
        raise ConfigError(f"allocation.area_per_person must be between 1 and 100 (m²), got {raw_area!r}")
    raw_limit = settings.get("search_limit", DEFAULT_SEARCH_LIMIT)
    text = str(raw_limit).strip()
    if isinstance(raw_limit, bool) or not text.isdigit() or not 1 <= int(text) <= SEARCH_COUNT_CAP:
        raise ConfigError(f"allocation.search_limit must be a whole number 1-{SEARCH_COUNT_CAP}, got {raw_limit!r}")
    return area, int(text)


@hookimpl
def soar_startup(ctx: SoarContext) -> list[str] | None:
    """Check the settings and that migration 0006 (``sx_alloc_link``) is applied."""
    problems = []
    try:
        read_settings(ctx.settings())
    except ConfigError as exc:
        problems.append(str(exc))
    if not inspect(ctx.connection).has_table(allocation_links.name):
        problems.append(f"table {allocation_links.name} is missing: run `soar-ext db upgrade` (revision 0006)")
    return problems or None


# ------------------------------------------------------------------------------ the batch page


def batch_page(ctx: SoarContext, batch: Batch) -> list[Contribution]:
    conn = ctx.connection
    if batch.kind == AllocationKind.ADJUSTMENT:
        return page.adjustment_page(
            batch,
            batch_applicants(conn, batch.pcid, with_current_house=True),
            batch_houses(conn, batch.pcid),
            link_store.batch_links(conn, batch.pcid),
        )
    return page.selection_page(batch, batch_applicants(conn, batch.pcid))


def _notice_panel(key: str, text: str, tone: str = "warn") -> Contribution:
    return Contribution(kind="panel", key=key, label="房源划拨提示", content=Notice(text, tone))  # type: ignore[arg-type]


@hookimpl
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """The batch page (``allocation_batch``, key = 批次ID)."""
    if view.entity != ENTITY_BATCH:
        return None
    try:
        batch = load_batch(ctx.connection, view.key)
    except SoarUserError as exc:
        return [_notice_panel("allocation.missing", str(exc), "error")]
    return batch_page(ctx, batch)


def _selection_notices(ctx: SoarContext, batch: Batch, allocation: AllocationSelection) -> list[str]:
    conn = ctx.connection
    notes = []
    if allocation.kind != batch.kind:
        notes.append(
            f"所选划拨类型为「{AllocationKind.LABELS[allocation.kind]}」，与批次「{batch.label}」的类型"
            f"「{batch.kind_label}」不一致，请核对批次。"
        )
    in_batch = {a.sqid for a in batch_applicants(conn, batch.pcid)}
    missing = [sqid for sqid in allocation.application_ids if sqid not in in_batch]
    if missing:
        notes.append(f"所选申请人中有 {len(missing)} 人未保存在本批次中，请重新选择。")
    if batch.kind == AllocationKind.SELECTION:
        chosen = list(applicants_by_id(conn, allocation.application_ids).values())
        standing = cand.standings(conn, batch, chosen, in_batch_counts=False)
        for applicant in chosen:
            if standing[applicant.sqid].code in cand.TAKEN:
                notes.append(f"申请人{applicant.name}{standing[applicant.sqid].refusal}，请核对是否应在本批次选房。")
    return notes


@hookimpl
def soar_allocation_selected(ctx: SoarContext, allocation: AllocationSelection) -> list[Contribution] | None:
    """After the selection: clear links to people or houses no longer in the batch, then show the batch page."""
    if allocation.kind not in AllocationKind.LABELS:
        raise InvalidInput(f"未知的划拨类型代码「{str(allocation.kind)[:10]}」，请核对划拨批次。")
    try:
        batch = load_batch(ctx.connection, allocation.batch_id)
    except SoarUserError as exc:
        return [_notice_panel("allocation.missing", str(exc), "error")]
    notes = _selection_notices(ctx, batch, allocation)
    if ctx.enforce and batch.kind == AllocationKind.ADJUSTMENT and batch.open:
        dropped = link_store.drop_stale(ctx.connection, batch, operator=ctx.operator, at=ctx.now())
        if dropped:
            notes.append(f"已清除 {len(dropped)} 条关联：其申请人或房源已不在本批次中。")
    out = batch_page(ctx, batch)
    if notes:
        out.insert(0, _notice_panel("allocation.notices", "".join(notes)))
    return out


# ------------------------------------------------------------------------------ actions


def _batch_of(ctx: SoarContext, request: ActionRequest, *, lock: bool) -> Batch:
    return load_batch(ctx.connection, request.target or request.params.get(page.P_BATCH), lock=lock)


def _done(written: bool, text: str) -> ActionResult:
    """ "已…" once written; in shadow mode what would have been done."""
    if written:
        return ActionResult(ok=True, message="已" + text)
    return ActionResult(ok=True, message=f"{SHADOW}校验通过：{text}本次未写入。")


def _link(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    batch = _batch_of(ctx, request, lock=ctx.enforce)
    source = link_store.SUGGESTED if request.params.get(page.P_SOURCE) == "suggested" else link_store.MANUAL
    change = link_store.link(
        ctx.connection,
        batch,
        request.params.get(page.P_APPLICATION),
        request.params.get(page.P_HOUSE),
        operator=ctx.operator,
        at=ctx.now(),
        source=source,
        write=ctx.enforce,
    )
    assert change.after is not None
    text = f"将申请人{change.applicant.name}关联到房源{change.after.label}。"
    return _done(change.written, text)


def _unlink(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    batch = _batch_of(ctx, request, lock=ctx.enforce)
    change = link_store.unlink(
        ctx.connection,
        batch,
        request.params.get(page.P_APPLICATION),
        operator=ctx.operator,
        at=ctx.now(),
        write=ctx.enforce,
    )
    before = change.before.label if change.before else "（房源已不存在）"
    text = f"解除申请人{change.applicant.name}与房源{before}的关联。"
    return _done(change.written, text)


def _relink(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    batch = _batch_of(ctx, request, lock=ctx.enforce)
    change = link_store.relink(
        ctx.connection,
        batch,
        request.params.get(page.P_APPLICATION),
        request.params.get(page.P_HOUSE),
        operator=ctx.operator,
        at=ctx.now(),
        write=ctx.enforce,
    )
    assert change.after is not None
    before = change.before.label if change.before else "（房源已不存在）"
    text = f"将申请人{change.applicant.name}的关联由房源{before}改为房源{change.after.label}。"
    return _done(change.written, text)


def _suggest(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    area_per_person, _limit = read_settings(ctx.settings())
    batch = _batch_of(ctx, request, lock=False)
    link_store.check_changeable(batch)
    conn = ctx.connection
    links = link_store.batch_links(conn, batch.pcid)
    linked_houses = {link.fyid for link in links.values()}
    unlinked = [a for a in batch_applicants(conn, batch.pcid) if a.sqid not in links]
    free = [h for h in batch_houses(conn, batch.pcid) if h.fyid not in linked_houses]
    suggestions = suggest(unlinked, free, area_per_person)
    chosen = pairs(suggestions)
    message = f"已为 {len(chosen)} 名申请人推荐房源" + (
        f"，{len(suggestions) - len(chosen)} 名申请人无可用房源。" if len(chosen) < len(suggestions) else "。"
    )
    blocks = page.suggestion_blocks(batch, suggestions, chosen, area_per_person)
    return ActionResult(ok=True, message=message, content=blocks, data={"pairs": chosen})


def _accept(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    batch = _batch_of(ctx, request, lock=ctx.enforce)
    changes = link_store.link_all(
        ctx.connection, batch, request.params.get(page.P_PAIRS), operator=ctx.operator, at=ctx.now(), write=ctx.enforce
    )
    text = f"按推荐配对关联 {len(changes)} 对申请人与房源。"
    return _done(changes[0].written, text)


def _search(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    _area, limit = read_settings(ctx.settings())
    batch = _batch_of(ctx, request, lock=False)
    filters = cand.parse_filters(request.params, today=ctx.now().date())
    conn = ctx.connection
    query = cand.low_rent_query(filters, conn)
    sqids = list(dict.fromkeys(conn.execute(query.with_only_columns(applications.c.sqid).limit(limit)).scalars()))
    total = shown_total(conn.execute(count_statement(query, cap=SEARCH_COUNT_CAP)).scalar_one(), SEARCH_COUNT_CAP)
    found_by_id = applicants_by_id(conn, sqids)
    found = [found_by_id[sqid] for sqid in sqids if sqid in found_by_id]
    standing = cand.standings(conn, batch, found)
    ctx.audit.record(
        AuditEvent(
            action="allocation.candidate_search",
            operator_id=ctx.operator.id,
            purpose="选房划拨廉租房选房人员筛选",
            subject_id=filters.id_number,
            interfaces=("soar.selection_candidates",),
            result_status="ok",
            detail={"batch_id": batch.pcid, "filters": filters.described(), "shown": len(found), "total": total},
            at=ctx.now(),
        )
    )
    blocks = page.search_blocks(batch, found, standing, limit)
    return ActionResult(ok=True, message=f"符合条件的廉租房选房人员共 {total} 名。", content=blocks)


def _add(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    batch = _batch_of(ctx, request, lock=ctx.enforce)
    outcome = cand.add_to_batch(
        ctx.connection, batch, request.params.get("selected"), operator=ctx.operator, at=ctx.now(), write=ctx.enforce
    )
    return ActionResult(
        ok=bool(outcome.added) or not outcome.refused,
        message=outcome.message(written=ctx.enforce),
        data={
            "added": [a.sqid for a in outcome.added],
            "already": [a.sqid for a in outcome.already],
            "refused": {a.sqid: reason for a, reason in outcome.refused},
        },
    )


def _export(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    """导出清单: the batch's links as an Excel list, role-checked (数据导出) and audited by the export module."""
    batch = _batch_of(ctx, request, lock=False)
    if batch.kind != AllocationKind.ADJUSTMENT:
        raise InvalidInput(f"批次「{batch.label}」为{batch.kind_label}，关联清单只用于调房划拨批次。")
    links = link_store.batch_links(ctx.connection, batch.pcid)
    if not links:
        raise InvalidInput(f"批次「{batch.label}」尚无申请人与房源的关联，无可导出的清单。")
    return export_workbook(
        ctx,
        file_name=link_list.file_name(batch, ctx.now().date()),
        purpose="调房划拨申请人与房源关联清单导出",
        sheets=[link_list.sheet(ctx.connection, batch)],
        action="allocation.export",
        detail={"batch_id": batch.pcid, "links": len(links)},
    )


_ACTIONS = {
    page.ACTION_LINK: (_link, "关联申请人与房源"),
    page.ACTION_UNLINK: (_unlink, "解除申请人与房源的关联"),
    page.ACTION_RELINK: (_relink, "修改申请人与房源的关联"),
    page.ACTION_SUGGEST: (_suggest, "推荐配对"),
    page.ACTION_ACCEPT: (_accept, "采纳推荐配对"),
    page.ACTION_SEARCH: (_search, "筛选廉租房选房人员"),
    page.ACTION_ADD: (_add, "添加选房人员"),
    page.ACTION_EXPORT: (_export, "导出关联清单"),
}


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """The batch page's actions (keys ``allocation.*``)."""
    handler = _ACTIONS.get(request.key)
    if handler is None:
        return None
    run, what = handler
    if request.key != page.ACTION_EXPORT:  # the export module checks the 数据导出 role
        ctx.operator.require(CLERK, what)
    return run(ctx, request)


# ------------------------------------------------------------------------------ query screens


def selection_fields() -> list[QueryField]:
    """The 选房划拨 candidate filters."""
    return [
        QueryField(cand.F_GUARANTEE, "保障类型", "filter", "choice", GuaranteeType.LABELS),
        QueryField(cand.F_NAME, "姓名", "filter", "text"),
        QueryField(cand.F_NAME_MATCH, "姓名匹配方式", "filter", "choice", cand.NAME_MATCH_CHOICES),
        QueryField(cand.F_ID_NUMBER, "身份证", "filter", "id_number"),
        QueryField(cand.F_CERTIFICATE, "配租资格证号", "filter", "text"),
        QueryField(cand.F_YEAR, "摇号年度", "filter", "integer"),
        QueryField(cand.F_PERIOD, "摇号期数", "filter", "integer"),
        QueryField(cand.F_SEQUENCE_FROM, "顺序号起", "filter", "integer"),
        QueryField(cand.F_SEQUENCE_TO, "顺序号止", "filter", "integer"),
    ]


def housing_fields() -> list[QueryField]:
    """是否已划拨 on the housing query: a filter and a result column."""
    return [
        QueryField(FILTER_ALLOCATED, "是否已划拨", "filter", "choice", ALLOCATED_CHOICES),
        QueryField(COLUMN_ALLOCATED, "是否已划拨", "column", "choice", ALLOCATED_CHOICES),
    ]


def amend_housing_query(query: Select, filters: Mapping[str, object]) -> Select:
    """Add the 是否已划拨 column, and the filter when one is chosen."""
    allocated = choice_filter(filters, FILTER_ALLOCATED, ALLOCATED_CHOICES, "是否已划拨")
    query = query.add_columns(allocated_flag().label(COLUMN_ALLOCATED))
    if allocated is not None:
        query = query.where(allocated_condition(allocated == YES))
    return query


@hookimpl
def soar_query_fields(screen: str) -> list[QueryField] | None:
    if screen == SCREEN_SELECTION:
        return selection_fields()
    if screen == SCREEN_HOUSING:
        return housing_fields()
    return None


@hookimpl
def soar_query_build(ctx: SoarContext, screen: str, query: Select, filters: dict[str, object]) -> Select | None:
    if screen == SCREEN_SELECTION:
        require_tables(query, screen, applications, persons, lottery_results)
        parsed = cand.parse_filters(filters, today=ctx.now().date())
        return cand.amend_selection_query(query, parsed, ctx.connection)
    if screen == SCREEN_HOUSING:
        require_tables(query, screen, houses)
        return amend_housing_query(query, filters)
    return None
