"""Engines for SOAR's database (Oracle in production; SQLite and PostgreSQL here)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event


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
    conn.exec_driver_sql("BEGIN")


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
