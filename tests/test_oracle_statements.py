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
from soar_ext.db.oracle_lint import StatementRecorder, lint_ddl, oracle_lint_dialect
from soar_ext.hook_payloads import ActionRequest, ContractDraft, DetailView
from soar_ext.hooks import deposit_waiver, exchange_inspection, verification
from tests.host_fixtures import make_context, make_host
from tests.soar_builders import add_contract, add_family, add_pairing
from tests.soar_env import soar_database, start_qianjiang
from tests.verification_env import add_household, make_desk, start_bigdata

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
        _allocation_scenario(engine)
    finally:
        sim_gen.close()


def _verification_scenario(engine: Engine) -> None:
    """核查: detail page, a verification with a failed category, its re-run, reading it back."""
    sim_gen = start_bigdata()
    sim = next(sim_gen)
    try:
        desk = make_desk(engine, sim)
        _family, application, people = add_household(engine)
        ryid = people[0][0]
        sim.faults.take_down("vehicles")
        with engine.begin() as conn:
            ctx = desk.context(conn)
            desk.host.detail_view(ctx, DetailView("person", ryid, application))
            desk.host.detail_view(ctx, DetailView("person", ryid, None))
            run = desk.host.action(ctx, ActionRequest(verification.ACTION_RUN, ryid, {"purpose": "年度复核"}))
        sim.faults.bring_up("vehicles")
        desk.clock.advance(days=1)
        with engine.begin() as conn:
            ctx = desk.context(conn)
            desk.host.action(ctx, ActionRequest(verification.ACTION_RERUN, run.data.verification_id))
            desk.host.action(ctx, ActionRequest(verification.ACTION_SHOW, run.data.verification_id))
            desk.host.detail_view(ctx, DetailView("person", ryid, application))
    finally:
        sim_gen.close()


def _allocation_scenario(engine: Engine) -> None:
    """Every allocation hook and action, every filter, the concurrency-safe paths (release, drop)."""
    from soar_ext.allocation import candidates as cand
    from soar_ext.allocation import page
    from soar_ext.db.codes import AllocationBatchStatus, AllocationKind
    from soar_ext.db.legacy import applications, families, houses, housing_projects, lottery_results, persons
    from soar_ext.hook_payloads import AllocationSelection, DetailView
    from soar_ext.hooks import allocation
    from tests.allocation_builders import add_applicant, add_batch, adjustment_batch, put_house, set_batch_status

    host = make_host([("allocation", allocation)])
    with engine.begin() as conn:
        ctx = make_context(conn, host, clock=lambda: NOW)

        def act(key: str, target: str, **params: object) -> None:
            result = host.action(ctx, ActionRequest(key=key, target=target, params=params, plugin="allocation"))
            assert result.ok, result.message

        host.startup(ctx)
        closed, (old_applicant, *_), (old_house, *_) = adjustment_batch(conn)
        act(page.ACTION_LINK, closed, application_id=old_applicant, house_id=old_house)
        set_batch_status(conn, closed, AllocationBatchStatus.COMPLETED)
        pcid, sqids, fyids = adjustment_batch(conn, applicants=4, areas=("40", "55", "70", "85"))
        put_house(conn, pcid, old_house)  # held by the completed batch: released on the way
        act(page.ACTION_LINK, pcid, application_id=sqids[0], house_id=old_house)
        act(page.ACTION_RELINK, pcid, application_id=sqids[0], house_id=fyids[0])
        act(page.ACTION_UNLINK, pcid, application_id=sqids[0])
        act(page.ACTION_SUGGEST, pcid)
        pairs = host.action(ctx, ActionRequest(page.ACTION_SUGGEST, pcid, plugin="allocation")).data["pairs"]
        act(page.ACTION_ACCEPT, pcid, pairs=pairs)
        exporter = Operator(id="u8", name="导出员", roles=frozenset({"clerk", "exporter"}))
        exported = host.action(
            make_context(conn, host, operator=exporter, clock=lambda: NOW),
            ActionRequest(page.ACTION_EXPORT, pcid, plugin="allocation"),
        )
        assert exported.ok and exported.file_bytes, exported.message
        host.detail_view(ctx, DetailView(allocation.ENTITY_BATCH, pcid))
        host.allocation_selected(ctx, AllocationSelection(pcid, AllocationKind.ADJUSTMENT, sqids, fyids))
        selection = add_batch(conn, AllocationKind.SELECTION)
        person, _jtid, idn = add_applicant(conn, "王%五")
        act(page.ACTION_SEARCH, selection, applicant_name="王%", name_match="prefix", lottery_year="2023")
        act(page.ACTION_SEARCH, selection, applicant_id_number=idn, sequence_from="1", sequence_to="999999")
        act(page.ACTION_ADD, selection, selected=[person])
        host.detail_view(ctx, DetailView(allocation.ENTITY_BATCH, selection))
        host.allocation_selected(ctx, AllocationSelection(selection, AllocationKind.SELECTION, [person]))
        a, j, r, y = applications, families, persons, lottery_results
        base = select(a.c.sqid).select_from(
            a.join(j, j.c.jtid == a.c.jtid).join(r, r.c.ryid == j.c.sqrid).join(y, y.c.sqid == a.c.sqid)
        )
        filters = {
            cand.F_GUARANTEE: "02",
            cand.F_NAME: "王_",
            cand.F_NAME_MATCH: "prefix",
            cand.F_ID_NUMBER: idn,
            cand.F_CERTIFICATE: "HZGZ2023000001",
            cand.F_YEAR: "2023",
            cand.F_PERIOD: "1",
            cand.F_SEQUENCE_FROM: "1",
            cand.F_SEQUENCE_TO: "50",
        }
        conn.execute(host.query_build(ctx, allocation.SCREEN_SELECTION, base, filters).statement)
        houses_base = select(houses.c.fyid).select_from(houses.join(housing_projects))
        for value in (None, "1", "0"):
            conn.execute(host.query_build(ctx, allocation.SCREEN_HOUSING, houses_base, {"allocated": value}).statement)


