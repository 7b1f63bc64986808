"""The household-check job: its row, its list and its items (``sx_hukou_job/member/item``).

- :func:`create_job` runs in the caller's transaction (SOAR's, or the command line's): it refuses a
  selection that is already being checked (naming the running job), expands the selection to the
  list (one ``sx_hukou_member`` row per family and current member, plus a row per unknown
  配租资格证号), enqueues one ``sx_hukou_item`` per valid ID number (de-duplicated: a person in two
  families is checked once and listed in both) and refuses an empty selection. Members whose ID
  number is invalid are listed as 身份证号无效 and get no item: they are never sent upstream.
- The items are the job's work queue (:class:`~soar_ext.db.work_queue.WorkQueue`); workers
  (:mod:`.worker`) claim them, results are stored as they arrive.
- :func:`cancel_job`, :func:`retry_failed`, :func:`finish_if_complete` and the pause markers
  change the job's state; :func:`job_progress` reads it.

At most one job per selection runs at a time: ``running_key`` holds the selection's key while
the job runs and is cleared when it ends, under a unique constraint (two simultaneous starts
cannot both succeed).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from soar_ext.context import Operator
from soar_ext.db.engine import take_write_lock, write_transaction
from soar_ext.db.extension import hukou_items, hukou_jobs, hukou_members
from soar_ext.db.portability import clip_utf8
from soar_ext.db.work_queue import DONE, FAILED, QueueSettings, StatusCounts, WorkQueue
from soar_ext.errors import InvalidInput, NotFound, echo
from soar_ext.hukou.selection import PAGE_SIZE, Applicant, Member, Selection, applicant_pages, members_of
from soar_ext.idnumber import is_valid_id_number

RUNNING = "running"
FINISHED = "done"
CANCELLED = "cancelled"
JOB_STATUS_LABELS = {RUNNING: "进行中", FINISHED: "已完成", CANCELLED: "已取消"}

NOTE_INVALID_ID = "invalid_id"
NOTE_UNKNOWN_CERTIFICATE = "unknown_cert"

#: Rows written per statement while building a job's list.
WRITE_CHUNK = 1000
#: Unknown 配租资格证号 named in a start message (all of them are in the list).
UNKNOWN_SHOWN = 10


def item_queue(settings: QueueSettings | None = None) -> WorkQueue:
    """The work queue over ``sx_hukou_item``."""
    return WorkQueue(hukou_items, settings)


def of_job(job_id: str) -> Any:
    """The queue filter of one job's items."""
    return hukou_items.c.job_id == job_id


@dataclass(frozen=True)
class Job:
    """A row of ``sx_hukou_job``."""

    job_id: str
    status: str
    selection_key: str
    selection_text: str
    operator_id: str | None
    operator_name: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    applicant_count: int
    member_count: int
    person_count: int
    invalid_count: int
    unknown_count: int
    pause_reason: str | None = None
    paused_until: dt.datetime | None = None
    cancelled_by: str | None = None
    running_key: str | None = field(default=None, repr=False)

    @property
    def status_label(self) -> str:
        return JOB_STATUS_LABELS.get(self.status, self.status)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def describe(self) -> str:
        """「作业 abc123（2024-07-01 09:30 王经办发起，进行中）」"""
        who = f"{self.operator_name or self.operator_id or '未知操作员'}发起"
        return f"作业 {self.job_id}（{self.created_at:%Y-%m-%d %H:%M} {who}，{self.status_label}）"


def _job(row: Any) -> Job:
    return Job(**{k: row[k] for k in Job.__dataclass_fields__})


def load_job(bind: Connection | Engine, job_id: str) -> Job:
    """The job ``job_id``; :class:`NotFound` (Chinese) when there is none."""
    stmt = select(hukou_jobs).where(hukou_jobs.c.job_id == str(job_id).strip())
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            row = conn.execute(stmt).mappings().first()
    else:
        row = bind.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"未找到户籍核查作业「{echo(job_id)}」")
    return _job(row)


def lock_job(conn: Connection, job_id: str) -> Job:
    """The job ``job_id``, locked for the rest of the caller's transaction (before a change of it).

    The row is locked (``FOR UPDATE``); on SQLite the database's write lock is taken first
    (:func:`~soar_ext.db.engine.take_write_lock`), since workers commit all the time.
    """
    key = str(job_id).strip()
    take_write_lock(conn, hukou_jobs)
    row = conn.execute(select(hukou_jobs).where(hukou_jobs.c.job_id == key).with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"未找到户籍核查作业「{echo(job_id)}」")
    return _job(row)


