"""``soar-ext hukou-check start|run|status|retry-failed|cancel|export``.

The commands call the plugin's actions through :class:`~soar_ext.host.SoarHost`, like SOAR's
screens do, as the operator named on the command line with the role 批量核查人员 (``export
--full-ids`` adds 查看完整身份证号); every action is audited under that operator. ``run`` (and
``start`` / ``retry-failed`` unless ``--no-run``) is a worker with a progress bar (tqdm): done,
failed, remaining, rate and ETA of the whole job (all workers), read from the database each
second. Ctrl-C or SIGTERM stops the worker cleanly: it gives back what it has not asked yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from soar_ext import roles
from soar_ext.context import Operator, SoarContext
from soar_ext.hook_payloads import ActionRequest, ActionResult
from soar_ext.hukou import jobs, page, service
from soar_ext.hukou.settings import PLUGIN
from soar_ext.hukou.worker import HukouWorker, WorkerReport

PROGRESS_SECONDS = 1.0


def add_parser(sub: Any, common: Any) -> None:
    """Add ``hukou-check`` to the ``soar-ext`` parser (``common(parser)`` adds --url and the operator)."""
    hukou = sub.add_parser("hukou-check", help="batch household-registration check (户籍批量核查)")
    hsub = hukou.add_subparsers(dest="hukou_command", required=True)

    start = hsub.add_parser("start", help="create a job for a selection and (unless --no-run) work on it")
    common(start)
    start.add_argument("--district", action="append", default=[], help="区县 code or name (repeatable)")
    start.add_argument("--guarantee-type", action="append", default=[], help="保障类型: 01/公租房, 02/廉租房")
    start.add_argument("--status", action="append", default=[], help="审批状态 code or label (repeatable)")
    start.add_argument("--list", metavar="FILE", help="file of 配租资格证号, one per line (UTF-8)")
    _worker_options(start)
    start.set_defaults(func=cmd_start)

    run = hsub.add_parser("run", help="be a worker of a job (default: the newest running job)")
    common(run)
    run.add_argument("job_id", nargs="?")
    _worker_options(run, no_run=False)
    run.set_defaults(func=cmd_run)

    status = hsub.add_parser("status", help="progress of a job (default: the recent jobs)")
    common(status)
    status.add_argument("job_id", nargs="?")
    status.set_defaults(func=cmd_status)

    retry = hsub.add_parser("retry-failed", help="check a job's failed persons again")
    common(retry)
    retry.add_argument("job_id")
    _worker_options(retry)
    retry.set_defaults(func=cmd_retry)

    cancel = hsub.add_parser("cancel", help="cancel a running job (its workers stop)")
    common(cancel)
    cancel.add_argument("job_id")
    cancel.set_defaults(func=cmd_cancel)

    export = hsub.add_parser("export", help="write a job's list (.xlsx)")
    common(export)
    export.add_argument("job_id")
    export.add_argument("--output", "-o", metavar="FILE", help="file or directory (default: the current directory)")
    export.add_argument("--full-ids", action="store_true", help="full ID numbers (role 查看完整身份证号)")
    export.set_defaults(func=cmd_export)


def _worker_options(parser: argparse.ArgumentParser, *, no_run: bool = True) -> None:
    if no_run:
        parser.add_argument("--no-run", action="store_true", help="only create / requeue; workers run elsewhere")
    parser.add_argument("--rate", type=float, help="override quota_per_second (all workers together)")
    parser.add_argument("--concurrency", type=int, help="override quota_concurrency (all workers together)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# ------------------------------------------------------------------------------ plumbing


@contextlib.contextmanager
def _session(args: argparse.Namespace, *, full_ids: bool = False) -> Iterator[tuple[Any, Engine, Operator]]:
    from soar_ext.cli import _url
    from soar_ext.config import load_config
    from soar_ext.db.engine import make_engine
    from soar_ext.host import SoarHost

    config = load_config(args.config)
    granted = {roles.BATCH_CHECKER} | ({roles.FULL_ID} if full_ids else set())
    operator = Operator(id=args.operator_id, name=args.operator_name or args.operator_id, roles=frozenset(granted))
    host = SoarHost(config)
    engine = make_engine(_url(args))
    try:
        yield host, engine, operator
    finally:
        with contextlib.suppress(Exception), engine.connect() as conn:
            host.shutdown(host.context(operator, conn))
        engine.dispose()


def _action(host: Any, ctx: SoarContext, key: str, *, target: str | None = None, **params: Any) -> ActionResult:
    return host.action(ctx, ActionRequest(key, target=target, params=params, plugin=PLUGIN))


def _print(result: ActionResult) -> int:
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _settings(ctx: SoarContext, args: argparse.Namespace) -> Any:
    settings = service.settings_of(ctx)
    if getattr(args, "rate", None) is not None or getattr(args, "concurrency", None) is not None:
        settings = settings.with_quota(rate=args.rate, concurrency=args.concurrency)
    return settings


def _figures(progress: jobs.JobProgress) -> str:
    text = f"已核查 {progress.checked:,} 失败 {progress.failed:,} 剩余 {progress.remaining:,}"
    if progress.rate_per_second is not None:
        text += f" 速率 {progress.rate_per_second:.1f}人/秒"
    if progress.eta_seconds is not None:
        text += f" 预计剩余 {int(progress.eta_seconds) // 60}分{int(progress.eta_seconds) % 60:02d}秒"
    if progress.job.pause_reason:
        text += f"（{progress.job.pause_reason}）"
    return text


async def _run_with_bar(worker: HukouWorker, engine: Engine, job: jobs.Job, *, show: bool, clock: Any) -> WorkerReport:
    from tqdm import tqdm

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.run(stop))
    queue = jobs.item_queue(worker.settings.queue)
    bar = tqdm(total=job.person_count, unit="人", desc=f"户籍核查 {job.job_id[:8]}", disable=not show, file=sys.stderr)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_SECONDS)
            progress = await asyncio.to_thread(jobs.job_progress, engine, job.job_id, now=clock(), queue=queue)
            bar.n = progress.checked + progress.failed
            bar.set_postfix_str(_figures(progress), refresh=True)
    finally:
        bar.close()
    return task.result()


def _work(host: Any, engine: Engine, operator: Operator, args: argparse.Namespace, job_id: str) -> int:
    with engine.connect() as conn:
        ctx = host.context(operator, conn).for_plugin(PLUGIN, host.config.mode_of(PLUGIN))
        worker = service.build_worker(engine, ctx, job_id, settings=_settings(ctx, args))
        job = jobs.load_job(conn, job_id)
    report = asyncio.run(_run_with_bar(worker, engine, job, show=not args.no_progress, clock=ctx.clock))
    with engine.connect() as conn:
        progress = jobs.job_progress(conn, job_id, now=ctx.clock(), queue=worker.queue)
    outcome = {"finished": "作业已完成", "cancelled": "作业已取消", "stopped": "工作进程已停止，作业可继续运行"}
    print(
        f"作业 {job_id}：{outcome.get(report.outcome, report.outcome)}。本进程核查 {report.checked:,} 人，"
        f"失败 {report.failed:,} 人，待重试 {report.retried:,} 人，配额限流 {report.quota_answers:,} 次；"
        f"全作业 {_figures(progress)}。"
    )
    return 0


def _context(host: Any, operator: Operator, conn: Connection) -> SoarContext:
    return host.context(operator, conn)


# ------------------------------------------------------------------------------ commands


def cmd_start(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {
        "districts": args.district,
        "guarantee_types": args.guarantee_type,
        "statuses": args.status,
    }
    if args.list:
        path = Path(args.list)
        try:
            params["certificate_list"] = (path.name, path.read_bytes())
        except OSError as exc:
            print(f"error: cannot read --list {args.list}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    with _session(args) as (host, engine, operator):
        with engine.begin() as conn:
            result = _action(host, _context(host, operator, conn), page.ACTION_START, **params)
        code = _print(result)
        if code or args.no_run:
            return code
        return _work(host, engine, operator, args, result.data.job.job_id)


def cmd_run(args: argparse.Namespace) -> int:
    with _session(args) as (host, engine, operator):
        job_id = args.job_id
        if not job_id:
            with engine.connect() as conn:
                running = [j for j in jobs.recent_jobs(conn, 1000) if j.running]
            if not running:
                print("没有进行中的户籍核查作业。")
                return 0
            job_id = running[0].job_id
        try:
            with engine.connect() as conn:
                jobs.load_job(conn, job_id)
        except Exception as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return _work(host, engine, operator, args, job_id)


def cmd_status(args: argparse.Namespace) -> int:
    with _session(args) as (host, engine, operator), engine.connect() as conn:
        ctx = _context(host, operator, conn)
        if args.job_id:
            result = _action(host, ctx, page.ACTION_STATUS, target=args.job_id)
            if not result.ok:
                return _print(result)
            progress: jobs.JobProgress = result.data
            job = progress.job
            print(f"{job.describe()}\n选择条件：{job.selection_text}")
            print(
                f"主申请人 {job.applicant_count:,} 户，清单 {job.member_count:,} 行，需核查 {job.person_count:,} 人，"
                f"身份证号无效 {job.invalid_count:,} 行，配租资格证号不存在 {job.unknown_count:,} 个"
            )
            print(_figures(progress))
            return 0
        recent = jobs.recent_jobs(conn, 20)
        if not recent:
            print("尚未发起户籍批量核查。")
        queue = jobs.item_queue()
        for job in recent:
            progress = jobs.job_progress(conn, job.job_id, now=ctx.now(), queue=queue)
            print(f"{job.describe()}  {job.selection_text}  {_figures(progress)}")
        return 0


def cmd_retry(args: argparse.Namespace) -> int:
    with _session(args) as (host, engine, operator):
        with engine.begin() as conn:
            result = _action(host, _context(host, operator, conn), page.ACTION_RETRY, target=args.job_id)
        code = _print(result)
        if code or args.no_run:
            return code
        return _work(host, engine, operator, args, args.job_id)


def cmd_cancel(args: argparse.Namespace) -> int:
    with _session(args) as (host, engine, operator), engine.begin() as conn:
        return _print(_action(host, _context(host, operator, conn), page.ACTION_CANCEL, target=args.job_id))


def cmd_export(args: argparse.Namespace) -> int:
    from soar_ext.cli import _write_owner_only

    output = Path(args.output) if args.output else None
    if output is not None and not output.is_dir() and not output.parent.is_dir():
        print(f"error: directory for --output not found: {output.parent}", file=sys.stderr)
        return 2
    with _session(args, full_ids=args.full_ids) as (host, engine, operator), engine.connect() as conn:
        result = _action(host, _context(host, operator, conn), page.ACTION_EXPORT, target=args.job_id)
    if not result.ok or not result.file_bytes:
        return _print(result)
    name = result.file_name or "户籍核查清单.xlsx"
    out = output / name if output is not None and output.is_dir() else output or Path(name)
    try:
        _write_owner_only(out, result.file_bytes)
    except OSError as exc:
        print(f"error: could not write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(result.message)
    print(f"户籍核查清单：{out}")
    return 0
