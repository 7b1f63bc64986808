"""Seed item 2: exchange contracts wait for a confirmed inspection; inspection list and business query."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from soar_ext.context import Operator
from soar_ext.db.codes import ContractStatus, ContractType, ExchangeKind, InspectionStatus, PairingStatus
from soar_ext.db.legacy import contracts, exchange_pairings, inspections
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import ActionRequest, ContractDraft
from soar_ext.hooks import exchange_inspection
from tests.host_fixtures import make_context, make_host
from tests.soar_builders import add_contract, add_pairing
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)
INSPECTOR = Operator(id="u009", name="李验房", roles=frozenset({"inspector"}))


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def host():
    return make_host([("exchange_inspection", exchange_inspection)])


def sign(engine, host, pairing_id: str, family_id: str):
    with engine.begin() as conn:
        htid = add_contract(conn, family_id, ContractType.EXCHANGE, pairing_id=pairing_id)
        return host.pre_contract(
            make_context(conn, host, clock=lambda: NOW),
            ContractDraft(
                contract_id=htid,
                contract_type=ContractType.EXCHANGE,
                family_id=family_id,
                exchange_pairing_id=pairing_id,
            ),
        )


def test_exchange_without_inspection_cannot_sign_contract(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn)
    decision = sign(engine, host, pdid, fam)
    assert not decision.allowed
    assert "尚未验房" in decision.messages[0] and decision.blocked_by == ("exchange_inspection",)


def test_pending_or_failed_inspection_blocks_and_names_the_pairing(engine, host) -> None:
    with engine.begin() as conn:
        pending, fam1 = add_pairing(conn, inspection=InspectionStatus.PENDING)
        failed, fam2 = add_pairing(conn, inspection=InspectionStatus.FAILED, confirmed_at=NOW)
        code = conn.execute(select(exchange_pairings.c.pdbh).where(exchange_pairings.c.pdid == pending)).scalar()
    first = sign(engine, host, pending, fam1)
    assert not first.allowed and code in first.messages[0] and "待验房" in first.messages[0]
    second = sign(engine, host, failed, fam2)
    assert not second.allowed and "验房不通过" in second.messages[0]


def test_confirmed_inspection_allows_the_contract(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
    assert sign(engine, host, pdid, fam).allowed


def test_unallocated_exchange_needs_no_inspection(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, kind=ExchangeKind.UNALLOCATED)
    assert sign(engine, host, pdid, fam).allowed


def test_pairing_not_yet_matched_is_blocked(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, status=PairingStatus.PENDING)
    decision = sign(engine, host, pdid, fam)
    assert not decision.allowed and "配对中" in decision.messages[0]


def test_exchange_contract_without_pairing_is_blocked(engine, host) -> None:
    with engine.begin() as conn:
        _pdid, fam = add_pairing(conn)
    decision = sign(engine, host, None, fam)  # type: ignore[arg-type]
    assert not decision.allowed and "未关联换房配对" in decision.messages[0]


def test_other_contract_types_are_not_gated(engine, host) -> None:
    with engine.begin() as conn:
        _pdid, fam = add_pairing(conn)
        htid = add_contract(conn, fam, ContractType.NEW)
        decision = host.pre_contract(
            make_context(conn, host), ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=fam)
        )
    assert decision.allowed and decision.messages == ()


def test_shadow_gate_records_but_lets_contract_through(engine) -> None:
    host = make_host([("exchange_inspection", exchange_inspection)], modes={"exchange_inspection": "shadow"})
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn)
    decision = sign(engine, host, pdid, fam)
    assert decision.allowed and decision.shadow_notes and "尚未验房" in decision.shadow_notes[0]


def confirm(engine, host, pairing_id, result=InspectionStatus.PASSED, remarks="房屋完好", operator=INSPECTOR):
    with engine.begin() as conn:
        ctx = make_context(conn, host, operator=operator, clock=lambda: NOW)
        return host.action(
            ctx,
            ActionRequest(
                key=exchange_inspection.ACTION_CONFIRM, target=pairing_id, params={"result": result, "remarks": remarks}
            ),
        )


def test_confirmation_records_result_inspector_and_time_then_unblocks(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PENDING)
    result = confirm(engine, host, pdid)
    assert result.ok and "验房通过" in result.message
    with engine.connect() as conn:
        row = conn.execute(select(inspections).where(inspections.c.pdid == pdid)).mappings().one()
    assert (row["yfzt"], row["yfry"], row["yfqrsj"], row["yfjg"]) == ("01", "李验房", NOW, "房屋完好")
    assert sign(engine, host, pdid, fam).allowed


def test_confirmation_creates_the_inspection_row_when_missing(engine, host) -> None:
    with engine.begin() as conn:
        pdid, _fam = add_pairing(conn)
    assert confirm(engine, host, pdid, result=InspectionStatus.FAILED, remarks=None).ok
    with engine.connect() as conn:
        assert conn.execute(select(inspections.c.yfzt).where(inspections.c.pdid == pdid)).scalar_one() == "02"


def test_confirmation_needs_the_inspector_role(engine, host) -> None:
    with engine.begin() as conn:
        pdid, _fam = add_pairing(conn)
    clerk = Operator(id="u1", name="王经办", roles=frozenset({"clerk"}))
    result = confirm(engine, host, pdid, operator=clerk)
    assert not result.ok and "验房人员" in result.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inspections)).scalar() == 0


@pytest.mark.parametrize(
    ("result", "remarks", "message"),
    [("03", "x", "验房结果只能是"), ("01", "很" * 201, "超过长度限制"), (None, None, "验房结果只能是")],
)
def test_bad_confirmation_input_is_rejected_and_nothing_written(engine, host, result, remarks, message) -> None:
    with engine.begin() as conn:
        pdid, _fam = add_pairing(conn)
    outcome = confirm(engine, host, pdid, result=result, remarks=remarks)
    assert not outcome.ok and message in outcome.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inspections)).scalar() == 0


def test_unallocated_pairing_cannot_be_inspected(engine, host) -> None:
    with engine.begin() as conn:
        pdid, _fam = add_pairing(conn, kind=ExchangeKind.UNALLOCATED)
    outcome = confirm(engine, host, pdid)
    assert not outcome.ok and "无需验房" in outcome.message


def test_inspection_list_excludes_unallocated_exchanges(engine, host) -> None:
    with engine.begin() as conn:
        allocated, _ = add_pairing(conn)
        unallocated, _ = add_pairing(conn, kind=ExchangeKind.UNALLOCATED)
        ctx = make_context(conn, host)
        base = select(exchange_pairings.c.pdid).where(exchange_pairings.c.pdzt == PairingStatus.MATCHED)
        built = host.query_build(ctx, exchange_inspection.SCREEN_INSPECTION, base, {})
        ids = set(conn.execute(built.statement).scalars())
    assert allocated in ids and unallocated not in ids


def test_business_query_fields_are_contributed(engine, host) -> None:
    with engine.begin() as conn:
        fields = host.query_fields(make_context(conn, host), exchange_inspection.SCREEN_BUSINESS)
    filters = {f.label for f in fields if f.kind == "filter"}
    columns = {f.label for f in fields if f.kind == "column"}
    assert filters == {"验房状态", "是否已签合同"}
    assert columns == {"验房确认时间", "验房状态", "是否已签合同"}


def test_business_query_columns_and_filters(engine, host) -> None:
    with engine.begin() as conn:
        passed, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
        add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=passed, status=ContractStatus.SIGNED)
        pending, _ = add_pairing(conn)
        unallocated, _ = add_pairing(conn, kind=ExchangeKind.UNALLOCATED)
        ctx = make_context(conn, host)
        base = select(exchange_pairings.c.pdid)

        def rows(**filters):
            built = host.query_build(ctx, exchange_inspection.SCREEN_BUSINESS, base, filters)
            return {r["pdid"]: r for r in conn.execute(built.statement).mappings()}

        everything = rows()
        assert everything[passed]["inspection_status"] == "01"
        assert everything[passed]["contract_signed"] == "1"
        assert everything[passed]["inspection_confirmed_at"] == NOW
        assert everything[pending]["inspection_status"] == "00"
        assert everything[unallocated]["inspection_status"] == "NA"
        assert set(rows(inspection_status="01")) == {passed}
        assert set(rows(inspection_status="00")) == {pending}
        assert set(rows(inspection_status="NA")) == {unallocated}
        assert set(rows(contract_signed="1")) == {passed}
        assert set(rows(contract_signed="0")) == {pending, unallocated}
        assert set(rows(inspection_status="01", contract_signed="0")) == set()


@pytest.mark.parametrize(
    ("key", "value"), [("inspection_status", "99"), ("contract_signed", "yes"), ("inspection_status", 1)]
)
def test_filter_values_outside_their_sets_are_rejected(engine, host, key, value) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match="取值") as info:
        host.query_build(
            make_context(conn, host),
            exchange_inspection.SCREEN_BUSINESS,
            select(exchange_pairings.c.pdid),
            {key: value},
        )
    assert "可选" in str(info.value)


def brute_force(conn) -> dict[str, tuple[str, str]]:
    """Status and signed flag per pairing, computed in Python from whole tables."""
    insp = {r.pdid: r.yfzt for r in conn.execute(select(inspections.c.pdid, inspections.c.yfzt))}
    signed = {
        r.hfpdid
        for r in conn.execute(select(contracts.c.hfpdid, contracts.c.htzt, contracts.c.pzlx))
        if r.hfpdid and r.htzt == ContractStatus.SIGNED and r.pzlx == ContractType.EXCHANGE
    }
    out = {}
    for r in conn.execute(select(exchange_pairings.c.pdid, exchange_pairings.c.hflx)):
        status = "NA" if r.hflx == ExchangeKind.UNALLOCATED else insp.get(r.pdid, "00")
        out[r.pdid] = (status, "1" if r.pdid in signed else "0")
    return out


def test_filters_equal_a_brute_force_count_over_seeded_data(tmp_path: Path, host) -> None:
    from soar_ext.synthetic import populate

    engine = soar_database(f"sqlite:///{tmp_path / 'seeded.db'}")
    populate(engine, households=600, seed=7)
    with engine.connect() as conn:
        truth = brute_force(conn)
        ctx = make_context(conn, host)
        assert len({s for s, _ in truth.values()}) == 4, "seed data should cover every inspection status"
        for status in exchange_inspection.STATUS_CHOICES:
            for signed in (None, "1", "0"):
                filters = {"inspection_status": status, "contract_signed": signed}
                built = host.query_build(
                    ctx,
                    exchange_inspection.SCREEN_BUSINESS,
                    select(func.count().label("n")).select_from(exchange_pairings),
                    filters,
                )
                # a count() query cannot take extra columns: count over the amended select instead
                stmt = host.query_build(
                    ctx, exchange_inspection.SCREEN_BUSINESS, select(exchange_pairings.c.pdid), filters
                ).statement
                got = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar()
                expected = sum(1 for s, g in truth.values() if s == status and (signed is None or g == signed))
                assert got == expected, (status, signed)
                assert built.statement is not None
    engine.dispose()


def test_second_exchange_contract_on_a_pairing_is_blocked(engine, host) -> None:
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
        add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=pdid, status=ContractStatus.SIGNED)
    decision = sign(engine, host, pdid, fam)
    assert not decision.allowed and "不能重复签订" in decision.messages[0]


def test_payload_pairing_must_match_the_contract_row(engine, host) -> None:
    with engine.begin() as conn:
        inspected, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
        uninspected, _ = add_pairing(conn)
        htid = add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=uninspected)
        decision = host.pre_contract(
            make_context(conn, host, clock=lambda: NOW),
            ContractDraft(
                contract_id=htid, contract_type=ContractType.EXCHANGE, family_id=fam, exchange_pairing_id=inspected
            ),
        )
    assert not decision.allowed and "不一致" in decision.messages[0]


def test_capped_and_exact_counts_of_an_amended_screen(engine, host) -> None:
    from soar_ext.db.paging import count_statement, shown_total

    with engine.begin() as conn:
        for _ in range(5):
            add_pairing(conn)
        ctx = make_context(conn, host)
        stmt = host.query_build(
            ctx, exchange_inspection.SCREEN_BUSINESS, select(exchange_pairings.c.pdid), {"inspection_status": "00"}
        ).statement
        exact = conn.execute(count_statement(stmt)).scalar_one()
        capped = conn.execute(count_statement(stmt, cap=3)).scalar_one()
    assert exact == 5 and capped == 4
    assert shown_total(capped, 3) == "3+" and shown_total(exact, None) == "5"


def test_doctor_warns_when_inspected_pairings_lack_a_success_time(engine) -> None:
    from sqlalchemy import update

    from soar_ext.db.doctor import check

    with engine.begin() as conn:
        pdid, _ = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
    assert any("data rules:" in n for n in check(engine).notes)
    with engine.begin() as conn:
        conn.execute(update(exchange_pairings).where(exchange_pairings.c.pdid == pdid).values(pdcgsj=None))
    notes = check(engine).notes
    assert any("WARNING data rule: 1 inspected pairing" in n for n in notes)
