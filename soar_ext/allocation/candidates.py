"""选房划拨: 廉租房 candidates — the filters, and 添加 to a selection batch.

The filters (姓名 exact or prefix, 身份证号, 配租资格证号, 摇号年度, 摇号期数, 顺序号起/止, and
保障类型) amend any statement that selects applications (``TPG_GZFSQSPB``) with their main
applicant (``TPG_JTXX`` → ``TPG_RYXX``) and lottery result (``TPG_YHJG``): SOAR's own candidate
search (screen ``allocation.selection``) and the batch page's 筛选廉租房人员, which runs
:func:`selection_base_query`. ``%`` and ``_`` in a name are taken literally.

添加 puts chosen people into a selection batch (``TPG_HBRY``): once (a second 添加 adds nothing),
and only people who may still select a house; the others are refused with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.sql.elements import ColumnElement

from soar_ext.allocation.links import record_change
from soar_ext.allocation.records import Applicant, Batch, applicants_by_id
from soar_ext.audit_store import new_id
from soar_ext.context import Operator
from soar_ext.db.codes import (
    AllocationBatchStatus,
    AllocationKind,
    ApprovalStatus,
    ContractStatus,
    GuaranteeType,
)
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_batches,
    applications,
    contracts,
    families,
    lottery_results,
    persons,
)
from soar_ext.db.portability import in_chunks
from soar_ext.errors import InvalidInput
from soar_ext.idnumber import InvalidIdNumber, normalize_id_number
from soar_ext.query_filters import choice_filter, integer_filter, text_filter

a, j, r, y = applications, families, persons, lottery_results

F_GUARANTEE = "guarantee_type"
F_NAME = "applicant_name"
F_NAME_MATCH = "name_match"
F_ID_NUMBER = "applicant_id_number"
F_CERTIFICATE = "certificate_no"
F_YEAR = "lottery_year"
F_PERIOD = "lottery_period"
F_SEQUENCE_FROM = "sequence_from"
F_SEQUENCE_TO = "sequence_to"

EXACT, PREFIX = "exact", "prefix"
NAME_MATCH_CHOICES: Mapping[str, str] = {EXACT: "精确匹配", PREFIX: "前缀匹配"}
FIRST_LOTTERY_YEAR = 2000
MAX_PERIOD = 99
MAX_SEQUENCE = 999_999
MAX_ADD = 500
PREFIX_LOOKUP_LIMIT = 2000
QUALIFIED = (ApprovalStatus.QUALIFIED, ApprovalStatus.COMPLETED)
_LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class CandidateFilters:
    """The clerk's filter values, validated."""

    guarantee: str | None = None
    name: str | None = None
    name_prefix: bool = False
    id_number: str | None = None
    certificate: str | None = None
    year: int | None = None
    period: int | None = None
    sequence_from: int | None = None
    sequence_to: int | None = None

    def conditions(self, conn: Connection) -> list[ColumnElement[bool]]:
        """WHERE conditions over ``TPG_GZFSQSPB``, ``TPG_RYXX`` and ``TPG_YHJG``.

        ``conn`` is used only to look up the people a name prefix matches (:func:`name_condition`).
        """
        out: list[ColumnElement[bool]] = []
        if self.guarantee is not None:
            out.append(a.c.bzlx == self.guarantee)
        if self.name is not None:
            out.append(name_condition(conn, self.name, prefix=self.name_prefix))
        if self.id_number is not None:
            out.append(r.c.sfzh == self.id_number)
        if self.certificate is not None:
            out.append(a.c.pzzgzh == self.certificate)
        if self.year is not None:
            out.append(y.c.yhnd == self.year)
        if self.period is not None:
            out.append(y.c.qs == self.period)
        if self.sequence_from is not None:
            out.append(y.c.sxh >= self.sequence_from)
        if self.sequence_to is not None:
            out.append(y.c.sxh <= self.sequence_to)
        return out

    def described(self) -> dict[str, object]:
        """The filters used, for the audit record (the ID number is the record's subject, not here)."""
        return {
            key: value
            for key, value in (
                ("guarantee", self.guarantee),
                ("name_given", True if self.name is not None else None),
                ("name_prefix", self.name_prefix if self.name is not None else None),
                ("id_number_given", True if self.id_number is not None else None),
                ("certificate", self.certificate),
                ("year", self.year),
                ("period", self.period),
                ("sequence_from", self.sequence_from),
                ("sequence_to", self.sequence_to),
            )
            if value is not None
        }


