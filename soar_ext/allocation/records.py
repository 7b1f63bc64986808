"""Allocation batches (划拨批次), their applicants and houses, as read from SOAR's tables.

A batch (``TPG_HBPC``) lists the applicants chosen for it in ``TPG_HBRY`` and the houses in
``TPG_HBFY``. It is *open* while its status (``PCZT``) is 办理中; completed (已办结) and cancelled
(已撤销) batches are closed: their links no longer hold a house or an applicant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, select

from soar_ext.db.codes import AllocationBatchStatus, AllocationKind, ContractStatus
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_batches,
    allocation_houses,
    applications,
    contracts,
    families,
    houses,
    housing_projects,
    lottery_results,
    persons,
)
from soar_ext.db.portability import in_chunks
from soar_ext.errors import InvalidInput, NotFound

b, hr, hf = allocation_batches, allocation_applicants, allocation_houses
a, j, r, y = applications, families, persons, lottery_results
h, x = houses, housing_projects


@dataclass(frozen=True)
class Batch:
    """One allocation batch."""

    pcid: str
    kind: str
    name: str | None
    status: str
    created: dt.datetime | None

    @property
    def open(self) -> bool:
        return self.status == AllocationBatchStatus.OPEN

    @property
    def label(self) -> str:
        return self.name or self.pcid

    @property
    def kind_label(self) -> str:
        return AllocationKind.LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return AllocationBatchStatus.LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class House:
    """A house with the project it belongs to."""

    fyid: str
    project_no: str | None
    project_name: str | None
    project_address: str | None
    building: str | None
    unit: str | None
    room: str | None
    area: Decimal | None
    layout: str | None
    status: str | None

    @property
    def room_label(self) -> str:
        """楼号单元房号, e.g. ``3幢1单元502室``."""
        return _part(self.building, "幢") + _part(self.unit, "单元") + _part(self.room, "室")

    @property
    def address(self) -> str:
        """Full address: project address (or name) and room, e.g. ``杭州市…12号3幢1单元502室``."""
        return (self.project_address or self.project_name or "") + self.room_label

    @property
    def name(self) -> str:
        """Project name and room, e.g. ``城西公租房3幢1单元502室``."""
        return f"{self.project_name or ''}{self.room_label}"

    @property
    def label(self) -> str:
        """Project name and room, with the area: what a clerk picks a house by."""
        area = f"（{self.area}㎡）" if self.area is not None else ""
        return f"{self.name}{area}"

    @property
    def sort_key(self) -> tuple[str, str, str, str, str]:
        return (self.project_no or "", self.building or "", self.unit or "", self.room or "", self.fyid)


def _part(value: str | None, suffix: str) -> str:
    if not value:
        return ""
    return value + suffix if value.isdigit() else value


@dataclass(frozen=True)
class Lottery:
    """摇号结果: year, period and sequence number."""

    year: int
    period: int
    sequence: int

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.period}期第{self.sequence}号"


@dataclass(frozen=True)
class Applicant:
    """An application with its main applicant, family size, lottery result and current house."""

    sqid: str
    jtid: str
    name: str
    id_number: str
    certificate: str | None
    family_size: int | None
    guarantee: str
    lottery: Lottery | None
    current_house: House | None = None

    @property
    def order_key(self) -> tuple[int, int, int, int, str, str]:
        """顺序号 order: by lottery (year, period, sequence); without a result last, by certificate."""
        if self.lottery is not None:
            lot = self.lottery
            return (0, lot.year, lot.period, lot.sequence, self.certificate or "", self.sqid)
        return (1, 0, 0, 0, self.certificate or "", self.sqid)


def load_batch(conn: Connection, pcid: object, *, lock: bool = False) -> Batch:
    """The batch ``pcid``; :class:`NotFound` when there is none.

    With ``lock`` the batch row is read with a shared row lock (``FOR SHARE`` on PostgreSQL,
    ``FOR UPDATE`` on Oracle) held until SOAR's transaction ends: link changes in the batch then
    cannot interleave with SOAR completing or cancelling it.
    """
    if not isinstance(pcid, str) or not pcid.strip():
        raise InvalidInput("请先选择划拨批次。")
    stmt = select(b.c.pcid, b.c.hblx, b.c.pcmc, b.c.pczt, b.c.cjsj).where(b.c.pcid == pcid.strip())
    if lock:
        stmt = stmt.with_for_update(read=True)
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"未找到划拨批次（ID {pcid.strip()[:32]}）。")
    return Batch(row.pcid, row.hblx, row.pcmc, row.pczt, row.cjsj)


def _house_columns() -> list:
    return [h.c.fyid, x.c.xmbh, x.c.xmmc, x.c.xmdz, h.c.lh, h.c.dy, h.c.fh, h.c.jzmj, h.c.hx, h.c.fyzt]


def _house(row: object) -> House:
    return House(*(getattr(row, c) for c in ("fyid", "xmbh", "xmmc", "xmdz", "lh", "dy", "fh", "jzmj", "hx", "fyzt")))


def houses_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, House]:
    """Houses (with their project) by id."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    stmt = select(*_house_columns()).select_from(h.join(x, x.c.xmid == h.c.xmid)).where(in_chunks(h.c.fyid, ids))
    return {row.fyid: _house(row) for row in conn.execute(stmt)}


