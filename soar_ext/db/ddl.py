"""Oracle DDL for the assumed SOAR legacy schema, rendered from :mod:`soar_ext.db.legacy`.

DBAs get ``sql/legacy/soar_legacy_schema.sql`` to build a *test* instance that looks like
what soar-ext assumes about SOAR. The file is generated, never edited by hand::

    python -m soar_ext.db.ddl > sql/legacy/soar_legacy_schema.sql
    python -m soar_ext.db.ddl sql/legacy/soar_legacy_schema.sql   # same, writes the file

A test checks that the committed file equals what this module renders.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects.oracle.base import OracleDialect, OracleTypeCompiler
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment
from sqlalchemy.types import TypeEngine

from soar_ext.db.legacy import legacy_metadata

LEGACY_DDL_PATH = Path("sql") / "legacy" / "soar_legacy_schema.sql"
"""Where the rendered legacy DDL is committed, relative to the repository root."""

REGENERATE_COMMAND = "python -m soar_ext.db.ddl sql/legacy/soar_legacy_schema.sql"

_HEADER = """\
-- =============================================================================
-- soar-ext: ASSUMED SOAR legacy schema (Oracle DDL)
-- soar-ext：假定的 SOAR 原系统表结构（Oracle 建表脚本）
--
-- What this is: the SOAR tables that soar-ext reads and writes, as soar-ext ASSUMES
-- them to be. SOAR's real schema is not public; a maintainer adapting soar-ext to the
-- real schema edits soar_ext/db/legacy.py and regenerates this file.
--
-- Use it ONLY to create these tables in an empty schema of a TEST instance
-- (integration tests, training, trial runs). NEVER run it on the production SOAR
-- database: the real tables already exist there and are owned by SOAR. To compare a
-- live database with these assumptions, use `soar-ext doctor` (read-only).
-- 本脚本仅用于在测试库的空模式中建表；严禁在生产 SOAR 数据库上执行。
--
-- Generated from soar_ext/db/legacy.py; do not edit by hand. Regenerate with:
--   {command}
-- Contents: {tables} tables, {indexes} indexes, COMMENT ON for every table and column.
-- Run with SQL*Plus or SQLcl; the file is UTF-8 (client NLS_LANG=.AL32UTF8).
-- Every SQL statement ends with ';'. soar-ext's own objects (prefix sx_) are NOT
-- here: they come from the versioned migrations under sql/oracle/.
-- =============================================================================
SET DEFINE OFF
WHENEVER SQLERROR EXIT FAILURE
"""


class _OracleDdlTypeCompiler(OracleTypeCompiler):
    """Oracle type names as a DBA writes them: ``NUMBER(p, s)`` rather than ANSI ``NUMERIC``."""

    def visit_numeric(self, type_, **kw):  # type: ignore[no-untyped-def]
        return self.visit_NUMBER(type_, **kw)

    def visit_NUMERIC(self, type_, **kw):  # type: ignore[no-untyped-def]
        return self.visit_NUMBER(type_, **kw)

    def visit_DECIMAL(self, type_, **kw):  # type: ignore[no-untyped-def]
        return self.visit_NUMBER(type_, **kw)


def oracle_dialect() -> OracleDialect:
    """An Oracle dialect whose type compiler renders ``NUMBER(p, s)``."""
    dialect = OracleDialect()
    dialect.type_compiler_instance = dialect.type_compiler = _OracleDdlTypeCompiler(dialect)
    return dialect


def oracle_type(type_: TypeEngine, dialect: OracleDialect | None = None) -> str:
    """The Oracle column type of a SQLAlchemy type, e.g. ``VARCHAR2(60 CHAR)``."""
    dialect = dialect or oracle_dialect()
    return dialect.type_compiler_instance.process(type_)


def _tidy(sql: str) -> str:
    """Trim SQLAlchemy's layout: no blank or trailing-space lines, four-space indent."""
    lines = [line.rstrip().replace("\t", "    ") for line in str(sql).strip().splitlines()]
    return "\n".join(line for line in lines if line)


def _table_statements(table: Table, dialect: OracleDialect) -> Iterable[str]:
    yield _tidy(CreateTable(table).compile(dialect=dialect))
    for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
        yield _tidy(CreateIndex(index).compile(dialect=dialect))
    yield _tidy(SetTableComment(table).compile(dialect=dialect))
    for column in table.columns:
        yield _tidy(SetColumnComment(column).compile(dialect=dialect))


def render_oracle_ddl(metadata: MetaData, header: str) -> str:
    """Render CREATE TABLE / CREATE INDEX / COMMENT ON for every table of ``metadata``.

    Tables come in ``metadata.sorted_tables`` order (foreign-key dependencies first),
    indexes by name, column comments in column order. Every statement ends with ``;``.
    Tables or columns without a comment are an error: the DDL must document them all.
    """
    dialect = oracle_dialect()
    missing = [t.name for t in metadata.sorted_tables if not t.comment] + [
        f"{t.name}.{c.name}" for t in metadata.sorted_tables for c in t.columns if not c.comment
    ]
    if missing:
        raise ValueError(f"tables/columns without a comment: {', '.join(missing)}")
    blocks = [header.rstrip("\n")]
    for table in metadata.sorted_tables:
        blocks.append(
            f"-- {table.name}: {table.comment}\n" + "\n".join(stmt + ";" for stmt in _table_statements(table, dialect))
        )
    return "\n\n".join(blocks) + "\n"


def render_legacy_oracle_ddl() -> str:
    """The Oracle script for the assumed SOAR legacy tables (content of ``sql/legacy/``)."""
    tables = legacy_metadata.sorted_tables
    header = _HEADER.format(
        command=REGENERATE_COMMAND,
        tables=len(tables),
        indexes=sum(len(t.indexes) for t in tables),
    )
    return render_oracle_ddl(legacy_metadata, header)


def write_legacy_ddl(path: str | Path = LEGACY_DDL_PATH) -> Path:
    """Write the legacy Oracle DDL (UTF-8, ``\\n`` line ends) to ``path`` and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(render_legacy_oracle_ddl().encode("utf-8"))
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m soar_ext.db.ddl [PATH]``: print the DDL, or write it to PATH."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(write_legacy_ddl(args[0]))
    else:
        # Bytes, so redirecting to a file gives UTF-8 whatever the console locale is.
        sys.stdout.buffer.write(render_legacy_oracle_ddl().encode("utf-8"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
