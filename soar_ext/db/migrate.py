"""Apply soar-ext's own migrations (Alembic, configured in code) and render them for Oracle DBAs.

Online (SQLite, PostgreSQL, Oracle): :func:`upgrade`, :func:`downgrade`, :func:`current`.
Offline: :func:`render_oracle_scripts` / :func:`write_oracle_scripts` produce the scripts
committed under ``sql/oracle/`` — per revision an upgrade script (from its parent), a downgrade
script (back to its parent) and a cleanup script (drops whatever part of the revision's objects a
failed upgrade left behind, since Oracle DDL commits itself), ``/`` as the statement separator,
for SQL*Plus/SQLcl.

A maintainer adds a revision with Alembic's command API::

    from alembic import command
    from soar_ext.db.migrate import alembic_config
    command.revision(alembic_config(), message="sx job state", rev_id="0002")

then regenerates ``sql/oracle/`` from the repository root::

    python -m soar_ext.db.migrate sql/oracle
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Column, Connection, Engine, MetaData, Table, func, inspect, select

from soar_ext.db.engine import make_engine
from soar_ext.db.extension import LEGACY_INDEXES, PREFIX, VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
ORACLE_SCRIPTS_DIR = Path("sql") / "oracle"


def alembic_config() -> Config:
    """An Alembic ``Config`` for soar-ext's migrations, without any ``alembic.ini``."""
    cfg = Config()
    # configparser interpolation: a literal % in the path must be doubled
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    return cfg


def script_directory() -> ScriptDirectory:
    """The migration scripts shipped in ``soar_ext/migrations``."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """Revision id of the newest migration."""
    rev = script_directory().get_current_head()
    assert rev is not None, "soar_ext/migrations/versions holds no revision"
    return rev


@contextmanager
def _engine(url: str | Engine) -> Iterator[Engine]:
    if isinstance(url, Engine):
        yield url
        return
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _run(url: str | Engine, revision: str, direction: str) -> list[str]:
    applied: list[str] = []
    cfg = alembic_config()
    cfg.attributes["applied"] = applied
    cfg.attributes["drop_version_table"] = direction == "downgrade"
    with _engine(url) as engine, engine.begin() as connection:
        cfg.attributes["connection"] = connection
        if direction == "upgrade":
            _require_legacy_tables(connection)
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)
    return applied


class LegacySchemaMissing(RuntimeError):
    """The database lacks SOAR tables that soar-ext's migrations extend."""


def _require_legacy_tables(connection: Connection) -> None:
    needed = sorted({table.name for _name, table, _cols in LEGACY_INDEXES})
    present = set(inspect(connection).get_table_names())
    missing = [name for name in needed if name not in present and name.upper() not in present]
    if missing:
        raise LegacySchemaMissing(
            "this database lacks SOAR tables soar-ext extends: "
            + ", ".join(missing)
            + " (for a demo or test database run `soar-ext db init`)"
        )


def upgrade(url: str | Engine, revision: str = "head") -> list[str]:
    """Upgrade the database to ``revision``; returns the revision ids applied, oldest first.

    Revisions already recorded in ``sx_schema_version`` are skipped, so a second run returns ``[]``.
    """
    return _run(url, revision, "upgrade")


def downgrade(url: str | Engine, revision: str) -> list[str]:
    """Undo migrations down to ``revision`` (``"base"``: remove all of soar-ext's objects).

    Returns the revision ids undone, newest first. This drops tables and columns with whatever
    they hold: check :func:`downgrade_plan` first (``soar-ext db downgrade`` does, and refuses to
    drop data without ``--force``).
    """
    return _run(url, revision, "downgrade")


@dataclass(frozen=True)
class DataLoss:
    """A table or column a downgrade drops, with the rows that hold data in it."""

    table: str
    column: str | None  # None: the whole table
    rows: int

    def describe(self) -> str:
        what = f"column {self.table}.{self.column}" if self.column else f"table {self.table}"
        return f"{what}: {self.rows} row(s) with data"


@dataclass(frozen=True)
class DowngradePlan:
    """What ``downgrade(url, target)`` would undo and the data it would delete."""

    current: str | None
    target: str
    revisions: tuple[str, ...]
    losses: tuple[DataLoss, ...]

    @property
    def deletes_data(self) -> bool:
        return any(loss.rows for loss in self.losses)


