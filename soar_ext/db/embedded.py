"""The embedded default database: the assumed SOAR schema, soar-ext's migrations and synthetic data.

``soar-ext db init`` and the stand-in console's ``make demo`` build it with :func:`init_embedded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from soar_ext.config import redact_url
from soar_ext.db.engine import make_engine

MAX_HOUSEHOLDS = 1_000_000


class EmbeddedInitError(ValueError):
    """The embedded database cannot be built as asked (message for the command line)."""


@dataclass(frozen=True)
class EmbeddedInit:
    """What :func:`init_embedded` did: whether data was generated, and the lines to print."""

    generated: bool
    households: int
    lines: list[str] = field(default_factory=list)


def household_count(url: str) -> int | None:
    """Households in the database at ``url``; ``None`` when the legacy tables are absent."""
    from sqlalchemy import inspect

    from soar_ext.db.legacy import families

    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(families.name):
            return None
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(families)).scalar_one())
    finally:
        engine.dispose()


def init_embedded(url: str, *, households: int, seed: int, reset: bool = False) -> EmbeddedInit:
    """Create the legacy tables, apply the migrations and fill synthetic data unless some exists.

    ``reset`` first undoes the migrations and drops the assumed legacy tables. Only SQLite and
    PostgreSQL are accepted: on SOAR's Oracle database the DBAs apply ``sql/oracle/``.
    """
    from soar_ext.db.legacy import families, legacy_metadata
    from soar_ext.db.migrate import downgrade, upgrade
    from soar_ext.synthetic import populate

    if not 1 <= households <= MAX_HOUSEHOLDS:
        raise EmbeddedInitError(f"households must be between 1 and {MAX_HOUSEHOLDS}")
    engine = make_engine(url)
    try:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise EmbeddedInitError(
                "db init builds demo and test databases (SQLite/PostgreSQL) only; "
                "on SOAR's Oracle database use `soar-ext db upgrade` or the scripts in sql/oracle/."
            )
        if reset:
            downgrade(url, "base")
            legacy_metadata.drop_all(engine)
        with engine.begin() as conn:
            legacy_metadata.create_all(conn)
        upgrade(url)
        with engine.connect() as conn:
            existing = int(conn.execute(select(func.count()).select_from(families)).scalar_one())
        if existing:
            line = f"数据库 {redact_url(url)} 已有 {existing} 户数据，未重复生成（使用 --reset 重建）。"
            return EmbeddedInit(generated=False, households=existing, lines=[line])
        summary = populate(engine, households=households, seed=seed)
        return EmbeddedInit(
            generated=True, households=households, lines=[f"数据库：{redact_url(url)}", *summary.lines()]
        )
    finally:
        engine.dispose()