def name_condition(conn: Connection, name: str, *, prefix: bool) -> ColumnElement[bool]:
    """姓名 exact (``=``), or starting with ``name`` (``LIKE``, ``%`` and ``_`` taken literally).

    A prefix is first looked up on its own (index ``ix_sx_ryxx_xm``): when it matches at most
    :data:`PREFIX_LOOKUP_LIMIT` people, the condition names them (``ryid IN …``). The screen's
    statement then tells the planner how few people match; a planner guessing from statistics
    may otherwise walk the whole lottery order looking for a rare surname (seconds at 500,000
    certificates). A broad prefix keeps the ``LIKE``.
    """
    if not prefix:
        return r.c.xm == name
    like = r.c.xm.like(like_prefix(name), escape=_LIKE_ESCAPE)
    ids = list(conn.execute(select(r.c.ryid).where(like).limit(PREFIX_LOOKUP_LIMIT + 1)).scalars())
    return like if len(ids) > PREFIX_LOOKUP_LIMIT else in_chunks(r.c.ryid, ids)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching values that start with ``text``, its ``%`` and ``_`` taken literally."""
    escaped = text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%")
    return escaped.replace("_", _LIKE_ESCAPE + "_") + "%"


def parse_filters(filters: Mapping[str, object], *, today: dt.date) -> CandidateFilters:
    """Validate the filter values; :class:`InvalidInput` (Chinese, naming the field) for a bad one."""
    guarantee = choice_filter(filters, F_GUARANTEE, GuaranteeType.LABELS, "保障类型")
    name = text_filter(filters, F_NAME, "姓名", max_chars=60)
    match = choice_filter(filters, F_NAME_MATCH, NAME_MATCH_CHOICES, "姓名匹配方式") or EXACT
    id_text = text_filter(filters, F_ID_NUMBER, "身份证号", max_chars=18)
    id_number = None
    if id_text is not None:
        try:
            id_number = normalize_id_number(id_text, field="身份证号")
        except InvalidIdNumber as exc:
            raise InvalidInput(f"查询条件{exc}。") from None
    certificate = text_filter(filters, F_CERTIFICATE, "配租资格证号", max_chars=30)
    year = integer_filter(filters, F_YEAR, "摇号年度", FIRST_LOTTERY_YEAR, today.year + 1, example=str(today.year))
    period = integer_filter(filters, F_PERIOD, "摇号期数", 1, MAX_PERIOD, example="1")
    first = integer_filter(filters, F_SEQUENCE_FROM, "顺序号起", 1, MAX_SEQUENCE, example="1")
    last = integer_filter(filters, F_SEQUENCE_TO, "顺序号止", 1, MAX_SEQUENCE, example="100")
    if first is not None and last is not None and first > last:
        raise InvalidInput(f"顺序号起（{first}）不能大于顺序号止（{last}）。")
    return CandidateFilters(guarantee, name, match == PREFIX, id_number, certificate, year, period, first, last)


def selection_base_query() -> Select:
    """Applications with main applicant and lottery result, as SOAR's candidate search selects them.

    Without ORDER BY; :func:`lottery_order` gives the screen's order (served by the unique index on
    摇号年度, 摇号期数, 顺序号).
    """
    return select(
        a.c.sqid, r.c.xm, r.c.sfzh, a.c.pzzgzh, a.c.bzlx, a.c.spzt, j.c.jtrs, y.c.yhnd, y.c.qs, y.c.sxh
    ).select_from(a.join(j, j.c.jtid == a.c.jtid).join(r, r.c.ryid == j.c.sqrid).join(y, y.c.sqid == a.c.sqid))


def lottery_order() -> list[ColumnElement[object]]:
    return [y.c.yhnd, y.c.qs, y.c.sxh]


def amend_selection_query(query: Select, filters: CandidateFilters, conn: Connection) -> Select:
    """Add the candidate filters to a statement over applications, main applicant and lottery result."""
    conditions = filters.conditions(conn)
    return query.where(*conditions) if conditions else query


def low_rent_query(filters: CandidateFilters, conn: Connection) -> Select:
    """The batch page's 筛选廉租房人员: 廉租房 candidates matching ``filters``, in lottery order."""
    low_rent = replace(filters, guarantee=GuaranteeType.LOW_RENT)
    return amend_selection_query(selection_base_query(), low_rent, conn).order_by(*lottery_order())


