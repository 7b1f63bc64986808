"""Configuring the simulators (quota, latency, faults), their per-subject counts and run-time data changes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings
from soar_ext.adapters.common import UpstreamUnavailable
from soar_ext.adapters.simulators.config import FaultSpec, SimulatorConfig, build_configs, load_toml, parse_latency
from soar_ext.adapters.simulators.serve_all import SIMULATORS, client_section, serve, start_all
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

PERSON = make_id(555)
NAME = "王五"
PURPOSE = "公租房资格核查"


# --------------------------------------------------------------------------- parsing


def test_latency_ranges_and_faults_are_parsed_with_clear_errors():
    assert parse_latency("50-150") == (50.0, 150.0)
    assert parse_latency([20, 40]) == (20.0, 40.0) and parse_latency(100) == (100.0, 100.0)
    for bad in ("150-50", "-5", "fast", [1, 2, 3], "nan-1"):
        with raises_clean(ValueError, match="延迟"):
            parse_latency(bad)
    assert FaultSpec.parse("status_5xx=0.05") == FaultSpec("status_5xx", 0.05)
    assert FaultSpec.parse("timeout=0.01,seconds=2,count=3") == FaultSpec("timeout", 0.01, 3, {"seconds": 2})
    assert FaultSpec.parse("5xx").kind == "status_5xx" and FaultSpec.parse("5xx").rate == 1.0
    with raises_clean(ValueError, match="未知的故障类型"):
        FaultSpec.parse("meteor=0.1")
    with raises_clean(ValueError, match="rate"):
        FaultSpec.parse("timeout=1.5")
    with raises_clean(ValueError, match="不支持参数"):
        FaultSpec.parse("timeout=0.1,status=500")
    with raises_clean(ValueError, match="quota_per_second"):
        SimulatorConfig(quota_per_second=0)


def test_toml_file_and_options_build_one_config_per_simulator(tmp_path):
    path = tmp_path / "simulation.toml"
    path.write_text(
        """
seed = 7
latency_ms = "20-40"

[bigdata]
port = 0
quota_per_second = 50
interface_latency_ms = { household_registration = "50-300", vehicles = [80, 120] }

[bigdata.faults]
status_5xx = 0.02
timeout = { rate = 0.01, seconds = 2 }

