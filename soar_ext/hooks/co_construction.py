"""Seed item 4: co-construction projects (配建项目) — surveying link and document delivery.

- ``soar_project_saved``: find the surveyed project by number and name (normalised), link it when
  exactly one agrees on both, otherwise record the candidates for 确认关联; take 预测面积,
  实测面积 and 房源数量 from the surveying service (``tch_fwxx`` only while the service is down,
  never over service figures); flag a measured/predicted deviation above the configured percent.
- ``soar_documents_received`` (inside SOAR's transaction): check each document (type, size,
  extension, content) and write it to the durable outbox ``sx_doc_outbox``; refused documents
  are recorded with their reason. The repository is never called here.
- ``soar_register_jobs``: ``co_construction.deliver`` uploads pending entries (also
  ``soar-ext documents deliver``), see :mod:`soar_ext.coconstruction.delivery`.
- ``soar_detail_view`` on ``co_construction_project`` (key = 配建项目ID): the 测绘关联 panel and
  the 收件资料上传 panel; on ``batch_job`` ``co_construction.deliver``: the outbox's counts.
- ``soar_action``: ``co_construction.confirm`` 确认关联, ``co_construction.resync`` 重新同步,
  ``co_construction.deliver_now`` 立即上传 (this project's pending documents).

Settings: ``[plugins.co_construction]``, see :mod:`soar_ext.coconstruction.settings`. In
``shadow`` mode links, figures and the outbox are recorded (trial operation) but the worker
uploads nothing, and the actions only say what they would do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from soar_ext import hookimpl
from soar_ext.coconstruction import outbox, page
from soar_ext.coconstruction import survey_sync as sync
from soar_ext.coconstruction.delivery import DeliveryReport, DeliveryWorker, outbox_counts
from soar_ext.coconstruction.documents import DocumentRefused, check_document, clean_file_name
from soar_ext.coconstruction.settings import PLUGIN, CoConstructionSettings
from soar_ext.config import ConfigError
from soar_ext.context import SoarContext
from soar_ext.db.extension import document_contents, document_outbox, document_rejections, project_surveys
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    Contribution,
    DetailView,
    DocumentReceipt,
    JobSpec,
    KeyValues,
    ProjectChange,
)
from soar_ext.log_masking import get_logger
from soar_ext.roles import CLERK

PLUGIN_LABEL = "配建项目"
ENTITY_PROJECT = "co_construction_project"
ENTITY_JOB = "batch_job"
JOB_NAME = "co_construction.deliver"
JOB_LABEL = "配建项目资料上传"
SHADOW = "[试运行]"
TABLES = (project_surveys, document_outbox, document_contents, document_rejections)

log = get_logger(__name__)


def settings_of(ctx: SoarContext) -> CoConstructionSettings:
    return CoConstructionSettings.from_mapping(ctx.config.plugin(PLUGIN))


@hookimpl
def soar_startup(ctx: SoarContext) -> list[str] | None:
    """Check the settings and that migration 0007 is applied."""
    problems = []
    try:
        settings_of(ctx)
    except ConfigError as exc:
        problems.append(str(exc))
    inspector = inspect(ctx.connection)
    missing = [t.name for t in TABLES if not inspector.has_table(t.name)]
    if missing:
        problems.append(f"tables {', '.join(missing)} are missing: run `soar-ext db upgrade` (revision 0007)")
    return problems or None


# ------------------------------------------------------------------------------ SOAR's saves


@hookimpl
def soar_project_saved(ctx: SoarContext, project: ProjectChange) -> None:
    """Link the saved project to its surveyed project and refresh the figures (SOAR's transaction)."""
    row = sync.load_project(ctx.connection, project.project_id)
    outcome = sync.sync_project(ctx, row, settings_of(ctx))
    log.info("配建项目 %s 测绘同步：%s", row.xmbh, outcome.message)


@hookimpl
def soar_documents_received(ctx: SoarContext, receipt: DocumentReceipt) -> None:
    """Write the received documents to the outbox (or record why one was refused), in SOAR's transaction."""
    settings = settings_of(ctx)
    conn, at = ctx.connection, ctx.now()
    row = sync.load_project(conn, receipt.project_id)
    accepted = []
    for document in receipt.documents:
        try:
            accepted.append(check_document(document, settings))
        except DocumentRefused as exc:
            content = document.content if isinstance(document.content, bytes | bytearray) else b""
            outbox.record_rejection(
                conn,
                row.pjxmid,
                document.doc_type,
                clean_file_name(document.file_name),
                len(content),
                str(exc),
                ctx.operator,
                at,
            )
            log.warning("配建项目 %s 收件未接受：%s", row.xmbh, exc)
    if accepted:
        outbox.enqueue(conn, outbox.outbox_queue(settings, clock=ctx.clock), row, accepted, ctx.operator, at)


# ------------------------------------------------------------------------------ delivery


def worker_for(ctx: SoarContext, settings: CoConstructionSettings) -> DeliveryWorker:
    return DeliveryWorker(ctx.connection.engine, ctx.adapters.docrepo, ctx.adapters.run, settings, clock=ctx.clock)


def run_delivery(ctx: SoarContext) -> ActionResult:
    """The job: deliver every due outbox entry once (SOAR's scheduler runs it periodically)."""
    settings = settings_of(ctx)
    if not ctx.enforce:
        counts = outbox_counts(ctx.connection.engine, settings)
        return ActionResult(
            ok=True, message=f"{SHADOW}资料上传作业未执行：待上传 {counts.pending} 份，试运行期间不上传。"
        )
    report: DeliveryReport = worker_for(ctx, settings).run(once=True)
    return ActionResult(ok=report.failed == 0, message=report.summary(), data=report)


@hookimpl
def soar_register_jobs(ctx: SoarContext) -> list[JobSpec]:
    return [JobSpec(name=JOB_NAME, label=JOB_LABEL, run=run_delivery, required_role=CLERK)]


# ------------------------------------------------------------------------------ pages


def project_page(ctx: SoarContext, project_id: str) -> list[Contribution]:
    settings = settings_of(ctx)
    conn = ctx.connection
    row = sync.load_project(conn, project_id)
    statuses = outbox.type_statuses(conn, project_id)
    waiting = any(st.state in (outbox.WAITING, outbox.RETRYING) for st in statuses)
    return page.contributions(
        page.survey_blocks(row, sync.link_of(conn, project_id), settings),
        page.document_blocks(statuses, outbox.other_refusals(conn, project_id), waiting, project_id),
    )


def job_page(ctx: SoarContext) -> list[Contribution]:
    counts = outbox_counts(ctx.connection, settings_of(ctx))
    items = [
        ("待上传", f"{counts.pending} 份（其中 {counts.retrying} 份为失败后等待重试）"),
        ("上传中", f"{counts.leased} 份"),
        ("已上传", f"{counts.done} 份"),
        ("上传失败（已停止重试）", f"{counts.failed} 份"),
    ]
    return [
        Contribution(kind="panel", key="co_construction.queue", label="资料上传队列", content=KeyValues(items=items)),
        Contribution(kind="action", key=JOB_NAME, label="运行一轮上传"),
    ]


@hookimpl
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    if view.entity == ENTITY_PROJECT:
        return project_page(ctx, view.key)
    if view.entity == ENTITY_JOB and view.key == JOB_NAME:
        return job_page(ctx)
    return None


# ------------------------------------------------------------------------------ actions


def _confirm(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    row = sync.load_project(ctx.connection, request.target)
    number = request.params.get(page.P_SURVEY_NUMBER)
    if not ctx.enforce:
        return ActionResult(ok=True, message=f"{SHADOW}将关联到测绘项目「{str(number)[:30]}」，本次未写入。")
    outcome = sync.confirm_link(ctx, row, number, settings_of(ctx))
    return ActionResult(ok=True, message=outcome.message)


def _resync(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    row = sync.load_project(ctx.connection, request.target)
    if not ctx.enforce:
        return ActionResult(ok=True, message=f"{SHADOW}将重新同步项目「{row.xmmc}」的测绘数据，本次未写入。")
    outcome = sync.sync_project(ctx, row, settings_of(ctx))
    return ActionResult(ok=outcome.state == sync.LINKED, message=outcome.message)


def _deliver_now(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    row = sync.load_project(ctx.connection, request.target)
    if not ctx.enforce:
        return ActionResult(ok=True, message=f"{SHADOW}试运行期间不上传资料。")
    report = worker_for(ctx, settings_of(ctx)).run(once=True, where=document_outbox.c.pjxmid == row.pjxmid)
    return ActionResult(ok=report.failed == 0 and report.retrying == 0, message=report.summary())


def _run_job(ctx: SoarContext, request: ActionRequest) -> ActionResult:
    return run_delivery(ctx)


_ACTIONS: dict[str, tuple[Any, str]] = {
    page.ACTION_CONFIRM: (_confirm, "确认测绘关联"),
    page.ACTION_RESYNC: (_resync, "重新同步测绘数据"),
    page.ACTION_DELIVER: (_deliver_now, "上传收件资料"),
    JOB_NAME: (_run_job, "运行资料上传作业"),
}


@hookimpl
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """The project page's actions (keys ``co_construction.*``)."""
    handler = _ACTIONS.get(request.key)
    if handler is None:
        return None
    run, what = handler
    ctx.operator.require(CLERK, what)
    return run(ctx, request)
