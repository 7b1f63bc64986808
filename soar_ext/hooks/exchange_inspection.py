"""Seed item 2: house-exchange inspection (换房平台验房).

- ``soar_pre_contract``: an exchange contract (换房) for a successfully paired exchange may be
  signed only after the pairing's inspection is confirmed; 未配租换房 pairings need no
  inspection. The pairing and inspection rows are read with ``FOR UPDATE`` inside SOAR's
  transaction, so a concurrent signing cannot slip past a change of inspection state.
- ``soar_action`` ``exchange_inspection.confirm``: the platform's 验房确认 records the result,
  the inspector and the confirmation time.
- ``soar_query_build`` on ``exchange.inspection``: the inspection list leaves out 未配租换房.
- ``soar_query_fields`` / ``soar_query_build`` on ``exchange.business``: filters 验房状态 and
  是否已签合同, result columns 验房确认时间, 验房状态, 是否已签合同.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Select, and_, case, exists, func, insert, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from soar_ext import hookimpl
from soar_ext.audit_store import new_id
from soar_ext.context import SoarContext
from soar_ext.db.codes import ContractStatus, ContractType, ExchangeKind, InspectionStatus, PairingStatus
from soar_ext.db.legacy import contracts, exchange_pairings, inspections
from soar_ext.db.portability import check_lengths, none_if_blank
from soar_ext.errors import InvalidInput, NotFound, echo
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    ContractDraft,
    PreContractVerdict,
    QueryField,
)
from soar_ext.query_filters import choice_filter, require_tables
from soar_ext.roles import INSPECTOR

PLUGIN_LABEL = "换房验房"

SCREEN_INSPECTION = "exchange.inspection"
SCREEN_BUSINESS = "exchange.business"
ACTION_CONFIRM = "exchange_inspection.confirm"

NOT_REQUIRED = "NA"
STATUS_CHOICES: Mapping[str, str] = {**InspectionStatus.LABELS, NOT_REQUIRED: "无需验房"}
SIGNED_CHOICES: Mapping[str, str] = {"1": "是", "0": "否"}

FILTER_STATUS = "inspection_status"
FILTER_SIGNED = "contract_signed"
COLUMN_CONFIRMED_AT = "inspection_confirmed_at"
COLUMN_STATUS = "inspection_status"
COLUMN_SIGNED = "contract_signed"

p = exchange_pairings
i = inspections


# ---------------------------------------------------------------------------------- the gate


def _locked(stmt: Select) -> Select:
    """Lock the rows read, in a mode that does not conflict with foreign-key checks.

    SOAR inserts the draft contract (which references the pairing) in the same transaction
    before asking us; PostgreSQL's FK check holds a KEY SHARE lock on the pairing, which a
    plain FOR UPDATE would wait on — concurrent signers would deadlock. ``key_share=True``
    renders FOR NO KEY UPDATE on PostgreSQL and plain FOR UPDATE on Oracle (whose FK checks
    take no row lock on the parent).
    """
    return stmt.with_for_update(key_share=True)


def _pairing_id(conn: Connection, contract: ContractDraft) -> tuple[str | None, str | None]:
    """The pairing the contract row refers to, and a refusal if SOAR's payload disagrees with it."""
    stored = conn.execute(select(contracts.c.hfpdid).where(contracts.c.htid == contract.contract_id)).scalar()
    given = contract.exchange_pairing_id
    if stored and given and stored != given:
        return None, "换房合同关联的换房配对与所选配对不一致，不能签订新合同。请重新选择配对后再签订。"
    return stored or given, None


def _signed_elsewhere(conn: Connection, pairing_id: str, contract_id: str) -> str | None:
    """Code of another signed exchange contract on the pairing, if any."""
    return conn.execute(
        select(contracts.c.htcode).where(
            contracts.c.hfpdid == pairing_id,
            contracts.c.pzlx == ContractType.EXCHANGE,
            contracts.c.htzt == ContractStatus.SIGNED,
            contracts.c.htid != contract_id,
        )
    ).scalar()


