"""The audit trail survives what happens to SOAR's transaction: rollbacks, crashes, SQLite's write lock."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from soar_ext.audit import AuditEvent, subject_digest
from soar_ext.audit_store import (
    AuditStore,
    audit_database_url,
    build_audit_sink,
    open_audit_store,
    read_entries,
    unfinished_entries,
)
from soar_ext.cli import main
from soar_ext.config import Config
from soar_ext.context import Operator
from soar_ext.db.codes import ContractType
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import audit_log, deposit_decisions
from soar_ext.db.legacy import contracts
from soar_ext.hook_payloads import ContractDraft
from soar_ext.hooks import deposit_waiver
from soar_ext.host import SoarHost
from soar_ext.secret import Secret
from tests.soar_builders import ADULT, add_contract, add_family
from tests.soar_env import soar_database

KEY = Secret("audit-digest-key-for-tests-0123")
CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}))
ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("fresh_sim")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def soar_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'soar.db'}"
    return request.getfixturevalue("pg_url")


def _host(sim, config: Config | None = None) -> SoarHost:
    config = config or Config(audit={"digest_secret": KEY})
    return SoarHost(
        config, plugins=[("deposit_waiver", deposit_waiver)], load_entry_points=False, adapters=sim.registry(config)
    )


def _household(engine, sim, scores=(720, 640)):
    members = [("张伟", "01", ADULT), ("李娜", "02", dt.date(1987, 8, 9))][: len(scores)]
    with engine.begin() as conn:
        family_id, people = add_family(conn, members)
        htid = add_contract(conn, family_id, ContractType.NEW)
    for (_pid, idn), score in zip(people, scores, strict=True):
        sim.state.set_score(idn, score)
    return family_id, people, htid


def test_soar_rollback_after_the_upstream_call_keeps_the_audit_record(soar_url: str, sim) -> None:
    engine = soar_database(soar_url)
    host = _host(sim)
    family_id, people, htid = _household(engine, sim)
    with engine.connect() as conn:
        trans = conn.begin()
        decision = host.pre_contract(
            host.context(CLERK, conn), ContractDraft(contract_id=htid, contract_type="01", family_id=family_id)
        )
        assert decision.deposit == Decimal("0")
        trans.rollback()  # SOAR gives up signing after the plugin queried the scores
    assert sim.state.plan.calls("score") == 2
    with engine.connect() as conn:
        assert conn.execute(select(deposit_decisions)).first() is None  # the business writes are gone
        assert conn.execute(select(contracts.c.yj).where(contracts.c.htid == htid)).scalar_one() == Decimal("2400")
    entries = read_entries(host.audit_store(soar_url))
    assert sorted(e.result_status for e in entries) == ["scored", "scored"]
    assert all(e.state == "done" and e.finished_at is not None and e.operator_id == "u001" for e in entries)
    for _pid, idn in people:
        (found,) = read_entries(host.audit_store(soar_url), subject_hash=subject_digest(idn, KEY))
        assert found.subject_masked == idn[:6] + "********" + idn[14:]
    host.shutdown(host.context(CLERK, engine.connect()))
    engine.dispose()


_CHILD = textwrap.dedent(
    """
    import sys
    from soar_ext.config import load_config
    from soar_ext.context import Operator
    from soar_ext.db.engine import make_engine
    from soar_ext.hook_payloads import ContractDraft
    from soar_ext.host import SoarHost

    config = load_config()
    host = SoarHost(config)
    engine = make_engine(config.database_url)
    with engine.begin() as conn:
        ctx = host.context(Operator(id="u-crash", name="崩溃测试"), conn)
        host.pre_contract(ctx, ContractDraft(contract_id=sys.argv[1], contract_type="01", family_id=sys.argv[2]))
    print("finished", flush=True)
    """
)


def test_kill_9_between_intent_and_outcome_leaves_an_unfinished_intent_the_report_shows(
    soar_url: str, sim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET

    engine = soar_database(soar_url)
    family_id, people, htid = _household(engine, sim, scores=(720,))
    sim.state.plan.set("latency", latency_ms=30_000)  # the child is killed while it waits for the answer
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOAR_EXT_")},
        "SOAR_EXT_DATABASE_URL": soar_url,
        "SOAR_EXT_AUDIT_DIGEST_SECRET": KEY.reveal(),
        "SOAR_EXT_QIANJIANG_BASE_URL": sim.server.base_url,
        "SOAR_EXT_QIANJIANG_APP_ID": DEFAULT_APP_ID,
        "SOAR_EXT_QIANJIANG_APP_SECRET": DEFAULT_APP_SECRET,
        "SOAR_EXT_QIANJIANG_READ_TIMEOUT": "60",
        "SOAR_EXT_DEPOSIT_WAIVER_TIME_BUDGET_SECONDS": "60",
        "SOAR_EXT_PLUGIN_EXCHANGE_INSPECTION": "off",
    }
    script = tmp_path / "child.py"
    script.write_text(_CHILD, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), htid, family_id],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    store = open_audit_store(Config(), soar_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (sim.state.plan.calls("score") >= 1 and unfinished_entries(store)):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            time.sleep(0.05)
        assert sim.state.plan.calls("score") == 1, "the child never reached the upstream call"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    (intent,) = unfinished_entries(store)
    assert intent.action == "qianjiang.score" and intent.result_status == "pending" and intent.finished_at is None
    assert intent.operator_id == "u-crash"
    capsys.readouterr()
    assert main(["audit", "--url", soar_url]) == 1  # the report exits 1 while unfinished intents exist
    out = capsys.readouterr().out
    idn = people[0][1]
    assert "未完成的查询审计记录 1 条" in out and "qianjiang.score" in out and intent.id in out
    assert idn[:6] + "********" + idn[14:] in out and idn not in out
    assert main(["audit", "--url", soar_url, "--older-than", "60"]) == 0  # the intent is seconds old
    store.dispose()
    engine.dispose()


def test_sqlite_audit_writes_never_wait_on_soars_write_lock(tmp_path: Path, sim) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    engine = soar_database(url)
    host = _host(sim)
    family_id, _people, htid = _household(engine, sim)
    other = make_engine(url, connect_args={"timeout": 0.2})
    with engine.begin() as conn:
        conn.execute(update(contracts).where(contracts.c.htid == htid).values(czyid="u001"))  # SOAR's write lock
        with other.connect() as second, pytest.raises(OperationalError, match="locked"):
            second.exec_driver_sql("PRAGMA busy_timeout=200")
            second.execute(text("UPDATE tpg_zlht SET czyid = 'x'"))  # a second writer on SOAR's file must wait
        ctx = host.context(CLERK, conn)
        started = time.perf_counter()
        ctx.audit.record(AuditEvent(action="probe", operator_id="u001", purpose="锁测试"))
        with ctx.audit.query(AuditEvent(action="probe.query", operator_id="u001", purpose="锁测试")) as entry:
            entry.finish("ok")
        from_thread: list[float] = []

        def worker() -> None:
            t0 = time.perf_counter()
            ctx.audit.begin(AuditEvent(action="probe.thread", operator_id="u001", purpose="锁测试")).finish("ok")
            from_thread.append(time.perf_counter() - t0)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(timeout=5)
        assert from_thread and from_thread[0] < 1.0
        assert time.perf_counter() - started < 1.0  # no busy-wait on the main file's lock
        decision = host.pre_contract(ctx, ContractDraft(contract_id=htid, contract_type="01", family_id=family_id))
        assert decision.deposit == Decimal("0") and not decision.needs_recheck
    other.dispose()
    actions = sorted(e.action for e in read_entries(host.audit_store(url)))
    assert actions == ["probe", "probe.query", "probe.thread", "qianjiang.score", "qianjiang.score"]
    assert audit_database_url(Config(), url).endswith("soar.audit.db")
    engine.dispose()


def test_over_long_operator_metadata_is_clipped_and_never_blocks_the_contract(tmp_path: Path, sim) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    engine = soar_database(url)
    host = _host(sim)
    family_id, _people, htid = _household(engine, sim, scores=(720,))
    long_operator = Operator(id="u" * 80, name="欧阳" * 11, roles=frozenset({"clerk"}))  # 22 Chinese characters
    with engine.begin() as conn:
        decision = host.pre_contract(
            host.context(long_operator, conn), ContractDraft(contract_id=htid, contract_type="01", family_id=family_id)
        )
    assert decision.allowed and decision.deposit == Decimal("0") and not decision.needs_recheck
    (row,) = read_entries(host.audit_store(url))
    assert row.state == "done" and row.result_status == "scored"
    assert len(row.operator_name.encode()) <= 60 and row.operator_name.startswith("欧阳")
    assert len(row.operator_id) <= 32
    engine.dispose()


def test_unwritable_audit_store_means_no_unaudited_query(tmp_path: Path, sim, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    engine = soar_database(url)
    broken = f"sqlite:///{tmp_path / 'no-such-dir' / 'audit.db'}"
    host = _host(sim, Config(audit={"digest_secret": KEY, "database_url": broken}))
    family_id, _people, htid = _household(engine, sim, scores=(720,))
    with engine.begin() as conn:
        decision = host.pre_contract(
            host.context(CLERK, conn), ContractDraft(contract_id=htid, contract_type="01", family_id=family_id)
        )
    assert decision.allowed and decision.needs_recheck and decision.deposit == Decimal("2400.00")
    assert sim.state.plan.calls("score") == 0  # not asked: the query could not be audited
    assert any("could not be written" in r.getMessage() for r in caplog.records)
    with engine.connect() as conn:
        members = json.loads(conn.execute(select(deposit_decisions.c.members)).scalar_one())
    assert members[0]["status"] == "not_audited"
    engine.dispose()


def test_sink_is_thread_safe_for_batch_workers(tmp_path: Path) -> None:
    config = Config(audit={"digest_secret": KEY})
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    sink = build_audit_sink(config, operator_name="批量核查", soar_url=url)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                with sink.query(AuditEvent(action="batch", operator_id=f"w{n}", purpose="批量", detail={"i": i})):
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = read_entries(sink.store, limit=1000)
    assert len(rows) == 120 and all(r.state == "done" and r.result_status == "ok" for r in rows)
    assert unfinished_entries(sink.store) == []
    sink.close()


def test_query_block_that_raises_finishes_the_entry_as_an_error(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'a.db'}")
    sink = build_audit_sink(Config(), store=store)
    with pytest.raises(RuntimeError), sink.query(AuditEvent(action="q", operator_id="u", purpose="p")):
        raise RuntimeError("upstream broke")
    (row,) = read_entries(store)
    assert row.result_status == "error" and row.state == "done" and row.detail == {"error": "RuntimeError"}
    store.dispose()


def test_finish_all_writes_each_outcome_to_its_own_entry(soar_url: str, tmp_path: Path) -> None:
    """Outcomes with and without detail, finished together, each land on their own intent."""
    if soar_url.startswith("postgresql"):
        soar_database(soar_url).dispose()  # the audit table lives in SOAR's database there
        store = AuditStore(soar_url)
    else:
        store = AuditStore(f"sqlite:///{tmp_path / 'a.db'}")
    sink = build_audit_sink(Config(), store=store)
    events = [AuditEvent(action="batch", operator_id="u", purpose="p", detail={"n": n}) for n in range(5)]
    entries = sink.begin_all(events)
    outcomes = [(e, "ok" if n % 2 else "no_record", {"rows": n} if n % 2 else None) for n, e in enumerate(entries)]
    sink.finish_all(outcomes)
    rows = {r.id: r for r in read_entries(store, limit=100) if r.id in {e.id for e in entries}}
    assert len(rows) == 5 and unfinished_entries(store) == []
    for n, entry in enumerate(entries):
        row = rows[entry.id]
        assert row.state == "done"
        assert row.result_status == ("ok" if n % 2 else "no_record")
        assert row.detail == ({"n": n, "rows": n} if n % 2 else {"n": n})
    store.dispose()


def test_a_sqlite_audit_file_from_revision_0001_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.audit.db"
    old = make_engine(f"sqlite:///{path}")
    with old.begin() as conn:
        columns = [c for c in audit_log.columns if c.name not in ("state", "finished_at")]
        conn.execute(text(f"CREATE TABLE sx_audit_log ({', '.join(c.name + ' TEXT' for c in columns)})"))
        conn.execute(
            text(
                "INSERT INTO sx_audit_log (id, action, result_status, created_at)"
                " VALUES ('old', 'x', 'ok', '2024-01-01 00:00:00')"
            )
        )
    old.dispose()
    store = AuditStore(f"sqlite:///{path}")
    build_audit_sink(Config(), store=store).record(AuditEvent(action="new", operator_id="u", purpose="p"))
    rows = {r.id: r for r in read_entries(store)}
    assert len(rows) == 2 and rows["old"].state is None
    assert next(r for r in rows.values() if r.action == "new").state == "done"
    store.dispose()


def test_postgres_audit_uses_a_small_pool_of_its_own(tmp_path: Path) -> None:
    store = AuditStore("postgresql://soar:pw@127.0.0.1:1/soar")
    assert store.engine.pool.size() == 2 and not store.is_sqlite
    assert "pw" not in repr(store)
    store.dispose()


def test_doctor_reports_the_audit_store_and_stale_intents(tmp_path: Path) -> None:
    from soar_ext.db.doctor import STALE_INTENT_MINUTES, check

    url = f"sqlite:///{tmp_path / 'soar.db'}"
    engine = soar_database(url)
    store = open_audit_store(Config(), url)
    report = check(engine, audit_store=store)
    assert report.ok and any("not created yet" in n for n in report.notes)
    assert not (tmp_path / "soar.audit.db").exists()  # the doctor is read-only
    old = dt.datetime.now() - dt.timedelta(hours=2)
    sink = build_audit_sink(Config(), store=store, clock=lambda: old)
    sink.begin(AuditEvent(action="bigdata.query", operator_id="u1", purpose="核查", at=old))
    sink.record(AuditEvent(action="export.excel", operator_id="u1", purpose="导出"))
    report = check(engine, audit_store=store)
    assert report.ok  # a warning, not a failure: the entry stays for the auditors
    assert any("1 query intent(s) without an outcome" in n for n in report.notes)
    assert any(n.startswith("WARNING audit") and f"{STALE_INTENT_MINUTES} minutes" in n for n in report.notes)
    store.dispose()
    engine.dispose()


def test_no_full_id_reaches_the_audit_row_outside_its_digest(tmp_path: Path) -> None:
    idn = "11010519491231002X"
    store = AuditStore(f"sqlite:///{tmp_path / 'a.db'}")
    sink = build_audit_sink(Config(audit={"digest_secret": KEY}), store=store)
    event = AuditEvent(
        action="bigdata.query",
        operator_id="u1",
        purpose=f"核查 sfzh{idn}",
        subject_id=idn,
        interfaces=(f"hj{idn}",),
        detail={
            "note": f"person {idn.lower()}",
            "full_width": idn.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
        },
    )
    sink.begin(event).finish("found", {"echo": idn})
    with store.connect() as conn:
        row = conn.execute(select(audit_log)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert idn not in stored.upper() and "１９４９１２３１" not in stored
    assert row["subject_hash"] == subject_digest(idn, KEY)
    store.dispose()
