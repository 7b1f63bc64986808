"""The ``soar-ext`` command line on a throwaway SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from soar_ext.cli import main


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_db_init_then_doctor_then_plugins(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "50", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "50 户家庭" in out and "换房配对表" in out
    assert main(["doctor", "--url", url]) == 0
    assert main(["db", "init", "--url", url]) == 0
    assert "未重复生成" in capsys.readouterr().out
    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert "deposit_waiver" in listing and "soar_pre_contract" in listing and "mode=on" in listing


def test_doctor_fails_on_a_tampered_database(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "5"]) == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("DROP INDEX ix_sx_hfyf_yfzt")
        conn.execute("ALTER TABLE tpg_hfyf DROP COLUMN yfjg")
    capsys.readouterr()
    assert main(["doctor", "--url", url]) == 1
    out = capsys.readouterr().out
    assert "yfjg" in out and "ix_sx_hfyf_yfzt" in out


def test_upgrade_needs_the_soar_tables(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--url", url]) == 2
    assert "tpg_hfyf" in capsys.readouterr().err


def test_upgrade_twice_is_a_no_op_and_downgrade_undoes(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from soar_ext.db.engine import make_engine
    from soar_ext.db.legacy import legacy_metadata

    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    engine.dispose()
    assert main(["db", "upgrade", "--url", url]) == 0
    assert main(["db", "upgrade", "--url", url]) == 0
    assert "nothing" in capsys.readouterr().out.splitlines()[-1]
    assert main(["db", "downgrade", "--url", url]) == 0
    assert "0001" in capsys.readouterr().out


def test_db_init_refuses_other_databases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", "oracle+oracledb://u:p@127.0.0.1:1/?service_name=x"]) == 2
    assert "sql/oracle" in capsys.readouterr().err


def test_db_sql_renders_oracle_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "sql", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "0001_sx_base.downgrade.sql",
        "0001_sx_base.upgrade.sql",
    ]
    assert main(["db", "sql", "--legacy"]) == 0
    assert "COMMENT ON TABLE" in capsys.readouterr().out


def test_bad_household_count_is_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "0"]) == 2
