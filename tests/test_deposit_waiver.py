"""Seed item 1: deposit waiver by Qianjiang score (pre-contract plugin, simulator over loopback HTTP)."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from soar_ext.db.codes import ContractType, Relation
from soar_ext.db.extension import deposit_decisions, plugin_decisions
from soar_ext.db.legacy import contracts, persons
from soar_ext.hook_payloads import ContractDraft
from soar_ext.hooks import deposit_waiver
from tests.host_fixtures import make_context, make_host
from tests.soar_builders import ADULT, add_contract, add_family
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)


pytestmark = pytest.mark.usefixtures("fresh_sim")


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


def run(engine, sim, family_members, scores, *, contract_type=ContractType.NEW, mode="on", http=None, settings=None):
    """Create a family + draft contract, set simulator scores, run pre-contract through the host."""
    host = make_host(
        [("deposit_waiver", deposit_waiver)],
        modes={"deposit_waiver": mode},
        settings={"deposit_waiver": settings or {}},
    )
    with engine.begin() as conn:
        family_id, people = add_family(conn, family_members)
        for (_pid, idn), score in zip(people, scores, strict=True):
            if score != "skip":
                sim.state.set_score(idn, score)
        htid = add_contract(conn, family_id, contract_type)
        ctx = make_context(conn, host, adapters=sim.registry(host.config, **(http or {})), clock=lambda: NOW)
        draft = ContractDraft(
            contract_id=htid, contract_type=contract_type, family_id=family_id, deposit=Decimal("2400.00")
        )
        decision = host.pre_contract(ctx, draft)
        audit = list(ctx.audit.events)
    with engine.connect() as conn:
        contract = conn.execute(select(contracts).where(contracts.c.htid == htid)).mappings().one()
        stored = conn.execute(select(deposit_decisions).where(deposit_decisions.c.htid == htid)).mappings().all()
    return decision, contract, stored, audit


def sign_draft(engine, sim, htid, family_id, contract_type=ContractType.NEW, *, host=None):
    """Run pre-contract for an existing draft in its own transaction, as SOAR's signing screen does."""
    host = host or make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        return host.pre_contract(
            make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW),
            ContractDraft(contract_id=htid, contract_type=contract_type, family_id=family_id),
        )


def couple(n: int = 2):
    people = [
        ("张伟", Relation.SELF, ADULT),
        ("李娜", Relation.SPOUSE, dt.date(1987, 8, 9)),
        ("张小明", Relation.CHILD, dt.date(2008, 1, 1)),
        ("张建国", Relation.PARENT, dt.date(1955, 2, 2)),
    ]
    return people[:n]


def test_score_701_waives_the_deposit(engine, sim) -> None:
    decision, contract, stored, _ = run(engine, sim, couple(1), [701])
    assert decision.allowed and decision.deposit == Decimal("0")
    assert contract["yj"] == Decimal("0") and contract["yjjmbz"] == 1 and "700" in contract["yjjmyy"]
    assert stored[0]["decision"] == "waived" and stored[0]["max_score"] == 701 and stored[0]["enforced"] == 1
    assert "减免" in decision.messages[0]


def test_exactly_700_is_not_enough(engine, sim) -> None:
    decision, contract, stored, _ = run(engine, sim, couple(1), [700])
    assert decision.deposit == Decimal("2400.00")
    assert contract["yj"] == Decimal("2400.00") and contract["yjjmbz"] == 0
    assert stored[0]["decision"] == "required" and stored[0]["max_score"] == 700
    assert "未高于700分" in decision.messages[0]


def test_one_member_above_700_is_enough(engine, sim) -> None:
    _decision, contract, stored, _ = run(engine, sim, couple(2), [520, 735])
    assert contract["yj"] == Decimal("0")
    members = json.loads(stored[0]["members"])
    assert [m["score"] for m in members] == [520, 735]
    assert all("********" in m["id"] for m in members)


