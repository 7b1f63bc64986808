"""The delivery worker: uploads outbox entries to the unified repository after SOAR committed them.

Several workers on several SOAR nodes may run at once: each claims entries through the work
queue (row locks, a lease, a fencing token), so an entry is held by one worker at a time and a
dead worker's entries go to another when the lease expires. An upload is idempotent by content
hash — the repository returns its existing record for the same bytes, type and project — so an
entry repeated after a takeover creates no second record. An entry is marked 已上传 (``done``,
with the repository's id) only after the repository's receipt *and* its stored metadata show
the same SHA-256 and size as ours; otherwise it is retried with backoff (repository down, quota,
a mismatch) or failed for good (the repository refused the request, the bytes are missing). The
bytes of a confirmed entry are dropped from ``sx_doc_content``; the entry itself (type, name,
size, SHA-256, the repository's id) stays as the record of the delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.sql.elements import ColumnElement

from soar_ext.adapters.common import AdapterError, QuotaExceeded, RequestRejected
from soar_ext.adapters.docrepo import DocType, DocumentTooLarge
from soar_ext.clock import Clock, beijing_now
from soar_ext.coconstruction.outbox import content_of, outbox_queue
from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.db.codes import DocumentType
from soar_ext.db.extension import document_contents
from soar_ext.db.portability import chunked
from soar_ext.db.work_queue import ClaimedItem, LeaseLost, StatusCounts, WorkQueue, new_worker_id
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

#: SOAR's document type codes → the repository's
REPOSITORY_TYPES: dict[str, DocType] = {
    DocumentType.AGREEMENT: DocType.CO_CONSTRUCTION_AGREEMENT,
    DocumentType.PROGRESS_PLEDGE: DocType.CONSTRUCTION_PROGRESS_PLEDGE,
    DocumentType.FULFILMENT_CONFIRMATION: DocType.FULFILMENT_CONFIRMATION,
    DocumentType.SALES_RESTRICTION_RELEASE: DocType.SALES_RESTRICTION_RELEASE_NOTICE,
}


def business_keys(row: Any) -> dict[str, str]:
    """The repository's business keys of an entry (fixed at 收件, so a retry sends the same ones)."""
    return {"projectNumber": str(row["xmbh"]), "projectId": str(row["pjxmid"])}


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed entry."""

    item: ClaimedItem
    repo_id: str | None = None
    created: bool = True
    error: str | None = None
    retry: bool = True
    retry_after: float | None = None


@dataclass
class DeliveryReport:
    """Counts of one worker's run."""

    uploaded: int = 0
    already_stored: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0
    passes: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        for name in ("uploaded", "already_stored", "retrying", "failed", "lost", "passes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[-5:])

    def summary(self) -> str:
        text = f"本次上传并校验 {self.uploaded} 份"
        if self.already_stored:
            text += f"（其中 {self.already_stored} 份资料库已有，未重复存储）"
        if self.retrying:
            text += f"，{self.retrying} 份上传失败将自动重试"
        if self.failed:
            text += f"，{self.failed} 份上传失败已停止重试"
        return text + "。"


class DeliveryWorker:
    """One worker: claims due entries, uploads and verifies them, records the outcome.

    ``run_adapter`` runs a coroutine on the adapters' event loop (``AdapterRegistry.run``);
    ``client`` is the :class:`~soar_ext.adapters.docrepo.DocRepoClient`.
    """

    def __init__(
        self,
        engine: Engine,
        client: Any,
        run_adapter: Callable[..., Any],
        settings: CoConstructionSettings,
        *,
        owner: str | None = None,
        clock: Clock = beijing_now,
        queue: WorkQueue | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.run_adapter = run_adapter
        self.settings = settings
        self.owner = owner or new_worker_id()
        self.clock = clock
        self.queue = queue or outbox_queue(settings, clock=clock)

    # ------------------------------------------------------------------ one pass

    def deliver_batch(self, where: ColumnElement[bool] | None = None) -> DeliveryReport | None:
        """Claim one batch (of the entries matching ``where``) and deliver it; ``None`` when nothing was due."""
        items = self.queue.claim(self.engine, self.owner, self.settings.worker_batch, where=where)
        if not items:
            return None
        outcomes = self.run_adapter(self._upload_all(items))
        return self._record(outcomes)

    def run(
        self,
        *,
        once: bool = True,
        stop: threading.Event | None = None,
        where: ColumnElement[bool] | None = None,
        progress: Callable[[DeliveryReport], None] | None = None,
    ) -> DeliveryReport:
        """Deliver until nothing is due (``once``), or until ``stop`` is set, pausing when idle.

        ``progress`` is called with each batch's report.
        """
        total = DeliveryReport()
        stop = stop or threading.Event()
        while not stop.is_set():
            report = self.deliver_batch(where)
            if report is None:
                if once:
                    break
                stop.wait(self.settings.worker_idle_seconds)
                continue
            total.add(report)
            if progress is not None:
                progress(report)
        return total

    # ------------------------------------------------------------------ uploading

    async def _upload_all(self, items: Sequence[ClaimedItem]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.settings.worker_concurrency)

        async def one(item: ClaimedItem) -> Outcome:
            async with gate:
                return await self._upload(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _upload(self, item: ClaimedItem) -> Outcome:
        row = item.row
        content = await asyncio.to_thread(self._content, row["id"])
        if content is None:
            return Outcome(item, error="待上传文件内容缺失（收件记录不完整）", retry=False)
        if len(content) != row["file_size"] or hashlib.sha256(content).hexdigest() != row["sha256"]:
            return Outcome(item, error="待上传文件内容与收件时的校验值不一致", retry=False)
        kind = REPOSITORY_TYPES.get(row["doc_type"])
        if kind is None:
            return Outcome(item, error=f"资料类型代码「{row['doc_type']}」无对应的资料库类型", retry=False)
        try:
            receipt = await self.client.upload(content, row["file_name"], kind, business_keys(row))
            await self.client.verify(receipt)  # the repository holds exactly our bytes: hash and size
        except QuotaExceeded as exc:
            return Outcome(item, error=f"统一资料库限流：{exc.reason}", retry_after=exc.retry_after)
        except RequestRejected as exc:
            return Outcome(item, error=f"统一资料库拒绝上传：{exc.reason}", retry=False)
        except DocumentTooLarge as exc:
            return Outcome(item, error=str(exc), retry=False)
        except AdapterError as exc:  # unavailable, circuit open, bad receipt, verification mismatch
            return Outcome(item, error=f"统一资料库{exc.call}失败：{exc.reason}")
        except ValueError as exc:
            return Outcome(item, error=f"上传参数不正确：{exc}", retry=False)
        return Outcome(item, repo_id=receipt.repo_id, created=receipt.created)

    def _content(self, entry_id: str) -> bytes | None:
        with self.engine.connect() as conn:
            return content_of(conn, entry_id)

    # ------------------------------------------------------------------ recording

    def _record(self, outcomes: Sequence[Outcome]) -> DeliveryReport:
        report = DeliveryReport(passes=1)
        now = self.clock()
        done = [o for o in outcomes if o.error is None]
        lost = self.queue.complete_many(
            self.engine, [(o.item, {"repo_doc_id": o.repo_id, "uploaded_at": now}) for o in done]
        )
        lost_keys = {item.key for item in lost}
        purge_contents(self.engine, [o.item.key for o in done if o.item.key not in lost_keys])
        for o in done:
            if o.item.key in lost_keys:
                continue
            report.uploaded += 1
            report.already_stored += 0 if o.created else 1
        report.lost += len(lost)
        for o in outcomes:
            if o.error is None:
                continue
            try:
                result = self.queue.fail(self.engine, o.item, o.error, retry=o.retry, retry_after=o.retry_after)
            except LeaseLost:
                report.lost += 1
                continue
            report.errors.append(o.error)
            if result.terminal:
                report.failed += 1
            else:
                report.retrying += 1
            log.warning("资料上传失败（%s）：%s", "已停止重试" if result.terminal else "将重试", o.error)
        return report


def purge_contents(engine: Engine, entry_ids: Sequence[str]) -> None:
    """Drop the bytes of entries the repository has confirmed (the repository holds them now).

    A separate transaction after the entries became ``done``: a crash in between only leaves
    bytes behind, never an entry without them.
    """
    if not entry_ids:
        return
    with engine.begin() as conn:
        for chunk in chunked(list(entry_ids)):
            conn.execute(delete(document_contents).where(document_contents.c.outbox_id.in_(chunk)))


def outbox_counts(engine_or_conn: Any, settings: CoConstructionSettings) -> StatusCounts:
    """The outbox's entries by status (for the job page)."""
    return outbox_queue(settings).counts(engine_or_conn)


def wait_until_delivered(engine: Engine, settings: CoConstructionSettings, timeout: float = 30.0) -> StatusCounts:
    """Poll until no entry is pending or leased (tests, benchmark); the final counts."""
    deadline = time.monotonic() + timeout
    while True:
        counts = outbox_counts(engine, settings)
        if counts.pending + counts.leased == 0 or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)