def recent_jobs(conn: Connection, limit: int = 20) -> list[Job]:
    """The newest jobs first."""
    stmt = select(hukou_jobs).order_by(hukou_jobs.c.created_at.desc(), hukou_jobs.c.job_id).limit(limit)
    return [_job(row) for row in conn.execute(stmt).mappings()]


def running_job(conn: Connection, selection_key: str) -> Job | None:
    row = conn.execute(select(hukou_jobs).where(hukou_jobs.c.running_key == selection_key)).mappings().first()
    return None if row is None else _job(row)


class JobAlreadyRunning(InvalidInput):
    """A job with the same selection is running; ``job`` is that job."""

    def __init__(self, job: Job) -> None:
        self.job = job
        super().__init__(
            f"相同选择条件的户籍核查{job.describe()}尚未结束，不能重复发起。请查看该作业的进度，或先取消它再重新发起。"
        )


# ------------------------------------------------------------------------------ creating a job


@dataclass(frozen=True)
class CreatedJob:
    """A new job and the 配租资格证号 of the list that were not found (all listed as such)."""

    job: Job
    unknown_certificates: Sequence[str]


@dataclass
class _Tally:
    applicants: int = 0
    rows: int = 0
    invalid: int = 0
    unknown: list[str] = field(default_factory=list)


def create_job(
    conn: Connection, selection: Selection, *, operator: Operator, now: dt.datetime, queue: WorkQueue
) -> CreatedJob:
    """Create the job for ``selection`` in ``conn``'s transaction (the caller commits).

    Raises :class:`JobAlreadyRunning` when the same selection is being checked, and
    :class:`InvalidInput` for an empty selection; the caller rolls back (nothing stays written).
    """
    key = selection.key()
    take_write_lock(conn, hukou_jobs)  # before the reads: workers of other jobs commit meanwhile
    existing = running_job(conn, key)
    if existing is not None:
        raise JobAlreadyRunning(existing)
    job_id = uuid.uuid4().hex
    try:
        with conn.begin_nested():
            conn.execute(
                insert(hukou_jobs).values(
                    job_id=job_id,
                    status=RUNNING,
                    selection_key=key,
                    running_key=key,
                    selection_text=clip_utf8(selection.describe(), 1000),
                    operator_id=clip_utf8(operator.id, 32),
                    operator_name=clip_utf8(operator.name, 60),
                    created_at=now,
                    applicant_count=0,
                    member_count=0,
                    person_count=0,
                    invalid_count=0,
                    unknown_count=0,
                )
            )
    except IntegrityError:
        # another start of the same selection committed between our check and our insert
        existing = running_job(conn, key)
        if existing is None:
            raise
        raise JobAlreadyRunning(existing) from None
    tally = _Tally()
    pending: list[dict[str, Any]] = []
    for rows in _list_rows(conn, selection, job_id, now.date(), tally):
        pending.extend(rows)
        if len(pending) >= WRITE_CHUNK:
            conn.execute(insert(hukou_members), pending)
            pending = []
    if pending:
        conn.execute(insert(hukou_members), pending)
    if tally.applicants == 0:
        unknown = ""
        if tally.unknown:
            unknown = f"清单中的配租资格证号均不存在：{_names(tally.unknown)}。"
        raise InvalidInput(f"所选条件下没有取得配租资格证号的主申请人，未创建核查作业。{unknown}请调整选择条件后重试。")
    persons = queue.enqueue(conn, _items(conn, job_id), due_at=now)
    conn.execute(
        update(hukou_jobs)
        .where(hukou_jobs.c.job_id == job_id)
        .values(
            applicant_count=tally.applicants,
            member_count=tally.rows,
            person_count=persons,
            invalid_count=tally.invalid,
            unknown_count=len(tally.unknown),
        )
    )
    return CreatedJob(load_job(conn, job_id), tuple(tally.unknown))


def _names(values: Sequence[str]) -> str:
    shown = "、".join(echo(v) for v in values[:UNKNOWN_SHOWN])
    return shown + (f"等{len(values)}个" if len(values) > UNKNOWN_SHOWN else "")


