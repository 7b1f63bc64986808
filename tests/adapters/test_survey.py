"""Surveying client against its simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    QuotaExceeded,
    UpstreamUnavailable,
)
from soar_ext.adapters.simulators.survey import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    simulated_houses,
    survey_catalog,
)
from soar_ext.adapters.survey import (
    SurveyClient,
    SurveyedHouse,
    SurveyProjectNotFound,
    SurveySettings,
)
from soar_ext.secret import Secret
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

CATALOG = survey_catalog()
FIRST_NUMBER, FIRST_NAME = CATALOG[0]


def client_for(sim, fast_http, *, secret: str = DEFAULT_APP_SECRET, **http) -> SurveyClient:
    settings = SurveySettings(http=fast_http(sim.base_url, **http), app_id=DEFAULT_APP_ID, app_secret=Secret(secret))
    return SurveyClient(settings)


def project_with(predicate) -> str:
    for number, _ in CATALOG:
        if predicate(simulated_houses(number)):
            return number
    raise AssertionError("no matching project in the catalog")


# --------------------------------------------------------------------------- catalog and data


def test_catalog_is_deterministic_and_named_like_co_construction_projects():
    assert survey_catalog() == survey_catalog(2019, 40)
    assert len(CATALOG) == 40
    assert CATALOG[0][0] == "PJ2019-0001"
    assert CATALOG[-1][0] == "PJ2019-0040"
    names = [name for _, name in CATALOG]
    assert len(set(names)) == 40
    assert all(name.endswith("地块配建项目") for name in names)
    assert survey_catalog(2020, 5)[0][0] == "PJ2020-0001"
    assert survey_catalog(2020, 5) != survey_catalog(2019, 5)


async def test_find_project_by_number_and_by_name_fragment(survey_sim, fast_http):
    async with client_for(survey_sim, fast_http) as client:
        by_number = await client.find_projects(number=FIRST_NUMBER)
        by_name = await client.find_projects(name=FIRST_NAME[:-6])  # without 地块配建项目
        both = await client.find_projects(number=FIRST_NUMBER, name=FIRST_NAME)
        none = await client.find_projects(number="PJ1999-0001")
    assert [(p.number, p.name) for p in by_number] == [(FIRST_NUMBER, FIRST_NAME)]
    assert FIRST_NUMBER in [p.number for p in by_name]
    assert [p.number for p in both] == [FIRST_NUMBER]
    assert by_number[0].district and by_number[0].survey_unit
    assert by_number[0].house_count == len(simulated_houses(FIRST_NUMBER))
    assert none == []


async def test_find_projects_needs_a_number_or_a_name(survey_sim, fast_http):
    async with client_for(survey_sim, fast_http) as client:
        with raises_clean(ValueError, match="项目编号或项目名称"):
            await client.find_projects()
    assert survey_sim.state.plan.calls() == 0


async def test_houses_carry_predicted_and_measured_areas(survey_sim, fast_http):
    number = project_with(lambda hs: all(h.measured_area is not None for h in hs))
    async with client_for(survey_sim, fast_http) as client:
        houses = await client.houses(number)
    expected = simulated_houses(number)
    assert len(houses) == len(expected)
    first = houses[0]
    assert isinstance(first, SurveyedHouse)
    assert first.house_id == expected[0].house_id
    assert (first.building, first.unit) == ("1幢", "1单元")
    assert isinstance(first.predicted_area, Decimal)
    assert first.predicted_area == expected[0].predicted_area
    assert first.measured_area == expected[0].measured_area
    assert all(h.is_measured for h in houses)
    assert all(abs(h.area_difference) <= h.predicted_area * Decimal("0.031") for h in houses)


async def test_unmeasured_houses_have_no_measured_area(survey_sim, fast_http):
    number = project_with(lambda hs: all(h.measured_area is None for h in hs))
    async with client_for(survey_sim, fast_http) as client:
        houses = await client.houses(number)
        assert houses and all(h.measured_area is None and h.area_difference is None for h in houses)
        survey_sim.state.set_measured(houses[0].house_id, "61.37")
        again = await client.houses(number)
    assert again[0].measured_area == Decimal("61.37")


async def test_unknown_project_is_reported_by_number(survey_sim, fast_http):
    async with client_for(survey_sim, fast_http) as client:
        with raises_clean(SurveyProjectNotFound, match="PJ1999-0001"):
            await client.houses("PJ1999-0001")
    assert survey_sim.state.plan.calls("houses") == 1


# --------------------------------------------------------------------------- protocol failures


async def test_wrong_secret_fails_authentication_without_retrying(survey_sim, fast_http):
    async with client_for(survey_sim, fast_http, secret="wrong-secret-for-tests") as client:
        with raises_clean(AuthenticationFailed, match="签名"):
            await client.houses(FIRST_NUMBER)
    assert survey_sim.state.plan.calls() == 1


async def test_expired_secret_fails_authentication(survey_sim, fast_http):
    survey_sim.state.plan.set("expire_secret", count=1)
    async with client_for(survey_sim, fast_http) as client:
        with raises_clean(AuthenticationFailed, match="过期"):
            await client.houses(FIRST_NUMBER)


async def test_429_retry_after_is_honoured(survey_sim, fast_http):
    survey_sim.state.plan.set("status_429", count=1, retry_after=0.3)
    async with client_for(survey_sim, fast_http) as client:
        started = time.monotonic()
        houses = await client.houses(FIRST_NUMBER)
        elapsed = time.monotonic() - started
    assert houses
    assert elapsed >= 0.28
    assert survey_sim.state.plan.calls("houses") == 2


async def test_protocol_quota_code_surfaces_quota_exceeded_after_retries(survey_sim, fast_http):
    survey_sim.state.plan.set("quota")
    async with client_for(survey_sim, fast_http, retry_max_delay=0.05) as client:
        with raises_clean(QuotaExceeded):
            await client.find_projects(number=FIRST_NUMBER)
    assert survey_sim.state.plan.calls() == 3


async def test_5xx_and_timeouts_are_retried_then_surface_upstream_unavailable(survey_sim, fast_http):
    plan = survey_sim.state.plan
    async with client_for(survey_sim, fast_http, read_timeout=0.2, breaker_failure_threshold=10) as client:
        plan.set("status_5xx", count=1, status=504)
        assert await client.houses(FIRST_NUMBER)
        plan.set("status_5xx", status=503)
        with raises_clean(UpstreamUnavailable, match="503"):
            await client.houses(FIRST_NUMBER)
        plan.clear()
        plan.set("timeout", seconds=1.0)
        with raises_clean(UpstreamUnavailable, match="超时"):
            await client.houses(FIRST_NUMBER)
    assert plan.calls("houses") == 2 + 3 + 3


async def test_malformed_json_is_a_bad_response(survey_sim, fast_http):
    survey_sim.state.plan.set("malformed", count=1)
    async with client_for(survey_sim, fast_http) as client:
        with raises_clean(BadResponse):
            await client.find_projects(number=FIRST_NUMBER)
    assert survey_sim.state.plan.calls() == 1


async def test_retry_after_in_the_quota_body_is_honoured_and_validated(survey_sim, fast_http):
    survey_sim.state.plan.set("quota", count=1, retry_after=0.3)
    async with client_for(survey_sim, fast_http) as client:
        started = time.monotonic()
        await client.find_projects(number=FIRST_NUMBER)
        assert time.monotonic() - started >= 0.3
        survey_sim.state.plan.set("raw_body", body='{"code": "4290", "msg": "调用量超过配额", "retryAfter": NaN}')
        with raises_clean(QuotaExceeded) as info:
            await asyncio.wait_for(client.find_projects(number=FIRST_NUMBER), 3)
    assert info.value.retry_after is None


async def test_client_signs_the_path_it_sends_behind_a_path_prefix(fast_http, serve_mounted):
    from soar_ext.adapters.simulators.survey import create_app

    base_url = serve_mounted(create_app(), "/gis/survey-gateway")
    settings = SurveySettings(http=fast_http(base_url), app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET))
    async with SurveyClient(settings) as client:
        projects = await client.find_projects(number=FIRST_NUMBER)
        houses = await client.houses(FIRST_NUMBER)
    assert [p.number for p in projects] == [FIRST_NUMBER]
    assert houses


async def test_circuit_opens_fails_fast_half_opens_and_recovers(survey_sim, fast_http):
    plan = survey_sim.state.plan
    plan.set("status_5xx", status=503)
    async with client_for(
        survey_sim, fast_http, retry_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=0.25
    ) as client:
        for _ in range(2):
            with raises_clean(UpstreamUnavailable):
                await client.houses(FIRST_NUMBER)
        with raises_clean(CircuitOpen):
            await client.find_projects(number=FIRST_NUMBER)
        assert plan.calls() == 2
        plan.clear()
        await asyncio.sleep(0.3)
        assert client.breaker.state == CircuitBreaker.HALF_OPEN
        assert await client.houses(FIRST_NUMBER)
        assert client.breaker.state == CircuitBreaker.CLOSED


async def test_rate_limiter_holds_throughput_to_the_configured_rate(survey_sim, fast_http):
    async with client_for(survey_sim, fast_http, rate_per_second=25, burst=5) as client:
        started = time.monotonic()
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.monotonic() - started < 1.0:
                await client.find_projects(number=FIRST_NUMBER)
                done += 1

        await asyncio.gather(*(worker() for _ in range(8)))
    # never more than burst 5 + 25/s over ~1 s (workers may finish one call past the deadline); the lower
    # bound only catches a limiter far slower than asked, since a loaded machine answers slower
    assert 10 <= done <= 5 + 25 + 8 + 2


def test_sync_code_can_call_through_the_adapter_registry(survey_sim, fast_http):
    client = client_for(survey_sim, fast_http)
    registry = AdapterRegistry(config=None, instances={"survey": client})  # type: ignore[arg-type]
    try:
        projects = registry.run(client.find_projects(number=FIRST_NUMBER), timeout=5)
        houses = registry.run(client.houses(projects[0].number), timeout=5)
    finally:
        registry.close()
    assert projects[0].name == FIRST_NAME
    assert houses


def test_settings_come_from_a_config_section():
    settings = SurveySettings.from_config(
        {"base_url": "https://survey.example.gov.cn", "app_id": "soar", "app_secret": "survey-test-secret"}
    )
    assert settings.app_secret.reveal() == "survey-test-secret"
    assert "survey-test-secret" not in repr(settings)
