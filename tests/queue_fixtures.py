"""A throwaway feature table carrying the queue's standard columns, and the databases to run it on."""

from __future__ import annotations

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table

from soar_ext.db.engine import make_engine
from soar_ext.db.work_queue import queue_columns

ITEM_TABLE = "tq_item"


def item_table(metadata: MetaData | None = None) -> Table:
    """``tq_item``: an id, a group, a payload and two result columns, plus the queue columns."""
    return Table(
        ITEM_TABLE,
        metadata or MetaData(),
        Column("id", String(32), primary_key=True),
        Column("grp", String(10), nullable=False),
        Column("payload", String(100)),
        Column("result", String(100)),
        Column("result_code", Integer),
        *queue_columns(ITEM_TABLE, leading=("grp",)),
    )


def item_database(url: str) -> tuple[Engine, Table]:
    """An engine on ``url`` with a fresh ``tq_item`` table."""
    engine = make_engine(url)
    table = item_table()
    table.metadata.drop_all(engine)
    table.metadata.create_all(engine)
    return engine, table


def items(n: int, grp: str = "g1", start: int = 0) -> list[dict[str, object]]:
    return [{"id": f"item{i:05d}", "grp": grp, "payload": f"p{i}"} for i in range(start, start + n)]