def dropped_objects(downgrade_sql: str) -> list[tuple[str, str | None]]:
    """``(table, column)`` of every table (column ``None``) and column a rendered downgrade drops.

    The version table is left out: it holds only the revision number.
    """
    dropped: list[tuple[str, str | None]] = []
    for stmt in _statements(downgrade_sql):
        if m := re.match(r"DROP\s+TABLE\s+(\w+)$", stmt, re.IGNORECASE):
            if m.group(1).lower() != VERSION_TABLE:
                dropped.append((m.group(1).lower(), None))
        elif m := re.match(r"ALTER\s+TABLE\s+(\w+)\s+DROP\s+COLUMN\s+(\w+)$", stmt, re.IGNORECASE):
            dropped.append((m.group(1).lower(), m.group(2).lower()))
    return dropped


def downgrade_plan(url: str | Engine, revision: str) -> DowngradePlan:
    """The revisions a downgrade to ``revision`` undoes and, per dropped table or column, its rows with data.

    ``ValueError`` for a revision that is not known or not below the database's revision.
    """
    known = revisions()
    if revision != "base" and revision not in known:
        raise ValueError(f"unknown revision {revision!r} (known: base, {', '.join(known)})")
    cur = current(url)
    if cur is None or cur == revision:
        return DowngradePlan(cur, revision, (), ())
    if cur not in known:
        raise ValueError(f"the database is at revision {cur}, unknown to this soar-ext")
    below = known[: known.index(cur)]
    if revision != "base" and revision not in below:
        raise ValueError(f"revision {revision} is not below the database's revision {cur}")
    start = 0 if revision == "base" else known.index(revision) + 1
    undone = tuple(reversed(known[start : known.index(cur) + 1]))
    targets = dropped_objects(_render(f"{cur}:{revision}", "downgrade"))
    losses = []
    with _engine(url) as engine, engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for table, column in targets:
            if table not in present:
                continue
            t = Table(table, MetaData(), *([Column(column)] if column else []))
            stmt = select(func.count()).select_from(t)
            if column:
                stmt = stmt.where(t.c[column].is_not(None))
            losses.append(DataLoss(table, column, int(conn.execute(stmt).scalar_one())))
    return DowngradePlan(cur, revision, undone, tuple(losses))


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [s.revision for s in _ordered_scripts()]


def current(url: str | Engine) -> str | None:
    """Revision recorded in the database, ``None`` if soar-ext's migrations were never applied."""
    with _engine(url) as engine, engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def _ordered_scripts() -> list[Script]:
    scripts = list(script_directory().walk_revisions())
    scripts.reverse()  # walk_revisions goes from head to base
    return scripts


def _script_name(script: Script) -> str:
    return Path(script.path).stem  # e.g. 0001_sx_base


def _render(range_: str, direction: str, *, drop_version_table: bool = False) -> str:
    buffer = io.StringIO()
    cfg = alembic_config()
    cfg.output_buffer = buffer
    cfg.attributes["dialect_name"] = "oracle"
    cfg.attributes["drop_version_table"] = drop_version_table
    if direction == "upgrade":
        command.upgrade(cfg, range_, sql=True)
    else:
        command.downgrade(cfg, range_, sql=True)
    # Alembic leaves trailing spaces and runs of blank lines; keep the files tidy for review.
    text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


_HEADER = """\
-- soar-ext migration {rev} ({name}): {what}
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision {expected}.
DECLARE
  expected VARCHAR2(32) := {expected_literal};
  found    VARCHAR2(32);
  n        NUMBER;
BEGIN
  SELECT COUNT(*) INTO n FROM all_tables
   WHERE owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND table_name = '{version_table}';
  IF n > 0 THEN
    EXECUTE IMMEDIATE 'SELECT MAX(version_num) FROM {version_table_lower}' INTO found;
  END IF;
  IF NVL(found, '-') <> NVL(expected, '-') THEN
    RAISE_APPLICATION_ERROR(-20001, 'soar-ext: database is at revision ' || NVL(found, 'base')
      || ', this script needs ' || NVL(expected, 'base'));
  END IF;
END;
/

"""


def _header(rev: str, name: str, what: str, expected: str | None) -> str:
    return _HEADER.format(
        rev=rev,
        name=name,
        what=what,
        expected=expected or "base",
        expected_literal=f"'{expected}'" if expected else "NULL",
        version_table=VERSION_TABLE.upper(),
        version_table_lower=VERSION_TABLE,
    )


