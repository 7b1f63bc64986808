"""Counting the rows of a query screen after plugins amended its statement."""

from __future__ import annotations

from sqlalchemy import Select, func, select


def count_statement(statement: Select, cap: int | None = None) -> Select:
    """``SELECT count(*)`` over the amended screen statement.

    With ``cap``, at most ``cap + 1`` rows are counted, so a screen can show "1000+" without
    reading hundreds of thousands of joined rows; the exact total of a broad filter on a
    large table is the one figure no index makes cheap.
    """
    inner = statement.order_by(None)
    if cap is not None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        inner = inner.limit(cap + 1)
    return select(func.count()).select_from(inner.subquery())


def shown_total(count: int, cap: int | None) -> str:
    """How a screen shows a (possibly capped) total: ``"1,234"`` or ``"1000+"``."""
    if cap is not None and count > cap:
        return f"{cap}+"
    return f"{count:,}"
