"""Helpers shared by the PostgreSQL benchmarks: throwaway databases, timing, plans, goal verdicts.

Used by ``exchange_query_pg.py`` and ``housing_query_pg.py`` (run them from the repository root; this
module sits beside them). A query meets the goal (DESIGN.md §8) when its p95 is within
:data:`GOAL_P95_MS` and, for a page, its plan is index-driven: an index node and no full scan of one of
the benchmark's big tables.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Select

from soar_ext.db.engine import make_engine
from soar_ext.db.extension import LEGACY_INDEX_PG_OPS, LEGACY_INDEXES

ADMIN_URL = os.environ.get("SOAR_EXT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_P95_MS = 50.0
INDEX_NODES = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


# ------------------------------------------------------------------------------------ database


def psycopg_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(admin_url: str) -> str:
    """Create an empty throwaway database and return its URL."""
    name = f"soar_ext_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(psycopg_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def unreachable(admin_url: str) -> str | None:
    """Why the server at ``admin_url`` cannot be used, or ``None`` when it answers."""
    try:
        with psycopg.connect(psycopg_url(admin_url), connect_timeout=5):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL not reachable at {admin_url.split('@')[-1]}: {exc}"


@contextmanager
def throwaway_database(admin_url: str, *, keep: bool) -> Iterator[tuple[Engine, str]]:
    """A new database and an engine on it; dropped at the end unless ``keep``.

    ``prepare_threshold=None``: every execution is planned with its values, like the EXPLAIN shown.
    """
    url = create_database(admin_url)
    name = url.rsplit("/", 1)[1]
    engine = make_engine(url, connect_args={"prepare_threshold": None})
    print(f"database: {name} on {admin_url.split('@')[-1].rsplit('/', 1)[0]} (throwaway)")
    try:
        yield engine, url
    finally:
        engine.dispose()
        if keep:
            print(f"kept database {name}: {url}")
        else:
            drop_database(admin_url, url)
            print(f"dropped database {name}")


def vacuum_analyze(url: str, tables: Sequence[str] = ()) -> None:
    """``VACUUM ANALYZE`` (needs autocommit): fresh statistics and an all-visible visibility map."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        if tables:
            for table in tables:
                conn.execute(f"VACUUM ANALYZE {table}")  # type: ignore[arg-type]
        else:
            conn.execute("VACUUM ANALYZE")


def analyze(conn: Connection, tables: Sequence[str]) -> None:
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {table}")
    conn.commit()


def server_settings(conn: Connection) -> str:
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    values = [f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar_one()}" for n in names]
    return ", ".join(values)


def machine_load() -> str:
    """Load averages and CPU count: timings on a shared machine are only as good as its quiet."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"


def existing_indexes(conn: Connection, tables: Sequence[str]) -> list[str]:
    """Index names on ``tables`` (public schema), by table and name."""
    listed = ", ".join(f"'{t}'" for t in tables)
    rows = conn.exec_driver_sql(
        f"SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ({listed}) "
        "ORDER BY tablename, indexname"
    )
    return [r[0] for r in rows]


def legacy_index_ddl(tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX) of soar-ext's ``LEGACY_INDEXES`` on ``tables``, as the migrations create them.

    Plain SQL on purpose: an ``Index`` built on the legacy ``Table`` objects would attach itself to
    soar-ext's ``legacy_metadata``. PostgreSQL operator classes come from ``LEGACY_INDEX_PG_OPS``.
    """
    out = []
    for name, table, cols in LEGACY_INDEXES:
        if table.name not in tables:
            continue
        ops = LEGACY_INDEX_PG_OPS.get(name, {})
        columns = ", ".join(f"{col} {ops[col]}" if col in ops else col for col in cols)
        out.append((name, f"CREATE INDEX {name} ON {table.name} ({columns})"))
    return out


def drop_indexes(conn: Connection, ddl: Sequence[tuple[str, str]]) -> None:
    for name, _sql in ddl:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    conn.commit()


