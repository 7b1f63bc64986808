"""Reading the audit trail for the 审计日志 screen — the console's only dependency on where audit rows live.

The rows are in ``sx_audit_log`` of the audit store (:mod:`soar_ext.audit_store`): on PostgreSQL
and Oracle SOAR's own database through the store's engine, on the embedded SQLite default a
separate file beside SOAR's. :func:`read_audit_log` takes that store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, select

from soar_ext.audit_store import AuditStore
from soar_ext.db.extension import audit_log
from soar_ext.db.paging import count_statement, shown_total
from soar_ext.idnumber import mask_in_text

TOTAL_CAP = 1000


@dataclass(frozen=True)
class AuditFilter:
    """What the screen filters on; ``None`` means "any"."""

    action: str | None = None
    operator_id: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as the screen shows it (subject masked; detail text masked again)."""

    at: dt.datetime
    operator_id: str | None
    operator_name: str | None
    action: str
    purpose: str | None
    subject_masked: str | None
    interfaces: str | None
    result_status: str
    detail: str | None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: str
    has_next: bool


def _statement(filters: AuditFilter) -> Select:
    stmt = select(audit_log)
    if filters.action:
        stmt = stmt.where(audit_log.c.action == filters.action)
    if filters.operator_id:
        stmt = stmt.where(audit_log.c.operator_id == filters.operator_id)
    if filters.since:
        stmt = stmt.where(audit_log.c.created_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        stmt = stmt.where(audit_log.c.created_at < dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time()))
    return stmt


def read_audit_log(store: AuditStore, filters: AuditFilter, *, page: int, page_size: int) -> AuditPage:
    """One page of the audit store's rows, newest first, with a capped total (``1000+``)."""
    stmt = _statement(filters)
    store.ensure_schema()
    with store.engine.connect() as conn:
        total = conn.execute(count_statement(stmt, cap=TOTAL_CAP)).scalar_one()
        rows = (
            conn.execute(
                stmt.order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc())
                .limit(page_size + 1)
                .offset((page - 1) * page_size)
            )
            .mappings()
            .all()
        )
    entries = [
        AuditEntry(
            at=r["created_at"],
            operator_id=r["operator_id"],
            operator_name=r["operator_name"],
            action=r["action"],
            purpose=r["purpose"],
            subject_masked=r["subject_masked"],
            interfaces=r["interfaces"],
            result_status=r["result_status"],
            detail=mask_in_text(r["detail"]) if r["detail"] else None,
        )
        for r in rows[:page_size]
    ]
    return AuditPage(entries, shown_total(int(total), TOTAL_CAP), len(rows) > page_size)
