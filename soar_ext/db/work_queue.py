"""The durable work queue: items in a feature's own table, claimed with row locks and a lease.

One mechanism for every feature that hands work to batch workers (the document outbox, the
household-registration check; DESIGN.md §9). SOAR's database is the only coordination engine:
workers on several SOAR nodes claim from the same table, and nothing a worker keeps in memory
is needed by another node.

A feature table holds its own columns (keys, payload, result columns) plus the queue's
standard columns from :func:`queue_columns`; :class:`WorkQueue` drives any such table.

Life of an item (``wq_status``)::

    enqueue ─► pending ─claim─► leased ─complete─► done
                  ▲               │ fail (attempts left: backoff) ─► pending
                  │               │ fail (last attempt / permanent) ─► failed ─requeue_failed─► pending
                  │               │ lease expires (worker died) ─► claimable again
                  └── release ────┘
    cancel: pending / leased / failed ─► cancelled

- **enqueue** runs in the caller's connection and transaction: an outbox entry written in
  SOAR's transaction disappears with SOAR's rollback.
- **claim** is its own short transaction, committed before the work starts. Each claim gives
  the rows a new lease token (``wq_lease_id``) and sets ``wq_due_at`` to the lease expiry; a
  leased row whose lease has expired is claimable again, so a dead worker's items go to the
  next worker. Rows are locked with ``FOR UPDATE SKIP LOCKED``: on PostgreSQL inside a
  ``LIMIT``-ed subquery of the claiming ``UPDATE``; on Oracle, which rejects ``FOR UPDATE``
  with ``FETCH FIRST`` (ORA-02014), with a locking cursor read by ``fetchmany`` (Oracle locks
  ``SKIP LOCKED`` rows as they are fetched; the cursor's array size is set to the batch size
  so it does not fetch, and lock, more). On SQLite (one writer) the same ``UPDATE`` without
  row locks: it is the transaction's first statement, so it takes the write lock at once.
- **complete / fail / release / extend** are fenced by the lease token: they change a row
  only while it is still ``leased`` under that token. A worker whose lease expired and was
  taken over (or cancelled) gets :class:`LeaseLost` and cannot overwrite the new owner's
  result. A worker whose lease expired but was *not* taken over may still finish: nobody
  else has the item.
- Attempts are counted at claim time. A failure with attempts left goes back to ``pending``
  with a jittered exponential backoff; after ``max_attempts`` it is ``failed`` (terminal,
  until :meth:`WorkQueue.requeue_failed`). A lease that expired on the last attempt (a worker
  that keeps dying on this item) also ends ``failed``.

Timestamps are naive Beijing time from :mod:`soar_ext.clock`, whole seconds (Oracle DATE);
node clocks must agree to well within a lease (NTP).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import SchemaItem

from soar_ext.clock import Clock, beijing_now
from soar_ext.db.engine import write_transaction
from soar_ext.db.portability import check_lengths, chunked, clip_utf8, normalise_row

PENDING = "pending"
LEASED = "leased"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

STATUSES: tuple[str, ...] = (PENDING, LEASED, DONE, FAILED, CANCELLED)
STATUS_LABELS: Mapping[str, str] = {
    PENDING: "待处理",
    LEASED: "处理中",
    DONE: "已完成",
    FAILED: "失败",
    CANCELLED: "已取消",
}

#: The standard columns every queue table carries (see :func:`queue_columns`).
QUEUE_COLUMNS: tuple[str, ...] = (
    "wq_status",
    "wq_attempts",
    "wq_due_at",
    "wq_owner",
    "wq_lease_id",
    "wq_error",
    "wq_created_at",
    "wq_updated_at",
    "wq_done_at",
)

ERROR_BYTES = 1000
OWNER_BYTES = 64
_MAX_IDENTIFIER_BYTES = 30
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

ClaimMethod = Literal["skip_locked_limit", "locking_cursor"]


def queue_columns(name: str, *, leading: Sequence[str] = ()) -> list[SchemaItem]:
    """The queue's standard columns, its claim index and its status check, for a feature table.

    ``name`` (usually the table name) goes into the two object names, ``ix_<name>_wq_due`` and
    ``ck_<name>_wq_status``; both must fit Oracle's 30 bytes, so ``name`` has at most 17.
    ``leading`` names feature columns to put before ``(wq_status, wq_due_at)`` in the claim
    index, for queues whose workers always claim within a group (e.g. ``("job_id",)``).

    Use as ``Table("sx_doc_outbox", metadata, Column(...), ..., *queue_columns("sx_doc_outbox"))``.
    """
    index_name, check_name = f"ix_{name}_wq_due", f"ck_{name}_wq_status"
    if not _NAME.match(name):
        raise ValueError(f"queue name {name!r}: lowercase letters, digits and _ only, starting with a letter")
    for obj in (index_name, check_name):
        if len(obj.encode()) > _MAX_IDENTIFIER_BYTES:
            raise ValueError(f"{obj} is longer than {_MAX_IDENTIFIER_BYTES} bytes: give queue_columns a shorter name")
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    return [
        Column(
            "wq_status",
            String(10),
            nullable=False,
            comment="队列状态（pending 待处理 / leased 处理中 / done 已完成 / failed 失败 / cancelled 已取消）",
        ),
        Column("wq_attempts", Integer, nullable=False, comment="已尝试次数（每次领取计一次）"),
        Column("wq_due_at", DateTime, nullable=False, comment="待处理：最早处理时间；处理中：租约到期时间"),
        Column("wq_owner", String(OWNER_BYTES), comment="持有租约的工作进程ID"),
        Column("wq_lease_id", String(32), comment="租约令牌（每次领取更换，防止过期进程覆盖结果）"),
        Column("wq_error", String(ERROR_BYTES), comment="最近一次失败原因"),
        Column("wq_created_at", DateTime, nullable=False, comment="入队时间"),
        Column("wq_updated_at", DateTime, nullable=False, comment="队列状态更新时间"),
        Column("wq_done_at", DateTime, comment="完成、终止失败或取消的时间"),
        CheckConstraint(f"wq_status in ({statuses})", name=check_name),
        Index(index_name, *leading, "wq_status", "wq_due_at"),
    ]


def new_worker_id() -> str:
    """A fresh worker id (32 hex characters) for :meth:`WorkQueue.claim` and the shared quota."""
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- settings and results


@dataclass(frozen=True)
class QueueSettings:
    """How a queue leases and retries.

    - ``lease_seconds``: how long a claim is held before another worker may take it over;
      a worker that needs longer calls :meth:`WorkQueue.extend` in time.
    - ``max_attempts``: claims per item before a failure is terminal (``failed``).
    - ``backoff_initial_seconds`` / ``backoff_max_seconds``: the wait after the n-th failed
      attempt is a random value in ``[c/2, c]`` with ``c = min(max, initial * 2**(n-1))``.
    """

    lease_seconds: int = 60
    max_attempts: int = 5
    backoff_initial_seconds: float = 10.0
    backoff_max_seconds: float = 900.0

    def __post_init__(self) -> None:
        if not (isinstance(self.lease_seconds, int) and self.lease_seconds >= 1):
            raise ValueError("lease_seconds must be a whole number of seconds, at least 1")
        if not (isinstance(self.max_attempts, int) and self.max_attempts >= 1):
            raise ValueError("max_attempts must be a whole number, at least 1")
        if not (0 <= self.backoff_initial_seconds <= self.backoff_max_seconds):
            raise ValueError("backoff: need 0 <= backoff_initial_seconds <= backoff_max_seconds")

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any], prefix: str = "queue_") -> QueueSettings:
        """Settings from a config section: ``queue_lease_seconds``, ``queue_max_attempts``,
        ``queue_backoff_initial_seconds``, ``queue_backoff_max_seconds`` (all optional)."""
        values: dict[str, Any] = {}
        for name, kind in (
            ("lease_seconds", int),
            ("max_attempts", int),
            ("backoff_initial_seconds", float),
            ("backoff_max_seconds", float),
        ):
            raw = section.get(prefix + name)
            if raw is None:
                continue
            try:
                values[name] = kind(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{prefix}{name} must be a number, got {raw!r}") from None
        return cls(**values)


@dataclass(frozen=True)
class Lease:
    """The claim a worker holds: who, the fencing token, and until when (unless extended)."""

    owner: str
    lease_id: str
    until: dt.datetime


@dataclass(frozen=True)
class ClaimedItem:
    """One claimed row: its primary-key value, the lease, the attempt number and the row."""

    key: Any
    lease: Lease
    attempt: int
    row: RowMapping = field(repr=False)


@dataclass(frozen=True)
class FailOutcome:
    """What :meth:`WorkQueue.fail` did: ``pending`` again at ``due_at``, or terminal ``failed``."""

    status: str
    attempts: int
    due_at: dt.datetime | None

    @property
    def terminal(self) -> bool:
        return self.status == FAILED


@dataclass(frozen=True)
class StatusCounts:
    """Items by status (for progress displays: done / failed / remaining)."""

    pending: int = 0
    leased: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    retrying: int = 0  # pending items that failed before and wait for their next attempt

    @property
    def total(self) -> int:
        return self.pending + self.leased + self.done + self.failed + self.cancelled

    @property
    def remaining(self) -> int:
        """Items a worker may still process (pending or leased)."""
        return self.pending + self.leased

    def as_dict(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in STATUSES}


class LeaseLost(RuntimeError):
    """The item is no longer leased under this worker's token (taken over, cancelled or finished).

    Nothing was written. The worker drops the item; its result, if any, is not recorded.
    """

    def __init__(self, table: str, key: Any) -> None:
        self.table = table
        self.key = key
        super().__init__(f"{table} 工作项 {key} 的租约已失效（已被其他进程接管、已取消或已完成），结果未写入")


# --------------------------------------------------------------------------- the queue


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """An engine gets its own committed (writing) transaction; a connection is used as it is (caller commits)."""
    if isinstance(bind, Engine):
        with write_transaction(bind) as conn:
            yield conn
    else:
        yield bind


def _after(now: dt.datetime, seconds: float) -> dt.datetime:
    """``now`` plus ``seconds``, rounded up to a whole second (Oracle DATE holds whole seconds)."""
    return now + dt.timedelta(seconds=max(0, math.ceil(seconds)))


FETCH_ROWS_OPTION = "sx_fetch_rows"


def _size_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    """Make a locking cursor fetch no more rows per round trip than the claim asked for.

    python-oracledb fetches ``arraysize`` rows per round trip (and ``prefetchrows`` on execute);
    with ``SKIP LOCKED`` every fetched row is locked, so both are set to the batch size.
    """
    rows = context.execution_options.get(FETCH_ROWS_OPTION) if context is not None else None
    if rows:
        cursor.arraysize = rows
        if hasattr(cursor, "prefetchrows"):
            cursor.prefetchrows = rows


def default_claim_method(dialect_name: str) -> ClaimMethod:
    """Oracle claims through a locking cursor (ORA-02014); the others with a limited subquery."""
    return "locking_cursor" if dialect_name == "oracle" else "skip_locked_limit"


class WorkQueue:
    """Drives one feature table that carries :func:`queue_columns`.

    The table needs a single-column primary key. ``clock`` gives naive Beijing time; ``rng``
    the backoff jitter (tests pass a seeded one); ``claim_method`` overrides the per-dialect
    choice (tests run the Oracle method on PostgreSQL).
    """

    def __init__(
        self,
        table: Table,
        settings: QueueSettings | None = None,
        *,
        clock: Clock = beijing_now,
        rng: random.Random | None = None,
        claim_method: ClaimMethod | None = None,
    ) -> None:
        missing = [name for name in QUEUE_COLUMNS if name not in table.c]
        if missing:
            raise ValueError(f"{table.name} lacks the queue columns {missing}: add *queue_columns(...) to it")
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            raise ValueError(f"{table.name}: a queue table needs a single-column primary key")
        self.table = table
        self.pk: Column[Any] = pk[0]
        self.settings = settings or QueueSettings()
        self.clock = clock
        self._rng = rng or random.Random()
        self.claim_method = claim_method

    # ------------------------------------------------------------------ producers (caller's transaction)

    def enqueue(self, conn: Connection, rows: Iterable[Mapping[str, Any]], *, due_at: dt.datetime | None = None) -> int:
        """Insert items (feature columns, primary key included) as ``pending``, in ``conn``'s transaction.

        Nothing is committed here: the items commit or roll back with the caller. Blank strings
        are stored as NULL and string lengths are checked in bytes (:class:`FieldTooLong`)
        before anything is written. ``due_at`` delays the first attempt. Rows are inserted in
        chunks of 1000, so a generator of 100k rows stays flat in memory. Returns the count.
        """
        if not isinstance(conn, Connection):
            raise TypeError("enqueue runs in the caller's transaction: pass its Connection, not an Engine")
        now = self.clock()
        standard = {
            "wq_status": PENDING,
            "wq_attempts": 0,
            "wq_due_at": due_at or now,
            "wq_owner": None,
            "wq_lease_id": None,
            "wq_error": None,
            "wq_created_at": now,
            "wq_updated_at": now,
            "wq_done_at": None,
        }
        total = 0
        for chunk in chunked(rows, 1000):
            prepared = []
            for row in chunk:
                values = self._feature_values(row)
                if values.get(self.pk.name) is None:
                    raise ValueError(f"{self.table.name}: every item needs its primary key {self.pk.name}")
                prepared.append({**values, **standard})
            conn.execute(insert(self.table), prepared)
            total += len(prepared)
        return total

    def cancel(self, bind: Engine | Connection, where: ColumnElement[bool] | None = None) -> int:
        """Cancel every item not yet done (pending, leased, failed) matching ``where``; returns the count.

        A worker holding a cancelled item gets :class:`LeaseLost` when it reports, so its
        result is dropped.
        """
        t, now = self.table, self.clock()
        stmt = (
            update(t)
            .where(t.c.wq_status.in_([PENDING, LEASED, FAILED]), *self._where(where))
            .values(wq_status=CANCELLED, wq_owner=None, wq_lease_id=None, wq_updated_at=now, wq_done_at=now)
        )
        with _transaction(bind) as conn:
            return conn.execute(stmt).rowcount

    def requeue_failed(self, bind: Engine | Connection, where: ColumnElement[bool] | None = None) -> int:
        """Give terminally failed items matching ``where`` a fresh set of attempts; returns the count.

        The last failure reason stays in ``wq_error`` until the item succeeds.
        """
        t, now = self.table, self.clock()
        stmt = (
            update(t)
            .where(t.c.wq_status == FAILED, *self._where(where))
            .values(wq_status=PENDING, wq_attempts=0, wq_due_at=now, wq_updated_at=now, wq_done_at=None)
        )
        with _transaction(bind) as conn:
            return conn.execute(stmt).rowcount

    def counts(self, bind: Engine | Connection, where: ColumnElement[bool] | None = None) -> StatusCounts:
        """Items matching ``where`` by status, plus how many pending items are retries."""
        t = self.table
        retry = case((t.c.wq_attempts > 0, 1), else_=0)
        stmt = select(t.c.wq_status, func.count(), func.sum(retry)).where(*self._where(where)).group_by(t.c.wq_status)
        with _transaction(bind) as conn:
            rows = conn.execute(stmt).all()
        values = {status: int(count) for status, count, _ in rows if status in STATUSES}
        retrying = next((int(r or 0) for status, _, r in rows if status == PENDING), 0)
        return StatusCounts(**values, retrying=retrying)

    # ------------------------------------------------------------------ workers

    def claim(
        self, engine: Engine, owner: str, limit: int = 10, *, where: ColumnElement[bool] | None = None
    ) -> list[ClaimedItem]:
        """Lease up to ``limit`` due items to ``owner`` in one short transaction, committed on return.

        Due items are ``pending`` ones whose ``wq_due_at`` has come and ``leased`` ones whose
        lease has expired. Rows other workers are claiming at the same moment are skipped,
        never waited for. Items whose expired lease was their last attempt become ``failed``
        instead of being handed out. ``where`` narrows the claim (e.g. one job's items).
        """
        if not isinstance(engine, Engine):
            raise TypeError("claim commits its own short transaction: pass the Engine, not a Connection")
        if not (isinstance(limit, int) and limit >= 1):
            raise ValueError("limit must be a positive whole number")
        owner = clip_utf8(owner, OWNER_BYTES) or "unknown"
        now = self.clock()
        lease = Lease(owner=owner, lease_id=uuid.uuid4().hex, until=_after(now, self.settings.lease_seconds))
        method = self.claim_method or default_claim_method(engine.dialect.name)
        with write_transaction(engine) as conn:
            if method == "locking_cursor":
                keys = self._lock_with_cursor(conn, now, limit, where)
                if not keys:
                    return []
                for chunk in chunked(keys):
                    conn.execute(self._lease_statement(now, lease).where(self.pk.in_(chunk)))
                rows = []
                for chunk in chunked(keys):
                    t = self.table
                    stmt = select(t).where(self.pk.in_(chunk), t.c.wq_lease_id == lease.lease_id)
                    rows.extend(conn.execute(stmt).mappings().all())
            else:
                stmt = (
                    self._lease_statement(now, lease)
                    .where(self.pk.in_(self._candidates(now, where).limit(limit).with_for_update(skip_locked=True)))
                    .returning(*self.table.c)
                )
                rows = list(conn.execute(stmt).mappings().all())
        return [
            ClaimedItem(key=row[self.pk.name], lease=lease, attempt=int(row["wq_attempts"]), row=row)
            for row in rows
            if row["wq_status"] == LEASED
        ]

    def extend(
        self, bind: Engine | Connection, items: Sequence[ClaimedItem], seconds: int | None = None
    ) -> list[ClaimedItem]:
        """Heartbeat: push the lease of ``items`` out by ``seconds`` (default ``lease_seconds``) from now.

        Returns the items still held, with their new expiry; the others were taken over,
        cancelled or finished, and the worker should drop them.
        """
        now = self.clock()
        until = _after(now, self.settings.lease_seconds if seconds is None else seconds)
        t = self.table
        held: list[ClaimedItem] = []
        by_token: dict[str, list[ClaimedItem]] = {}
        for item in items:
            by_token.setdefault(item.lease.lease_id, []).append(item)
        with _transaction(bind) as conn:
            for token, group in by_token.items():
                for chunk in chunked(group):
                    keys = [item.key for item in chunk]
                    fence = (t.c.wq_lease_id == token, t.c.wq_status == LEASED, self.pk.in_(keys))
                    changed = conn.execute(update(t).where(*fence).values(wq_due_at=until, wq_updated_at=now)).rowcount
                    if changed == len(chunk):
                        still = set(keys)
                    else:
                        still = set(conn.execute(select(self.pk).where(*fence)).scalars())
                    held.extend(
                        ClaimedItem(item.key, Lease(item.lease.owner, token, until), item.attempt, item.row)
                        for item in chunk
                        if item.key in still
                    )
        return held

    def complete(self, bind: Engine | Connection, item: ClaimedItem, values: Mapping[str, Any] | None = None) -> None:
        """Mark ``item`` done and write its result columns ``values`` in the same statement.

        Raises :class:`LeaseLost` (writing nothing) unless the item is still leased under the
        item's token; :class:`~soar_ext.db.portability.FieldTooLong` for an over-long value.
        """
        self._fenced_update(bind, item, {**self._result_values(values), **self._done_values(self.clock())})

    def complete_many(
        self, bind: Engine | Connection, results: Iterable[tuple[ClaimedItem, Mapping[str, Any] | None]]
    ) -> list[ClaimedItem]:
        """Complete several items, each with its result columns, in one transaction.

        Items with the same set of result columns go to the database in one ``executemany``
        (one round trip with PostgreSQL's pipeline). Items whose lease was lost are skipped, and
        returned; the others are done. Same checks as :meth:`complete`.
        """
        now = self.clock()
        t = self.table
        groups: dict[tuple[str, ...], list[tuple[ClaimedItem, dict[str, Any]]]] = {}
        for item, values in results:
            result = self._result_values(values)
            groups.setdefault(tuple(sorted(result)), []).append((item, result))
        lost: list[ClaimedItem] = []
        with _transaction(bind) as conn:
            for columns, group in groups.items():
                # bind names stay short and plain: Oracle limits them to 30 bytes like identifiers
                stmt = (
                    update(t)
                    .where(
                        self.pk == bindparam("wqk_key"),
                        t.c.wq_lease_id == bindparam("wqk_lease"),
                        t.c.wq_status == LEASED,
                    )
                    .values({**{c: bindparam(f"wqv_{i}") for i, c in enumerate(columns)}, **self._done_values(now)})
                )
                params = [
                    {
                        "wqk_key": item.key,
                        "wqk_lease": item.lease.lease_id,
                        **{f"wqv_{i}": values[c] for i, c in enumerate(columns)},
                    }
                    for item, values in group
                ]
                savepoint = conn.begin_nested()
                if conn.execute(stmt, params).rowcount == len(params):
                    savepoint.commit()
                    continue
                savepoint.rollback()  # some lease was lost: find which, one by one
                for item, values in group:
                    try:
                        self.complete(conn, item, values)
                    except LeaseLost:
                        lost.append(item)
        return lost

    def fail(
        self,
        bind: Engine | Connection,
        item: ClaimedItem,
        reason: str,
        *,
        retry: bool = True,
        retry_after: float | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> FailOutcome:
        """Record a failed attempt of ``item`` with ``reason`` (clipped to 1000 bytes).

        With attempts left and ``retry`` true the item is ``pending`` again after the jittered
        backoff, or after ``retry_after`` seconds if the upstream said when (``Retry-After``),
        whichever is later. Otherwise it is ``failed`` for good. ``values`` are result columns
        to write as well (e.g. a failure code). Raises :class:`LeaseLost` like :meth:`complete`.
        """
        now = self.clock()
        attempts = item.attempt
        terminal = not retry or attempts >= self.settings.max_attempts
        extra = self._result_values(values)
        common = {**extra, "wq_owner": None, "wq_lease_id": None, "wq_error": clip_utf8(reason, ERROR_BYTES)}
        if terminal:
            self._fenced_update(bind, item, {**common, "wq_status": FAILED, "wq_updated_at": now, "wq_done_at": now})
            return FailOutcome(FAILED, attempts, None)
        delay = self.backoff_seconds(attempts)
        if retry_after is not None and math.isfinite(retry_after):
            delay = max(delay, retry_after)
        due = _after(now, delay)
        self._fenced_update(bind, item, {**common, "wq_status": PENDING, "wq_due_at": due, "wq_updated_at": now})
        return FailOutcome(PENDING, attempts, due)

    def release(self, bind: Engine | Connection, items: Sequence[ClaimedItem], *, delay: float = 0.0) -> int:
        """Give items back unprocessed (shutdown, quota pause): ``pending`` again, the attempt not counted.

        Items no longer held under their token are skipped. Returns how many were released.
        """
        now = self.clock()
        due = _after(now, delay)
        t = self.table
        released = 0
        with _transaction(bind) as conn:
            for item in items:
                stmt = (
                    update(t)
                    .where(*self._fence(item))
                    .values(
                        wq_status=PENDING,
                        wq_attempts=case((t.c.wq_attempts > 0, t.c.wq_attempts - 1), else_=0),
                        wq_owner=None,
                        wq_lease_id=None,
                        wq_due_at=due,
                        wq_updated_at=now,
                    )
                )
                released += conn.execute(stmt).rowcount
        return released

    def backoff_seconds(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt: random in ``[c/2, c]``, ``c`` doubling to the cap."""
        s = self.settings
        ceiling = min(s.backoff_max_seconds, s.backoff_initial_seconds * 2.0 ** min(max(attempts, 1) - 1, 32))
        return self._rng.uniform(ceiling / 2, ceiling)

    # ------------------------------------------------------------------ statements

    def claim_candidates_statement(self, now: dt.datetime, where: ColumnElement[bool] | None = None) -> Select[Any]:
        """The locking SELECT of the Oracle claim: due rows, ``FOR UPDATE SKIP LOCKED``, no row limit."""
        return (
            select(self.pk, self.table.c.wq_attempts)
            .where(*self._due(now), *self._where(where))
            .with_for_update(skip_locked=True)
        )

    def _candidates(self, now: dt.datetime, where: ColumnElement[bool] | None) -> Select[Any]:
        return select(self.pk).where(*self._due(now), *self._where(where))

    def _due(self, now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
        t = self.table
        return (t.c.wq_status.in_([PENDING, LEASED]), t.c.wq_due_at <= now)

    @staticmethod
    def _where(where: ColumnElement[bool] | None) -> tuple[ColumnElement[bool], ...]:
        return () if where is None else (where,)

    def _lease_statement(self, now: dt.datetime, lease: Lease) -> Update:
        """UPDATE that leases the selected rows, or fails those whose last attempt's lease expired."""
        t, max_attempts = self.table, self.settings.max_attempts
        spent = t.c.wq_attempts >= max_attempts
        reason = f"已尝试{max_attempts}次，最后一次处理未在租约期内完成（处理进程可能中断）"
        return update(t).values(
            wq_status=case((spent, FAILED), else_=LEASED),
            wq_attempts=case((spent, t.c.wq_attempts), else_=t.c.wq_attempts + 1),
            wq_owner=case((spent, None), else_=lease.owner),
            wq_lease_id=case((spent, None), else_=lease.lease_id),
            wq_due_at=case((spent, t.c.wq_due_at), else_=lease.until),
            wq_error=case((spent, reason), else_=t.c.wq_error),
            wq_done_at=case((spent, now), else_=None),
            wq_updated_at=now,
        )

    def _lock_with_cursor(
        self, conn: Connection, now: dt.datetime, limit: int, where: ColumnElement[bool] | None
    ) -> list[Any]:
        """Lock up to ``limit`` due rows by fetching them from an unlimited ``FOR UPDATE SKIP LOCKED`` cursor."""
        if not event.contains(conn.engine, "before_cursor_execute", _size_cursor):
            event.listen(conn.engine, "before_cursor_execute", _size_cursor)
        result = conn.execute(
            self.claim_candidates_statement(now, where),
            execution_options={"yield_per": limit, FETCH_ROWS_OPTION: limit},
        )
        try:
            return [row[0] for row in result.fetchmany(limit)]
        finally:
            result.close()

    def _fence(self, item: ClaimedItem) -> tuple[ColumnElement[bool], ...]:
        t = self.table
        return (self.pk == item.key, t.c.wq_lease_id == item.lease.lease_id, t.c.wq_status == LEASED)

    def _fenced_update(self, bind: Engine | Connection, item: ClaimedItem, values: Mapping[str, Any]) -> None:
        with _transaction(bind) as conn:
            if conn.execute(update(self.table).where(*self._fence(item)).values(**values)).rowcount != 1:
                raise LeaseLost(self.table.name, item.key)

    @staticmethod
    def _done_values(now: dt.datetime) -> dict[str, Any]:
        return {
            "wq_status": DONE,
            "wq_owner": None,
            "wq_lease_id": None,
            "wq_error": None,
            "wq_updated_at": now,
            "wq_done_at": now,
        }

    def _result_values(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        result = self._feature_values(values or {})
        if self.pk.name in result:
            raise ValueError(f"{self.table.name}: a result cannot change the primary key")
        return result

    def _feature_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        unknown = [key for key in row if key not in self.table.c]
        if unknown:
            raise ValueError(f"{self.table.name} has no columns {unknown}")
        reserved = [key for key in row if key in QUEUE_COLUMNS]
        if reserved:
            raise ValueError(f"{self.table.name}: {reserved} are managed by the work queue")
        values = normalise_row(row)
        check_lengths(self.table, values)
        return values
