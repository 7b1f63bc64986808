"""Seed item 1: public-rental deposit waived when a household member's Qianjiang score is above 700.

On ``soar_pre_contract`` for new (新配租) and renewal (续租) contracts, the adult members'
scores are fetched concurrently from the Hangzhou Citizen Card service. The deposit is
waived when at least one member scores strictly above the threshold (700 by default).

Every decision is kept in ``sx_deposit_decision`` (one row per contract, updated on
re-run). In ``on`` mode the draft contract's deposit columns are set; in ``shadow`` mode
only the decision is recorded. When the service does not answer within the time budget,
the deposit stays required and the decision is marked for re-check; this plugin never
blocks a contract. Every score query is audited write-ahead: the intent is committed on the
audit store before the call, the outcome after it (``ctx.audit.begin`` / ``finish``); a member
whose intent cannot be written is not queried.

Decisions marked for re-check (待复核) are re-scored by the job ``deposit_waiver.recheck``
(``soar_register_jobs``; also ``soar-ext deposit recheck``), see :mod:`soar_ext.deposit_recheck`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from soar_ext import hookimpl
from soar_ext.adapters.common import AdapterError
from soar_ext.audit import AuditEvent
from soar_ext.audit_store import new_id
from soar_ext.config import ConfigError
from soar_ext.context import SoarContext
from soar_ext.db.codes import ContractStatus, ContractType, Relation
from soar_ext.db.extension import deposit_decisions
from soar_ext.db.legacy import contracts, family_members, persons
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    ContractDraft,
    Contribution,
    DetailView,
    JobSpec,
    PreContractVerdict,
)
from soar_ext.idnumber import InvalidIdNumber, age_on, mask_id_number, mask_name, normalize_id_number
from soar_ext.log_masking import get_logger

PLUGIN_LABEL = "钱江分押金减免"
DEFAULT_THRESHOLD = 700
DEFAULT_BUDGET_SECONDS = 3.0
ADULT_AGE = 18
ELIGIBLE_TYPES = (ContractType.NEW, ContractType.RENEWAL)
WAIVER_REASON = "钱江分高于{threshold}分，押金减免"

log = get_logger(__name__)


@dataclass
class MemberScore:
    """One member as asked (or skipped) for the decision record."""

    person_id: str
    id_masked: str
    name_masked: str
    relation: str
    status: str  # scored | no_score | invalid_id | invalid_name | invalid_input | minor | error | not_audited
    score: int | None = None
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = {
            "person_id": self.person_id,
            "id": self.id_masked,
            "name": self.name_masked,
            "relation": Relation.LABELS.get(self.relation, self.relation),
            "status": self.status,
            "score": self.score,
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Decision:
    waived: bool
    needs_recheck: bool
    max_score: int | None
    message: str


def read_settings(settings: Mapping[str, Any]) -> tuple[int, float]:
    """Threshold and time budget from the plugin's settings; :class:`ConfigError` when invalid.

    A configuration mistake is the maintainers' problem, not the clerk's: it is not an
    :class:`~soar_ext.errors.InvalidInput`, so the host falls back to "deposit required,
    re-check" instead of blocking contracts.
    """
    threshold = settings.get("threshold", DEFAULT_THRESHOLD)
    budget = settings.get("time_budget_seconds", DEFAULT_BUDGET_SECONDS)
    if isinstance(threshold, str) and threshold.strip().isdigit():
        threshold = int(threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 1000:
        raise ConfigError(f"deposit_waiver.threshold must be a whole number 0-1000, got {threshold!r}")
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise ConfigError(f"deposit_waiver.time_budget_seconds must be a number, got {budget!r}") from None
    if isinstance(settings.get("time_budget_seconds"), bool) or not 0 < budget <= 60:
        raise ConfigError(f"deposit_waiver.time_budget_seconds must be in (0, 60], got {budget!r}")
    return threshold, budget


def household_members(conn: Connection, family_id: str) -> list[dict[str, Any]]:
    """Members of a family with their person data, main applicant first."""
    stmt = (
        select(persons.c.ryid, persons.c.xm, persons.c.sfzh, family_members.c.ysqrgx)
        .join(persons, persons.c.ryid == family_members.c.ryid)
        .where(family_members.c.jtid == family_id)
        .order_by(family_members.c.ysqrgx, persons.c.ryid)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _auth_ref(contract: ContractDraft) -> str:
    # The household authorises the credit query when it applies; SOAR keys it by application.
    return f"SOAR-{contract.application_id or contract.family_id}"


async def _fetch_scores(
    client: Any, wanted: list[tuple[MemberScore, str, str]], auth_ref: str, budget: float
) -> list[Any]:
    async def one(id_number: str, name: str) -> Any:
        try:
            return await client.score(id_number, name, auth_ref)
        except Exception as exc:  # one member's failure must not lose the others' scores
            return exc

    tasks = [asyncio.ensure_future(one(idn, name)) for _m, idn, name in wanted]
    done, pending = await asyncio.wait(tasks, timeout=budget)
    for task in pending:
        task.cancel()
    return [t.result() if t in done else TimeoutError(f"超过{budget}秒未返回") for t in tasks]


UNQUERYABLE = ("invalid_id", "invalid_name", "invalid_input")
#: Members listed by name in the message about unqueryable members (the rest are counted).
MESSAGE_MEMBERS = 4


def _unqueryable_message(members: list[MemberScore]) -> str:
    """Which members could not be asked and why (masked names, relation, the reason)."""
    bad = [m for m in members if m.status in UNQUERYABLE]
    parts = []
    for m in bad[:MESSAGE_MEMBERS]:
        relation = Relation.LABELS.get(m.relation, m.relation)
        reason = (m.note or "").split("：", 1)[-1][:30]
        parts.append(f"{m.name_masked or '（无姓名）'}（{relation}）{reason}")
    more = f"等{len(bad)}人" if len(bad) > MESSAGE_MEMBERS else ""
    return (
        f"家庭成年成员均无法查询钱江分：{'；'.join(parts)}{more}。本次按应缴押金办理，"
        "系统已标记待复核；请在 SOAR 中核对更正成员信息，复核通过后可退还押金。"
    )


def decide(members: list[MemberScore], threshold: int) -> Decision:
    """The waiver rule: waived when any member scores strictly above ``threshold``.

    When no member could be scored and at least one (possibly adult) member was not asked
    because of an invalid ID number or name, the decision is flagged for re-check and the
    message names those members and the reason.
    """
    scored = [m.score for m in members if m.score is not None]
    max_score = max(scored) if scored else None
    failed = [m for m in members if m.status in ("error", "not_audited")]
    if max_score is not None and max_score > threshold:
        return Decision(True, False, max_score, f"家庭成员钱江分最高{max_score}分，高于{threshold}分，押金予以减免。")
    if failed:
        return Decision(
            False,
            True,
            max_score,
            f"钱江分服务暂时无法查询（{len(failed)}名成员未取得评分），本次按应缴押金办理，"
            "系统已标记待复核，复核通过后可退还押金。",
        )
    asked = [m for m in members if m.status not in (*UNQUERYABLE, "minor")]
    if not asked and any(m.status in UNQUERYABLE for m in members):
        return Decision(False, True, None, _unqueryable_message(members))
    if not asked:
        return Decision(False, False, None, "家庭无可查询钱江分的成年成员，押金照常缴纳。")
    if max_score is None:
        return Decision(False, False, None, "家庭成员均无钱江分记录，押金照常缴纳。")
    return Decision(False, False, max_score, f"家庭成员钱江分最高{max_score}分，未高于{threshold}分，押金照常缴纳。")


def collect_members(
    ctx: SoarContext, rows: list[dict[str, Any]]
) -> tuple[list[MemberScore], list[tuple[MemberScore, str, str]]]:
    """Members as recorded, and those to ask: ``(member, ID number, name)`` of valid adults."""
    today = ctx.now().date()
    members: list[MemberScore] = []
    wanted: list[tuple[MemberScore, str, str]] = []
    for row in rows:
        raw = row["sfzh"]
        member = MemberScore(
            person_id=row["ryid"],
            id_masked=mask_id_number(raw or ""),
            name_masked=mask_name(row["xm"]),
            relation=row["ysqrgx"],
            status="pending",
        )
        members.append(member)
        try:
            id_number = normalize_id_number(raw, field="成员身份证号")
        except InvalidIdNumber as exc:
            # a malformed number's mask could be completed from the reason: hide it entirely
            member.id_masked = "*" * len(str(raw or ""))
            member.status, member.note = "invalid_id", str(exc)
            continue
        name = (row["xm"] or "").strip()
        if not name:
            member.status, member.note = "invalid_name", "成员姓名为空，无法查询钱江分"
            continue
        if age_on(id_number, today) < ADULT_AGE:
            member.status, member.note = "minor", "未成年，不查询钱江分"
            continue
        wanted.append((member, id_number, name))
    return members, wanted


def _score_event(ctx: SoarContext, contract: ContractDraft, id_number: str, purpose: str) -> AuditEvent:
    return AuditEvent(
        action="qianjiang.score",
        operator_id=ctx.operator.id,
        purpose=purpose,
        subject_id=id_number,
        interfaces=("qianjiang.score",),
        detail={"contract_id": contract.contract_id},
        at=ctx.now(),
    )


def score_members(
    ctx: SoarContext,
    contract: ContractDraft,
    wanted: list[tuple[MemberScore, str, str]],
    budget: float,
    *,
    purpose: str = "公租房押金减免审核",
) -> None:
    """Ask the members' scores concurrently, each query audited write-ahead, and set each member's status.

    The intents are committed on the audit store before any call (in one transaction); a
    member whose intent could not be written is not asked (status ``not_audited``). The
    outcomes are written after the calls, in one transaction.
    """
    if not wanted:
        return
    entries = ctx.audit.begin_all([_score_event(ctx, contract, idn, purpose) for _m, idn, _n in wanted])
    asked = []
    for (member, idn, name), entry in zip(wanted, entries, strict=True):
        if entry.recorded:
            asked.append((member, idn, name))
        else:
            member.status, member.note = "not_audited", "审计记录写入失败，未查询钱江分"
    results: list[Any] = []
    if asked:
        try:
            client = ctx.adapters.qianjiang
            results = ctx.adapters.run(_fetch_scores(client, asked, _auth_ref(contract), budget), timeout=budget + 1)
        except Exception as exc:  # adapter misconfigured or runner failure: treat as unavailable
            log.warning("Qianjiang scores unavailable for contract %s: %s", contract.contract_id, exc)
            results = [exc] * len(asked)
    outcome = {id(m): r for (m, _i, _n), r in zip(asked, results, strict=True)}
    finished: list[tuple[Any, str, dict[str, object] | None]] = []
    for (member, _idn, _name), entry in zip(wanted, entries, strict=True):
        if id(member) not in outcome:
            finished.append((entry, "not_sent", None))
            continue
        result = outcome[id(member)]
        if isinstance(result, AdapterError | TimeoutError):
            member.status, member.note = "error", str(result)[:200]
        elif isinstance(result, ValueError):  # refused before sending: bad input for this member
            member.status, member.note = "invalid_input", str(result)[:200]
        elif isinstance(result, BaseException):
            member.status, member.note = "error", f"{type(result).__name__}"
        elif getattr(result, "has_score", False):
            member.status, member.score = "scored", int(result.score)
        else:
            member.status = "no_score"
        finished.append((entry, member.status, {"error": member.note} if member.status == "error" else None))
    ctx.audit.finish_all(finished)


def _contract_row(conn: Connection, contract_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(contracts.c.htid, contracts.c.yj, contracts.c.yjjmbz, contracts.c.htzt).where(
                contracts.c.htid == contract_id
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _save_decision(
    ctx: SoarContext,
    contract: ContractDraft,
    members: list[MemberScore],
    threshold: int,
    decision: Decision,
    enforced: bool,
    original_deposit: Decimal | None,
) -> None:
    """Insert or update the contract's one decision row."""
    now = ctx.now()
    values = {
        "jtid": contract.family_id,
        "pzlx": contract.contract_type,
        "members": json.dumps([m.as_json() for m in members], ensure_ascii=False),
        "threshold": threshold,
        "max_score": decision.max_score,
        "decision": "waived" if decision.waived else "required",
        "needs_recheck": 1 if decision.needs_recheck else 0,
        "run_mode": ctx.mode,
        "enforced": 1 if enforced else 0,
        "message": decision.message[:190],
        "operator_id": ctx.operator.id,
        "updated_at": now,
    }
    conn = ctx.connection
    save = update(deposit_decisions).where(deposit_decisions.c.htid == contract.contract_id).values(**values)
    if conn.execute(save).rowcount == 1:  # a re-run for the same contract
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(deposit_decisions).values(
                    id=new_id(), htid=contract.contract_id, decided_at=now, original_deposit=original_deposit, **values
                )
            )
    except IntegrityError:
        # only a concurrent first insert for the same contract may land here; anything else re-raises
        if conn.execute(save).rowcount != 1:
            raise


