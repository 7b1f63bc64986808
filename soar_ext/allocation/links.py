"""调房划拨: one-to-one links between a batch's applicants and its houses, and their change log.

The rule — each applicant linked to at most one house and each house to at most one applicant,
within a batch and across open batches — is enforced by the unique constraints of
``sx_alloc_link`` (see :mod:`soar_ext.db.extension`), not only by the checks here:

- ``(pcid, sqid)`` and ``(pcid, fyid)``: within a batch, open or closed;
- ``open_sqid`` and ``open_fyid``: set while the batch is open (办理中), so a house or an applicant
  is held by at most one open batch. When a batch is completed or cancelled in SOAR its links stop
  holding anything: the first link attempt that meets such a hold clears it (:func:`_release_closed`).

The checks before each write give the clerk a specific Chinese message; when a concurrent change
wins the race, the constraint refuses the write, the statement's savepoint is rolled back and the
clerk reads who holds the house or applicant now. Every change appends a row to
``sx_alloc_change`` (who, when, before and after). All writes happen inside SOAR's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from soar_ext.allocation.records import (
    Applicant,
    Batch,
    House,
    applicants_by_id,
    batch_applicant_ids,
    batch_house_ids,
    batch_names,
    houses_by_id,
)
from soar_ext.audit_store import new_id
from soar_ext.context import Operator
from soar_ext.db.codes import AllocationBatchStatus, AllocationKind
from soar_ext.db.extension import allocation_changes, allocation_links
from soar_ext.db.legacy import allocation_batches
from soar_ext.db.portability import check_lengths, clip_utf8, in_chunks, none_if_blank
from soar_ext.errors import InvalidInput

L = allocation_links
MANUAL = "manual"
SUGGESTED = "suggested"


class LinkRefused(InvalidInput):
    """A link change the one-to-one rule (or the batch's state) does not allow; nothing was written."""


@dataclass(frozen=True)
class Link:
    """One stored link."""

    id: str
    pcid: str
    sqid: str
    fyid: str
    holds: bool  # still holds applicant and house (the batch was open when last seen)
    source: str
    operator_name: str | None
    linked_at: dt.datetime


def _link(row: Any) -> Link:
    return Link(
        row.id, row.pcid, row.sqid, row.fyid, row.open_fyid is not None, row.source, row.operator_name, row.linked_at
    )


def batch_links(conn: Connection, pcid: str) -> dict[str, Link]:
    """The links of a batch, by application id."""
    return {row.sqid: _link(row) for row in conn.execute(select(L).where(L.c.pcid == pcid))}


# ------------------------------------------------------------------------------ the change log


def record_change(
    conn: Connection,
    *,
    pcid: str,
    sqid: str,
    action: str,
    operator: Operator,
    at: dt.datetime,
    before: str | None = None,
    after: str | None = None,
    reason: str | None = None,
) -> None:
    """Append one row to ``sx_alloc_change``."""
    row = {
        "id": new_id(),
        "pcid": pcid,
        "sqid": sqid,
        "action": action,
        "fyid_before": before,
        "fyid_after": after,
        "reason": none_if_blank(clip_utf8(reason, 200)),
        "operator_id": operator.id,
        "operator_name": none_if_blank(clip_utf8(operator.name, 60)),
        "changed_at": at,
    }
    check_lengths(allocation_changes, row)
    conn.execute(insert(allocation_changes).values(**row))


# ------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class Members:
    """What a change may refer to: the batch's applicants and houses."""

    applicants: dict[str, Applicant]
    houses: dict[str, House]

    def applicant(self, batch: Batch, sqid: object) -> Applicant:
        if not isinstance(sqid, str) or not sqid.strip():
            raise InvalidInput("请选择申请人。")
        found = self.applicants.get(sqid.strip())
        if found is None:
            raise LinkRefused(f"所选申请人（申请ID {sqid.strip()[:32]}）不在批次「{batch.label}」中，不能关联。")
        return found

    def house(self, batch: Batch, fyid: object) -> House:
        if not isinstance(fyid, str) or not fyid.strip():
            raise InvalidInput("请选择划拨房源。")
        found = self.houses.get(fyid.strip())
        if found is None:
            raise LinkRefused(
                f"所选房源（房源ID {fyid.strip()[:32]}）不在批次「{batch.label}」的划拨房源中，不能关联。"
            )
        return found


def members(conn: Connection, batch: Batch) -> Members:
    return Members(
        applicants_by_id(conn, batch_applicant_ids(conn, batch.pcid)),
        houses_by_id(conn, batch_house_ids(conn, batch.pcid)),
    )


def check_changeable(batch: Batch) -> None:
    """Links can be changed only in an open 调房划拨 batch."""
    if batch.kind != AllocationKind.ADJUSTMENT:
        raise LinkRefused(f"批次「{batch.label}」为{batch.kind_label}，申请人与房源一对一关联只用于调房划拨批次。")
    if not batch.open:
        raise LinkRefused(f"批次「{batch.label}」状态为「{batch.status_label}」，不能再修改申请人与房源的关联。")


def _open_batches() -> Select:
    return select(allocation_batches.c.pcid).where(allocation_batches.c.pczt == AllocationBatchStatus.OPEN)


def _release_closed(conn: Connection, sqids: Sequence[str], fyids: Sequence[str]) -> None:
    """Clear the holds of links whose batch is no longer open, for these applicants and houses."""
    holding = or_(in_chunks(L.c.open_sqid, sqids), in_chunks(L.c.open_fyid, fyids))
    conn.execute(update(L).where(holding, L.c.pcid.not_in(_open_batches())).values(open_sqid=None, open_fyid=None))


def _holders(conn: Connection, batch: Batch, *, sqids: Sequence[str] = (), fyids: Sequence[str] = ()) -> list[Link]:
    """Links that hold one of these applicants or houses: in this batch, or in another open batch."""
    this_batch = and_(L.c.pcid == batch.pcid, or_(in_chunks(L.c.sqid, sqids), in_chunks(L.c.fyid, fyids)))
    elsewhere = and_(
        or_(in_chunks(L.c.open_sqid, sqids), in_chunks(L.c.open_fyid, fyids)), L.c.pcid.in_(_open_batches())
    )
    return [_link(row) for row in conn.execute(select(L).where(or_(this_batch, elsewhere)))]


def _conflict(
    conn: Connection, batch: Batch, applicant: Applicant, house: House, *, ignore: str | None = None
) -> str | None:
    """Why linking ``applicant`` to ``house`` would break the one-to-one rule, or ``None``."""
    holders = [link for link in _holders(conn, batch, sqids=[applicant.sqid], fyids=[house.fyid]) if link.id != ignore]
    if not holders:
        return None
    names = batch_names(conn, [link.pcid for link in holders])
    others = applicants_by_id(conn, [link.sqid for link in holders])
    found_houses = houses_by_id(conn, [link.fyid for link in holders])
    for link in holders:
        where = "本批次" if link.pcid == batch.pcid else f"办理中的批次「{names.get(link.pcid, link.pcid)}」"
        if link.sqid == applicant.sqid:
            linked = found_houses.get(link.fyid)
            shown = linked.label if linked else link.fyid
            hint = "如需更换房源，请使用「改为关联」。" if link.pcid == batch.pcid else "请先在该批次解除关联。"
            return f"申请人{applicant.name}已在{where}关联房源{shown}，不能再关联其他房源。{hint}"
    link = holders[0]
    where = "本批次" if link.pcid == batch.pcid else f"办理中的批次「{names.get(link.pcid, link.pcid)}」"
    holder = others.get(link.sqid)
    who = holder.name if holder else f"申请ID {link.sqid}"
    return f"房源{house.label}已在{where}关联给申请人{who}，一套房源只能关联一名申请人。"


def _refuse_after_race(conn: Connection, batch: Batch, applicant: Applicant, house: House, ignore: str | None) -> None:
    message = _conflict(conn, batch, applicant, house, ignore=ignore)
    raise LinkRefused(message or "该申请人或房源刚被其他经办人关联，本次未保存。请刷新页面后重试。") from None


# ------------------------------------------------------------------------------ changes


@dataclass(frozen=True)
class Change:
    """What a link change did (or, with ``write=False``, would do)."""

    applicant: Applicant
    before: House | None
    after: House | None
    written: bool


def link(
    conn: Connection,
    batch: Batch,
    sqid: object,
    fyid: object,
    *,
    operator: Operator,
    at: dt.datetime,
    source: str = MANUAL,
    write: bool = True,
) -> Change:
    """关联: link an applicant of the batch to a house of the batch."""
    check_changeable(batch)
    found = members(conn, batch)
    applicant, house = found.applicant(batch, sqid), found.house(batch, fyid)
    if write:
        _release_closed(conn, [applicant.sqid], [house.fyid])
    refusal = _conflict(conn, batch, applicant, house)
    if refusal:
        raise LinkRefused(refusal)
    if not write:
        return Change(applicant, None, house, written=False)
    _insert(conn, batch, applicant, house, operator=operator, at=at, source=source)
    return Change(applicant, None, house, written=True)


def _holding(applicant: Applicant, house: House, operator: Operator, at: dt.datetime, source: str) -> dict[str, Any]:
    """The columns of a link of ``applicant`` to ``house`` made now (the batch is open: it holds both)."""
    return {
        "fyid": house.fyid,
        "open_sqid": applicant.sqid,
        "open_fyid": house.fyid,
        "source": source,
        "operator_id": operator.id,
        "operator_name": none_if_blank(clip_utf8(operator.name, 60)),
        "linked_at": at,
    }


def _insert(
    conn: Connection,
    batch: Batch,
    applicant: Applicant,
    house: House,
    *,
    operator: Operator,
    at: dt.datetime,
    source: str,
) -> None:
    row = {
        "id": new_id(),
        "pcid": batch.pcid,
        "sqid": applicant.sqid,
        **_holding(applicant, house, operator, at, source),
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(L).values(**row))
    except IntegrityError:
        _refuse_after_race(conn, batch, applicant, house, None)
    record_change(
        conn,
        pcid=batch.pcid,
        sqid=applicant.sqid,
        action="link",
        after=house.fyid,
        reason="采纳推荐配对" if source == SUGGESTED else None,
        operator=operator,
        at=at,
    )


def _current(conn: Connection, batch: Batch, applicant: Applicant, action: str) -> Link:
    current = conn.execute(select(L).where(L.c.pcid == batch.pcid, L.c.sqid == applicant.sqid)).first()
    if current is None:
        hint = "请使用「关联」。" if action == "relink" else ""
        raise LinkRefused(f"申请人{applicant.name}在本批次尚未关联房源。{hint}")
    return _link(current)


def unlink(
    conn: Connection, batch: Batch, sqid: object, *, operator: Operator, at: dt.datetime, write: bool = True
) -> Change:
    """解除关联: remove an applicant's link in the batch."""
    check_changeable(batch)
    found = members(conn, batch)
    applicant = found.applicant(batch, sqid)
    current = _current(conn, batch, applicant, "unlink")
    before = houses_by_id(conn, [current.fyid]).get(current.fyid)
    if not write:
        return Change(applicant, before, None, written=False)
    gone = conn.execute(delete(L).where(L.c.id == current.id, L.c.fyid == current.fyid)).rowcount
    if gone != 1:
        raise LinkRefused(f"申请人{applicant.name}的关联刚被其他经办人修改，本次未保存。请刷新页面后重试。")
    record_change(
        conn, pcid=batch.pcid, sqid=applicant.sqid, action="unlink", before=current.fyid, operator=operator, at=at
    )
    return Change(applicant, before, None, written=True)


def relink(
    conn: Connection,
    batch: Batch,
    sqid: object,
    fyid: object,
    *,
    operator: Operator,
    at: dt.datetime,
    write: bool = True,
) -> Change:
    """改为关联: move an applicant's link to another house of the batch in one statement.

    The link row is updated in place, so at no moment does the applicant hold two houses or
    none; the unique constraints check the new house when the statement runs.
    """
    check_changeable(batch)
    found = members(conn, batch)
    applicant, house = found.applicant(batch, sqid), found.house(batch, fyid)
    current = _current(conn, batch, applicant, "relink")
    if current.fyid == house.fyid:
        raise LinkRefused(f"申请人{applicant.name}已关联房源{house.label}，无需改为关联。")
    if write:
        _release_closed(conn, [], [house.fyid])
    refusal = _conflict(conn, batch, applicant, house, ignore=current.id)
    if refusal:
        raise LinkRefused(refusal)
    before = houses_by_id(conn, [current.fyid]).get(current.fyid)
    if not write:
        return Change(applicant, before, house, written=False)
    values = _holding(applicant, house, operator, at, MANUAL)
    try:
        with conn.begin_nested():
            moved = conn.execute(update(L).where(L.c.id == current.id, L.c.fyid == current.fyid).values(**values))
    except IntegrityError:
        _refuse_after_race(conn, batch, applicant, house, current.id)
    if moved.rowcount != 1:
        raise LinkRefused(f"申请人{applicant.name}的关联刚被其他经办人修改，本次未保存。请刷新页面后重试。")
    record_change(
        conn,
        pcid=batch.pcid,
        sqid=applicant.sqid,
        action="relink",
        before=current.fyid,
        after=house.fyid,
        operator=operator,
        at=at,
    )
    return Change(applicant, before, house, written=True)


def link_all(
    conn: Connection,
    batch: Batch,
    pairs: object,
    *,
    operator: Operator,
    at: dt.datetime,
    write: bool = True,
) -> list[Change]:
    """采纳推荐配对: link every (application id, house id) pair, all or none."""
    check_changeable(batch)
    if not isinstance(pairs, list | tuple) or not pairs:
        raise InvalidInput("没有可采纳的推荐配对，请先点击「推荐配对」。")
    if not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs):
        raise InvalidInput("推荐配对的数据格式不正确，请重新点击「推荐配对」。")
    found = members(conn, batch)
    chosen = [(found.applicant(batch, s), found.house(batch, f)) for s, f in pairs]
    sqids = [applicant.sqid for applicant, _house in chosen]
    fyids = [house.fyid for _applicant, house in chosen]
    if len(set(sqids)) != len(sqids) or len(set(fyids)) != len(fyids):
        raise InvalidInput("推荐配对中同一申请人或同一房源出现了两次，请重新点击「推荐配对」。")
    if write:
        _release_closed(conn, sqids, fyids)
    for applicant, house in chosen:
        refusal = _conflict(conn, batch, applicant, house)
        if refusal:
            raise LinkRefused(f"推荐配对已过期：{refusal}请重新点击「推荐配对」。")
    if not write:
        return [Change(applicant, None, house, written=False) for applicant, house in chosen]
    try:
        with conn.begin_nested():  # all pairs or none
            for applicant, house in chosen:
                _insert(conn, batch, applicant, house, operator=operator, at=at, source=SUGGESTED)
    except LinkRefused as exc:
        raise LinkRefused(f"推荐配对已过期：{exc}请重新点击「推荐配对」。") from None
    return [Change(applicant, None, house, written=True) for applicant, house in chosen]


def drop_stale(conn: Connection, batch: Batch, *, operator: Operator, at: dt.datetime) -> list[Link]:
    """Remove the links whose applicant or house SOAR has taken out of the batch; returns them."""
    applicant_ids, house_ids = set(batch_applicant_ids(conn, batch.pcid)), set(batch_house_ids(conn, batch.pcid))
    stale = [
        link
        for link in batch_links(conn, batch.pcid).values()
        if link.sqid not in applicant_ids or link.fyid not in house_ids
    ]
    for link in stale:
        conn.execute(delete(L).where(L.c.id == link.id))
        reason = "申请人已移出批次" if link.sqid not in applicant_ids else "房源已移出批次"
        record_change(
            conn,
            pcid=batch.pcid,
            sqid=link.sqid,
            action="drop",
            before=link.fyid,
            reason=reason,
            operator=operator,
            at=at,
        )
    return stale
