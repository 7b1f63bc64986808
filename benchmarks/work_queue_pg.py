"""Benchmark: work-queue claim + complete throughput on PostgreSQL with 1, 2 and 4 worker processes.

What is measured (the shipped :class:`soar_ext.db.work_queue.WorkQueue`, nothing overridden)
    A throwaway table with the queue's standard columns (``queue_columns``) holds N pending items.
    W worker processes (W = 1, 2, 4, started side by side in one run) each loop: ``claim`` a batch
    (its own committed transaction), then ``complete_many`` the batch, a result value per item, in
    one transaction (one ``executemany``), until a claim returns nothing. The time from the common start signal to
    the last worker's exit gives items/s; the ratio to the single worker is printed. Both claim
    methods run: ``skip_locked_limit`` (PostgreSQL's: ``UPDATE … WHERE id IN (SELECT … LIMIT n FOR
    UPDATE SKIP LOCKED) RETURNING …``) and ``locking_cursor`` (Oracle's: an unlimited ``FOR UPDATE
    SKIP LOCKED`` cursor read with ``fetchmany``). After each run a check confirms every item is
    done exactly once (N done rows, one attempt each, every result written by the worker that
    claimed it).

    There is no upstream call: this is the queue's own overhead, the ceiling a feature's
    worker loop can reach. On a 2-core machine more than two processes compete for the CPU with
    the PostgreSQL server itself, so the 4-worker figure shows contention, not a broken queue.

Data
    A throwaway database ``soar_ext_bench_<hex>`` on ``SOAR_EXT_TEST_PG_URL`` (default
    ``postgresql://postgres@127.0.0.1:5432/postgres``), dropped at the end unless ``--keep``.

Run: ``.venv/bin/python benchmarks/work_queue_pg.py [--items N] [--batch B] [--workers 1,2,4]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence

import psycopg
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, text

from soar_ext.db.engine import make_engine
from soar_ext.db.work_queue import DONE, QueueSettings, WorkQueue, new_worker_id, queue_columns

ADMIN_URL = os.environ.get("SOAR_EXT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
METHODS = ("skip_locked_limit", "locking_cursor")


def bench_table() -> Table:
    return Table(
        "bq_item",
        MetaData(),
        Column("id", String(32), primary_key=True),
        Column("payload", String(100)),
        Column("result", String(64)),
        Column("result_code", Integer),
        *queue_columns("bq_item"),
    )


def create_database() -> str:
    name = f"soar_ext_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def worker(url: str, method: str, batch: int, ready: mp.Barrier, done_items: mp.Value) -> None:  # type: ignore[name-defined]
    engine = make_engine(url, pool_size=2)
    queue = WorkQueue(bench_table(), QueueSettings(lease_seconds=300), claim_method=method)  # type: ignore[arg-type]
    owner = new_worker_id()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # connect before the clock starts
    ready.wait()
    count = 0
    while claimed := queue.claim(engine, owner, batch):
        lost = queue.complete_many(engine, [(item, {"result": owner, "result_code": 1}) for item in claimed])
        if lost:
            raise RuntimeError(f"{len(lost)} leases lost")
        count += len(claimed)
    with done_items.get_lock():
        done_items.value += count
    engine.dispose()


def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    table = bench_table()
    queue = WorkQueue(table)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bq_item"))
        queue.enqueue(conn, ({"id": f"i{i:08d}", "payload": f"payload {i}"} for i in range(n)))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE bq_item"))
    engine.dispose()


def check(url: str, n: int) -> str:
    engine = make_engine(url)
    t = bench_table()
    with engine.connect() as conn:
        done = conn.execute(select(func.count()).where(t.c.wq_status == DONE)).scalar_one()
        max_attempts = conn.execute(select(func.max(t.c.wq_attempts))).scalar_one()
        unowned = conn.execute(select(func.count()).where(t.c.result.is_(None))).scalar_one()
    engine.dispose()
    ok = done == n and max_attempts == 1 and unowned == 0
    return "ok" if ok else f"FAILED (done {done}/{n}, max attempts {max_attempts}, without result {unowned})"


def run(url: str, method: str, workers: int, items: int, batch: int) -> tuple[float, str]:
    fill(url, items)
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(workers + 1)
    done_items = ctx.Value("i", 0)
    procs = [ctx.Process(target=worker, args=(url, method, batch, ready, done_items)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    if any(proc.exitcode for proc in procs):
        raise RuntimeError(f"a worker failed ({[proc.exitcode for proc in procs]})")
    verdict = check(url, items)
    if done_items.value != items:
        verdict = f"FAILED (workers reported {done_items.value}/{items})"
    return items / elapsed, verdict


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=10_000, help="items per run (default 10,000)")
    parser.add_argument("--batch", type=int, default=20, help="items per claim (default 20)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to compare (default 1,2,4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all configurations (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    url = create_database()
    try:
        engine = make_engine(url)
        bench_table().metadata.create_all(engine)
        with engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        print(
            f"work queue on PostgreSQL {server}: {args.items:,} items, claim batch {args.batch}, {os.cpu_count()} CPUs"
        )
        print(f"{'method':<18} {'workers':>7} {'items/s':>10} {'vs 1 worker':>12}  {'runs (items/s)':<24} check")
        results: dict[tuple[str, int], list[float]] = {}
        verdicts: dict[tuple[str, int], list[str]] = {}
        for _round in range(args.rounds):  # rounds interleave the configurations: load drifts on a shared machine
            for method in METHODS:
                for workers in counts:
                    rate, verdict = run(url, method, workers, args.items, args.batch)
                    results.setdefault((method, workers), []).append(rate)
                    verdicts.setdefault((method, workers), []).append(verdict)
        for method in METHODS:
            base = statistics.median(results[(method, counts[0])])
            for workers in counts:
                rates = results[(method, workers)]
                rate = statistics.median(rates)
                runs = ", ".join(f"{r:,.0f}" for r in rates)
                bad = [v for v in verdicts[(method, workers)] if v != "ok"]
                print(
                    f"{method:<18} {workers:>7} {rate:>10,.0f} {rate / base:>11.2f}×  {runs:<24} "
                    f"{bad[0] if bad else 'ok'}"
                )
        print("items/s: median over the rounds; check: every item done exactly once by the worker that claimed it")
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
