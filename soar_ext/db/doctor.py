"""``soar-ext doctor``: compare a live database with what soar-ext assumes and installs.

Read-only. Checks:

- the assumed SOAR tables (:mod:`soar_ext.db.legacy`): missing tables, missing columns, and
  columns whose type family, length, precision or nullability differ (extra tables and columns
  in the live database are fine — SOAR has many soar-ext does not use);
- soar-ext's migrations: the revision in ``sx_schema_version`` against the newest one, the
  ``sx_`` tables (:mod:`soar_ext.db.extension`) and the indexes soar-ext adds to legacy tables;
- the audit store (:mod:`soar_ext.audit_store`, when given): where it is, that ``sx_audit_log``
  there has every column, and how many query intents have no outcome (a warning past
  :data:`STALE_INTENT_MINUTES`: a crash between an upstream call and its audit outcome).

Each problem is one readable line, naming table and column with their Chinese comments, so a
maintainer knows what to fix in ``legacy.py`` (or which migration to apply).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError
from sqlalchemy import Column, Connection, Engine, Table, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import make_url

from soar_ext.audit_store import AuditStore, unfinished_entries
from soar_ext.clock import beijing_now
from soar_ext.config import redact_url
from soar_ext.db.extension import EXT_TABLES, LEGACY_INDEXES, VERSION_TABLE, audit_log
from soar_ext.db.legacy import LEGACY_TABLES
from soar_ext.db.migrate import script_directory


@dataclass
class DoctorReport:
    """Result of :func:`check`: ``problems`` (one line each) and ``notes`` on what was checked."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    current_revision: str | None = None
    head_revision: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """Human-readable report: verdict, what was checked, then every problem."""
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s) found"
        return [f"soar-ext doctor: {verdict}", *self.notes, *(f"  - {p}" for p in self.problems)]


def _label(name: str, comment: str | None) -> str:
    return f"{name} [{comment}]" if comment else name


def _family(type_: sqltypes.TypeEngine[Any], dialect_name: str) -> str:
    if isinstance(type_, sqltypes.Boolean):
        return "boolean"
    if isinstance(type_, sqltypes.String):
        return "text"
    if isinstance(type_, sqltypes.Integer | sqltypes.Numeric):
        return "number"
    if isinstance(type_, sqltypes.DateTime):
        return "datetime"
    if isinstance(type_, sqltypes.Date):
        # Oracle DATE carries a time and reflects as a datetime type
        return "datetime" if dialect_name == "oracle" else "date"
    if isinstance(type_, sqltypes.LargeBinary):
        return "binary"
    return type(type_).__name__.lower()


def _column_problems(table: Table, column: Column[Any], live: dict[str, Any], dialect_name: str) -> Iterable[str]:
    where = f"{_label(table.name, table.comment)}: column {_label(column.name, column.comment)}"
    expected, actual = column.type, live["type"]
    want, got = _family(expected, dialect_name), _family(actual, dialect_name)
    if want != got:
        yield f"{where} has type {actual} ({got}), expected {want} like {expected}"
        return
    if want == "text":
        want_len, got_len = getattr(expected, "length", None), getattr(actual, "length", None)
        if want_len is not None and got_len is not None and want_len != got_len:
            effect = "values soar-ext accepts may not fit" if got_len < want_len else "longer than assumed"
            yield f"{where} has length {got_len}, expected {want_len} ({effect})"
    if (
        want == "number"
        and isinstance(expected, sqltypes.Numeric)
        and not isinstance(expected, sqltypes.Integer)
        and isinstance(actual, sqltypes.Numeric)
        and actual.precision is not None
        and (actual.precision, actual.scale) != (expected.precision, expected.scale)
    ):
        yield (
            f"{where} has precision/scale ({actual.precision}, {actual.scale}), "
            f"expected ({expected.precision}, {expected.scale})"
        )
    if live["nullable"] != column.nullable:
        if column.nullable:
            yield f"{where} is NOT NULL in the database, but soar-ext may leave it empty"
        else:
            yield f"{where} allows NULL in the database, expected NOT NULL"