# ------------------------------------------------------------------------------ who may be added


OTHER_BATCH, LEASED, LEASE_PENDING = "other_batch", "leased", "lease_pending"
NOT_LOW_RENT, NOT_QUALIFIED, NO_LOTTERY = "not_low_rent", "not_qualified", "no_lottery"
TAKEN = (OTHER_BATCH, LEASED, LEASE_PENDING)
"""Refusal codes meaning "already allocated": in another open batch, or holding a lease."""


@dataclass(frozen=True)
class Standing:
    """Whether a person may be added to a selection batch, and why not (``code`` and ``refusal``)."""

    in_this_batch: bool = False
    code: str | None = None
    refusal: str | None = None

    @property
    def addable(self) -> bool:
        return not self.in_this_batch and self.refusal is None


def standings(
    conn: Connection, batch: Batch, applicants: Sequence[Applicant], *, in_batch_counts: bool = True
) -> dict[str, Standing]:
    """For each applicant: already in this batch, refused (with the reason), or addable.

    With ``in_batch_counts=False`` membership of this batch is ignored (SOAR has just stored it) and
    only the reasons against the person are given.
    """
    sqids = [applicant.sqid for applicant in applicants]
    if not sqids:
        return {}
    hr, b = allocation_applicants, allocation_batches
    memberships = conn.execute(
        select(hr.c.sqid, b.c.pcid, b.c.pcmc)
        .select_from(hr.join(b, b.c.pcid == hr.c.pcid))
        .where(in_chunks(hr.c.sqid, sqids), b.c.pczt == AllocationBatchStatus.OPEN)
    ).all()
    here = {row.sqid for row in memberships if row.pcid == batch.pcid}
    elsewhere = {row.sqid: row.pcmc or row.pcid for row in memberships if row.pcid != batch.pcid}
    leases: dict[str, tuple[str, str]] = {}
    for row in conn.execute(
        select(contracts.c.jtid, contracts.c.htcode, contracts.c.htzt).where(
            in_chunks(contracts.c.jtid, [applicant.jtid for applicant in applicants]),
            contracts.c.htzt.in_([ContractStatus.SIGNED, ContractStatus.DRAFT]),
        )
    ):
        if row.jtid not in leases or row.htzt == ContractStatus.SIGNED:
            leases[row.jtid] = (row.htcode, row.htzt)
    statuses = dict(conn.execute(select(a.c.sqid, a.c.spzt).where(in_chunks(a.c.sqid, sqids))).all())
    out: dict[str, Standing] = {}
    for applicant in applicants:
        if applicant.sqid in here and in_batch_counts:
            out[applicant.sqid] = Standing(in_this_batch=True)
            continue
        out[applicant.sqid] = _standing(applicant, statuses.get(applicant.sqid), elsewhere, leases)
    return out


def _standing(
    applicant: Applicant, status: str | None, elsewhere: Mapping[str, str], leases: Mapping[str, tuple[str, str]]
) -> Standing:
    if applicant.sqid in elsewhere:
        return Standing(code=OTHER_BATCH, refusal=f"已在办理中的划拨批次「{elsewhere[applicant.sqid]}」中")
    if applicant.jtid in leases:
        number, state = leases[applicant.jtid]
        if state == ContractStatus.SIGNED:
            return Standing(code=LEASED, refusal=f"已配租（租赁合同 {number} 已签订）")
        return Standing(code=LEASE_PENDING, refusal=f"已有待签订的租赁合同 {number}")
    if applicant.guarantee != GuaranteeType.LOW_RENT:
        kind = GuaranteeType.LABELS.get(applicant.guarantee, applicant.guarantee)
        return Standing(code=NOT_LOW_RENT, refusal=f"保障类型为{kind}，此处只添加廉租房选房人员")
    if status not in QUALIFIED:
        label = ApprovalStatus.LABELS.get(status or "", status)
        return Standing(code=NOT_QUALIFIED, refusal=f"审批状态为「{label}」，尚未取得配租资格")
    if applicant.lottery is None:
        return Standing(code=NO_LOTTERY, refusal="无摇号结果")
    return Standing()


