"""Seed item 6: batch household-registration (户籍) check of every current family member.

- ``soar_register_jobs``: the job ``hukou_check`` (户籍批量核查, role 批量核查人员):
  ``run(ctx, job_id=None)`` is a worker — of ``job_id``, or of every running job in turn — until
  the job has nothing left or is cancelled. Several workers on several SOAR nodes may run the
  same job at once (see :mod:`soar_ext.hukou.worker`).
- ``soar_detail_view`` on ``batch_job`` / ``hukou_check`` (the 批量作业 page): the start form
  (区县, 保障类型, 审批状态, or an uploaded list of 配租资格证号), the progress of the running jobs
  and the recent jobs with 取消, 重试失败 and 下载清单.
- ``soar_action``: ``hukou_check.start`` 发起, ``hukou_check.cancel`` 取消, ``hukou_check.retry``
  重试失败, ``hukou_check.export`` 下载清单 (Excel), ``hukou_check.status`` (the figures as data
  and a Progress block, for hosts that show them elsewhere).

Settings (``[plugins.hukou_check]``, see :class:`soar_ext.hukou.settings.HukouSettings`):
``quota_per_second``, ``quota_concurrency`` (for all workers of all nodes together),
``queue_lease_seconds``, ``queue_max_attempts``, ``claim_batch``, ``upstream_attempts``. The Big
Data connection comes from ``[adapters.bigdata]``. ``soar-ext hukou-check`` drives the same
functions from the command line. In ``shadow`` mode the check runs as in ``on`` (it never
changes SOAR data); messages say 试运行.
"""

from __future__ import annotations

from typing import Any

from soar_ext import hookimpl, roles
from soar_ext.context import SoarContext
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import ActionRequest, ActionResult, Contribution, DetailView, JobSpec
from soar_ext.hukou import jobs, page, service
from soar_ext.hukou.worker import WorkerReport

PLUGIN_LABEL = "户籍批量核查"
JOB_NAME = page.JOB_NAME


def run_job(ctx: SoarContext, job_id: str | None = None, **_params: Any) -> ActionResult:
    """The scheduled job: be a worker of ``job_id`` or of every running job, until none is left."""
    engine = ctx.connection.engine
    if job_id:
        targets = [jobs.load_job(ctx.connection, job_id)]
    else:
        targets = [j for j in jobs.recent_jobs(ctx.connection, 1000) if j.running]
    if not targets:
        return ActionResult(ok=True, message="没有进行中的户籍核查作业。")
    reports: list[tuple[jobs.Job, WorkerReport]] = []
    for job in targets:
        reports.append((job, service.work(engine, ctx, job.job_id)))
    lines = [
        f"作业 {job.job_id}：本进程核查 {r.checked:,} 人，失败 {r.failed:,} 人，待重试 {r.retried:,} 人"
        f"（{_OUTCOMES.get(r.outcome, r.outcome)}）"
        for job, r in reports
    ]
    return ActionResult(ok=True, message="；".join(lines) + "。", data=[r for _, r in reports])


_OUTCOMES = {"finished": "作业已无待核查人员", "cancelled": "作业已取消", "stopped": "已停止"}


@hookimpl
def soar_register_jobs(ctx: SoarContext) -> list[JobSpec]:
    return [JobSpec(name=JOB_NAME, label=PLUGIN_LABEL, run=run_job, required_role=roles.BATCH_CHECKER)]


@hookimpl
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """The 批量作业 page of ``hukou_check``."""
    if view.entity != page.ENTITY or view.key != JOB_NAME:
        return None
    return page.page(ctx, ctx.connection, jobs.item_queue(service.settings_of(ctx).queue))


def _job_id(request: ActionRequest) -> str:
    job_id = request.target or request.params.get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidInput("请指定户籍核查作业（作业ID）")
    return job_id.strip()


def _status(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    progress = service.progress(ctx, _job_id(request))
    block = page.progress_block(progress)
    message = f"作业 {progress.job.job_id}：已核查 {progress.checked:,} / {progress.total:,}，失败 {progress.failed:,}"
    return ActionResult(ok=True, message=message, data=progress, content=[block])


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """The page's actions (keys ``hukou_check.*``)."""
    if request.key == page.ACTION_START:
        return service.start(ctx, request.params)
    if request.key == page.ACTION_CANCEL:
        return service.cancel(ctx, _job_id(request))
    if request.key == page.ACTION_RETRY:
        return service.retry(ctx, _job_id(request))
    if request.key == page.ACTION_EXPORT:
        return service.export(ctx, _job_id(request))
    if request.key == page.ACTION_STATUS:
        return _status(ctx, request)
    return None