def _table_problems(
    tables: Iterable[Table], live_columns: dict[str, dict[str, dict[str, Any]]], dialect_name: str, kind: str
) -> list[str]:
    problems = []
    for table in tables:
        columns = live_columns.get(table.name)
        if columns is None:
            problems.append(f"{kind} table {_label(table.name, table.comment)} is missing")
            continue
        for column in table.columns:
            live = columns.get(column.name)
            if live is None:
                problems.append(
                    f"{_label(table.name, table.comment)}: column {_label(column.name, column.comment)} is missing"
                )
            else:
                problems.extend(_column_problems(table, column, live, dialect_name))
    return problems


def _live_columns(conn: Connection, names: list[str], schema: str | None) -> dict[str, dict[str, dict[str, Any]]]:
    insp = inspect(conn)
    present = set(insp.get_table_names(schema=schema))
    wanted = [name for name in names if name in present]
    if not wanted:
        return {}
    multi = insp.get_multi_columns(schema=schema, filter_names=wanted)
    return {key[1]: {c["name"]: c for c in cols} for key, cols in multi.items()}


def _revision_problems(conn: Connection, schema: str | None, report: DoctorReport) -> None:
    scripts = script_directory()
    report.head_revision = scripts.get_current_head()
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema})
    heads = ctx.get_current_heads()
    if len(heads) > 1:
        report.problems.append(f"{VERSION_TABLE} holds several revisions {sorted(heads)}; expected one")
        return
    report.current_revision = heads[0] if heads else None
    if report.current_revision is None:
        report.problems.append(
            f"soar-ext migrations are not applied (head is {report.head_revision}): "
            "run `soar-ext db upgrade`, or apply sql/oracle/*.upgrade.sql in order"
        )
        return
    try:
        scripts.get_revision(report.current_revision)
    except CommandError:
        report.problems.append(
            f"database is at revision {report.current_revision}, unknown to this soar-ext "
            f"(head {report.head_revision}); is a newer soar-ext installed elsewhere?"
        )
        return
    if report.current_revision != report.head_revision:
        report.problems.append(
            f"database is at revision {report.current_revision}, head is {report.head_revision}: "
            "apply the pending migrations"
        )


def _index_problems(conn: Connection, schema: str | None) -> list[str]:
    insp = inspect(conn)
    present = set(insp.get_table_names(schema=schema))
    problems = []
    expected = [(name, table, columns) for name, table, columns in LEGACY_INDEXES]
    expected += [
        (str(index.name), table, tuple(c.name for c in index.columns))
        for table in EXT_TABLES
        for index in table.indexes
    ]
    for name, table, columns in expected:
        if table.name not in present:
            continue  # already reported as a missing table
        live = {ix["name"]: tuple(ix["column_names"]) for ix in insp.get_indexes(table.name, schema=schema)}
        if name not in live:
            problems.append(f"index {name} on {_label(table.name, table.comment)} ({', '.join(columns)}) is missing")
        elif live[name] != columns:
            problems.append(f"index {name} covers ({', '.join(live[name])}), expected ({', '.join(columns)})")
    return problems


#: Intents without an outcome older than this are reported as a warning.
STALE_INTENT_MINUTES = 10


def _audit_notes(store: AuditStore, report: DoctorReport) -> None:
    """The audit-store section (read-only: a missing SQLite audit file is not created)."""

    where = redact_url(store.url)
    url = make_url(store.url)
    if store.is_sqlite and url.database and not Path(url.database).exists():
        report.notes.append(f"audit store {where}: not created yet (created on the first audited query)")
        return
    with store.engine.connect() as conn:
        live = _live_columns(conn, [audit_log.name], None)
    if audit_log.name not in live:
        report.problems.append(f"audit store {where}: table {audit_log.name} is missing")
        return
    missing = [c.name for c in audit_log.columns if c.name not in live[audit_log.name]]
    if missing:
        report.problems.append(
            f"audit store {where}: {audit_log.name} lacks column(s) {', '.join(missing)} "
            "(apply the pending migrations; a SQLite audit file gets them on first use)"
        )
        return
    unfinished = unfinished_entries(store)
    stale = [e for e in unfinished if e.created_at <= _now() - dt.timedelta(minutes=STALE_INTENT_MINUTES)]
    report.notes.append(f"audit store {where}: {len(unfinished)} query intent(s) without an outcome")
    if stale:
        report.notes.append(
            f"WARNING audit: {len(stale)} query intent(s) older than {STALE_INTENT_MINUTES} minutes have no "
            "outcome (a crash after the upstream call?); list them with `soar-ext audit`"
        )