@dataclass
class AddOutcome:
    """What 添加 did: added, already in the batch, refused (name and reason)."""

    added: list[Applicant] = field(default_factory=list)
    already: list[Applicant] = field(default_factory=list)
    refused: list[tuple[Applicant, str]] = field(default_factory=list)

    def message(self, *, written: bool) -> str:
        verb = "已添加" if written else "[试运行]校验通过，可添加"
        parts = [f"{verb} {len(self.added)} 人到本批次"]
        if self.already:
            parts.append(f"{len(self.already)} 人已在本批次中，未重复添加")
        if self.refused:
            shown = "；".join(f"{applicant.name}：{reason}" for applicant, reason in self.refused[:10])
            more = f"等 {len(self.refused)} 人" if len(self.refused) > 10 else ""
            parts.append(f"{len(self.refused)} 人未添加（{shown}{more}）")
        suffix = "" if written else "，本次未写入"
        return "；".join(parts) + suffix + "。"


def _selected_ids(selected: object) -> list[str]:
    if isinstance(selected, str):
        selected = [selected]
    if not isinstance(selected, list | tuple) or not selected:
        raise InvalidInput("请先勾选要添加的选房人员。")
    if not all(isinstance(s, str) and s.strip() for s in selected):
        raise InvalidInput("所选人员的数据格式不正确，请重新筛选后勾选。")
    ids = list(dict.fromkeys(s.strip() for s in selected))
    if len(ids) > MAX_ADD:
        raise InvalidInput(f"一次最多添加 {MAX_ADD} 人，本次勾选了 {len(ids)} 人，请分批添加。")
    return ids


def _check_batch(batch: Batch) -> None:
    if batch.kind != AllocationKind.SELECTION:
        raise InvalidInput(f"批次「{batch.label}」为{batch.kind_label}，廉租房选房人员只能添加到选房划拨批次。")
    if not batch.open:
        raise InvalidInput(f"批次「{batch.label}」状态为「{batch.status_label}」，不能再添加选房人员。")


def add_to_batch(
    conn: Connection, batch: Batch, selected: object, *, operator: Operator, at: dt.datetime, write: bool = True
) -> AddOutcome:
    """添加: put the selected applications into the selection batch (``TPG_HBRY``).

    The applications' rows are locked first (``FOR NO KEY UPDATE`` on PostgreSQL, which the
    foreign-key check of the insert does not wait on), so two clerks adding the same person to
    two batches take turns and the second one sees the first's batch.
    """
    _check_batch(batch)
    ids = _selected_ids(selected)
    if write:
        conn.execute(
            select(a.c.sqid).where(in_chunks(a.c.sqid, ids)).order_by(a.c.sqid).with_for_update(key_share=True)
        )
    found = applicants_by_id(conn, ids)
    unknown = [sqid for sqid in ids if sqid not in found]
    if unknown:
        raise InvalidInput(f"未找到所选人员的申请记录（申请ID {unknown[0][:32]}），请重新筛选后勾选。")
    chosen = [found[sqid] for sqid in ids]
    outcome = AddOutcome()
    standing_of = standings(conn, batch, chosen)
    for applicant in chosen:
        standing = standing_of[applicant.sqid]
        if standing.in_this_batch:
            outcome.already.append(applicant)
        elif standing.refusal:
            outcome.refused.append((applicant, standing.refusal))
        else:
            outcome.added.append(applicant)
    if write:
        for applicant in outcome.added:
            conn.execute(insert(allocation_applicants).values(hbryid=new_id(), pcid=batch.pcid, sqid=applicant.sqid))
            record_change(
                conn,
                pcid=batch.pcid,
                sqid=applicant.sqid,
                action="add",
                reason="添加廉租房选房人员",
                operator=operator,
                at=at,
            )
    return outcome
