"""SQLite engines: a transaction that reads and then writes while another connection commits."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, text

from soar_ext.db.engine import make_engine, take_write_lock, write_transaction


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'soar.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE job (id INTEGER PRIMARY KEY, status TEXT, items INTEGER)"))
        conn.execute(text("INSERT INTO job VALUES (1, 'running', 0)"))
    return engine


def _worker_commits(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE job SET items = items + 1 WHERE id = 1"))


def test_a_deferred_read_then_write_fails_after_another_commit(engine: Engine) -> None:
    """The hazard: SQLite refuses the upgrade at once (no busy wait) once its snapshot is stale."""
    with pytest.raises(sqlalchemy.exc.OperationalError, match="locked"), engine.begin() as conn:
        assert conn.execute(text("SELECT status FROM job")).scalar() == "running"
        _worker_commits(engine)
        conn.execute(text("UPDATE job SET status = 'cancelled'"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status, items FROM job")).one() == ("running", 1)


def _read_let_the_worker_try_then_write(engine: Engine, conn: Connection) -> None:
    """Inside a transaction holding the write lock: the worker's commit waits until ours is done."""
    worker = threading.Thread(target=_worker_commits, args=(engine,))
    assert conn.execute(text("SELECT status FROM job")).scalar() == "running"
    worker.start()
    worker.join(0.3)
    assert worker.is_alive(), "the worker should wait for the write lock"
    conn.execute(text("UPDATE job SET status = 'cancelled'"))
    conn.commit()
    worker.join(10)
    assert not worker.is_alive()
    with engine.connect() as other:
        assert other.execute(text("SELECT status, items FROM job")).one() == ("cancelled", 1)


def test_a_write_transaction_makes_the_other_writer_wait_its_turn(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        _read_let_the_worker_try_then_write(engine, conn)


def test_taking_the_write_lock_first_in_an_ordinary_transaction(engine: Engine) -> None:
    job = Table("job", MetaData(), Column("id", Integer, primary_key=True))
    with engine.connect() as conn:
        conn.begin()
        take_write_lock(conn, job)
        _read_let_the_worker_try_then_write(engine, conn)


def test_a_write_transaction_rolls_back_when_the_block_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        conn.execute(text("UPDATE job SET status = 'cancelled'"))
        raise RuntimeError("SOAR rolls back")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM job")).scalar() == "running"
        # the option belongs to that transaction's connection only
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_other_connections_begin_deferred(engine: Engine) -> None:
    """Readers (page renders) do not take the write lock: a worker commits while one is open."""
    with engine.connect() as reader:
        reader.execute(text("SELECT status FROM job")).scalar()
        _worker_commits(engine)  # would wait 10 s (and fail) if the reader held the write lock
        reader.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT items FROM job")).scalar() == 1
