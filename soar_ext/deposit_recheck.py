"""Re-check of deposit-waiver decisions flagged 待复核, and the 押金退还 (deposit refund) list.

A decision is flagged for re-check when the Qianjiang service did not answer, when no adult
member could be asked (invalid ID numbers or names), or when the plugin failed. The job
``deposit_waiver.recheck`` (offered through ``soar_register_jobs``; ``soar-ext deposit recheck``
runs it from the command line) re-scores each flagged household once the service answers:

- every score query is audited write-ahead like at signing (``ctx.audit.begin`` / ``finish``);
- a household that can now be decided gets its decision row updated (waived / required,
  ``needs_recheck`` = 0); one that still cannot stays flagged, unchanged;
- SOAR's contracts are never changed (a draft is decided again when it is signed);
- the signed contracts whose deposit was paid while the waiver applies are listed for a
  refund (:func:`refund_rows`): shown as a table and handed out as an Excel workbook through
  the one export module (:func:`export_refund_list`, which calls
  ``soar_ext.export.audited.export_workbook``), audited once as the export ``export.refund_list``.

The workbook needs the job's own role (批量核查人员), not 数据导出: it holds exactly the rows the
operator already sees in the job's result table (no ID numbers; the applicant's name masked),
and it is what the refunds are processed from — a re-check whose list could not be handed out
would be of no use to the operator the job is for.

Running the job twice is harmless: a decided household is no longer flagged and is not asked
again, and the refund list is derived from the stored decisions and contracts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from soar_ext.audit import AuditEvent
from soar_ext.config import ConfigError
from soar_ext.context import SoarContext
from soar_ext.db.codes import ContractStatus, ContractType
from soar_ext.db.extension import deposit_decisions
from soar_ext.db.legacy import contracts, families, persons
from soar_ext.errors import InvalidInput, PermissionDenied
from soar_ext.export.audited import export_workbook
from soar_ext.export.xlsx import Column, SheetSpec
from soar_ext.hook_payloads import (
    ActionForm,
    ActionRequest,
    ActionResult,
    Badge,
    ContractDraft,
    Contribution,
    DetailView,
    InputField,
    JobSpec,
    KeyValues,
    Notice,
    Table,
    TableRow,
)
from soar_ext.hooks import deposit_waiver as waiver
from soar_ext.idnumber import mask_name
from soar_ext.roles import BATCH_CHECKER

JOB_NAME = "deposit_waiver.recheck"
JOB_LABEL = "押金减免待复核重新核验"
#: The 立即复核 button on the job's page (``DetailView("batch_job", JOB_NAME)``).
RUN_ACTION = "deposit_waiver.recheck_now"
RUN_ROLE_ACTION = "运行押金减免待复核重新核验"
INPUT_SINCE = "since"
PURPOSE = "公租房押金减免复核"
REFUND_TITLE = "押金退还清单"
#: The audit action and purpose of handing out the refund list.
REFUND_EXPORT_ACTION = "export.refund_list"
REFUND_EXPORT_PURPOSE = "押金退还清单导出"
REFUND_COLUMNS = (
    Column("合同编号"),
    Column("合同ID"),
    Column("家庭ID"),
    Column("主申请人"),
    Column("配租类型"),
    Column("已缴押金（元）", "decimal"),
    Column("成员最高钱江分", "integer"),
    Column("减免分数线", "integer"),
    Column("复核时间", "datetime"),
)
REFUND_HEADERS = tuple(column.header for column in REFUND_COLUMNS)


@dataclass(frozen=True)
class RefundRow:
    """A signed contract whose deposit is now refundable (no ID numbers; the applicant's name masked)."""

    contract_code: str
    contract_id: str
    family_id: str
    applicant: str
    contract_type: str
    deposit: Decimal
    max_score: int | None
    threshold: int
    rechecked_at: dt.datetime

    def values(self) -> tuple[object, ...]:
        """The row for the workbook, one typed value per :data:`REFUND_COLUMNS` entry."""
        return (
            self.contract_code,
            self.contract_id,
            self.family_id,
            self.applicant,
            self.contract_type,
            self.deposit,
            self.max_score,
            self.threshold,
            self.rechecked_at,
        )

    def cells(self) -> list[str]:
        """The row as the result table on screen shows it."""
        return [
            self.contract_code,
            self.contract_id,
            self.family_id,
            self.applicant,
            self.contract_type,
            f"{self.deposit:.2f}",
            "" if self.max_score is None else str(self.max_score),
            str(self.threshold),
            f"{self.rechecked_at:%Y-%m-%d %H:%M:%S}",
        ]


@dataclass
class RecheckSummary:
    """What one run did."""

    checked: int = 0
    waived: int = 0
    required: int = 0
    still_pending: int = 0
    refundable: list[RefundRow] = field(default_factory=list)

    def message(self) -> str:
        return (
            f"待复核记录 {self.checked} 条：复核后减免 {self.waived} 条，须缴押金 {self.required} 条，"
            f"仍待复核 {self.still_pending} 条；可退还押金的已签合同 {len(self.refundable)} 份。"
        )


def _since(value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time())
        except ValueError:
            pass
    raise InvalidInput(f"复核起始日期「{str(value)[:20]}」无效，请按 2024-07-01 的格式填写。")


def flagged_decisions(conn: Connection, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Decisions marked for re-check (oldest first), optionally only those last updated since ``since``."""
    d = deposit_decisions
    stmt = select(d.c.id, d.c.htid, d.c.jtid, d.c.pzlx).where(d.c.needs_recheck == 1).order_by(d.c.updated_at, d.c.id)
    if since is not None:
        stmt = stmt.where(d.c.updated_at >= since)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _recheck_one(ctx: SoarContext, row: dict[str, Any], threshold: int, budget: float) -> str:
    """Re-score one household; returns ``waived``, ``required`` or ``pending``."""
    draft = ContractDraft(contract_id=row["htid"], contract_type=row["pzlx"], family_id=row["jtid"])
    people = waiver.household_members(ctx.connection, row["jtid"])
    if not people:
        return "pending"
    members, wanted = waiver.collect_members(ctx, people)
    waiver.score_members(ctx, draft, wanted, budget, purpose=PURPOSE)
    decision = waiver.decide(members, threshold)
    if decision.needs_recheck:
        return "pending"
    outcome = "waived" if decision.waived else "required"
    ctx.connection.execute(
        update(deposit_decisions)
        .where(deposit_decisions.c.id == row["id"], deposit_decisions.c.needs_recheck == 1)
        .values(
            members=json.dumps([m.as_json() for m in members], ensure_ascii=False),
            threshold=threshold,
            max_score=decision.max_score,
            decision=outcome,
            needs_recheck=0,
            message=f"复核：{decision.message}"[:190],
            operator_id=ctx.operator.id,
            updated_at=ctx.now(),
        )
    )
    return outcome


def refund_rows(conn: Connection, since: dt.datetime | None = None) -> Iterator[RefundRow]:
    """Signed contracts whose deposit was paid although the (enforced-mode) decision is now a waiver."""
    d, c = deposit_decisions, contracts
    stmt = (
        select(
            c.c.htcode,
            c.c.htid,
            c.c.jtid,
            c.c.pzlx,
            c.c.yj,
            d.c.max_score,
            d.c.threshold,
            d.c.updated_at,
            persons.c.xm,
        )
        .join(c, c.c.htid == d.c.htid)
        .join(families, families.c.jtid == c.c.jtid)
        .join(persons, persons.c.ryid == families.c.sqrid)
        .where(
            d.c.decision == "waived",
            d.c.needs_recheck == 0,
            d.c.run_mode == "on",
            c.c.htzt == ContractStatus.SIGNED,
            c.c.yjjmbz == 0,
            c.c.yj > 0,
        )
        .order_by(d.c.updated_at, c.c.htcode)
    )
    if since is not None:
        stmt = stmt.where(d.c.updated_at >= since)
    for r in conn.execute(stmt):
        yield RefundRow(
            contract_code=r.htcode,
            contract_id=r.htid,
            family_id=r.jtid,
            applicant=mask_name(r.xm),
            contract_type=ContractType.LABELS.get(r.pzlx, r.pzlx),
            deposit=Decimal(r.yj),
            max_score=r.max_score,
            threshold=int(r.threshold),
            rechecked_at=r.updated_at,
        )


def refund_sheet(rows: Iterable[RefundRow]) -> SheetSpec:
    """The 押金退还 list as one worksheet for the export module (formula safety and formats are its part)."""
    return SheetSpec(REFUND_TITLE, REFUND_COLUMNS, (row.values() for row in rows))


def export_refund_list(ctx: SoarContext, rows: Iterable[RefundRow]) -> ActionResult:
    """The 押金退还 list as ``押金退还清单-<time>.xlsx``, through the export module (role-checked, audited once).

    The role is the job's own, 批量核查人员 (see the module docstring).
    """
    listed = list(rows)
    return export_workbook(
        ctx,
        file_name=f"{REFUND_TITLE}-{ctx.now():%Y%m%d-%H%M%S}",
        purpose=REFUND_EXPORT_PURPOSE,
        sheets=[refund_sheet(listed)],
        required_role=BATCH_CHECKER,
        action=REFUND_EXPORT_ACTION,
        detail={"job": JOB_NAME, "contracts": [r.contract_id for r in listed][:200]},
    )


def recheck(ctx: SoarContext, *, since: object = None) -> RecheckSummary:
    """Re-score every decision flagged for re-check (see the module docstring); role 批量核查人员."""
    ctx.operator.require(BATCH_CHECKER, "对押金减免待复核记录重新核验")
    start = _since(since)
    try:
        threshold, budget = waiver.read_settings(ctx.settings())
    except ConfigError as exc:
        raise InvalidInput(f"押金减免配置有误，无法复核：{exc}") from None
    summary = RecheckSummary()
    for row in flagged_decisions(ctx.connection, start):
        summary.checked += 1
        outcome = _recheck_one(ctx, row, threshold, budget)
        if outcome == "waived":
            summary.waived += 1
        elif outcome == "required":
            summary.required += 1
        else:
            summary.still_pending += 1
    summary.refundable = list(refund_rows(ctx.connection, start))
    ctx.audit.record(
        AuditEvent(
            action=JOB_NAME,
            operator_id=ctx.operator.id,
            purpose=PURPOSE,
            result_status="ok",
            detail={
                "since": None if start is None else start.isoformat(),
                "checked": summary.checked,
                "waived": summary.waived,
                "required": summary.required,
                "still_pending": summary.still_pending,
                "refundable_contracts": [r.contract_id for r in summary.refundable][:200],
            },
            at=ctx.now(),
        )
    )
    return summary


def run_job(ctx: SoarContext, since: object = None) -> ActionResult:
    """The job's entry point (``JobSpec.run``): the summary, the refund list as a table and as a workbook.

    The workbook (``押金退还清单-<time>.xlsx``) comes only when there is something to refund.
    """
    summary = recheck(ctx, since=since)
    table = Table(
        columns=list(REFUND_HEADERS),
        rows=[TableRow(cells=r.cells(), key=r.contract_id) for r in summary.refundable],
        title=REFUND_TITLE,
        note="已签订合同不作修改；请按清单办理押金退还。",
        empty_text="暂无可退还押金的合同",
    )
    counts = KeyValues(
        items=[
            ("待复核记录", str(summary.checked)),
            ("复核后减免", str(summary.waived)),
            ("复核后须缴押金", str(summary.required)),
            ("仍待复核", str(summary.still_pending)),
        ],
        title="复核结果",
        badge=Badge("仍有待复核", "warn") if summary.still_pending else Badge("已全部复核", "ok"),
    )
    content: list[Any] = [counts, table]
    if summary.still_pending:
        content.insert(1, Notice("仍待复核的记录将在下次复核时重新查询（服务恢复或成员信息更正后）。", "warn"))
    exported = export_refund_list(ctx, summary.refundable) if summary.refundable else None
    return ActionResult(
        ok=True,
        message=summary.message(),
        data=summary,
        file_name=exported.file_name if exported else None,
        file_bytes=exported.file_bytes if exported else None,
        content_type=exported.content_type if exported else None,
        content=content,
    )


def job_spec() -> JobSpec:
    """The job as ``soar_register_jobs`` offers it."""
    return JobSpec(name=JOB_NAME, label=JOB_LABEL, run=run_job, required_role=BATCH_CHECKER)


def job_page(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """On the job's page: how many decisions wait for re-check, and the 立即复核 button."""
    if view.entity != "batch_job" or view.key != JOB_NAME:
        return None
    waiting = len(flagged_decisions(ctx.connection))
    panel = Contribution(
        kind="panel",
        key="deposit_waiver.recheck_status",
        label="待复核情况",
        content=KeyValues(
            items=[("待复核记录", str(waiting))],
            title="待复核情况",
            badge=Badge("有待复核记录", "warn") if waiting else Badge("暂无待复核记录", "ok"),
        ),
    )
    try:
        ctx.operator.require(BATCH_CHECKER, RUN_ROLE_ACTION)
        hint = None if waiting else "暂无待复核记录。"
    except PermissionDenied as exc:
        hint = str(exc)
    action = Contribution(
        kind="action",
        key=RUN_ACTION,
        label="立即复核",
        enabled=hint is None,
        hint=hint,
        content=ActionForm(
            inputs=(
                InputField(
                    INPUT_SINCE,
                    "仅复核此日期以来标记的记录（可不填）",
                    type="date",
                    placeholder="2024-07-01",
                    max_length=10,
                ),
            ),
            confirm="将重新查询待复核家庭成员的钱江分，确定现在复核吗？",
            submit_label="开始复核",
        ),
    )
    return [panel, action]


def run_now(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """The 立即复核 button: the job, as the operator (who must hold the batch-checker role)."""
    if request.key != RUN_ACTION:
        return None
    ctx.operator.require(BATCH_CHECKER, RUN_ROLE_ACTION)
    return run_job(ctx, since=request.params.get(INPUT_SINCE))
