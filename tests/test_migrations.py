"""soar-ext's own migrations: clean upgrade/downgrade cycles, additive-only Oracle scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Inspector

from soar_ext.db import migrate
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import LEGACY_INDEXES, PREFIX, VERSION_TABLE, ext_metadata
from soar_ext.db.legacy import legacy_metadata

REPO = Path(__file__).resolve().parent.parent
ORACLE_DIR = REPO / "sql" / "oracle"
REGENERATE = "python -m soar_ext.db.migrate sql/oracle   (from the repository root)"
# every revision id, oldest first
REVISIONS = [script.revision for script in reversed(list(migrate.script_directory().walk_revisions()))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database holding the assumed legacy tables, as SOAR's database would."""
    url = f"sqlite:///{tmp_path / 'soar.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    engine.dispose()
    return url


def _indexes(insp: Inspector, table: str) -> list[tuple[str, tuple[str, ...]]]:
    """Named indexes, without the ones PostgreSQL reports for unique constraints."""
    return sorted(
        (i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table) if "duplicates_constraint" not in i
    )


def _schema(engine: Engine) -> dict[str, dict[str, object]]:
    """Everything reflection shows about every table, in comparable form."""
    insp = inspect(engine)
    out: dict[str, dict[str, object]] = {}
    for name in sorted(insp.get_table_names()):
        out[name] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("comment")) for c in insp.get_columns(name)],
            "pk": insp.get_pk_constraint(name),
            "indexes": _indexes(insp, name),
            "uniques": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(name)),
            "checks": sorted(str(c["name"]) for c in insp.get_check_constraints(name)),
            "fks": sorted((f["name"], f["referred_table"]) for f in insp.get_foreign_keys(name)),
        }
    return out


def _ours(schema: dict[str, dict[str, object]]) -> set[str]:
    return {name for name in schema if name.startswith(PREFIX)}


def test_upgrade_downgrade_upgrade_cycle_changes_only_soar_ext_objects(db_url: str):
    engine = make_engine(db_url)
    before = _schema(engine)
    assert migrate.current(db_url) is None

    assert migrate.upgrade(db_url) == REVISIONS
    assert migrate.current(db_url) == migrate.head()
    upgraded = _schema(engine)
    assert _ours(upgraded) == {t.name for t in ext_metadata.tables.values()} | {VERSION_TABLE}
    for name, table, columns in LEGACY_INDEXES:
        assert (name, columns) in upgraded[table.name]["indexes"]

    assert migrate.downgrade(db_url, "base") == REVISIONS[::-1]
    assert migrate.current(db_url) is None
    assert _schema(engine) == before  # no sx_ table, no ix_sx_ index, legacy objects as they were

    assert migrate.upgrade(db_url) == REVISIONS
    assert _schema(engine) == upgraded
    engine.dispose()


def test_second_upgrade_applies_nothing(db_url: str):
    assert migrate.upgrade(db_url) == REVISIONS
    engine = make_engine(db_url)
    once = _schema(engine)
    assert migrate.upgrade(db_url) == []
    for revision in REVISIONS:
        assert migrate.upgrade(db_url, revision) == []
    assert _schema(engine) == once
    engine.dispose()


def test_upgraded_database_matches_ext_metadata(db_url: str):
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    insp = inspect(engine)
    comments = engine.dialect.supports_comments
    for table in ext_metadata.sorted_tables:
        reflected = {c["name"]: c for c in insp.get_columns(table.name)}
        assert list(reflected) == [c.name for c in table.columns], table.name
        for column in table.columns:
            got = reflected[column.name]
            assert got["nullable"] == column.nullable, f"{table.name}.{column.name}"
            assert got["type"]._type_affinity is column.type._type_affinity, f"{table.name}.{column.name}"
            for attr in ("length", "precision", "scale"):
                assert getattr(got["type"], attr, None) == getattr(column.type, attr, None), (
                    f"{table.name}.{column.name}.{attr}"
                )
            if comments:
                assert got.get("comment") == column.comment, f"{table.name}.{column.name}"
        if comments:
            assert insp.get_table_comment(table.name)["text"] == table.comment
        assert insp.get_pk_constraint(table.name)["name"] == table.primary_key.name
        assert _indexes(insp, table.name) == sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes)
        uniques = {u["name"] for u in insp.get_unique_constraints(table.name)}
        checks = {c["name"] for c in insp.get_check_constraints(table.name)}
        for constraint in table.constraints:
            kind = type(constraint).__name__
            if kind == "UniqueConstraint":
                assert constraint.name in uniques
            elif kind == "CheckConstraint":
                assert constraint.name in checks
    engine.dispose()


