"""The synthetic Hangzhou data set: deterministic, valid, realistic, and shaped for every feature."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Engine, String, func, select

from soar_ext.adapters.simulators.survey import survey_catalog
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
from soar_ext.db.engine import make_engine
from soar_ext.db.legacy import LEGACY_TABLES, legacy_metadata
from soar_ext.idnumber import age_on, birth_date, is_valid_id_number
from soar_ext.synthetic import (
    BASE_DATE,
    DatabaseNotEmpty,
    GenerationSummary,
    LegacyTablesMissing,
    build_dataset,
    make_id_number,
    populate,
)
from soar_ext.synthetic.build import OPEN_BATCH_DAYS
from soar_ext.synthetic.ids import OTHER_AREAS
from soar_ext.synthetic.vocabulary import surname

HOUSEHOLDS = 1000
SEED = 20190601

Data = dict[str, list[dict[str, Any]]]


class Populated(NamedTuple):
    engine: Engine
    summary: GenerationSummary
    data: Data


def _sqlite(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    legacy_metadata.create_all(engine)
    return engine


def dump(engine: Engine) -> Data:
    """Every legacy table's rows as dicts, ordered by primary key."""
    out = {}
    with engine.connect() as conn:
        for table in LEGACY_TABLES:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            out[table.name] = [dict(row) for row in rows]
    return out


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    engine = _sqlite(tmp_path_factory.mktemp("synthetic") / "soar.db")
    summary = populate(engine, households=HOUSEHOLDS, seed=SEED)
    yield Populated(engine, summary, dump(engine))
    engine.dispose()


@pytest.fixture(scope="module")
def data(db: Populated) -> Data:
    return db.data


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


# -- determinism and summary -----------------------------------------------------------


def test_same_seed_gives_identical_rows(tmp_path: Path, data: Data) -> None:
    engine = _sqlite(tmp_path / "twin.db")
    populate(engine, households=HOUSEHOLDS, seed=SEED)
    assert dump(engine) == data
    engine.dispose()


def test_different_seed_gives_different_rows(tmp_path: Path) -> None:
    engine_a, engine_b = _sqlite(tmp_path / "a.db"), _sqlite(tmp_path / "b.db")
    populate(engine_a, households=50, seed=1)
    populate(engine_b, households=50, seed=2)
    a, b = dump(engine_a), dump(engine_b)
    assert {r["sfzh"] for r in a["tpg_ryxx"]}.isdisjoint({r["sfzh"] for r in b["tpg_ryxx"]})
    assert a["tpg_gzfsqspb"] != b["tpg_gzfsqspb"]
    engine_a.dispose()
    engine_b.dispose()


def test_summary_counts_match_the_database_and_read_in_chinese(db: Populated) -> None:
    summary, data = db.summary, db.data
    assert summary.households == HOUSEHOLDS and summary.seed == SEED
    assert set(summary.row_counts) == {t.name for t in LEGACY_TABLES}
    assert summary.row_counts == {name: len(rows) for name, rows in data.items()}
    assert summary.total_rows == sum(summary.row_counts.values())
    assert summary.elapsed_seconds >= summary.insert_seconds > 0
    lines = summary.lines()
    assert "1,000 户家庭" in lines[0] and str(SEED) in lines[0]
    assert any(line.strip().startswith("人员信息表（tpg_ryxx）：") for line in lines)
    assert lines[-1].startswith("合计")


def test_refuses_to_write_into_tables_that_have_rows(db: Populated) -> None:
    engine = db.engine
    with pytest.raises(DatabaseNotEmpty, match="已有数据"):
        populate(engine, households=5)


def test_refuses_a_database_without_the_legacy_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(LegacyTablesMissing, match="tpg_ryxx"):
        populate(engine, households=5)
    engine.dispose()


