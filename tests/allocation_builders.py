"""Small, explicit allocation rows: batches, their houses and applicants, tenants with a current house."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Connection, insert, update

from soar_ext.db.codes import (
    AllocationBatchStatus,
    AllocationKind,
    ApprovalStatus,
    ContractStatus,
    ContractType,
    GuaranteeType,
    HouseStatus,
    Relation,
)
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_batches,
    allocation_houses,
    applications,
    contracts,
    houses,
    housing_projects,
    lottery_results,
)
from tests.soar_builders import ADULT, add_family, next_key

_lottery_numbers: dict[tuple[int, int], int] = {}


def add_batch(
    conn: Connection,
    kind: str = AllocationKind.ADJUSTMENT,
    *,
    status: str = AllocationBatchStatus.OPEN,
    name: str | None = None,
) -> str:
    pcid = next_key("PC")
    label = "调房" if kind == AllocationKind.ADJUSTMENT else "选房"
    conn.execute(
        insert(allocation_batches).values(
            pcid=pcid,
            hblx=kind,
            pcmc=name or f"测试{label}划拨批次{pcid[-4:]}",
            pczt=status,
            qx="330106",
            czyid="u001",
            cjsj=dt.datetime(2024, 6, 1, 9, 0),
        )
    )
    return pcid


def set_batch_status(conn: Connection, pcid: str, status: str) -> None:
    conn.execute(update(allocation_batches).where(allocation_batches.c.pcid == pcid).values(pczt=status))


def add_house(conn: Connection, area: str = "55.00", *, room: str | None = None, project: str | None = None) -> str:
    """A vacant house of 建筑面积 ``area`` in its own (or the given) project."""
    xmid = project
    if xmid is None:
        xmid = next_key("XM")
        conn.execute(
            insert(housing_projects).values(
                xmid=xmid, xmbh=next_key("FYXM"), xmmc="城西公租房", xmdz="杭州市西湖区文三路88号", qx="330106"
            )
        )
    fyid = next_key("FY")
    conn.execute(
        insert(houses).values(
            fyid=fyid,
            xmid=xmid,
            lh="3",
            dy="1",
            fh=room or fyid[-3:],
            jzmj=Decimal(area),
            hx="两室一厅",
            fyzt=HouseStatus.VACANT,
            yzj=Decimal("1500.00"),
        )
    )
    return fyid


def put_house(conn: Connection, pcid: str, fyid: str) -> None:
    conn.execute(
        insert(allocation_houses).values(hbfyid=next_key("HBFY"), pcid=pcid, fyid=fyid, hbsj=dt.datetime(2024, 6, 2))
    )


def put_applicant(conn: Connection, pcid: str, sqid: str) -> None:
    conn.execute(insert(allocation_applicants).values(hbryid=next_key("HBRY"), pcid=pcid, sqid=sqid))


def add_applicant(
    conn: Connection,
    name: str = "张三",
    *,
    size: int = 1,
    guarantee: str = GuaranteeType.LOW_RENT,
    status: str = ApprovalStatus.COMPLETED,
    lottery: tuple[int, int, int] | bool | None = True,
    certificate: str | None = None,
) -> tuple[str, str, str]:
    """An application whose main applicant is ``name`` in a family of ``size``; returns (sqid, jtid, ID number).

    ``lottery=True`` draws the next sequence number of 2023 period 1; a tuple gives (year, period, 顺序号).
    """
    members = [(name, Relation.SELF, ADULT)] + [
        (f"{name}家属{n}", Relation.CHILD, dt.date(2015, 1, n)) for n in range(1, size)
    ]
    jtid, people = add_family(conn, members)
    sqid = next_key("SQ")
    conn.execute(
        insert(applications).values(
            sqid=sqid,
            jtid=jtid,
            pzzgzh=certificate or next_key("HZGZ"),
            bzlx=guarantee,
            spzt=status,
        )
    )
    if lottery:
        if lottery is True:
            key = (2023, 1)
            _lottery_numbers[key] = _lottery_numbers.get(key, 0) + 1
            lottery = (*key, _lottery_numbers[key] + 100_000)
        year, period, number = lottery  # type: ignore[misc]
        conn.execute(
            insert(lottery_results).values(
                yhid=next_key("YH"), sqid=sqid, yhnd=year, qs=period, sxh=number, yhrq=dt.date(year, 3 * period, 18)
            )
        )
    return sqid, jtid, people[0][1]


def add_tenant(
    conn: Connection, name: str = "李四", *, size: int = 2, lottery: tuple[int, int, int] | None = None
) -> tuple[str, str]:
    """A public-rental tenant with a signed lease in force (the 原房源); returns (sqid, current house id)."""
    sqid, jtid, _idn = add_applicant(
        conn, name, size=size, guarantee=GuaranteeType.PUBLIC_RENTAL, lottery=lottery or True
    )
    fyid = add_house(conn, "48.00")
    conn.execute(
        insert(contracts).values(
            htid=next_key("HT"),
            htcode=next_key("HZHT"),
            sqid=sqid,
            jtid=jtid,
            fyid=fyid,
            pzlx=ContractType.NEW,
            htzt=ContractStatus.SIGNED,
            yj=Decimal("3000.00"),
            yjjmbz=0,
            htksrq=dt.date(2022, 1, 1),
            htjsrq=dt.date(2024, 12, 31),
        )
    )
    return sqid, fyid


def adjustment_batch(
    conn: Connection, applicants: int = 3, areas: tuple[str, ...] = ("45.00", "60.00", "75.00")
) -> tuple[str, list[str], list[str]]:
    """An open 调房划拨 batch with ``applicants`` tenants and one house per area; returns (pcid, sqids, fyids)."""
    pcid = add_batch(conn)
    sqids = []
    for n in range(applicants):
        sqid, _current = add_tenant(conn, f"调房户{'甲乙丙丁戊己庚辛壬癸'[n % 10]}{n}", size=1 + n % 4)
        put_applicant(conn, pcid, sqid)
        sqids.append(sqid)
    fyids = []
    for area in areas:
        fyid = add_house(conn, area)
        put_house(conn, pcid, fyid)
        fyids.append(fyid)
    return pcid, sqids, fyids
