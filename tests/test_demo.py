"""The main job on the embedded default: ``soar-ext demo`` over seeded data and the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from soar_ext.audit_store import open_audit_store, read_entries
from soar_ext.cli import main
from soar_ext.config import Config
from soar_ext.db.codes import ContractStatus, ContractType
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import audit_log, deposit_decisions
from soar_ext.db.legacy import contracts
from soar_ext.demo import run_demo


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["db", "init", "--url", url, "--households", "300", "--seed", "11"]) == 0
    return url


def drafts(conn, *types: str) -> int:
    return conn.execute(
        select(func.count())
        .select_from(contracts)
        .where(contracts.c.htzt == ContractStatus.DRAFT, contracts.c.pzlx.in_(types))
    ).scalar_one()


def test_demo_covers_every_draft_and_rolls_back(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        expected_waiver = drafts(conn, ContractType.NEW, ContractType.RENEWAL)
        expected_gate = drafts(conn, ContractType.EXCHANGE)
    report = run_demo(engine, Config())
    assert sum(report.waiver.values()) == expected_waiver > 0
    assert sum(report.gate.values()) == expected_gate > 0
    assert report.waiver["waived"] > 0 and report.waiver["required"] > 0
    assert report.gate["blocked"] > 0 and report.confirmed and "可以签订" in report.confirmed
    assert set(report.filters) >= {"验房状态=待验房", "是否已签合同=是"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deposit_decisions)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0
    # the score queries were really sent: their audit entries outlive the rollback, in the audit store
    entries = read_entries(open_audit_store(Config(), url), limit=10_000)
    assert len(entries) >= report.waiver["waived"] and all(e.state == "done" for e in entries)
    engine.dispose()


def test_demo_commit_keeps_decisions_and_audit(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", url, "--commit"]) == 0
    out = capsys.readouterr().out
    assert "【押金减免】" in out and "以上操作已提交" in out
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deposit_decisions)).scalar_one() > 0
    store = open_audit_store(Config(), url)
    with store.connect() as conn:
        hashes = conn.execute(select(audit_log.c.subject_hash)).scalars().all()
    assert hashes and all(h and len(h) == 64 for h in hashes)
    store.dispose()
    engine.dispose()


def test_demo_on_an_empty_database_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from soar_ext.db.legacy import legacy_metadata
    from soar_ext.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    upgrade(url)
    engine.dispose()
    assert main(["demo", "--url", url]) == 2
    assert "soar-ext db init" in capsys.readouterr().err


def test_demo_reports_start_up_problems(url: str) -> None:
    engine = make_engine(url)
    report = run_demo(engine, Config(plugin_settings={"deposit_waiver": {"threshold": "high"}}))
    engine.dispose()
    assert any("threshold" in p for p in report.startup_problems)
    assert report.waiver["recheck"] == sum(report.waiver.values()) > 0