def test_row_counts_scale_with_households() -> None:
    small, large = build_dataset(300, SEED), build_dataset(1200, SEED)
    assert len(small["tpg_jtxx"]) == 300 and len(large["tpg_jtxx"]) == 1200
    for table in ("tpg_ryxx", "tpg_gzfsqspb", "tpg_yhjg", "tpg_fyxx", "tpg_zlht", "tpg_hfpd"):
        ratio = len(large[table]) / len(small[table])
        assert 3.0 <= ratio <= 5.0, (table, ratio)


# -- people and families ---------------------------------------------------------------


def test_id_numbers_are_valid_unique_and_agree_with_birth_date_and_gender(data: Data) -> None:
    persons = data["tpg_ryxx"]
    numbers = [p["sfzh"] for p in persons]
    assert len(numbers) == len(set(numbers))
    for person in persons:
        number = person["sfzh"]
        assert is_valid_id_number(number), number
        assert birth_date(number) == person["csrq"]
        assert person["csrq"] <= BASE_DATE
        assert int(number[16]) % 2 == (1 if person["xb"] == Gender.MALE else 0)


def test_id_area_codes_are_hangzhou_districts_or_real_other_origins(data: Data) -> None:
    areas = Counter(p["sfzh"][:6] for p in data["tpg_ryxx"])
    assert set(areas) <= set(DISTRICTS) | set(OTHER_AREAS)
    hangzhou = sum(n for code, n in areas.items() if code in DISTRICTS)
    assert 0.6 < hangzhou / sum(areas.values()) < 0.95
    assert len(set(areas) & set(OTHER_AREAS)) >= 5
    # 临平区 and 钱塘区 exist since 2021: nobody born earlier carries their codes.
    for person in data["tpg_ryxx"]:
        if person["sfzh"][:6] in {"330113", "330114"}:
            assert person["csrq"].year >= 2021


def test_persons_have_chinese_names_phones_and_hangzhou_addresses(data: Data) -> None:
    persons = data["tpg_ryxx"]
    for person in persons:
        # a few names carry one stray % or _ from data entry (see the next test)
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", re.sub(r"[%_]", "", person["xm"], count=1)), person["xm"]
        if person["lxdh"] is not None:
            assert re.fullmatch(r"1[3-9]\d{9}", person["lxdh"])
        if age_on(person["sfzh"], BASE_DATE) < 16:
            assert person["lxdh"] is None and person["gzdw"] is None
    assert sum(p["hjdz"].startswith("杭州市") for p in persons) / len(persons) > 0.7
    assert sum(p["lxdh"] is not None for p in persons) / len(persons) > 0.6


def test_a_few_waiting_low_rent_applicants_have_a_percent_or_underscore_in_their_name(data: Data) -> None:
    odd = {p["ryid"]: p["xm"] for p in data["tpg_ryxx"] if re.search(r"[%_]", p["xm"])}
    assert 6 <= len(odd) <= 12
    assert any("%" in name for name in odd.values()) and any("_" in name for name in odd.values())
    assert any(name[0] in "%_" for name in odd.values()) and any(name[-1] in "%_" for name in odd.values())
    families = {f["sqrid"]: f["jtid"] for f in data["tpg_jtxx"]}
    apps = {a["jtid"]: a for a in data["tpg_gzfsqspb"]}
    drawn = {r["sqid"] for r in data["tpg_yhjg"]}
    leased = {c["jtid"] for c in data["tpg_zlht"]}
    for ryid in odd:
        app = apps[families[ryid]]  # each one is a main applicant
        assert app["bzlx"] == GuaranteeType.LOW_RENT and app["sqid"] in drawn and app["jtid"] not in leased


def test_surnames_include_a_few_two_character_ones() -> None:
    rng = random.Random(1)
    drawn = Counter(surname(rng) for _ in range(20_000))
    compound = sum(n for name, n in drawn.items() if len(name) == 2)
    assert 0 < compound < 400
    assert {"欧阳", "司马"} <= set(drawn)


