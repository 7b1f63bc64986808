"""Seed item 3: 核查 — a person's Big Data shared data, all twelve categories at once, and what changed.

- ``soar_detail_view`` on a person's detail page (entity ``person``, key = ``ryid``,
  ``application_id`` = the family's ``sqid``): the 核查 action, only once the application is
  业务办结 (``ApprovalStatus.COMPLETED``); disabled, with the reason, for an operator without the
  verification role or a person whose ID number is invalid. Earlier verifications are listed in
  a 核查记录 panel.
- ``soar_action``:

  - ``verification.run`` — asks the twelve categories concurrently within
    ``[plugins.verification] time_budget_seconds``; a 查询事由 is required. Each category ends in
    one state: 正常返回, 无记录, 查询失败 or 超时. The verification and one snapshot per category
    are stored (``sx_verification``, ``sx_verification_snapshot``) and the result page shows,
    per category, the changes since that category's previous successful snapshot.
  - ``verification.rerun`` — queries the failed or timed-out categories of a verification again
    (all of them, or the ``categories`` asked for); the others are not asked twice.
  - ``verification.show`` — shows a stored verification.

Every upstream call is audited (operator, purpose, masked subject and digest, interface, time,
outcome) and so is every read of a stored verification; all three actions need the
verification role (``roles.VERIFIER``). In ``shadow`` mode the host hides the action; a request
that still arrives runs and is stored as a trial (``run_mode = 'shadow'``) and its page says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, or_, select
from sqlalchemy.exc import IntegrityError

from soar_ext import hookimpl
from soar_ext.adapters.bigdata import CATEGORY_CODES, BudgetExceeded, CategoryResult
from soar_ext.adapters.bigdata.categories import CATEGORIES, get_category
from soar_ext.adapters.common import AdapterError
from soar_ext.audit import DIGEST_KEY_SETTING, AuditEntry, AuditEvent, subject_digest
from soar_ext.audit_store import new_id
from soar_ext.config import ConfigError
from soar_ext.context import SoarContext
from soar_ext.db.codes import ApprovalStatus
from soar_ext.db.extension import verifications
from soar_ext.db.legacy import applications, families, family_members, persons
from soar_ext.db.portability import check_lengths
from soar_ext.errors import InvalidInput, NotFound, PermissionDenied, SoarUserError
from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    ActionRequest,
    ActionResult,
    Badge,
    Contribution,
    DetailView,
    InputField,
    Table,
    TableRow,
)
from soar_ext.hooks import verification_store as store
from soar_ext.hooks.verification_changes import compare
from soar_ext.hooks.verification_page import (
    ACTION_RERUN,
    STATE_ERROR,
    STATE_LABELS,
    STATE_TIMEOUT,
    CategoryView,
    VerificationPage,
    display_columns,
    display_rows,
    display_time,
)
from soar_ext.hooks.verification_store import Snapshot, Verification
from soar_ext.idnumber import InvalidIdNumber, is_valid_id_number, mask_id_number, mask_in_text, normalize_id_number
from soar_ext.log_masking import get_logger
from soar_ext.roles import FULL_ID, VERIFIER

PLUGIN_LABEL = "大数据核查"

ENTITY_PERSON = "person"
ACTION_RUN = "verification.run"
ACTION_SHOW = "verification.show"
PANEL_HISTORY = "verification.history"
INPUT_PURPOSE = "purpose"
INPUT_PERSON = "person_id"
INPUT_APPLICATION = "application_id"
PARAM_CATEGORIES = "categories"
PARAM_VERIFICATION = "verification_id"

DEFAULT_BUDGET_SECONDS = 8.0
MAX_BUDGET_SECONDS = 60.0
MAX_PURPOSE_CHARS = 200
MAX_REASON_CHARS = 200
HISTORY_ROWS = 10
# the runner's own deadline: verify_all stops at the budget; this only catches a stuck runner
RUNNER_MARGIN_SECONDS = 2.0
# the budget covers the whole action: queries stop this much earlier (a share of the budget, at
# most the cap) so that the answers are audited, stored and drawn within the budget
STORE_RESERVE_SHARE = 0.05
STORE_RESERVE_CAP_SECONDS = 0.25

AUDIT_QUERY = "bigdata.query"
AUDIT_READ = "verification.read"

ROLE_ACTION = "核查大数据共享信息"
PURPOSE_PLACEHOLDER = "例如：公租房保障资格年度复核"

log = get_logger(__name__)


# ---------------------------------------------------------------------------------- settings


def read_settings(settings: Mapping[str, Any]) -> float:
    """The time budget (seconds) from ``[plugins.verification]``; :class:`ConfigError` when invalid."""
    raw = settings.get("time_budget_seconds", DEFAULT_BUDGET_SECONDS)
    try:
        if isinstance(raw, bool):
            raise TypeError
        budget = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"verification.time_budget_seconds must be a number, got {raw!r}") from None
    if not (0 < budget <= MAX_BUDGET_SECONDS) or math.isnan(budget):
        raise ConfigError(f"verification.time_budget_seconds must be in (0, {MAX_BUDGET_SECONDS:g}], got {raw!r}")
    return budget


def _budget(ctx: SoarContext) -> float:
    try:
        return read_settings(ctx.settings())
    except ConfigError as exc:
        log.error("verification refused: %s", exc)
        raise SoarUserError("大数据核查的配置有误（核查时限），暂不能核查。请联系系统管理员。") from None


def _client(ctx: SoarContext) -> Any:
    try:
        return ctx.adapters.bigdata
    except Exception as exc:  # missing or invalid [adapters.bigdata]: the administrators' problem
        log.error("verification refused: the Big Data adapter is not usable: %s: %s", type(exc).__name__, exc)
        raise SoarUserError("大数据局接口未配置或配置有误，暂不能核查。请联系系统管理员。") from None


# ---------------------------------------------------------------------------------- SOAR data


@dataclass(frozen=True)
class Subject:
    """The person verified: SOAR's person id, name and validated ID number."""

    person_id: str
    name: str
    id_number: str = ""

    @property
    def masked(self) -> str:
        return mask_id_number(self.id_number)