def test_migrations_run_from_any_directory_without_alembic_ini(db_url: str, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "alembic.ini").exists()
    assert migrate.upgrade(db_url) == REVISIONS
    assert migrate.downgrade(db_url, "base") == REVISIONS[::-1]


def test_upgrade_accepts_an_engine_and_downgrade_of_empty_database_is_harmless(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    legacy_metadata.create_all(engine)
    assert migrate.downgrade(engine, "base") == []
    assert VERSION_TABLE not in inspect(engine).get_table_names()
    assert migrate.upgrade(engine) == REVISIONS
    assert migrate.current(engine) == REVISIONS[-1]
    engine.dispose()


def test_head_is_the_newest_revision_and_revisions_form_one_chain_from_0001():
    assert migrate.head() == REVISIONS[-1]
    assert REVISIONS[0] == "0001"
    assert len(migrate.script_directory().get_heads()) == 1


def test_upgrade_and_downgrade_one_revision_at_a_time(db_url: str):
    engine = make_engine(db_url)
    before = _schema(engine)
    for revision in REVISIONS:
        assert migrate.upgrade(db_url, revision) == [revision]
    for parent, revision in reversed(list(zip(["base", *REVISIONS], REVISIONS, strict=False))):
        assert migrate.downgrade(db_url, parent) == [revision]
    assert _schema(engine) == before
    engine.dispose()


# --- Oracle offline scripts ------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    """SQL statements of a rendered script: separated by '/' lines; comments and SQL*Plus commands dropped."""
    statements = []
    for block in re.split(r"^/$", sql, flags=re.MULTILINE):
        lines = [
            line
            for line in block.splitlines()
            if line.strip() and not line.startswith("--") and not re.match(r"(WHENEVER|SET) ", line)
        ]
        if lines:
            statements.append("\n".join(lines).strip())
    return statements


def _is_guard(statement: str) -> bool:
    return statement.startswith("DECLARE")


def _is_plsql(statement: str) -> bool:
    return statement.startswith(("DECLARE", "BEGIN"))


def test_committed_oracle_scripts_are_up_to_date():
    rendered = migrate.render_oracle_scripts()
    committed = {p.name: p.read_text(encoding="utf-8") for p in ORACLE_DIR.glob("*.sql")}
    assert sorted(committed) == sorted(rendered), f"sql/oracle/ is out of date; regenerate with: {REGENERATE}"
    for name, text in rendered.items():
        assert committed[name] == text, f"sql/oracle/{name} is out of date; regenerate with: {REGENERATE}"


def test_every_revision_has_an_upgrade_a_downgrade_and_a_cleanup_script():
    rendered = migrate.render_oracle_scripts()
    stems = [Path(script.path).stem for script in reversed(list(migrate.script_directory().walk_revisions()))]
    assert list(rendered) == [f"{stem}.{kind}.sql" for stem in stems for kind in ("upgrade", "downgrade", "cleanup")]
    assert stems[0] == "0001_sx_base"


def test_oracle_upgrade_scripts_are_additive_only():
    for name, sql in migrate.render_oracle_scripts().items():
        if not name.endswith(".upgrade.sql"):
            continue
        for stmt in _statements(sql):
            if _is_guard(stmt):
                continue
            head = stmt.split("(")[0].upper()
            assert not re.match(r"\s*(DROP|RENAME|TRUNCATE)\b", head), f"{name}: {stmt}"
            if re.match(r"\s*ALTER\b", head):
                # only additions to soar-ext's own tables; a new column must be nullable
                target = re.match(r"\s*ALTER\s+TABLE\s+(\w+)\s+(\w+)", stmt, re.IGNORECASE)
                assert target and target.group(1).lower().startswith(PREFIX), f"{name}: {stmt}"
                assert target.group(2).upper() == "ADD", f"{name}: {stmt}"
                if not re.search(r"\bADD\s+CONSTRAINT\b", stmt, re.IGNORECASE):
                    assert "NOT NULL" not in stmt.upper(), f"{name}: new columns must be nullable: {stmt}"
                continue
            created = re.match(r"\s*CREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX)\s+(\w+)", stmt, re.IGNORECASE)
            if created:
                kind, obj = created.group(1).upper(), created.group(2).lower()
                prefix = PREFIX if kind == "TABLE" else "ix_" + PREFIX
                assert obj.startswith(prefix), f"{name}: {stmt}"
            else:
                # comments only on soar-ext objects: COMMENT ON a SOAR table would overwrite SOAR's own
                allowed = r"\s*(COMMENT ON (TABLE|COLUMN) sx_|INSERT INTO sx_|UPDATE sx_|COMMIT)"
                assert re.match(allowed, stmt), f"{name}: {stmt}"


def _created_objects(upgrade_sql: str) -> set[str]:
    """Tables and indexes (``name``) and added columns/constraints (``table.name``) an upgrade creates."""
    created = set()
    for stmt in _statements(upgrade_sql):
        if m := re.match(r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+(\w+)", stmt, re.IGNORECASE):
            created.add(m.group(1).lower())
        elif m := re.match(r"ALTER\s+TABLE\s+(\w+)\s+ADD\s+(?:CONSTRAINT\s+)?(\w+)", stmt, re.IGNORECASE):
            created.add(f"{m.group(1)}.{m.group(2)}".lower())
    return created


def test_oracle_downgrade_scripts_drop_only_soar_ext_objects_they_created():
    scripts = migrate.render_oracle_scripts()
    for name, sql in scripts.items():
        if not name.endswith(".downgrade.sql"):
            continue
        dropped = set()
        for stmt in _statements(sql):
            if _is_guard(stmt) or re.match(r"(DELETE FROM sx_|UPDATE sx_|COMMIT$)", stmt):
                continue
            if stmt == f"DROP TABLE {VERSION_TABLE}":
                assert name.startswith("0001_"), f"{name}: only the first revision owns the version table"
                continue
            if m := re.match(r"DROP\s+(?:TABLE|INDEX)\s+(\w+)$", stmt, re.IGNORECASE):
                obj = m.group(1).lower()
                assert obj.startswith(PREFIX) or obj.startswith("ix_" + PREFIX), f"{name}: {stmt}"
                dropped.add(obj)
            elif m := re.match(r"ALTER\s+TABLE\s+(\w+)\s+DROP\s+(?:COLUMN|CONSTRAINT)\s+(\w+)$", stmt, re.I):
                assert m.group(1).lower().startswith(PREFIX), f"{name}: {stmt}"
                dropped.add(f"{m.group(1)}.{m.group(2)}".lower())
            else:
                pytest.fail(f"{name}: unexpected statement in a downgrade: {stmt}")
        created = _created_objects(scripts[name.replace(".downgrade.", ".upgrade.")])
        assert dropped == created - {VERSION_TABLE}, name


# --- cleanup after a failed Oracle upgrade -------------------------------------------------------

_CLEANUP_BLOCK = re.compile(
    r"^BEGIN\n  EXECUTE IMMEDIATE 'DROP (TABLE|INDEX) (\w+)';\n"
    r"EXCEPTION WHEN OTHERS THEN\n  IF SQLCODE NOT IN \(-942, -1418\) THEN RAISE; END IF;\nEND;$"
)
_CLEANUP_COLUMN_BLOCK = re.compile(
    r"^BEGIN\n  EXECUTE IMMEDIATE 'ALTER TABLE (\w+) DROP COLUMN (\w+)';\n"
    r"EXCEPTION WHEN OTHERS THEN\n  IF SQLCODE NOT IN \(-942, -904\) THEN RAISE; END IF;\nEND;$"
)


def _cleanup_drops(sql: str) -> list[tuple[str, str]]:
    """(kind, object) of every DROP in a cleanup script, in order; fails on anything else.

    A dropped column is ``("COLUMN", "table.column")``.
    """
    drops = []
    for stmt in _statements(sql)[1:]:  # after the revision guard
        if m := _CLEANUP_COLUMN_BLOCK.match(stmt):
            drops.append(("COLUMN", f"{m.group(1)}.{m.group(2)}".lower()))
            continue
        m = _CLEANUP_BLOCK.match(stmt)
        assert m, f"unexpected statement in a cleanup script: {stmt}"
        drops.append((m.group(1), m.group(2).lower()))
    # no other DROP anywhere in the code (e.g. hidden in the guard)
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    assert len(re.findall(r"\bDROP\b", code, re.IGNORECASE)) == len(drops)
    return drops


def _cleanup_scripts() -> dict[str, str]:
    scripts = {n: s for n, s in migrate.render_oracle_scripts().items() if n.endswith(".cleanup.sql")}
    assert scripts, "no cleanup scripts rendered"
    return scripts


def test_every_revision_has_a_cleanup_script_guarded_by_the_parent_revision():
    scripts = migrate.render_oracle_scripts()
    upgrades = [n for n in scripts if n.endswith(".upgrade.sql")]
    assert sorted(_cleanup_scripts()) == sorted(n.replace(".upgrade.", ".cleanup.") for n in upgrades)
    for name, sql in _cleanup_scripts().items():
        guard = _statements(sql)[0]
        upgrade_guard = _statements(scripts[name.replace(".cleanup.", ".upgrade.")])[0]
        # runs only where the upgrade itself would start: the revision was never recorded
        assert guard == upgrade_guard, name
        assert "ORA-00955" in sql and name.replace(".cleanup.", ".upgrade.") in sql


def test_cleanup_scripts_drop_only_soar_ext_objects():
    legacy = {t.name.lower() for t in legacy_metadata.tables.values()}
    for name, sql in _cleanup_scripts().items():
        for kind, obj in _cleanup_drops(sql):
            if kind == "TABLE":
                assert obj.startswith(PREFIX), f"{name}: DROP TABLE {obj}"
                assert obj not in legacy, f"{name}: drops the SOAR table {obj}"
            elif kind == "COLUMN":
                assert obj.startswith(PREFIX), f"{name}: DROP COLUMN {obj}"
            else:
                assert obj.startswith("ix_" + PREFIX), f"{name}: DROP INDEX {obj}"
        # also as plain text: no legacy table name follows a DROP anywhere
        for target in re.findall(r"DROP\s+\w+\s+(\w+)", sql, re.IGNORECASE):
            assert target.lower() not in legacy, f"{name}: {target}"


def test_cleanup_scripts_cover_every_object_the_revision_creates_indexes_first():
    scripts = migrate.render_oracle_scripts()
    for name, sql in _cleanup_scripts().items():
        drops = _cleanup_drops(sql)
        dropped = [obj for _kind, obj in drops]
        assert len(dropped) == len(set(dropped)), name
        created = _created_objects(scripts[name.replace(".cleanup.", ".upgrade.")])
        assert set(dropped) == created, name
        kinds = [kind for kind, _obj in drops]
        order = {"INDEX": 0, "COLUMN": 1, "TABLE": 2}
        assert kinds == sorted(kinds, key=order.__getitem__), f"{name}: indexes first, then columns, then tables"
        if name.startswith("0001_"):
            assert drops[-1] == ("TABLE", VERSION_TABLE), name
        else:
            assert VERSION_TABLE not in dropped, f"{name}: only the first revision owns the version table"


def test_cleanup_scripts_together_name_every_soar_ext_object_of_the_extension_metadata():
    """Independent of the rendered upgrades: the tables and indexes extension.py declares."""
    dropped = {obj for sql in _cleanup_scripts().values() for kind, obj in _cleanup_drops(sql) if kind != "COLUMN"}
    expected = {VERSION_TABLE} | {name for name, _table, _cols in LEGACY_INDEXES}
    for table in ext_metadata.tables.values():
        expected.add(table.name)
        expected |= {str(index.name) for index in table.indexes}
    assert dropped == expected


def test_cleanup_refuses_revisions_it_cannot_undo():
    with pytest.raises(ValueError, match="no cleanup"):
        migrate._cleanup_targets("ALTER TABLE tpg_zlht ADD sx_flag NUMBER(1)\n\n/\n", "0099")
    with pytest.raises(ValueError, match="ix_sx_"):
        migrate._cleanup_targets("CREATE INDEX tpg_idx ON tpg_zlht (htzt)\n\n/\n", "0099")
    with pytest.raises(ValueError, match="sx_"):
        migrate._cleanup_targets("CREATE TABLE tpg_new (id NUMBER)\n\n/\n", "0099")


@pytest.mark.parametrize("forbidden", ["RETURNING", "BOOLEAN", "SERIAL", "AUTOINCREMENT", "TEXT,"])
def test_oracle_scripts_avoid_constructs_oracle_rejects(forbidden: str):
    for name, sql in migrate.render_oracle_scripts().items():
        code = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        assert forbidden not in code.upper(), f"{name} contains {forbidden}"


def test_oracle_scripts_use_slash_separators_and_start_with_a_revision_guard():
    for name, sql in migrate.render_oracle_scripts().items():
        statements = _statements(sql)
        assert _is_guard(statements[0]), name
        if name.endswith(".cleanup.sql"):
            assert all(_is_plsql(stmt) and stmt.endswith("END;") for stmt in statements), name
        else:
            assert statements[-1] in ("COMMIT", "DROP TABLE sx_schema_version"), name
            assert not any(stmt.rstrip().endswith(";") and not _is_guard(stmt) for stmt in statements), name
        assert "WHENEVER SQLERROR EXIT" in sql


def test_oracle_identifiers_fit_30_bytes():
    for name, sql in migrate.render_oracle_scripts().items():
        code = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        code = re.sub(r"'[^']*'", "''", code)  # string literals (comments) are not identifiers
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_$#]*", code):
            assert len(word.encode()) <= 30, f"{name}: {word}"
