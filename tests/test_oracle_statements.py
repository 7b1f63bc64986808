"""Every statement soar-ext issues, compiled with the Oracle dialect, obeys Oracle's rules.

Runs the project's paths (database set-up, synthetic data, every plugin hook and action,
every filter value) under a statement recorder on SQLite, then lints each recorded
statement as Oracle would see it: IN lists of at most 1000 binds, identifiers of at most
30 bytes, no BOOLEAN, no FETCH FIRST with FOR UPDATE.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from soar_ext.context import Operator
from soar_ext.db.codes import ContractType, InspectionStatus
from soar_ext.db.extension import ext_metadata
from soar_ext.db.legacy import exchange_pairings, legacy_metadata
from soar_ext.db.oracle_lint import StatementRecorder, lint_ddl
from soar_ext.hook_payloads import ActionRequest, ContractDraft
from soar_ext.hooks import deposit_waiver, exchange_inspection
from tests.host_fixtures import make_context, make_host
from tests.soar_builders import add_contract, add_family, add_pairing
from tests.soar_env import soar_database, start_qianjiang

NOW = dt.datetime(2024, 7, 1, 10, 0)


def _scenario(engine: Engine) -> None:
    from soar_ext.synthetic import populate

    populate(engine, households=60, seed=3)
    sim_gen = start_qianjiang()
    sim = next(sim_gen)
    try:
        host = make_host([("deposit_waiver", deposit_waiver), ("exchange_inspection", exchange_inspection)])
        inspector = Operator(id="u9", name="李验房", roles=frozenset({"inspector"}))
        with engine.begin() as conn:
            family_id, _ = add_family(conn)
            htid = add_contract(conn, family_id, ContractType.NEW)
            ctx = make_context(conn, host, adapters=sim.registry(host.config), clock=lambda: NOW)
            host.pre_contract(
                ctx,
                ContractDraft(
                    contract_id=htid, contract_type=ContractType.NEW, family_id=family_id, deposit=Decimal("2400")
                ),
            )
            deposit_waiver.soar_pre_contract_fallback(
                ctx.for_plugin("deposit_waiver", "on"),
                ContractDraft(contract_id=htid, contract_type="01", family_id=family_id),
                RuntimeError("x"),
            )
            pdid, fam = add_pairing(conn)
            ex = add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=pdid)
            draft = ContractDraft(contract_id=ex, contract_type=ContractType.EXCHANGE, family_id=fam)
            host.pre_contract(ctx, draft)
            host.action(
                make_context(conn, host, operator=inspector, clock=lambda: NOW),
                ActionRequest(
                    key=exchange_inspection.ACTION_CONFIRM,
                    target=pdid,
                    params={"result": InspectionStatus.PASSED, "remarks": "完好"},
                ),
            )
            host.pre_contract(ctx, draft)
            base = select(exchange_pairings.c.pdid).order_by(exchange_pairings.c.pdcgsj.desc()).limit(50)
            conn.execute(host.query_build(ctx, exchange_inspection.SCREEN_INSPECTION, base, {}).statement)
            for status, signed in itertools.product([None, *exchange_inspection.STATUS_CHOICES], [None, "1", "0"]):
                filters = {"inspection_status": status, "contract_signed": signed}
                conn.execute(host.query_build(ctx, exchange_inspection.SCREEN_BUSINESS, base, filters).statement)
    finally:
        sim_gen.close()


def test_every_statement_compiles_cleanly_for_oracle(tmp_path: Path) -> None:
    engine = soar_database(f"sqlite:///{tmp_path / 'lint.db'}")
    with StatementRecorder(engine) as recorder:
        _scenario(engine)
    assert len(recorder.recorded) > 30, "the scenario should exercise many statements"
    assert recorder.lint() == []
    engine.dispose()


def test_every_table_compiles_cleanly_for_oracle() -> None:
    assert lint_ddl(legacy_metadata) == []
    assert lint_ddl(ext_metadata) == []


def test_audit_store_recheck_and_downgrade_statements_compile_cleanly_for_oracle(tmp_path: Path) -> None:
    """The durable audit (its own engine), the host's contract check, the re-check job and the downgrade plan."""
    from soar_ext.audit import AuditEvent
    from soar_ext.audit_store import read_entries, unfinished_entries
    from soar_ext.config import Config
    from soar_ext.db.migrate import downgrade_plan
    from soar_ext.deposit_recheck import JOB_NAME
    from soar_ext.host import SoarHost

    url = f"sqlite:///{tmp_path / 'lint.db'}"
    engine = soar_database(url)
    sim_gen = start_qianjiang()
    sim = next(sim_gen)
    checker = Operator(id="b1", name="复核员", roles=frozenset({"batch_checker"}))
    try:
        config = Config()

        def new_host() -> SoarHost:  # its own adapters: the outage below opens the first one's circuit breaker
            return SoarHost(
                config,
                plugins=[("deposit_waiver", deposit_waiver)],
                load_entry_points=False,
                adapters=sim.registry(config),
            )

        with StatementRecorder() as recorder:  # every engine: SOAR's and the audit store's
            host = new_host()
            with engine.begin() as conn:
                family_id, people = add_family(conn)
                htid = add_contract(conn, family_id, ContractType.NEW)
            sim.state.plan.set("status_5xx", status=503)
            with engine.begin() as conn:
                draft = ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id)
                host.pre_contract(host.context(checker, conn, clock=lambda: NOW), draft)
            sim.state.reset()
            sim.state.set_score(people[0][1], 720)
            rechecker = new_host()
            with engine.begin() as conn:
                ctx = rechecker.context(checker, conn, clock=lambda: NOW)
                assert rechecker.run_job(ctx, JOB_NAME, since="2024-01-01").ok
                with ctx.audit.query(AuditEvent(action="x", operator_id="b1", purpose="p")) as entry:
                    entry.finish("ok", {"n": 1})
            store = host.audit_store(url)
            read_entries(store, since=NOW, until=NOW, action="x", operator_id="b1", subject_hash="0" * 64)
            unfinished_entries(store)
            downgrade_plan(url, "base")
        assert any("sx_audit_log" in str(s) for s in recorder.statements)
        assert recorder.lint() == []
    finally:
        sim_gen.close()
        engine.dispose()