def create_indexes(conn: Connection, ddl: Sequence[tuple[str, str]]) -> None:
    present = {r[0] for r in conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    for name, sql in ddl:
        if name not in present:
            conn.exec_driver_sql(sql)
    conn.commit()


# ------------------------------------------------------------------------------------ measuring


@dataclass
class Timing:
    samples_ms: list[float]

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Plan:
    indexes: list[str]  # index names, "(backward)" when scanned backward
    seq_scans: list[str]
    sorts: list[str]  # Sort / Incremental Sort nodes: the order is not served by an index
    big_tables: Sequence[str] = ()  # tables a full scan of which means "not index-driven"

    @property
    def index_used(self) -> bool:
        """An index drives the query: at least one index node and no full scan of a big table."""
        return bool(self.indexes) and not any(t in self.big_tables for t in self.seq_scans)

    def describe(self) -> str:
        text = ", ".join(self.indexes) or "-"
        if self.seq_scans:
            text += f"; seq scan: {', '.join(dict.fromkeys(self.seq_scans))}"
        if self.sorts:
            text += f"; {', '.join(dict.fromkeys(self.sorts))}"
        return text


@dataclass
class Result:
    timing: Timing
    plan: Plan
    rows: int  # rows of the page, or the count
    sql: str
    kind: str  # one of KINDS
    data: list[tuple[Any, ...]] = field(default_factory=list, repr=False)  # the page's rows

    @property
    def meets_goal(self) -> bool:
        """p95 within the goal; a page must also be index-driven (a total may scan)."""
        return self.timing.p95 <= GOAL_P95_MS and (self.plan.index_used or self.kind != "page")

    def verdict(self) -> str:
        if self.meets_goal:
            return "meets goal"
        reasons = []
        if self.timing.p95 > GOAL_P95_MS:
            reasons.append(f"p95 {self.timing.p95:.1f} ms > {GOAL_P95_MS:.0f} ms")
        if self.kind == "page" and not self.plan.index_used:
            reasons.append("not index-driven")
        return "MISSES GOAL (" + ", ".join(reasons) + ")"


def literal_sql(conn: Connection, stmt: Select) -> str:
    return str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def explain(conn: Connection, sql: str, big_tables: Sequence[str]) -> Plan:
    """Index names (and scan direction), full scans and sorts of the plan (EXPLAIN without ANALYZE)."""
    doc = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar_one()
    conn.rollback()
    indexes: list[str] = []
    seq_scans: list[str] = []
    sorts: list[str] = []
    for node in _walk(doc[0]["Plan"]):
        kind = node["Node Type"]
        if kind in INDEX_NODES:
            name = node["Index Name"] + (" (backward)" if node.get("Scan Direction") == "Backward" else "")
            if name not in indexes:
                indexes.append(name)
        elif kind == "Seq Scan":
            seq_scans.append(node["Relation Name"])
        elif kind in ("Sort", "Incremental Sort"):
            sorts.append(kind)
    return Plan(indexes, seq_scans, sorts, tuple(big_tables))


def plan_digest(conn: Connection, sql: str) -> list[str]:
    """Why a query is slow: each scan/sort node of EXPLAIN ANALYZE with the rows it really handled."""
    doc = conn.exec_driver_sql("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql).scalar_one()
    conn.rollback()
    lines = []
    for node in _walk(doc[0]["Plan"]):
        kind = node["Node Type"]
        if "Relation Name" not in node and "Sort" not in kind and "Join" not in kind and kind != "Nested Loop":
            continue
        if kind in ("Index Scan", "Index Only Scan") and node.get("Scan Direction") == "Backward":
            kind += " Backward"
        loops = node.get("Actual Loops", 1)
        rows = node.get("Actual Rows", 0) * loops
        where = f" {node['Index Name']}" if "Index Name" in node else ""
        where += f" on {node['Relation Name']}" if "Relation Name" in node else ""
        if "Presorted Key" in node:
            where += f" (presorted by {', '.join(node['Presorted Key'])}, sorts each group)"
        per = f" in {loops:,} loops" if loops > 1 else ""
        lines.append(f"{kind}{where}: {rows:,} rows{per}")
    return lines


def plan_text(conn: Connection, sql: str, *, analyze: bool = False) -> str:
    options = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON" if analyze else "COSTS OFF"
    text = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN ({options}) {sql}"))
    conn.rollback()
    return text


def timed(conn: Connection, stmt: Select, args: argparse.Namespace) -> tuple[Timing, list[Any]]:
    """Warm up, then time up to ``runs`` executions; past ``budget`` seconds stop (at least 3 runs)."""
    t0 = time.perf_counter()
    rows = conn.execute(stmt).all()
    if time.perf_counter() - t0 < 1.0:  # a query over a second is warm after one run
        for _ in range(args.warmup - 1):
            rows = conn.execute(stmt).all()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < args.runs:
        t0 = time.perf_counter()
        rows = conn.execute(stmt).all()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= 3 and time.perf_counter() - started > args.budget:
            break
    conn.rollback()  # end the read transaction; nothing was written
    return Timing(samples), rows


def run_query(conn: Connection, stmt: Select, args: argparse.Namespace, kind: str, big_tables: Sequence[str]) -> Result:
    """Plan (EXPLAIN) and time one statement; ``kind`` "page" keeps the rows, anything else is a count."""
    sql = literal_sql(conn, stmt)
    plan = explain(conn, sql, big_tables)
    timing, rows = timed(conn, stmt, args)
    if kind == "page":
        return Result(timing, plan, len(rows), sql, kind, data=[tuple(r) for r in rows])
    return Result(timing, plan, int(rows[0][0]), sql, kind)


Measured = dict[str, dict[str, Result]]  # screen key -> kind ("page", "capped", "exact") -> result


def print_why(conn: Connection, measured: Measured, misses: Sequence[str]) -> None:
    """The EXPLAIN ANALYZE digest of every query named in ``misses`` (``"<screen> <kind>…"``)."""
    if not misses:
        return
    print("\nwhy (EXPLAIN ANALYZE of each query that misses the goal; rows actually handled per node):")
    for key, results in measured.items():
        for kind, result in results.items():
            if any(m.startswith(f"{key} {kind}") for m in misses):
                print(f"  {key} {kind}: " + " | ".join(plan_digest(conn, result.sql)))


def print_plans(conn: Connection, measured: Mapping[str, Mapping[str, Result]]) -> None:
    """Full EXPLAIN ANALYZE of every measured query."""
    for key, results in measured.items():
        for kind, result in results.items():
            print(f"\n-- {key} {kind}")
            print(plan_text(conn, result.sql, analyze=True))
