"""Reading the filter values a clerk entered on a query screen, and checking SOAR's statement.

Every plugin that contributes filters (``soar_query_fields`` / ``soar_query_build``) or takes the
same values in an action form reads them here, so an empty value means "not filtered" everywhere
and a bad value always gets a Chinese message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Select, Table
from sqlalchemy.sql.util import find_tables

from soar_ext.errors import InvalidInput


def _given(filters: Mapping[str, object], key: str) -> object | None:
    value = filters.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _shown(value: object) -> str:
    return str(value)[:20]


def choice_filter(filters: Mapping[str, object], key: str, choices: Mapping[str, str], label: str) -> str | None:
    """The chosen code, ``None`` when not filtered; :class:`InvalidInput` for a value outside ``choices``."""
    value = _given(filters, key)
    if value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        allowed = "、".join(choices.values())
        raise InvalidInput(f"查询条件「{label}」的取值「{_shown(value)}」不正确，可选：{allowed}。")
    return value


def text_filter(filters: Mapping[str, object], key: str, label: str, max_chars: int) -> str | None:
    """Stripped text, ``None`` when empty; :class:`InvalidInput` for a non-text or oversize value."""
    value = _given(filters, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"查询条件「{label}」必须是文本。")
    text = value.strip()
    if len(text) > max_chars:
        raise InvalidInput(f"查询条件「{label}」最多{max_chars}个字，实际{len(text)}个字。")
    if any(ord(ch) < 32 for ch in text):
        raise InvalidInput(f"查询条件「{label}」含有不可见的控制字符，请重新输入。")
    return text


def integer_filter(
    filters: Mapping[str, object], key: str, label: str, minimum: int, maximum: int, example: str | None = None
) -> int | None:
    """A whole number within ``[minimum, maximum]``, ``None`` when empty; else :class:`InvalidInput`."""
    value = _given(filters, key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"查询条件「{label}」必须是整数。")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdecimal() or not text.isascii():
            hint = f"，如 {example}" if example else ""
            raise InvalidInput(f"查询条件「{label}」必须是整数{hint}，不能是「{_shown(value)}」。")
        value = int(text)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"查询条件「{label}」应在 {minimum} 至 {maximum} 之间，不能是 {value}。")
    return value


def require_tables(query: Select, screen: str, *tables: Table) -> None:
    """Raise ``ValueError`` (a plugin failure, not the clerk's) unless the statement selects from ``tables``.

    A plugin's conditions refer to these tables' columns; on any other statement they would add a
    cross join instead of filtering.
    """
    present = set()
    for source in query.get_final_froms():
        present.update(find_tables(source, include_joins=False))
    missing = [t.name for t in tables if t not in present]
    if missing:
        raise ValueError(f"screen {screen}: the query does not select from {', '.join(missing)}")