def batch_house_ids(conn: Connection, pcid: str) -> list[str]:
    return list(conn.execute(select(hf.c.fyid).where(hf.c.pcid == pcid)).scalars())


def batch_applicant_ids(conn: Connection, pcid: str) -> list[str]:
    return list(conn.execute(select(hr.c.sqid).where(hr.c.pcid == pcid)).scalars())


def batch_houses(conn: Connection, pcid: str) -> list[House]:
    """The houses of a batch, by project and room."""
    return sorted(houses_by_id(conn, batch_house_ids(conn, pcid)).values(), key=lambda house: house.sort_key)


def _latest_lotteries(conn: Connection, sqids: Sequence[str]) -> dict[str, Lottery]:
    out: dict[str, Lottery] = {}
    stmt = select(y.c.sqid, y.c.yhnd, y.c.qs, y.c.sxh).where(in_chunks(y.c.sqid, sqids))
    for row in conn.execute(stmt):
        lottery = Lottery(int(row.yhnd), int(row.qs), int(row.sxh))
        known = out.get(row.sqid)
        if known is None or (lottery.year, lottery.period) > (known.year, known.period):
            out[row.sqid] = lottery
    return out


def _current_house_ids(conn: Connection, family_ids: Sequence[str]) -> dict[str, str]:
    """The house of each family's newest signed lease (已签订), by family."""
    stmt = select(contracts.c.jtid, contracts.c.fyid, contracts.c.htksrq).where(
        in_chunks(contracts.c.jtid, family_ids),
        contracts.c.htzt == ContractStatus.SIGNED,
        contracts.c.fyid.is_not(None),
    )
    newest: dict[str, tuple[dt.date, str]] = {}
    for row in conn.execute(stmt):
        start = row.htksrq or dt.date.min
        if row.jtid not in newest or start >= newest[row.jtid][0]:
            newest[row.jtid] = (start, row.fyid)
    return {jtid: fyid for jtid, (_start, fyid) in newest.items()}


def applicants_by_id(
    conn: Connection, sqids: Iterable[str], *, with_current_house: bool = False
) -> dict[str, Applicant]:
    """Applications with main applicant, family size and latest lottery result, by application id."""
    sqids = list(dict.fromkeys(sqids))
    if not sqids:
        return {}
    stmt = (
        select(a.c.sqid, a.c.jtid, a.c.pzzgzh, a.c.bzlx, j.c.jtrs, r.c.xm, r.c.sfzh)
        .select_from(a.join(j, j.c.jtid == a.c.jtid).join(r, r.c.ryid == j.c.sqrid))
        .where(in_chunks(a.c.sqid, sqids))
    )
    rows = list(conn.execute(stmt))
    lotteries = _latest_lotteries(conn, sqids)
    current: dict[str, House] = {}
    if with_current_house:
        by_family = _current_house_ids(conn, [row.jtid for row in rows])
        found = houses_by_id(conn, by_family.values())
        current = {jtid: found[fyid] for jtid, fyid in by_family.items() if fyid in found}
    return {
        row.sqid: Applicant(
            sqid=row.sqid,
            jtid=row.jtid,
            name=row.xm,
            id_number=row.sfzh,
            certificate=row.pzzgzh,
            family_size=row.jtrs,
            guarantee=row.bzlx,
            lottery=lotteries.get(row.sqid),
            current_house=current.get(row.jtid),
        )
        for row in rows
    }


def batch_applicants(conn: Connection, pcid: str, *, with_current_house: bool = False) -> list[Applicant]:
    """The applicants of a batch in 顺序号 order (:attr:`Applicant.order_key`)."""
    found = applicants_by_id(conn, batch_applicant_ids(conn, pcid), with_current_house=with_current_house)
    return sorted(found.values(), key=lambda applicant: applicant.order_key)


def batch_names(conn: Connection, pcids: Iterable[str]) -> dict[str, str]:
    """批次名称 (or the id when unnamed) by batch id."""
    pcids = list(dict.fromkeys(pcids))
    if not pcids:
        return {}
    rows = conn.execute(select(b.c.pcid, b.c.pcmc).where(in_chunks(b.c.pcid, pcids)))
    return {row.pcid: row.pcmc or row.pcid for row in rows}
