"""Build realistic synthetic SOAR rows for Hangzhou in memory (no database access).

One :class:`random.Random` seeded once drives every choice, and every date derives from
:data:`BASE_DATE`, so the same ``(households, seed)`` always gives identical rows.

The story the data tells, per family: people (main applicant, spouse, children, parents …)
apply for public-rental (公租房) or low-rent (廉租房) housing; qualified applications get a
certificate number and a lottery result; most then sign a new lease (新配租) for a house and
renew it (续租) every three years; a few moved out, some have drafts awaiting signature.
Around that: allocation batches (调房划拨 with some adjustment leases 调房, 选房划拨 for
applicants still waiting), exchange pairings (换房) with inspections (验房) and exchange
leases, and co-construction projects (配建项目) with their surveyed houses (测绘).

Allocation batches of the last months (and the newest of each kind) are still open (办理中), the
others completed (已办结). A few 廉租房 applicants waiting for a house have a stray ``%`` or ``_``
in their name, as data entry sometimes leaves them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from soar_ext.db import legacy
from soar_ext.db.codes import (
    DISTRICTS,
    AllocationBatchStatus,
    AllocationKind,
    ApprovalStatus,
    ContractStatus,
    ContractType,
    ExchangeKind,
    Gender,
    GuaranteeType,
    HouseStatus,
    InspectionStatus,
    PairingStatus,
    Relation,
)
from soar_ext.synthetic import vocabulary as vocab
from soar_ext.synthetic.ids import HANGZHOU_AREAS, OTHER_AREAS, IdNumberFactory, area_for_birth

BASE_DATE: Final = dt.date(2024, 6, 30)
""""Today" of the synthetic data: every date lies on or before it, except planned lease dates."""

FIRST_APPLICATION: Final = dt.date(2015, 6, 1)
LOTTERY_YEARS: Final = range(2016, 2025)
LEASE_YEARS: Final = 3
DEPOSIT_MONTHS: Final = 2
OPEN_BATCH_DAYS: Final = 120
"""Allocation batches created within this many days before :data:`BASE_DATE` are still open (办理中)."""
LEFT_FAMILY_EVERY: Final = 12
"""One family in this many (of three or more people) has a member who left it (``tpg_rygx.lkrq``)."""
SURVEY_CATALOG_SEED: Final = 2019
"""The survey simulator's default catalog seed: co-construction projects carry the same names."""

Row = dict[str, Any]
_CENT = Decimal("0.01")
_HZ_DISTRICTS = tuple(DISTRICTS)
_APPLICANT_AGES: Final = ((22, 30), (31, 40), (41, 50), (51, 60), (61, 78))
_OTHER_CODES = tuple(OTHER_AREAS)
# Plate areas used in the survey catalog's project names -> district code.
_SURVEY_PLATES: Final = {
    "钱江世纪城": "330109",
    "钱江新城": "330102",
    "之江": "330106",
    "未来科技城": "330110",
    "三墩": "330106",
    "丁桥": "330102",
    "九堡": "330102",
    "下沙": "330114",
    "良渚": "330110",
    "闲林": "330110",
    "申花": "330105",
    "运河新城": "330105",
    "奥体": "330108",
    "萧山科技城": "330109",
    "临平新城": "330113",
    "大江东": "330114",
    "转塘": "330106",
    "蒋村": "330106",
    "勾庄": "330110",
    "彭埠": "330102",
}


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_CENT, ROUND_HALF_UP)


