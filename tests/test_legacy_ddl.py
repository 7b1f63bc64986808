"""The committed Oracle DDL for the assumed SOAR schema matches soar_ext/db/legacy.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Column, Date, DateTime, Index, Integer, MetaData, Numeric, String, Table

from soar_ext.db.ddl import (
    LEGACY_DDL_PATH,
    REGENERATE_COMMAND,
    main,
    render_legacy_oracle_ddl,
    render_oracle_ddl,
    write_legacy_ddl,
)
from soar_ext.db.legacy import legacy_metadata

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / LEGACY_DDL_PATH
CJK = re.compile(r"[\u4e00-\u9fff]")

# Deliberately independent of SQLAlchemy's compiler: a plain reading of the script text.
CREATE_TABLE = re.compile(r"^CREATE TABLE (\w+) \(\n(.*?)\n\);$", re.MULTILINE | re.DOTALL)
COLUMN_LINE = re.compile(
    r"^\s+(?P<name>\w+) (?P<type>VARCHAR2\((?P<len>\d+) CHAR\)|NUMBER\((?P<p>\d+), (?P<s>\d+)\)|DATE|INTEGER)"
    r"(?P<notnull> NOT NULL)?,?$"
)
CONSTRAINT_LINE = re.compile(r"^\s+CONSTRAINT (\w+) (PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b")
CREATE_INDEX = re.compile(r"^CREATE (?:UNIQUE )?INDEX (\w+) ON (\w+) \(([\w, ]+)\);$", re.MULTILINE)
TABLE_COMMENT = re.compile(r"^COMMENT ON TABLE (\w+) IS '((?:[^']|'')*)';$", re.MULTILINE)
COLUMN_COMMENT = re.compile(r"^COMMENT ON COLUMN (\w+)\.(\w+) IS '((?:[^']|'')*)';$", re.MULTILINE)


@pytest.fixture(scope="module")
def ddl() -> str:
    return COMMITTED.read_text(encoding="utf-8")


def parse_tables(ddl: str) -> dict[str, dict[str, tuple[str, bool]]]:
    """table -> column -> (normalised type, nullable), from the CREATE TABLE blocks."""
    tables: dict[str, dict[str, tuple[str, bool]]] = {}
    for name, body in CREATE_TABLE.findall(ddl):
        columns: dict[str, tuple[str, bool]] = {}
        for line in body.splitlines():
            if CONSTRAINT_LINE.match(line):
                continue
            m = COLUMN_LINE.match(line)
            assert m, f"unparsed line in CREATE TABLE {name}: {line!r}"
            columns[m["name"]] = (m["type"].replace(" ", ""), m["notnull"] is None)
        tables[name] = columns
    return tables


def expected_type(column: Column) -> str:
    """The Oracle type a DBA expects for a SQLAlchemy column type (checked in order)."""
    t = column.type
    if isinstance(t, String):
        return f"VARCHAR2({t.length}CHAR)"
    if isinstance(t, Numeric):
        return f"NUMBER({t.precision},{t.scale})"
    if isinstance(t, Integer):
        return "INTEGER"
    if isinstance(t, Date | DateTime):
        return "DATE"
    raise AssertionError(f"{column.table.name}.{column.name}: unexpected type {t!r}")


def test_committed_ddl_is_current(ddl: str) -> None:
    assert ddl == render_legacy_oracle_ddl(), (
        f"{LEGACY_DDL_PATH} is out of date with soar_ext/db/legacy.py; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_write_legacy_ddl_and_module_entry_point_write_the_same_utf8_file(tmp_path: Path, ddl: str) -> None:
    assert write_legacy_ddl(tmp_path / "a.sql").read_bytes() == ddl.encode("utf-8")
    assert main([str(tmp_path / "sub" / "b.sql")]) == 0
    assert (tmp_path / "sub" / "b.sql").read_bytes() == ddl.encode("utf-8")


def test_ddl_header_says_assumed_schema_for_test_instances_only(ddl: str) -> None:
    header = ddl.split("CREATE TABLE", 1)[0]
    assert "ASSUMED" in header
    assert "TEST instance" in header
    assert "NEVER run it on the production SOAR" in header
    assert "严禁在生产" in header


def test_ddl_tables_and_columns_agree_with_metadata(ddl: str) -> None:
    parsed = parse_tables(ddl)
    assert sorted(parsed) == sorted(legacy_metadata.tables)
    for table in legacy_metadata.sorted_tables:
        expected = {c.name: (expected_type(c), bool(c.nullable) and not c.primary_key) for c in table.columns}
        assert parsed[table.name] == expected, table.name


def test_ddl_tables_come_in_dependency_order(ddl: str) -> None:
    order = [name for name, _ in CREATE_TABLE.findall(ddl)]
    assert order == [t.name for t in legacy_metadata.sorted_tables]


def test_ddl_creates_every_index(ddl: str) -> None:
    found = {
        name: (table, tuple(c.strip() for c in cols.split(","))) for name, table, cols in CREATE_INDEX.findall(ddl)
    }
    expected = {
        ix.name: (t.name, tuple(c.name for c in ix.columns)) for t in legacy_metadata.sorted_tables for ix in t.indexes
    }
    assert found == expected


def test_ddl_statements_are_terminated_and_oracle_only(ddl: str) -> None:
    body = ddl.split("WHENEVER SQLERROR EXIT FAILURE\n", 1)[1]
    for statement in re.split(r";\n", body.strip().rstrip(";")):
        lines = [ln for ln in statement.splitlines() if ln.strip() and not ln.startswith("--")]
        assert lines, "empty statement"
        assert lines[0].split()[0] in {"CREATE", "COMMENT"}, lines[0]
    for forbidden in ("NUMERIC", "BOOLEAN", "VARCHAR(", "TIMESTAMP", '"'):
        assert forbidden not in body
    # SQL*Plus ends a statement at a blank line: none inside CREATE TABLE blocks.
    for _, columns in CREATE_TABLE.findall(ddl):
        assert "\n\n" not in columns


def test_every_table_and_column_has_a_chinese_comment_in_metadata_and_ddl(ddl: str) -> None:
    table_comments = dict(TABLE_COMMENT.findall(ddl))
    column_comments = {(t, c): text for t, c, text in COLUMN_COMMENT.findall(ddl)}
    for table in legacy_metadata.sorted_tables:
        assert table.comment and CJK.search(table.comment), table.name
        assert table_comments.get(table.name) == table.comment.replace("'", "''")
        for column in table.columns:
            where = f"{table.name}.{column.name}"
            assert column.comment and CJK.search(column.comment), where
            assert column_comments.get((table.name, column.name)) == column.comment.replace("'", "''"), where
    assert len(column_comments) == sum(len(t.columns) for t in legacy_metadata.sorted_tables)


def test_every_identifier_fits_30_bytes_in_metadata_and_ddl(ddl: str) -> None:
    names: list[str] = []
    for table in legacy_metadata.sorted_tables:
        names.append(table.name)
        names.extend(c.name for c in table.columns)
        names.extend(str(c.name) for c in table.constraints)
        names.extend(str(ix.name) for ix in table.indexes)
    assert None not in names and "None" not in names, "every constraint and index needs an explicit name"
    parsed = re.findall(r"(?:CREATE TABLE|CONSTRAINT|INDEX|ON|COLUMN) (\w+(?:\.\w+)?)", ddl)
    parsed += [m["name"] for line in ddl.splitlines() if (m := COLUMN_LINE.match(line))]
    identifiers = set(names) | {part for name in parsed for part in name.split(".")}
    too_long = sorted(n for n in identifiers if len(n.encode("utf-8")) > 30)
    assert not too_long


def test_comments_with_quotes_are_escaped() -> None:
    md = MetaData()
    Table(
        "t_quote",
        md,
        Column("a", String(10), primary_key=True, comment="张三's 备注"),
        Column("b", Integer, comment="含''两个引号"),
        Index("ix_t_quote_b", "b"),
        comment="O'Brien 表",
    )
    ddl = render_oracle_ddl(md, "-- test")
    assert "COMMENT ON TABLE t_quote IS 'O''Brien 表';" in ddl
    assert "COMMENT ON COLUMN t_quote.a IS '张三''s 备注';" in ddl
    assert "COMMENT ON COLUMN t_quote.b IS '含''''两个引号';" in ddl
    assert "CREATE INDEX ix_t_quote_b ON t_quote (b);" in ddl


def test_missing_comment_is_refused() -> None:
    md = MetaData()
    Table("t_nocomment", md, Column("a", String(10), primary_key=True), comment="表")
    with pytest.raises(ValueError, match=r"t_nocomment\.a"):
        render_oracle_ddl(md, "-- test")