def _original_deposit(conn: Connection, contract: ContractDraft, row: dict[str, Any] | None) -> Decimal | None:
    """The deposit before any waiver: kept in our decision row, else the contract's, else SOAR's payload."""
    stored = conn.execute(
        select(deposit_decisions.c.original_deposit).where(deposit_decisions.c.htid == contract.contract_id)
    ).scalar_one_or_none()
    if stored is not None:
        return Decimal(stored)
    if row is not None and row["yj"] is not None and not row["yjjmbz"]:
        return Decimal(row["yj"])
    return contract.deposit


def _apply_to_contract(
    conn: Connection, contract_id: str, waived: bool, original: Decimal | None, threshold: int
) -> None:
    if waived:
        values: dict[str, Any] = {"yj": Decimal("0"), "yjjmbz": 1, "yjjmyy": WAIVER_REASON.format(threshold=threshold)}
    else:
        values = {"yj": original, "yjjmbz": 0, "yjjmyy": None}
    conn.execute(update(contracts).where(contracts.c.htid == contract_id).values(**values))


def _enforcement(
    ctx: SoarContext, row: dict[str, Any] | None, decision: Decision, original: Decimal | None
) -> tuple[bool, Decision]:
    """Whether the decision may be written to the contract, and the decision adjusted if not."""
    if not ctx.enforce or row is None:
        return False, decision
    if row["htzt"] != ContractStatus.DRAFT:
        state = ContractStatus.LABELS.get(row["htzt"], row["htzt"])
        note = f"合同状态为「{state}」，押金未作调整。"
        return False, Decision(decision.waived, decision.needs_recheck, decision.max_score, f"{decision.message}{note}")
    if not decision.waived and original is None:
        # the deposit before an earlier waiver is unknown: never write NULL, ask for a re-check
        return False, Decision(
            False, True, decision.max_score, f"{decision.message}原押金金额不明，合同押金未作调整，已标记待复核。"
        )
    return True, decision