def test_every_family_has_exactly_one_main_applicant(data: Data) -> None:
    members = defaultdict(list)
    for link in data["tpg_rygx"]:
        members[link["jtid"]].append(link)
    assert set(members) == {f["jtid"] for f in data["tpg_jtxx"]}
    for family in data["tpg_jtxx"]:
        links = members[family["jtid"]]
        main = [m for m in links if m["sfzsqr"] == 1]
        assert len(main) == 1
        assert main[0]["ysqrgx"] == Relation.SELF and main[0]["ryid"] == family["sqrid"]
        assert sum(m["ysqrgx"] == Relation.SELF for m in links) == 1
        assert all(m["sfzsqr"] in (0, 1) for m in links)
        assert family["jtrs"] == len(links) and 1 <= len(links) <= 6
        assert family["qx"] in DISTRICTS
    sizes = Counter(len(v) for v in members.values())
    assert set(sizes) == {1, 2, 3, 4, 5, 6}
    assert len(data["tpg_rygx"]) == len(data["tpg_ryxx"])  # every person belongs to exactly one family


def test_relations_have_plausible_ages(data: Data) -> None:
    persons = by(data["tpg_ryxx"], "ryid")
    age = {ryid: age_on(p["sfzh"], BASE_DATE) for ryid, p in persons.items()}
    applicant_of = {f["jtid"]: f["sqrid"] for f in data["tpg_jtxx"]}
    seen = Counter()
    minors = 0
    for link in data["tpg_rygx"]:
        mine, main = age[link["ryid"]], age[applicant_of[link["jtid"]]]
        relation = link["ysqrgx"]
        seen[relation] += 1
        minors += mine < 18
        if relation == Relation.SELF:
            assert mine >= 22
        elif relation == Relation.SPOUSE:
            assert mine >= 20 and abs(mine - main) <= 15
            assert persons[link["ryid"]]["xb"] != persons[applicant_of[link["jtid"]]]["xb"]
        elif relation == Relation.CHILD:
            assert mine <= main - 20
        elif relation == Relation.PARENT:
            assert mine >= main + 20
        elif relation == Relation.GRANDCHILD:
            assert mine <= main - 40
    assert {Relation.SELF, Relation.SPOUSE, Relation.CHILD, Relation.PARENT, Relation.SIBLING} <= set(seen)
    assert minors > 0.1 * len(data["tpg_rygx"])


# -- applications and lottery ----------------------------------------------------------


def test_applications_cover_both_guarantee_types_and_completed_ones_have_dates(data: Data) -> None:
    apps = data["tpg_gzfsqspb"]
    assert len(apps) == HOUSEHOLDS
    low_rent = sum(a["bzlx"] == GuaranteeType.LOW_RENT for a in apps) / len(apps)
    assert 0.12 < low_rent < 0.28
    assert {a["bzlx"] for a in apps} == set(GuaranteeType.LABELS)
    states = Counter(a["spzt"] for a in apps)
    assert set(states) == set(ApprovalStatus.LABELS)
    assert states[ApprovalStatus.COMPLETED] > 0.5 * len(apps)
    certificates = [a["pzzgzh"] for a in apps if a["pzzgzh"] is not None]
    assert len(certificates) == len(set(certificates))
    for app in apps:
        qualified = app["spzt"] in (ApprovalStatus.QUALIFIED, ApprovalStatus.COMPLETED)
        assert (app["pzzgzh"] is not None) == qualified
        if qualified:
            assert re.fullmatch(r"HZGZ20(1[5-9]|2[0-4])\d{6}", app["pzzgzh"]), app["pzzgzh"]
        assert (app["bjrq"] is not None) == (app["spzt"] == ApprovalStatus.COMPLETED)
        if app["bjrq"] is not None:
            assert app["sqrq"] < app["bjrq"] <= BASE_DATE


