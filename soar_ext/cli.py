"""``soar-ext`` command line: database set-up, checks, audit report, plugins, jobs and simulators."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from soar_ext.config import ConfigError, load_config, redact_url
from soar_ext.db.migrate import LegacySchemaMissing
from soar_ext.log_masking import install_id_masking

#: Database errors ``main`` turns into one line on stderr and exit code 2 (no traceback).
DATABASE_ERRORS = (OperationalError, InterfaceError, ArgumentError)


def _url(args: argparse.Namespace) -> str:
    """The database URL of a command (``--url``, else the configuration); ``ArgumentError`` if malformed."""
    url = args.url or load_config(args.config).database_url
    try:
        make_url(url)
    except ValueError as exc:  # e.g. a port that is not a number; ArgumentError passes through
        raise ArgumentError(f"could not parse the URL: {exc}") from None
    return url


def _missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL if that file does not exist (``None`` for other URLs and in-memory ones).

    Opening a missing SQLite file creates an empty one, so commands that only check or migrate an
    existing database look first; ``db init`` is the command that creates it.
    """
    parsed = make_url(url)  # already checked by _url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or parsed.query.get("uri"):
        return None
    path = Path(database)
    return None if path.exists() else path


def _refuse_missing_sqlite(url: str) -> int | None:
    missing = _missing_sqlite_file(url)
    if missing is None:
        return None
    print(
        f"error: SQLite database file not found: {missing} (check the URL; `soar-ext db init` creates a demo database)",
        file=sys.stderr,
    )
    return 2


def _database_error_message(exc: Exception, url: str | None) -> str:
    """One line naming the database (password redacted) and the driver's reason, without SQL or parameters."""
    orig = getattr(exc, "orig", None)
    reason = str(orig if orig is not None else exc).strip().splitlines()
    text = reason[0].strip() if reason else type(exc).__name__
    if url:
        text = text.replace(url, redact_url(url))
    text = redact_url(text)
    where = f" {redact_url(url)}" if url else ""
    if isinstance(exc, ArgumentError):
        return f"error: invalid database URL{where}: {text}"
    return f"error: cannot use database{where}: {text}"


def cmd_db_init(args: argparse.Namespace) -> int:
    from soar_ext.db.embedded import EmbeddedInitError, init_embedded

    url = _url(args)
    started = time.perf_counter()
    try:
        result = init_embedded(url, households=args.households, seed=args.seed, reset=args.reset)
    except EmbeddedInitError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for line in result.lines:
        print(line)
    _prepare_audit_store(args, url)
    print(f"完成，用时 {time.perf_counter() - started:.1f} 秒。")
    return 0


def _prepare_audit_store(args: argparse.Namespace, url: str) -> None:
    """Create the separate SQLite audit store (or give it the columns of later revisions)."""
    from soar_ext.audit_store import open_audit_store

    store = open_audit_store(load_config(args.config), url)
    try:
        if store.is_sqlite:
            store.ensure_schema()
            print(f"审计库：{redact_url(store.url)}")
    finally:
        store.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from soar_ext.db.migrate import upgrade

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    applied = upgrade(url, args.revision)
    _prepare_audit_store(args, url)
    print("applied: " + (", ".join(applied) if applied else "nothing (already at target)"))
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    """Undo migrations to an explicit revision; refuses to drop data unless ``--force``."""
    from soar_ext.db.migrate import downgrade, downgrade_plan

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    try:
        plan = downgrade_plan(url, args.revision)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not plan.revisions:
        print("undone: nothing (already at target)")
        return 0
    print(f"downgrade {plan.current} -> {plan.target} undoes revision(s) {', '.join(plan.revisions)} and drops:")
    for loss in plan.losses:
        print(f"  {loss.describe()}")
    if plan.deletes_data and not args.force:
        print(
            "refused: these tables/columns hold data that the downgrade would delete for good "
            "(the audit log among them). Export what must be kept, then re-run with --yes --force.",
            file=sys.stderr,
        )
        return 1
    if not args.yes:
        print("nothing done: add --yes to run this downgrade.", file=sys.stderr)
        return 1
    undone = downgrade(url, args.revision)
    print("undone: " + ", ".join(undone))
    return 0