def completed_application(conn: Connection, person_id: str, application_id: str | None = None) -> str | None:
    """The ``sqid`` of the person's 业务办结 application (the one given, when given), or ``None``."""
    member_of = select(family_members.c.jtid).where(family_members.c.ryid == person_id)
    main_applicant_of = select(families.c.jtid).where(families.c.sqrid == person_id)
    stmt = select(applications.c.sqid).where(
        applications.c.spzt == ApprovalStatus.COMPLETED,
        or_(applications.c.jtid.in_(member_of), applications.c.jtid.in_(main_applicant_of)),
    )
    if application_id is not None:
        stmt = stmt.where(applications.c.sqid == application_id)
    stmt = stmt.order_by(applications.c.bjrq.desc(), applications.c.sqid.desc()).limit(1)
    return conn.execute(stmt).scalar()


def _person(conn: Connection, person_id: str) -> Row[Any] | None:
    return conn.execute(select(persons.c.ryid, persons.c.xm, persons.c.sfzh).where(persons.c.ryid == person_id)).first()


def _subject_problem(person: Any) -> tuple[Subject | None, str | None]:
    """The subject, or the reason (Chinese) it cannot be verified. No ID number reaches the reason."""
    try:
        id_number = normalize_id_number(person.sfzh, field="该人员的身份证号")
    except InvalidIdNumber as exc:
        return None, f"{exc}，无法向大数据局核查。请先在人员信息中更正身份证号。"
    name = (person.xm or "").strip()
    if not name:
        return None, "该人员姓名为空，无法向大数据局核查。请先在人员信息中补充姓名。"
    return Subject(person.ryid, name, id_number), None