def test_lottery_results_belong_to_qualified_applications_and_number_each_period(data: Data) -> None:
    apps = by(data["tpg_gzfsqspb"], "sqid")
    periods = defaultdict(list)
    for result in data["tpg_yhjg"]:
        app = apps[result["sqid"]]
        assert app["pzzgzh"] is not None
        assert 2016 <= result["yhnd"] <= 2024 and 1 <= result["qs"] <= 4
        assert result["yhrq"].year == result["yhnd"] and result["yhrq"] <= BASE_DATE
        periods[(result["yhnd"], result["qs"])].append(result["sxh"])
    for numbers in periods.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert {year for year, _ in periods} == set(range(2016, 2025))
    low_rent = [r for r in data["tpg_yhjg"] if apps[r["sqid"]]["bzlx"] == GuaranteeType.LOW_RENT]
    assert low_rent, "廉租房 applicants need lottery results for the room-selection filters"


# -- houses, allocation, contracts -----------------------------------------------------


def test_houses_outnumber_let_contracts_and_statuses_follow_the_leases(data: Data) -> None:
    houses = data["tpg_fyxx"]
    in_force = [
        c for c in data["tpg_zlht"] if c["htzt"] == ContractStatus.SIGNED and c["htksrq"] <= BASE_DATE <= c["htjsrq"]
    ]
    let = {c["fyid"] for c in in_force}
    assert len(let) == len(in_force), "one lease in force per house"
    assert len(houses) > len(in_force)
    for house in houses:
        assert Decimal("35") <= house["jzmj"] <= Decimal("90")
        assert house["yzj"] > 0 and house["hx"] and house["lh"].endswith("幢")
        assert (house["fyzt"] == HouseStatus.LET) == (house["fyid"] in let)
    assert set(Counter(h["fyzt"] for h in houses)) == set(HouseStatus.LABELS)
    assert len({(h["xmid"], h["lh"], h["dy"], h["fh"]) for h in houses}) == len(houses)


def test_allocation_batches_of_both_kinds_hold_houses_and_applicants(data: Data) -> None:
    batches = data["tpg_hbpc"]
    assert {b["hblx"] for b in batches} == {"01", "02"}
    for batch in batches:
        assert any(h["pcid"] == batch["pcid"] for h in data["tpg_hbfy"]), batch["pcmc"]
        assert any(a["pcid"] == batch["pcid"] for a in data["tpg_hbry"]), batch["pcmc"]
    allocated = {h["fyid"] for h in data["tpg_hbfy"]}
    assert 0 < len(allocated) < len(data["tpg_fyxx"])
    for kind in AllocationKind.LABELS:
        of_kind = sorted((b for b in batches if b["hblx"] == kind), key=lambda b: b["cjsj"])
        assert of_kind[-1]["pczt"] == AllocationBatchStatus.OPEN, "the newest batch of each kind is open"
        assert {b["pczt"] for b in of_kind} <= {AllocationBatchStatus.OPEN, AllocationBatchStatus.COMPLETED}
        for batch in of_kind:
            recent = (BASE_DATE - batch["cjsj"].date()).days <= OPEN_BATCH_DAYS
            assert (batch["pczt"] == AllocationBatchStatus.OPEN) == (recent or batch is of_kind[-1]), batch["pcmc"]
    open_houses = {
        h["fyid"] for h in data["tpg_hbfy"] if by(batches, "pcid")[h["pcid"]]["pczt"] == AllocationBatchStatus.OPEN
    }
    moved_in = [
        c
        for c in data["tpg_zlht"]
        if c["pzlx"] == ContractType.ADJUSTMENT and c["htzt"] != ContractStatus.DRAFT and c["fyid"] in open_houses
    ]
    assert moved_in == [], "the families of an open batch have not moved yet (at most a draft lease)"
    apps = by(data["tpg_gzfsqspb"], "sqid")
    selection = {b["pcid"] for b in batches if b["hblx"] == "02"}
    chosen = [apps[a["sqid"]] for a in data["tpg_hbry"] if a["pcid"] in selection]
    assert {a["bzlx"] for a in chosen} == {GuaranteeType.PUBLIC_RENTAL, GuaranteeType.LOW_RENT}


