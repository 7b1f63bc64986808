"""How SOAR's screens show values: dates, money, codes, ID numbers and phone numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from soar_ext.db.codes import DISTRICTS
from soar_ext.idnumber import mask_id_number

EMPTY = "—"


def text(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    return str(value)


def date(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return str(value)[:10]


def datetime(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return str(value)[:16]


def money(value: Any) -> str:
    """An amount in 元 with two decimals and thousands separators."""
    if value is None or value == "":
        return EMPTY
    return f"{Decimal(str(value)):,.2f}"


def number(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, Decimal | float):
        return f"{Decimal(str(value)):,.2f}"
    return f"{int(value):,}" if isinstance(value, int) else str(value)


def choice(value: Any, labels: Mapping[str, str]) -> str:
    if value is None or value == "":
        return EMPTY
    return labels.get(str(value), str(value))


def district(value: Any) -> str:
    return choice(value, DISTRICTS)


def id_number(value: Any, *, full: bool) -> str:
    """An ID number as the operator may see it: full with the ``full_id`` role, else masked."""
    if value is None or value == "":
        return EMPTY
    return str(value) if full else mask_id_number(str(value))


def phone(value: Any) -> str:
    """A phone number with its middle digits hidden (``138****5678``)."""
    if value is None or value == "":
        return EMPTY
    digits = str(value)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def field_value(value: Any, kind: str, choices: Mapping[str, str], *, full_ids: bool) -> str:
    """A value of a contributed result column (:class:`~soar_ext.hook_payloads.QueryField`) by its type."""
    if kind == "choice":
        return choice(value, choices)
    if kind == "datetime":
        return datetime(value)
    if kind == "date":
        return date(value)
    if kind == "integer":
        return number(value)
    if kind == "id_number":
        return id_number(value, full=full_ids)
    return text(value)


def duration(seconds: float | None) -> str:
    """``约 3 分 20 秒`` for an ETA."""
    if seconds is None:
        return EMPTY
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"约 {hours} 小时 {minutes} 分"
    if minutes:
        return f"约 {minutes} 分 {secs} 秒"
    return f"约 {secs} 秒"


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
