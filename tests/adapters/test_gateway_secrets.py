"""Gen-1 secrets shared by the nodes of one app (sx_gateway_secret), against the gateway simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings
from soar_ext.adapters.bigdata.gen1 import Gen1Secrets
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG
from soar_ext.config import Config
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import gateway_secrets
from soar_ext.gateway_secrets import DbSecretStore
from soar_ext.secret import Secret
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    RunningBigData,
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.soar_env import soar_database

PURPOSE = "公租房家庭成员户籍批量核查"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Engine:
    if request.param == "sqlite":
        return soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    return soar_database(request.getfixturevalue("pg_url"))


def store_of(engine: Engine, sim: RunningBigData, secret: str = DEFAULT_APP_SECRET) -> DbSecretStore:
    return DbSecretStore(engine, base_url=sim.base_url, app_key=DEFAULT_APP_KEY, app_secret=Secret(secret))


def node(sim: RunningBigData, fast_http: Callable[..., HttpSettings], store: DbSecretStore | None) -> BigDataClient:
    """One SOAR node's Big Data client (its own pool, breaker and secret cache)."""
    settings = BigDataSettings(
        http=fast_http(sim.base_url, retry_attempts=1),
        app_key=DEFAULT_APP_KEY,
        app_secret=Secret(DEFAULT_APP_SECRET),
        generation=1,
        org=DEFAULT_ORG,
    )
    return BigDataClient(settings, secret_store=store)


async def two_nodes_query(a: BigDataClient, b: BigDataClient, persons: int) -> list[str]:
    """Both nodes query at once, alternating persons; the results' statuses."""

    async def one(client: BigDataClient, serial: int) -> str:
        try:
            result = await client.household_registration(make_id(serial), "张三", purpose=PURPOSE)
        except Exception as exc:  # a failed query is what the test counts
            return type(exc).__name__
        return result.status

    try:
        return list(await asyncio.gather(*(one(a if i % 2 else b, i) for i in range(persons))))
    finally:
        await a.aclose()
        await b.aclose()


def test_two_nodes_without_the_store_revoke_each_others_secrets(bigdata_sim: RunningBigData, fast_http) -> None:
    """Why the store exists: each node's renewal revokes the other's pair (code 11 answers)."""

    async def turns() -> None:
        a, b = node(bigdata_sim, fast_http, None), node(bigdata_sim, fast_http, None)
        try:
            for client in (a, b, a, b):  # each takes its turn after the other renewed
                await client.household_registration(make_id(1), "张三", purpose=PURPOSE)
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(turns())
    outcomes = bigdata_sim.stats()["outcomes"]
    assert outcomes.get("refresh_by_key", 0) == 4  # every turn renews
    # turns 3 and 4: the business call is refused, then the refresh by the revoked refresh secret too
    assert outcomes.get("code_11", 0) == 4


def test_two_nodes_with_the_store_renew_once_and_are_never_refused(
    bigdata_sim: RunningBigData, fast_http, engine: Engine
) -> None:
    a, b = (
        node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
        node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
    )
    statuses = asyncio.run(two_nodes_query(a, b, 40))
    assert set(statuses) <= {"found", "no_record"}, statuses
    outcomes = bigdata_sim.stats()["outcomes"]
    assert outcomes.get("refresh_by_key", 0) == 1
    assert outcomes.get("code_11", 0) == 0
    # a third node starting later takes the stored pair: no renewal at all
    c, d = (
        node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
        node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
    )
    asyncio.run(two_nodes_query(c, d, 6))
    assert bigdata_sim.stats()["outcomes"].get("refresh_by_key", 0) == 1


def test_a_pair_revoked_elsewhere_is_renewed_once_and_shared(
    bigdata_sim: RunningBigData, fast_http, engine: Engine
) -> None:
    asyncio.run(
        two_nodes_query(
            node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
            node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
            4,
        )
    )
    bigdata_sim.state.issue_secrets()  # someone outside SOAR renewed: the stored pair is revoked
    statuses = asyncio.run(
        two_nodes_query(
            node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
            node(bigdata_sim, fast_http, store_of(engine, bigdata_sim)),
            20,
        )
    )
    assert set(statuses) <= {"found", "no_record"}, statuses
    stats = bigdata_sim.stats()
    assert stats["refreshes"] == 2  # the first pair, then one renewal for both nodes