def cmd_db_sql(args: argparse.Namespace) -> int:
    from soar_ext.db.ddl import render_legacy_oracle_ddl
    from soar_ext.db.migrate import render_oracle_scripts

    out = Path(args.output) if args.output else None
    scripts = dict(render_oracle_scripts())
    if args.legacy:
        scripts = {"soar_legacy_schema.sql": render_legacy_oracle_ddl()}
    if out is None:
        for name, text in scripts.items():
            print(f"-- ===== {name} =====")
            print(text)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from soar_ext.db.doctor import check
    from soar_ext.db.engine import make_engine

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    from soar_ext.audit_store import open_audit_store

    engine = make_engine(url)
    store = open_audit_store(load_config(args.config), url)
    try:
        report = check(engine, audit_store=store)
    finally:
        engine.dispose()
        store.dispose()
    print(f"database: {redact_url(url)}")
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def cmd_plugins(args: argparse.Namespace) -> int:
    from soar_ext.host import SoarHost

    host = SoarHost(load_config(args.config))
    infos = host.plugin_infos()
    if not infos:
        print("no plugins registered")
    for info in infos:
        print(f"{info.name}  {info.version}  mode={info.mode}  ({info.label})")
        for hook in info.hooks:
            print(f"    {hook}")
    for name in host.not_loaded:
        print(f"{name}  mode=off  (not loaded: switched off)")
    for failure in host.load_failures:
        print(f"BROKEN {failure.name} ({failure.value}): {failure.error}")
    return 1 if host.load_failures else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from soar_ext.db.engine import make_engine
    from soar_ext.demo import run_demo

    config = load_config(args.config)
    url = args.url or config.database_url
    engine = make_engine(url)
    try:
        report = run_demo(engine, config, commit=args.commit)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"数据库：{redact_url(url)}；钱江分模拟服务运行于本机回环地址")
    for line in report.lines():
        print(line)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Report audited queries whose outcome was never written (masked); exit 1 when there are any."""
    import datetime as dt

    from soar_ext.audit_store import open_audit_store, read_entries, unfinished_entries
    from soar_ext.clock import beijing_now
    from soar_ext.idnumber import mask_in_text

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    if args.older_than < 0 or args.limit < 1:
        print("error: --older-than must be ≥ 0 and --limit ≥ 1", file=sys.stderr)
        return 2
    store = open_audit_store(load_config(args.config), url)
    now = beijing_now()
    try:
        if args.recent:
            rows = read_entries(store, limit=args.limit)
        else:
            rows = unfinished_entries(store, older_than=dt.timedelta(minutes=args.older_than), now=now)
    finally:
        store.dispose()
    print(f"审计库：{redact_url(store.url)}")
    if args.recent:
        print(f"最近 {len(rows)} 条审计记录：")
    elif not rows:
        print("没有未完成的查询审计记录（每次查询均已记录结果）。")
        return 0
    else:
        print(f"未完成的查询审计记录 {len(rows)} 条（已记录查询意图、未记录结果，可能因程序中断）：")
    print("开始时间\t已过分钟\t操作\t操作员\t查询对象（脱敏）\t接口\t结果\t事由\t记录ID")
    for row in rows:
        minutes = int((now - row.created_at).total_seconds() // 60)
        print(
            "\t".join(
                [
                    f"{row.created_at:%Y-%m-%d %H:%M:%S}",
                    str(minutes),
                    row.action,
                    f"{row.operator_name or ''}({row.operator_id or ''})",
                    row.subject_masked or "",
                    ",".join(row.interfaces),
                    "未完成" if row.unfinished else row.result_status,
                    mask_in_text(row.purpose or ""),
                    row.id,
                ]
            )
        )
    return 0 if args.recent else 1


def _write_owner_only(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` completely or not at all, readable by its owner only (it holds personal data)."""
    fd, part = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def cmd_deposit_recheck(args: argparse.Namespace) -> int:
    """Run the deposit-waiver re-check job and write the 押金退还 list (.xlsx, from the job's export)."""
    import datetime as dt

    from soar_ext.context import Operator
    from soar_ext.db.engine import make_engine
    from soar_ext.deposit_recheck import JOB_NAME
    from soar_ext.host import SoarHost
    from soar_ext.roles import BATCH_CHECKER

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    if args.since is not None:
        try:
            dt.date.fromisoformat(args.since)
        except ValueError:
            print(f"error: --since must be a date like 2024-07-01, got {args.since[:20]!r}", file=sys.stderr)
            return 2
    output = Path(args.output) if args.output else None
    if output is not None and not output.is_dir() and not output.parent.is_dir():
        print(f"error: directory for --output not found: {output.parent}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    # the command line is for maintainers with database access; the operator id goes into the audit log.
    # The job's role is enough: the job hands out its refund list itself (export audited as export.refund_list).
    operator = Operator(
        id=args.operator_id, name=args.operator_name or args.operator_id, roles=frozenset({BATCH_CHECKER})
    )
    host = SoarHost(config)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            # a failed job has rolled back its own savepoint; its audit entries are durable anyway
            result = host.run_job(host.context(operator, conn), JOB_NAME, since=args.since)
        with engine.connect() as conn:
            host.shutdown(host.context(operator, conn))
    finally:
        engine.dispose()
    print(result.message)
    if not result.ok:
        return 1
    if result.file_bytes:
        name = result.file_name or "押金退还清单.xlsx"
        out = output / name if output is not None and output.is_dir() else output or Path(name)
        try:
            _write_owner_only(out, result.file_bytes)
        except OSError as exc:
            print(
                f"error: could not write {out}: {exc.strerror or exc}"
                " (the decisions are saved; run the command again to write the list)",
                file=sys.stderr,
            )
            return 1
        print(f"押金退还清单：{out}")
    return 0


def cmd_documents_deliver(args: argparse.Namespace) -> int:
    """Upload the 配建项目 documents waiting in the outbox (``--once``: until none is due, else until stopped)."""
    import signal
    import threading

    from soar_ext.adapter_registry import AdapterRegistry
    from soar_ext.coconstruction.delivery import DeliveryReport, DeliveryWorker
    from soar_ext.coconstruction.settings import PLUGIN, CoConstructionSettings
    from soar_ext.db.engine import make_engine

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    config = load_config(args.config)
    mode = config.mode_of(PLUGIN)
    if mode != "on":
        print(f"plugin {PLUGIN} is in mode {mode}: documents are delivered only in mode on", file=sys.stderr)
        return 2
    settings = CoConstructionSettings.from_mapping(config.plugin(PLUGIN))
    registry = AdapterRegistry(config)
    engine = make_engine(url)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}

    def progress(batch: DeliveryReport) -> None:
        if not args.once:
            print(batch.summary(), flush=True)

    try:
        worker = DeliveryWorker(engine, registry.docrepo, registry.run, settings)
        print(f"资料上传进程 {worker.owner} 开始{'（处理完当前待上传资料后退出）' if args.once else ''}", flush=True)
        report = worker.run(once=args.once, stop=stop, progress=progress)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        registry.close()
        engine.dispose()
    print(report.summary(), flush=True)
    return 0 if report.failed == 0 else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    try:  # the simulators need the `standin` extra: StandinMissing (a RuntimeError) names it
        from soar_ext.adapters.simulators.config import build_configs, load_toml
        from soar_ext.adapters.simulators.serve_all import SIMULATORS, run_simulators_forever

        names = tuple(dict.fromkeys(args.only)) if args.only else SIMULATORS
        configs, ports = build_configs(
            names,
            file=load_toml(args.file) if args.file else None,
            quota=args.quota,
            latency=args.latency_ms,
            interface_latency=args.interface_latency_ms,
            faults=args.fault,
            seed=args.seed,
        )
        for item in args.port:
            name, sep, port = item.partition("=")
            if not sep or not port.isdigit():
                raise ValueError(f"--port expects NAME=PORT, got {item!r}")
            ports[name] = int(port)
        run_simulators_forever(ports, host=args.host, configs=configs, names=names)
    except (ValueError, RuntimeError) as exc:  # bad options, a port in use, a simulator that did not start
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