def _now() -> dt.datetime:
    return beijing_now()


def check(engine: Engine, schema: str | None = None, *, audit_store: AuditStore | None = None) -> DoctorReport:
    """Compare the database behind ``engine`` (tables in ``schema``, default the user's own).

    ``audit_store`` (an :class:`~soar_ext.audit_store.AuditStore`) adds the audit-store section.
    """
    report = DoctorReport()
    dialect_name = engine.dialect.name
    with engine.connect() as conn:
        legacy_live = _live_columns(conn, [t.name for t in LEGACY_TABLES], schema)
        report.problems.extend(_table_problems(LEGACY_TABLES, legacy_live, dialect_name, "legacy"))
        report.notes.append(f"legacy schema: {len(legacy_live)} of {len(LEGACY_TABLES)} assumed SOAR tables present")

        _revision_problems(conn, schema, report)
        ext_live = _live_columns(conn, [t.name for t in EXT_TABLES], schema)
        if report.current_revision is not None or ext_live:
            report.problems.extend(_table_problems(EXT_TABLES, ext_live, dialect_name, "soar-ext"))
            report.problems.extend(_index_problems(conn, schema))
        report.notes.append(
            f"soar-ext migrations: revision {report.current_revision or 'none'} (head {report.head_revision}); "
            f"{len(ext_live)} of {len(EXT_TABLES)} sx_ tables present"
        )
        if not report.problems:
            report.notes.extend(_data_rule_notes(conn))
            report.notes.extend(_allocation_rule_notes(conn))
            report.notes.extend(_family_rule_notes(conn))
            report.notes.append(_worker_note(conn))
    if audit_store is not None:
        _audit_notes(audit_store, report)
    return report


def _worker_note(conn: Connection) -> str:
    """Live members of the shared-quota pools (``sx_worker_lease``), for the operator's information."""
    from sqlalchemy import func, select

    from soar_ext.clock import beijing_now
    from soar_ext.db.extension import worker_leases as t

    rows = conn.execute(
        select(t.c.pool, func.count(), func.sum(t.c.rate_share))
        .where(t.c.expires_at >= beijing_now())
        .group_by(t.c.pool)
        .order_by(t.c.pool)
    ).all()
    if not rows:
        return "shared quota: no live workers"
    pools = ", ".join(f"{pool} {count} worker(s) using {float(rate or 0):g} calls/s" for pool, count, rate in rows)
    return f"shared quota: {pools}"


def _data_rule_notes(conn: Connection) -> list[str]:
    """Data rules the plugins rely on; a breach is reported as a warning with a row count.

    The exchange query filters 验房通过/验房不通过/已签合同 consider only pairings with a
    success time (``PDCGSJ``); rows breaking that rule would be missed by those filters.
    """
    from sqlalchemy import func, select

    from soar_ext.db.codes import ContractStatus, ContractType, InspectionStatus
    from soar_ext.db.legacy import contracts, exchange_pairings, inspections

    p = exchange_pairings
    no_time = p.c.pdcgsj.is_(None)
    inspected = conn.execute(
        select(func.count())
        .select_from(inspections.join(p, p.c.pdid == inspections.c.pdid))
        .where(no_time, inspections.c.yfzt.in_([InspectionStatus.PASSED, InspectionStatus.FAILED]))
    ).scalar_one()
    signed = conn.execute(
        select(func.count())
        .select_from(contracts.join(p, p.c.pdid == contracts.c.hfpdid))
        .where(no_time, contracts.c.htzt == ContractStatus.SIGNED, contracts.c.pzlx == ContractType.EXCHANGE)
    ).scalar_one()
    notes = []
    if inspected:
        notes.append(
            f"WARNING data rule: {inspected} inspected pairing(s) have no 配对成功时间 (tpg_hfpd.pdcgsj); "
            "the 验房状态 filter will not list them until it is filled in"
        )
    if signed:
        notes.append(
            f"WARNING data rule: {signed} signed exchange contract(s) belong to pairings without "
            "配对成功时间 (tpg_hfpd.pdcgsj); the 是否已签合同=是 filter will not list them"
        )
    if not notes:
        notes.append("data rules: inspected pairings and signed exchange contracts all have a 配对成功时间")
    return notes


