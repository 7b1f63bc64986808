"""A household-check worker: claims a job's items, asks the Big Data 户籍 interface, stores results.

Any number of workers, on any number of SOAR nodes, may run the same job at once:

- items are claimed from ``sx_hukou_item`` with row locks and a lease
  (:class:`~soar_ext.db.work_queue.WorkQueue`): nobody checks a person another worker holds, and a
  dead worker's items go to the others when its lease expires;
- every upstream request (the adapter's retries included) waits on the worker's share of the
  app's quota (:class:`~soar_ext.quota.SharedQuota` over ``sx_worker_lease``): all workers
  together stay under ``quota_per_second`` and ``quota_concurrency``;
- results are written as they arrive — each answer is stored in the first write after it (one
  transaction for all answers that came in meanwhile) — so a worker killed at any moment loses
  only the answers in flight; a person already stored is never asked again;
- a quota answer (code 18, HTTP 429 + Retry-After) pauses this worker's calls and puts the
  person back, attempt not counted: the job slows down, it does not fail; an open circuit
  pauses the job with a status the progress display shows (``pause_reason``);
- other failures (timeouts, 5xx, malformed answers) count an attempt and retry with backoff;
  after ``queue_max_attempts`` the person ends 失败 with the reason, for 重试失败;
- every query is audited write-ahead: the intents of a claimed batch are written before any of
  its requests, each outcome after the answer (``AuditSink.begin_all`` / ``finish_all``);
- a cancelled job stops its workers: they see the job's status within a second, and whatever
  they still report is refused by the queue's fencing (``LeaseLost``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from soar_ext.adapters.bigdata.client import BigDataClient, CategoryResult
from soar_ext.adapters.common import AdapterError, CircuitOpen, QuotaExceeded
from soar_ext.audit import AuditEntry, AuditEvent, AuditSink
from soar_ext.clock import Clock, beijing_now
from soar_ext.db.portability import clip_utf8
from soar_ext.db.work_queue import ClaimedItem, LeaseLost, new_worker_id
from soar_ext.hukou import jobs
from soar_ext.hukou.settings import HukouSettings
from soar_ext.idnumber import mask_in_text
from soar_ext.quota import QuotaLimiter, SharedQuota

log = logging.getLogger(__name__)

AUDIT_ACTION = "hukou_check.query"
INTERFACE = "household_registration"
NO_RECORD_LABEL = "无户籍记录"
#: Seconds between looks at the job's status (a cancel stops the worker within about this long).
WATCH_SECONDS = 1.0
#: Seconds to wait before looking again when nothing is claimable (others hold the rest, or backoff).
IDLE_SECONDS = 1.0

ClientFactory = Callable[[QuotaLimiter], BigDataClient]


@dataclass
class WorkerReport:
    """What one worker did: persons checked, failed for good, retried later, lost to a takeover or cancel."""

    worker_id: str
    checked: int = 0
    failed: int = 0
    retried: int = 0
    lost: int = 0
    quota_answers: int = 0
    circuit_pauses: int = 0
    outcome: str = "stopped"  # finished / cancelled / stopped
    by_label: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class _Outcome:
    item: ClaimedItem
    values: Mapping[str, Any] | None = None  # a result: done
    reason: str | None = None  # a failure
    retry: bool = True
    retry_after: float | None = None
    audit_status: str = "found"


def result_values(result: CategoryResult, now: dt.datetime) -> dict[str, Any]:
    """The item columns for an answer: raw code, label, address, time."""
    if not result.records:
        return {"result": "no_record", "hjzt": None, "hjzt_label": NO_RECORD_LABEL, "hjdz": None, "checked_at": now}
    record = result.records[0]
    code = record.get("户籍状态代码")
    label = record.get("户籍状态") or ("未知" if code is None else f"未知（{code}）")
    return {
        "result": "found",
        "hjzt": clip_utf8(None if code is None else str(code), 10),
        "hjzt_label": clip_utf8(str(label), 60),
        "hjdz": clip_utf8(None if record.get("户籍地址") is None else str(record["户籍地址"]), 300),
        "checked_at": now,
    }


class HukouWorker:
    """One worker of one job (use from one asyncio event loop; database calls run in threads)."""

    def __init__(
        self,
        engine: Engine,
        job_id: str,
        *,
        settings: HukouSettings,
        client_factory: ClientFactory,
        audit: AuditSink,
        operator_id: str | None,
        clock: Clock = beijing_now,
        worker_id: str | None = None,
        label: str | None = None,
    ) -> None:
        self.engine = engine
        self.job_id = job_id
        self.settings = settings
        self.client_factory = client_factory
        self.audit = audit
        self.operator_id = operator_id
        self.clock = clock
        self.worker_id = worker_id or new_worker_id()
        self.label = label or f"户籍批量核查 {job_id}"
        self.queue = jobs.item_queue(settings.queue)
        self.report = WorkerReport(self.worker_id)
        self._buffer: collections.deque[ClaimedItem] = collections.deque()
        self._held: dict[Any, ClaimedItem] = {}
        self._entries: dict[Any, AuditEntry] = {}
        self._outcomes: list[_Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._work_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._stop = asyncio.Event()
        self._closing = False
        self._drained = False
        self._paused_job = False

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event | None = None) -> WorkerReport:
        """Work until the job has nothing left (``finished``), is cancelled, or ``stop`` is set."""
        external = stop or asyncio.Event()
        async with SharedQuota(self.engine, self.settings.quota, worker_id=self.worker_id, label=self.label) as limiter:
            client = self.client_factory(limiter)
            tasks: list[asyncio.Task[Any]] = []
            try:
                tasks.append(asyncio.create_task(self._watch(external)))
                flusher = asyncio.create_task(self._flush_loop())
                checkers = [
                    asyncio.create_task(self._check_loop(client, limiter))
                    for _ in range(self.settings.quota.concurrency)
                ]
                await self._feed()
                self._closing = True
                self._work_ready.set()
                await asyncio.gather(*checkers)
                self._drained = True
                self._outcome_ready.set()
                await flusher
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._give_back()
                await client.aclose()
        if self.report.outcome != "cancelled":
            await asyncio.to_thread(self._finish_job)
        return self.report

    async def _feed(self) -> None:
        """Keep about one batch claimed ahead of the checkers until the job is over."""
        batch = self.settings.claim_batch
        while not self._stop.is_set():
            if len(self._buffer) >= batch:
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), WATCH_SECONDS)
                continue
            claimed = await asyncio.to_thread(self._claim, batch)
            if claimed:
                self._buffer.extend(claimed)
                self._work_ready.set()
                continue
            state, remaining = await asyncio.to_thread(self._job_state)
            if state != jobs.RUNNING:
                self.report.outcome = "cancelled" if state == jobs.CANCELLED else "finished"
                return
            if remaining == 0 and not self._held:
                self.report.outcome = "finished"
                return
            await self._sleep(IDLE_SECONDS)  # others hold the rest, or retries wait for their backoff

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _claim(self, batch: int) -> list[ClaimedItem]:
        claimed = self.queue.claim(self.engine, self.worker_id, batch, where=jobs.of_job(self.job_id))
        if not claimed:
            return []
        events = [
            AuditEvent(
                action=AUDIT_ACTION,
                operator_id=self.operator_id,
                purpose=self.settings.purpose,
                subject_id=item.row["sfzh"],
                interfaces=(INTERFACE,),
                detail={"job_id": self.job_id, "attempt": item.attempt, "worker": self.worker_id},
            )
            for item in claimed
        ]
        entries = self.audit.begin_all(events)  # write-ahead: before any request of the batch
        for item, entry in zip(claimed, entries, strict=True):
            self._held[item.key] = item
            self._entries[item.key] = entry
        return claimed

    def _job_status(self) -> str:
        return jobs.load_job(self.engine, self.job_id).status

    def _job_state(self) -> tuple[str, int]:
        """The job's status and its items not yet done (a count over the job's items: only when idle)."""
        status = self._job_status()
        return status, self.queue.counts(self.engine, jobs.of_job(self.job_id)).remaining

    async def _watch(self, external: asyncio.Event) -> None:
        """Stop on a cancel or an external stop; extend the leases of held items every lease/3."""
        lease = self.settings.queue.lease_seconds
        since_extend = 0.0
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if external.is_set():
                self._stop.set()
            status = await asyncio.to_thread(self._job_status)  # one row: a cancel is seen within a second
            if status == jobs.CANCELLED:
                self.report.outcome = "cancelled"
                self._stop.set()
            if self._stop.is_set():
                self._closing = True
                self._work_ready.set()
                self._room.set()
            since_extend += WATCH_SECONDS
            if since_extend >= lease / 3 and self._held:
                since_extend = 0.0
                held = list(self._held.values())
                kept = {item.key for item in await asyncio.to_thread(self.queue.extend, self.engine, held)}
                for item in held:
                    if item.key not in kept:  # cancelled or taken over: drop it
                        self._drop(item)

    def _drop(self, item: ClaimedItem) -> None:
        if self._held.pop(item.key, None) is not None:
            self.report.lost += 1
            entry = self._entries.pop(item.key, None)
            if entry is not None:
                self.audit.finish_all([(entry, "cancelled", {"sent": False})])

    async def _next(self) -> ClaimedItem | None:
        while True:
            if self._stop.is_set():
                return None
            if self._buffer:
                item = self._buffer.popleft()
                if len(self._buffer) < self.settings.claim_batch:
                    self._room.set()
                if item.key in self._held:
                    return item
                continue
            if self._closing:
                return None
            self._work_ready.clear()
            await self._work_ready.wait()

    async def _check_loop(self, client: BigDataClient, limiter: QuotaLimiter) -> None:
        while (item := await self._next()) is not None:
            async with limiter.slot():
                outcome = await self._check(client, limiter, item)
            if isinstance(outcome, float):  # quota answer or open circuit: back to the front, attempt not counted
                self._buffer.appendleft(item)
                await self._sleep(outcome)  # an open circuit answers at once: do not spin
                continue
            self._outcomes.append(outcome)
            self._outcome_ready.set()

    async def _check(self, client: BigDataClient, limiter: QuotaLimiter, item: ClaimedItem) -> _Outcome | float:
        """The outcome of asking about ``item``, or how long to wait before asking again."""
        row = item.row
        try:
            result = await client.household_registration(row["sfzh"], row["xm"], purpose=self.settings.purpose)
        except QuotaExceeded as exc:
            self.report.quota_answers += 1
            limiter.pause(exc.retry_after if exc.retry_after is not None else 1.0)
            return 0.0
        except CircuitOpen:
            pause = client.settings.http.breaker_reset_seconds
            self.report.circuit_pauses += 1
            # not limiter.pause(): the breaker's half-open probe must get through when it is let out
            if not self._paused_job:
                self._paused_job = True
                until = self.clock() + dt.timedelta(seconds=pause)
                reason = f"大数据局接口连续失败已熔断，作业暂停，约 {until:%H:%M:%S} 后自动继续"
                await asyncio.to_thread(jobs.set_pause, self.engine, self.job_id, reason, until)
            return min(pause, WATCH_SECONDS)
        except AdapterError as exc:
            return _Outcome(item, reason=mask_in_text(str(exc)), retry_after=_retry_after(exc), audit_status="error")
        except ValueError as exc:  # bad input the adapter refused before sending (e.g. an empty name)
            return _Outcome(item, reason=mask_in_text(str(exc)), retry=False, audit_status="error")
        if self._paused_job:
            self._paused_job = False
            await asyncio.to_thread(jobs.set_pause, self.engine, self.job_id, None, None)
        values = result_values(result, self.clock())
        return _Outcome(item, values=values, audit_status=result.status)

    async def _flush_loop(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            batch, self._outcomes = self._outcomes, []
            if batch:
                await asyncio.to_thread(self._write, batch)
            if self._drained and not self._outcomes:
                return

    def _write(self, batch: list[_Outcome]) -> None:
        """Store a batch of outcomes (one transaction for the answers), then their audit outcomes."""
        answers = [(o.item, o.values) for o in batch if o.values is not None]
        lost = {item.key for item in self.queue.complete_many(self.engine, answers)} if answers else set()
        now = self.clock()
        audits = []
        for outcome in batch:
            key = outcome.item.key
            status = outcome.audit_status
            if outcome.values is None:
                try:
                    result = self.queue.fail(
                        self.engine,
                        outcome.item,
                        outcome.reason or "核查失败",
                        retry=outcome.retry,
                        retry_after=outcome.retry_after,
                        values={"checked_at": now},
                    )
                except LeaseLost:
                    lost.add(key)
                else:
                    if result.terminal:
                        self.report.failed += 1
                    else:
                        self.report.retried += 1
            elif key not in lost:
                self.report.checked += 1
                self.report.by_label[str(outcome.values.get("hjzt_label"))] += 1
            if key in lost:
                self.report.lost += 1
            self._held.pop(key, None)
            entry = self._entries.pop(key, None)
            if entry is not None:
                detail: dict[str, object] = {"stored": key not in lost}
                if outcome.reason:
                    detail["reason"] = outcome.reason[:200]
                audits.append((entry, status, detail))
        self.audit.finish_all(audits)

    async def _give_back(self) -> None:
        """Release claimed items nobody asked about (attempt not counted) and close their audit intents."""
        unsent = [item for item in self._buffer if item.key in self._held]
        self._buffer.clear()
        if not unsent:
            return

        def release() -> None:
            try:
                self.queue.release(self.engine, unsent)
            finally:
                audits = [
                    (self._entries.pop(i.key), "cancelled", {"sent": False}) for i in unsent if i.key in self._entries
                ]
                self.audit.finish_all(audits)
                for item in unsent:
                    self._held.pop(item.key, None)

        await asyncio.to_thread(release)

    def _finish_job(self) -> None:
        if jobs.finish_if_complete(self.engine, self.job_id, queue=self.queue, now=self.clock()):
            self.report.outcome = "finished"


def _retry_after(exc: AdapterError) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def bigdata_client_factory(
    section: Mapping[str, Any], settings: HukouSettings, *, engine: Engine | None = None
) -> ClientFactory:
    """Clients built from the ``[adapters.bigdata]`` section, paced by the worker's quota share.

    The adapter's own retries are cut to ``upstream_attempts`` (the queue retries with backoff),
    and its connection pool is sized to the concurrency cap. On a gen-1 gateway with ``engine``
    the secret pair is shared with the other workers and nodes through SOAR's database
    (:class:`~soar_ext.gateway_secrets.DbSecretStore`): a renewal revokes the previous pair.
    """
    from dataclasses import replace

    from soar_ext.adapters.bigdata import BigDataSettings
    from soar_ext.gateway_secrets import DbSecretStore

    base = BigDataSettings.from_config(section)
    http = replace(
        base.http,
        retry_attempts=settings.upstream_attempts,
        max_connections=max(base.http.max_connections, settings.quota.concurrency),
    )
    bigdata = replace(base, http=http)
    store = None
    if engine is not None and bigdata.generation == 1:
        store = DbSecretStore(engine, base_url=http.base_url, app_key=bigdata.app_key, app_secret=bigdata.app_secret)

    def build(limiter: QuotaLimiter) -> BigDataClient:
        return BigDataClient(bigdata, limiter=limiter, secret_store=store)

    return build


async def run_worker(engine: Engine, job_id: str, **kwargs: Any) -> WorkerReport:
    """``HukouWorker(engine, job_id, **kwargs).run()``."""
    stop = kwargs.pop("stop", None)
    return await HukouWorker(engine, job_id, **kwargs).run(stop)