@hookimpl
def soar_startup(ctx: SoarContext) -> list[str] | None:
    """Check the plugin's settings once, so a mistake shows in the start-up log."""
    try:
        read_settings(ctx.settings())
    except ConfigError as exc:
        return [f"{exc}; contracts fall back to 'deposit required, re-check' until fixed"]
    return None


@hookimpl
def soar_pre_contract(ctx: SoarContext, contract: ContractDraft) -> PreContractVerdict | None:
    """Decide the deposit waiver for new and renewal contracts."""
    if contract.contract_type not in ContractType.LABELS:
        raise InvalidInput(f"未知的配租类型代码「{contract.contract_type}」，无法判断押金减免，请核对合同信息。")
    if contract.contract_type not in ELIGIBLE_TYPES:
        return None
    threshold, budget = read_settings(ctx.settings())
    conn = ctx.connection
    row = _contract_row(conn, contract.contract_id)
    original = _original_deposit(conn, contract, row)
    rows = household_members(conn, contract.family_id)
    members, wanted = collect_members(ctx, rows)
    score_members(ctx, contract, wanted, budget)
    decision = decide(members, threshold)
    if not rows:
        decision = Decision(False, True, None, "未找到该家庭的成员信息，押金照常缴纳，已标记待复核。")
    enforced, decision = _enforcement(ctx, row, decision, original)
    if enforced:
        _apply_to_contract(conn, contract.contract_id, decision.waived, original, threshold)
    _save_decision(ctx, contract, members, threshold, decision, enforced, original)
    deposit = Decimal("0") if decision.waived else original
    return PreContractVerdict(
        allow=True,
        message=decision.message,
        deposit=deposit if enforced or not ctx.enforce else None,
        needs_recheck=decision.needs_recheck,
        subject_key=contract.contract_id,
    )


