"""The shared adapter machinery: errors, settings, limiter, breaker, retry policy, sync runner, simulators."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import pickle
import threading
import time

import httpx
import pytest
from starlette.applications import Starlette

from soar_ext.adapters.common import (
    AdapterError,
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    ClockSkew,
    HttpSettings,
    QuotaExceeded,
    RateLimiter,
    RequestRejected,
    SyncRunner,
    UpstreamUnavailable,
    call_with_resilience,
    default_runner,
    hmac_canonical_string,
    hmac_signature,
    parse_retry_after,
)
from soar_ext.adapters.simulators.common import FaultPlan, HmacVerifier, SimulatorServer, fault_routes
from soar_ext.secret import Secret

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
        limiter=RateLimiter.from_settings(settings),
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
    with pytest.raises(ValueError, match="base_url"):
        HttpSettings.from_config({})
    with pytest.raises(ValueError, match="http"):
        HttpSettings.from_config({"base_url": "ftp://x"})
    with pytest.raises(ValueError, match="burst"):
        HttpSettings.from_config({"base_url": "http://x", "burst": "many"})
    with pytest.raises(ValueError, match="rate_per_second"):
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


def test_rate_limiter_allows_a_burst_then_refills_at_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.1
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    clock.now += 10
    assert sum(limiter.try_acquire() for _ in range(10)) == 3  # never more than the burst


async def test_rate_limiter_spaces_waiting_callers_at_the_rate():
    limiter = RateLimiter(rate=50, burst=1)
    started = time.monotonic()
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic() - started)

    await asyncio.gather(*(one() for _ in range(51)))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 1.4  # 1 immediate + 50 at 50/s
    assert stamps == sorted(stamps)


def test_rate_limiter_is_shared_safely_between_threads():
    limiter = RateLimiter(rate=100, burst=1)
    started = time.monotonic()

    def worker() -> None:
        for _ in range(10):
            asyncio.run(limiter.acquire())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0.35 <= time.monotonic() - started <= 0.9  # 40 tokens at 100/s, first one free


# --------------------------------------------------------------------------- circuit breaker


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_the_reset_time():
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, system="钱江分", clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match=r"钱江分接口查询评分：.*熔断"):
        breaker.before_call("查询评分")
    clock.now += 10
    assert breaker.state == "half_open"
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen, match="探测"):
        breaker.before_call()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 10
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


# --------------------------------------------------------------------------- retry policy


async def test_transport_errors_are_retried_for_idempotent_calls():
    fn = Flaky(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"))
    assert await resilient(fn) == "ok"
    assert fn.calls == 3


async def test_non_idempotent_calls_are_never_retried():
    fn = Flaky(httpx.ReadTimeout("slow"))
    with pytest.raises(UpstreamUnavailable, match="读取超时"):
        await resilient(fn, idempotent=False)
    assert fn.calls == 1


async def test_retryable_statuses_and_quota_are_retried_but_other_4xx_are_not():
    fn = Flaky(status_error(502), status_error(503), result=1)
    assert await resilient(fn) == 1
    fn = Flaky(QuotaExceeded(SYSTEM, CALL, "超限", retry_after=0.01), status_error(504), result=2)
    assert await resilient(fn) == 2
    for status, error in ((404, RequestRejected), (400, RequestRejected), (401, AuthenticationFailed)):
        fn = Flaky(status_error(status))
        with pytest.raises(error):
            await resilient(fn)
        assert fn.calls == 1
    for error in (AuthenticationFailed(SYSTEM, CALL, "签名错误"), BadResponse(SYSTEM, CALL, "坏报文")):
        fn = Flaky(error)
        with pytest.raises(type(error)):
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
    with pytest.raises(QuotaExceeded) as info:
        await resilient(fn)
    assert info.value.retry_after == pytest.approx(0.01)
    fn = Flaky(*[status_error(503)] * 3)
    with pytest.raises(UpstreamUnavailable, match="HTTP 503（共尝试3次）") as unavailable:
        await resilient(fn)
    assert unavailable.value.status == 503
    assert "upstream.example" not in str(unavailable.value)  # URLs may carry signatures


async def test_breaker_opening_during_retries_reports_the_real_failure():
    settings = fast_settings(breaker_failure_threshold=2, retry_attempts=4)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    fn = Flaky(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(UpstreamUnavailable, match=r"无法连接.*已触发熔断") as info:
        await resilient(fn, settings=settings, breaker=breaker)
    assert not isinstance(info.value, CircuitOpen)
    assert fn.calls == 2
    with pytest.raises(CircuitOpen):
        await resilient(fn, settings=settings, breaker=breaker)
    assert fn.calls == 2


async def test_four_xx_answers_keep_the_breaker_closed():
    settings = fast_settings(breaker_failure_threshold=2)
    breaker = CircuitBreaker.from_settings(settings, system=SYSTEM)
    for _ in range(3):
        with pytest.raises(RequestRejected):
            await resilient(Flaky(status_error(404)), settings=settings, breaker=breaker)
    assert breaker.state == "closed"


# --------------------------------------------------------------------------- sync runner


def test_sync_runner_runs_coroutines_and_propagates_errors():
    runner = SyncRunner()
    try:

        async def add(a: int, b: int) -> int:
            await asyncio.sleep(0.001)
            return a + b

        async def fail() -> None:
            raise AuthenticationFailed(SYSTEM, CALL, "签名错误")

        assert runner.run(add(1, 2)) == 3
        loop = runner.loop
        assert runner.run(add(2, 2)) == 4 and runner.loop is loop  # one loop, reused
        with pytest.raises(AuthenticationFailed):
            runner.run(fail())
        with pytest.raises(TimeoutError):
            runner.run(asyncio.sleep(5), timeout=0.05)

        async def nested() -> None:
            runner.run(add(1, 1))

        with pytest.raises(RuntimeError, match="自身的事件循环"):
            runner.run(nested())
    finally:
        runner.close()


def test_default_runner_is_one_per_process():
    assert default_runner() is default_runner()


# --------------------------------------------------------------------------- simulator machinery


def test_hmac_canonical_string_and_signature_are_stable():
    canonical = hmac_canonical_string(
        "post", "/api/x", {"b": "2", "a": "杭州"}, "app", "1714521600000", "n1", b'{"k":1}'
    )
    assert canonical.split("\n")[:6] == ["POST", "/api/x", "a=%E6%9D%AD%E5%B7%9E&b=2", "app", "1714521600000", "n1"]
    assert hmac_signature("s3cret", canonical) == hmac_signature("s3cret", canonical)
    assert len(hmac_signature("s3cret", canonical)) == 64


def test_hmac_verifier_rejects_bad_signatures_skew_and_replays():
    from soar_ext.adapters.common import hmac_headers

    clock = FakeClock(1_714_521_600.0)
    verifier = HmacVerifier({"app": "right-secret"}, skew_seconds=60, clock=clock)

    def headers(secret: str, at: float) -> dict[str, str]:
        signed = hmac_headers(
            app_id="app", secret=Secret(secret), method="GET", path="/p", query={"q": "1"}, clock=lambda: at
        )
        return {k.lower(): v for k, v in signed.items()}

    good = headers("right-secret", clock.now)
    assert verifier.verify("GET", "/p", [("q", "1")], good, b"") is None
    assert verifier.verify("GET", "/p", [("q", "1")], good, b"") == "replay"
    assert verifier.verify("GET", "/p", [("q", "2")], headers("right-secret", clock.now), b"") == "bad_signature"
    assert verifier.verify("GET", "/p", [("q", "1")], headers("wrong", clock.now), b"") == "bad_signature"
    assert verifier.verify("GET", "/p", [("q", "1")], headers("right-secret", clock.now - 120), b"") == "clock_skew"
    assert verifier.verify("GET", "/p", [], {}, b"") == "missing"


def test_fault_plan_counts_down_and_clears():
    plan = FaultPlan()
    plan.set("status_5xx", count=2, status=502)
    plan.set("latency", latency_ms=5)  # alias, until cleared
    assert plan.status_5xx == 502
    assert [plan.take("status_5xx") for _ in range(3)] == [True, True, False]
    assert all(plan.take("latency_ms") for _ in range(5))
    plan.clear("latency_ms")
    assert not plan.take("latency_ms")
    with pytest.raises(ValueError, match="未知的故障类型"):
        plan.set("meteor")
    with pytest.raises(ValueError, match="不支持参数"):
        plan.set("timeout", status=500)


def test_admin_routes_arm_faults_and_report_stats_over_http():
    plan = FaultPlan()
    plan.record_call("score")
    server = SimulatorServer(Starlette(routes=fault_routes(plan)), name="admin-test")
    with server, httpx.Client(base_url=server.start(), trust_env=False) as http:
        armed = http.post("/_admin/faults", json={"kind": "status_429", "count": 2, "retry_after": 1})
        assert armed.status_code == 200
        assert http.post("/_admin/faults", json={"kind": "nope"}).status_code == 400
        stats = http.get("/_admin/stats").json()
        assert stats["calls"] == {"score": 1}
        assert stats["active_faults"]["status_429"]["remaining"] == 2
        assert http.delete("/_admin/faults").status_code == 200
    assert not plan.active("status_429")


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
