"""Gen-1 Big Data gateway (md5 signatures, expiring secrets) against its simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import time

import httpx
import pytest

from soar_ext.adapters.bigdata import QueryRecord
from soar_ext.adapters.bigdata.envelope import RequestSecretExpired, parse_envelope, raise_for_code
from soar_ext.adapters.bigdata.gen1 import sign
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitOpen,
    QuotaExceeded,
    RequestRejected,
    UpstreamUnavailable,
)
from tests.adapters.bigdata_fixtures import (  # noqa: F401  (fixtures)
    WRONG_SECRET,
    ShiftedClock,
    bigdata_server_fixture,
    bigdata_sim_fixture,
    make_id,
)
from tests.adapters.guards import assert_no_leak, raises_clean

pytestmark = pytest.mark.anyio

PERSON = make_id(123)
NAME = "张三"
PURPOSE = "公租房资格核查"


# --------------------------------------------------------------------------- signing and envelope


def test_gen1_sign_matches_known_vector():
    expected = hashlib.md5(b"demo-app" + b"demo-secret" + b"1700000000000").hexdigest()
    assert expected == "7ee92a28bd71c2ad3a50899265819b13"
    assert sign("demo-app", "demo-secret", "1700000000000") == expected


def _response(body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx.Response(200, content=content, request=httpx.Request("GET", "http://gateway.test/x"))


def test_envelope_parses_datas_given_as_json_string():
    rows = [{"xm": "张三", "hjzt": "0"}]
    envelope = parse_envelope(
        _response({"code": "00", "msg": "成功", "datas": json.dumps(rows), "dataCount": "1"}), call="户籍查询"
    )
    assert envelope.datas == rows
    assert envelope.data_count == 1


def test_envelope_codes_map_to_typed_errors():
    def check(code: str):
        envelope = parse_envelope(_response({"code": code, "msg": "x", "datas": None}), call="户籍查询")
        raise_for_code(envelope, call="户籍查询")

    check("00")
    with raises_clean(RequestSecretExpired):
        check("11")
    with raises_clean(AuthenticationFailed, match="签名校验失败"):
        check("14")
    with raises_clean(QuotaExceeded):
        check("18")
    with raises_clean(RequestRejected, match="code 99"):
        check("99")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"msg": "no code"}',
        b'{"code": "00", "datas": "{broken"}',
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"code": "00", "datas": "[" * 100_000 + "]" * 100_000}).encode(),
    ],
)
def test_malformed_envelopes_are_bad_responses(body: bytes):
    with raises_clean(BadResponse):
        parse_envelope(_response(body), call="户籍查询")


# --------------------------------------------------------------------------- normal calls


async def test_gen1_call_returns_normalised_household_record(bigdata_sim, fast_http):
    bigdata_sim.state.set_household_status(PERSON, "2")
    async with bigdata_sim.client(fast_http) as client:
        result = await client.household_registration(PERSON, NAME, purpose=PURPOSE)
        again = await client.household_registration(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found" and result.generation == 1
    record = result.records[0]
    assert (record["户籍状态"], record["户籍状态代码"], record["姓名"]) == ("迁出", "2", NAME)
    # the simulator sends this interface's datas as a JSON string; the raw payload is parsed
    assert isinstance(result.raw, list) and result.raw[0]["hjzt"] == "2"
    assert again.records == result.records
    stats = bigdata_sim.stats()
    assert stats["refreshes"] == 1  # the secret is cached between calls
    assert stats["calls"]["gen1:business"] == 2


async def test_business_parameters_never_travel_in_the_url(bigdata_sim, fast_http):
    seen: list[str] = []

    async def record_url(request: httpx.Request) -> None:
        seen.append(str(request.url))

    async with bigdata_sim.client(fast_http) as client:
        client._http.event_hooks["request"].append(record_url)
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert seen and not any(PERSON in url or "demo-secret" in url for url in seen)


# --------------------------------------------------------------------------- secrets and refresh


async def test_expired_request_secret_is_refreshed_once_and_the_call_succeeds(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.expire_request_secrets()  # the gateway no longer takes it (e.g. renewed by another node)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    stats = bigdata_sim.stats()
    assert stats["outcomes"]["code_11"] == 1
    assert stats["outcomes"]["refresh_by_secret"] == 1
    assert stats["refreshes"] == 2  # the first secret and exactly one renewal


async def test_fifty_concurrent_callers_rejected_as_expired_share_one_refresh(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, read_timeout=10) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.expire_request_secrets()
        results = await asyncio.gather(*(client.identity_card(make_id(i), NAME, purpose=PURPOSE) for i in range(50)))
    assert all(r.status == "found" for r in results)
    stats = bigdata_sim.stats()
    assert stats["refreshes"] == 2  # initial secret + exactly one refresh for all fifty callers
    assert stats["outcomes"]["refresh_by_secret"] == 1


async def test_fifty_concurrent_callers_finding_the_secret_about_to_expire_refresh_once_before_calling(
    bigdata_sim, fast_http
):
    clock = ShiftedClock()
    async with bigdata_sim.client(fast_http, clock=clock, read_timeout=10) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        # both clocks move to 30 s before expiry: inside the refresh margin (60 s)
        clock.advance(15 * 60 - 30)
        bigdata_sim.state.advance(15 * 60 - 30)
        results = await asyncio.gather(*(client.identity_card(make_id(i), NAME, purpose=PURPOSE) for i in range(50)))
    assert all(r.status == "found" for r in results)
    stats = bigdata_sim.stats()
    assert stats["refreshes"] == 2
    assert "code_11" not in stats["outcomes"]  # renewed before the gateway had to reject anything


async def test_cold_start_with_fifty_concurrent_callers_fetches_the_secret_once(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, read_timeout=10) as client:
        await asyncio.gather(*(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(50)))
    stats = bigdata_sim.stats()
    assert stats["outcomes"] == {"refresh_by_key": 1}
    assert stats["calls"]["refreshTokenByKey"] == 1


async def test_expired_refresh_secret_falls_back_to_the_app_key(bigdata_sim, fast_http):
    clock = ShiftedClock()
    async with bigdata_sim.client(fast_http, clock=clock) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        clock.advance(49 * 3600)
        bigdata_sim.state.advance(49 * 3600)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.stats()["outcomes"] == {"refresh_by_key": 2}


async def test_expire_secret_fault_is_recovered_by_one_refresh(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("expire_secret", count=1)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.stats()["refreshes"] == 2


async def test_secret_still_rejected_after_refresh_fails_without_looping(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("expire_secret")  # every business call answers code 11
    async with bigdata_sim.client(fast_http) as client:
        with raises_clean(AuthenticationFailed, match="仍提示已过期"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen1:business") == 2  # the call and one retry after the refresh
    assert bigdata_sim.stats()["refreshes"] == 2


# --------------------------------------------------------------------------- failing renewals stay single flight


async def test_fifty_callers_share_one_renewal_rejected_with_code_14(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("bad_signature")  # the token endpoint answers code 14
    async with bigdata_sim.client(fast_http, breaker_failure_threshold=1000) as client:
        results = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(50)), return_exceptions=True
        )
        assert client.breaker.state == "closed"  # an answered refusal: the gateway is alive
    assert all(isinstance(r, AuthenticationFailed) for r in results), {type(r).__name__ for r in results}
    for error in results:
        assert_no_leak(error)
    assert bigdata_sim.calls("refreshTokenByKey") == 1
    assert bigdata_sim.calls("gen1:business") == 0


async def test_fifty_callers_share_renewals_failing_with_503_without_hammering(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_5xx", status=503)
    # the breaker is kept out of the way: single flight and the failure memory alone bound the calls
    async with bigdata_sim.client(
        fast_http, retry_attempts=3, breaker_failure_threshold=1000, renewal_memory=0.15
    ) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(50)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
    assert all(isinstance(r, UpstreamUnavailable) for r in results), {type(r).__name__ for r in results}
    assert all(r.status == 503 for r in results)
    assert 1 <= bigdata_sim.calls("refreshTokenByKey") <= 3  # at most one renewal per attempt round
    assert elapsed < 2.0


async def test_one_failed_renewal_counts_once_for_the_breaker(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_5xx", status=503)
    async with bigdata_sim.client(
        fast_http, retry_attempts=3, breaker_failure_threshold=2, renewal_memory=0.05
    ) as client:
        results = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(50)), return_exceptions=True
        )
        # 50 callers waited for each failed token request, yet the breaker saw one failure per request:
        # the first round left it closed, the second opened it, the third never reached the gateway
        assert client.breaker.state == "open"
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert bigdata_sim.calls("refreshTokenByKey") == 2


async def test_fifty_callers_with_the_breaker_stop_after_one_failed_renewal(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_5xx", status=503)
    async with bigdata_sim.client(fast_http, retry_attempts=3, breaker_failure_threshold=1) as client:
        results = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(50)), return_exceptions=True
        )
        assert client.breaker.state == "open"
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert bigdata_sim.calls("refreshTokenByKey") == 1


async def test_renewal_timeouts_are_shared_not_serialised(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("timeout", seconds=0.6)  # every token request hangs past the read timeout
    async with bigdata_sim.client(
        fast_http, retry_attempts=2, read_timeout=0.2, breaker_failure_threshold=1000, renewal_memory=0.1
    ) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(20)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert bigdata_sim.calls("refreshTokenByKey") <= 2
    assert elapsed < 1.5  # not twenty timeouts one after the other


async def test_a_transient_renewal_failure_is_recovered_after_the_memory_window(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("status_5xx", count=1, status=503)
    async with bigdata_sim.client(fast_http, retry_attempts=3, renewal_memory=0.1) as client:
        results = await asyncio.gather(*(client.vehicles(make_id(i), NAME, purpose=PURPOSE) for i in range(10)))
    assert all(r.status in ("found", "no_record") for r in results)
    assert bigdata_sim.calls("refreshTokenByKey") == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_renewal(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("latency_ms", count=1, latency_ms=200)  # the token request is slow
    async with bigdata_sim.client(fast_http) as client:
        impatient = asyncio.create_task(client.vehicles(make_id(1), NAME, purpose=PURPOSE))
        patient = asyncio.create_task(client.vehicles(make_id(2), NAME, purpose=PURPOSE))
        await asyncio.sleep(0.05)
        impatient.cancel()
        result = await patient
    assert result.status in ("found", "no_record")
    assert impatient.cancelled()
    assert bigdata_sim.calls("refreshTokenByKey") == 1


# --------------------------------------------------------------------------- authentication errors


async def test_wrong_app_secret_fails_once_and_is_not_retried(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, secret=WRONG_SECRET) as client:
        with raises_clean(AuthenticationFailed) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert "14" in str(raised.value) and WRONG_SECRET not in str(raised.value)
    assert bigdata_sim.calls("refreshTokenByKey") == 1
    assert bigdata_sim.calls("gen1:business") == 0


async def test_signature_rejected_on_business_call_is_not_retried(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("bad_signature")
        for _ in range(3):
            with raises_clean(AuthenticationFailed, match="签名校验失败"):
                await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        # the upstream answered: an authentication failure does not open the breaker
        assert client.breaker.state == "closed"
    assert bigdata_sim.calls("gen1:business") == 1 + 3


# --------------------------------------------------------------------------- quota, 5xx, timeouts


async def test_quota_code_18_is_retried_with_backoff_then_succeeds(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, retry_attempts=3) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)  # the secret is fetched first
        bigdata_sim.state.plan.set("quota", count=2)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.calls("gen1:business") == 1 + 3


async def test_persistent_quota_code_18_surfaces_quota_exceeded(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, retry_attempts=3) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("quota")
        with raises_clean(QuotaExceeded, match="code 18"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen1:business") == 1 + 3


async def test_the_quota_applies_to_the_token_endpoint_too(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("quota", count=2)  # the first two calls of any endpoint are over quota
    async with bigdata_sim.client(fast_http, retry_attempts=3) as client:
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.calls("refreshTokenByKey") == 3 and bigdata_sim.calls("gen1:business") == 1
    assert bigdata_sim.stats()["outcomes"]["quota"] == 2


async def test_client_rate_limiter_keeps_calls_under_the_gateway_quota(bigdata_sim, fast_http):
    bigdata_sim.state.set_quota(20)
    async with bigdata_sim.client(fast_http, rate_per_second=20, burst=10) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        results = await asyncio.gather(*(client.identity_card(make_id(i), NAME, purpose=PURPOSE) for i in range(30)))
    assert all(r.status == "found" for r in results)
    assert "quota" not in bigdata_sim.stats()["outcomes"]


async def test_5xx_is_retried_then_succeeds(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, retry_attempts=3) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)  # the secret is fetched first
        bigdata_sim.state.plan.set("status_5xx", count=2, status=502)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert result.status == "found"
    assert bigdata_sim.calls("gen1:business") == 1 + 3


async def test_persistent_5xx_surfaces_upstream_unavailable(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, retry_attempts=3) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("status_5xx", status=503)
        with raises_clean(UpstreamUnavailable) as raised:
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert raised.value.status == 503
    assert bigdata_sim.calls("gen1:business") == 1 + 3


async def test_timeouts_are_retried_then_surface_upstream_unavailable(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, retry_attempts=2, read_timeout=0.2) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("timeout", seconds=0.6)
        started = time.perf_counter()
        with raises_clean(UpstreamUnavailable, match="读取超时"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert time.perf_counter() - started < 1.5
    assert bigdata_sim.calls("gen1:business") == 1 + 2


async def test_malformed_body_is_bad_response_and_not_retried(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("malformed", count=1)
        with raises_clean(BadResponse, match="JSON"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    assert bigdata_sim.calls("gen1:business") == 2


async def test_circuit_opens_after_failures_and_recovers(bigdata_sim, fast_http):
    settings = {"retry_attempts": 2, "breaker_failure_threshold": 2, "breaker_reset_seconds": 0.3}
    async with bigdata_sim.client(fast_http, **settings) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("status_5xx", status=503)
        with raises_clean(UpstreamUnavailable):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        assert client.breaker.state == "open"
        calls_before = bigdata_sim.calls("gen1:business")
        with raises_clean(CircuitOpen):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        assert bigdata_sim.calls("gen1:business") == calls_before  # failed fast, nothing sent
        bigdata_sim.state.plan.clear()
        await asyncio.sleep(0.35)
        result = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        assert result.status == "found" and client.breaker.state == "closed"


async def test_upstream_error_messages_are_masked_scrubbed_and_cut(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)  # the secret is fetched first
        for code, error in (("20", RequestRejected), ("18", QuotaExceeded)):
            msg = f"身份证号{PERSON}查询失败 appSecret=demo-secret token=sk-live-123 " + "长" * 5000
            bigdata_sim.state.plan.set("raw_body", body=json.dumps({"code": code, "msg": msg}, ensure_ascii=False))
            with raises_clean(error, secrets=["sk-live-123"]) as raised:
                await client.identity_card(PERSON, NAME, purpose=PURPOSE)
            bigdata_sim.state.plan.clear()
            text = str(raised.value)
            assert f"code {code}" in text and PERSON[:6] + "********" in text and len(text) < 300


async def test_secret_renewal_is_bounded_by_the_attempt_time_limit(bigdata_sim, fast_http):
    bigdata_sim.state.plan.set("trickle", count=1, interval=0.05, chunks=100)  # the token answer trickles
    async with bigdata_sim.client(fast_http, retry_attempts=1, read_timeout=0.3, attempt_timeout=0.4) as client:
        started = time.monotonic()
        with raises_clean(UpstreamUnavailable, match="单次请求超过"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        assert time.monotonic() - started < 1.0


async def test_oversize_business_answer_is_a_bad_response(bigdata_sim, fast_http):
    async with bigdata_sim.client(fast_http, max_response_bytes=64 * 1024) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("oversize", count=1, bytes=1024 * 1024, chunked=True)
        with raises_clean(BadResponse, match="返回报文过大"):
            await client.identity_card(PERSON, NAME, purpose=PURPOSE)


# --------------------------------------------------------------------------- audit


async def test_every_query_is_reported_for_audit_without_exposing_the_id_number(bigdata_sim, fast_http):
    records: list[QueryRecord] = []
    bigdata_sim.state.set_records(PERSON, "vehicles", [])
    async with bigdata_sim.client(fast_http, on_query=records.append) as client:
        found = await client.identity_card(PERSON, NAME, purpose=PURPOSE)
        none = await client.vehicles(PERSON, NAME, purpose=PURPOSE)
        bigdata_sim.state.plan.set("malformed", count=1)
        with raises_clean(BadResponse):
            await client.marriage(PERSON, NAME, purpose=PURPOSE)
    assert (found.status, none.status, none.records) == ("found", "no_record", [])
    assert [(r.category, r.status, r.error_type) for r in records] == [
        ("identity_card", "found", None),
        ("vehicles", "no_record", None),
        ("marriage", "error", "BadResponse"),
    ]
    first = records[0]
    assert (first.subject_id_number, first.purpose, first.generation) == (PERSON, PURPOSE, 1)
    assert first.at is not None and abs(first.at - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=10)
    assert first.interface_id == "jmsfz_xx" and first.duration_seconds > 0
    assert PERSON not in repr(first) and PERSON not in repr(found)
    assert first.subject_masked == PERSON[:6] + "********" + PERSON[14:]


async def test_logs_carry_the_masked_id_number_only(bigdata_sim, fast_http, caplog):
    caplog.set_level(logging.DEBUG)
    async with bigdata_sim.client(fast_http) as client:
        await client.identity_card(PERSON, NAME, purpose=PURPOSE)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert PERSON[:6] + "********" + PERSON[14:] in text
    assert PERSON not in text and NAME not in text and "demo-secret" not in text
