"""The shared adapter machinery: errors, settings, limiter, breaker, retry policy, the sync bridge, simulators."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import math
import pickle
import random
import threading
import time
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from tenacity import Future, RetryCallState

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import (
    AdapterError,
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    ClockSkew,
    HttpSettings,
    QuotaExceeded,
    RequestRejected,
    RetryWait,
    UpstreamUnavailable,
    _final_error,
    call_with_resilience,
    parse_json,
    parse_retry_after,
    rate_limiter,
    retry_after_from_body,
    sanitize_delay,
    upstream_text,
)
from soar_ext.adapters.simulators.common import FaultPlan, SimulatorServer, SimulatorState, admin_routes
from soar_ext.secret import Secret
from tests.adapters.guards import raises_clean

pytestmark = pytest.mark.anyio

SYSTEM, CALL = "测试系统", "测试调用"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fast_settings(**overrides) -> HttpSettings:
    values = {
        "base_url": "http://127.0.0.1:9",
        "retry_attempts": 3,
        "retry_initial_delay": 0.01,
        "retry_max_delay": 0.2,
        "rate_per_second": 1000.0,
        "burst": 100,
        "breaker_failure_threshold": 10,
    }
    values.update(overrides)
    return HttpSettings(**values)


def status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://upstream.example/api")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


class Flaky:
    """An upstream stand-in: raises the queued failures in order, then returns ``result``."""

    def __init__(self, *failures: BaseException, result: object = "ok") -> None:
        self.failures = list(failures)
        self.result = result
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


async def resilient(fn, *, idempotent: bool = True, settings: HttpSettings | None = None, breaker=None):
    settings = settings or fast_settings()
    return await call_with_resilience(
        fn,
        system=SYSTEM,
        call=CALL,
        idempotent=idempotent,
        settings=settings,
        limiter=rate_limiter(settings),
        breaker=breaker or CircuitBreaker.from_settings(settings, system=SYSTEM),
    )


# --------------------------------------------------------------------------- errors and settings


def test_errors_name_the_system_and_the_call():
    error = UpstreamUnavailable("钱江分", "查询评分", "请求超时", status=503)
    assert str(error) == "钱江分接口查询评分：请求超时"
    assert (error.system, error.call, error.reason, error.status) == ("钱江分", "查询评分", "请求超时", 503)
    assert issubclass(CircuitOpen, UpstreamUnavailable)
    assert issubclass(ClockSkew, AuthenticationFailed)
    for cls in (UpstreamUnavailable, QuotaExceeded, AuthenticationFailed, BadResponse, RequestRejected):
        assert issubclass(cls, AdapterError)
    quota = pickle.loads(pickle.dumps(QuotaExceeded("大数据局", "查询", "超限", retry_after=2.5)))
    assert quota.retry_after == 2.5 and str(quota) == "大数据局接口查询：超限"


def test_http_settings_from_config_parses_and_validates():
    settings = HttpSettings.from_config(
        {"base_url": "https://api.example.gov.cn/", "read_timeout": "2.5", "burst": 3, "unrelated": "x"}
    )
    assert settings.base_url == "https://api.example.gov.cn"
    assert (settings.read_timeout, settings.burst, settings.retry_attempts) == (2.5, 3, 4)
    timeout = settings.timeout()
    assert (timeout.connect, timeout.read) == (3.0, 2.5)
    with raises_clean(ValueError, match="base_url"):
        HttpSettings.from_config({})
    with raises_clean(ValueError, match="http"):
        HttpSettings.from_config({"base_url": "ftp://x"})
    with raises_clean(ValueError, match="burst"):
        HttpSettings.from_config({"base_url": "http://x", "burst": "many"})
    with raises_clean(ValueError, match="rate_per_second"):
        HttpSettings(base_url="http://x", rate_per_second=0)


def test_retry_after_accepts_seconds_and_http_dates():
    now = dt.datetime(2024, 5, 1, 8, 0, 0, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=7), usegmt=True)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(later, now=now) == pytest.approx(7.0)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --------------------------------------------------------------------------- rate limiter


async def test_rate_limiter_allows_a_burst_then_spaces_callers_at_the_rate():
    limiter = rate_limiter(fast_settings(rate_per_second=20, burst=3))
    started = time.monotonic()
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic() - started)

    await asyncio.gather(*(one() for _ in range(13)))
    assert all(stamp < 0.05 for stamp in stamps[:3])  # the burst goes at once
    assert 0.45 <= stamps[-1] <= 0.9  # the other 10 at 20/s
    assert stamps == sorted(stamps)  # in arrival order


async def test_a_cancelled_waiter_does_not_use_a_call_of_the_rate():
    limiter = rate_limiter(fast_settings(rate_per_second=10, burst=1))
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    waiting.cancel()
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started < 0.15  # the next call waits one interval, not two


# --------------------------------------------------------------------------- circuit breaker


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_the_reset_time():
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, system="钱江分", clock=clock)
    for _ in range(2):
        breaker.record_failure(breaker.before_call())
    breaker.record_success(breaker.before_call())  # a success resets the count
    for _ in range(3):
        breaker.record_failure(breaker.before_call())
    assert breaker.state == "open"
    with raises_clean(CircuitOpen, match=r"钱江分接口查询评分：.*熔断"):
        breaker.before_call("查询评分")
    clock.now += 10
    assert breaker.state == "half_open"
    probe = breaker.before_call()  # the probe
    assert probe.probe
    with raises_clean(CircuitOpen, match="探测"):
        breaker.before_call()  # only one probe at a time
    breaker.record_failure(probe)
    assert breaker.state == "open"
    clock.now += 10
    breaker.record_success(breaker.before_call())
    assert breaker.state == "closed"
    breaker.before_call()


def test_only_the_probe_ticket_changes_a_half_open_breaker():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, system="钱江分", clock=clock)
    early = [breaker.before_call() for _ in range(3)]  # admitted while closed
    breaker.record_failure(breaker.before_call())
    assert breaker.state == "open"
    clock.now += 10
    probe = breaker.before_call()
    # calls admitted while closed end during the half-open phase: none of them frees the probe slot
    breaker.release(early[0])
    breaker.record_success(early[1])
    breaker.record_failure(early[2])
    assert breaker._state == CircuitBreaker.HALF_OPEN
    with raises_clean(CircuitOpen, match="探测"):
        breaker.before_call()
    breaker.release(probe)  # the probe itself ended without a verdict: the next caller may probe
    second = breaker.before_call()
    breaker.record_success(second)
    assert breaker.state == "closed"


async def test_half_open_admits_exactly_one_of_five_concurrent_callers():
    settings = fast_settings(retry_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=0.1)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    in_flight = 0
    most = 0

    def slow(seconds: float, error: BaseException | None = None):
        async def fn() -> str:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                await asyncio.sleep(seconds)
                if error is not None:
                    raise error
                return "ok"
            finally:
                in_flight -= 1

        return fn

    # long calls admitted while the breaker is closed (a verification batch, say)
    stale = [asyncio.create_task(resilient(slow(10), settings=settings, breaker=breaker)) for _ in range(5)]
    await asyncio.sleep(0.01)
    for _ in range(2):
        with raises_clean(UpstreamUnavailable):
            await resilient(slow(0, httpx.ConnectError("refused")), settings=settings, breaker=breaker)
    assert breaker.state == "open"
    await asyncio.sleep(0.12)
    assert breaker.state == "half_open"
    in_flight = most = 0
    callers = []
    for old in stale:  # five callers in the half-open phase, each followed by a stale call's cancellation
        callers.append(asyncio.create_task(resilient(slow(0.2), settings=settings, breaker=breaker)))
        await asyncio.sleep(0.005)
        old.cancel()
        await asyncio.sleep(0.005)
    results = await asyncio.gather(*callers, return_exceptions=True)
    await asyncio.gather(*stale, return_exceptions=True)
    assert sum(r == "ok" for r in results) == 1
    assert sum(isinstance(r, CircuitOpen) for r in results) == 4
    assert most == 1
    assert breaker.state == "closed"


# --------------------------------------------------------------------------- retry policy


async def test_transport_errors_are_retried_for_idempotent_calls():
    fn = Flaky(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"))
    assert await resilient(fn) == "ok"
    assert fn.calls == 3


async def test_non_idempotent_calls_are_never_retried():
    fn = Flaky(httpx.ReadTimeout("slow"))
    with raises_clean(UpstreamUnavailable, match="读取超时"):
        await resilient(fn, idempotent=False)
    assert fn.calls == 1


async def test_retryable_statuses_and_quota_are_retried_but_other_4xx_are_not():
    fn = Flaky(status_error(502), status_error(503), result=1)
    assert await resilient(fn) == 1
    fn = Flaky(QuotaExceeded(SYSTEM, CALL, "超限", retry_after=0.01), status_error(504), result=2)
    assert await resilient(fn) == 2
    for status, error in ((404, RequestRejected), (400, RequestRejected), (401, AuthenticationFailed)):
        fn = Flaky(status_error(status))
        with raises_clean(error):
            await resilient(fn)
        assert fn.calls == 1
    for error in (AuthenticationFailed(SYSTEM, CALL, "签名错误"), BadResponse(SYSTEM, CALL, "坏报文")):
        fn = Flaky(error)
        with raises_clean(type(error)):
            await resilient(fn)
        assert fn.calls == 1


async def test_retry_after_header_sets_the_wait_capped_by_the_maximum():
    fn = Flaky(status_error(429, {"Retry-After": "0.3"}))
    started = time.monotonic()
    await resilient(fn, settings=fast_settings(retry_max_delay=1.0))
    assert 0.28 <= time.monotonic() - started < 0.8
    fn = Flaky(status_error(503, {"Retry-After": "60"}))
    started = time.monotonic()
    await resilient(fn, settings=fast_settings(retry_max_delay=0.1))
    assert time.monotonic() - started < 1.0


async def test_exhausted_retries_surface_typed_errors():
    fn = Flaky(*[status_error(429, {"Retry-After": "0.01"})] * 3)
    with raises_clean(QuotaExceeded) as info:
        await resilient(fn)
    assert info.value.retry_after == pytest.approx(0.01)
    fn = Flaky(*[status_error(503)] * 3)
    with raises_clean(UpstreamUnavailable, match="HTTP 503（共尝试3次）") as unavailable:
        await resilient(fn)
    assert unavailable.value.status == 503
    assert "upstream.example" not in str(unavailable.value)  # URLs may carry signatures


async def test_breaker_opening_during_retries_reports_the_real_failure():
    settings = fast_settings(breaker_failure_threshold=2, retry_attempts=4)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    fn = Flaky(*[httpx.ConnectError("refused")] * 4)
    with raises_clean(UpstreamUnavailable, match=r"无法连接.*已触发熔断") as info:
        await resilient(fn, settings=settings, breaker=breaker)
    assert not isinstance(info.value, CircuitOpen)
    assert fn.calls == 2
    with raises_clean(CircuitOpen):
        await resilient(fn, settings=settings, breaker=breaker)
    assert fn.calls == 2


async def test_four_xx_answers_keep_the_breaker_closed():
    settings = fast_settings(breaker_failure_threshold=2)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    for _ in range(3):
        with raises_clean(RequestRejected):
            await resilient(Flaky(status_error(404)), settings=settings, breaker=breaker)
    assert breaker.state == "closed"


def _wait_state(attempt: int, exc: BaseException | None = None) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    if exc is not None:
        state.outcome = Future.construct(attempt, exc, True)
    return state


def test_backoff_is_fully_jittered_and_never_exceeds_the_cap():
    wait = RetryWait(initial=0.1, cap=0.5, rng=random.Random(7))
    failure = status_error(503)
    for attempt in (1, 2, 3, 4, 8, 30, 500):  # 4 and beyond: the exponential delay is past the cap
        samples = [wait(_wait_state(attempt, failure)) for _ in range(300)]
        assert all(0.0 <= s <= 0.5 for s in samples), attempt
        assert max(samples) - min(samples) > 0.5 * wait.ceiling(attempt), attempt  # real spread, every attempt
    assert wait.ceiling(1) == pytest.approx(0.1) and wait.ceiling(30) == 0.5
    low = [wait(_wait_state(30, failure)) for _ in range(300)]
    assert min(low) < 0.1  # full jitter: also short waits once capped, so retries do not bunch at the cap


def test_retry_after_wait_has_positive_jitter_and_respects_the_cap():
    wait = RetryWait(initial=0.1, cap=2.0, rng=random.Random(11))
    told = [wait(_wait_state(1, status_error(429, {"Retry-After": "1"}))) for _ in range(300)]
    assert all(1.0 <= s <= 2.0 for s in told)  # never before the upstream asked, never past the cap
    assert max(told) - min(told) > 0.02
    quota = [wait(_wait_state(1, QuotaExceeded(SYSTEM, CALL, "超限", retry_after=0))) for _ in range(300)]
    assert all(0.0 <= s <= 2.0 for s in quota) and max(quota) > 0
    beyond = [wait(_wait_state(1, status_error(503, {"Retry-After": "60"}))) for _ in range(300)]
    assert all(s <= 2.0 for s in beyond) and max(beyond) - min(beyond) > 0


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, "NaN", "inf", True, "soon", [], 10**400, Decimal("NaN"), Decimal("sNaN")]
)
def test_non_finite_or_odd_retry_after_values_are_ignored(bad):
    assert sanitize_delay(bad) is None
    error = QuotaExceeded(SYSTEM, CALL, "超限", retry_after=bad)
    assert error.retry_after is None
    wait = RetryWait(initial=0.1, cap=0.5)
    assert all(0.0 <= wait(_wait_state(2, error)) <= 0.5 for _ in range(50))


def test_negative_retry_after_counts_as_zero_and_headers_are_validated_alike():
    assert sanitize_delay(-5) == 0.0
    assert retry_after_from_body("2.5") == 2.5
    assert retry_after_from_body(Decimal("0.3")) == 0.3  # bodies parsed with parse_float=Decimal
    assert QuotaExceeded(SYSTEM, CALL, "超限", retry_after=-3).retry_after == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after("-3") == 0.0
    wait = RetryWait(initial=0.1, cap=0.5)
    for header in ("nan", "inf", "-1e9", "1e400"):
        assert 0.0 <= wait(_wait_state(1, status_error(429, {"Retry-After": header}))) <= 0.5


async def test_nan_retry_after_does_not_hang_the_retry_loop():
    fn = Flaky(*[QuotaExceeded(SYSTEM, CALL, "超限", retry_after=math.nan)] * 3)
    with raises_clean(QuotaExceeded):
        await asyncio.wait_for(resilient(fn), 3)
    assert fn.calls == 3


def test_upstream_text_masks_ids_secrets_control_characters_and_length():
    person = "330106198503121231"
    raw = f"身份证号{person}查询失败\nappSecret=sk-live-123 token: abc123 my-own-secret sfzh{person}" + "x" * 5000
    text = upstream_text(raw, secrets=[Secret("my-own-secret"), "another"])
    assert person not in text and "sfzh330106********1231" in text
    assert "sk-live-123" not in text and "abc123" not in text and "my-own-secret" not in text
    assert "\n" not in text
    assert len(text) <= 201
    assert upstream_text(["x", person]).count("*") == 8


def test_every_httpx_error_maps_to_a_typed_error():
    request = httpx.Request("GET", "http://upstream.example/api?sign=abc")
    decoding = _final_error(httpx.DecodingError("bad gzip", request=request), system=SYSTEM, call=CALL, attempts=1)
    assert isinstance(decoding, BadResponse) and "编码" in decoding.reason
    other = _final_error(httpx.TooManyRedirects("loop", request=request), system=SYSTEM, call=CALL, attempts=2)
    assert isinstance(other, UpstreamUnavailable) and "TooManyRedirects" in other.reason
    assert "upstream.example" not in str(other)


async def test_decoding_errors_are_bad_responses_counted_by_the_breaker():
    settings = fast_settings(breaker_failure_threshold=2)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    request = httpx.Request("GET", "http://upstream.example/api")
    fn = Flaky(httpx.DecodingError("bad gzip", request=request))
    with raises_clean(BadResponse, match="编码"):
        await resilient(fn, settings=settings, breaker=breaker)
    assert fn.calls == 1 and breaker.consecutive_failures == 1


def test_deeply_nested_json_is_a_bad_response():
    response = httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)
    with raises_clean(BadResponse, match="JSON"):
        parse_json(response, system=SYSTEM, call=CALL)


def test_http_settings_attempt_timeout_and_response_cap():
    settings = HttpSettings.from_config(
        {"base_url": "http://x", "connect_timeout": "2", "read_timeout": "3", "max_response_bytes": "1024"}
    )
    assert settings.effective_attempt_timeout == 5.0
    assert settings.max_response_bytes == 1024
    assert HttpSettings(base_url="http://x").max_response_bytes == 8 * 1024 * 1024
    assert HttpSettings.from_config({"base_url": "http://x", "attempt_timeout": "1.5"}).effective_attempt_timeout == 1.5
    with raises_clean(ValueError, match="attempt_timeout"):
        HttpSettings(base_url="http://x", attempt_timeout=0)
    with raises_clean(ValueError, match="max_response_bytes"):
        HttpSettings(base_url="http://x", max_response_bytes=0)
    with raises_clean(ValueError, match="retry_max_delay"):
        HttpSettings(base_url="http://x", retry_max_delay=math.nan)


async def test_retries_stop_at_the_total_time_limit_before_the_attempt_limit():
    fn = Flaky(*[status_error(503)] * 20)
    settings = fast_settings(retry_attempts=20, retry_initial_delay=0.1, retry_max_delay=0.1, retry_total_seconds=0.35)
    started = time.monotonic()
    with raises_clean(UpstreamUnavailable, match="HTTP 503"):
        await resilient(fn, settings=settings)
    assert time.monotonic() - started < 0.6
    assert 2 <= fn.calls < 20  # stopped by time, long before twenty attempts


def test_retry_total_seconds_is_a_setting():
    settings = HttpSettings.from_config({"base_url": "http://x", "retry_total_seconds": "12.5"})
    assert settings.retry_total_seconds == 12.5 and HttpSettings(base_url="http://x").retry_total_seconds == 30.0
    with raises_clean(ValueError, match="retry_total_seconds"):
        HttpSettings(base_url="http://x", retry_total_seconds=0)


# --------------------------------------------------------------------------- sync bridge (the registry's portal)


def test_registry_runs_coroutines_from_sync_code_and_propagates_errors():
    registry = AdapterRegistry(config=None)  # type: ignore[arg-type]
    try:

        async def add(a: int, b: int) -> int:
            await asyncio.sleep(0.001)
            return a + b

        async def fail() -> None:
            raise AuthenticationFailed(SYSTEM, CALL, "签名错误")

        async def loop_thread() -> int:
            return threading.get_ident()

        assert registry.run(add(1, 2)) == 3
        first = registry.run(loop_thread())
        assert registry.run(add(2, 2)) == 4 and registry.run(loop_thread()) == first  # one loop, reused
        assert first != threading.get_ident()
        with raises_clean(AuthenticationFailed):
            registry.run(fail())
        started = time.monotonic()
        with raises_clean(TimeoutError, match="已取消"):
            registry.run(asyncio.sleep(5), timeout=0.05)
        assert time.monotonic() - started < 1

        async def nested() -> None:
            registry.run(add(1, 1))

        with raises_clean(RuntimeError):
            registry.run(nested())  # from the loop's own thread: refused, not a deadlock
    finally:
        registry.close()


def test_closed_registry_is_final_and_says_so():
    registry = AdapterRegistry(config=None)  # type: ignore[arg-type]

    async def one() -> int:
        return 1

    assert registry.run(one()) == 1
    registry.close()
    assert registry.closed
    coro = one()
    with raises_clean(RuntimeError, match="适配器已关闭"):
        registry.run(coro)
    assert coro.cr_frame is None  # closed, not left un-awaited
    registry.close()  # idempotent
    never_used = AdapterRegistry(config=None)  # type: ignore[arg-type]
    never_used.close()
    with raises_clean(RuntimeError, match="适配器已关闭"):
        never_used.run(one())


def test_closing_a_registry_cancels_pending_calls():
    registry = AdapterRegistry(config=None)  # type: ignore[arg-type]
    events: list[str] = []
    outcome: list[BaseException] = []

    async def long_call() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            events.append("call cleaned up")

    def caller() -> None:
        try:
            registry.run(long_call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    registry.close()
    thread.join(5)
    assert time.monotonic() - started < 2
    assert events == ["call cleaned up"]
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError) and "已取消" in str(outcome[0])


def test_registry_closes_its_clients_on_their_loop(qianjiang_sim, fast_http):
    from anyio.from_thread import start_blocking_portal

    from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET

    def client() -> QianjiangClient:
        settings = QianjiangSettings(
            http=fast_http(qianjiang_sim.base_url), app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET)
        )
        return QianjiangClient(settings)

    person = "330106198503121231"
    own = AdapterRegistry(config=None, instances={"qianjiang": client()})  # type: ignore[arg-type]
    first = own.qianjiang
    own.run(first.score(person, "张三", "AUTH-1"), timeout=5)
    own.close()
    assert first._client.is_closed
    with start_blocking_portal() as portal:  # a portal the caller owns outlives the registry
        shared = AdapterRegistry(config=None, portal=portal, instances={"qianjiang": client()})  # type: ignore[arg-type]
        second = shared.qianjiang
        shared.run(second.score(person, "张三", "AUTH-1"), timeout=5)
        shared.close()
        assert second._client.is_closed
        assert portal.call(asyncio.sleep, 0, "still running") == "still running"


# --------------------------------------------------------------------------- simulator machinery


def test_fault_plan_counts_down_and_clears():
    plan = FaultPlan()
    plan.set("status_5xx", count=2, status=502)
    plan.set("latency", latency_ms=5)  # alias, until cleared
    assert plan.param("status_5xx", "status") == 502
    assert [plan.take("status_5xx") for _ in range(3)] == [True, True, False]
    assert all(plan.take("latency_ms") for _ in range(5))
    plan.clear("latency_ms")
    assert not plan.take("latency_ms")
    with raises_clean(ValueError, match="未知的故障类型"):
        plan.set("meteor")
    with raises_clean(ValueError, match="不支持参数"):
        plan.set("timeout", status=500)


def test_admin_routes_arm_faults_and_report_stats_over_http():
    state = SimulatorState()
    state.plan.record_call("score")
    server = SimulatorServer(Starlette(routes=admin_routes(state)), name="admin-test")
    with server, httpx.Client(base_url=server.start(), trust_env=False) as http:
        armed = http.post("/_admin/faults", json={"kind": "status_429", "count": 2, "retry_after": 1})
        assert armed.status_code == 200
        assert http.post("/_admin/faults", json={"kind": "nope"}).status_code == 400
        assert http.post("/_admin/faults", json={"kind": "timeout", "rate": 2}).status_code == 400
        stats = http.get("/_admin/stats").json()
        assert stats["calls"] == {"score": 1}
        assert stats["active_faults"]["status_429"]["remaining"] == 2
        assert http.delete("/_admin/faults").status_code == 200
    assert not state.plan.active("status_429")


def test_a_fault_with_a_rate_hits_about_that_share_of_requests_repeatably():
    def hits(seed: int) -> list[bool]:
        state = SimulatorState()
        state.rng.seed(seed)
        state.plan.set("status_5xx", rate=0.2)
        return [state.plan.take("status_5xx") for _ in range(2000)]

    first = hits(7)
    assert 0.17 <= sum(first) / len(first) <= 0.23
    assert hits(7) == first  # same seed, same draws
    plan = FaultPlan()
    plan.set("timeout", count=3, rate=0.5)
    assert sum(plan.take("timeout") for _ in range(200)) == 3  # a count bounds a rate


def test_start_all_serves_every_simulator_on_loopback():
    pytest.importorskip("soar_ext.adapters.simulators.bigdata")
    from soar_ext.adapters.simulators.serve_all import start_all

    servers = start_all()
    try:
        assert set(servers) == {"bigdata", "qianjiang", "survey", "docrepo"}
        with httpx.Client(trust_env=False, timeout=5) as http:
            for server in servers.values():
                assert server.base_url.startswith("http://127.0.0.1:")
                assert http.get(server.base_url + "/_admin/stats").status_code == 200
    finally:
        for server in servers.values():
            server.stop()