def test_contracts_have_deposits_drafts_and_every_kind(data: Data) -> None:
    contracts = data["tpg_zlht"]
    kinds = Counter((c["pzlx"], c["htzt"]) for c in contracts)
    for pzlx in (ContractType.NEW, ContractType.RENEWAL, ContractType.EXCHANGE):
        assert kinds[(pzlx, ContractStatus.SIGNED)] > 0
        assert kinds[(pzlx, ContractStatus.DRAFT)] > 0, f"drafts of {pzlx} await signature"
    assert sum(n for (pzlx, _), n in kinds.items() if pzlx == ContractType.ADJUSTMENT) > 0
    signed = sum(n for (_, htzt), n in kinds.items() if htzt == ContractStatus.SIGNED)
    assert signed > sum(n for (_, htzt), n in kinds.items() if htzt == ContractStatus.DRAFT)
    codes = [c["htcode"] for c in contracts]
    assert len(codes) == len(set(codes))
    for contract in contracts:
        assert contract["yj"] == contract["yzj"] * 2
        assert contract["htksrq"] < contract["htjsrq"]
        if contract["htzt"] == ContractStatus.DRAFT:
            assert contract["qdrq"] is None and contract["yjjmbz"] is None
        else:
            assert contract["qdrq"] is not None and contract["qdrq"] <= dt.datetime(2024, 6, 30, 23, 59)
            assert contract["yjjmbz"] == 0
        assert (contract["hfpdid"] is not None) == (contract["pzlx"] == ContractType.EXCHANGE)


# -- exchange pairings and inspections -------------------------------------------------


def test_exchange_pairings_involve_about_fifteen_percent_of_families(data: Data) -> None:
    pairings = data["tpg_hfpd"]
    involved = {p["sqfjtid"] for p in pairings} | {p["dfjtid"] for p in pairings if p["dfjtid"]}
    assert 0.10 <= len(involved) / HOUSEHOLDS <= 0.20
    assert {p["pdzt"] for p in pairings} == set(PairingStatus.LABELS)
    unallocated = sum(p["hflx"] == ExchangeKind.UNALLOCATED for p in pairings) / len(pairings)
    assert 0.15 <= unallocated <= 0.25
    for pairing in pairings:
        assert (pairing["pdcgsj"] is not None) == (pairing["pdzt"] == PairingStatus.MATCHED)
        if pairing["pdzt"] == PairingStatus.MATCHED:
            assert pairing["dfjtid"] is not None and pairing["cjsj"] < pairing["pdcgsj"]
        if pairing["hflx"] == ExchangeKind.UNALLOCATED:
            assert pairing["yfyid"] is None
    assert len({p["pdbh"] for p in pairings}) == len(pairings)


def test_only_matched_allocated_pairings_have_inspections(data: Data) -> None:
    pairings = by(data["tpg_hfpd"], "pdid")
    inspected = by(data["tpg_hfyf"], "pdid")
    for pdid, pairing in pairings.items():
        needs = pairing["pdzt"] == PairingStatus.MATCHED and pairing["hflx"] == ExchangeKind.ALLOCATED
        assert (pdid in inspected) == needs, pairing["pdbh"]
    assert any(
        p["hflx"] == ExchangeKind.UNALLOCATED and p["pdzt"] == PairingStatus.MATCHED for p in pairings.values()
    ), "未配租换房 pairings without inspection rows"
    assert set(Counter(i["yfzt"] for i in inspected.values())) == set(InspectionStatus.LABELS)
    for inspection in inspected.values():
        done = inspection["yfzt"] != InspectionStatus.PENDING
        assert (inspection["yfry"] is not None) == done
        assert (inspection["yfqrsj"] is not None) == done
        if done:
            assert inspection["yfqrsj"] > pairings[inspection["pdid"]]["pdcgsj"]


