"""Qianjiang score client against its simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.request

import pytest

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    ClockSkew,
    QuotaExceeded,
    RequestRejected,
    UpstreamUnavailable,
)
from soar_ext.adapters.qianjiang import (
    AuthorizationRejected,
    NoScore,
    QianjiangClient,
    QianjiangScore,
    QianjiangSettings,
    score_band,
)
from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET, simulated_score
from soar_ext.idnumber import InvalidIdNumber, check_char
from soar_ext.secret import Secret
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio


def make_id(serial: int, birth: str = "19850312") -> str:
    first17 = f"330106{birth}{serial % 1000:03d}"
    return first17 + check_char(first17)


PERSON = make_id(123)


def client_for(sim, fast_http, *, secret: str = DEFAULT_APP_SECRET, clock=time.time, **http) -> QianjiangClient:
    settings = QianjiangSettings(http=fast_http(sim.base_url, **http), app_id=DEFAULT_APP_ID, app_secret=Secret(secret))
    return QianjiangClient(settings, clock=clock)


def find_id(predicate) -> str:
    for serial in range(1000):
        candidate = make_id(serial)
        if predicate(simulated_score(candidate)):
            return candidate
    raise AssertionError("no matching ID in the deterministic data")


# --------------------------------------------------------------------------- normal calls


async def test_score_returns_value_band_and_date(qianjiang_sim, fast_http):
    qianjiang_sim.state.set_score(PERSON, 712)
    qianjiang_sim.state.as_of = dt.date(2024, 5, 1)
    try:
        async with client_for(qianjiang_sim, fast_http) as client:
            result = await client.score(PERSON.lower(), "张三", "AUTH-2024-0001")
    finally:
        qianjiang_sim.state.as_of = None
    assert isinstance(result, QianjiangScore)
    assert (result.score, result.band, result.as_of) == (712, "优秀", dt.date(2024, 5, 1))
    assert result.id_number == PERSON
    assert PERSON not in repr(result)


async def test_person_without_score_gets_no_score(qianjiang_sim, fast_http):
    person = find_id(lambda s: s is None)
    async with client_for(qianjiang_sim, fast_http) as client:
        result = await client.score(person, "李四", "AUTH-1")
    assert isinstance(result, NoScore)
    assert not result.has_score


async def test_deterministic_data_is_stable_and_spread_over_the_threshold(qianjiang_sim, fast_http):
    scores = [simulated_score(make_id(serial, birth)) for serial in range(200) for birth in ("19800101", "19900505")]
    none = sum(s is None for s in scores) / len(scores)
    above = sum(s is not None and s > 700 for s in scores) / len(scores)
    assert 0.04 < none < 0.18
    assert 0.30 < above < 0.50
    assert 700 in scores
    person = find_id(lambda s: s == 700)
    async with client_for(qianjiang_sim, fast_http) as client:
        first = await client.score(person, "王五", "AUTH-1")
        second = await client.score(person, "王五", "AUTH-1")
    assert first.score == second.score == 700
    assert first.band == "良好"  # exactly 700 is not "above 700"


def test_bands_follow_the_published_ranges():
    assert [score_band(s) for s in (0, 549, 550, 600, 601, 700, 701, 750, 751, 1000)] == [
        "较差",
        "较差",
        "中等",
        "中等",
        "良好",
        "良好",
        "优秀",
        "优秀",
        "极好",
        "极好",
    ]


async def test_invalid_id_number_is_rejected_before_calling(qianjiang_sim, fast_http):
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(InvalidIdNumber, match="校验位"):
            await client.score(PERSON[:17] + ("0" if PERSON[17] != "0" else "1"), "张三", "AUTH-1")
        with raises_clean(ValueError, match="授权"):
            await client.score(PERSON, "张三", " ")
    assert qianjiang_sim.state.plan.calls("score") == 0


async def test_revoked_authorisation_is_reported(qianjiang_sim, fast_http):
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(AuthorizationRejected, match="授权"):
            await client.score(PERSON, "张三", "REVOKED-1")
    assert qianjiang_sim.state.plan.calls("score") == 1


async def test_admin_endpoint_overrides_a_score(qianjiang_sim, fast_http):
    # urllib: the admin URL carries the full ID, and httpx would log it
    request = urllib.request.Request(
        f"{qianjiang_sim.base_url}/_admin/scores/{PERSON}",
        data=json.dumps({"score": 755}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    async with client_for(qianjiang_sim, fast_http) as client:
        result = await client.score(PERSON, "张三", "AUTH-1")
    assert (result.score, result.band) == (755, "极好")


# --------------------------------------------------------------------------- authentication


async def test_wrong_secret_fails_authentication_without_retrying(qianjiang_sim, fast_http):
    async with client_for(qianjiang_sim, fast_http, secret="wrong-secret-for-tests") as client:
        with raises_clean(AuthenticationFailed, match="签名") as info:
            await client.score(PERSON, "张三", "AUTH-1")
    assert "wrong-secret-for-tests" not in str(info.value)
    assert PERSON not in str(info.value)
    assert qianjiang_sim.state.plan.calls("score") == 1


async def test_expired_secret_and_injected_bad_signature_fail_authentication(qianjiang_sim, fast_http):
    plan = qianjiang_sim.state.plan
    async with client_for(qianjiang_sim, fast_http) as client:
        plan.set("expire_secret", count=1)
        with raises_clean(AuthenticationFailed, match="过期"):
            await client.score(PERSON, "张三", "AUTH-1")
        plan.set("bad_signature", count=1)
        with raises_clean(AuthenticationFailed):
            await client.score(PERSON, "张三", "AUTH-1")
        assert isinstance(await client.score(PERSON, "张三", "AUTH-1"), QianjiangScore | NoScore)
    assert plan.calls("score") == 3


async def test_skewed_client_clock_is_reported_as_clock_skew(qianjiang_sim, fast_http):
    async with client_for(qianjiang_sim, fast_http, clock=lambda: time.time() - 3600) as client:
        with raises_clean(ClockSkew):
            await client.score(PERSON, "张三", "AUTH-1")


# --------------------------------------------------------------------------- quota, 5xx, timeouts, bodies


async def test_429_retry_after_is_honoured(qianjiang_sim, fast_http):
    qianjiang_sim.state.set_score(PERSON, 650)
    qianjiang_sim.state.plan.set("status_429", count=1, retry_after=0.4)
    async with client_for(qianjiang_sim, fast_http) as client:
        started = time.monotonic()
        result = await client.score(PERSON, "张三", "AUTH-1")
        elapsed = time.monotonic() - started
    assert result.score == 650
    assert elapsed >= 0.38
    assert qianjiang_sim.state.plan.calls("score") == 2


async def test_retry_after_is_capped_by_the_configured_maximum(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("status_429", count=1, retry_after=30)
    async with client_for(qianjiang_sim, fast_http, retry_max_delay=0.2) as client:
        started = time.monotonic()
        await client.score(PERSON, "张三", "AUTH-1")
        assert time.monotonic() - started < 2


async def test_persistent_429_surfaces_quota_exceeded(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("status_429", retry_after=0.05)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(QuotaExceeded) as info:
            await client.score(PERSON, "张三", "AUTH-1")
    assert info.value.retry_after == pytest.approx(0.05)
    assert qianjiang_sim.state.plan.calls("score") == 3


async def test_protocol_quota_code_is_retried(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("quota", count=1)
    async with client_for(qianjiang_sim, fast_http, retry_max_delay=0.05) as client:
        result = await client.score(PERSON, "张三", "AUTH-1")
    assert isinstance(result, QianjiangScore | NoScore)
    assert qianjiang_sim.state.plan.calls("score") == 2


async def test_transient_503_is_retried_transparently(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("status_5xx", count=2, status=503)
    async with client_for(qianjiang_sim, fast_http) as client:
        await client.score(PERSON, "张三", "AUTH-1")
    assert qianjiang_sim.state.plan.calls("score") == 3


async def test_persistent_5xx_surfaces_upstream_unavailable(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("status_5xx", status=502)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(UpstreamUnavailable, match="HTTP 502") as info:
            await client.score(PERSON, "张三", "AUTH-1")
    assert not isinstance(info.value, CircuitOpen)
    assert str(info.value).startswith("钱江分接口查询评分：")
    assert qianjiang_sim.state.plan.calls("score") == 3


async def test_timeouts_are_retried_then_surface_upstream_unavailable(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("timeout", seconds=1.5)
    async with client_for(qianjiang_sim, fast_http, read_timeout=0.2) as client:
        started = time.monotonic()
        with raises_clean(UpstreamUnavailable, match="超时"):
            await client.score(PERSON, "张三", "AUTH-1")
        elapsed = time.monotonic() - started
    assert qianjiang_sim.state.plan.calls("score") == 3
    assert elapsed < 1.5


async def test_malformed_json_is_a_bad_response_and_not_retried(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("malformed", count=1)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(BadResponse, match="JSON"):
            await client.score(PERSON, "张三", "AUTH-1")
    assert qianjiang_sim.state.plan.calls("score") == 1


async def test_deeply_nested_json_is_a_bad_response_not_retried(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("deep_json", count=1)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(BadResponse, match="JSON"):
            await client.score(PERSON, "张三", "AUTH-1")
        assert client.breaker.consecutive_failures == 1  # a broken answer counts against the upstream
    assert qianjiang_sim.state.plan.calls("score") == 1


async def test_undecodable_content_encoding_is_a_bad_response(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("bad_encoding", count=1)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(BadResponse, match="编码"):
            await client.score(PERSON, "张三", "AUTH-1")
        assert client.breaker.consecutive_failures == 1
    assert qianjiang_sim.state.plan.calls("score") == 1


@pytest.mark.parametrize(("value", "expected"), [("NaN", None), ("Infinity", None), ("-5", 0.0), ('"abc"', None)])
async def test_odd_retry_after_in_the_body_is_validated_and_never_hangs(qianjiang_sim, fast_http, value, expected):
    body = '{"code": "4290", "msg": "调用量超过配额", "retryAfter": ' + value + "}"
    qianjiang_sim.state.plan.set("raw_body", body=body)
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(QuotaExceeded) as info:
            await asyncio.wait_for(client.score(PERSON, "张三", "AUTH-1"), 3)
    assert info.value.retry_after == expected
    assert qianjiang_sim.state.plan.calls("score") == 3


async def test_retry_after_in_the_body_is_honoured(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("quota", count=1, retry_after=0.3)
    async with client_for(qianjiang_sim, fast_http) as client:
        started = time.monotonic()
        await client.score(PERSON, "张三", "AUTH-1")
        assert time.monotonic() - started >= 0.3


async def test_upstream_error_text_is_masked_scrubbed_and_cut(qianjiang_sim, fast_http):
    msg = (
        f"参数错误：身份证号{PERSON}不合法 appSecret={DEFAULT_APP_SECRET} secret=sk-live-123 {DEFAULT_APP_SECRET}"
        + "。" * 5000
    )
    qianjiang_sim.state.plan.set("raw_body", status=400, body=json.dumps({"code": "4000", "msg": msg}))
    async with client_for(qianjiang_sim, fast_http) as client:
        with raises_clean(RequestRejected, secrets=["sk-live-123"]) as info:
            await client.score(PERSON, "张三", "AUTH-1")
    text = str(info.value)
    assert "330106********" in text and len(text) < 300


async def test_trickled_answer_is_cut_off_by_the_attempt_time_limit(qianjiang_sim, fast_http):
    qianjiang_sim.state.plan.set("trickle", interval=0.05, chunks=200)  # a byte every 50 ms: no read timeout
    async with client_for(qianjiang_sim, fast_http, read_timeout=0.3, attempt_timeout=0.4, retry_attempts=2) as client:
        started = time.monotonic()
        with raises_clean(UpstreamUnavailable, match="单次请求超过0.4秒"):
            await client.score(PERSON, "张三", "AUTH-1")
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 2.0
    assert qianjiang_sim.state.plan.calls("score") == 2


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversize_answer_is_a_bad_response(qianjiang_sim, fast_http, chunked):
    qianjiang_sim.state.plan.set("oversize", count=1, bytes=2 * 1024 * 1024, chunked=chunked)
    async with client_for(qianjiang_sim, fast_http, max_response_bytes=64 * 1024) as client:
        with raises_clean(BadResponse, match="返回报文过大"):
            await client.score(PERSON, "张三", "AUTH-1")
        assert isinstance(await client.score(PERSON, "张三", "AUTH-1"), QianjiangScore | NoScore)
    assert qianjiang_sim.state.plan.calls("score") == 2


async def test_client_signs_the_path_it_sends_behind_a_path_prefix(fast_http, serve_mounted):
    from soar_ext.adapters.simulators.qianjiang import create_app

    base_url = serve_mounted(create_app(), "/qjf-gateway")
    settings = QianjiangSettings(http=fast_http(base_url), app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET))
    async with QianjiangClient(settings) as client:
        result = await client.score(PERSON, "张三", "AUTH-1")
    assert isinstance(result, QianjiangScore | NoScore)


# --------------------------------------------------------------------------- breaker, limiter, sync use


async def test_circuit_opens_fails_fast_half_opens_and_recovers(qianjiang_sim, fast_http):
    plan = qianjiang_sim.state.plan
    plan.set("status_5xx", status=503)
    async with client_for(
        qianjiang_sim, fast_http, retry_attempts=1, breaker_failure_threshold=3, breaker_reset_seconds=0.3
    ) as client:
        for _ in range(3):
            with raises_clean(UpstreamUnavailable):
                await client.score(PERSON, "张三", "AUTH-1")
        assert client.breaker.state == CircuitBreaker.OPEN
        with raises_clean(CircuitOpen, match="熔断"):
            await client.score(PERSON, "张三", "AUTH-1")
        assert plan.calls("score") == 3  # failed fast, nothing sent

        await asyncio.sleep(0.35)
        assert client.breaker.state == CircuitBreaker.HALF_OPEN
        with raises_clean(UpstreamUnavailable):  # the probe fails: open again
            await client.score(PERSON, "张三", "AUTH-1")
        assert client.breaker.state == CircuitBreaker.OPEN
        assert plan.calls("score") == 4

        plan.clear()
        await asyncio.sleep(0.35)
        await client.score(PERSON, "张三", "AUTH-1")
        assert client.breaker.state == CircuitBreaker.CLOSED
        await client.score(PERSON, "张三", "AUTH-1")
    assert plan.calls("score") == 6


async def test_rate_limiter_holds_throughput_to_the_configured_rate(qianjiang_sim, fast_http):
    async with client_for(qianjiang_sim, fast_http, rate_per_second=20, burst=1) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.score(make_id(i), "张三", "AUTH-1") for i in range(21)))
        elapsed = time.monotonic() - started
    # 1 immediate call + 20 more at 20/s → about one second
    # never faster than the rate; the upper bound only catches a limiter far slower than asked (loaded CI)
    assert 0.9 <= elapsed <= 4.0
    assert qianjiang_sim.state.plan.calls("score") == 21


def test_sync_code_can_call_through_the_adapter_registry(qianjiang_sim, fast_http):
    qianjiang_sim.state.set_score(PERSON, 701)
    client = client_for(qianjiang_sim, fast_http)
    registry = AdapterRegistry(config=None, instances={"qianjiang": client})  # type: ignore[arg-type]
    try:
        result = registry.run(client.score(PERSON, "张三", "AUTH-1"), timeout=5)
        assert (result.score, result.band) == (701, "优秀")
        again = registry.run(client.score(PERSON, "张三", "AUTH-1"), timeout=5)
        assert again.score == 701
    finally:
        registry.close()


def test_settings_come_from_a_config_section():
    settings = QianjiangSettings.from_config(
        {
            "base_url": "https://qjf.example.gov.cn/",
            "app_id": "soar",
            "app_secret": Secret("qjf-test-secret"),
            "rate_per_second": "5",
            "retry_attempts": 2,
        }
    )
    assert settings.http.base_url == "https://qjf.example.gov.cn"
    assert settings.http.rate_per_second == 5.0
    assert settings.http.retry_attempts == 2
    assert "qjf-test-secret" not in repr(settings)
    with raises_clean(ValueError, match="app_secret"):
        QianjiangSettings.from_config({"base_url": "https://x", "app_id": "soar"})