_DATA_LOSS_WARNING = """\
-- WARNING: this undo script DELETES what soar-ext recorded; it cannot be rolled back.
-- It drops, with every value they hold:
{objects}
-- These may hold the personal-information access audit and business decisions. Before running
-- it, count what would be lost and export what must be kept:
{counts}
-- `soar-ext db downgrade` shows the same counts and refuses to drop data without --force.
"""


def _with_data_loss_warning(header: str, downgrade_sql: str) -> str:
    """``header`` with a warning naming every table and column the downgrade drops (before its guard)."""
    dropped = dropped_objects(downgrade_sql)
    if not dropped:
        return header
    objects, counts = [], []
    for table, column in dropped:
        if column is None:
            objects.append(f"--   table {table} (all rows)")
            counts.append(f"--   SELECT COUNT(*) FROM {table};")
        else:
            objects.append(f"--   column {table}.{column}")
            counts.append(f"--   SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL;")
    warning = _DATA_LOSS_WARNING.format(objects="\n".join(objects), counts="\n".join(counts))
    marker = "WHENEVER SQLERROR"
    at = header.index(marker)
    return header[:at] + warning + header[at:]


# Oracle error codes a cleanup block ignores: the object is not there (never created, or
# already dropped by an earlier run of the same cleanup script).
_ORA_TABLE_MISSING = -942  # ORA-00942: table or view does not exist
_ORA_INDEX_MISSING = -1418  # ORA-01418: specified index does not exist
_ORA_COLUMN_MISSING = -904  # ORA-00904: invalid identifier (the column was never added)

_CLEANUP_NOTE = """\
-- Use ONLY after {name}.upgrade.sql stopped with an error part-way. Oracle commits every
-- CREATE at once, so the objects made before the error remain while sx_schema_version still
-- says {parent}; re-running the upgrade would then stop at ORA-00955 (name already used).
-- This script drops those of the revision's objects that exist: indexes first, then added
-- columns, then tables.
{version_line}-- Objects that do not exist are skipped; nothing else is touched (no SOAR table, no object
-- of another revision). The guard above refuses to run once the upgrade has been recorded
-- (use the downgrade script then). Afterwards run {name}.upgrade.sql again.

"""

_CLEANUP_BLOCK = """BEGIN
  EXECUTE IMMEDIATE 'DROP {kind} {obj}';
EXCEPTION WHEN OTHERS THEN
  IF SQLCODE NOT IN ({table_missing}, {index_missing}) THEN RAISE; END IF;
END;
/

"""

_CLEANUP_COLUMN_BLOCK = """BEGIN
  EXECUTE IMMEDIATE 'ALTER TABLE {table} DROP COLUMN {column}';
EXCEPTION WHEN OTHERS THEN
  IF SQLCODE NOT IN ({table_missing}, {column_missing}) THEN RAISE; END IF;
END;
/

"""


def _statements(sql: str) -> list[str]:
    """Statements of rendered offline SQL (``/`` separated), without comment lines."""
    statements = []
    for block in re.split(r"^/$", sql, flags=re.MULTILINE):
        lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("--")]
        if lines:
            statements.append("\n".join(lines).strip())
    return statements


