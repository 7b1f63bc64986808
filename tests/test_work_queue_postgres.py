"""The work queue under real concurrency on PostgreSQL: parallel workers, a worker killed with SIGKILL.

Both claim methods run here: the PostgreSQL one (``LIMIT`` + ``FOR UPDATE SKIP LOCKED``) and
the one Oracle uses (an unlimited ``FOR UPDATE SKIP LOCKED`` cursor read with ``fetchmany``),
since PostgreSQL, like Oracle, locks a cursor's rows as they are fetched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from soar_ext.db.work_queue import DONE, QueueSettings, WorkQueue, new_worker_id
from tests.queue_fixtures import item_database, items

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[1]
METHODS = ["skip_locked_limit", "locking_cursor"]


@pytest.mark.parametrize("method", METHODS)
def test_four_concurrent_workers_claim_disjoint_items_and_finish_each_exactly_once(pg_url, method):
    engine, table = item_database(pg_url)
    queue = WorkQueue(table, QueueSettings(lease_seconds=120), claim_method=method)  # type: ignore[arg-type]
    with engine.begin() as conn:
        queue.enqueue(conn, items(600))
    claims: list[tuple[str, str]] = []
    completions: list[tuple[str, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        owner = new_worker_id()
        try:
            start.wait()
            while batch := queue.claim(engine, owner, 7):
                with lock:
                    claims.extend((item.key, owner) for item in batch)
                with engine.begin() as conn:
                    for item in batch:
                        queue.complete(conn, item, {"result": owner})
                with lock:
                    completions.extend((item.key, owner) for item in batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(claims) == 600 and len({key for key, _ in claims}) == 600  # nobody claimed an item twice
    assert Counter(key for key, _ in completions) == Counter({f"item{i:05d}": 1 for i in range(600)})
    assert len({owner for _, owner in claims}) == 4  # all four took part
    with engine.connect() as conn:
        stored = dict(conn.execute(select(table.c.id, table.c.result).where(table.c.wq_status == DONE)).all())
        attempts = conn.execute(select(func.max(table.c.wq_attempts))).scalar_one()
    assert stored == dict(completions) and attempts == 1
    engine.dispose()


def test_locking_cursor_locks_only_the_rows_it_fetches(pg_url):
    """The Oracle method must not lock the whole matching set (as a client-side cursor would)."""
    engine, table = item_database(pg_url)
    queue = WorkQueue(table, claim_method="locking_cursor")
    with engine.begin() as conn:
        queue.enqueue(conn, items(300))
    with engine.begin() as holder:
        keys = queue._lock_with_cursor(holder, queue.clock(), 5, None)
        assert len(keys) == 5
        with engine.begin() as other:
            lockable = other.execute(
                select(func.count()).select_from(select(table.c.id).with_for_update(skip_locked=True).subquery())
            ).scalar_one()
        assert lockable == 295
    engine.dispose()


@pytest.mark.parametrize("method", METHODS)
def test_worker_killed_mid_lease_has_its_items_reclaimed_after_the_lease_and_finished_once(pg_url, method):
    engine, table = item_database(pg_url)
    lease = 3
    queue = WorkQueue(table, QueueSettings(lease_seconds=lease), claim_method=method)  # type: ignore[arg-type]
    with engine.begin() as conn:
        queue.enqueue(conn, items(8))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.worker_processes", "claim", pg_url, "5", str(lease)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        held = set(proc.stdout.readline().split())  # type: ignore[union-attr]
        assert len(held) == 5
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()

    owner = new_worker_id()
    others = queue.claim(engine, owner, 10)
    assert {item.key for item in others}.isdisjoint(held)  # the dead worker's lease still runs
    assert len(others) == 3
    for item in others:
        queue.complete(engine, item, {"result": "second worker"})

    reclaimed = []
    deadline = time.monotonic() + lease + 10
    while not reclaimed and time.monotonic() < deadline:
        reclaimed = queue.claim(engine, owner, 10)
        if not reclaimed:
            time.sleep(0.2)
    waited = time.monotonic() - killed_at
    assert {item.key for item in reclaimed} == held
    assert waited <= lease + 3
    assert all(item.attempt == 2 for item in reclaimed)
    for item in reclaimed:
        queue.complete(engine, item, {"result": "reclaimed"})
    assert queue.claim(engine, owner, 10) == []
    counts = queue.counts(engine)
    assert (counts.done, counts.total) == (8, 8)
    with engine.connect() as conn:
        results = dict(conn.execute(select(table.c.id, table.c.result)).all())
    assert {key for key, value in results.items() if value == "reclaimed"} == held
    engine.dispose()
