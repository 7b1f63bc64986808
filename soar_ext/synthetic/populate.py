"""Write the synthetic data set into a database that already holds the legacy tables."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, select

from soar_ext.db import legacy
from soar_ext.db.legacy import LEGACY_TABLES
from soar_ext.synthetic.build import BASE_DATE, Row, build_dataset

DEFAULT_HOUSEHOLDS = 2000
DEFAULT_SEED = 20190601
CHUNK_ROWS = 2000
"""Rows per ``executemany`` call; every table is written in one transaction."""

# Business order for the summary (inserts follow foreign-key order instead).
_SUMMARY_ORDER = tuple(
    t.name
    for t in (
        legacy.persons,
        legacy.families,
        legacy.family_members,
        legacy.applications,
        legacy.lottery_results,
        legacy.housing_projects,
        legacy.houses,
        legacy.allocation_batches,
        legacy.allocation_houses,
        legacy.allocation_applicants,
        legacy.contracts,
        legacy.exchange_pairings,
        legacy.inspections,
        legacy.coconstruction_projects,
        legacy.surveyed_houses,
    )
)


class DatabaseNotEmpty(RuntimeError):
    """Synthetic data is only written into empty legacy tables (message in Chinese)."""


class LegacyTablesMissing(RuntimeError):
    """The legacy tables have not been created yet (message in Chinese)."""


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`populate` wrote: rows per legacy table and timings."""

    households: int
    seed: int
    row_counts: dict[str, int]
    elapsed_seconds: float
    build_seconds: float
    insert_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def lines(self) -> list[str]:
        """Readable Chinese lines for the command line."""
        comments = {t.name: t.comment for t in LEGACY_TABLES}
        out = [f"已生成合成数据：{self.households:,} 户家庭（随机种子 {self.seed}，基准日期 {BASE_DATE:%Y-%m-%d}）"]
        out += [f"  {comments[name]}（{name}）：{count:,} 行" for name, count in self.row_counts.items()]
        out.append(
            f"合计 {self.total_rows:,} 行，用时 {self.elapsed_seconds:.2f} 秒"
            f"（生成 {self.build_seconds:.2f} 秒，写入 {self.insert_seconds:.2f} 秒）"
        )
        return out


def _chunks(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def ensure_empty(engine: Engine) -> None:
    """Raise :class:`LegacyTablesMissing` or :class:`DatabaseNotEmpty` unless every legacy table exists, empty."""
    inspector = inspect(engine)
    missing = [t.name for t in LEGACY_TABLES if not inspector.has_table(t.name)]
    if missing:
        raise LegacyTablesMissing(
            f"缺少原系统表：{', '.join(missing)}；请先建表（legacy_metadata.create_all）并执行迁移"
        )
    with engine.connect() as conn:
        for table in LEGACY_TABLES:
            if conn.execute(select(table.primary_key.columns[0]).limit(1)).first() is not None:
                raise DatabaseNotEmpty(f"表 {table.name}（{table.comment}）已有数据：合成数据只能写入空的原系统表")


def populate(engine: Engine, households: int = DEFAULT_HOUSEHOLDS, seed: int = DEFAULT_SEED) -> GenerationSummary:
    """Fill the (existing, empty) legacy tables with synthetic Hangzhou data.

    Deterministic in ``(households, seed)``. Rows are built in memory, then written table by
    table in foreign-key order, one transaction per table, ``executemany`` in chunks of
    :data:`CHUNK_ROWS`. Creating the tables (and migrations) is the caller's job.
    """
    started = time.perf_counter()
    ensure_empty(engine)
    tables = build_dataset(households, seed)
    built = time.perf_counter()
    for table in LEGACY_TABLES:
        rows = tables[table.name]
        if not rows:
            continue
        statement = table.insert()
        with engine.begin() as conn:
            for chunk in _chunks(rows, CHUNK_ROWS):
                conn.execute(statement, list(chunk))
    finished = time.perf_counter()
    return GenerationSummary(
        households=households,
        seed=seed,
        row_counts={name: len(tables[name]) for name in _SUMMARY_ORDER},
        elapsed_seconds=finished - started,
        build_seconds=built - started,
        insert_seconds=finished - built,
    )
