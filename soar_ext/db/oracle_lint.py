"""Check SQLAlchemy statements against Oracle rules we cannot test on a live Oracle here.

Each statement is compiled with the Oracle dialect as a pre-12.2 database would see it
(``max_identifier_length=30``, so SQLAlchemy shortens the labels and bind names it generates
itself) with expanding IN lists rendered as individual binds, then checked for:

- an IN list of more than 1000 expressions (ORA-01795) — use :func:`soar_ext.db.portability.in_chunks`;
- an identifier longer than 30 bytes (ORA-00972 before 12.2): tables, columns, indexes,
  constraints, aliases and bind names as they appear in the SQL;
- a BOOLEAN type (none before 23ai) — use ``NUMBER(1)`` with a named check;
- a bare ``true()``/``false()`` as a condition (rendered ``1``/``0``, not a condition in Oracle);
- ``FOR UPDATE`` together with a row limit (ORA-02014) — claim rows with a locking cursor and
  ``fetchmany`` instead.

:class:`StatementRecorder` collects what a piece of code executes, for linting afterwards::

    with StatementRecorder(engine) as recorder:
        run_scenario(engine)
    assert recorder.lint() == []
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Engine, MetaData, event, exc
from sqlalchemy.dialects import oracle
from sqlalchemy.schema import BaseDDLElement, CreateIndex, CreateTable
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter, Cast, ClauseElement, ColumnClause, TextClause
from sqlalchemy.sql.selectable import Select

MAX_IN_LIST = 1000
MAX_IDENTIFIER_BYTES = 30

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_QUOTED_IDENTIFIER = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
_IN_OPEN = re.compile(r"\bIN\s*\(", re.IGNORECASE)
_BARE_CONSTANT = re.compile(
    r"\b(WHERE|HAVING|ON|AND|OR|NOT|WHEN)\s+\(?\s*[01]\s*\)?(?=\s*(?:$|\)|AND\b|OR\b|ORDER\b|GROUP\b|FOR\b|FETCH\b|THEN\b))",
    re.IGNORECASE,
)


def oracle_lint_dialect() -> oracle.dialect:
    """The Oracle dialect used for linting: identifier limit of a pre-12.2 database."""
    return oracle.dialect(max_identifier_length=MAX_IDENTIFIER_BYTES)


def _excerpt(sql: str, limit: int = 160) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _with_values(stmt: ClauseElement, params: Mapping[str, Any]) -> ClauseElement:
    """Copy of ``stmt`` whose bind parameters carry the execution-time values (expanding IN lists)."""

    def visit_bindparam(bind: BindParameter[Any]) -> None:
        if bind.key in params:
            bind.value = params[bind.key]
            bind.required = False

    return visitors.cloned_traverse(stmt, {"maintain_key": True}, {"bindparam": visit_bindparam})


def _compile(stmt: ClauseElement, params: Mapping[str, Any] | None) -> str:
    dialect = oracle_lint_dialect()
    if isinstance(stmt, BaseDDLElement):
        return str(stmt.compile(dialect=dialect))
    column_keys = None
    if params:
        if isinstance(stmt, UpdateBase):
            column_keys = list(params)
        stmt = _with_values(stmt, params)
    try:
        return str(stmt.compile(dialect=dialect, column_keys=column_keys, compile_kwargs={"render_postcompile": True}))
    except exc.InvalidRequestError:
        # an expanding IN without a value: lint the statement without expanding it
        return str(stmt.compile(dialect=dialect, column_keys=column_keys))


def _in_list_sizes(sql: str) -> Iterator[int]:
    """Number of top-level items of every ``IN (...)`` list (subqueries and tuple lists skipped)."""
    for match in _IN_OPEN.finditer(sql):
        start = match.end()
        if re.match(r"\s*SELECT\b", sql[start:], re.IGNORECASE):
            continue
        depth, items, pos, tuples = 1, 1, start, False
        while pos < len(sql) and depth:
            char = sql[pos]
            if char == "(":
                depth += 1
                if depth == 2 and not sql[start:pos].strip(" ,"):
                    tuples = True
            elif char == ")":
                depth -= 1
            elif char == "," and depth == 1:
                items += 1
            pos += 1
        if not tuples:  # Oracle does not limit multi-column (tuple) IN lists
            yield items


def _identifiers(sql: str) -> Iterator[str]:
    yield from _QUOTED_IDENTIFIER.findall(sql)
    yield from _WORD.findall(_QUOTED_IDENTIFIER.sub(" ", sql))


def _boolean_elements(stmt: ClauseElement) -> Iterator[str]:
    for element in visitors.iterate(stmt):
        if isinstance(element, ColumnClause | BindParameter | Cast) and isinstance(
            getattr(element, "type", None), Boolean
        ):
            if isinstance(element, ColumnClause):
                table = getattr(element, "table", None)
                yield f"{table.name}.{element.name}" if table is not None else str(element.name)
            elif isinstance(element, BindParameter):
                yield f"bind {element.key}"
            else:
                yield "CAST(... AS BOOLEAN)"


def _limited_for_update(stmt: ClauseElement, sql: str) -> bool:
    if isinstance(stmt, Select) and stmt._for_update_arg is not None:
        return any(clause is not None for clause in (stmt._limit_clause, stmt._offset_clause, stmt._fetch_clause))
    upper = sql.upper()
    return "FOR UPDATE" in upper and re.search(r"\bFETCH\s+(FIRST|NEXT)\b|\bROWNUM\b", upper) is not None


def lint_statement(stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> list[str]:
    """Problems Oracle would have with ``stmt`` (empty list if none).

    ``params`` are execution parameters (values for expanding IN binds, the columns of an
    INSERT/UPDATE given at execution time). Each message names the rule and quotes the SQL.
    """
    try:
        sql = _compile(stmt, params)
    except exc.IdentifierError as error:  # an explicit index/constraint name over the limit
        return [f"identifier longer than {MAX_IDENTIFIER_BYTES} bytes: {error}"]
    except exc.CompileError as error:  # e.g. a PostgreSQL/SQLite-only upsert
        return [f"not Oracle SQL (cannot compile with the Oracle dialect): {error}"]
    code = _STRING_LITERAL.sub("''", sql)
    where = _excerpt(sql)
    problems: list[str] = []

    for size in _in_list_sizes(code):
        if size > MAX_IN_LIST:
            problems.append(
                f"IN list with {size} items (Oracle allows {MAX_IN_LIST}, ORA-01795; use in_chunks): {where}"
            )
    for name in dict.fromkeys(_identifiers(code)):
        size = len(name.encode("utf-8"))
        if size > MAX_IDENTIFIER_BYTES:
            problems.append(
                f"identifier {name!r} is {size} bytes (Oracle before 12.2 allows {MAX_IDENTIFIER_BYTES}): {where}"
            )
    booleans = list(dict.fromkeys(_boolean_elements(stmt)))
    if not booleans and re.search(r"\bBOOLEAN\b", code, re.IGNORECASE):
        booleans = re.findall(r"(\S+)\s+BOOLEAN\b", code, re.IGNORECASE) or ["BOOLEAN"]
    for what in booleans:
        problems.append(f"BOOLEAN type ({what}): Oracle before 23ai has none, use NUMBER(1) + check: {where}")
    if _BARE_CONSTANT.search(code):
        problems.append(f"bare true()/false() used as a condition renders as 1/0, invalid in Oracle: {where}")
    if _limited_for_update(stmt, code):
        problems.append(
            "FOR UPDATE with a row limit (FETCH FIRST/ROWNUM) fails with ORA-02014; "
            f"lock with a cursor and fetchmany instead: {where}"
        )
    return problems


def lint_ddl(metadata: MetaData) -> list[str]:
    """Lint CREATE TABLE and CREATE INDEX of every table in ``metadata``."""
    problems: list[str] = []
    for table in metadata.sorted_tables:
        problems.extend(lint_statement(CreateTable(table)))
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            problems.extend(lint_statement(CreateIndex(index)))
    return list(dict.fromkeys(problems))


@dataclass(frozen=True)
class RecordedStatement:
    """One executed statement and its parameters (the first set for executemany)."""

    statement: ClauseElement
    params: Mapping[str, Any] = field(default_factory=dict)


class StatementRecorder:
    """Context manager that records every SQLAlchemy construct executed (plain SQL text is skipped).

    ``target`` is an :class:`~sqlalchemy.Engine`, or the ``Engine`` class itself (the default)
    to record on every engine in the process.
    """

    def __init__(self, target: Engine | type[Engine] = Engine) -> None:
        self.target = target
        self.recorded: list[RecordedStatement] = []

    @property
    def statements(self) -> list[ClauseElement]:
        return [r.statement for r in self.recorded]

    def _before_execute(
        self,
        conn: Any,
        clauseelement: Any,
        multiparams: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        execution_options: Any,
    ) -> None:
        if not isinstance(clauseelement, ClauseElement) or isinstance(clauseelement, TextClause):
            return
        first = multiparams[0] if multiparams else params
        self.recorded.append(RecordedStatement(clauseelement, dict(first or {})))

    def __enter__(self) -> StatementRecorder:
        event.listen(self.target, "before_execute", self._before_execute)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(self.target, "before_execute", self._before_execute)

    def lint(self) -> list[str]:
        """Problems over all recorded statements, each message once."""
        problems: dict[str, None] = {}
        for record in self.recorded:
            for problem in lint_statement(record.statement, record.params):
                problems[problem] = None
        return list(problems)