def add_years(day: dt.date, years: int) -> dt.date:
    """Same day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@dataclass
class _Person:
    row: Row
    surname: str
    age: int
    origin: str
    relation: str

    @property
    def ryid(self) -> str:
        return self.row["ryid"]


@dataclass
class _House:
    fyid: str
    district: str
    address: str
    area: Decimal
    rent: Decimal


@dataclass
class _Contract:
    family: _Family
    pzlx: str
    htzt: str
    start: dt.date
    end: dt.date
    created: dt.datetime
    signed: dt.datetime | None = None
    house: _House | None = None
    hfpdid: str | None = None
    htid: str = ""


@dataclass
class _Family:
    jtid: str
    sqid: str
    qx: str
    row: Row
    bzlx: str = GuaranteeType.PUBLIC_RENTAL
    spzt: str = ApprovalStatus.ACCEPTED
    qualified_on: dt.date | None = None
    lottery_on: dt.date | None = None
    contracts: list[_Contract] = field(default_factory=list)
    house: _House | None = None
    busy: bool = False  # already used by an allocation batch or an exchange pairing

    @property
    def last(self) -> _Contract | None:
        return self.contracts[-1] if self.contracts else None

    def tenant_in_force(self) -> bool:
        """Holds a signed lease in force today, with nothing newer pending."""
        last = self.last
        return (
            last is not None
            and last.htzt == ContractStatus.SIGNED
            and last.start <= BASE_DATE <= last.end
            and self.house is not None
        )


class _HousePool:
    """Unallocated houses, taken preferably from a given district."""

    def __init__(self, houses: list[_House], rng: random.Random) -> None:
        self._all = list(houses)
        rng.shuffle(self._all)
        self._by_district: dict[str, list[_House]] = defaultdict(list)
        for house in self._all:
            self._by_district[house.district].append(house)
        self._taken: set[str] = set()

    def __len__(self) -> int:
        return len(self._all) - len(self._taken)

    def take(self, district: str | None = None) -> _House | None:
        candidates = self._by_district.get(district, []) if district else []
        for pool in (candidates, self._all):
            while pool:
                house = pool.pop()
                if house.fyid not in self._taken:
                    self._taken.add(house.fyid)
                    return house
        return None


class DatasetBuilder:
    """Builds every legacy table's rows for ``households`` families from ``seed``."""

    def __init__(self, households: int, seed: int) -> None:
        if households < 1:
            raise ValueError("households must be at least 1")
        self.households = households
        self.rng = random.Random(seed)
        self.ids = IdNumberFactory(self.rng)
        self.tables: dict[str, list[Row]] = {t.name: [] for t in legacy.LEGACY_TABLES}
        self.families: list[_Family] = []
        self.houses: list[_House] = []
        self.house_rows: dict[str, Row] = {}
        self.reserved: set[str] = set()  # houses held by an allocation batch
        self.pool: _HousePool | None = None
        self.operators = [f"JBR{code}{n:02d}" for code in _HZ_DISTRICTS for n in range(1, 4)]

    # -- helpers -------------------------------------------------------------------------

    def _guid(self) -> str:
        """A 32-character upper-case hex key, the shape of Oracle's ``SYS_GUID()``."""
        return f"{self.rng.getrandbits(128):032X}"

    def _at(self, day: dt.date) -> dt.datetime:
        """A time within office hours on ``day``."""
        return dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(minutes=self.rng.randrange(9 * 60))

    def _date_between(self, first: dt.date, last: dt.date) -> dt.date:
        if last <= first:
            return last
        return first + _days(self.rng.randrange((last - first).days + 1))

    def _birth(self, age: int) -> dt.date:
        start = add_years(BASE_DATE, -(age + 1)) + _days(1)
        return start + _days(self.rng.randrange(365))

    # -- people, families, applications -------------------------------------------------

    def _person(self, family: _Family, age: int, gender: str, origin: str, surname: str, relation: str) -> _Person:
        rng = self.rng
        birth = self._birth(age)
        sfzh = self.ids.new(area_for_birth(origin, birth, rng), birth, gender)
        if origin in OTHER_AREAS and rng.random() < 0.5:
            hjdz = vocab.origin_address(rng, OTHER_AREAS[origin])
        elif rng.random() < 0.65:
            hjdz = family.row["jtdz"]
        else:
            hjdz = vocab.street_address(rng, rng.choice(_HZ_DISTRICTS))
        row = {
            "ryid": self._guid(),
            "xm": surname + vocab.given_name(rng, gender),
            "sfzh": sfzh,
            "xb": gender,
            "csrq": birth,
            "lxdh": vocab.mobile_number(rng) if age >= 16 and rng.random() < 0.92 else None,
            "hjdz": hjdz,
            "gzdw": vocab.employer(rng, family.qx) if 18 <= age < 60 and rng.random() < 0.85 else None,
            "cjsj": self._member_created(family.row["cjsj"], birth),
        }
        self.tables["tpg_ryxx"].append(row)
        return _Person(row, surname, age, origin, relation)

    def _member_created(self, family_created: dt.datetime, birth: dt.date) -> dt.datetime:
        """Registered with the application, or (born later) added to the family after birth."""
        if birth < family_created.date():
            return family_created + dt.timedelta(seconds=self.rng.randrange(1, 600))
        return self._at(min(BASE_DATE, birth + _days(self.rng.randint(20, 90))))

    def _origin(self, family_qx: str, hangzhou_share: float) -> str:
        r = self.rng.random()
        if r < hangzhou_share * 0.6:
            return family_qx
        if r < hangzhou_share:
            return self.rng.choice(HANGZHOU_AREAS)
        return self.rng.choice(_OTHER_CODES)

    def _members(self, family: _Family, size: int) -> list[_Person]:
        rng = self.rng
        low, high = rng.choices(_APPLICANT_AGES, weights=(30, 30, 18, 12, 10))[0]
        age = rng.randint(low, high)
        gender = Gender.MALE if rng.random() < 0.55 else Gender.FEMALE
        origin = self._origin(family.qx, 0.75)
        applicant = self._person(family, age, gender, origin, vocab.surname(rng), Relation.SELF)
        members = [applicant]
        spouse = None
        if size > 1 and rng.random() < 0.8:
            spouse_age = max(20, min(95, age + round(rng.gauss(0, 3))))
            spouse_gender = Gender.FEMALE if gender == Gender.MALE else Gender.MALE
            spouse = self._person(
                family, spouse_age, spouse_gender, self._origin(family.qx, 0.6), vocab.surname(rng), Relation.SPOUSE
            )
            members.append(spouse)
        fathers_surname = applicant.surname
        if gender == Gender.FEMALE and spouse is not None:
            fathers_surname = spouse.surname
        youngest_parent = min(age, spouse.age if spouse else age)
        parent_genders = [Gender.MALE, Gender.FEMALE]
        while len(members) < size:
            options: list[tuple[str, float]] = [(Relation.OTHER, 0.15)]
            if youngest_parent >= 24:
                options.append((Relation.CHILD, 6.0))
            if age + 22 <= 90 and parent_genders:
                options.append((Relation.PARENT, 2.0 if age <= 45 else 0.5))
            if age <= 50:
                options.append((Relation.SIBLING, 0.6))
            if age >= 55:
                options.append((Relation.GRANDCHILD, 1.5))
            relation = rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]
            child_gender = rng.choice((Gender.MALE, Gender.FEMALE))
            if relation == Relation.CHILD:
                child_age = rng.randint(0, min(youngest_parent - 20, 40))
                person = self._person(
                    family, child_age, child_gender, self._origin(family.qx, 0.9), fathers_surname, relation
                )
            elif relation == Relation.PARENT:
                parent_gender = parent_genders.pop(0)
                parent_surname = applicant.surname if parent_gender == Gender.MALE else vocab.surname(rng)
                origin = applicant.origin if rng.random() < 0.7 else self._origin(family.qx, 0.5)
                person = self._person(
                    family, min(95, age + rng.randint(22, 35)), parent_gender, origin, parent_surname, relation
                )
            elif relation == Relation.SIBLING:
                sibling_age = max(16, age + rng.choice((-1, 1)) * rng.randint(1, 10))
                person = self._person(family, sibling_age, child_gender, applicant.origin, applicant.surname, relation)
            elif relation == Relation.GRANDCHILD:
                person = self._person(
                    family,
                    rng.randint(0, age - 45),
                    child_gender,
                    self._origin(family.qx, 0.9),
                    fathers_surname,
                    relation,
                )
            else:
                person = self._person(
                    family,
                    rng.randint(18, 80),
                    child_gender,
                    self._origin(family.qx, 0.5),
                    vocab.surname(rng),
                    relation,
                )
            members.append(person)
        return members

    def _families(self) -> None:
        rng = self.rng
        for _ in range(self.households):
            qx = rng.choices(_HZ_DISTRICTS, weights=(14, 12, 14, 8, 12, 16, 5, 4, 8, 7))[0]
            size = rng.choices((1, 2, 3, 4, 5, 6), weights=(25, 25, 28, 14, 6, 2))[0]
            # The application date bounds the creation time; the applicant's age bounds it from below.
            sqrq = self._date_between(FIRST_APPLICATION, BASE_DATE - _days(3))
            created = self._at(sqrq)
            row = {
                "jtid": self._guid(),
                "sqrid": None,
                "jtrs": size,
                "qx": qx,
                "jtdz": vocab.street_address(rng, qx),
                "cjsj": created,
            }
            family = _Family(jtid=row["jtid"], sqid=self._guid(), qx=qx, row=row)
            members = self._members(family, size)
            applicant = members[0]
            adult_on = add_years(applicant.row["csrq"], 20)
            if sqrq < adult_on:  # applied only once grown up
                sqrq = self._date_between(max(adult_on, FIRST_APPLICATION), BASE_DATE - _days(3))
                created = self._at(sqrq)
                row["cjsj"] = created
                for person in members:
                    person.row["cjsj"] = self._member_created(created, person.row["csrq"])
            row["sqrid"] = applicant.ryid
            self.tables["tpg_jtxx"].append(row)
            for person in members:
                self.tables["tpg_rygx"].append(
                    {
                        "gxid": self._guid(),
                        "jtid": family.jtid,
                        "ryid": person.ryid,
                        "ysqrgx": person.relation,
                        "sfzsqr": 1 if person.relation == Relation.SELF else 0,
                        "lkrq": None,
                    }
                )
            self._application(family, sqrq, created)
            self.families.append(family)

    def _application(self, family: _Family, sqrq: dt.date, created: dt.datetime) -> None:
        rng = self.rng
        waited = (BASE_DATE - sqrq).days
        if waited < 45:
            states, weights = ("01", "02", "03"), (50, 35, 15)
        elif waited < 120:
            states, weights = ("02", "03", "04", "99"), (30, 30, 30, 10)
        else:
            states, weights = ("09", "04", "99"), (78, 8, 14)
        family.spzt = rng.choices(states, weights=weights)[0]
        family.bzlx = GuaranteeType.LOW_RENT if rng.random() < 0.2 else GuaranteeType.PUBLIC_RENTAL
        if family.spzt in (ApprovalStatus.QUALIFIED, ApprovalStatus.COMPLETED):
            family.qualified_on = sqrq + _days(rng.randint(30 if waited < 120 else 45, min(150, waited - 1)))
        self.tables["tpg_gzfsqspb"].append(
            {
                "sqid": family.sqid,
                "jtid": family.jtid,
                "pzzgzh": None,  # numbered in qualification order once all families exist
                "bzlx": family.bzlx,
                "spzt": family.spzt,
                "sqrq": sqrq,
                "bjrq": family.qualified_on if family.spzt == ApprovalStatus.COMPLETED else None,
                "qx": family.qx,
                "cjsj": created,
            }
        )

    def _certificates(self) -> None:
        """配租资格证号 HZGZ<year><6 digits>, numbered per year in qualification order."""
        rows = {row["sqid"]: row for row in self.tables["tpg_gzfsqspb"]}
        qualified = sorted(
            (f for f in self.families if f.qualified_on), key=lambda f: (f.qualified_on, rows[f.sqid]["cjsj"])
        )
        per_year: dict[int, int] = defaultdict(int)
        for family in qualified:
            year = family.qualified_on.year  # type: ignore[union-attr]
            per_year[year] += 1
            rows[family.sqid]["pzzgzh"] = f"HZGZ{year}{per_year[year]:06d}"

    # -- lottery -------------------------------------------------------------------------

    def _lotteries(self) -> None:
        rng = self.rng
        periods = [
            (year, period, dt.date(year, 3 * period, 18))
            for year in LOTTERY_YEARS
            for period in range(1, 5)
            if dt.date(year, 3 * period, 18) <= BASE_DATE
        ]
        drawn: dict[tuple[int, int], list[Row]] = defaultdict(list)
        for family in self.families:
            if family.qualified_on is None:
                continue
            chance = 0.93 if family.spzt == ApprovalStatus.COMPLETED else 0.75
            if rng.random() >= chance:
                continue
            earliest = family.qualified_on + _days(15)
            index = next((i for i, (_, _, day) in enumerate(periods) if day >= earliest), None)
            if index is None:
                continue
            index += rng.choice((0, 0, 0, 1, 1, 2))
            if index >= len(periods):
                continue
            year, period, day = periods[index]
            family.lottery_on = day
            drawn[(year, period)].append(
                {"yhid": self._guid(), "sqid": family.sqid, "yhnd": year, "qs": period, "sxh": 0, "yhrq": day}
            )
        for key in sorted(drawn):
            rows = drawn[key]
            rng.shuffle(rows)
            for number, row in enumerate(rows, start=1):
                row["sxh"] = number
            self.tables["tpg_yhjg"].extend(rows)

    # -- leases (planned before houses exist) -------------------------------------------

    def _plan_leases(self) -> None:
        rng = self.rng
        for family in self.families:
            if family.lottery_on is None:
                continue
            sign_on = family.lottery_on + _days(rng.randint(20, 100))
            recent = (BASE_DATE - family.lottery_on).days <= 150
            if sign_on > BASE_DATE or (family.spzt == ApprovalStatus.QUALIFIED and recent and rng.random() < 0.6):
                start = max(sign_on, BASE_DATE + _days(rng.randint(5, 40)))
                created = self._at(min(BASE_DATE, family.lottery_on + _days(rng.randint(10, 30))))
                self._draft(family, ContractType.NEW, start, add_years(start, LEASE_YEARS) - _days(1), created)
                continue
            if family.spzt != ApprovalStatus.COMPLETED or rng.random() >= 0.9:
                continue  # still waiting for room selection, or declined
            self._signed(family, ContractType.NEW, sign_on, add_years(sign_on, LEASE_YEARS) - _days(1), sign_on)
            while True:
                current = family.contracts[-1]
                if current.end >= BASE_DATE + _days(90):
                    break
                if current.end < BASE_DATE and rng.random() < 0.06:
                    current.htzt = ContractStatus.TERMINATED  # moved out at the end of the lease
                    break
                start = current.end + _days(1)
                signed_on = start - _days(rng.randint(5, 45))
                end = add_years(start, LEASE_YEARS) - _days(1)
                if signed_on <= BASE_DATE:
                    if start <= BASE_DATE:
                        current.htzt = ContractStatus.TERMINATED
                    self._signed(family, ContractType.RENEWAL, start, end, signed_on)
                else:
                    created = self._at(BASE_DATE - _days(rng.randint(1, 25)))
                    self._draft(family, ContractType.RENEWAL, start, end, created)
                    break

    def _signed(self, family: _Family, pzlx: str, start: dt.date, end: dt.date, signed_on: dt.date) -> _Contract:
        signed = self._at(signed_on)
        contract = _Contract(
            family,
            pzlx,
            ContractStatus.SIGNED,
            start,
            end,
            created=signed - dt.timedelta(minutes=self.rng.randint(5, 120)),
            signed=signed,
        )
        family.contracts.append(contract)
        return contract

    def _draft(self, family: _Family, pzlx: str, start: dt.date, end: dt.date, created: dt.datetime) -> _Contract:
        contract = _Contract(family, pzlx, ContractStatus.DRAFT, start, end, created=created)
        family.contracts.append(contract)
        return contract

    # -- housing projects and houses -----------------------------------------------------

    def _housing(self) -> None:
        rng = self.rng
        leased = [f for f in self.families if f.contracts]
        total = len(leased) + max(60, math.ceil(0.4 * len(leased)))
        project_count = max(2, math.ceil(total / 160))
        quotas = [total // project_count] * project_count
        for i in range(total - sum(quotas)):
            quotas[i] += 1
        used_names: set[str] = set()
        for number, quota in enumerate(quotas, start=1):
            district = rng.choice(_HZ_DISTRICTS)
            base_name = rng.choice(vocab.PROJECT_PLACES[district]) + rng.choice(vocab.PROJECT_SUFFIXES)
            name, phase = base_name, 1
            while name in used_names:
                phase += 1
                name = f"{base_name}{'一二三四五六七八九十'[min(phase, 10) - 1]}期"
                if phase > 10:
                    name = f"{base_name}{phase}期"
            used_names.add(name)
            address = f"杭州市{DISTRICTS[district]}{rng.choice(vocab.STREETS[district])}{rng.randint(1, 999)}号"
            xmid = self._guid()
            self.tables["tpg_fyxm"].append(
                {"xmid": xmid, "xmbh": f"GZFXM{number:04d}", "xmmc": name, "qx": district, "xmdz": address}
            )
            self._project_houses(xmid, district, address, quota)
        self.pool = _HousePool(self.houses, rng)
        for family in leased:
            house = self.pool.take(family.qx if rng.random() < 0.7 else None)
            assert house is not None  # the inventory is sized for every lease
            family.house = house
            for contract in family.contracts:
                contract.house = house

    def _project_houses(self, xmid: str, district: str, address: str, quota: int) -> None:
        rng = self.rng
        rooms, units, floors = rng.randint(2, 4), rng.randint(1, 3), rng.randint(6, 18)
        rate = rng.uniform(14, 32)  # yuan per m² per month
        layouts = {(u, r): _money(rng.uniform(35, 90)) for u in range(1, units + 1) for r in range(1, rooms + 1)}
        made = 0
        for building in range(1, math.ceil(quota / (rooms * units * floors)) + 1):
            for unit in range(1, units + 1):
                for floor in range(1, floors + 1):
                    for room in range(1, rooms + 1):
                        if made == quota:
                            return
                        area = layouts[(unit, room)]
                        rent = _money(round(float(area) * rate))
                        lh, dy, fh = f"{building}幢", f"{unit}单元", f"{floor}{room:02d}"
                        house = _House(self._guid(), district, f"{address}{lh}{dy}{fh}室", area, rent)
                        self.houses.append(house)
                        self.house_rows[house.fyid] = {
                            "fyid": house.fyid,
                            "xmid": xmid,
                            "lh": lh,
                            "dy": dy,
                            "fh": fh,
                            "jzmj": area,
                            "hx": _layout(area),
                            "fyzt": HouseStatus.VACANT,
                            "yzj": rent,
                        }
                        made += 1

    # -- allocation batches --------------------------------------------------------------

    def _batch(self, kind: str, created: dt.datetime, name: str, status: str) -> str:
        pcid = self._guid()
        self.tables["tpg_hbpc"].append(
            {
                "pcid": pcid,
                "hblx": kind,
                "pcmc": name,
                "pczt": status,
                "qx": self.rng.choice(_HZ_DISTRICTS),
                "czyid": self.rng.choice(self.operators),
                "cjsj": created,
            }
        )
        return pcid

    def _batch_houses(self, pcid: str, created: dt.datetime, count: int) -> list[_House]:
        assert self.pool is not None
        taken = []
        for _ in range(count):
            house = self.pool.take()
            if house is None:
                break
            self.reserved.add(house.fyid)
            self.tables["tpg_hbfy"].append(
                {
                    "hbfyid": self._guid(),
                    "pcid": pcid,
                    "fyid": house.fyid,
                    "hbsj": created + dt.timedelta(minutes=self.rng.randint(10, 600)),
                }
            )
            taken.append(house)
        return taken

    def _batch_applicant(self, pcid: str, family: _Family) -> None:
        family.busy = True
        self.tables["tpg_hbry"].append({"hbryid": self._guid(), "pcid": pcid, "sqid": family.sqid})

    def _allocation_batches(self) -> None:
        rng = self.rng
        numbering: dict[tuple[str, int], int] = defaultdict(int)

        def title(kind: str, day: dt.date) -> str:
            numbering[(kind, day.year)] += 1
            label = "选房" if kind == AllocationKind.SELECTION else "调房"
            return f"{day.year}年第{numbering[(kind, day.year)]}批{label}房源划拨"

        # 选房划拨: applicants with a lottery result still waiting for a house (公租房 and 廉租房).
        waiting = [f for f in self.families if f.lottery_on and not f.contracts]
        days = sorted(
            self._date_between(dt.date(2022, 1, 1), BASE_DATE - _days(5)) for _ in range(max(2, self.households // 600))
        )
        for n, day in enumerate(days):
            created = self._at(day)
            status = _batch_status(day, newest=n == len(days) - 1)
            pcid = self._batch(AllocationKind.SELECTION, created, title(AllocationKind.SELECTION, day), status)
            eligible = [f for f in waiting if not f.busy and f.lottery_on and f.lottery_on <= day]
            chosen = rng.sample(eligible, min(len(eligible), rng.randint(8, 30)))
            for family in chosen:
                self._batch_applicant(pcid, family)
            self._batch_houses(pcid, created, len(chosen) + rng.randint(0, 5))

        # 调房划拨: tenants moving to another house; older batches ended in adjustment leases (调房).
        days = sorted(
            self._date_between(dt.date(2022, 1, 1), BASE_DATE - _days(5)) for _ in range(max(2, self.households // 900))
        )
        in_force = [f for f in self.families if f.tenant_in_force()]
        for n, day in enumerate(days):
            created = self._at(day)
            status = _batch_status(day, newest=n == len(days) - 1)
            pcid = self._batch(AllocationKind.ADJUSTMENT, created, title(AllocationKind.ADJUSTMENT, day), status)
            tenants = [f for f in in_force if not f.busy and f.last.start < day]  # type: ignore[union-attr]
            chosen = rng.sample(tenants, min(len(tenants), rng.randint(3, 10)))
            for family in chosen:
                self._batch_applicant(pcid, family)
            houses = self._batch_houses(pcid, created, len(chosen) + rng.randint(0, 3))
            moves = min(len(chosen), len(houses), rng.randint(1, 3))
            for family, house in zip(chosen[:moves], houses[:moves], strict=True):
                start = day + _days(rng.randint(10, 40))
                old = family.last
                assert old is not None
                if status == AllocationBatchStatus.OPEN:
                    # still 办理中: the move is at most prepared (a draft lease), the family lives where it did
                    start = max(start, BASE_DATE + _days(5))
                if start <= BASE_DATE - _days(1):
                    old.htzt = ContractStatus.TERMINATED
                    new = self._signed(family, ContractType.ADJUSTMENT, start, old.end, start)
                    family.house = house
                elif rng.random() < 0.5:
                    new = self._draft(
                        family, ContractType.ADJUSTMENT, start, old.end, self._at(min(BASE_DATE, day + _days(3)))
                    )
                else:
                    continue
                new.house = house

    # -- exchange pairings, inspections, exchange leases --------------------------------

    def _exchanges(self) -> None:
        rng = self.rng
        total = round(self.households * 0.15 / 1.8)
        unallocated = round(total * 0.2)
        tenants = [
            f for f in self.families if not f.busy and f.tenant_in_force() and f.last.start <= BASE_DATE - _days(120)
        ]  # type: ignore[union-attr]
        rng.shuffle(tenants)
        others = [
            f
            for f in self.families
            if not f.busy and not f.contracts and f.qualified_on and f.qualified_on <= BASE_DATE - _days(90)
        ]
        rng.shuffle(others)
        pairings: list[Row] = []
        for i in range(total):
            kind = ExchangeKind.UNALLOCATED if i < unallocated else ExchangeKind.ALLOCATED
            pool = others if kind == ExchangeKind.UNALLOCATED else tenants
            if not pool:
                continue
            status = rng.choices(
                (PairingStatus.PENDING, PairingStatus.MATCHED, PairingStatus.CANCELLED), weights=(30, 50, 20)
            )[0]
            applicant = pool.pop()
            wants_partner = {PairingStatus.MATCHED: 1.0, PairingStatus.PENDING: 0.5, PairingStatus.CANCELLED: 0.6}
            partner = pool.pop() if pool and rng.random() < wants_partner[status] else None
            if status == PairingStatus.MATCHED and partner is None:
                status = PairingStatus.PENDING
            for family in (applicant, partner):
                if family is not None:
                    family.busy = True
            pairings.append(self._pairing(kind, status, applicant, partner))
        pairings.sort(key=lambda row: row["cjsj"])
        per_year: dict[int, int] = defaultdict(int)
        for row in pairings:
            per_year[row["cjsj"].year] += 1
            row["pdbh"] = f"HF{row['cjsj'].year}{per_year[row['cjsj'].year]:05d}"
        self.tables["tpg_hfpd"].extend(pairings)

    def _pairing(self, kind: str, status: str, applicant: _Family, partner: _Family | None) -> Row:
        rng = self.rng
        allocated = kind == ExchangeKind.ALLOCATED
        since = FIRST_APPLICATION
        if allocated:
            since = max(f.last.start for f in (applicant, partner) if f is not None) + _days(60)  # type: ignore[union-attr]
        else:
            since = max(f.qualified_on for f in (applicant, partner) if f is not None) + _days(30)  # type: ignore[type-var]
        created = self._at(self._date_between(max(since, dt.date(2021, 1, 1)), BASE_DATE - _days(20)))
        matched_at = None
        if status == PairingStatus.MATCHED:
            matched_at = min(
                created + dt.timedelta(days=rng.randint(3, 30), hours=rng.randint(0, 6)), self._at(BASE_DATE - _days(1))
            )
            matched_at = max(matched_at, created + dt.timedelta(hours=1))
        old_house = applicant.house if allocated else None
        new_house = partner.house if allocated and partner else None
        if not allocated and status == PairingStatus.MATCHED:
            assert self.pool is not None
            new_house = self.pool.take(applicant.qx)
        row = {
            "pdid": self._guid(),
            "pdbh": None,
            "sqfjtid": applicant.jtid,
            "dfjtid": partner.jtid if partner else None,
            "yfyid": old_house.fyid if old_house else None,
            "xfyid": new_house.fyid if new_house else None,
            "hflx": kind,
            "pdzt": status,
            "pdcgsj": matched_at,
            "qx": applicant.qx,
            "cjsj": created,
        }
        if status != PairingStatus.MATCHED or matched_at is None:
            return row
        if allocated:
            assert partner is not None and old_house is not None and new_house is not None
            self._inspection_and_leases(row, matched_at, applicant, partner, old_house, new_house)
        elif new_house is not None:
            # 未配租换房 needs no inspection; some signed, some awaiting signature.
            draw = rng.random()
            start = matched_at.date() + _days(rng.randint(5, 30))
            end = add_years(start, LEASE_YEARS) - _days(1)
            if draw < 0.3 and start <= BASE_DATE:
                lease = self._signed(applicant, ContractType.EXCHANGE, start, end, start)
                applicant.house = new_house
            elif draw < 0.6:
                lease = self._draft(
                    applicant,
                    ContractType.EXCHANGE,
                    max(start, BASE_DATE + _days(5)),
                    end,
                    self._at(min(BASE_DATE, matched_at.date() + _days(2))),
                )
            else:
                self.reserved.add(new_house.fyid)
                return row
            lease.house, lease.hfpdid = new_house, row["pdid"]
        return row

    def _inspection_and_leases(
        self,
        row: Row,
        matched_at: dt.datetime,
        applicant: _Family,
        partner: _Family,
        old_house: _House,
        new_house: _House,
    ) -> None:
        rng = self.rng
        status = rng.choices(
            (InspectionStatus.PENDING, InspectionStatus.PASSED, InspectionStatus.FAILED), weights=(30, 55, 15)
        )[0]
        confirmed = self._at(matched_at.date() + _days(rng.randint(2, 20)))
        if confirmed.date() >= BASE_DATE:
            status = InspectionStatus.PENDING
        inspection = {
            "yfid": self._guid(),
            "pdid": row["pdid"],
            "yfzt": status,
            "yfjg": None,
            "yfry": None,
            "yfqrsj": None,
        }
        if status != InspectionStatus.PENDING:
            texts = vocab.INSPECTION_PASSED if status == InspectionStatus.PASSED else vocab.INSPECTION_FAILED
            inspection.update(yfjg=rng.choice(texts), yfry=rng.choice(vocab.INSPECTORS), yfqrsj=confirmed)
        self.tables["tpg_hfyf"].append(inspection)
        draw = rng.random()
        end_of = {f.jtid: f.last.end for f in (applicant, partner)}  # type: ignore[union-attr]
        if status == InspectionStatus.PASSED and draw < 0.7:
            sign_on = confirmed.date() + _days(rng.randint(1, 10))
            if sign_on <= BASE_DATE:
                for family, house in ((applicant, new_house), (partner, old_house)):
                    family.last.htzt = ContractStatus.TERMINATED  # type: ignore[union-attr]
                    lease = self._signed(family, ContractType.EXCHANGE, sign_on, end_of[family.jtid], sign_on)
                    lease.house, lease.hfpdid = house, row["pdid"]
                    family.house = house
                return
        # Awaiting signature: allowed once inspected, blocked by the gate while uninspected or failed.
        draft_chance = {InspectionStatus.PASSED: 0.5, InspectionStatus.PENDING: 0.4, InspectionStatus.FAILED: 0.25}
        if rng.random() < draft_chance[status]:
            created = self._at(min(BASE_DATE, matched_at.date() + _days(rng.randint(1, 5))))
            lease = self._draft(
                applicant, ContractType.EXCHANGE, BASE_DATE + _days(rng.randint(5, 30)), end_of[applicant.jtid], created
            )
            lease.house, lease.hfpdid = new_house, row["pdid"]

    # -- finishing: leases, house status, family addresses ------------------------------

    def _finish_leases(self) -> None:
        rng = self.rng
        contracts = sorted((c for f in self.families for c in f.contracts), key=lambda c: c.created)
        per_year: dict[int, int] = defaultdict(int)
        let: set[str] = set()
        pending: set[str] = set()
        for contract in contracts:
            house, family = contract.house, contract.family
            assert house is not None
            per_year[contract.created.year] += 1
            rent = house.rent
            if family.bzlx == GuaranteeType.LOW_RENT:
                rent = _money(round(float(house.area) * rng.uniform(1.0, 3.0)))
            signed = contract.htzt != ContractStatus.DRAFT
            if contract.htzt == ContractStatus.SIGNED and contract.start <= BASE_DATE <= contract.end:
                let.add(house.fyid)
            elif contract.htzt != ContractStatus.TERMINATED:
                pending.add(house.fyid)
            self.tables["tpg_zlht"].append(
                {
                    "htid": self._guid(),
                    "htcode": f"HZZL{contract.created.year}{per_year[contract.created.year]:06d}",
                    "sqid": family.sqid,
                    "jtid": family.jtid,
                    "fyid": house.fyid,
                    "hfpdid": contract.hfpdid,
                    "pzlx": contract.pzlx,
                    "xzlx": None,
                    "htzt": contract.htzt,
                    "yj": _money(rent * DEPOSIT_MONTHS),
                    "yjjmbz": 0 if signed else None,
                    "yjjmyy": None,
                    "yzj": rent,
                    "htksrq": contract.start,
                    "htjsrq": contract.end,
                    "qdrq": contract.signed,
                    "czyid": rng.choice(self.operators),
                }
            )
        for family in self.families:
            if family.house is not None and family.house.fyid in let:
                family.row["jtdz"] = family.house.address
        for house in self.houses:
            row = self.house_rows[house.fyid]
            if house.fyid in let:
                row["fyzt"] = HouseStatus.LET
            elif house.fyid in pending or house.fyid in self.reserved:
                row["fyzt"] = HouseStatus.RESERVED
            elif rng.random() < 0.05:
                row["fyzt"] = HouseStatus.REPAIR
            self.tables["tpg_fyxx"].append(row)

    # -- co-construction projects and surveyed houses -----------------------------------

    def _coconstruction(self) -> None:
        # The survey simulator serves this catalog: the same numbers and names link the two.
        from soar_ext.adapters.simulators.survey import simulated_houses, survey_catalog

        rng = self.rng
        catalog = survey_catalog(SURVEY_CATALOG_SEED)
        names = {name for _, name in catalog}
        # A few newer projects have no surveying results yet.
        newer = [(n, name) for n, name in survey_catalog(2023, 6) if name not in names][:5]
        for number, name in [*catalog, *newer]:
            plate = next((p for p in _SURVEY_PLATES if name.startswith(p)), None)
            houses = simulated_houses(number) if (number, name) in catalog else []
            units = len(houses) or rng.randint(20, 120)
            area = sum((h.predicted_area for h in houses), Decimal(0)) or _money(units * rng.uniform(50, 80))
            year = int(number[2:6])
            self.tables["tpg_pjxm"].append(
                {
                    "pjxmid": self._guid(),
                    "xmbh": number,
                    "xmmc": name,
                    "kfdw": rng.choice(vocab.DEVELOPERS),
                    "qx": _SURVEY_PLATES[plate] if plate else None,
                    "pjts": units,
                    "pjmj": _money(area),
                    "cjsj": self._at(self._date_between(dt.date(year, 1, 10), dt.date(year, 12, 20))),
                }
            )
        # Local copy of surveying results (tch_fwxx) for about 40% of the surveyed projects;
        # some copies predate the measurement, so their measured areas are still missing.
        for number, name in rng.sample(catalog, k=max(1, round(len(catalog) * 0.4))):
            stale = rng.random() < 0.3
            updated = self._at(self._date_between(dt.date(2021, 1, 1), BASE_DATE - _days(1)))
            for house in simulated_houses(number):
                self.tables["tch_fwxx"].append(
                    {
                        "fwid": self._guid(),
                        "chxmbh": number,
                        "chxmmc": name,
                        "lh": house.building,
                        "dy": house.unit,
                        "fh": house.room,
                        "ycjzmj": house.predicted_area,
                        "scjzmj": None if stale else house.measured_area,
                        "gxsj": updated,
                    }
                )

    # -- data-entry oddities --------------------------------------------------------------

    def _data_entry_names(self) -> None:
        """A few 廉租房 applicants waiting for a house carry a stray ``%`` or ``_`` in their name.

        Chosen in family order without drawing from the random generator, so every other row
        stays as it was.
        """
        persons = {row["ryid"]: row for row in self.tables["tpg_ryxx"]}
        waiting = [f for f in self.families if f.bzlx == GuaranteeType.LOW_RENT and f.lottery_on and not f.contracts]
        for n, family in enumerate(waiting[: vocab.DATA_ENTRY_NAME_COUNT * 2]):
            person = persons[family.row["sqrid"]]
            person["xm"] = vocab.data_entry_name(person["xm"], n)

    def _members_who_left(self) -> None:
        """Some grown children and relatives have left their family (``lkrq``, 离开家庭日期).

        Every :data:`LEFT_FAMILY_EVERY`-th family of three or more: its last member (never the
        main applicant) left on a day between the family's creation and :data:`BASE_DATE`.
        Chosen in family order without drawing from the random generator, so every other row
        stays as it was.
        """
        by_family: dict[str, list[Row]] = {}
        for row in self.tables["tpg_rygx"]:
            by_family.setdefault(row["jtid"], []).append(row)
        sized = [f for f in self.families if len(by_family.get(f.jtid, ())) >= 3]
        for n, family in enumerate(sized[::LEFT_FAMILY_EVERY]):
            member = by_family[family.jtid][-1]
            created = family.row["cjsj"].date()
            span = max(1, (BASE_DATE - created).days)
            member["lkrq"] = created + _days(1 + (n * 97) % span)

    # -- entry point ---------------------------------------------------------------------

    def build(self) -> dict[str, list[Row]]:
        """Every legacy table's rows, keyed by table name."""
        self._families()
        self._certificates()
        self._lotteries()
        self._plan_leases()
        self._housing()
        self._allocation_batches()
        self._exchanges()
        self._finish_leases()
        self._coconstruction()
        self._data_entry_names()
        self._members_who_left()
        return self.tables


def _batch_status(day: dt.date, *, newest: bool) -> str:
    """Batches of the last :data:`OPEN_BATCH_DAYS` days, and the newest of each kind, are still 办理中."""
    if newest or (BASE_DATE - day).days <= OPEN_BATCH_DAYS:
        return AllocationBatchStatus.OPEN
    return AllocationBatchStatus.COMPLETED


def _layout(area: Decimal) -> str:
    if area < 45:
        return "一室一厅"
    if area < 65:
        return "两室一厅"
    if area < 80:
        return "两室两厅"
    return "三室一厅"


def build_dataset(households: int, seed: int) -> dict[str, list[Row]]:
    """Rows for every legacy table (table name -> rows), deterministic in ``(households, seed)``."""
    return DatasetBuilder(households, seed).build()