def _cleanup_targets(upgrade_sql: str, rev: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Indexes, added columns ``(table, column)`` and tables an upgrade script creates, each newest first.

    Raises ``ValueError`` for a statement the cleanup script cannot undo, so a new kind of
    migration step gets a deliberate cleanup instead of a silent gap.
    """
    indexes: list[str] = []
    columns: list[tuple[str, str]] = []
    tables: list[str] = []
    for stmt in _statements(upgrade_sql):
        if m := re.match(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(\w+)\s+ON\s+(\w+)", stmt, re.IGNORECASE):
            name = m.group(1).lower()
            if not name.startswith("ix_" + PREFIX):
                raise ValueError(f"revision {rev}: index {name} is not named ix_{PREFIX}…")
            indexes.append(name)
        elif m := re.match(r"CREATE\s+TABLE\s+(\w+)", stmt, re.IGNORECASE):
            name = m.group(1).lower()
            if not name.startswith(PREFIX):
                raise ValueError(f"revision {rev}: table {name} does not start with {PREFIX}")
            tables.append(name)
        elif m := re.match(r"ALTER\s+TABLE\s+(\w+)\s+ADD\s+(\w+)\s", stmt, re.IGNORECASE):
            table, column = m.group(1).lower(), m.group(2).lower()
            if table in tables:
                continue  # changes to a table created here go with the table
            if not table.startswith(PREFIX) or column == "constraint":
                raise ValueError(
                    f"revision {rev}: no cleanup is generated for {stmt.splitlines()[0]!r}; extend migrate.py"
                )
            columns.append((table, column))
        elif m := re.match(r"ALTER\s+TABLE\s+(\w+)", stmt, re.IGNORECASE):
            if m.group(1).lower() not in tables:  # changes to a table created here go with the table
                raise ValueError(
                    f"revision {rev}: no cleanup is generated for {stmt.splitlines()[0]!r}; extend migrate.py"
                )
        elif re.match(r"(COMMENT\s+ON\s|COMMIT$)", stmt, re.IGNORECASE) or re.match(
            rf"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+{VERSION_TABLE}\b", stmt, re.IGNORECASE
        ):
            continue  # comments go with their object; the version row is what the guard reads
        else:
            raise ValueError(f"revision {rev}: no cleanup is generated for {stmt.splitlines()[0]!r}; extend migrate.py")
    return indexes[::-1], columns[::-1], tables[::-1]


def _render_cleanup(rev: str, name: str, parent: str, upgrade_sql: str) -> str:
    at_base = parent == "base"
    indexes, columns, tables = _cleanup_targets(upgrade_sql, rev)
    if at_base:  # the base revision also created the version table: drop it last
        tables = [t for t in tables if t != VERSION_TABLE] + [VERSION_TABLE]
    else:
        tables = [t for t in tables if t != VERSION_TABLE]
    parts = [
        _header(rev, name, f"cleanup after a failed upgrade {parent} -> {rev}", None if at_base else parent),
        _CLEANUP_NOTE.format(
            name=name,
            parent=parent,
            version_line=f"-- Being the first revision, it finally drops {VERSION_TABLE} as well.\n" if at_base else "",
        ),
    ]
    codes = {"table_missing": _ORA_TABLE_MISSING, "index_missing": _ORA_INDEX_MISSING}
    parts += [_CLEANUP_BLOCK.format(kind="INDEX", obj=obj, **codes) for obj in indexes]
    parts += [
        _CLEANUP_COLUMN_BLOCK.format(
            table=table, column=column, table_missing=_ORA_TABLE_MISSING, column_missing=_ORA_COLUMN_MISSING
        )
        for table, column in columns
    ]
    parts += [_CLEANUP_BLOCK.format(kind="TABLE", obj=obj, **codes) for obj in tables]
    return "".join(parts).rstrip("\n") + "\n"


def render_oracle_scripts() -> dict[str, str]:
    """Oracle SQL for every revision: ``<stem>.upgrade.sql``, ``<stem>.downgrade.sql``, ``<stem>.cleanup.sql``.

    The upgrade script goes from the revision's parent to the revision, the downgrade script
    back to the parent; apply upgrades in file-name order, downgrades in reverse order. The
    cleanup script is for recovery only: after the revision's upgrade failed part-way (the
    database still at the parent revision), it drops whichever of the revision's objects exist,
    so the upgrade can be run again.
    """
    scripts: dict[str, str] = {}
    for script in _ordered_scripts():
        rev = script.revision
        parent = script.down_revision or "base"
        if not isinstance(parent, str):
            raise ValueError(f"revision {rev} merges several parents; render it by hand")
        name = _script_name(script)
        at_base = parent == "base"
        upgrade_sql = _render(f"{parent}:{rev}", "upgrade")
        scripts[f"{name}.upgrade.sql"] = (
            _header(rev, name, f"upgrade {parent} -> {rev}", None if at_base else parent) + upgrade_sql
        )
        downgrade_sql = _render(f"{rev}:{parent}", "downgrade", drop_version_table=at_base)
        header = _header(rev, name, f"downgrade {rev} -> {parent}", rev)
        scripts[f"{name}.downgrade.sql"] = _with_data_loss_warning(header, downgrade_sql) + downgrade_sql
        scripts[f"{name}.cleanup.sql"] = _render_cleanup(rev, name, parent, upgrade_sql)
    return scripts


def write_oracle_scripts(directory: str | Path = ORACLE_SCRIPTS_DIR) -> list[Path]:
    """Write :func:`render_oracle_scripts` into ``directory`` (UTF-8, LF); returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, sql in render_oracle_scripts().items():
        path = target / file_name
        path.write_text(sql, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m soar_ext.db.migrate [DIRECTORY]``: rewrite the Oracle scripts (default ``sql/oracle``)."""
    args = sys.argv[1:] if argv is None else argv
    for path in write_oracle_scripts(args[0] if args else ORACLE_SCRIPTS_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
