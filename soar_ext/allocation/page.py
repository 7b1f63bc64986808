"""What the batch page (调房划拨 / 选房划拨) shows, as generic page content.

Built from :mod:`soar_ext.hook_payloads` blocks only (KeyValues, Table with row actions and
``select_action``, Notice, ActionButton with inputs, ActionForm), so SOAR's screens and the
stand-in console render it without knowing the feature. ID numbers are always masked here; only
the Excel list shows them in full, to operators allowed to see them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from soar_ext.allocation import candidates as cand
from soar_ext.allocation.links import Link
from soar_ext.allocation.pairing import Suggestion
from soar_ext.allocation.records import Applicant, Batch, House
from soar_ext.db.codes import AllocationKind, GuaranteeType
from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    Badge,
    Block,
    Contribution,
    InputField,
    KeyValues,
    Notice,
    Table,
    TableRow,
)
from soar_ext.idnumber import mask_id_number

ACTION_LINK = "allocation.link"
ACTION_UNLINK = "allocation.unlink"
ACTION_RELINK = "allocation.relink"
ACTION_SUGGEST = "allocation.suggest"
ACTION_ACCEPT = "allocation.accept"
ACTION_EXPORT = "allocation.export"
ACTION_SEARCH = "allocation.search"
ACTION_ADD = "allocation.add"

P_BATCH = "batch_id"
P_APPLICATION = "application_id"
P_HOUSE = "house_id"
P_PAIRS = "pairs"
P_SOURCE = "source"

DASH = "—"
ONE_TO_ONE = "一名申请人只能关联一套房源，一套房源只能关联一名申请人（本批次内及办理中的各批次之间）。"
LINK_COLUMNS = (
    "序号",
    "申请人",
    "身份证号",
    "配租资格证号",
    "家庭人数",
    "原房源",
    "关联房源",
    "建筑面积（㎡）",
    "关联时间",
    "操作人",
)


def shown_time(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else DASH


def shown_area(value: Decimal | None) -> str:
    return f"{value}" if value is not None else DASH


def _text(value: object) -> str:
    return DASH if value is None or value == "" else str(value)


def _batch_input(batch: Batch) -> InputField:
    return InputField(P_BATCH, "划拨批次", "hidden", default=batch.pcid)


def summary(batch: Batch, items: Sequence[tuple[str, str]]) -> Contribution:
    tone = "ok" if batch.open else "muted"
    block = KeyValues(
        items=[("划拨类型", batch.kind_label), ("批次状态", batch.status_label), *items],
        title=batch.label,
        badge=Badge(batch.status_label, tone),
        note=ONE_TO_ONE if batch.kind == AllocationKind.ADJUSTMENT else None,
    )
    return Contribution(kind="panel", key="allocation.summary", label="划拨批次", content=block)


def _house_choices(free: Sequence[House]) -> dict[str, str]:
    return {house.fyid: house.label for house in free}


def _link_actions(
    batch: Batch, applicant: Applicant, link: Link | None, house: House | None, free: Sequence[House]
) -> list[ActionButton]:
    """关联 (unlinked) or 改为关联 and 解除关联 (linked); choosing a house needs a free one (the table says so)."""
    if not batch.open:
        return []
    params = {P_APPLICATION: applicant.sqid}
    actions = []
    if free:
        label = "关联" if link is None else "改为关联"
        choose = InputField(
            P_HOUSE,
            "划拨房源" if link is None else "改为关联房源",
            "choice",
            required=True,
            choices=_house_choices(free),
        )
        actions.append(
            ActionButton(
                ACTION_LINK if link is None else ACTION_RELINK, label, target=batch.pcid, params=params, inputs=[choose]
            )
        )
    if link is not None:
        shown = house.label if house else link.fyid
        confirm = f"确定解除申请人{applicant.name}与房源{shown}的关联吗？"
        actions.append(ActionButton(ACTION_UNLINK, "解除关联", target=batch.pcid, params=params, confirm=confirm))
    return actions


def adjustment_page(
    batch: Batch,
    applicants: Sequence[Applicant],
    houses: Sequence[House],
    links: Mapping[str, Link],
) -> list[Contribution]:
    """The 调房划拨 batch page: summary, the link table with its row actions, free houses, 推荐配对, 导出清单."""
    by_id = {house.fyid: house for house in houses}
    in_batch = {applicant.sqid for applicant in applicants}
    linked_houses = {link.fyid for link in links.values()}
    free = [house for house in houses if house.fyid not in linked_houses]
    unlinked = [applicant for applicant in applicants if applicant.sqid not in links]
    rows = []
    for number, applicant in enumerate(applicants, start=1):
        link = links.get(applicant.sqid)
        house = by_id.get(link.fyid) if link else None
        linked: str | Badge = Badge("未关联", "warn")
        if link is not None:
            linked = house.label if house else Badge("房源已移出批次", "error")
        rows.append(
            TableRow(
                cells=[
                    str(number),
                    applicant.name,
                    mask_id_number(applicant.id_number),
                    _text(applicant.certificate),
                    _text(applicant.family_size),
                    applicant.current_house.name if applicant.current_house else DASH,
                    linked,
                    shown_area(house.area) if house else DASH,
                    shown_time(link.linked_at) if link else DASH,
                    _text(link.operator_name) if link else DASH,
                ],
                actions=_link_actions(batch, applicant, link, house, free),
                key=applicant.sqid,
            )
        )
    stale = [link for link in links.values() if link.sqid not in in_batch or link.fyid not in by_id]
    link_blocks: list[Block] = [
        Table(
            columns=LINK_COLUMNS,
            rows=rows,
            title="申请人与房源一对一关联",
            badge=Badge(f"已关联 {len(links)} / {len(applicants)}", "ok" if not unlinked else "info"),
            note=None
            if free or not batch.open
            else "本批次的划拨房源均已关联：如需更换房源，请先解除关联或在批次中加入房源。",
            empty_text="本批次尚未选择调房申请人",
        )
    ]
    if stale:
        link_blocks.append(
            Notice(f"有 {len(stale)} 条关联的申请人或房源已移出本批次，下次确认选择申请人和房源时自动清除。", "warn")
        )
    free_table = Table(
        columns=("房源", "建筑面积（㎡）", "户型"),
        rows=[
            TableRow(cells=[house.label, shown_area(house.area), _text(house.layout)], key=house.fyid) for house in free
        ],
        title="未关联房源",
        empty_text="本批次的划拨房源均已关联",
    )
    can_suggest = batch.open and bool(unlinked) and bool(free)
    suggest_hint = None
    if not batch.open:
        suggest_hint = f"批次{batch.status_label}，不能再修改关联"
    elif not unlinked:
        suggest_hint = "申请人均已关联房源"
    elif not free:
        suggest_hint = "本批次已没有未关联的房源"
    return [
        summary(
            batch,
            [
                ("调房申请人", f"{len(applicants)} 人"),
                ("划拨房源", f"{len(houses)} 套"),
                ("已关联", f"{len(links)} 对"),
                ("未关联申请人", f"{len(unlinked)} 人"),
                ("未关联房源", f"{len(free)} 套"),
            ],
        ),
        Contribution(kind="panel", key="allocation.links", label="申请人与房源关联", content=link_blocks),
        Contribution(kind="panel", key="allocation.free_houses", label="未关联房源", content=free_table),
        Contribution(
            kind="action",
            key=ACTION_SUGGEST,
            label="推荐配对",
            enabled=can_suggest,
            hint=suggest_hint,
            content=ActionForm(inputs=[_batch_input(batch)], submit_label="推荐配对"),
        ),
        Contribution(
            kind="action",
            key=ACTION_EXPORT,
            label="导出清单",
            enabled=bool(links),
            hint=None if links else "本批次尚无关联，无可导出的清单",
            content=ActionForm(inputs=[_batch_input(batch)], submit_label="导出Excel清单"),
        ),
    ]


def suggestion_blocks(
    batch: Batch, suggestions: Sequence[Suggestion], pairs: list[list[str]], area_per_person: Decimal
) -> list[Block]:
    """The 推荐配对 result: the rule, the suggested pairs (采纳 one by one) and 全部采纳."""
    rows = []
    for s in suggestions:
        lottery = s.applicant.lottery.label if s.applicant.lottery else "无摇号结果"
        actions = []
        if s.house is not None:
            params = {P_APPLICATION: s.applicant.sqid, P_HOUSE: s.house.fyid, P_SOURCE: "suggested"}
            actions.append(ActionButton(ACTION_LINK, "采纳", target=batch.pcid, params=params))
        rows.append(
            TableRow(
                cells=[
                    lottery,
                    s.applicant.name,
                    _text(s.applicant.family_size),
                    s.house.label if s.house else DASH,
                    shown_area(s.house.area) if s.house else DASH,
                    s.note,
                ],
                actions=actions,
                tone=None if s.fit == "fits" else "warn",
                key=s.applicant.sqid,
            )
        )
    rule = (
        "推荐顺序：未关联的申请人按摇号年度、期数、顺序号依次（无摇号结果的排在最后，按配租资格证号）；"
        f"每人推荐建筑面积不小于「家庭人数 × {area_per_person}㎡」的最小未关联房源，"
        "无满足面积的房源时推荐剩余最大房源并标注「面积不足」。可全部采纳，也可逐条采纳后再「改为关联」。"
    )
    blocks: list[Block] = [
        Notice(rule, "info"),
        Table(
            columns=("摇号结果", "申请人", "家庭人数", "推荐房源", "建筑面积（㎡）", "说明"),
            rows=rows,
            title="推荐配对",
            empty_text="没有需要推荐的申请人",
        ),
    ]
    if pairs:
        blocks.append(
            ActionButton(
                ACTION_ACCEPT,
                f"全部采纳（{len(pairs)} 对）",
                target=batch.pcid,
                params={P_PAIRS: pairs},
                confirm=f"确定按推荐结果关联 {len(pairs)} 对申请人与房源吗？",
            )
        )
    return blocks


# ------------------------------------------------------------------------------ 选房划拨


def search_inputs(batch: Batch) -> list[InputField]:
    """The 筛选廉租房人员 form (the same filters as SOAR's candidate search)."""
    return [
        _batch_input(batch),
        InputField(cand.F_NAME, "姓名", "text", max_length=60),
        InputField(cand.F_NAME_MATCH, "姓名匹配方式", "choice", choices=cand.NAME_MATCH_CHOICES, default=cand.EXACT),
        InputField(cand.F_ID_NUMBER, "身份证", "id_number", max_length=18),
        InputField(cand.F_CERTIFICATE, "配租资格证号", "text", max_length=30),
        InputField(cand.F_YEAR, "摇号年度", "integer", placeholder="如 2024"),
        InputField(cand.F_PERIOD, "摇号期数", "integer"),
        InputField(cand.F_SEQUENCE_FROM, "顺序号起", "integer"),
        InputField(cand.F_SEQUENCE_TO, "顺序号止", "integer"),
    ]


def _lottery_cells(applicant: Applicant) -> list[str]:
    lot = applicant.lottery
    return [str(lot.year), str(lot.period), str(lot.sequence)] if lot else [DASH, DASH, DASH]


def selection_page(batch: Batch, applicants: Sequence[Applicant]) -> list[Contribution]:
    """The 选房划拨 batch page: summary, the batch's people, and 筛选廉租房人员 (then 添加)."""
    rows = [
        TableRow(
            cells=[
                str(number),
                applicant.name,
                mask_id_number(applicant.id_number),
                _text(applicant.certificate),
                GuaranteeType.LABELS.get(applicant.guarantee, applicant.guarantee),
                _text(applicant.family_size),
                *_lottery_cells(applicant),
            ],
            key=applicant.sqid,
        )
        for number, applicant in enumerate(applicants, start=1)
    ]
    low_rent = sum(applicant.guarantee == GuaranteeType.LOW_RENT for applicant in applicants)
    members = Table(
        columns=(
            "序号",
            "申请人",
            "身份证号",
            "配租资格证号",
            "保障类型",
            "家庭人数",
            "摇号年度",
            "摇号期数",
            "顺序号",
        ),
        rows=rows,
        title="本批次选房人员",
        empty_text="本批次尚无选房人员",
    )
    return [
        summary(batch, [("选房人员", f"{len(applicants)} 人"), ("其中廉租房", f"{low_rent} 人")]),
        Contribution(kind="panel", key="allocation.members", label="选房人员", content=members),
        Contribution(
            kind="action",
            key=ACTION_SEARCH,
            label="筛选廉租房人员",
            enabled=batch.open,
            hint=None if batch.open else f"批次{batch.status_label}，不能再添加选房人员",
            content=ActionForm(inputs=search_inputs(batch), submit_label="筛选"),
        ),
    ]


def search_blocks(
    batch: Batch, found: Sequence[Applicant], standing: Mapping[str, cand.Standing], limit: int
) -> list[Block]:
    """筛选 result: matching 廉租房 people; those who may be added can be ticked for 添加."""
    rows = []
    for applicant in found:
        state = standing[applicant.sqid]
        if state.in_this_batch:
            badge = Badge("已在本批次", "muted")
        elif state.refusal:
            badge = Badge(state.refusal, "warn")
        else:
            badge = Badge("可添加", "ok")
        rows.append(
            TableRow(
                cells=[
                    applicant.name,
                    mask_id_number(applicant.id_number),
                    _text(applicant.certificate),
                    _text(applicant.family_size),
                    *_lottery_cells(applicant),
                    badge,
                ],
                key=applicant.sqid if state.addable else None,
            )
        )
    more = f"仅显示前 {limit} 名，请增加筛选条件。" if len(found) >= limit else ""
    addable = sum(standing[applicant.sqid].addable for applicant in found)
    hint = f"可添加 {addable} 名：勾选后点击「添加」。" if addable else "其中没有可添加的人员。"
    return [
        Notice(more + hint, "info"),
        Table(
            columns=("申请人", "身份证号", "配租资格证号", "家庭人数", "摇号年度", "摇号期数", "顺序号", "状态"),
            rows=rows,
            title="廉租房选房人员",
            empty_text="没有符合条件的廉租房选房人员",
            select_action=ActionButton(ACTION_ADD, "添加", target=batch.pcid) if batch.open and addable else None,
        ),
    ]
