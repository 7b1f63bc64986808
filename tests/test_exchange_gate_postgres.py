"""The exchange gate under concurrency on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from soar_ext.db.codes import ContractStatus, ContractType, InspectionStatus
from soar_ext.db.legacy import contracts, inspections
from soar_ext.hook_payloads import ContractDraft
from soar_ext.hooks import exchange_inspection
from tests.host_fixtures import make_context, make_host
from tests.soar_builders import add_contract, add_pairing
from tests.soar_env import soar_database

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2024, 7, 1, 10, 0)


@pytest.fixture
def engine(pg_url):
    engine = soar_database(pg_url)
    yield engine
    engine.dispose()


def attempt_signing(engine, host, pairing_id: str, family_id: str, barrier: threading.Barrier) -> bool:
    """One clerk's signing: draft row, pre-contract, sign only if allowed; returns whether it signed.

    The draft row references the pairing (a foreign key, so PostgreSQL takes a key-share lock on
    it) in the same transaction as the gate's row lock, as SOAR does.
    """
    with engine.begin() as conn:
        htid = add_contract(conn, family_id, ContractType.EXCHANGE, pairing_id=pairing_id)
        barrier.wait(timeout=10)
        decision = host.pre_contract(
            make_context(conn, host, clock=lambda: NOW),
            ContractDraft(
                contract_id=htid,
                contract_type=ContractType.EXCHANGE,
                family_id=family_id,
                exchange_pairing_id=pairing_id,
            ),
        )
        if decision.allowed:
            conn.execute(update(contracts).where(contracts.c.htid == htid).values(htzt=ContractStatus.SIGNED))
        else:
            assert "换房配对" in decision.messages[0] and "出错" not in decision.messages[0], decision.messages
        return decision.allowed


def test_concurrent_signing_attempts_on_uninspected_pairing_are_all_blocked(engine) -> None:
    host = make_host([("exchange_inspection", exchange_inspection)], strict=True)
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PENDING)
    workers = 12
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: attempt_signing(engine, host, pdid, fam, barrier), range(workers)))
    assert results == [False] * workers
    with engine.connect() as conn:
        signed = conn.execute(
            select(func.count())
            .select_from(contracts)
            .where(contracts.c.hfpdid == pdid, contracts.c.htzt == ContractStatus.SIGNED)
        ).scalar()
    assert signed == 0


def test_revoking_an_inspection_waits_for_a_signing_in_progress(engine) -> None:
    """The gate locks the inspection row, so a change of state cannot interleave with a signing."""
    host = make_host([("exchange_inspection", exchange_inspection)])
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
    revoked = threading.Event()

    def revoke() -> None:
        with engine.begin() as conn:
            conn.execute(update(inspections).where(inspections.c.pdid == pdid).values(yfzt=InspectionStatus.FAILED))
        revoked.set()

    with engine.begin() as conn:
        htid = add_contract(conn, fam, ContractType.EXCHANGE, pairing_id=pdid)
        decision = host.pre_contract(
            make_context(conn, host, clock=lambda: NOW),
            ContractDraft(
                contract_id=htid, contract_type=ContractType.EXCHANGE, family_id=fam, exchange_pairing_id=pdid
            ),
        )
        assert decision.allowed
        thread = threading.Thread(target=revoke)
        thread.start()
        assert not revoked.wait(0.5), "the inspection changed while the signing transaction was open"
        conn.execute(update(contracts).where(contracts.c.htid == htid).values(htzt=ContractStatus.SIGNED))
    thread.join(10)
    assert revoked.is_set()
    # after the revocation, a new attempt is blocked
    barrier = threading.Barrier(1)
    assert attempt_signing(engine, host, pdid, fam, barrier) is False


def test_concurrent_signers_of_an_inspected_pairing_sign_exactly_once(engine) -> None:
    host = make_host([("exchange_inspection", exchange_inspection)], strict=True)
    with engine.begin() as conn:
        pdid, fam = add_pairing(conn, inspection=InspectionStatus.PASSED, confirmed_at=NOW)
    workers = 8
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: attempt_signing(engine, host, pdid, fam, barrier), range(workers)))
    assert results.count(True) == 1
    with engine.connect() as conn:
        signed = conn.execute(
            select(func.count())
            .select_from(contracts)
            .where(contracts.c.hfpdid == pdid, contracts.c.htzt == ContractStatus.SIGNED)
        ).scalar()
    assert signed == 1