def gate_message(conn: Connection, contract: ContractDraft) -> str | None:
    """Why this exchange contract may not be signed yet, or ``None`` when it may.

    The pairing row is locked first, so concurrent signers of one pairing take turns and
    each sees what the previous one committed.
    """
    pairing_id, refusal = _pairing_id(conn, contract)
    if refusal:
        return refusal
    if not pairing_id:
        return "换房合同未关联换房配对记录，不能签订新合同。请在换房管理中选择配对后再签订。"
    pairing = (
        conn.execute(_locked(select(p.c.pdid, p.c.pdbh, p.c.pdzt, p.c.hflx).where(p.c.pdid == pairing_id)))
        .mappings()
        .first()
    )
    if pairing is None:
        return f"未找到换房配对（ID {echo(pairing_id)}），不能签订新合同。"
    label = pairing["pdbh"]
    if pairing["pdzt"] != PairingStatus.MATCHED:
        state = PairingStatus.LABELS.get(pairing["pdzt"], pairing["pdzt"])
        return f"换房配对 {label} 当前状态为「{state}」，配对成功后才能签订换房合同。"
    signed = _signed_elsewhere(conn, pairing_id, contract.contract_id)
    if signed:
        return f"换房配对 {label} 已签订换房合同（合同编号 {signed}），不能重复签订。"
    if pairing["hflx"] == ExchangeKind.UNALLOCATED:
        return None
    inspection = conn.execute(_locked(select(i.c.yfzt, i.c.yfqrsj).where(i.c.pdid == pairing_id))).mappings().first()
    if inspection is None:
        return f"换房配对 {label} 尚未验房，请先在换房平台完成验房确认后再签订新合同。"
    if inspection["yfzt"] != InspectionStatus.PASSED or inspection["yfqrsj"] is None:
        state = InspectionStatus.LABELS.get(inspection["yfzt"], inspection["yfzt"])
        return (
            f"换房配对 {label} 的验房尚未确认通过（当前验房状态：{state}），请先在换房平台完成验房确认后再签订新合同。"
        )
    return None


@hookimpl
def soar_pre_contract(ctx: SoarContext, contract: ContractDraft) -> PreContractVerdict | None:
    """Block an exchange contract until the pairing's inspection is confirmed."""
    if contract.contract_type != ContractType.EXCHANGE:
        return None
    message = gate_message(ctx.connection, contract)
    return PreContractVerdict(
        allow=message is None, message=message, subject_key=contract.exchange_pairing_id or contract.contract_id
    )


# ---------------------------------------------------------------------------------- 验房确认


def confirm_inspection(
    conn: Connection, pairing_id: str, *, passed: bool, inspector: str, remarks: str | None, at: Any
) -> dict[str, Any]:
    """Record an inspection result for a pairing (insert or update ``TPG_HFYF``)."""
    inspector = (inspector or "").strip()
    if not inspector:
        raise InvalidInput("验房人员不能为空。")
    remarks = none_if_blank(remarks.strip() if isinstance(remarks, str) else remarks)
    values = {
        "yfzt": InspectionStatus.PASSED if passed else InspectionStatus.FAILED,
        "yfjg": remarks,
        "yfry": inspector,
        "yfqrsj": at,
    }
    check_lengths(i, values)
    pairing = (
        conn.execute(_locked(select(p.c.pdbh, p.c.pdzt, p.c.hflx).where(p.c.pdid == pairing_id))).mappings().first()
    )
    if pairing is None:
        raise NotFound(f"未找到换房配对（ID {echo(pairing_id)}）。")
    if pairing["hflx"] == ExchangeKind.UNALLOCATED:
        raise InvalidInput(f"换房配对 {pairing['pdbh']} 为未配租换房，无需验房。")
    if pairing["pdzt"] != PairingStatus.MATCHED:
        state = PairingStatus.LABELS.get(pairing["pdzt"], pairing["pdzt"])
        raise InvalidInput(f"换房配对 {pairing['pdbh']} 当前状态为「{state}」，配对成功后才能验房确认。")
    updated = conn.execute(update(i).where(i.c.pdid == pairing_id).values(**values)).rowcount
    if not updated:
        conn.execute(insert(i).values(yfid=new_id(), pdid=pairing_id, **values))
    return {"pairing": pairing["pdbh"], **values}


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """验房确认 from the exchange platform's inspection screen."""
    if request.key != ACTION_CONFIRM:
        return None
    ctx.operator.require(INSPECTOR, "进行验房确认")
    pairing_id = request.target or request.params.get("pairing_id")
    if not pairing_id:
        raise InvalidInput("请先选择需要验房确认的换房配对。")
    result = request.params.get("result")
    if result not in (InspectionStatus.PASSED, InspectionStatus.FAILED):
        raise InvalidInput("验房结果只能是「验房通过」或「验房不通过」。")
    remarks = request.params.get("remarks")
    if remarks is not None and not isinstance(remarks, str):
        raise InvalidInput("验房结果说明必须是文本。")
    if not ctx.enforce:
        return ActionResult(ok=True, message="验房确认功能处于试运行，本次未写入。")
    recorded = confirm_inspection(
        ctx.connection,
        str(pairing_id),
        passed=result == InspectionStatus.PASSED,
        inspector=ctx.operator.name,
        remarks=remarks,
        at=ctx.now(),
    )
    label = InspectionStatus.LABELS[recorded["yfzt"]]
    return ActionResult(ok=True, message=f"换房配对 {recorded['pairing']} 验房确认完成：{label}。", data=recorded)