def test_no_member_with_a_score_is_not_waived(engine, sim) -> None:
    decision, contract, stored, _ = run(engine, sim, couple(2), [None, None])
    assert contract["yj"] == Decimal("2400.00")
    assert stored[0]["decision"] == "required" and stored[0]["needs_recheck"] == 0
    assert "无钱江分记录" in decision.messages[0]


def test_minors_are_not_asked(engine, sim) -> None:
    _decision, _contract, stored, audit = run(engine, sim, couple(3), [600, 650, 900])
    members = json.loads(stored[0]["members"])
    assert members[2]["status"] == "minor" and members[2]["score"] is None
    assert stored[0]["decision"] == "required"
    assert len(audit) == 2


def test_renewal_is_waived_like_new(engine, sim) -> None:
    _decision, contract, stored, _ = run(engine, sim, couple(1), [760], contract_type=ContractType.RENEWAL)
    assert contract["yj"] == Decimal("0") and stored[0]["pzlx"] == ContractType.RENEWAL


@pytest.mark.parametrize("contract_type", [ContractType.EXCHANGE, ContractType.ADJUSTMENT])
def test_exchange_and_adjustment_are_never_waived(engine, sim, contract_type) -> None:
    decision, contract, stored, audit = run(engine, sim, couple(1), [900], contract_type=contract_type)
    assert contract["yj"] == Decimal("2400.00") and stored == [] and audit == []
    assert decision.deposit is None


def test_shadow_mode_records_but_leaves_the_deposit(engine, sim) -> None:
    decision, contract, stored, _ = run(engine, sim, couple(1), [800], mode="shadow")
    assert decision.deposit is None and decision.allowed
    assert contract["yj"] == Decimal("2400.00") and contract["yjjmbz"] == 0
    assert stored[0]["decision"] == "waived" and stored[0]["run_mode"] == "shadow" and stored[0]["enforced"] == 0
    assert decision.shadow_notes


def test_upstream_down_keeps_deposit_flags_recheck_and_never_blocks(engine, sim) -> None:
    sim.state.plan.set("status_5xx", status=503)
    decision, contract, stored, _ = run(engine, sim, couple(2), [800, 800])
    assert decision.allowed and decision.needs_recheck
    assert contract["yj"] == Decimal("2400.00")
    assert stored[0]["decision"] == "required" and stored[0]["needs_recheck"] == 1
    assert "待复核" in decision.messages[0]


def test_slow_upstream_is_cut_at_the_time_budget(engine, sim) -> None:
    sim.state.plan.set("latency", latency_ms=3000)
    started = time.perf_counter()
    decision, contract, stored, _ = run(
        engine, sim, couple(1), [800], http={"read_timeout": 5.0}, settings={"time_budget_seconds": 0.5}
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 2.5
    assert decision.allowed and decision.needs_recheck and stored[0]["needs_recheck"] == 1
    assert contract["yj"] == Decimal("2400.00")


def test_rerun_updates_rather_than_duplicates_and_restores_deposit(engine, sim) -> None:
    host = make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, ContractType.NEW)
    draft = ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id)
    for score, expected in [(720, Decimal("0")), (650, Decimal("2400.00")), (710, Decimal("0"))]:
        sim.state.set_score(people[0][1], score)
        with engine.begin() as conn:
            host.pre_contract(make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW), draft)
        with engine.connect() as conn:
            assert conn.execute(select(contracts.c.yj).where(contracts.c.htid == htid)).scalar_one() == expected
    with engine.connect() as conn:
        rows = conn.execute(select(deposit_decisions).where(deposit_decisions.c.htid == htid)).mappings().all()
        assert len(rows) == 1 and rows[0]["max_score"] == 710
        assert rows[0]["original_deposit"] == Decimal("2400.00")
        assert len(conn.execute(select(plugin_decisions)).all()) == 3


