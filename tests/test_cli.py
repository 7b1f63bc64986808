"""The ``soar-ext`` command line on a throwaway SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from soar_ext.cli import main
from soar_ext.db.migrate import head, revisions


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_db_init_then_doctor_then_plugins(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "50", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "50 户家庭" in out and "换房配对表" in out
    assert main(["doctor", "--url", url]) == 0
    assert main(["db", "init", "--url", url]) == 0
    assert "未重复生成" in capsys.readouterr().out
    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert "deposit_waiver" in listing and "soar_pre_contract" in listing and "mode=on" in listing
    assert "soar_pre_contract_fallback" in listing and "soar_register_jobs" in listing
    assert (tmp_path / "cli.audit.db").is_file()  # db init created the separate audit store


def test_doctor_fails_on_a_tampered_database(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "5"]) == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("DROP INDEX ix_sx_hfyf_yfzt")
        conn.execute("ALTER TABLE tpg_hfyf DROP COLUMN yfjg")
    capsys.readouterr()
    assert main(["doctor", "--url", url]) == 1
    out = capsys.readouterr().out
    assert "yfjg" in out and "ix_sx_hfyf_yfzt" in out


def test_upgrade_needs_the_soar_tables(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sqlite3.connect(tmp_path / "cli.db").close()  # an existing database without SOAR's tables
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
    assert main(["db", "downgrade", "--url", url, "base", "--yes"]) == 0
    assert "undone: " + ", ".join(reversed(revisions())) in capsys.readouterr().out


def test_downgrade_needs_an_explicit_target(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["db", "downgrade", "--url", url])
    assert exit_.value.code == 2
    assert "revision" in capsys.readouterr().err


def _soar_db(url: str) -> None:
    from soar_ext.db.engine import make_engine
    from soar_ext.db.legacy import legacy_metadata
    from soar_ext.db.migrate import upgrade

    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    engine.dispose()
    upgrade(url)


def _add_audit_rows(url: str, n: int) -> None:
    import datetime as dt

    from sqlalchemy import insert

    from soar_ext.db.engine import make_engine
    from soar_ext.db.extension import audit_log

    engine = make_engine(url)
    with engine.begin() as conn:
        for i in range(n):
            conn.execute(
                insert(audit_log).values(
                    id=f"A{i}", action="x", result_status="ok", created_at=dt.datetime(2024, 1, 1), state="done"
                )
            )
    engine.dispose()


def test_downgrade_without_yes_only_shows_the_plan(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from soar_ext.db.migrate import current

    _soar_db(url)
    capsys.readouterr()
    assert main(["db", "downgrade", "--url", url, "0001"]) == 1
    captured = capsys.readouterr()
    assert "column sx_audit_log.state: 0 row(s)" in captured.out and "--yes" in captured.err
    assert current(url) == head()
    assert main(["db", "downgrade", "--url", url, "0001", "--yes"]) == 0
    assert current(url) == "0001"


def test_downgrade_refuses_to_drop_rows_unless_forced(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from soar_ext.db.migrate import current

    _soar_db(url)
    _add_audit_rows(url, 3)
    capsys.readouterr()
    assert main(["db", "downgrade", "--url", url, "base", "--yes"]) == 1
    captured = capsys.readouterr()
    assert "table sx_audit_log: 3 row(s) with data" in captured.out
    assert "column sx_audit_log.state: 3 row(s) with data" in captured.out
    assert "refused" in captured.err and "--force" in captured.err
    assert current(url) == head()  # nothing dropped
    assert main(["db", "downgrade", "--url", url, "base", "--yes", "--force"]) == 0
    assert current(url) is None


@pytest.mark.parametrize("target", ["0099", "0002x", "head"])
def test_downgrade_to_an_unknown_revision_is_refused(url: str, target: str, capsys) -> None:
    _soar_db(url)
    assert main(["db", "downgrade", "--url", url, target, "--yes", "--force"]) == 2
    assert "unknown revision" in capsys.readouterr().err


def test_db_init_refuses_other_databases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", "oracle+oracledb://u:p@127.0.0.1:1/?service_name=x"]) == 2
    assert "sql/oracle" in capsys.readouterr().err


def test_db_sql_renders_oracle_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "sql", "-o", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(p.name for p in (Path(__file__).resolve().parents[1] / "sql" / "oracle").glob("*.sql"))
    assert {"0001_sx_base.cleanup.sql", "0001_sx_base.downgrade.sql", "0001_sx_base.upgrade.sql"} <= set(written)
    assert main(["db", "sql", "--legacy"]) == 0
    assert "COMMENT ON TABLE" in capsys.readouterr().out


def test_bad_household_count_is_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--url", url, "--households", "0"]) == 2


# --- errors are one line on stderr and exit code 2, never a traceback ------------------------------


@pytest.mark.parametrize("command", [["doctor"], ["db", "upgrade"], ["db", "downgrade", "base", "--yes"], ["audit"]])
def test_missing_sqlite_file_is_reported_and_not_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo.db"
    assert main([*command, "--url", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and str(path) in err and "db init" in err
    assert "Traceback" not in err
    assert not path.exists()


def test_db_init_still_creates_a_new_sqlite_file(url: str, tmp_path: Path) -> None:
    assert main(["db", "init", "--url", url, "--households", "3"]) == 0
    assert (tmp_path / "cli.db").is_file()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "command", [["doctor"], ["db", "upgrade"], ["db", "downgrade", "base", "--yes"], ["db", "init"]]
)
def test_unreachable_server_is_one_line_with_the_password_redacted(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://soar:pa55word@127.0.0.1:{_free_port()}/soar"
    assert main([*command, "--url", url]) == 2
    err = capsys.readouterr().err
    assert "pa55word" not in err
    assert "postgresql://soar:***@127.0.0.1" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unreachable_server_from_configuration(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SOAR_EXT_DATABASE_URL", f"postgresql://soar:pa55word@127.0.0.1:{_free_port()}/soar")
    assert main(["doctor"]) == 2
    err = capsys.readouterr().err
    assert "pa55word" not in err and "cannot use database postgresql://soar:***@" in err


@pytest.mark.parametrize(
    "bad_url",
    ["postgresql://soar:pa55word@db:notaport/soar", "nosuchdb://soar:pa55word@db/soar", "not a url"],
)
def test_bad_database_url_is_reported(bad_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--url", bad_url]) == 2
    err = capsys.readouterr().err
    assert "invalid database URL" in err
    assert "pa55word" not in err and "Traceback" not in err


def test_simulate_with_a_port_in_use_exits_cleanly(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import socket

    from soar_ext.adapters.simulators import serve_all

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        monkeypatch.setitem(serve_all.DEFAULT_PORTS, "bigdata", port)
        assert main(["simulate"]) == 2
    err = capsys.readouterr().err
    assert str(port) in err and "Traceback" not in err