def test_every_statement_compiles_cleanly_for_oracle(tmp_path: Path) -> None:
    engine = soar_database(f"sqlite:///{tmp_path / 'lint.db'}")
    with StatementRecorder(engine) as recorder:
        _scenario(engine)
        _verification_scenario(engine)
    assert len(recorder.recorded) > 30, "the scenario should exercise many statements"
    assert recorder.lint() == []
    engine.dispose()


def test_every_table_compiles_cleanly_for_oracle() -> None:
    assert lint_ddl(legacy_metadata) == []
    assert lint_ddl(ext_metadata) == []


def _queue_and_quota_scenario(engine: Engine, table) -> None:  # type: ignore[no-untyped-def]
    """Every statement of the work queue (as Oracle runs it: the locking cursor) and the shared quota."""
    from soar_ext.clock import FixedClock
    from soar_ext.db.work_queue import QueueSettings, WorkQueue
    from soar_ext.quota import QuotaMembership, QuotaSettings
    from tests.queue_fixtures import items

    clock = FixedClock(NOW)
    queue_settings = QueueSettings(lease_seconds=30, max_attempts=2)
    queue = WorkQueue(table, queue_settings, clock=clock, claim_method="locking_cursor")
    with engine.begin() as conn:
        queue.enqueue(conn, items(1200))  # more than one IN chunk per statement
    claimed = queue.claim(engine, "w1", 1100, where=table.c.grp == "g1")
    assert len(claimed) == 1100
    queue.extend(engine, claimed)
    queue.complete(engine, claimed[0], {"result": "ok", "result_code": 1})
    queue.complete_many(engine, [(item, {"result": "ok"}) for item in claimed[5:8]])
    queue.fail(engine, claimed[1], "retry")
    queue.fail(engine, claimed[2], "final", retry=False)
    queue.release(engine, claimed[3:5])
    clock.advance(minutes=5)
    queue.claim(engine, "w2", 5)  # takes over expired leases; fails those on their last attempt
    queue.cancel(engine, where=table.c.grp == "g1")
    queue.requeue_failed(engine)
    queue.counts(engine, where=table.c.grp == "g1")
    settings = QuotaSettings(pool="lint", rate=10.0, concurrency=2)
    first, second = QuotaMembership(engine, settings, clock=clock), QuotaMembership(engine, settings, clock=clock)
    first.join()
    second.join()
    clock.advance(seconds=60)
    first.heartbeat()  # removes the expired second member
    second.heartbeat()  # which rejoins
    first.leave()
    first.members()


