"""Reading and writing verifications (``sx_verification``) and their snapshots (``sx_verification_snapshot``).

A verification keeps one snapshot row per category and query attempt; the category's current
state is its latest attempt (a re-run adds attempt 2, 3 …, earlier rows stay). Every statement
runs on the connection it is given — SOAR's, inside SOAR's transaction, in screen hooks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from soar_ext.audit_store import new_id
from soar_ext.db.extension import verification_snapshots, verifications
from soar_ext.db.portability import check_lengths, normalise_row
from soar_ext.hooks.verification_page import PENDING_STATES, STATE_FOUND, STATE_NO_RECORD

v = verifications
s = verification_snapshots
SUCCESS_STATES = (STATE_FOUND, STATE_NO_RECORD)


@dataclass(frozen=True)
class Verification:
    """One row of ``sx_verification``."""

    id: str
    ryid: str
    sqid: str | None
    subject_masked: str | None
    subject_hash: str | None
    purpose: str
    operator_id: str | None
    operator_name: str | None
    run_mode: str
    generation: int
    budget_seconds: Decimal
    started_at: dt.datetime
    finished_at: dt.datetime
    pending_count: int


@dataclass(frozen=True)
class Snapshot:
    """One category's answer in one attempt (a row of ``sx_verification_snapshot``).

    ``records`` are the normalised records (keyed by Chinese labels); ``None`` when the query
    failed or timed out.
    """

    category: str
    state: str
    fetched_at: dt.datetime
    attempt: int = 1
    records: list[dict[str, Any]] | None = None
    raw_digest: str | None = None
    interface_id: str | None = None
    reason: str | None = None
    duration_ms: int | None = None
    operator_id: str | None = None
    verification_id: str | None = None

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES


def _verification(row: Mapping[str, Any]) -> Verification:
    return Verification(**{c.name: row[c.name] for c in v.columns})


def _snapshot(row: Mapping[str, Any]) -> Snapshot:
    text = row["records_json"]
    return Snapshot(
        category=row["category"],
        state=row["state"],
        fetched_at=row["fetched_at"],
        attempt=row["attempt"],
        records=None if text is None else json.loads(text),
        raw_digest=row["raw_digest"],
        interface_id=row["interface_id"],
        reason=row["reason"],
        duration_ms=row["duration_ms"],
        operator_id=row["operator_id"],
        verification_id=row["verification_id"],
    )


def insert_verification(conn: Connection, verification: Verification) -> None:
    row = normalise_row({c.name: getattr(verification, c.name) for c in v.columns})
    check_lengths(v, row)
    conn.execute(insert(v).values(**row))


def insert_snapshots(conn: Connection, verification_id: str, snapshots: Iterable[Snapshot]) -> None:
    rows = []
    for snap in snapshots:
        row = normalise_row(
            {
                "id": new_id(),
                "verification_id": verification_id,
                "category": snap.category,
                "attempt": snap.attempt,
                "state": snap.state,
                "record_count": None if snap.records is None else len(snap.records),
                "records_json": None
                if snap.records is None
                else json.dumps(snap.records, ensure_ascii=False, default=str),
                "raw_digest": snap.raw_digest,
                "interface_id": snap.interface_id,
                "reason": snap.reason,
                "duration_ms": snap.duration_ms,
                "operator_id": snap.operator_id,
                "fetched_at": snap.fetched_at,
            }
        )
        check_lengths(s, row)
        rows.append(row)
    if rows:
        conn.execute(insert(s), rows)


def get_verification(conn: Connection, verification_id: str, *, lock: bool = False) -> Verification | None:
    """The verification, or ``None``; ``lock`` takes its row lock (re-runs of one verification take turns)."""
    stmt = select(v).where(v.c.id == verification_id)
    if lock:
        # a non-key lock: the snapshot rows inserted next reference this row (KEY SHARE on PostgreSQL)
        stmt = stmt.with_for_update(key_share=True)
    row = conn.execute(stmt).mappings().first()
    return None if row is None else _verification(row)


def current_snapshots(conn: Connection, verification_id: str) -> dict[str, Snapshot]:
    """Each category's latest attempt in the verification."""
    rows = conn.execute(select(s).where(s.c.verification_id == verification_id).order_by(s.c.attempt)).mappings()
    current: dict[str, Snapshot] = {}
    for row in rows:
        current[row["category"]] = _snapshot(row)
    return current


def last_attempts(conn: Connection, verification_id: str) -> dict[str, int]:
    stmt = (
        select(s.c.category, func.max(s.c.attempt)).where(s.c.verification_id == verification_id).group_by(s.c.category)
    )
    return {category: int(n) for category, n in conn.execute(stmt)}


def record_progress(conn: Connection, verification_id: str, *, pending: int, finished_at: dt.datetime) -> None:
    conn.execute(update(v).where(v.c.id == verification_id).values(pending_count=pending, finished_at=finished_at))


def baselines(
    conn: Connection,
    person_id: str,
    verification_id: str,
    started_at: dt.datetime,
    fetched: Mapping[str, dt.datetime],
) -> dict[str, Snapshot]:
    """Per category, the person's latest successful snapshot fetched by ``fetched[category]``.

    Only verifications started by ``started_at`` count, and not the verification itself (its
    earlier attempts of a category failed).
    """
    if not fetched:
        return {}
    stmt = (
        select(s.c.id, s.c.category, s.c.fetched_at)
        .join(v, v.c.id == s.c.verification_id)
        .where(
            v.c.ryid == person_id,
            v.c.id != verification_id,
            v.c.started_at <= started_at,
            s.c.state.in_(SUCCESS_STATES),
            s.c.category.in_(sorted(fetched)),
        )
        .order_by(s.c.fetched_at.desc(), v.c.started_at.desc(), s.c.attempt.desc())
    )
    chosen: dict[str, str] = {}
    for snapshot_id, category, fetched_at in conn.execute(stmt).all():
        if category not in chosen and fetched_at <= fetched[category]:
            chosen[category] = snapshot_id
            if len(chosen) == len(fetched):
                break
    if not chosen:
        return {}
    rows = conn.execute(select(s).where(s.c.id.in_(sorted(chosen.values())))).mappings()
    return {row["category"]: _snapshot(row) for row in rows}


def history(conn: Connection, person_id: str, limit: int) -> list[Verification]:
    """The person's latest verifications, newest first."""
    stmt = select(v).where(v.c.ryid == person_id).order_by(v.c.started_at.desc(), v.c.id.desc()).limit(limit)
    return [_verification(row) for row in conn.execute(stmt).mappings()]