def test_exchange_contracts_give_the_inspection_gate_something_to_block_and_allow(data: Data) -> None:
    pairings = by(data["tpg_hfpd"], "pdid")
    inspected = by(data["tpg_hfyf"], "pdid")
    blocked = allowed = signed_after_inspection = 0
    for contract in data["tpg_zlht"]:
        if contract["pzlx"] != ContractType.EXCHANGE:
            continue
        pairing = pairings[contract["hfpdid"]]
        assert pairing["pdzt"] == PairingStatus.MATCHED
        assert contract["jtid"] in (pairing["sqfjtid"], pairing["dfjtid"])
        passed = pairing["pdid"] in inspected and inspected[pairing["pdid"]]["yfzt"] == InspectionStatus.PASSED
        if contract["htzt"] == ContractStatus.SIGNED and pairing["hflx"] == ExchangeKind.ALLOCATED:
            assert passed, "signed exchange contracts of allocated pairings were inspected first"
            assert contract["qdrq"] > inspected[pairing["pdid"]]["yfqrsj"]
            signed_after_inspection += 1
        if contract["htzt"] == ContractStatus.DRAFT:
            if pairing["hflx"] == ExchangeKind.ALLOCATED and not passed:
                blocked += 1
            else:
                allowed += 1
    assert blocked > 0 and allowed > 0 and signed_after_inspection > 0


# -- co-construction and surveying -----------------------------------------------------


def test_coconstruction_projects_carry_the_survey_catalog_names(data: Data) -> None:
    projects = {(p["xmbh"], p["xmmc"]) for p in data["tpg_pjxm"]}
    catalog = survey_catalog()
    assert set(catalog) <= projects
    assert len(projects) > len(catalog), "some projects are not surveyed yet"
    surveyed = data["tch_fwxx"]
    numbers = {h["chxmbh"] for h in surveyed}
    assert numbers < {number for number, _ in catalog}
    names = dict(catalog)
    for house in surveyed:
        assert house["chxmmc"] == names[house["chxmbh"]]
        assert house["ycjzmj"] > 0
    assert any(h["scjzmj"] is None for h in surveyed) and any(h["scjzmj"] is not None for h in surveyed)


# -- Oracle portability of the values ------------------------------------------------------


def test_no_empty_strings_and_every_text_fits_its_column_in_bytes(db: Populated) -> None:
    engine, data = db.engine, db.data
    with engine.connect() as conn:
        for table in LEGACY_TABLES:
            for column in table.columns:
                if not isinstance(column.type, String):
                    continue
                empty = conn.execute(select(func.count()).where(column == "")).scalar_one()
                assert empty == 0, f"{table.name}.{column.name} holds ''"
                longest = max(
                    (len(str(r[column.name]).encode()) for r in data[table.name] if r[column.name]), default=0
                )
                assert longest <= column.type.length, f"{table.name}.{column.name}"


def test_make_id_number_encodes_area_birth_date_and_gender() -> None:
    rng = random.Random(3)
    for _ in range(500):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30_000))
        gender = rng.choice((Gender.MALE, Gender.FEMALE))
        area = rng.choice([*DISTRICTS, *OTHER_AREAS])
        number = make_id_number(rng, area, birth, gender)
        assert is_valid_id_number(number)
        assert number[:6] == area and birth_date(number) == birth
        assert int(number[16]) % 2 == (1 if gender == Gender.MALE else 0)
    with pytest.raises(ValueError):
        make_id_number(rng, "3301", dt.date(1990, 1, 1), Gender.MALE)
    with pytest.raises(ValueError):
        make_id_number(rng, "330106", dt.date(1990, 1, 1), "M")


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_populate_on_postgresql_matches_sqlite(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    try:
        legacy_metadata.create_all(engine)
        summary = populate(engine, households=120, seed=7)
        pg = dump(engine)
    finally:
        engine.dispose()
    sqlite = _sqlite(tmp_path / "same.db")
    populate(sqlite, households=120, seed=7)
    lite = dump(sqlite)
    sqlite.dispose()
    assert summary.row_counts == {name: len(rows) for name, rows in pg.items()}
    for name in pg:
        assert pg[name] == lite[name], name