STANDIN_MISSING = "the stand-in console needs the standin extra: pip install 'soar-ext[standin]'"


def _standin_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("starlette", "uvicorn", "jinja2", "multipart"))


def cmd_console_serve(args: argparse.Namespace) -> int:
    if not _standin_available():
        print(f"error: {STANDIN_MISSING}", file=sys.stderr)
        return 2
    from soar_ext.console.serve import ServeOptions, serve

    config = load_config(args.config)
    options = ServeOptions(
        url=args.url or config.database_url,
        host=args.host,
        port=args.port,
        households=args.households,
        seed=args.seed,
        reset=args.reset,
        simulators=not args.no_simulators,
        allow_remote=args.allow_remote,
    )
    return serve(options, config)


def cmd_console_screenshots(args: argparse.Namespace) -> int:
    if not _standin_available():
        print(f"error: {STANDIN_MISSING}", file=sys.stderr)
        return 2
    from soar_ext.console.tour import ScreenshotError, take_screenshots

    try:
        written = take_screenshots(Path(args.out), chromium=args.chromium, households=args.households)
    except ScreenshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soar-ext", description="SOAR extension layer tools")
    parser.add_argument("--config", help="TOML configuration file (default: SOAR_EXT_CONFIG or ./soar-ext.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database set-up and migrations")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    init = dbsub.add_parser("init", help="create the legacy schema, apply migrations, fill synthetic data")
    init.add_argument("--url", help="database URL (default: configuration / sqlite:///soar_ext.db)")
    init.add_argument("--households", type=int, default=2000, help="number of synthetic households (default 2000)")
    init.add_argument("--seed", type=int, default=20190601, help="random seed (default 20190601)")
    init.add_argument("--reset", action="store_true", help="drop soar-ext and assumed legacy tables first")
    init.set_defaults(func=cmd_db_init)
    up = dbsub.add_parser("upgrade", help="apply soar-ext migrations")
    up.add_argument("--url")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = dbsub.add_parser(
        "downgrade",
        help="undo soar-ext migrations down to an explicit revision (drops sx_ tables/columns: see --force)",
    )
    down.add_argument("--url")
    down.add_argument("revision", help="target revision, e.g. 0001, or 'base' to remove every soar-ext object")
    down.add_argument("--yes", action="store_true", help="really run it (without: only show what would be dropped)")
    down.add_argument(
        "--force", action="store_true", help="also drop tables/columns that hold data (the counts are shown first)"
    )
    down.set_defaults(func=cmd_db_downgrade)
    sql = dbsub.add_parser("sql", help="render the Oracle scripts for DBAs")
    sql.add_argument("--output", "-o", help="directory to write into (default: print)")
    sql.add_argument("--legacy", action="store_true", help="render the assumed legacy schema DDL instead")
    sql.set_defaults(func=cmd_db_sql)

    doctor = sub.add_parser("doctor", help="check a live database against the legacy schema and migrations")
    doctor.add_argument("--url")
    doctor.set_defaults(func=cmd_doctor)

    audit = sub.add_parser("audit", help="report audited queries without an outcome (masked)")
    audit.add_argument("--url", help="SOAR's database URL (the audit store is found from it)")
    audit.add_argument("--older-than", type=int, default=0, metavar="MINUTES", help="only intents at least this old")
    audit.add_argument("--recent", action="store_true", help="list the latest entries instead")
    audit.add_argument("--limit", type=int, default=50, help="entries listed with --recent (default 50)")
    audit.set_defaults(func=cmd_audit)

    deposit = sub.add_parser("deposit", help="deposit waiver (钱江分押金减免) jobs")
    depsub = deposit.add_subparsers(dest="deposit_command", required=True)
    recheck = depsub.add_parser("recheck", help="re-score decisions flagged 待复核 and list refundable deposits")
    recheck.add_argument("--url")
    recheck.add_argument("--since", metavar="DATE", help="only decisions last updated on or after DATE (YYYY-MM-DD)")
    recheck.add_argument("--operator-id", required=True, help="who runs it (recorded in the audit log)")
    recheck.add_argument("--operator-name", help="the operator's name")
    recheck.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="Excel file (.xlsx) for the 押金退还 list, or a directory for it"
        " (default: 押金退还清单-<time>.xlsx in the current directory); written only when there is something to refund",
    )
    recheck.set_defaults(func=cmd_deposit_recheck)

    documents = sub.add_parser("documents", help="配建项目 received documents (统一资料库 delivery)")
    docsub = documents.add_subparsers(dest="documents_command", required=True)
    deliver = docsub.add_parser(
        "deliver", help="upload documents waiting in the outbox; several workers on several nodes may run at once"
    )
    deliver.add_argument("--url")
    deliver.add_argument("--once", action="store_true", help="stop when no document is due (default: keep running)")
    deliver.set_defaults(func=cmd_documents_deliver)
    from soar_ext.hukou.command import add_parser as add_hukou_parser

    def hukou_common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url")
        p.add_argument("--operator-id", required=True, help="who runs it (recorded in the audit log)")
        p.add_argument("--operator-name", help="the operator's name")

    add_hukou_parser(sub, hukou_common)

    plugins = sub.add_parser("plugins", help="list plugins, versions, modes and hooks")
    plugins.set_defaults(func=cmd_plugins)

    demo = sub.add_parser("demo", help="play SOAR's screens on the demo database: contracts, inspection, queries")
    demo.add_argument("--url")
    demo.add_argument("--commit", action="store_true", help="keep the changes (default: roll back)")
    demo.set_defaults(func=cmd_demo)

    simulate = sub.add_parser(
        "simulate",
        help="serve the external-system simulators on loopback (quota, latency, faults)",
        description="Serve the simulators of bigdata, qianjiang, survey and docrepo on loopback. "
        "Options naming no simulator apply to all; options win over --file. "
        "GET /_admin/counts on a simulator gives the requests answered per subject and interface.",
        epilog="example: soar-ext simulate --quota bigdata=50 --latency-ms 50-150 "
        "--interface-latency-ms household_registration=200-300 --fault bigdata:status_5xx=0.02",
    )
    simulate.add_argument("--file", metavar="TOML", help="simulation settings file (see docs/adapters.md)")
    simulate.add_argument("--only", action="append", default=[], metavar="NAME", help="start only these simulators")
    simulate.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    simulate.add_argument(
        "--port", action="append", default=[], metavar="NAME=PORT", help="port of one simulator (0: a free port)"
    )
    simulate.add_argument(
        "--quota", action="append", default=[], metavar="[NAME=]CALLS_PER_S", help="per-app quota in calls per second"
    )
    simulate.add_argument(
        "--latency-ms", action="append", default=[], metavar="[NAME=]MIN-MAX", help="latency range of every answer"
    )
    simulate.add_argument(
        "--interface-latency-ms",
        action="append",
        default=[],
        metavar="CATEGORY=MIN-MAX",
        help="bigdata: latency range of one interface (category code or interface id)",
    )
    simulate.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="[NAME:]KIND=RATE[,PARAM=VALUE]",
        help="inject a fault (status_5xx, timeout, status_429, quota, malformed, expire_secret, bad_signature, …) "
        "into that share of requests, e.g. timeout=0.01,seconds=2",
    )
    simulate.add_argument("--seed", type=int, help="seed of the random draws (rates, latency) for repeatable runs")
    simulate.set_defaults(func=cmd_simulate)

    from soar_ext.console.serve import DEFAULT_PORT, default_port

    console = sub.add_parser("console", help="the SOAR stand-in console (web screens in the browser)")
    consub = console.add_subparsers(dest="console_command", required=True)
    serve = consub.add_parser(
        "serve", help="build the demo database if absent, start the simulators and serve the console (make demo)"
    )
    serve.add_argument("--url", help="database URL (default: configuration / sqlite:///soar_ext.db)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument(
        "--port",
        type=int,
        default=default_port(),
        help=f"port (default {DEFAULT_PORT} or SOAR_EXT_CONSOLE_PORT; 0 picks a free one)",
    )
    serve.add_argument("--households", type=int, default=2000, help="households when the database is built (2000)")
    serve.add_argument("--seed", type=int, default=20190601, help="random seed of the synthetic data")
    serve.add_argument("--reset", action="store_true", help="rebuild the demo database")
    serve.add_argument("--no-simulators", action="store_true", help="use the configured adapters, not the simulators")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (not recommended)")
    serve.set_defaults(func=cmd_console_serve)
    shots = consub.add_parser("screenshots", help="write a screenshot of every screen (PNG) into a folder")
    shots.add_argument("--out", required=True, help="folder to write into (e.g. docs/screenshots)")
    shots.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable (default /usr/bin/chromium)")
    shots.add_argument("--households", type=int, default=1000, help="households of the throwaway database (1000)")
    shots.set_defaults(func=cmd_console_screenshots)
    return parser


def _url_for_message(args: argparse.Namespace) -> str | None:
    """The database URL a command used, for an error message (``None`` if it cannot be told)."""
    if not hasattr(args, "url"):
        return None
    try:
        return args.url or load_config(args.config).database_url
    except ConfigError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    install_id_masking()
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except LegacySchemaMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DATABASE_ERRORS as exc:
        print(_database_error_message(exc, _url_for_message(args)), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