def test_invalid_member_id_is_skipped_and_listed(engine, sim) -> None:
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(2))
        conn.execute(update(persons).where(persons.c.ryid == people[1][0]).values(sfzh="33010619870809000A"))
    sim.state.set_score(people[0][1], 710)
    host = make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        htid = add_contract(conn, family_id, ContractType.NEW)
        decision = host.pre_contract(
            make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW),
            ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id),
        )
    assert decision.deposit == Decimal("0")
    with engine.connect() as conn:
        members = json.loads(conn.execute(select(deposit_decisions.c.members)).scalar_one())
    assert members[1]["status"] == "invalid_id" and "成员身份证号格式错误" in members[1]["note"]
    assert "33010619870809000A" not in json.dumps(members)


def test_household_without_members_is_required_and_flagged(engine, sim) -> None:
    host = make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        family_id, _ = add_family(conn, [], with_members=False)
        htid = add_contract(conn, family_id, ContractType.NEW)
        decision = host.pre_contract(
            make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW),
            ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id),
        )
    assert decision.allowed and decision.needs_recheck and "未找到该家庭的成员" in decision.messages[0]


def test_unknown_contract_type_is_a_clear_error(engine, sim) -> None:
    host = make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        family_id, _people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, "07")
        decision = host.pre_contract(
            make_context(conn, host, adapters=sim.registry(host.config)),
            ContractDraft(contract_id=htid, contract_type="07", family_id=family_id),
        )
    assert not decision.allowed and "未知的配租类型代码「07」" in decision.messages[0]
    assert sim.state.plan.calls("score") == 0


def test_every_score_query_is_audited_without_full_ids(engine, sim) -> None:
    _decision, _contract, _stored, audit = run(engine, sim, couple(2), [500, 600])
    assert [e.action for e in audit] == ["qianjiang.score", "qianjiang.score"]
    assert all(e.operator_id == "u001" and "********" in (e.subject_masked or "") for e in audit)


def test_signed_or_terminated_contracts_are_never_changed(engine, sim) -> None:
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, ContractType.NEW, status="02")
    sim.state.set_score(people[0][1], 800)
    decision = sign_draft(engine, sim, htid, family_id)
    assert decision.allowed and decision.deposit is None and "已终止" in decision.messages[0]
    with engine.connect() as conn:
        row = conn.execute(select(contracts.c.yj, contracts.c.yjjmbz).where(contracts.c.htid == htid)).one()
        stored = conn.execute(select(deposit_decisions.c.enforced, deposit_decisions.c.decision)).one()
    assert row == (Decimal("2400.00"), 0)
    assert stored == (0, "waived")


@pytest.mark.parametrize("threshold", ["abc", True, 700.9, 1001, -1])
def test_configuration_mistake_falls_back_and_never_blocks(engine, sim, threshold) -> None:
    decision, contract, stored, _ = run(engine, sim, couple(1), [800], settings={"threshold": threshold})
    assert decision.allowed and decision.needs_recheck
    assert contract["yj"] == Decimal("2400.00")
    assert stored[0]["decision"] == "required" and stored[0]["needs_recheck"] == 1
    assert "待复核" in decision.messages[0]


def test_startup_reports_a_bad_threshold(engine) -> None:
    host = make_host([("deposit_waiver", deposit_waiver)], settings={"deposit_waiver": {"threshold": "abc"}})
    with engine.begin() as conn:
        problems = host.startup(make_context(conn, host))
    assert problems and "threshold" in problems[0]


def test_member_with_blank_name_does_not_spoil_the_others(engine, sim) -> None:
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(2))
        conn.execute(update(persons).where(persons.c.ryid == people[1][0]).values(xm=" "))
        htid = add_contract(conn, family_id, ContractType.NEW)
    sim.state.set_score(people[0][1], 800)
    decision = sign_draft(engine, sim, htid, family_id)
    assert decision.deposit == Decimal("0") and not decision.needs_recheck
    with engine.connect() as conn:
        members = json.loads(conn.execute(select(deposit_decisions.c.members)).scalar_one())
    assert [m["status"] for m in members] == ["scored", "invalid_name"]