# ---------------------------------------------------------------------------------- query screens


def inspection_status_expr() -> ColumnElement[str]:
    """验房状态 of a pairing: 无需验房 for 未配租换房, else the inspection's status (待验房 without a row)."""
    status: ScalarSelect[Any] = select(i.c.yfzt).where(i.c.pdid == p.c.pdid).scalar_subquery()
    return case(
        (p.c.hflx == ExchangeKind.UNALLOCATED, literal(NOT_REQUIRED)),
        else_=func.coalesce(status, literal(InspectionStatus.PENDING)),
    )


def signed_contract_exists() -> ColumnElement[bool]:
    """A signed exchange contract exists for the pairing."""
    return exists().where(
        and_(
            contracts.c.hfpdid == p.c.pdid,
            contracts.c.htzt == ContractStatus.SIGNED,
            contracts.c.pzlx == ContractType.EXCHANGE,
        )
    )


def signed_flag_expr() -> ColumnElement[str]:
    """是否已签合同 as '1'/'0'.

    Written as a correlated scalar lookup rather than ``CASE WHEN EXISTS``: PostgreSQL may turn
    the latter into a hashed subplan that reads all of TPG_ZLHT for every page.
    """
    signed = (
        select(func.max(literal("1")))
        .where(
            contracts.c.hfpdid == p.c.pdid,
            contracts.c.htzt == ContractStatus.SIGNED,
            contracts.c.pzlx == ContractType.EXCHANGE,
        )
        .scalar_subquery()
    )
    return func.coalesce(signed, literal("0"))


def _matched() -> ColumnElement[bool]:
    # Inspections and signed exchange contracts exist only for successful pairings, which carry
    # their success time (the gate and 验房确认 both require 配对成功). Stating it lets the index
    # on (pdcgsj, pdid) skip pairings still 配对中 or 已取消; `soar-ext doctor` checks the rule.
    return p.c.pdcgsj.is_not(None)


def status_condition(code: str) -> ColumnElement[bool]:
    """WHERE condition for one 验房状态 code, written so indexes on TPG_HFYF can serve it."""
    if code == NOT_REQUIRED:
        return p.c.hflx == ExchangeKind.UNALLOCATED
    allocated = p.c.hflx == ExchangeKind.ALLOCATED
    if code == InspectionStatus.PENDING:
        decided = exists().where(
            and_(i.c.pdid == p.c.pdid, i.c.yfzt.in_([InspectionStatus.PASSED, InspectionStatus.FAILED]))
        )
        return and_(allocated, ~decided)
    return and_(allocated, _matched(), exists().where(and_(i.c.yfzt == code, i.c.pdid == p.c.pdid)))


def amend_business_query(query: Select, filters: Mapping[str, object]) -> Select:
    """Add the new columns and filters of the exchange business query."""
    status = choice_filter(filters, FILTER_STATUS, STATUS_CHOICES, "验房状态")
    signed = choice_filter(filters, FILTER_SIGNED, SIGNED_CHOICES, "是否已签合同")
    confirmed_at = select(i.c.yfqrsj).where(i.c.pdid == p.c.pdid).scalar_subquery()
    query = query.add_columns(
        confirmed_at.label(COLUMN_CONFIRMED_AT),
        inspection_status_expr().label(COLUMN_STATUS),
        signed_flag_expr().label(COLUMN_SIGNED),
    )
    if status is not None:
        query = query.where(status_condition(status))
    if signed is not None:
        query = query.where(and_(_matched(), signed_contract_exists()) if signed == "1" else ~signed_contract_exists())
    return query


@hookimpl
def soar_query_fields(screen: str) -> list[QueryField] | None:
    if screen != SCREEN_BUSINESS:
        return None
    return [
        QueryField(FILTER_STATUS, "验房状态", "filter", "choice", STATUS_CHOICES),
        QueryField(FILTER_SIGNED, "是否已签合同", "filter", "choice", SIGNED_CHOICES),
        QueryField(COLUMN_CONFIRMED_AT, "验房确认时间", "column", "datetime"),
        QueryField(COLUMN_STATUS, "验房状态", "column", "choice", STATUS_CHOICES),
        QueryField(COLUMN_SIGNED, "是否已签合同", "column", "choice", SIGNED_CHOICES),
    ]


@hookimpl
def soar_query_build(screen: str, query: Select, filters: dict[str, object]) -> Select | None:
    if screen == SCREEN_INSPECTION:
        require_tables(query, screen, p)
        return query.where(p.c.hflx != ExchangeKind.UNALLOCATED)
    if screen == SCREEN_BUSINESS:
        require_tables(query, screen, p)
        return amend_business_query(query, filters)
    return None
