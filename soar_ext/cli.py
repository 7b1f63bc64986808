"""``soar-ext`` command line: database set-up, checks, plugins and simulators."""

from __future__ import annotations

import argparse
import logging
import sys
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
    from soar_ext.db.engine import make_engine
    from soar_ext.db.legacy import legacy_metadata
    from soar_ext.db.migrate import upgrade
    from soar_ext.synthetic import populate

    url = _url(args)
    if args.households < 1 or args.households > 1_000_000:
        print("households must be between 1 and 1000000", file=sys.stderr)
        return 2
    engine = make_engine(url)
    if engine.dialect.name not in ("sqlite", "postgresql"):
        print(
            "db init builds demo and test databases (SQLite/PostgreSQL) only; "
            "on SOAR's Oracle database use `soar-ext db upgrade` or the scripts in sql/oracle/.",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    if args.reset:
        from soar_ext.db.migrate import downgrade

        downgrade(url, "base")
        legacy_metadata.drop_all(engine)
    with engine.begin() as conn:
        legacy_metadata.create_all(conn)
    upgrade(url)
    with engine.connect() as conn:
        from sqlalchemy import func, select

        from soar_ext.db.legacy import families

        existing = conn.execute(select(func.count()).select_from(families)).scalar_one()
    if existing:
        print(f"数据库 {redact_url(url)} 已有 {existing} 户数据，未重复生成（使用 --reset 重建）。")
    else:
        summary = populate(engine, households=args.households, seed=args.seed)
        print(f"数据库：{redact_url(url)}")
        for line in summary.lines():
            print(line)
    print(f"完成，用时 {time.perf_counter() - started:.1f} 秒。")
    engine.dispose()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from soar_ext.db.migrate import upgrade

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    applied = upgrade(url, args.revision)
    print("applied: " + (", ".join(applied) if applied else "nothing (already at target)"))
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from soar_ext.db.migrate import downgrade

    url = _url(args)
    if (refused := _refuse_missing_sqlite(url)) is not None:
        return refused
    undone = downgrade(url, args.revision)
    print("undone: " + (", ".join(undone) if undone else "nothing (already at target)"))
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
    engine = make_engine(url)
    try:
        report = check(engine)
    finally:
        engine.dispose()
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
    down = dbsub.add_parser("downgrade", help="undo soar-ext migrations")
    down.add_argument("--url")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(func=cmd_db_downgrade)
    sql = dbsub.add_parser("sql", help="render the Oracle scripts for DBAs")
    sql.add_argument("--output", "-o", help="directory to write into (default: print)")
    sql.add_argument("--legacy", action="store_true", help="render the assumed legacy schema DDL instead")
    sql.set_defaults(func=cmd_db_sql)

    doctor = sub.add_parser("doctor", help="check a live database against the legacy schema and migrations")
    doctor.add_argument("--url")
    doctor.set_defaults(func=cmd_doctor)

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
