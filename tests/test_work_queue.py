"""The durable work queue on SQLite and PostgreSQL: enqueue, claim, leases, fencing, retries, cancel, counts."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, select

from soar_ext.clock import FixedClock
from soar_ext.db.portability import FieldTooLong
from soar_ext.db.work_queue import (
    CANCELLED,
    DONE,
    FAILED,
    LEASED,
    PENDING,
    LeaseLost,
    QueueSettings,
    StatusCounts,
    WorkQueue,
    default_claim_method,
    queue_columns,
)
from tests.queue_fixtures import item_database, item_table, items

T0 = dt.datetime(2024, 7, 1, 9, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Table]]:
    url = f"sqlite:///{tmp_path / 'queue.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine, table = item_database(url)
    yield engine, table
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def make_queue(table: Table, clock: FixedClock, **settings: object) -> WorkQueue:
    values: dict[str, object] = {"lease_seconds": 30, "max_attempts": 3, "backoff_initial_seconds": 10.0}
    values.update(settings)
    return WorkQueue(table, QueueSettings(**values), clock=clock, rng=random.Random(7))  # type: ignore[arg-type]


def row(engine: Engine, table: Table, key: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c.id == key)).mappings().one()


def test_enqueue_rolled_back_with_the_callers_transaction_leaves_nothing(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.connect() as conn:
        transaction = conn.begin()
        assert queue.enqueue(conn, items(5)) == 5
        assert queue.counts(conn).pending == 5  # visible inside the caller's transaction
        transaction.rollback()
    assert queue.counts(engine).total == 0
    assert queue.claim(engine, "w1", 10) == []


def test_enqueue_commits_with_the_caller_and_items_start_pending(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(3))
    first = row(engine, table, "item00000")
    assert (first["wq_status"], first["wq_attempts"], first["wq_due_at"]) == (PENDING, 0, T0)
    assert first["wq_owner"] is None and first["wq_lease_id"] is None
    assert queue.counts(engine) == StatusCounts(pending=3)


def test_enqueue_of_bad_rows_raises_and_the_caller_rolls_back_to_nothing(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with pytest.raises(FieldTooLong, match="超过长度限制"), engine.begin() as conn:
        queue.enqueue(conn, [*items(2), {"id": "x", "grp": "g1", "payload": "长" * 40}])  # 120 bytes > 100
    with pytest.raises(ValueError, match="no columns"), engine.begin() as conn:
        queue.enqueue(conn, [{"id": "x", "grp": "g1", "colour": "red"}])
    with pytest.raises(ValueError, match="managed by the work queue"), engine.begin() as conn:
        queue.enqueue(conn, [{"id": "x", "grp": "g1", "wq_status": DONE}])
    with pytest.raises(ValueError, match="primary key"), engine.begin() as conn:
        queue.enqueue(conn, [{"id": " ", "grp": "g1"}])  # blank is NULL, as in Oracle
    assert queue.counts(engine).total == 0


def test_claim_leases_due_items_once_and_counts_the_attempt(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(5))
    first = queue.claim(engine, "w1", 3)
    second = queue.claim(engine, "w2", 3)
    assert len(first) == 3 and len(second) == 2
    assert not {i.key for i in first} & {i.key for i in second}
    assert queue.claim(engine, "w3", 3) == []
    item = first[0]
    assert item.attempt == 1 and item.row["payload"].startswith("p")
    assert item.lease.owner == "w1" and item.lease.until == T0 + dt.timedelta(seconds=30)
    stored = row(engine, table, item.key)
    assert (stored["wq_status"], stored["wq_owner"], stored["wq_lease_id"]) == (LEASED, "w1", item.lease.lease_id)
    assert queue.counts(engine) == StatusCounts(leased=5)


def test_claim_respects_where_and_due_time(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(2, "a"))
        queue.enqueue(conn, items(2, "b", start=10), due_at=T0 + dt.timedelta(minutes=5))
    assert {i.row["grp"] for i in queue.claim(engine, "w", 10, where=table.c.grp == "a")} == {"a"}
    assert queue.claim(engine, "w", 10, where=table.c.grp == "b") == []  # not due yet
    clock.advance(minutes=5)
    assert len(queue.claim(engine, "w", 10, where=table.c.grp == "b")) == 2


def test_complete_writes_result_columns_and_finishes_the_item(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    (item,) = queue.claim(engine, "w1", 1)
    clock.advance(seconds=4)
    queue.complete(engine, item, {"result": "正常", "result_code": 1})
    stored = row(engine, table, item.key)
    assert (stored["wq_status"], stored["result"], stored["result_code"]) == (DONE, "正常", 1)
    assert stored["wq_done_at"] == T0 + dt.timedelta(seconds=4) and stored["wq_lease_id"] is None
    with pytest.raises(LeaseLost):
        queue.complete(engine, item, {"result": "again"})  # finished: a second report is refused
    assert row(engine, table, item.key)["result"] == "正常"


def test_complete_with_a_callers_connection_commits_with_the_caller(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(2))
    claimed = queue.claim(engine, "w1", 2)
    with engine.connect() as conn:
        transaction = conn.begin()
        for item in claimed:
            queue.complete(conn, item, {"result": "ok"})
        transaction.rollback()
    assert queue.counts(engine).leased == 2
    with engine.begin() as conn:
        for item in claimed:
            queue.complete(conn, item, {"result": "ok"})
    assert queue.counts(engine).done == 2


def test_expired_lease_hands_the_item_to_another_worker_and_fences_the_first(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    (stale,) = queue.claim(engine, "w1", 1)
    clock.advance(seconds=29)
    assert queue.claim(engine, "w2", 1) == []  # lease still running
    clock.advance(seconds=1)
    (fresh,) = queue.claim(engine, "w2", 1)
    assert fresh.key == stale.key and fresh.attempt == 2 and fresh.lease.lease_id != stale.lease.lease_id

    with pytest.raises(LeaseLost, match="租约已失效"):
        queue.complete(engine, stale, {"result": "from w1"})
    with pytest.raises(LeaseLost):
        queue.fail(engine, stale, "w1 gives up")
    assert queue.extend(engine, [stale]) == []
    assert queue.release(engine, [stale]) == 0
    assert row(engine, table, stale.key)["wq_owner"] == "w2"

    queue.complete(engine, fresh, {"result": "from w2"})
    with pytest.raises(LeaseLost):
        queue.complete(engine, stale, {"result": "from w1"})
    stored = row(engine, table, fresh.key)
    assert (stored["wq_status"], stored["result"], stored["wq_attempts"]) == (DONE, "from w2", 2)


def test_worker_whose_lease_expired_untaken_may_still_finish(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    (item,) = queue.claim(engine, "w1", 1)
    clock.advance(minutes=5)  # expired, but nobody claimed it since
    queue.complete(engine, item, {"result": "late but alone"})
    assert row(engine, table, item.key)["result"] == "late but alone"


def test_extend_keeps_the_lease_beyond_its_first_expiry(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(3))
    claimed = queue.claim(engine, "w1", 3)
    clock.advance(seconds=20)
    held = queue.extend(engine, claimed)
    assert [i.key for i in held] == [i.key for i in claimed]
    assert held[0].lease.until == T0 + dt.timedelta(seconds=50)
    clock.advance(seconds=20)  # 40 s after the claim: past the first lease, within the extended one
    assert queue.claim(engine, "w2", 3) == []
    clock.advance(seconds=10)
    assert len(queue.claim(engine, "w2", 3)) == 3


def test_failure_retries_with_jittered_backoff_then_fails_for_good(db, clock):
    engine, table = db
    queue = make_queue(table, clock, max_attempts=3, backoff_initial_seconds=10.0, backoff_max_seconds=15.0)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))

    (item,) = queue.claim(engine, "w1", 1)
    outcome = queue.fail(engine, item, "资料库不可用（HTTP 503）")
    assert outcome.status == PENDING and not outcome.terminal and outcome.attempts == 1
    assert T0 + dt.timedelta(seconds=5) <= outcome.due_at <= T0 + dt.timedelta(seconds=10)
    stored = row(engine, table, item.key)
    assert (stored["wq_status"], stored["wq_error"], stored["wq_owner"]) == (PENDING, "资料库不可用（HTTP 503）", None)
    assert queue.counts(engine) == StatusCounts(pending=1, retrying=1)
    assert queue.claim(engine, "w1", 1) == []  # not before the backoff
    clock.at = outcome.due_at

    (item,) = queue.claim(engine, "w1", 1)
    assert item.attempt == 2
    outcome = queue.fail(engine, item, "限流", retry_after=120)  # the upstream's Retry-After wins over the backoff
    assert outcome.due_at == clock.at + dt.timedelta(seconds=120)
    clock.at = outcome.due_at

    (item,) = queue.claim(engine, "w1", 1)
    assert item.attempt == 3
    outcome = queue.fail(engine, item, "仍然失败")
    assert outcome.terminal and outcome.status == FAILED and outcome.due_at is None
    clock.advance(hours=1)
    assert queue.claim(engine, "w1", 1) == []
    stored = row(engine, table, item.key)
    assert (stored["wq_status"], stored["wq_attempts"], stored["wq_error"]) == (FAILED, 3, "仍然失败")
    assert stored["wq_done_at"] is not None
    assert queue.counts(engine) == StatusCounts(failed=1)

    assert queue.requeue_failed(engine) == 1
    (item,) = queue.claim(engine, "w1", 1)
    assert item.attempt == 1  # a fresh set of attempts


def test_backoff_doubles_up_to_the_cap_with_jitter(clock):
    queue = WorkQueue(
        item_table(),
        QueueSettings(backoff_initial_seconds=10.0, backoff_max_seconds=60.0),
        clock=clock,
        rng=random.Random(1),
    )
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60), (500, 60)]:
        waits = {queue.backoff_seconds(attempts) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempts, waits)
        assert len(waits) > 1  # jittered


def test_permanent_failure_is_terminal_at_once_and_can_record_result_columns(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    (item,) = queue.claim(engine, "w1", 1)
    outcome = queue.fail(engine, item, "文件内容与扩展名不符", retry=False, values={"result_code": 9})
    assert outcome.terminal
    stored = row(engine, table, item.key)
    assert (stored["wq_status"], stored["result_code"]) == (FAILED, 9)


def test_failure_reason_is_clipped_to_the_column_in_bytes(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    (item,) = queue.claim(engine, "w1", 1)
    queue.fail(engine, item, "失" * 1000)
    error = row(engine, table, item.key)["wq_error"]
    assert len(error.encode()) <= 1000 and error.endswith("…")


def test_lease_expiring_on_the_last_attempt_ends_failed(db, clock):
    engine, table = db
    queue = make_queue(table, clock, max_attempts=2)
    with engine.begin() as conn:
        queue.enqueue(conn, items(1))
    for _ in range(2):
        assert len(queue.claim(engine, "dies", 1)) == 1
        clock.advance(seconds=31)  # the worker dies holding it
    assert queue.claim(engine, "w2", 1) == []
    stored = row(engine, table, "item00000")
    assert stored["wq_status"] == FAILED and "已尝试2次" in stored["wq_error"]


def test_release_gives_items_back_without_counting_the_attempt(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(2))
    claimed = queue.claim(engine, "w1", 2)
    assert queue.release(engine, claimed, delay=5) == 2
    assert queue.claim(engine, "w2", 2) == []
    clock.advance(seconds=5)
    again = queue.claim(engine, "w2", 2)
    assert sorted(i.attempt for i in again) == [1, 1]


def test_cancel_stops_pending_leased_and_failed_items_but_not_done_ones(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(5, "a"))
        queue.enqueue(conn, items(2, "b", start=10))
    a_items = queue.claim(engine, "w1", 3, where=table.c.grp == "a")
    queue.complete(engine, a_items[0], {"result": "ok"})
    queue.fail(engine, a_items[1], "x", retry=False)

    assert queue.cancel(engine, where=table.c.grp == "a") == 4  # 1 leased, 1 failed, 2 pending
    assert queue.counts(engine, where=table.c.grp == "a") == StatusCounts(done=1, cancelled=4)
    assert queue.counts(engine, where=table.c.grp == "b") == StatusCounts(pending=2)
    assert queue.claim(engine, "w2", 10, where=table.c.grp == "a") == []
    with pytest.raises(LeaseLost):
        queue.complete(engine, a_items[2], {"result": "too late"})  # the worker's result is dropped
    stored = row(engine, table, a_items[2].key)
    assert (stored["wq_status"], stored["result"]) == (CANCELLED, None)


def test_counts_by_status_with_retries_and_totals(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(6))
    claimed = queue.claim(engine, "w1", 4)
    queue.complete(engine, claimed[0])
    queue.fail(engine, claimed[1], "retry later")
    queue.fail(engine, claimed[2], "bad", retry=False)
    counts = queue.counts(engine)
    assert counts == StatusCounts(pending=3, leased=1, done=1, failed=1, retrying=1)
    assert (counts.total, counts.remaining) == (6, 4)
    assert counts.as_dict() == {"pending": 3, "leased": 1, "done": 1, "failed": 1, "cancelled": 0}


def test_queue_columns_names_fit_oracle_and_reject_long_names():
    columns = queue_columns("sx_doc_outbox")
    names = {getattr(c, "name", None) for c in columns}
    assert {"wq_status", "wq_due_at", "ix_sx_doc_outbox_wq_due", "ck_sx_doc_outbox_wq_status"} <= names
    with pytest.raises(ValueError, match="longer than 30 bytes"):
        queue_columns("sx_household_check_item")
    with pytest.raises(ValueError, match="lowercase"):
        queue_columns("Bad-Name")


def test_a_table_without_queue_columns_is_refused():
    from sqlalchemy import Column, MetaData, String

    plain = Table("tq_plain", MetaData(), Column("id", String(32), primary_key=True))
    with pytest.raises(ValueError, match="lacks the queue columns"):
        WorkQueue(plain)


def test_enqueue_needs_the_callers_connection_and_claim_its_own_engine(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with pytest.raises(TypeError, match="caller's transaction"):
        queue.enqueue(engine, items(1))  # type: ignore[arg-type]
    with engine.connect() as conn, pytest.raises(TypeError, match="own short transaction"):
        queue.claim(conn, "w1")  # type: ignore[arg-type]


def test_oracle_claims_with_a_locking_cursor_and_the_others_with_a_limit():
    assert default_claim_method("oracle") == "locking_cursor"
    assert default_claim_method("postgresql") == "skip_locked_limit"
    assert default_claim_method("sqlite") == "skip_locked_limit"


def test_settings_from_a_config_section():
    settings = QueueSettings.from_mapping({"queue_lease_seconds": "120", "queue_max_attempts": 8})
    assert (settings.lease_seconds, settings.max_attempts) == (120, 8)
    with pytest.raises(ValueError, match="queue_max_attempts must be a number"):
        QueueSettings.from_mapping({"queue_max_attempts": "many"})
    with pytest.raises(ValueError, match="max_attempts"):
        QueueSettings(max_attempts=0)


def test_complete_many_finishes_a_batch_and_returns_the_items_whose_lease_was_lost(db, clock):
    engine, table = db
    queue = make_queue(table, clock)
    with engine.begin() as conn:
        queue.enqueue(conn, items(4))
    batch = queue.claim(engine, "w1", 4)
    results = [(item, {"result": f"r{i}", "result_code": i}) for i, item in enumerate(batch)]
    assert queue.complete_many(engine, results) == []
    assert queue.counts(engine).done == 4
    assert {row(engine, table, item.key)["result"] for item in batch} == {"r0", "r1", "r2", "r3"}

    with engine.begin() as conn:
        queue.enqueue(conn, items(3, start=10))
    stale = queue.claim(engine, "w1", 3)
    clock.advance(seconds=31)
    (taken,) = queue.claim(engine, "w2", 1)
    queue.complete(engine, taken, {"result": "w2"})
    lost = queue.complete_many(engine, [(item, {"result": "w1"}) for item in stale])
    assert [item.key for item in lost] == [taken.key]
    assert row(engine, table, taken.key)["result"] == "w2"  # the new owner's result stands
    assert sorted(row(engine, table, item.key)["result"] for item in stale) == ["w1", "w1", "w2"]
    assert queue.counts(engine).done == 7


def test_concurrent_claims_on_sqlite_wait_for_the_one_writer_and_stay_disjoint(tmp_path: Path):
    import threading

    engine, table = item_database(f"sqlite:///{tmp_path / 'one-writer.db'}")
    queue = WorkQueue(table, QueueSettings(lease_seconds=60))
    with engine.begin() as conn:
        queue.enqueue(conn, items(200))
    claimed: list[str] = []
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            while batch := queue.claim(engine, owner, 5):
                claimed.extend(item.key for item in batch)
                assert queue.complete_many(engine, [(item, {"result": owner}) for item in batch]) == []
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(claimed) == [f"item{i:05d}" for i in range(200)]
    assert queue.counts(engine) == StatusCounts(done=200)
    engine.dispose()