@hookimpl
def soar_pre_contract_fallback(ctx: SoarContext, contract: ContractDraft, error: Exception) -> PreContractVerdict:
    """Called by the host when this plugin fails: deposit required, decision flagged for re-check.

    The host has already rolled back whatever the failed call wrote; a waiver written by an
    earlier run on the same draft is undone here, so the contract matches the message.
    """
    message = "押金减免核验出现异常，本次按应缴押金办理，系统已标记待复核。"
    decision = Decision(False, True, None, message)
    try:
        threshold, _budget = read_settings(ctx.settings())
    except ConfigError:
        threshold = DEFAULT_THRESHOLD
    deposit = None
    try:
        with ctx.connection.begin_nested():
            row = _contract_row(ctx.connection, contract.contract_id)
            original = _original_deposit(ctx.connection, contract, row)
            enforced, decision = _enforcement(ctx, row, decision, original)
            if enforced:
                _apply_to_contract(ctx.connection, contract.contract_id, False, original, threshold)
                deposit = original
            _save_decision(ctx, contract, [], threshold, decision, enforced, original)
    except Exception:
        log.exception("could not record the fallback decision for contract %s", contract.contract_id)
    return PreContractVerdict(
        allow=True, message=decision.message, deposit=deposit, needs_recheck=True, subject_key=contract.contract_id
    )


@hookimpl
def soar_register_jobs(ctx: SoarContext) -> list[JobSpec]:
    """The re-check of 待复核 decisions (``soar-ext deposit recheck`` runs the same job)."""
    from soar_ext import deposit_recheck

    return [deposit_recheck.job_spec()]


@hookimpl
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """The re-check job's page: the number of 待复核 decisions and a 立即复核 button."""
    from soar_ext import deposit_recheck

    return deposit_recheck.job_page(ctx, view)


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """立即复核 (``deposit_waiver.recheck_now``): the re-check job run from its page."""
    from soar_ext import deposit_recheck

    return deposit_recheck.run_now(ctx, request)
