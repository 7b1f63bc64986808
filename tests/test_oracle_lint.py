"""The Oracle linter catches each rule it checks and lets portable statements through."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    false,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql

from soar_ext.db.extension import ext_metadata
from soar_ext.db.legacy import contracts, inspections, legacy_metadata, persons
from soar_ext.db.oracle_lint import StatementRecorder, lint_ddl, lint_statement
from soar_ext.db.portability import in_chunks

LONG = "x" * 31  # 31 bytes


def test_in_list_over_1000_binds_is_reported():
    problems = lint_statement(select(persons.c.ryid).where(persons.c.ryid.in_([str(i) for i in range(1001)])))
    assert len(problems) == 1
    assert "IN list with 1001 items" in problems[0] and "ORA-01795" in problems[0]


def test_in_list_of_exactly_1000_binds_passes():
    assert lint_statement(select(persons.c.ryid).where(persons.c.ryid.in_([str(i) for i in range(1000)]))) == []


def test_in_chunks_with_2500_values_passes():
    stmt = select(persons.c.ryid).where(in_chunks(persons.c.ryid, [str(i) for i in range(2500)]))
    assert lint_statement(stmt) == []


def test_expanding_bind_is_counted_with_its_execution_values():
    stmt = select(persons.c.ryid).where(persons.c.ryid.in_(bindparam("ids", expanding=True)))
    assert lint_statement(stmt) == []  # no values known: nothing to count
    assert lint_statement(stmt, {"ids": list(range(999))}) == []
    assert "IN list with 1200 items" in lint_statement(stmt, {"ids": list(range(1200))})[0]
    upd = update(persons).where(persons.c.ryid.in_(bindparam("ids", expanding=True))).values(xm="x")
    assert "IN list with 1500 items" in lint_statement(upd, {"ids": list(range(1500))})[0]


def test_subquery_and_tuple_in_lists_are_not_counted_as_long_lists():
    sub = select(contracts.c.jtid)
    assert lint_statement(select(persons.c.ryid).where(persons.c.ryid.in_(sub))) == []
    pairs = [(str(i), "x") for i in range(1200)]
    assert lint_statement(select(persons.c.ryid).where(tuple_(persons.c.ryid, persons.c.xm).in_(pairs))) == []


def test_identifier_of_31_bytes_is_reported():
    table = Table("t", MetaData(), Column(LONG, String(3)), Column("ok", String(3)))
    problems = lint_statement(select(table.c.ok).where(table.c[LONG] == "a"))
    assert len(problems) == 1
    assert f"identifier '{LONG}' is 31 bytes" in problems[0]


def test_identifier_length_counts_bytes_not_characters():
    table = Table("t", MetaData(), Column("ok", String(3)))
    name = "审" * 11  # 11 characters, 33 bytes
    problems = lint_statement(select(table.c.ok.label(name)))
    assert any("33 bytes" in p for p in problems), problems


def test_long_explicit_label_is_reported_but_generated_labels_are_not():
    long_join = select(persons, contracts).join_from(persons, contracts, persons.c.ryid == contracts.c.jtid)
    assert lint_statement(long_join.set_label_style(1).subquery().select()) == []
    assert lint_statement(select(persons.c.ryid.label("y" * 31)))


def test_boolean_column_is_reported():
    table = Table("t", MetaData(), Column("id", String(3)), Column("flag", Boolean))
    problems = lint_statement(select(table.c.id).where(table.c.flag.is_(True)))
    assert any("BOOLEAN type (t.flag)" in p for p in problems), problems


def test_bare_false_condition_is_reported():
    problems = lint_statement(select(persons.c.ryid).where(false()))
    assert any("true()/false()" in p for p in problems)
    assert lint_statement(select(persons.c.ryid).where(in_chunks(persons.c.ryid, []))) == []


def test_for_update_with_limit_is_reported():
    stmt = select(persons.c.ryid).with_for_update(skip_locked=True).limit(10)
    problems = lint_statement(stmt)
    assert len(problems) == 1 and "ORA-02014" in problems[0]
    assert lint_statement(select(persons.c.ryid).with_for_update(skip_locked=True)) == []
    assert lint_statement(select(persons.c.ryid).limit(10)) == []


def test_statement_oracle_cannot_compile_is_reported():
    stmt = postgresql.insert(persons).values(ryid="a", xm="b", sfzh="c").on_conflict_do_nothing()
    assert lint_statement(stmt)[0].startswith("not Oracle SQL")


def test_lint_ddl_passes_legacy_and_extension_schemas():
    assert lint_ddl(legacy_metadata) == []
    assert lint_ddl(ext_metadata) == []


def test_lint_ddl_reports_long_names_and_booleans():
    metadata = MetaData()
    Table(
        "t",
        metadata,
        Column("id", String(3), primary_key=True),
        Column("flag", Boolean),
        Column(LONG, String(3)),
        Index("ix_" + "b" * 28, "id"),
    )
    problems = lint_ddl(metadata)
    assert any("BOOLEAN type (flag)" in p for p in problems), problems
    assert any(f"'{LONG}'" in p for p in problems), problems
    assert any("ix_" + "b" * 28 in p for p in problems), problems


@pytest.fixture
def engine() -> Engine:
    eng = create_engine("sqlite://")
    legacy_metadata.create_all(eng)
    return eng


def test_recorder_collects_executed_constructs_and_skips_text(engine: Engine):
    with StatementRecorder(engine) as recorder, engine.begin() as conn:
        conn.execute(
            insert(persons), [{"ryid": "r1", "xm": "张三", "sfzh": "1"}, {"ryid": "r2", "xm": "李四", "sfzh": "2"}]
        )
        conn.execute(select(persons.c.ryid).where(in_chunks(persons.c.ryid, ["r1", "r2"])))
        conn.execute(text("SELECT 1"))
        conn.exec_driver_sql("SELECT 2")
    assert len(recorder.statements) == 2
    assert recorder.recorded[0].params == {"ryid": "r1", "xm": "张三", "sfzh": "1"}
    assert recorder.lint() == []
    with engine.connect() as conn:
        conn.execute(select(persons.c.ryid))
    assert len(recorder.statements) == 2  # listener removed on exit


def test_recorder_lint_finds_problems_in_executed_statements(engine: Engine):
    ids = [f"r{i}" for i in range(1001)]
    with StatementRecorder(engine) as recorder, engine.connect() as conn:
        stmt = select(inspections.c.yfid).where(inspections.c.pdid.in_(bindparam("ids", expanding=True)))
        conn.execute(stmt, {"ids": ids})
        conn.execute(select(inspections.c.yfid).where(inspections.c.pdid.in_(ids)))
    problems = recorder.lint()
    assert len(problems) == 2
    assert all("IN list with 1001 items" in p for p in problems)


def test_recorder_on_engine_class_sees_every_engine():
    first, second = create_engine("sqlite://"), create_engine("sqlite://")
    master = Table("sqlite_master", MetaData(), Column("name", String))
    with StatementRecorder() as recorder:
        for eng in (first, second):
            with eng.connect() as conn:
                conn.execute(select(master.c.name))
    assert len(recorder.statements) == 2
