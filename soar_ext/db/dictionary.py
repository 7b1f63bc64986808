"""The data dictionary (``docs/data-dictionary.md``), rendered from the table and code definitions.

Sources: :mod:`soar_ext.db.legacy` (assumed SOAR tables), :mod:`soar_ext.db.extension`
(soar-ext's ``sx_`` tables and the indexes it adds to legacy tables) and
:mod:`soar_ext.db.codes` (code values). Regenerate after changing any of them::

    python -m soar_ext.db.dictionary docs/data-dictionary.md

A test checks that the committed file is current.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from sqlalchemy import Column, ForeignKeyConstraint, Table, UniqueConstraint

from soar_ext.db import codes
from soar_ext.db.ddl import oracle_dialect, oracle_type
from soar_ext.db.extension import EXT_TABLES, LEGACY_INDEXES, VERSION_TABLE
from soar_ext.db.legacy import LEGACY_TABLES

DICTIONARY_PATH = Path("docs") / "data-dictionary.md"
"""Where the rendered dictionary is committed, relative to the repository root."""

REGENERATE_COMMAND = "python -m soar_ext.db.dictionary docs/data-dictionary.md"

_CODE_COLUMN = re.compile(r"``([A-Z]+)``")


def code_classes() -> list[type]:
    """The code-table classes of :mod:`soar_ext.db.codes`, in source order."""
    found = [
        obj
        for _, obj in inspect.getmembers(codes, inspect.isclass)
        if obj.__module__ == codes.__name__ and isinstance(getattr(obj, "LABELS", None), dict)
    ]
    return sorted(found, key=lambda cls: inspect.getsourcelines(cls)[1])


def _code_title(cls: type) -> tuple[str, str | None]:
    """(Chinese title, column name) from a docstring like ``保障类型 (``BZLX``).``."""
    doc = inspect.getdoc(cls) or cls.__name__
    first = doc.splitlines()[0]
    match = _CODE_COLUMN.search(first)
    title = first.split("(")[0].strip().rstrip(".") or cls.__name__
    return title, match.group(1).lower() if match else None


def _code_links() -> dict[str, str]:
    """Column name -> markdown link to its code table."""
    links = {}
    for cls in code_classes():
        _, column = _code_title(cls)
        if column:
            links[column] = f"[{cls.__name__}](#{cls.__name__.lower()})"
    return links


def _escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _column_notes(column: Column, table: Table, links: dict[str, str]) -> str:
    notes = []
    if column.primary_key:
        notes.append("主键")
    notes.extend(f"外键 → {fk.target_fullname}" for fk in column.foreign_keys)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and list(constraint.columns.keys()) == [column.name]:
            notes.append("唯一")
    if column.name in links:
        notes.append("代码表 " + links[column.name])
    elif column.name == "qx":
        notes.append("代码表 [DISTRICTS](#districts)")
    return "；".join(notes)


def _table_section(table: Table, links: dict[str, str]) -> list[str]:
    dialect = oracle_dialect()
    lines = [f"### `{table.name}` — {table.comment}", ""]
    lines += ["| 列名 | Oracle 类型 | 可空 | 说明 | 备注 |", "|---|---|---|---|---|"]
    for column in table.columns:
        nullable = "是" if column.nullable and not column.primary_key else "否"
        lines.append(
            f"| `{column.name}` | {oracle_type(column.type, dialect)} | {nullable} | "
            f"{_escape(column.comment or '')} | {_column_notes(column, table, links)} |"
        )
    extras = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, UniqueConstraint | ForeignKeyConstraint) and len(constraint.columns) == 1:
            continue  # shown per column
        cols = ", ".join(c.name for c in constraint.columns)
        kind = type(constraint).__name__.replace("Constraint", "")
        if kind == "Check":
            extras.append(f"`{constraint.name}` CHECK ({constraint.sqltext})")
        elif kind != "PrimaryKey":
            extras.append(f"`{constraint.name}` {kind.upper()} ({cols})")
    extras += [
        f"`{ix.name}` INDEX ({', '.join(c.name for c in ix.columns)})"
        for ix in sorted(table.indexes, key=lambda ix: str(ix.name))
    ]
    if extras:
        lines += ["", "约束与索引：" + "；".join(extras)]
    return [*lines, ""]


def _code_section(cls: type) -> list[str]:
    title, column = _code_title(cls)
    where = f"（列 `{column}`）" if column else ""
    lines = [f"### {cls.__name__}", "", f"{title}{where}", "", "| 代码 | 含义 |", "|---|---|"]
    lines += [f"| `{code}` | {_escape(label)} |" for code, label in cls.LABELS.items()]  # type: ignore[attr-defined]
    return [*lines, ""]


def render_data_dictionary() -> str:
    """The full data dictionary as Markdown (deterministic; tables in name order)."""
    links = _code_links()
    legacy = sorted(LEGACY_TABLES, key=lambda t: t.name)
    ext = sorted(EXT_TABLES, key=lambda t: t.name)
    out = [
        "# Data dictionary",
        "",
        "Generated from `soar_ext/db/legacy.py`, `soar_ext/db/extension.py` and `soar_ext/db/codes.py`;",
        f"do not edit by hand. Regenerate with `{REGENERATE_COMMAND}`.",
        "",
        "Types are the Oracle types (`VARCHAR2(n CHAR)` counts characters, `DATE` carries a time).",
        "SQLite and PostgreSQL use the equivalent SQLAlchemy types.",
        "",
        "## 1. Assumed SOAR legacy tables",
        "",
        "SOAR's real schema is not public: these are the tables soar-ext assumes and accesses only",
        "through `soar_ext/db/legacy.py` (Oracle DDL: `sql/legacy/soar_legacy_schema.sql`).",
        "",
        "| 表名 | 说明 | 列数 |",
        "|---|---|---|",
    ]
    out += [f"| [`{t.name}`](#{t.name}--{t.comment}) | {t.comment} | {len(t.columns)} |" for t in legacy]
    out.append("")
    for table in legacy:
        out += _table_section(table, links)
    out += [
        "## 2. soar-ext tables (prefix `sx_`)",
        "",
        "Created by soar-ext's additive migrations (Oracle scripts under `sql/oracle/`); the",
        f"migration tool's own version table is `{VERSION_TABLE}`.",
        "",
    ]
    for table in ext:
        out += _table_section(table, links)
    out += [
        "### Indexes soar-ext adds to legacy tables",
        "",
        "New, explicitly named objects; no legacy object is changed.",
        "",
        "| 索引名 | 表 | 列 |",
        "|---|---|---|",
    ]
    out += [f"| `{name}` | `{table.name}` | {', '.join(cols)} |" for name, table, cols in LEGACY_INDEXES]
    out += ["", "## 3. Code tables", "", "Code values stored in legacy columns, from `soar_ext/db/codes.py`.", ""]
    for cls in code_classes():
        out += _code_section(cls)
    out += ["### DISTRICTS", "", "区县代码（列 `qx`）", "", "| 代码 | 区县 |", "|---|---|"]
    out += [f"| `{code}` | {name} |" for code, name in codes.DISTRICTS.items()]
    return "\n".join(out) + "\n"


def write_data_dictionary(path: str | Path = DICTIONARY_PATH) -> Path:
    """Write the dictionary (UTF-8) to ``path`` and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(render_data_dictionary().encode("utf-8"))
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m soar_ext.db.dictionary [PATH]``: print the dictionary, or write it to PATH."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(write_data_dictionary(args[0]))
    else:
        sys.stdout.buffer.write(render_data_dictionary().encode("utf-8"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