def test_work_queue_and_quota_statements_compile_cleanly_for_oracle(tmp_path: Path) -> None:
    from tests.queue_fixtures import item_table

    engine = soar_database(f"sqlite:///{tmp_path / 'lint.db'}")
    table = item_table()
    table.metadata.create_all(engine)
    with StatementRecorder(engine) as recorder:
        _queue_and_quota_scenario(engine, table)
    assert len(recorder.recorded) > 20
    assert recorder.lint() == []
    assert lint_ddl(table.metadata) == []
    compiled = [str(stmt.compile(dialect=oracle_lint_dialect())) for stmt in recorder.statements]
    assert sum("FOR UPDATE SKIP LOCKED" in sql for sql in compiled) == 2  # the two claims
    engine.dispose()


def test_oracle_claim_locks_with_skip_locked_and_no_row_limit() -> None:
    from sqlalchemy.dialects import oracle

    from soar_ext.db.oracle_lint import lint_statement
    from soar_ext.db.work_queue import WorkQueue
    from tests.queue_fixtures import item_table

    table = item_table()
    queue = WorkQueue(table)
    stmt = queue.claim_candidates_statement(NOW, table.c.grp == "g1")
    sql = str(stmt.compile(dialect=oracle.dialect())).upper()
    assert sql.rstrip().endswith("FOR UPDATE SKIP LOCKED")
    assert "FETCH FIRST" not in sql and "ROWNUM" not in sql
    assert lint_statement(stmt) == []
    # the PostgreSQL form (a LIMIT-ed locking subquery) is what Oracle refuses, and the lint says so
    limited = queue._candidates(NOW, None).limit(10).with_for_update(skip_locked=True)
    assert any("ORA-02014" in problem for problem in lint_statement(limited))


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


def test_coconstruction_statements_compile_cleanly_for_oracle(tmp_path: Path) -> None:
    """配建项目: save (link, pending, fallback), confirm, re-sync, 收件 (queued and refused), the page, delivery."""
    from soar_ext.adapters.simulators.survey import survey_catalog
    from soar_ext.coconstruction import page
    from soar_ext.db.extension import document_outbox
    from tests.coconstruction_env import bench_on, pdf, start_simulators

    sims_gen = start_simulators()
    sims = next(sims_gen)
    try:
        bench = bench_on(f"sqlite:///{tmp_path / 'lint.db'}", sims)
        (n1, name1), (n2, _name2), (n3, name3) = survey_catalog(2019)[:3]
        bench.local_copy(n3, name3, [("50.00", None)], NOW)
        with StatementRecorder(bench.engine) as recorder:
            linked = bench.new_project(n1, name1)
            pending = bench.new_project(n2, "另一个名称")
            bench.action(page.ACTION_CONFIRM, pending, survey_number=n2)
            bench.action(page.ACTION_RESYNC, linked)
            sims.survey_state.plan.set("status_5xx", None)
            bench.new_project(n3, name3)
            sims.survey_state.plan.clear()
            bench.receive(linked, ("01", "a.pdf", pdf("a")), ("02", "b.pdf", b"not a pdf"), ("09", "c.pdf", pdf("c")))
            bench.page(linked)
            bench.action(page.ACTION_DELIVER, linked)
            bench.receive(linked, ("03", "d.pdf", pdf("d")))
            bench.worker().run(once=True, where=document_outbox.c.pjxmid == linked)
            bench.page(linked)
        bench.close()
    finally:
        sims_gen.close()
    assert len(recorder.recorded) > 20
    assert recorder.lint() == []
