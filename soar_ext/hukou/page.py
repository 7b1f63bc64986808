"""The 批量作业 page of the household check (``DetailView("batch_job", "hukou_check")``).

The start form (selection), the progress of the newest job, and the recent jobs with their
取消 / 重试失败 / 下载清单 buttons. Everything is generic page content the host renders.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from soar_ext import roles
from soar_ext.context import SoarContext
from soar_ext.db.codes import DISTRICTS, ApprovalStatus, GuaranteeType
from soar_ext.db.work_queue import WorkQueue
from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    Badge,
    Contribution,
    InputField,
    Notice,
    Progress,
    Table,
    TableRow,
)
from soar_ext.hukou import jobs
from soar_ext.hukou.jobs import JobProgress

JOB_NAME = "hukou_check"
ENTITY = "batch_job"
ACTION_START = "hukou_check.start"
ACTION_CANCEL = "hukou_check.cancel"
ACTION_RETRY = "hukou_check.retry"
ACTION_EXPORT = "hukou_check.export"
ACTION_STATUS = "hukou_check.status"
REFRESH_SECONDS = 2.0
RECENT_JOBS = 10

_TONES = {jobs.RUNNING: "info", jobs.FINISHED: "ok", jobs.CANCELLED: "muted"}


def start_form() -> ActionForm:
    return ActionForm(
        inputs=(
            InputField("districts", "区县（不选为全部）", "multichoice", choices=DISTRICTS),
            InputField("guarantee_types", "保障类型（不选为全部）", "multichoice", choices=GuaranteeType.LABELS),
            InputField("statuses", "审批状态（不选为全部）", "multichoice", choices=ApprovalStatus.LABELS),
            InputField("certificate_list", "或上传配租资格证号清单（文本文件，每行一个）", "file"),
        ),
        confirm="将按所选条件核查全部当前家庭成员的户籍状态，确定发起吗？",
        submit_label="发起核查",
    )


def status_badge(progress: JobProgress) -> Badge:
    job = progress.job
    if job.running and job.pause_reason:
        return Badge(f"已暂停：{job.pause_reason}", "warn")
    if job.running and progress.counts.remaining == 0:
        return Badge("进行中（等待收尾）", "info")
    return Badge(job.status_label, _TONES.get(job.status, "info"))  # type: ignore[arg-type]


def progress_block(progress: JobProgress) -> Progress:
    job = progress.job
    return Progress(
        label=f"作业 {job.job_id}（{job.selection_text}）",
        total=progress.total,
        done=progress.checked,
        failed=progress.failed,
        status=status_badge(progress),
        rate_per_second=progress.rate_per_second,
        eta_seconds=progress.eta_seconds,
        refresh_seconds=REFRESH_SECONDS if job.running else None,
    )


def _buttons(progress: JobProgress) -> list[ActionButton]:
    job = progress.job
    buttons = [ActionButton(ACTION_EXPORT, "下载清单", target=job.job_id, download=True)]
    if job.running:
        buttons.append(
            ActionButton(
                ACTION_CANCEL,
                "取消",
                target=job.job_id,
                confirm=f"确定取消作业 {job.job_id} 吗？未核查的人员将不再核查。",
            )
        )
    if progress.failed and job.status != jobs.CANCELLED:
        buttons.append(ActionButton(ACTION_RETRY, f"重试失败（{progress.failed}人）", target=job.job_id))
    return buttons


def jobs_table(progresses: Sequence[JobProgress]) -> Table:
    rows = []
    for p in progresses:
        job = p.job
        rows.append(
            TableRow(
                cells=[
                    job.job_id,
                    f"{job.created_at:%Y-%m-%d %H:%M}",
                    job.operator_name or job.operator_id or "",
                    job.selection_text,
                    status_badge(p),
                    f"{p.checked:,} / {p.total:,}",
                    f"{p.failed:,}",
                    f"{job.invalid_count:,}",
                    f"{job.unknown_count:,}",
                ],
                actions=_buttons(p),
                key=job.job_id,
            )
        )
    return Table(
        columns=[
            "作业ID",
            "发起时间",
            "发起人",
            "选择条件",
            "状态",
            "已核查/需核查",
            "失败",
            "身份证号无效",
            "证号不存在",
        ],
        rows=rows,
        title="最近的核查作业",
        empty_text="尚未发起户籍批量核查。",
    )


def page(ctx: SoarContext, conn: Connection, queue: WorkQueue) -> list[Contribution]:
    """The page's contributions for the operator of ``ctx``."""
    allowed = ctx.operator.has_role(roles.BATCH_CHECKER)
    hint = None if allowed else f"需要「{roles.LABELS[roles.BATCH_CHECKER]}」权限"
    items: list[Contribution] = [
        Contribution("action", ACTION_START, "发起户籍批量核查", enabled=allowed, hint=hint, content=start_form())
    ]
    if not allowed:
        return items
    now = ctx.now()
    progresses = [jobs.job_progress(conn, j.job_id, now=now, queue=queue) for j in jobs.recent_jobs(conn, RECENT_JOBS)]
    running = [p for p in progresses if p.job.running]
    shown = running or progresses[:1]
    if shown:
        blocks: list[object] = [progress_block(p) for p in shown]
        if running:
            blocks.append(Notice("核查由后台工作进程执行（soar-ext hukou-check run），本页自动刷新进度。", "info"))
        items.append(Contribution("panel", "hukou_check.progress", "核查进度", content=blocks))
    items.append(Contribution("panel", "hukou_check.jobs", "核查作业", content=jobs_table(progresses)))
    return items