def _family_rule_notes(conn: Connection) -> list[str]:
    """Data rules of family membership (``TPG_RYGX.LKRQ``) that the household check relies on.

    A member is current while ``LKRQ`` (离开家庭日期) is empty or in the future; the 户籍批量核查
    checks current members only. A main applicant (``SFZSQR`` = 1) with a leaving date has left
    the family it applies for: the check skips them, which is rarely what the clerk meant.
    """
    from sqlalchemy import func, select

    from soar_ext.db.legacy import family_members

    m = family_members
    left = conn.execute(select(func.count()).select_from(m).where(m.c.lkrq.is_not(None))).scalar_one()
    left_applicants = conn.execute(
        select(func.count()).select_from(m).where(m.c.lkrq.is_not(None), m.c.sfzsqr == 1)
    ).scalar_one()
    if left_applicants:
        return [
            f"WARNING data rule: {left_applicants} main applicant(s) (tpg_rygx.sfzsqr = 1) have a 离开家庭日期 "
            "(tpg_rygx.lkrq); the household check does not list them as current family members"
        ]
    return [f"data rules: {left} family member(s) have left their family (tpg_rygx.lkrq); no main applicant has"]


def _allocation_rule_notes(conn: Connection) -> list[str]:
    """Data rules of 房源划拨; a breach is reported as a warning with a row count.

    - A batch is open while ``TPG_HBPC.PCZT`` is 办理中; a status outside the code table counts as
      closed, so its links hold nothing and its houses count as allocated.
    - A link refers to an applicant and a house of its batch; SOAR may take either out of the batch
      afterwards, and the link is cleared when the clerk next confirms the batch's selection.
    """
    from sqlalchemy import and_, exists, func, select

    from soar_ext.db.codes import AllocationBatchStatus
    from soar_ext.db.extension import allocation_links
    from soar_ext.db.legacy import allocation_applicants, allocation_batches, allocation_houses

    b, link = allocation_batches, allocation_links
    unknown = conn.execute(
        select(func.count()).select_from(b).where(b.c.pczt.not_in(list(AllocationBatchStatus.LABELS)))
    ).scalar_one()
    in_batch = exists().where(
        and_(allocation_applicants.c.pcid == link.c.pcid, allocation_applicants.c.sqid == link.c.sqid)
    )
    house_in_batch = exists().where(
        and_(allocation_houses.c.pcid == link.c.pcid, allocation_houses.c.fyid == link.c.fyid)
    )
    stale = conn.execute(select(func.count()).select_from(link).where(~in_batch | ~house_in_batch)).scalar_one()
    notes = []
    if unknown:
        notes.append(
            f"WARNING data rule: {unknown} allocation batch(es) have a 批次状态 (tpg_hbpc.pczt) outside "
            f"{'/'.join(AllocationBatchStatus.LABELS)}; they count as closed (not 办理中)"
        )
    if stale:
        notes.append(
            f"WARNING data rule: {stale} 调房划拨 link(s) in {link.name} refer to an applicant or house no longer "
            "in their batch (tpg_hbry/tpg_hbfy); they are cleared when the batch's selection is next confirmed"
        )
    if not notes:
        notes.append("data rules: allocation batch statuses are known codes; every link refers to its batch's members")
    return notes
