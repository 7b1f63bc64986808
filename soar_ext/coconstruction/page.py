"""The project page's panels: the surveying link with its figures, and the four documents' delivery state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from soar_ext.coconstruction import survey_sync as sync
from soar_ext.coconstruction.outbox import TypeStatus
from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.hook_payloads import ActionButton, Badge, Block, Contribution, KeyValues, Notice, Table, TableRow

ACTION_CONFIRM = "co_construction.confirm"
ACTION_RESYNC = "co_construction.resync"
ACTION_DELIVER = "co_construction.deliver_now"
P_SURVEY_NUMBER = "survey_number"

STATE_BADGES = {
    sync.LINKED: Badge("已关联", "ok"),
    sync.PENDING: Badge("待确认关联", "warn"),
    sync.NOT_FOUND: Badge("未找到测绘项目", "error"),
    sync.UNAVAILABLE: Badge("测绘服务不可用", "warn"),
}
MATCH_LABELS = {"exact": "编号与名称完全一致", "normalised": "编号一致，名称规范化后一致", "confirmed": "人工确认关联"}


def _area(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f} ㎡"


def _when(value: Any) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _source(link: Any) -> str:
    if link.source == sync.SERVICE:
        return "测绘服务"
    if link.source == sync.LOCAL:
        date = f"{link.source_date:%Y-%m-%d}" if link.source_date else "日期不详"
        return f"SOAR 本地测绘数据（测绘服务不可用时的临时数据，更新于 {date}）"
    return "—"


def _deviation(link: Any, settings: CoConstructionSettings) -> str:
    if link.deviation_pct is None:
        return "尚无实测数据" if link.fyts else "—"
    text = f"{link.deviation_pct:+.2f}%（按已实测 {link.measured_count}/{link.fyts} 套计）"
    if link.flagged:
        return f"{text}，超过 {settings.discrepancy_percent}%，请核查"
    return f"{text}，在 {settings.discrepancy_percent}% 以内"


def survey_blocks(project: Any, link: Any, settings: CoConstructionSettings) -> list[Block]:
    """测绘关联: state, surveyed project, 预测面积 / 实测面积 / 房源数量, source and sync time, the flag."""
    resync = ActionButton(ACTION_RESYNC, "重新同步", target=project.pjxmid, hint=None)
    if link is None:
        return [
            Notice("尚未与测绘项目关联：保存项目后自动查找，也可点击「重新同步」。", "info"),
            resync,
        ]
    blocks: list[Block] = []
    if link.flagged:
        blocks.append(
            Notice(
                f"面积偏差提示：实测面积与预测面积相差 {link.deviation_pct:+.2f}%，超过设定的 "
                f"{settings.discrepancy_percent}%，请与测绘单位核实。",
                "error",
            )
        )
    if link.last_error:
        blocks.append(Notice(f"最近一次同步（{_when(link.tried_at)}）未成功：{link.last_error}。", "warn"))
    if link.link_state == sync.NOT_FOUND:
        blocks.append(
            Notice(
                f"测绘系统中未找到项目编号为「{project.xmbh}」或名称为「{project.xmmc}」的测绘项目，"
                "请核对项目编号和名称后保存，或点击「重新同步」。",
                "error",
            )
        )
    items = [
        ("测绘项目编号", link.chxmbh or "—"),
        ("测绘项目名称", link.chxmmc or "—"),
        ("关联方式", MATCH_LABELS.get(link.match_kind or "", "—")),
        ("预测面积", _area(link.ycjzmj)),
        ("实测面积", _area(link.scjzmj)),
        ("房源数量", "—" if link.fyts is None else f"{link.fyts} 套"),
        ("面积偏差", _deviation(link, settings)),
        ("数据来源", _source(link)),
        ("同步时间", _when(link.synced_at)),
    ]
    if link.confirmed_at:
        items.append(("确认人", f"{link.confirmed_name or link.confirmed_by}（{_when(link.confirmed_at)}）"))
    badge = STATE_BADGES.get(link.link_state, Badge(link.link_state, "info"))
    if link.flagged:
        badge = Badge(f"{badge.text}·面积偏差超限", "error")
    blocks.append(KeyValues(items=items, title="测绘关联", badge=badge, actions=[resync]))
    if link.link_state == sync.PENDING:
        rows = [
            TableRow(
                cells=[c.get("number", ""), c.get("name", ""), c.get("reason", "")],
                actions=[
                    ActionButton(
                        ACTION_CONFIRM,
                        "确认关联",
                        target=project.pjxmid,
                        params={P_SURVEY_NUMBER: c.get("number", "")},
                        confirm=f"确认将本项目关联到测绘项目「{c.get('number', '')} {c.get('name', '')}」？",
                    )
                ],
            )
            for c in sync.candidates_of(link)
        ]
        blocks.append(
            Table(
                columns=["测绘项目编号", "测绘项目名称", "匹配情况"],
                rows=rows,
                title="待确认关联的测绘项目",
                note="编号或名称只有一项一致，或有多个可能的测绘项目：系统不自动关联，请核对后点击「确认关联」。确认前不取用面积和套数。",
            )
        )
    return blocks


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"


def document_blocks(statuses: list[TypeStatus], others: list[Any], has_waiting: bool, project_id: str) -> list[Block]:
    """收件资料上传状态: one row per document type."""
    rows = []
    for st in statuses:
        file_text = "—" if st.file_name is None else f"{st.file_name}（{_size(st.file_size)}）"
        if st.earlier:
            file_text += f"；此前另收件 {st.earlier} 次"
        detail = st.detail or ""
        if st.refusal:
            detail = f"{detail}；{st.refusal}" if detail else st.refusal
        tone = "error" if st.tone == "error" else ("warn" if st.tone == "warn" else None)
        rows.append(
            TableRow(
                cells=[st.label, Badge(st.state, st.tone), file_text, _when(st.received_at), detail or "—"],  # type: ignore[arg-type]
                tone=tone,  # type: ignore[arg-type]
            )
        )
    blocks: list[Block] = [
        Table(
            columns=["资料类型", "上传状态", "文件", "收件时间", "说明"],
            rows=rows,
            title="收件资料上传状态",
            note="收件后由上传作业自动上传到统一资料库；资料库确认文件校验值与大小一致后才显示「已上传」。",
        )
    ]
    for other in others:
        blocks.append(
            Notice(
                f"{_when(other.received_at)} 收件未接受（文件「{other.file_name or '—'}」）：{other.reason}", "error"
            )
        )
    if has_waiting:
        blocks.append(
            ActionButton(
                ACTION_DELIVER, "立即上传", target=project_id, hint="不等待定时作业，现在上传本项目待上传的资料"
            )
        )
    return blocks


def contributions(survey: list[Block], documents: list[Block]) -> list[Contribution]:
    return [
        Contribution(kind="panel", key="co_construction.survey", label="测绘关联", content=survey),
        Contribution(kind="panel", key="co_construction.documents", label="收件资料上传", content=documents),
    ]