def test_the_stored_secrets_are_encrypted_and_bound_to_the_app_secret(
    bigdata_sim: RunningBigData, fast_http, engine: Engine
) -> None:
    store = store_of(engine, bigdata_sim)
    asyncio.run(two_nodes_query(node(bigdata_sim, fast_http, store), node(bigdata_sim, fast_http, store), 2))
    pair = store.load()
    assert pair is not None
    with engine.connect() as conn:
        row = conn.execute(select(gateway_secrets)).one()
    assert row.app_key == DEFAULT_APP_KEY
    for column in (row.request_secret, row.refresh_secret):
        assert pair.request_secret.reveal() not in column and pair.refresh_secret.reveal() not in column
    assert store_of(engine, bigdata_sim, secret="another-app-secret-0123456789").load() is None


async def _renew_with(
    store: DbSecretStore, previous: Gen1Secrets | None, fresh: Gen1Secrets, calls: list[int]
) -> Gen1Secrets:
    async def renew(_: Gen1Secrets | None) -> Gen1Secrets:
        calls.append(1)
        return fresh

    return await store.renew(previous, renew, lambda s: s.request_expires_at > 1_000)


def _pair(tag: str, expires: float = 2_000.0) -> Gen1Secrets:
    return Gen1Secrets(Secret(f"request-{tag}"), expires, Secret(f"refresh-{tag}"), expires + 100)


def test_renewal_rules(bigdata_sim: RunningBigData, engine: Engine) -> None:
    store = store_of(engine, bigdata_sim)
    calls: list[int] = []
    first = asyncio.run(_renew_with(store, None, _pair("1"), calls))
    assert first.request_secret.reveal() == "request-1" and len(calls) == 1  # nothing stored: renewed
    again = asyncio.run(_renew_with(store, None, _pair("x"), calls))
    assert again.request_secret.reveal() == "request-1" and len(calls) == 1  # stored and usable: taken
    after_refusal = asyncio.run(_renew_with(store, first, _pair("2"), calls))
    assert after_refusal.request_secret.reveal() == "request-2" and len(calls) == 2  # the stored one failed
    store_expired = asyncio.run(_renew_with(store, None, _pair("3", expires=500.0), calls))
    assert store_expired.request_secret.reveal() == "request-2"  # pair 2 still usable
    stale = asyncio.run(_renew_with(store, _pair("other"), _pair("4", expires=500.0), calls))
    assert stale.request_secret.reveal() == "request-2" and len(calls) == 2  # newer than what failed: taken


def test_a_failed_renewal_releases_the_row(bigdata_sim: RunningBigData, engine: Engine) -> None:
    store = store_of(engine, bigdata_sim)

    async def failing(_: Gen1Secrets | None) -> Gen1Secrets:
        raise RuntimeError("gateway down")

    with pytest.raises(RuntimeError):
        asyncio.run(store.renew(None, failing, lambda s: True))
    calls: list[int] = []
    renewed = asyncio.run(_renew_with(store, None, _pair("5"), calls))  # not blocked by a stale lock
    assert renewed.request_secret.reveal() == "request-5" and calls == [1]


def test_without_the_table_a_node_renews_on_its_own_and_warns(
    bigdata_sim: RunningBigData, fast_http, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bare = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no sx_gateway_secret here
    statuses = asyncio.run(
        two_nodes_query(
            node(bigdata_sim, fast_http, store_of(bare, bigdata_sim)), node(bigdata_sim, fast_http, None), 2
        )
    )
    assert set(statuses) <= {"found", "no_record"}, statuses
    assert "共享表不可用" in caplog.text


def test_the_adapter_registries_of_two_nodes_share_the_pair(bigdata_sim: RunningBigData, pg_url: str) -> None:
    """What the 核查 action uses: the registry gives a gen-1 client the store on SOAR's database."""
    soar_database(pg_url).dispose()
    config = Config(
        database_url=pg_url,
        adapters={
            "bigdata": {
                "base_url": bigdata_sim.base_url,
                "app_key": DEFAULT_APP_KEY,
                "org": DEFAULT_ORG,
                "app_secret": Secret(DEFAULT_APP_SECRET),
                "generation": 1,
            }
        },
    )
    nodes = [AdapterRegistry(config), AdapterRegistry(config)]
    try:
        for turn in range(4):  # without the store, every turn would renew and revoke the other's pair
            registry = nodes[turn % 2]
            result = registry.run(registry.bigdata.household_registration(make_id(turn), "张三", purpose=PURPOSE))
            assert result.status in {"found", "no_record"}
    finally:
        for registry in nodes:
            registry.close()
    outcomes = bigdata_sim.stats()["outcomes"]
    assert outcomes.get("refresh_by_key", 0) == 1 and outcomes.get("code_11", 0) == 0
