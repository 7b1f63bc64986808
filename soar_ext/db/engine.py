"""Engines for SOAR's database (Oracle in production; SQLite and PostgreSQL here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Table, create_engine, event, false, update

WRITE_LOCK_OPTION = "soar_ext_write_lock"
"""Execution option: on SQLite, begin the transaction with ``BEGIN IMMEDIATE`` (see :func:`write_transaction`)."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite opens transactions lazily and commits on its own around DDL, which breaks
    # SAVEPOINT (the host runs every plugin call in one). Let SQLAlchemy emit BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    if conn.get_execution_options().get(WRITE_LOCK_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and then writes, committed when the block returns.

    On SQLite a deferred transaction that has read cannot become a writer once another
    connection (a batch worker, say) has committed since its read: SQLite answers "database is
    locked" at once, without waiting. This one takes SQLite's write lock at ``BEGIN`` and so
    waits its turn (``busy_timeout``) instead. Other databases lock rows and are unaffected.
    """
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_LOCK_OPTION: True})
        with conn.begin():
            yield conn


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; ``postgresql://`` URLs use psycopg 3, ``oracle://`` uses python-oracledb thin mode."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    elif url.startswith("oracle://"):
        url = "oracle+oracledb://" + url[len("oracle://") :]
    engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def take_write_lock(conn: Connection, table: Table) -> None:
    """On SQLite, take the database's write lock now, in the caller's transaction (elsewhere: nothing).

    Call it first in a transaction SOAR opened in the ordinary (deferred) way before the change
    reads what it will change: otherwise, should a worker commit between the read and the write,
    SQLite answers "database is locked" at once. A write matching no row of ``table`` is enough;
    it waits its turn (``busy_timeout``). PostgreSQL and Oracle lock rows and need nothing here.
    """
    if conn.dialect.name == "sqlite":
        pk = next(iter(table.primary_key.columns))
        conn.execute(update(table).where(false()).values({pk.name: pk}))
