"""Oracle portability helpers used by every statement soar-ext issues.

Oracle rules these helpers enforce (DESIGN.md §5):

- ``''`` is NULL in Oracle: blank strings are stored as NULL everywhere (:func:`none_if_blank`,
  :func:`normalise_row`), so SQLite/PostgreSQL behave like production.
- An IN list may hold at most 1000 expressions (ORA-01795): :func:`in_chunks` splits a long list
  into ``col IN (...) OR col IN (...)``.
- ``VARCHAR2(n)`` counts **bytes** by default; a Chinese character takes 3 bytes in AL32UTF8:
  :func:`check_lengths` validates UTF-8 byte length before writing and names the field in Chinese.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import String, Table, or_
from sqlalchemy.sql.elements import ColumnElement

from soar_ext.errors import InvalidInput

T = TypeVar("T")

ORACLE_IN_LIMIT = 1000


def chunked(values: Iterable[T], size: int = ORACLE_IN_LIMIT) -> Iterator[list[T]]:
    """Yield consecutive lists of at most ``size`` items (the last one may be shorter)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def in_chunks(
    column: ColumnElement[Any], values: Iterable[Hashable], size: int = ORACLE_IN_LIMIT
) -> ColumnElement[bool]:
    """``column IN (...)`` that stays within Oracle's 1000-expression limit per list.

    Duplicates are dropped (first occurrence kept); each chunk becomes its own IN list and the
    lists are joined with OR. No values gives an empty IN, which SQLAlchemy renders as an
    always-false condition valid on every dialect (``false()`` would render as a bare
    ``WHERE 0`` with the Oracle dialect, which Oracle before 23ai rejects).
    """
    if size > ORACLE_IN_LIMIT:
        raise ValueError(f"size must not exceed {ORACLE_IN_LIMIT} (ORA-01795)")
    unique = list(dict.fromkeys(values))
    if not unique:
        return column.in_([])
    clauses = [column.in_(chunk) for chunk in chunked(unique, size)]
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def none_if_blank(value: T) -> T | None:
    """``None`` for an empty or whitespace-only string (Oracle stores ``''`` as NULL); else ``value``."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def clip_utf8(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` UTF-8 bytes (ending in "…" when cut), never splitting a character."""
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: max(0, limit - 3)].decode("utf-8", "ignore") + "…"


def normalise_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of ``row`` with blank string values replaced by ``None``."""
    return {key: none_if_blank(value) for key, value in row.items()}


class FieldTooLong(InvalidInput):
    """A value is longer (in UTF-8 bytes) than its ``VARCHAR2`` column; the message is for staff."""

    def __init__(self, table: str, column: str, label: str, limit: int, actual: int) -> None:
        self.table = table
        self.column = column
        self.label = label
        self.limit = limit
        self.actual = actual
        super().__init__(f"字段「{label}」超过长度限制：最多{limit}字节（中文每字3字节），实际{actual}字节")


def check_lengths(table: Table, row: Mapping[str, Any]) -> None:
    """Raise :class:`FieldTooLong` for the first string value longer than its column allows.

    Lengths are counted in UTF-8 bytes because Oracle ``VARCHAR2(n)`` defaults to byte
    semantics. Keys that are not columns of ``table``, non-string values and columns without
    a length (CLOB/Text) are not checked.
    """
    for key, value in row.items():
        if not isinstance(value, str) or key not in table.c:
            continue
        column = table.c[key]
        if not isinstance(column.type, String) or column.type.length is None:
            continue
        actual = len(value.encode("utf-8"))
        if actual > column.type.length:
            raise FieldTooLong(table.name, column.name, column.comment or column.name, column.type.length, actual)
