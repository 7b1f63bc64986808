"""``soar-ext doctor`` finds what differs between a live database and soar-ext's assumptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from soar_ext.db import migrate
from soar_ext.db.doctor import check
from soar_ext.db.engine import make_engine
from soar_ext.db.legacy import legacy_metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A database with the assumed legacy tables and no soar-ext migrations yet."""
    url = f"sqlite:///{tmp_path / 'soar.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    eng = make_engine(url)
    legacy_metadata.create_all(eng)
    yield eng
    eng.dispose()


def _drop_column(engine: Engine, table: str, column: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def test_healthy_database_is_ok(engine: Engine):
    migrate.upgrade(engine)
    report = check(engine)
    assert report.ok, report.lines()
    assert report.problems == []
    assert report.current_revision == report.head_revision == migrate.head()
    assert report.lines()[0] == "soar-ext doctor: OK"


def test_database_without_migrations_is_reported(engine: Engine):
    report = check(engine)
    assert not report.ok
    assert len(report.problems) == 1, report.problems  # one clear line, not one per sx_ table
    assert "migrations are not applied" in report.problems[0]
    assert "soar-ext db upgrade" in report.problems[0]
    assert report.current_revision is None


def test_dropped_legacy_column_is_reported_with_table_and_column(engine: Engine):
    migrate.upgrade(engine)
    _drop_column(engine, "tpg_hfyf", "yfjg")
    report = check(engine)
    assert not report.ok
    assert report.problems == ["tpg_hfyf [换房验房表]: column yfjg [验房结果说明] is missing"]
    assert any("tpg_hfyf" in line and "yfjg" in line for line in report.lines())


def test_missing_legacy_table_is_reported(engine: Engine):
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tch_fwxx"))
    report = check(engine)
    assert report.problems == ["legacy table tch_fwxx [测绘房屋信息表] is missing"]


def test_different_length_type_and_nullability_are_reported(engine: Engine):
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tch_fwxx"))
        conn.execute(
            text(
                "CREATE TABLE tch_fwxx (fwid VARCHAR(32) NOT NULL PRIMARY KEY, chxmbh VARCHAR(30),"
                " chxmmc VARCHAR(100) NOT NULL, lh INTEGER, dy VARCHAR(10), fh VARCHAR(20),"
                " ycjzmj NUMERIC(8, 1), scjzmj NUMERIC(10, 2), gxsj TIMESTAMP, extra_col VARCHAR(5))"
            )
        )
    problems = check(engine).problems
    assert any(p.startswith("tch_fwxx [测绘房屋信息表]: column chxmbh [测绘项目编号] allows NULL") for p in problems)
    assert any("column chxmmc [测绘项目名称] has length 100, expected 200" in p for p in problems)
    assert any("column chxmmc [测绘项目名称] is NOT NULL" in p for p in problems)
    assert any("column lh [楼号] has type INTEGER (number), expected text" in p for p in problems)
    assert any(
        "column ycjzmj [预测建筑面积（平方米）] has precision/scale (8, 1), expected (10, 2)" in p for p in problems
    )
    assert len(problems) == 5, problems  # the extra column is fine


def test_dropped_soar_ext_index_and_table_are_reported(engine: Engine):
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_sx_hfyf_yfzt"))
        conn.execute(text("DROP TABLE sx_plugin_decision"))
    problems = check(engine).problems
    assert "index ix_sx_hfyf_yfzt on tpg_hfyf [换房验房表] (yfzt, pdid) is missing" in problems
    assert "soar-ext table sx_plugin_decision [soar-ext 插件决定记录表（含试运行记录）] is missing" in problems
    assert len(problems) == 2


def test_dropped_index_of_a_soar_ext_table_is_reported(engine: Engine):
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_sx_worker_lease_pool"))
    problems = check(engine).problems
    assert problems == [
        "index ix_sx_worker_lease_pool on sx_worker_lease [共享配额工作进程租约表] (pool, expires_at) is missing"
    ]


def test_dropped_worker_lease_column_is_reported(engine: Engine):
    migrate.upgrade(engine)
    _drop_column(engine, "sx_worker_lease", "conc_share")
    assert check(engine).problems == [
        "sx_worker_lease [共享配额工作进程租约表]: column conc_share [本进程占用的并发调用份额] is missing"
    ]


def test_live_quota_workers_are_listed(engine: Engine):
    from soar_ext.quota import QuotaMembership, QuotaSettings

    migrate.upgrade(engine)
    assert "shared quota: no live workers" in check(engine).lines()
    member = QuotaMembership(engine, QuotaSettings(pool="bigdata.hukou", rate=200.0, concurrency=20))
    member.join()
    assert "shared quota: bigdata.hukou 1 worker(s) using 200 calls/s" in check(engine).lines()
    member.leave()


def test_outdated_revision_is_reported(engine: Engine):
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sx_schema_version SET version_num = 'ffff'"))
    report = check(engine)
    assert report.current_revision == "ffff"
    assert any("unknown to this soar-ext" in p for p in report.problems)


def test_doctor_does_not_write(engine: Engine):
    check(engine)
    assert migrate.current(engine) is None
    assert "sx_schema_version" not in inspect(engine).get_table_names()


def test_allocation_data_rules_are_reported_as_warnings(engine: Engine):
    from tests.allocation_builders import add_batch, adjustment_batch

    migrate.upgrade(engine)
    assert any(n.startswith("data rules: allocation batch statuses are known codes") for n in check(engine).notes)
    with engine.begin() as conn:
        pcid, sqids, _fyids = adjustment_batch(conn, applicants=1, areas=("50",))
        conn.execute(
            text(
                "INSERT INTO sx_alloc_link (id, pcid, sqid, fyid, open_sqid, open_fyid, source, linked_at) "
                "VALUES ('L1', :p, :s, 'NOT-IN-BATCH', :s, 'NOT-IN-BATCH', 'manual', CURRENT_TIMESTAMP)"
            ),
            {"p": pcid, "s": sqids[0]},
        )
        odd = add_batch(conn)
        conn.execute(text("UPDATE tpg_hbpc SET pczt = '09' WHERE pcid = :p"), {"p": odd})
    report = check(engine)
    assert report.ok
    warnings = [n for n in report.notes if n.startswith("WARNING")]
    assert any("1 allocation batch(es) have a 批次状态 (tpg_hbpc.pczt) outside 01/02/03" in w for w in warnings)
    assert any("1 调房划拨 link(s) in sx_alloc_link refer to an applicant or house no longer" in w for w in warnings)