def _subject(conn: Connection, person_id: str) -> Subject:
    person = _person(conn, person_id)
    if person is None:
        raise NotFound(f"未找到人员信息（人员ID {person_id}）。")
    subject, problem = _subject_problem(person)
    if subject is None:
        raise InvalidInput(problem or "该人员信息不完整，无法核查。")
    return subject


# ---------------------------------------------------------------------------------- input


def _key_param(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 32:
        raise InvalidInput(f"请求中的{what}不正确，请从页面重新进入后再操作。")
    return value.strip()


def _purpose(value: object) -> str:
    """The 查询事由: required text of at most 200 characters (and its column's byte length)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput("请填写查询事由（例如：公租房保障资格年度复核）。核查公民个人信息须说明用途。")
    if not isinstance(value, str):
        raise InvalidInput("查询事由必须是文字。")
    purpose = value.strip()
    if len(purpose) > MAX_PURPOSE_CHARS:
        raise InvalidInput(f"查询事由最多{MAX_PURPOSE_CHARS}字，当前{len(purpose)}字，请精简后再核查。")
    check_lengths(verifications, {"purpose": purpose})
    return purpose


def _categories(value: object) -> list[str]:
    """Category codes asked for in a re-run (codes or Chinese labels; a list or a comma-separated text)."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items: Sequence[object] = [part for part in value.replace("，", ",").split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise InvalidInput("重新查询的类别格式不正确，请从核查结果页面点击「重新查询」。")
    codes = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("重新查询的类别格式不正确，请从核查结果页面点击「重新查询」。")
        try:
            codes.append(get_category(item.strip()[:40]).code)
        except ValueError as exc:
            raise InvalidInput(mask_in_text(f"{exc}。")) from None
    return list(dict.fromkeys(codes))


# ---------------------------------------------------------------------------------- upstream


class AnswerTimes:
    """Recent answer times per category (moving average), to start the slowest-answering ones first.

    Each request costs the client a few milliseconds to prepare and send, so twelve requests leave
    over tens of milliseconds; starting the categories that answer slowest first keeps that cost
    out of the verification's wall time. Only the order of the requests depends on this.
    """

    def __init__(self, weight: float = 0.3) -> None:
        self._weight = weight
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def order(self, codes: Sequence[str]) -> list[str]:
        """``codes`` slowest first; categories never timed come first, in their given order."""
        with self._lock:
            known = dict(self._seconds)
        return sorted(codes, key=lambda code: -known.get(code, math.inf))

    def record(self, code: str, seconds: float) -> None:
        with self._lock:
            previous = self._seconds.get(code)
            self._seconds[code] = seconds if previous is None else previous + self._weight * (seconds - previous)


#: Answer times seen by this process (shared by every host in it).
ANSWER_TIMES = AnswerTimes()


@dataclass(frozen=True)
class Answer:
    """One category's outcome of ``verify_all`` and when it came (seconds after the start)."""

    category: str
    result: CategoryResult | BaseException
    seconds: float


async def fetch_categories(
    client: Any, subject: Subject, purpose: str, codes: Sequence[str], deadline: float
) -> dict[str, Answer]:
    """Ask the categories concurrently, each with ``verify_all``, until ``deadline`` (``time.monotonic()``).

    One ``verify_all`` per category, all started together (the slowest-answering first, see
    :class:`AnswerTimes`), so that each category's arrival time is known (the fetch time shown and
    stored); whatever has not answered by the deadline is cut off.
    """
    began = time.perf_counter()

    async def one(code: str) -> Answer:
        try:
            answers = await client.verify_all(
                subject.id_number,
                subject.name,
                purpose=purpose,
                categories=[code],
                budget_seconds=max(0.01, deadline - time.monotonic()),
            )
            result: CategoryResult | BaseException = answers[code]
        except Exception as exc:  # verify_all raises only for input it refuses before sending
            result = exc
        answer = Answer(code, result, time.perf_counter() - began)
        ANSWER_TIMES.record(code, answer.seconds)
        return answer

    answers = await asyncio.gather(*(one(code) for code in ANSWER_TIMES.order(codes)))
    return {answer.category: answer for answer in answers}


def _digest(raw: object) -> str:
    canonical = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditUnavailable(Exception):
    """The audit entry of a query could not be written, so the query was not sent."""

    reason = "审计记录写入失败，为保护个人信息未发起查询，请稍后重新查询或联系系统管理员"


def _reason(error: BaseException) -> str:
    if isinstance(error, AdapterError | AuditUnavailable):
        text = error.reason
    else:
        text = f"查询出现意外错误（{type(error).__name__}）"
    text = mask_in_text(text)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _snapshot(
    answer: Answer, started: dt.datetime, *, attempt: int, interface_id: str, operator_id: str, budget: float
) -> Snapshot:
    fetched = (started + dt.timedelta(seconds=answer.seconds)).replace(microsecond=0)
    common = {
        "category": answer.category,
        "fetched_at": fetched,
        "attempt": attempt,
        "interface_id": interface_id,
        "duration_ms": round(answer.seconds * 1000),
        "operator_id": operator_id,
    }
    result = answer.result
    if isinstance(result, CategoryResult):
        return Snapshot(state=result.status, records=list(result.records), raw_digest=_digest(result.raw), **common)
    if isinstance(result, BudgetExceeded | TimeoutError):
        return Snapshot(state=STATE_TIMEOUT, reason=f"超过核查时限{budget:g}秒仍未返回，已取消", **common)
    return Snapshot(state=STATE_ERROR, reason=_reason(result), **common)


def query_categories(
    ctx: SoarContext,
    subject: Subject,
    purpose: str,
    codes: Sequence[str],
    *,
    budget: float,
    verification_id: str,
    attempts: Mapping[str, int],
    began: float,
) -> list[Snapshot]:
    """Query ``codes`` for the subject; audit every call; one snapshot per category.

    ``began`` (``time.monotonic()``) is when the action started: the queries stop in time for the
    whole action to finish within ``budget`` seconds of it.
    """
    client = _client(ctx)
    started = ctx.now()
    deadline = began + budget - min(budget * STORE_RESERVE_SHARE, STORE_RESERVE_CAP_SECONDS)
    interface = {code: client.settings.interface_id(code) for code in codes}
    # write-ahead: every intent is committed (one transaction) before any query is sent
    events = [
        AuditEvent(
            action=AUDIT_QUERY,
            operator_id=ctx.operator.id,
            purpose=purpose,
            subject_id=subject.id_number,
            interfaces=(interface[code],),
            detail={
                "category": code,
                "verification_id": verification_id,
                "attempt": attempts[code],
                "generation": client.generation,
            },
            at=started,
        )
        for code in codes
    ]
    entries = dict(zip(codes, ctx.audit.begin_all(events), strict=True))
    # a query whose intent could not be written is not sent: no citizen's data without its audit entry
    unaudited = [code for code in codes if not entries[code].recorded]
    asked = [code for code in codes if entries[code].recorded]
    answers = {code: Answer(code, AuditUnavailable(), 0.0) for code in unaudited}
    if asked:
        try:
            answers.update(
                ctx.adapters.run(
                    fetch_categories(client, subject, purpose, asked, deadline), timeout=budget + RUNNER_MARGIN_SECONDS
                )
            )
        except Exception as exc:  # the runner itself failed or overran: no category has an answer
            log.error("verification %s: the queries did not complete: %s", verification_id, type(exc).__name__)
            overran = BudgetExceeded("大数据局", "核查", f"超过核查时限{budget:g}秒仍未返回")
            answers.update({code: Answer(code, overran, budget) for code in asked})
    snapshots = []
    outcomes: list[tuple[AuditEntry, str, Mapping[str, object] | None]] = []
    for code in codes:
        snap = _snapshot(
            answers[code],
            started,
            attempt=attempts[code],
            interface_id=interface[code],
            operator_id=ctx.operator.id,
            budget=budget,
        )
        error = answers[code].result
        detail: dict[str, object] = {"record_count": len(snap.records or ()), "duration_ms": snap.duration_ms}
        if isinstance(error, BaseException):
            detail["error_type"] = type(error).__name__
        outcomes.append((entries[code], snap.state, detail))
        snapshots.append(snap)
    ctx.audit.finish_all(outcomes)
    return snapshots


# ---------------------------------------------------------------------------------- the page


def _category_view(snapshot: Snapshot, baseline: Snapshot | None, full_ids: bool) -> CategoryView:
    code = snapshot.category
    if snapshot.pending:
        return CategoryView(code, snapshot.state, snapshot.fetched_at, snapshot.attempt, reason=snapshot.reason)
    records = snapshot.records or []
    return CategoryView(
        code,
        snapshot.state,
        snapshot.fetched_at,
        snapshot.attempt,
        columns=display_columns(code),
        rows=display_rows(code, records, full_ids=full_ids),
        record_count=len(records),
        baseline_at=None if baseline is None else baseline.fetched_at,
        changes=None if baseline is None else compare(code, baseline.records or [], records),
    )


def build_page(
    conn: Connection, verification: Verification, snapshots: Mapping[str, Snapshot], *, full_ids: bool = False
) -> VerificationPage:
    """The page of a verification from its current snapshots, compared with each category's baseline.

    ID numbers are shown in full only with ``full_ids`` (an operator holding ``roles.FULL_ID``).
    """
    answered = {code: snap.fetched_at for code, snap in snapshots.items() if not snap.pending}
    base = store.baselines(conn, verification.ryid, verification.id, verification.started_at, answered)
    person = _person(conn, verification.ryid)
    if person is not None and person.sfzh and not is_valid_id_number(person.sfzh):
        full_ids = False  # a number no longer valid is not shown: it may not be the verified one
    return VerificationPage(
        verification_id=verification.id,
        person_name=(person.xm if person is not None else None) or "—",
        subject_id=(person.sfzh if full_ids and person is not None else verification.subject_masked) or "—",
        purpose=verification.purpose,
        operator_name=verification.operator_name or verification.operator_id or "",
        started_at=verification.started_at,
        finished_at=verification.finished_at,
        budget_seconds=float(verification.budget_seconds),
        categories=tuple(
            _category_view(snapshots[code], base.get(code), full_ids) for code in CATEGORY_CODES if code in snapshots
        ),
        shadow=verification.run_mode == "shadow",
    )


def _result(page: VerificationPage, message: str | None = None) -> ActionResult:
    return ActionResult(ok=True, message=message or page.message(), content=page.blocks(), data=page)


# ---------------------------------------------------------------------------------- actions


def _run(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    began = time.monotonic()
    purpose = _purpose(request.params.get(INPUT_PURPOSE))
    person_id = _key_param(request.target or request.params.get(INPUT_PERSON), "人员")
    asked_application = request.params.get(INPUT_APPLICATION) or None
    if asked_application is not None:
        asked_application = _key_param(asked_application, "申请")
    conn = ctx.connection
    subject = _subject(conn, person_id)
    application = completed_application(conn, person_id, asked_application)
    if application is None:
        raise InvalidInput("该人员的业务尚未办结，办结后才能核查大数据共享信息。")
    budget = _budget(ctx)
    client = _client(ctx)
    verification_id = new_id()
    started = ctx.now()
    snapshots = query_categories(
        ctx,
        subject,
        purpose,
        CATEGORY_CODES,
        budget=budget,
        verification_id=verification_id,
        attempts=dict.fromkeys(CATEGORY_CODES, 1),
        began=began,
    )
    key = ctx.config.audit.get(DIGEST_KEY_SETTING)
    verification = Verification(
        id=verification_id,
        ryid=person_id,
        sqid=application,
        subject_masked=subject.masked,
        subject_hash=None if key is None else subject_digest(subject.id_number, key),
        purpose=purpose,
        operator_id=ctx.operator.id,
        operator_name=ctx.operator.name,
        run_mode=ctx.mode,
        generation=int(client.generation),
        budget_seconds=Decimal(str(budget)).quantize(Decimal("0.01")),
        started_at=started,
        finished_at=max([started, *(s.fetched_at for s in snapshots)]),
        pending_count=sum(1 for s in snapshots if s.pending),
    )
    store.insert_verification(conn, verification)
    store.insert_snapshots(conn, verification_id, snapshots)
    full_ids = ctx.operator.has_role(FULL_ID)
    return _result(build_page(conn, verification, {s.category: s for s in snapshots}, full_ids=full_ids))


def _stored(ctx: SoarContext, request: ActionRequest, *, lock: bool = False) -> Verification:
    verification_id = _key_param(request.target or request.params.get(PARAM_VERIFICATION), "核查记录")
    verification = store.get_verification(ctx.connection, verification_id, lock=lock)
    if verification is None:
        raise NotFound("未找到该核查记录。")
    return verification


def _rerun(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    asked = _categories(request.params.get(PARAM_CATEGORIES))
    conn = ctx.connection
    # the row lock makes concurrent re-runs of one verification take turns, so none asks twice;
    # the budget counts from when this re-run holds it
    verification = _stored(ctx, request, lock=True)
    began = time.monotonic()
    current = store.current_snapshots(conn, verification.id)
    pending = [code for code in CATEGORY_CODES if code in current and current[code].pending]
    if not pending:
        raise InvalidInput("该次核查的各类数据均已返回，无需重新查询。")
    answered = [code for code in asked if code not in pending]
    if answered:
        labels = "、".join(CATEGORIES[code].label for code in answered)
        raise InvalidInput(f"「{labels}」本次已返回结果，只能重新查询查询失败或超时的类别。")
    codes = [code for code in CATEGORY_CODES if code in (asked or pending)]
    subject = _subject(conn, verification.ryid)
    budget = _budget(ctx)
    attempts = {code: current[code].attempt + 1 for code in codes}
    snapshots = query_categories(
        ctx,
        subject,
        verification.purpose,
        codes,
        budget=budget,
        verification_id=verification.id,
        attempts=attempts,
        began=began,
    )
    try:
        with conn.begin_nested():
            store.insert_snapshots(conn, verification.id, snapshots)
    except IntegrityError:
        # a database without row locks (the embedded SQLite default): another re-run got there first
        raise SoarUserError("该核查记录刚由其他操作员重新查询过，请重新打开核查记录查看最新结果。") from None
    current.update({s.category: s for s in snapshots})
    still_pending = sum(1 for s in current.values() if s.pending)
    finished = max([verification.finished_at, *(s.fetched_at for s in snapshots)])
    store.record_progress(conn, verification.id, pending=still_pending, finished_at=finished)
    verification = replace(verification, pending_count=still_pending, finished_at=finished)
    page = build_page(conn, verification, current, full_ids=ctx.operator.has_role(FULL_ID))
    outcome = "，".join(f"{CATEGORIES[s.category].label}{STATE_LABELS[s.state]}" for s in snapshots)
    return _result(page, f"重新查询完成：{outcome}。{page.message()}")


def _show(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    verification = _stored(ctx, request)
    conn = ctx.connection
    person = _person(conn, verification.ryid)
    subject, _problem = _subject_problem(person) if person is not None else (None, None)
    ctx.audit.record(
        AuditEvent(
            action=AUDIT_READ,
            operator_id=ctx.operator.id,
            purpose=verification.purpose,
            subject_id=subject.id_number if subject is not None else None,
            interfaces=(),
            result_status="ok",
            detail={"verification_id": verification.id, "subject": verification.subject_masked},
            at=ctx.now(),
        )
    )
    snapshots = store.current_snapshots(conn, verification.id)
    page = build_page(conn, verification, snapshots, full_ids=ctx.operator.has_role(FULL_ID))
    operator = verification.operator_name or verification.operator_id or "—"
    return _result(page, f"核查记录：{display_time(verification.started_at)}，经办人{operator}。{page.counts_text()}。")


_ACTIONS = {ACTION_RUN: _run, ACTION_RERUN: _rerun, ACTION_SHOW: _show}


# ---------------------------------------------------------------------------------- hooks


@hookimpl
def soar_startup(ctx: SoarContext) -> list[str] | None:
    """Check the budget setting and the Big Data adapter once, so a mistake shows in the start-up log."""
    problems = []
    try:
        read_settings(ctx.settings())
    except ConfigError as exc:
        problems.append(f"{exc}; 核查 is refused until it is fixed")
    try:
        client = ctx.adapters.bigdata
    except Exception as exc:
        problems.append(f"adapters.bigdata is not usable ({type(exc).__name__}: {exc}); 核查 is refused until it is")
    else:
        burst = client.settings.http.burst
        if burst < len(CATEGORY_CODES):
            problems.append(
                f"adapters.bigdata burst = {burst}: fewer than the {len(CATEGORY_CODES)} categories of a verification "
                f"start at once, so 核查 takes longer than its slowest category; set burst >= {len(CATEGORY_CODES)}"
            )
    return problems or None


def _run_action(person_id: str, application_id: str, *, hint: str | None = None) -> Contribution:
    form = ActionForm(
        inputs=(
            InputField(
                INPUT_PURPOSE,
                "查询事由",
                "textarea",
                required=True,
                max_length=MAX_PURPOSE_CHARS,
                placeholder=PURPOSE_PLACEHOLDER,
            ),
            InputField(INPUT_PERSON, "人员ID", "hidden", default=person_id),
            InputField(INPUT_APPLICATION, "申请ID", "hidden", default=application_id),
        ),
    )
    return Contribution(kind="action", key=ACTION_RUN, label="核查", enabled=hint is None, hint=hint, content=form)


def _history_panel(past: Sequence[Verification]) -> Contribution:
    rows = []
    for item in past:
        result = Badge(f"{item.pending_count}类未返回", "warn") if item.pending_count else Badge("全部返回", "ok")
        rows.append(
            TableRow(
                cells=(display_time(item.started_at), item.purpose, item.operator_name or "—", result),
                actions=(ActionButton(ACTION_SHOW, "查看", target=item.id),),
                key=item.id,
            )
        )
    table = Table(columns=("核查时间", "查询事由", "经办人", "结果"), rows=tuple(rows), note=f"最近{HISTORY_ROWS}次")
    return Contribution(kind="panel", key=PANEL_HISTORY, label="核查记录", content=table)


@hookimpl
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """The 核查 action (and the 核查记录 panel) on the detail page of a person whose business is completed."""
    if view.entity != ENTITY_PERSON or not view.key:
        return None
    conn = ctx.connection
    application = completed_application(conn, view.key, view.application_id)
    if application is None:
        return None
    try:
        ctx.operator.require(VERIFIER, ROLE_ACTION)
    except PermissionDenied as exc:
        return [_run_action(view.key, application, hint=str(exc))]
    person = _person(conn, view.key)
    if person is None:
        return None
    problem = _subject_problem(person)[1]
    contributions = [_run_action(view.key, application, hint=problem)]
    past = store.history(conn, view.key, HISTORY_ROWS)
    if past:
        contributions.append(_history_panel(past))
    return contributions


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """核查 (``verification.run``), 重新查询 (``verification.rerun``) and 查看 (``verification.show``)."""
    handler = _ACTIONS.get(request.key)
    if handler is None:
        return None
    ctx.operator.require(VERIFIER, ROLE_ACTION)
    return handler(ctx, request)
