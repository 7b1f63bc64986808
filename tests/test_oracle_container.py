"""The same schema, migrations and plugin queries on a real Oracle (testcontainers, gvenzl/oracle-free).

Skips with its reason where no Docker engine runs (as on the development machines here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

pytestmark = [pytest.mark.oracle, pytest.mark.slow]

IMAGE = "gvenzl/oracle-free:slim-faststart"


def _docker_unavailable() -> str | None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        return f"no Docker engine for the Oracle container ({type(exc).__name__})"
    return None


@pytest.fixture(scope="module")
def oracle_url() -> Iterator[str]:
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    from testcontainers.community.oracle import OracleDbContainer

    with OracleDbContainer(IMAGE, username="soar", password="soar_test_pw") as container:
        yield container.get_connection_url()


@pytest.fixture(scope="module")
def engine(oracle_url: str) -> Iterator[Engine]:
    from tests.soar_env import soar_database

    engine = soar_database(oracle_url)
    yield engine
    engine.dispose()


def test_migrations_round_trip_and_doctor_is_clean(oracle_url: str, engine: Engine) -> None:
    from soar_ext.db.doctor import check
    from soar_ext.db.migrate import downgrade, upgrade

    assert check(engine).ok
    downgrade(oracle_url)
    upgrade(oracle_url)
    assert upgrade(oracle_url) == []
    assert check(engine).ok


def test_exchange_gate_and_business_query_on_oracle(engine: Engine) -> None:
    from soar_ext.db.codes import ContractType, InspectionStatus
    from soar_ext.db.legacy import exchange_pairings
    from soar_ext.hook_payloads import ContractDraft
    from soar_ext.hooks import exchange_inspection
    from tests.host_fixtures import make_context, make_host
    from tests.soar_builders import add_contract, add_pairing

    host = make_host([("exchange_inspection", exchange_inspection)])
    now = dt.datetime(2024, 7, 1, 10, 0)
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PENDING)
        htid = add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=pdid)
        decision = host.pre_contract(
            make_context(conn, host, clock=lambda: now),
            ContractDraft(
                contract_id=htid, contract_type=ContractType.EXCHANGE, family_id=fam, exchange_pairing_id=pdid
            ),
        )
        assert not decision.allowed
        stmt = host.query_build(
            make_context(conn, host),
            exchange_inspection.SCREEN_BUSINESS,
            select(exchange_pairings.c.pdid),
            {"inspection_status": "00"},
        ).statement
        assert conn.execute(select(func.count()).select_from(stmt.subquery())).scalar() >= 1
