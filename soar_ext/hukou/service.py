"""What the plugin's actions, its job and the command line do, on a :class:`SoarContext`.

Each function checks the operator's role (批量核查人员) before it reads or writes anything and
audits what it did through ``ctx.audit``: ``hukou_check.start`` (the selection, the job, its
counts, or why it was refused), ``hukou_check.cancel``, ``hukou_check.retry`` and the export
(``hukou_check.export``, by :func:`soar_ext.export.audited.export_workbook`). Every upstream
query is audited by the worker (``hukou_check.query``, write-ahead).

The check never changes SOAR's data, so ``shadow`` mode (试运行) runs it like ``on``; results
and messages say 试运行.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine

from soar_ext import roles
from soar_ext.audit import AuditEvent
from soar_ext.context import SoarContext
from soar_ext.errors import PermissionDenied, SoarUserError
from soar_ext.export.audited import export_workbook
from soar_ext.hook_payloads import ActionResult
from soar_ext.hukou import jobs, listing
from soar_ext.hukou.selection import parse_selection
from soar_ext.hukou.settings import PLUGIN, HukouSettings
from soar_ext.hukou.worker import ClientFactory, HukouWorker, WorkerReport, bigdata_client_factory
from soar_ext.idnumber import mask_in_text

SHADOW = "[试运行]"


def settings_of(ctx: SoarContext) -> HukouSettings:
    return HukouSettings.from_mapping(ctx.config.plugin(PLUGIN))


def _say(ctx: SoarContext, message: str) -> str:
    return message if ctx.enforce else f"{SHADOW}{message}"


def _audit(ctx: SoarContext, action: str, status: str, purpose: str, detail: Mapping[str, object]) -> None:
    ctx.audit.record(
        AuditEvent(
            action=action,
            operator_id=ctx.operator.id,
            purpose=purpose,
            result_status=status,
            detail={"mode": ctx.mode, **detail},
            at=ctx.now(),
        )
    )


def _require(ctx: SoarContext, action: str, what: str, detail: Mapping[str, object]) -> None:
    try:
        ctx.operator.require(roles.BATCH_CHECKER, what)
    except PermissionDenied:
        _audit(ctx, action, "denied", what, {**detail, "required_role": roles.BATCH_CHECKER})
        raise


def start(ctx: SoarContext, params: Mapping[str, Any]) -> ActionResult:
    """Create a job for the selection in ``params`` (in ``ctx.connection``'s transaction)."""
    _require(ctx, "hukou_check.start", "发起户籍批量核查", {})
    settings = settings_of(ctx)
    try:
        selection = parse_selection(params)
        created = jobs.create_job(
            ctx.connection, selection, operator=ctx.operator, now=ctx.now(), queue=jobs.item_queue(settings.queue)
        )
    except SoarUserError as exc:
        detail: dict[str, object] = {"reason": mask_in_text(str(exc))[:300]}
        if isinstance(exc, jobs.JobAlreadyRunning):
            detail["running_job"] = exc.job.job_id
        _audit(ctx, "hukou_check.start", "refused", "发起户籍批量核查", detail)
        raise
    job = created.job
    _audit(
        ctx,
        "hukou_check.start",
        "ok",
        "发起户籍批量核查",
        {
            "job_id": job.job_id,
            "selection": job.selection_text[:300],
            "applicants": job.applicant_count,
            "rows": job.member_count,
            "persons": job.person_count,
            "invalid_ids": job.invalid_count,
            "unknown_certificates": job.unknown_count,
        },
    )
    message = (
        f"已发起户籍批量核查作业 {job.job_id}：主申请人 {job.applicant_count:,} 户，清单 {job.member_count:,} 行，"
        f"需核查 {job.person_count:,} 人（按身份证号去重）"
    )
    if job.invalid_count:
        message += f"，身份证号无效 {job.invalid_count:,} 行（不查询，清单中注明）"
    if created.unknown_certificates:
        shown = "、".join(created.unknown_certificates[: jobs.UNKNOWN_SHOWN])
        more = (
            f"等{len(created.unknown_certificates)}个" if len(created.unknown_certificates) > jobs.UNKNOWN_SHOWN else ""
        )
        message += f"；以下配租资格证号不存在，已列入清单：{shown}{more}"
    return ActionResult(ok=True, message=_say(ctx, message + "。"), data=created)


def cancel(ctx: SoarContext, job_id: str) -> ActionResult:
    """Cancel a running job (its workers stop within about a second)."""
    _require(ctx, "hukou_check.cancel", "取消户籍批量核查", {"job_id": job_id})
    settings = settings_of(ctx)
    count = jobs.cancel_job(
        ctx.connection, job_id, operator=ctx.operator, now=ctx.now(), queue=jobs.item_queue(settings.queue)
    )
    _audit(ctx, "hukou_check.cancel", "ok", "取消户籍批量核查", {"job_id": job_id, "cancelled_items": count})
    return ActionResult(ok=True, message=_say(ctx, f"已取消户籍核查作业 {job_id}，{count:,} 人未核查。"))


def retry(ctx: SoarContext, job_id: str) -> ActionResult:
    """Put a job's failed persons back to 待核查."""
    _require(ctx, "hukou_check.retry", "重试户籍核查失败人员", {"job_id": job_id})
    settings = settings_of(ctx)
    count = jobs.retry_failed(ctx.connection, job_id, queue=jobs.item_queue(settings.queue))
    _audit(ctx, "hukou_check.retry", "ok", "重试户籍核查失败人员", {"job_id": job_id, "requeued": count})
    return ActionResult(ok=True, message=_say(ctx, f"作业 {job_id} 的 {count:,} 名核查失败人员已重新排队核查。"))


def export(ctx: SoarContext, job_id: str) -> ActionResult:
    """The job's list as Excel (role 批量核查人员; full ID numbers only with 查看完整身份证号)."""
    job = jobs.load_job(ctx.connection, job_id)
    result = export_workbook(
        ctx,
        file_name=listing.file_name(job),
        purpose=listing.EXPORT_PURPOSE,
        sheets=listing.job_sheets(ctx.connection, job),
        required_role=roles.BATCH_CHECKER,
        action=listing.EXPORT_ACTION,
        detail={"job_id": job.job_id, "job_status": job.status},
    )
    if job.running:
        result = replace(result, message=result.message + "作业仍在进行，清单中尚未核查的人员标为「未核查」。")
    return result


def progress(ctx: SoarContext, job_id: str) -> jobs.JobProgress:
    """The job's figures (done / failed / remaining, rate, ETA) for a host."""
    ctx.operator.require(roles.BATCH_CHECKER, "查看户籍批量核查进度")
    return jobs.job_progress(ctx.connection, job_id, now=ctx.now(), queue=jobs.item_queue(settings_of(ctx).queue))


def build_worker(
    engine: Engine,
    ctx: SoarContext,
    job_id: str,
    *,
    settings: HukouSettings | None = None,
    client_factory: ClientFactory | None = None,
) -> HukouWorker:
    """A worker of ``job_id`` for the operator of ``ctx`` (role 批量核查人员).

    Upstream queries are audited under the operator who started the job.
    """
    ctx.operator.require(roles.BATCH_CHECKER, "运行户籍批量核查")
    settings = settings or settings_of(ctx)
    job = jobs.load_job(engine, job_id)
    factory = client_factory or bigdata_client_factory(ctx.config.adapter("bigdata"), settings, engine=engine)
    return HukouWorker(
        engine,
        job.job_id,
        settings=settings,
        client_factory=factory,
        audit=ctx.audit,
        operator_id=job.operator_id,
        clock=ctx.clock,
    )


def work(
    engine: Engine,
    ctx: SoarContext,
    job_id: str,
    *,
    settings: HukouSettings | None = None,
    client_factory: ClientFactory | None = None,
    stop: asyncio.Event | None = None,
) -> WorkerReport:
    """Be a worker of ``job_id`` until it has nothing left or is cancelled (blocking).

    Runs its own event loop (in a fresh thread if the caller already runs one).
    """
    worker = build_worker(engine, ctx, job_id, settings=settings, client_factory=client_factory)
    return run_coroutine(worker.run(stop))


def run_coroutine(coro: Any) -> Any:
    """``asyncio.run(coro)``, in a separate thread when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
