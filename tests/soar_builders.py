"""Small, explicit SOAR rows for behaviour tests (the synthetic generator covers volume)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import Connection, insert

from soar_ext.db.codes import (
    ApprovalStatus,
    ContractStatus,
    ExchangeKind,
    GuaranteeType,
    HouseStatus,
    InspectionStatus,
    PairingStatus,
    Relation,
)
from soar_ext.db.legacy import (
    applications,
    contracts,
    exchange_pairings,
    families,
    family_members,
    houses,
    housing_projects,
    inspections,
    persons,
)
from soar_ext.idnumber import check_char

_seq = itertools.count(1)


def next_key(prefix: str) -> str:
    return f"{prefix}{next(_seq):08d}"


def id_number(birth: dt.date, serial: int, area: str = "330106") -> str:
    body = f"{area}{birth:%Y%m%d}{serial % 1000:03d}"
    return body + check_char(body)


def add_family(
    conn: Connection, members: list[tuple[str, str, dt.date]] | None = None, *, with_members: bool = True
) -> tuple[str, list[tuple[str, str]]]:
    """A family; ``members`` are (name, relation, birth). Returns (family id, [(person id, id number)])."""
    members = members if members is not None else [("张三", Relation.SELF, dt.date(1980, 5, 1))]
    family_id = next_key("JT")
    people: list[tuple[str, str]] = []
    for name, _relation, birth in members:
        pid = next_key("RY")
        idn = id_number(birth, next(_seq))
        conn.execute(insert(persons).values(ryid=pid, xm=name, sfzh=idn, xb="1", csrq=birth))
        people.append((pid, idn))
    main_person = people[0][0] if people else None
    if main_person is None:
        pid = next_key("RY")
        conn.execute(insert(persons).values(ryid=pid, xm="无成员", sfzh=id_number(dt.date(1970, 1, 1), 1)))
        main_person = pid
    conn.execute(insert(families).values(jtid=family_id, sqrid=main_person, jtrs=len(people), qx="330106"))
    if with_members:
        for (pid, _idn), (_name, relation, _birth) in zip(people, members, strict=True):
            conn.execute(
                insert(family_members).values(
                    gxid=next_key("GX"),
                    jtid=family_id,
                    ryid=pid,
                    ysqrgx=relation,
                    sfzsqr=1 if relation == Relation.SELF else 0,
                )
            )
    return family_id, people


def add_application(
    conn: Connection,
    family_id: str,
    guarantee: str = GuaranteeType.PUBLIC_RENTAL,
    *,
    status: str = ApprovalStatus.COMPLETED,
) -> str:
    sqid = next_key("SQ")
    completed = dt.date(2024, 3, 15) if status == ApprovalStatus.COMPLETED else None
    conn.execute(
        insert(applications).values(
            sqid=sqid, jtid=family_id, pzzgzh=next_key("HZGZ"), bzlx=guarantee, spzt=status, bjrq=completed
        )
    )
    return sqid


def add_house(conn: Connection) -> str:
    xmid = next_key("XM")
    conn.execute(insert(housing_projects).values(xmid=xmid, xmbh=next_key("FYXM"), xmmc="测试公租房项目"))
    fyid = next_key("FY")
    conn.execute(
        insert(houses).values(
            fyid=fyid,
            xmid=xmid,
            lh="1",
            dy="1",
            fh="101",
            jzmj=Decimal("55.00"),
            fyzt=HouseStatus.VACANT,
            yzj=Decimal("1200.00"),
        )
    )
    return fyid


def add_contract(
    conn: Connection,
    family_id: str,
    contract_type: str,
    *,
    deposit: Decimal = Decimal("2400.00"),
    pairing_id: str | None = None,
    status: str = ContractStatus.DRAFT,
) -> str:
    htid = next_key("HT")
    conn.execute(
        insert(contracts).values(
            htid=htid,
            htcode=next_key("HZHT"),
            jtid=family_id,
            fyid=add_house(conn),
            hfpdid=pairing_id,
            pzlx=contract_type,
            htzt=status,
            yj=deposit,
            yjjmbz=0,
        )
    )
    return htid


def add_pairing(
    conn: Connection,
    *,
    kind: str = ExchangeKind.ALLOCATED,
    status: str = PairingStatus.MATCHED,
    inspection: str | None = None,
    confirmed_at: dt.datetime | None = None,
) -> tuple[str, str]:
    """A pairing between two new families; returns (pairing id, applying family id)."""
    fam_a, _ = add_family(conn)
    fam_b, _ = add_family(conn)
    pdid = next_key("PD")
    conn.execute(
        insert(exchange_pairings).values(
            pdid=pdid,
            pdbh=next_key("HF"),
            sqfjtid=fam_a,
            dfjtid=fam_b,
            hflx=kind,
            pdzt=status,
            pdcgsj=dt.datetime(2024, 5, 1, 9, 0) if status == PairingStatus.MATCHED else None,
        )
    )
    if inspection is not None:
        conn.execute(
            insert(inspections).values(
                yfid=next_key("YF"),
                pdid=pdid,
                yfzt=inspection,
                yfry="李验房" if inspection != InspectionStatus.PENDING else None,
                yfqrsj=confirmed_at,
            )
        )
    return pdid, fam_a


ADULT = dt.date(1985, 3, 12)
