"""Helpers to build a host and a context over a throwaway SQLite database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import Connection, insert

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.audit import MemoryAuditSink
from soar_ext.clock import Clock, beijing_now
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.extension import ext_metadata
from soar_ext.db.legacy import contracts, families, legacy_metadata, persons
from soar_ext.host import SoarHost

CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}), district="330106")


def make_host(
    plugins: Iterable[tuple[str, object]],
    *,
    modes: dict[str, str] | None = None,
    strict: bool = False,
    settings: dict[str, dict[str, object]] | None = None,
) -> SoarHost:
    config = Config(plugin_modes=modes or {}, plugin_settings=settings or {}, strict_plugins=strict)
    return SoarHost(config, plugins=plugins, load_entry_points=False)


def make_context(
    conn: Connection,
    host: SoarHost,
    *,
    operator: Operator = CLERK,
    adapters: AdapterRegistry | None = None,
    clock: Clock = beijing_now,
) -> SoarContext:
    return SoarContext(
        operator=operator,
        connection=conn,
        config=host.config,
        adapters=adapters or AdapterRegistry(host.config),
        audit=MemoryAuditSink(),
        clock=clock,
    )


def add_draft_contract(conn: Connection, contract_id: str = "HT1", family_id: str = "JT1") -> None:
    """SOAR's tables, soar-ext's tables and one draft contract (``HT1`` of family ``JT1``) for host tests."""
    legacy_metadata.create_all(conn)
    ext_metadata.create_all(conn)
    conn.execute(insert(persons).values(ryid="RY-" + family_id, xm="张三", sfzh="11010519491231002X"))
    conn.execute(insert(families).values(jtid=family_id, sqrid="RY-" + family_id, jtrs=1))
    conn.execute(
        insert(contracts).values(
            htid=contract_id, htcode="HZHT-" + contract_id, jtid=family_id, pzlx="03", htzt="00", yjjmbz=0
        )
    )


def draft_connection(tmp_path: Path) -> Iterator[Connection]:
    """A connection inside a transaction on a throwaway SQLite database holding :func:`add_draft_contract`."""
    from soar_ext.db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'host.db'}")
    with engine.begin() as connection:
        add_draft_contract(connection)
    with engine.begin() as connection:
        yield connection
    engine.dispose()