def _list_rows(
    conn: Connection, selection: Selection, job_id: str, today: dt.date, tally: _Tally
) -> Iterator[list[dict[str, Any]]]:
    """The list rows, page by page of applications."""
    listed = list(selection.certificates)
    position = 0
    for page in applicant_pages(conn, selection):
        members = members_of(conn, [a.jtid for a in page], today)
        rows: list[dict[str, Any]] = []
        for applicant in page:
            tally.applicants += 1
            for member in members.get(applicant.jtid, []):
                rows.append(_member_row(job_id, tally, applicant, member))
        if selection.by_list:  # the page is one chunk of the list: name the numbers it did not find
            chunk = listed[position : position + PAGE_SIZE]
            position += len(chunk)
            found = {a.pzzgzh for a in page}
            for cert in chunk:
                if cert not in found:
                    tally.unknown.append(cert)
                    tally.rows += 1
                    rows.append(
                        {
                            "id": uuid.uuid4().hex,
                            "job_id": job_id,
                            "seq": tally.rows,
                            "sqid": None,
                            "pzzgzh": cert,
                            "applicant_name": None,
                            "ryid": None,
                            "member_name": None,
                            "relation": None,
                            "sfzh": None,
                            "note": NOTE_UNKNOWN_CERTIFICATE,
                        }
                    )
        yield rows


def _member_row(job_id: str, tally: _Tally, applicant: Applicant, member: Member) -> dict[str, Any]:
    tally.rows += 1
    raw = (member.sfzh or "").strip()
    valid = is_valid_id_number(raw)
    if not valid:
        tally.invalid += 1
    return {
        "id": uuid.uuid4().hex,
        "job_id": job_id,
        "seq": tally.rows,
        "sqid": applicant.sqid,
        "pzzgzh": applicant.pzzgzh,
        "applicant_name": clip_utf8(applicant.name, 60),
        "ryid": member.ryid,
        "member_name": clip_utf8(member.name, 60),
        "relation": member.relation,
        "sfzh": raw.upper() if valid else clip_utf8(raw, 18) or None,
        "note": None if valid else NOTE_INVALID_ID,
    }


def _items(conn: Connection, job_id: str) -> Iterator[dict[str, Any]]:
    """One item per distinct valid ID number of the list (keyset pages: flat memory)."""
    m = hukou_members
    last: str | None = None
    while True:
        stmt = (
            select(m.c.sfzh, func.min(m.c.member_name).label("xm"))
            .where(m.c.job_id == job_id, m.c.note.is_(None))
            .group_by(m.c.sfzh)
            .order_by(m.c.sfzh)
            .limit(WRITE_CHUNK)
        )
        if last is not None:
            stmt = stmt.where(m.c.sfzh > last)
        rows = conn.execute(stmt).all()
        if not rows:
            return
        for row in rows:
            yield {"id": uuid.uuid4().hex, "job_id": job_id, "sfzh": row.sfzh, "xm": row.xm or "（无姓名）"}
        last = rows[-1].sfzh


# ------------------------------------------------------------------------------ state changes


def _end(now: dt.datetime, status: str, **values: Any) -> dict[str, Any]:
    return {
        "status": status,
        "running_key": None,
        "finished_at": now,
        "pause_reason": None,
        "paused_until": None,
        **values,
    }


def cancel_job(conn: Connection, job_id: str, *, operator: Operator, now: dt.datetime, queue: WorkQueue) -> int:
    """Cancel a running job: its unfinished items become 已取消 (workers holding them stop). Returns their count."""
    job = lock_job(conn, job_id)
    if not job.running:
        raise InvalidInput(f"户籍核查{job.describe()}已结束，无需取消")
    cancelled = queue.cancel(conn, of_job(job.job_id) & (hukou_items.c.wq_status != FAILED))
    conn.execute(
        update(hukou_jobs)
        .where(hukou_jobs.c.job_id == job.job_id, hukou_jobs.c.status == RUNNING)
        .values(**_end(now, CANCELLED, cancelled_by=clip_utf8(operator.id, 32)))
    )
    return cancelled


def retry_failed(conn: Connection, job_id: str, *, queue: WorkQueue) -> int:
    """Put the job's failed persons back to 待核查 (a finished job runs again). Returns their count."""
    job = lock_job(conn, job_id)
    if job.status == CANCELLED:
        raise InvalidInput(f"户籍核查{job.describe()}已取消，不能重试失败人员；请重新发起作业")
    if not job.running:
        other = running_job(conn, job.selection_key)
        if other is not None:
            raise JobAlreadyRunning(other)
    count = queue.requeue_failed(conn, of_job(job.job_id) & (hukou_items.c.wq_status == FAILED))
    if count == 0:
        raise InvalidInput(f"户籍核查{job.describe()}没有核查失败的人员")
    if not job.running:
        conn.execute(
            update(hukou_jobs)
            .where(hukou_jobs.c.job_id == job.job_id)
            .values(status=RUNNING, running_key=job.selection_key, finished_at=None)
        )
    return count