def test_invalid_id_is_hidden_entirely_in_the_record(engine, sim) -> None:
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(2))
        conn.execute(update(persons).where(persons.c.ryid == people[1][0]).values(sfzh="330106198702300012"))
        htid = add_contract(conn, family_id, ContractType.NEW)
    sign_draft(engine, sim, htid, family_id)
    with engine.connect() as conn:
        members = json.loads(conn.execute(select(deposit_decisions.c.members)).scalar_one())
    assert members[1]["id"] == "*" * 18
    assert "19870230" not in json.dumps(members, ensure_ascii=False)


def test_unknown_original_deposit_is_never_erased(engine, sim) -> None:
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, ContractType.RENEWAL, deposit=Decimal("0"))
        conn.execute(update(contracts).where(contracts.c.htid == htid).values(yjjmbz=1, yjjmyy="其他政策减免"))
    sim.state.set_score(people[0][1], 600)
    decision = sign_draft(engine, sim, htid, family_id, ContractType.RENEWAL)
    assert decision.needs_recheck and "原押金金额不明" in decision.messages[0]
    with engine.connect() as conn:
        row = conn.execute(
            select(contracts.c.yj, contracts.c.yjjmbz, contracts.c.yjjmyy).where(contracts.c.htid == htid)
        ).one()
    assert row == (Decimal("0.00"), 1, "其他政策减免")


def test_failure_after_an_earlier_waiver_restores_the_deposit(engine, sim) -> None:
    host = make_host([("deposit_waiver", deposit_waiver)])
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, ContractType.NEW)
    draft = ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id)
    sim.state.set_score(people[0][1], 780)
    with engine.begin() as conn:
        host.pre_contract(make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW), draft)
    broken = make_host([("deposit_waiver", deposit_waiver)], settings={"deposit_waiver": {"threshold": "x"}})
    with engine.begin() as conn:
        decision = broken.pre_contract(
            make_context(conn, broken, adapters=sim.registry(broken.config), clock=lambda: NOW), draft
        )
    assert decision.allowed and decision.deposit == Decimal("2400.00") and decision.needs_recheck
    with engine.connect() as conn:
        assert conn.execute(select(contracts.c.yj).where(contracts.c.htid == htid)).scalar_one() == Decimal("2400.00")


def test_host_context_audits_score_queries_in_the_database_with_a_keyed_digest(engine, sim) -> None:
    from soar_ext.audit import subject_digest
    from soar_ext.audit_store import read_entries
    from soar_ext.config import Config
    from soar_ext.context import Operator
    from soar_ext.db.extension import audit_log
    from soar_ext.host import SoarHost
    from soar_ext.secret import Secret

    key = Secret("audit-digest-key-for-tests")
    config = Config(audit={"digest_secret": key})
    host = SoarHost(
        config, plugins=[("deposit_waiver", deposit_waiver)], load_entry_points=False, adapters=sim.registry(config)
    )
    with engine.begin() as conn:
        family_id, people = add_family(conn, couple(1))
        htid = add_contract(conn, family_id, ContractType.NEW)
    sim.state.set_score(people[0][1], 720)
    with engine.begin() as conn:
        ctx = host.context(Operator(id="u7", name="赵经办", roles=frozenset({"clerk"})), conn, clock=lambda: NOW)
        assert host.pre_contract(ctx, ContractDraft(contract_id=htid, contract_type="01", family_id=family_id)).allowed
    with engine.connect() as conn:
        assert conn.execute(select(audit_log)).first() is None  # never in SOAR's file: the audit store is its own
    (row,) = read_entries(host.audit_store(str(engine.url)), subject_hash=subject_digest(people[0][1], key))
    assert row.action == "qianjiang.score" and row.operator_id == "u7" and row.operator_name == "赵经办"
    assert row.result_status == "scored" and row.state == "done" and row.finished_at is not None
    assert row.subject_masked == people[0][1][:6] + "********" + people[0][1][14:]
    assert people[0][1] not in json.dumps(row.detail)