[qianjiang]
latency_ms = 10
""",
        encoding="utf-8",
    )
    configs, ports = build_configs(
        SIMULATORS,
        file=load_toml(path),
        quota=["qianjiang=20"],
        latency=["survey=5-6"],
        faults=["bigdata:status_5xx=0.1", "malformed=0.001"],
        interface_latency=["marriage=90-95"],
    )
    assert ports == {"bigdata": 0}
    bigdata = configs["bigdata"]
    assert (bigdata.quota_per_second, bigdata.latency_ms, bigdata.seed) == (50.0, (20.0, 40.0), 7)
    assert bigdata.interface_latency_ms == {
        "household_registration": (50.0, 300.0),
        "vehicles": (80.0, 120.0),
        "marriage": (90.0, 95.0),
    }
    assert {f.kind: f.rate for f in bigdata.faults} == {"status_5xx": 0.1, "timeout": 0.01, "malformed": 0.001}
    assert configs["qianjiang"].quota_per_second == 20 and configs["qianjiang"].latency_ms == (10.0, 10.0)
    assert configs["survey"].latency_ms == (5.0, 6.0) and configs["docrepo"].latency_ms == (20.0, 40.0)
    assert SimulatorConfig.from_mapping(bigdata.to_mapping()) == bigdata  # the JSON form reads back
    with raises_clean(ValueError, match="未知的模拟服务"):
        build_configs(SIMULATORS, quota=["nosuch=3"])
    with raises_clean(ValueError, match="未知的模拟服务配置项"):
        build_configs(SIMULATORS, file={"bigdata": {"qouta": 3}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[bigdata\n", encoding="utf-8")
    with raises_clean(ValueError, match="格式错误"):
        load_toml(bad)


def test_an_unknown_interface_latency_is_refused_by_the_simulator():
    with (
        raises_clean(ValueError, match="未知的接口"),
        serve("bigdata", SimulatorConfig(interface_latency_ms={"horoscope": (1, 2)})),
    ):
        pass
    with (
        raises_clean(ValueError, match="不区分接口"),
        serve("qianjiang", SimulatorConfig(interface_latency_ms={"x": 1})),
    ):
        pass


# --------------------------------------------------------------------------- a configured simulator over HTTP


def _client(sim, *, generation: int = 1) -> BigDataClient:  # type: ignore[no-untyped-def]
    section = {"rate_per_second": 1000, "burst": 50, "retry_attempts": 1, "read_timeout": 5}
    return BigDataClient(
        BigDataSettings.from_config({**client_section("bigdata", sim), "generation": generation, **section})
    )


async def test_latency_applies_per_interface_and_counts_tell_who_was_asked(bigdata_sim):
    bigdata_sim.state.configure(
        SimulatorConfig(latency_ms=(0, 0), interface_latency_ms={"vehicles": (300, 300), "jmsfz_xx": (150, 150)})
    )
    async with _client(bigdata_sim) as client:
        await client.household_registration(PERSON, NAME, purpose=PURPOSE)  # also fetches the secret
        started = time.perf_counter()
        await client.vehicles(PERSON, NAME, purpose=PURPOSE)
        vehicles = time.perf_counter() - started
        started = time.perf_counter()
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)  # named by its interface id
        identity = time.perf_counter() - started
        await client.vehicles(make_id(556), NAME, purpose=PURPOSE)
        await client.vehicles(PERSON, NAME, purpose=PURPOSE)
    assert vehicles >= 0.3 and identity >= 0.15
    counts = httpx.get(bigdata_sim.base_url + "/_admin/counts", timeout=5).json()
    assert counts["subjects"] == {
        PERSON: {"household_registration": 1, "vehicles": 2, "identity_card": 1},
        make_id(556): {"vehicles": 1},
    }
    assert (counts["subject_count"], counts["requests"], counts["max_per_subject_interface"]) == (2, 5, 2)
    assert counts["per_interface"] == {"household_registration": 1, "vehicles": 3, "identity_card": 1}
    assert bigdata_sim.state.subjects.repeated() == [(PERSON, "vehicles", 2)]
    assert bigdata_sim.state.subjects.count(PERSON) == 4
    assert httpx.delete(bigdata_sim.base_url + "/_admin/counts", timeout=5).json() == {"ok": True}
    assert bigdata_sim.state.subjects.snapshot() == {}


async def test_faults_hit_a_share_of_requests_and_failed_answers_are_not_counted(bigdata_sim):
    bigdata_sim.state.configure(SimulatorConfig(faults=(FaultSpec("status_5xx", 0.5),), seed=11))
    async with _client(bigdata_sim, generation=2) as client:
        outcomes = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(60)), return_exceptions=True
        )
    failed = sum(isinstance(o, UpstreamUnavailable) for o in outcomes)
    assert 15 <= failed <= 45
    answered = bigdata_sim.state.subjects.summary()
    assert answered["requests"] == 60 - failed  # a 503 delivered nobody's data
    assert bigdata_sim.stats()["faults_injected"]["status_5xx"] == failed


async def test_the_quota_is_enforced_per_app_and_configurable_over_http(bigdata_sim):
    url = bigdata_sim.base_url
    changed = httpx.post(url + "/_admin/config", json={"quota_per_second": 5, "latency_ms": "0-1"}, timeout=5)
    assert changed.status_code == 200 and changed.json()["config"]["quota_per_second"] == 5
    assert httpx.get(url + "/_admin/config", timeout=5).json() == {"quota_per_second": 5.0, "latency_ms": [0.0, 1.0]}
    assert httpx.post(url + "/_admin/config", json={"quota": 5}, timeout=5).status_code == 400
    async with _client(bigdata_sim, generation=2) as client:
        outcomes = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(12)), return_exceptions=True
        )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) >= 5  # a burst of 5, then 5 per second: twelve at once cannot all pass
    assert all(type(o).__name__ == "QuotaExceeded" for o in refused)
    assert bigdata_sim.stats()["quota_per_second"] == 5.0


# --------------------------------------------------------------------------- run-time changes of a subject's records


async def test_a_subjects_upstream_records_change_at_run_time(bigdata_sim):
    async with _client(bigdata_sim) as client:
        before = await client.verify_all(
            PERSON, NAME, purpose=PURPOSE, categories=["vehicles", "marriage", "household_registration"]
        )
        url = bigdata_sim.base_url
        vehicle = {"syr": NAME, "sfzh": PERSON, "hphm": "浙A·D12345", "hpzl": "52", "zt": "A"}
        marriage = {"xm": NAME, "sfzh": PERSON, "hyzk": "20", "djlx": "结婚登记", "djrq": "20250101"}
        added = httpx.post(f"{url}/_admin/records/{PERSON}/vehicles", json={"record": vehicle}, timeout=5)
        assert added.status_code == 200
        bigdata_sim.state.add_record(PERSON, "marriage", marriage)
        moved = httpx.put(f"{url}/_admin/household/{PERSON}", json={"status": "2"}, timeout=5)
        assert moved.status_code == 200
        after = await client.verify_all(
            PERSON, NAME, purpose=PURPOSE, categories=["vehicles", "marriage", "household_registration"]
        )
    assert len(after["vehicles"].records) == len(before["vehicles"].records) + 1
    assert after["vehicles"].records[-1]["号牌号码"] == "浙A·D12345"
    assert after["marriage"].records[-1]["婚姻状况"] == "已婚"
    household = after["household_registration"].records[0]
    assert (household["户籍状态"], household["户籍状态代码"], household["变动说明"]) == ("迁出", "2", "迁出注销")
    bad = httpx.post(f"{bigdata_sim.base_url}/_admin/records/{PERSON}/horoscope", json={"record": {}}, timeout=5)
    assert bad.status_code == 400


async def test_the_served_data_stays_deterministic(bigdata_sim):
    async with _client(bigdata_sim) as client:
        first = await client.verify_all(PERSON, NAME, purpose=PURPOSE)
    bigdata_sim.state.reset()  # forgets the secrets too: a new client
    async with _client(bigdata_sim, generation=2) as client:
        second = await client.verify_all(PERSON, NAME, purpose=PURPOSE)
    assert {k: v.records for k, v in first.items()} == {k: v.records for k, v in second.items()}


def test_start_all_takes_a_config_per_simulator_and_serves_counts():
    servers = start_all(configs={"qianjiang": SimulatorConfig(quota_per_second=3)}, names=("qianjiang", "survey"))
    try:
        assert set(servers) == {"qianjiang", "survey"}
        assert servers["qianjiang"].state.quota.per_second == 3 and servers["survey"].state.quota.per_second is None
        for server in servers.values():
            assert httpx.get(server.base_url + "/_admin/counts", timeout=5).json()["requests"] == 0
            assert server.counts() == {}
        section = client_section("qianjiang", servers["qianjiang"])
        assert section["base_url"] == servers["qianjiang"].base_url and isinstance(section["app_secret"], str)
    finally:
        for server in servers.values():
            server.stop()