def finish_if_complete(engine: Engine, job_id: str, *, queue: WorkQueue, now: dt.datetime) -> bool:
    """Mark a running job 已完成 once none of its items is pending or being checked."""
    with write_transaction(engine) as conn:
        counts = queue.counts(conn, of_job(job_id))
        if counts.remaining:
            return False
        result = conn.execute(
            update(hukou_jobs)
            .where(hukou_jobs.c.job_id == job_id, hukou_jobs.c.status == RUNNING)
            .values(**_end(now, FINISHED))
        )
        return bool(result.rowcount)


def set_pause(engine: Engine, job_id: str, reason: str | None, until: dt.datetime | None) -> None:
    """Record (or, with ``None``, clear) why the job's workers are paused (e.g. an open circuit)."""
    with engine.begin() as conn:
        conn.execute(
            update(hukou_jobs)
            .where(hukou_jobs.c.job_id == job_id, hukou_jobs.c.status == RUNNING)
            .values(pause_reason=clip_utf8(reason, 400), paused_until=until)
        )


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class JobProgress:
    """A job and its items by status, with the recent rate (persons/s) and an estimate of the time left."""

    job: Job
    counts: StatusCounts
    rate_per_second: float | None
    eta_seconds: float | None

    @property
    def total(self) -> int:
        return self.job.person_count

    @property
    def checked(self) -> int:
        return self.counts.done

    @property
    def failed(self) -> int:
        return self.counts.failed

    @property
    def remaining(self) -> int:
        return self.counts.remaining


RATE_WINDOW_SECONDS = 60


def job_progress(bind: Connection | Engine, job_id: str, *, now: dt.datetime, queue: WorkQueue) -> JobProgress:
    """The job's figures: done / failed / remaining, the rate over the last minute, the ETA."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return job_progress(conn, job_id, now=now, queue=queue)
    job = load_job(bind, job_id)
    counts = queue.counts(bind, of_job(job.job_id))
    rate = eta = None
    if job.running:
        since = max(job.created_at, now - dt.timedelta(seconds=RATE_WINDOW_SECONDS))
        elapsed = (now - since).total_seconds()
        t = hukou_items
        recent = bind.execute(
            select(func.count()).where(t.c.job_id == job.job_id, t.c.wq_status == DONE, t.c.checked_at >= since)
        ).scalar_one()
        if elapsed >= 1:
            rate = recent / elapsed
            eta = counts.remaining / rate if rate > 0 else None
    return JobProgress(job, counts, rate, eta)


def status_tally(conn: Connection, job_id: str) -> list[tuple[str, int]]:
    """Checked persons by 户籍状态 label (most first)."""
    t = hukou_items
    rows = conn.execute(
        select(t.c.hjzt_label, func.count())
        .where(t.c.job_id == job_id, t.c.wq_status == DONE)
        .group_by(t.c.hjzt_label)
        .order_by(func.count().desc(), t.c.hjzt_label)
    ).all()
    return [(label or "未知", int(n)) for label, n in rows]


@dataclass(frozen=True)
class ListRow:
    """One line of the list: a family member (or an unknown 配租资格证号) with the check's result."""

    seq: int
    applicant_name: str | None
    pzzgzh: str | None
    member_name: str | None
    relation: str | None
    sfzh: str | None
    note: str | None
    item_status: str | None
    result: str | None
    hjzt: str | None
    hjzt_label: str | None
    hjdz: str | None
    checked_at: dt.datetime | None
    error: str | None
    attempts: int | None


def list_rows(conn: Connection, job_id: str, *, page: int = WRITE_CHUNK) -> Iterator[ListRow]:
    """The job's list in order, joined to each person's result (keyset pages: flat memory)."""
    m, t = hukou_members, hukou_items
    joined = m.outerjoin(t, and_(t.c.job_id == m.c.job_id, t.c.sfzh == m.c.sfzh, m.c.note.is_(None)))
    base = select(
        m.c.seq,
        m.c.applicant_name,
        m.c.pzzgzh,
        m.c.member_name,
        m.c.relation,
        m.c.sfzh,
        m.c.note,
        t.c.wq_status.label("item_status"),
        t.c.result,
        t.c.hjzt,
        t.c.hjzt_label,
        t.c.hjdz,
        t.c.checked_at,
        t.c.wq_error.label("error"),
        t.c.wq_attempts.label("attempts"),
    ).select_from(joined)
    last = 0
    while True:
        rows = conn.execute(base.where(m.c.job_id == job_id, m.c.seq > last).order_by(m.c.seq).limit(page)).all()
        if not rows:
            return
        for row in rows:
            yield ListRow(**row._mapping)
        last = rows[-1].seq
