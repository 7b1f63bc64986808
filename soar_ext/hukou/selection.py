"""Which applicants a household check covers, and their current family members.

A selection names main applicants of public-rental qualifications (applications with a
配租资格证号) by 区县, 保障类型 and 审批状态, or by a list of 配租资格证号 (one per line). It
expands to every **current** member of each applicant's family: a member is current while
``TPG_RYGX.LKRQ`` (离开家庭日期) is empty or later than today. Members are read page by page
(keyset over the application id), so a selection of 100,000 people never sits in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select

from soar_ext.db.codes import DISTRICTS, ApprovalStatus, GuaranteeType, Relation
from soar_ext.db.legacy import applications, families, family_members, persons
from soar_ext.db.portability import chunked
from soar_ext.errors import InvalidInput, echo

#: Applications read per page while expanding a selection (their members follow in one query).
PAGE_SIZE = 500
CERTIFICATE_BYTES = 30
MAX_LIST_LINES = 200_000


@dataclass(frozen=True)
class Selection:
    """The applicants of a check: filters (empty = any), or a list of 配租资格证号."""

    districts: tuple[str, ...] = ()
    guarantee_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()

    @property
    def by_list(self) -> bool:
        return bool(self.certificates)

    def key(self) -> str:
        """SHA-256 of the canonical selection: equal selections have equal keys."""
        canonical = {
            "districts": sorted(self.districts),
            "guarantee_types": sorted(self.guarantee_types),
            "statuses": sorted(self.statuses),
            "certificates": sorted(self.certificates),
        }
        return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()

    def describe(self) -> str:
        """The selection in words, for the job list and the Excel file."""
        parts = []
        if self.districts:
            parts.append("区县：" + "、".join(DISTRICTS.get(d, d) for d in self.districts))
        if self.guarantee_types:
            parts.append("保障类型：" + "、".join(GuaranteeType.LABELS.get(g, g) for g in self.guarantee_types))
        if self.statuses:
            parts.append("审批状态：" + "、".join(ApprovalStatus.LABELS.get(s, s) for s in self.statuses))
        if self.certificates:
            first = "、".join(self.certificates[:3])
            more = f"等{len(self.certificates)}个" if len(self.certificates) > 3 else ""
            parts.append(f"配租资格证号清单：{first}{more}")
        return "；".join(parts) or "全部取得配租资格证号的主申请人"


def _codes(values: Iterable[str], labels: Mapping[str, str], what: str) -> tuple[str, ...]:
    by_label = {label: code for code, label in labels.items()}
    codes: list[str] = []
    for raw in values:
        value = str(raw).strip()
        if not value:
            continue
        code = value if value in labels else by_label.get(value)
        if code is None:
            known = "、".join(f"{c} {label}" for c, label in labels.items())
            raise InvalidInput(f"{what}「{echo(value)}」不存在，可选：{known}")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _split(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace("，", ",").replace("、", ",").split(",")]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    raise InvalidInput(f"选择条件的格式不正确：{echo(value)}")


def parse_certificate_list(text: str) -> tuple[str, ...]:
    """配租资格证号, one per line (blank lines and ``#`` comments skipped, repeats dropped)."""
    seen: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip().lstrip("\ufeff")
        if not value or value.startswith("#"):
            continue
        if len(value.encode()) > CERTIFICATE_BYTES:
            raise InvalidInput(f"配租资格证号清单第 {number} 行「{echo(value)}」过长（最多 {CERTIFICATE_BYTES} 字节）")
        seen.setdefault(value, None)
        if len(seen) > MAX_LIST_LINES:
            raise InvalidInput(f"配租资格证号清单超过 {MAX_LIST_LINES} 行，请分批发起")
    if not seen:
        raise InvalidInput("配租资格证号清单是空的：请每行填写一个配租资格证号")
    return tuple(seen)


def parse_selection(params: Mapping[str, Any]) -> Selection:
    """A selection from form or command-line values; :class:`InvalidInput` (Chinese) for bad ones.

    Keys: ``districts`` (区县 codes or names), ``guarantee_types`` (01/02 or 公租房/廉租房),
    ``statuses`` (审批状态 codes or labels), each a list or a comma-separated string, and
    ``certificates`` (a list) or ``certificate_list`` (text, one per line, or an uploaded file
    ``(name, bytes)``).
    """
    certificates: tuple[str, ...] = ()
    listed = params.get("certificate_list")
    if isinstance(listed, tuple) and len(listed) == 2:  # an uploaded file
        _name, data = listed
        try:
            listed = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("配租资格证号清单文件不是 UTF-8 文本，请另存为 UTF-8 后重新上传") from None
    if isinstance(listed, str) and listed.strip():
        certificates = parse_certificate_list(listed)
    elif params.get("certificates"):
        certificates = parse_certificate_list("\n".join(_split(params["certificates"])))
    return Selection(
        districts=_codes(_split(params.get("districts")), DISTRICTS, "区县"),
        guarantee_types=_codes(_split(params.get("guarantee_types")), GuaranteeType.LABELS, "保障类型"),
        statuses=_codes(_split(params.get("statuses")), ApprovalStatus.LABELS, "审批状态"),
        certificates=certificates,
    )


# ------------------------------------------------------------------------------ expansion


@dataclass(frozen=True)
class Applicant:
    """A main applicant's application (``sqid``), 配租资格证号, name and family."""

    sqid: str
    pzzgzh: str
    name: str | None
    jtid: str


@dataclass(frozen=True)
class Member:
    """A current family member as SOAR holds them (``sfzh`` unchecked)."""

    jtid: str
    ryid: str
    name: str | None
    relation: str
    sfzh: str | None


def _applicant_select(selection: Selection) -> Select[Any]:
    a, f, p = applications, families, persons
    stmt = (
        select(a.c.sqid, a.c.pzzgzh, p.c.xm, a.c.jtid)
        .select_from(a.join(f, f.c.jtid == a.c.jtid).outerjoin(p, p.c.ryid == f.c.sqrid))
        .where(a.c.pzzgzh.is_not(None))
    )
    if selection.districts:
        stmt = stmt.where(a.c.qx.in_(selection.districts))
    if selection.guarantee_types:
        stmt = stmt.where(a.c.bzlx.in_(selection.guarantee_types))
    if selection.statuses:
        stmt = stmt.where(a.c.spzt.in_(selection.statuses))
    return stmt


def applicant_pages(conn: Connection, selection: Selection) -> Iterator[list[Applicant]]:
    """The selected applications, in pages of :data:`PAGE_SIZE`, ordered by 配租资格证号 then id."""
    base = _applicant_select(selection)
    a = applications
    if selection.by_list:
        for chunk in chunked(selection.certificates, PAGE_SIZE):
            rows = conn.execute(base.where(a.c.pzzgzh.in_(chunk)).order_by(a.c.pzzgzh, a.c.sqid)).all()
            yield [Applicant(r.sqid, r.pzzgzh, r.xm, r.jtid) for r in rows]
        return
    last: tuple[str, str] | None = None
    while True:
        stmt = base.order_by(a.c.pzzgzh, a.c.sqid).limit(PAGE_SIZE)
        if last is not None:
            stmt = stmt.where(or_(a.c.pzzgzh > last[0], and_(a.c.pzzgzh == last[0], a.c.sqid > last[1])))
        rows = conn.execute(stmt).all()
        if not rows:
            return
        yield [Applicant(r.sqid, r.pzzgzh, r.xm, r.jtid) for r in rows]
        last = (rows[-1].pzzgzh, rows[-1].sqid)


def current_member_condition(today: dt.date) -> Any:
    """A member is current while 离开家庭日期 is empty or still to come."""
    m = family_members
    return or_(m.c.lkrq.is_(None), m.c.lkrq > today)


def members_of(conn: Connection, family_ids: Sequence[str], today: dt.date) -> dict[str, list[Member]]:
    """Current members of each family, the main applicant first, then by relation and person id."""
    m, p = family_members, persons
    found: dict[str, list[Member]] = {jtid: [] for jtid in family_ids}
    for chunk in chunked(list(dict.fromkeys(family_ids))):
        stmt = (
            select(m.c.jtid, m.c.ryid, p.c.xm, m.c.ysqrgx, p.c.sfzh)
            .select_from(m.join(p, p.c.ryid == m.c.ryid))
            .where(m.c.jtid.in_(chunk), current_member_condition(today))
            .order_by(m.c.jtid, func.coalesce(m.c.sfzsqr, 0).desc(), m.c.ysqrgx, m.c.ryid)
        )
        for row in conn.execute(stmt):
            found[row.jtid].append(Member(row.jtid, row.ryid, row.xm, row.ysqrgx, row.sfzh))
    return found


def relation_label(code: str | None) -> str:
    return Relation.LABELS.get(code or "", code or "")
