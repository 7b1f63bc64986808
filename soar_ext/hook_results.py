"""Checks of what each hook implementation returns, so junk from one plugin is that plugin's failure.

The host runs the check for a hook right after the implementation returns (inside the
plugin's savepoint): a wrong type raises :class:`HookResultError`, which the host treats like
any exception the plugin raised — logged with the plugin's name, the plugin skipped (or, in
``soar_pre_contract``, its fallback / the fail-safe block). Nothing wrong reaches SOAR or the
next plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select

from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    ActionResult,
    Badge,
    Contribution,
    JobSpec,
    KeyValues,
    Notice,
    PreContractVerdict,
    Progress,
    QueryField,
    Section,
    Table,
    TableRow,
)

BLOCK_TYPES = (Badge, Notice, KeyValues, Table, Progress, ActionButton, Section)


class HookResultError(TypeError):
    """A hook implementation returned a value of the wrong type or shape."""


def _kind(value: object) -> str:
    return type(value).__name__


def _fail(what: str, value: object) -> HookResultError:
    return HookResultError(f"{what}, got {_kind(value)}")


def _sequence(value: object, what: str) -> Sequence[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise _fail(f"expected a list of {what}", value)
    return value


def _text(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _fail(f"{what} must be text", value)


def check_block(value: object, where: str = "content") -> None:
    """A generic page block (``Badge`` … ``Section``); sections and tables are checked inside."""
    if not isinstance(value, BLOCK_TYPES):
        raise _fail(f"{where}: expected a Block ({', '.join(t.__name__ for t in BLOCK_TYPES)})", value)
    if isinstance(value, Section):
        for block in _sequence(value.blocks, "blocks"):
            check_block(block, f"{where} > Section")
    elif isinstance(value, Table):
        for row in _sequence(value.rows, "TableRow"):
            if not isinstance(row, TableRow):
                raise _fail(f"{where} > Table: rows must be TableRow", row)


def check_content(value: object, where: str) -> None:
    """``Contribution.content``: ``None``, a Block, a sequence of Blocks or an ``ActionForm``."""
    if value is None or isinstance(value, ActionForm):
        return
    if isinstance(value, BLOCK_TYPES):
        check_block(value, where)
        return
    for block in _sequence(value, "Blocks"):
        check_block(block, where)


def check_nothing(value: object) -> None:
    if value is not None:
        raise _fail("expected None", value)


def check_problems(value: object) -> list[str] | None:
    if value is None:
        return None
    items = list(_sequence(value, "problem texts"))
    for item in items:
        _text(item, "a start-up problem")
    return items


def check_verdict(value: object) -> PreContractVerdict | None:
    if value is None:
        return None
    if not isinstance(value, PreContractVerdict):
        raise _fail("expected a PreContractVerdict or None", value)
    if not isinstance(value.allow, bool):
        raise _fail("PreContractVerdict.allow must be True or False", value.allow)
    _text(value.message, "PreContractVerdict.message", optional=True)
    _text(value.subject_key, "PreContractVerdict.subject_key", optional=True)
    if value.deposit is not None and (not isinstance(value.deposit, Decimal) or value.deposit < 0):
        raise _fail("PreContractVerdict.deposit must be a Decimal ≥ 0 or None", value.deposit)
    return value


def check_fallback_verdict(value: object) -> PreContractVerdict | None:
    return check_verdict(value)


def check_fields(value: object) -> list[QueryField]:
    if value is None:
        return []
    fields = list(_sequence(value, "QueryField"))
    for item in fields:
        if not isinstance(item, QueryField):
            raise _fail("expected QueryField items", item)
        _text(item.key, "QueryField.key")
        _text(item.label, "QueryField.label")
        if item.kind not in ("filter", "column"):
            raise HookResultError(f"QueryField.kind must be 'filter' or 'column', got {item.kind!r:.40}")
    return fields


def check_select(value: object) -> Select | None:
    if value is not None and not isinstance(value, Select):
        raise _fail("expected a SQLAlchemy Select or None", value)
    return value


def check_contributions(value: object) -> list[Contribution]:
    if value is None:
        return []
    items = list(_sequence(value, "Contribution"))
    for item in items:
        if not isinstance(item, Contribution):
            raise _fail("expected Contribution items", item)
        if item.kind not in ("action", "panel"):
            raise HookResultError(f"Contribution.kind must be 'action' or 'panel', got {item.kind!r:.40}")
        _text(item.key, "Contribution.key")
        _text(item.label, "Contribution.label")
        check_content(item.content, f"Contribution {item.key[:40]}")
    return items


def check_action_result(value: object) -> ActionResult | None:
    if value is None:
        return None
    if not isinstance(value, ActionResult):
        raise _fail("expected an ActionResult or None", value)
    if not isinstance(value.ok, bool):
        raise _fail("ActionResult.ok must be True or False", value.ok)
    _text(value.message, "ActionResult.message")
    for block in _sequence(value.content, "Blocks"):
        check_block(block, "ActionResult.content")
    if value.file_bytes is not None and not isinstance(value.file_bytes, bytes):
        raise _fail("ActionResult.file_bytes must be bytes", value.file_bytes)
    return value


def check_jobs(value: object) -> list[JobSpec]:
    if value is None:
        return []
    jobs = list(_sequence(value, "JobSpec"))
    for job in jobs:
        if not isinstance(job, JobSpec):
            raise _fail("expected JobSpec items", job)
        _text(job.name, "JobSpec.name")
        _text(job.label, "JobSpec.label")
        if not callable(job.run):
            raise _fail("JobSpec.run must be callable", job.run)
    return jobs


#: The check for each hook's return value (every hook spec has one; a test keeps them in step).
CHECKS: Mapping[str, Callable[[object], Any]] = {
    "soar_startup": check_problems,
    "soar_shutdown": check_nothing,
    "soar_pre_contract": check_verdict,
    "soar_pre_contract_fallback": check_fallback_verdict,
    "soar_query_fields": check_fields,
    "soar_query_build": check_select,
    "soar_detail_view": check_contributions,
    "soar_action": check_action_result,
    "soar_allocation_selected": check_contributions,
    "soar_project_saved": check_nothing,
    "soar_documents_received": check_nothing,
    "soar_register_jobs": check_jobs,
}
