"""Shared building blocks for every external-system adapter.

Typed errors, HTTP settings, a client-side rate limiter, a circuit breaker, the retry
policy (:func:`call_with_resilience`, built on tenacity) and a :class:`SyncRunner` that lets
synchronous screen hooks call the async adapters.

Error messages are staff-facing Chinese (``钱江分接口查询评分：请求超时``); they name the
system and the call but never a secret or a full ID number.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import email.utils
import hashlib
import hmac
import inspect
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from soar_ext.log_masking import get_logger, mask_logger
from soar_ext.secret import Secret

T = TypeVar("T")

log = get_logger(__name__)

#: HTTP statuses worth another attempt of an idempotent call.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


# --------------------------------------------------------------------------- errors


class AdapterError(Exception):
    """Base of every adapter error.

    ``system`` is the Chinese name of the external system (``钱江分``), ``call`` the Chinese
    name of the operation (``查询评分``), ``reason`` what went wrong.
    """

    def __init__(self, system: str, call: str, reason: str) -> None:
        self.system = system
        self.call = call
        self.reason = reason
        super().__init__(f"{system}接口{call}：{reason}")

    def __reduce__(self):  # keep pickling (e.g. across process pools) working with our signature
        return (self.__class__, (self.system, self.call, self.reason))


class UpstreamUnavailable(AdapterError):
    """Transport error, timeout or 5xx that persisted through the retries."""

    def __init__(self, system: str, call: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(system, call, reason)
        self.status = status

    def __reduce__(self):
        return (_rebuild_with_status, (self.__class__, self.system, self.call, self.reason, self.status))


class CircuitOpen(UpstreamUnavailable):
    """The circuit breaker is open: the call failed fast without reaching the upstream."""


class QuotaExceeded(AdapterError):
    """HTTP 429 or a protocol-level quota code that persisted through the retries."""

    def __init__(self, system: str, call: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(system, call, reason)
        self.retry_after = retry_after

    def __reduce__(self):
        return (_rebuild_quota, (self.__class__, self.system, self.call, self.reason, self.retry_after))


class AuthenticationFailed(AdapterError):
    """Bad key, bad signature or expired credentials that a refresh did not fix."""


class ClockSkew(AuthenticationFailed):
    """The upstream rejected the request time: the local clock is off."""


class BadResponse(AdapterError):
    """Malformed JSON, an unexpected envelope or wrongly typed fields."""


class RequestRejected(AdapterError):
    """The upstream rejected the request with a 4xx other than 401/403/429 (not retried)."""

    def __init__(self, system: str, call: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(system, call, reason)
        self.status = status

    def __reduce__(self):
        return (_rebuild_with_status, (self.__class__, self.system, self.call, self.reason, self.status))


def _rebuild_with_status(cls, system, call, reason, status):
    return cls(system, call, reason, status=status)


def _rebuild_quota(cls, system, call, reason, retry_after):
    return cls(system, call, reason, retry_after=retry_after)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class HttpSettings:
    """Transport and resilience settings shared by every adapter."""

    base_url: str
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    rate_per_second: float = 20.0  # client-side limiter; set to the upstream quota
    burst: int = 5
    retry_attempts: int = 4  # total attempts for idempotent calls
    retry_initial_delay: float = 0.2
    retry_max_delay: float = 5.0  # cap of backoff AND of an honoured Retry-After
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    max_connections: int = 50

    def __post_init__(self) -> None:
        if not self.base_url or not str(self.base_url).startswith(("http://", "https://")):
            raise ValueError(f"base_url 必须以 http:// 或 https:// 开头，实际为“{self.base_url}”")
        for name in ("connect_timeout", "read_timeout", "rate_per_second", "breaker_reset_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} 必须大于0")
        for name in ("burst", "retry_attempts", "breaker_failure_threshold", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} 必须至少为1")
        if self.retry_initial_delay < 0 or self.retry_max_delay < 0:
            raise ValueError("retry_initial_delay / retry_max_delay 不能为负数")

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> HttpSettings:
        """Build from a flat config section (lowercase keys); unknown keys are ignored."""
        if not section.get("base_url"):
            raise ValueError("缺少配置项 base_url")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in section or section[f.name] is None or section[f.name] == "":
                continue
            raw = section[f.name]
            try:
                if f.name == "base_url":
                    kwargs[f.name] = str(raw).rstrip("/")
                elif f.type in ("int", int):
                    kwargs[f.name] = int(raw)  # type: ignore[call-overload]
                else:
                    kwargs[f.name] = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"配置项 {f.name} 的值“{raw}”不是有效数字") from None
        return cls(**kwargs)

    def timeout(self) -> httpx.Timeout:
        """The explicit httpx timeout (write and pool waits use the read timeout)."""
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.read_timeout,
        )


def build_async_client(settings: HttpSettings, *, headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """One reusable ``httpx.AsyncClient`` for an adapter instance."""
    # httpx logs every request URL at INFO; gen-1 gateways carry ID numbers in the query string.
    mask_logger("httpx")
    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=settings.timeout(),
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        ),
        headers=dict(headers or {}),
        follow_redirects=False,
        trust_env=False,
    )


def secret_from_config(section: Mapping[str, object], key: str, *, system: str) -> Secret:
    """Read a required secret from a config section; plain strings are wrapped."""
    value = section.get(key)
    if isinstance(value, Secret):
        if not value:
            raise ValueError(f"{system}配置项 {key} 为空")
        return value
    if isinstance(value, str) and value:
        return Secret(value)
    raise ValueError(f"缺少{system}配置项 {key}（请通过环境变量或 {key}_file 提供）")


# --------------------------------------------------------------------------- rate limiter


class RateLimiter:
    """Async token bucket, safe to share between threads and event loops.

    ``acquire()`` reserves a token under a thread lock and then sleeps (outside the lock)
    until the token is due, so waiting callers are served in arrival order at ``rate``
    per second after an initial ``burst``.
    """

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError("rate 必须大于0")
        if burst < 1:
            raise ValueError("burst 必须至少为1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> RateLimiter:
        return cls(settings.rate_per_second, settings.burst)

    def _reserve(self) -> float:
        """Take one token (possibly going into debt) and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._updated = now
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate

    def _refund(self) -> None:
        with self._lock:
            self._tokens = min(float(self.burst), self._tokens + 1.0)

    async def acquire(self) -> None:
        """Wait until a call may be made."""
        delay = self._reserve()
        if delay <= 0:
            return
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._refund()
            raise

    def try_acquire(self) -> bool:
        """Take a token only if one is available now (never waits)."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._updated = now
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


# --------------------------------------------------------------------------- circuit breaker


class CircuitBreaker:
    """Consecutive-failure circuit breaker: ``closed`` → ``open`` → ``half_open`` → ``closed``.

    After ``failure_threshold`` consecutive failures the breaker opens and every call fails
    fast with :class:`CircuitOpen`. After ``reset_seconds`` one probe call is let through
    (``half_open``); its success closes the breaker, its failure opens it again.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        *,
        system: str = "外部系统",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold 必须至少为1")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.system = system
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @classmethod
    def from_settings(
        cls, settings: HttpSettings, *, system: str, clock: Callable[[], float] = time.monotonic
    ) -> CircuitBreaker:
        return cls(settings.breaker_failure_threshold, settings.breaker_reset_seconds, system=system, clock=clock)

    @property
    def state(self) -> str:
        """Current state; an open breaker whose reset time has passed reports ``half_open``."""
        with self._lock:
            if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_seconds:
                return self.HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self, call: str = "调用") -> None:
        """Raise :class:`CircuitOpen` unless a call may go out now."""
        with self._lock:
            if self._state == self.CLOSED:
                return
            now = self._clock()
            if self._state == self.OPEN:
                remaining = self.reset_seconds - (now - self._opened_at)
                if remaining > 0:
                    raise CircuitOpen(
                        self.system,
                        call,
                        f"连续失败{self._failures}次，已暂停调用（熔断中，约{math.ceil(remaining)}秒后重试）",
                    )
                self._state = self.HALF_OPEN
                self._probe_in_flight = False
            # half open: exactly one probe at a time
            if self._probe_in_flight:
                raise CircuitOpen(self.system, call, "熔断恢复探测进行中，已暂停其他调用")
            self._probe_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            if self._state != self.CLOSED:
                log.info("%s熔断器恢复（closed）", self.system)
            self._state = self.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probe_in_flight = False
            if self._state == self.HALF_OPEN or (
                self._state == self.CLOSED and self._failures >= self.failure_threshold
            ):
                if self._state == self.CLOSED:
                    log.warning("%s熔断器打开：连续失败%d次", self.system, self._failures)
                self._state = self.OPEN
                self._opened_at = self._clock()
            elif self._state == self.OPEN:
                self._opened_at = self._clock()

    def release(self) -> None:
        """End a call whose outcome says nothing about upstream health (frees a half-open probe)."""
        with self._lock:
            self._probe_in_flight = False

    def reset(self) -> None:
        with self._lock:
            self._state = self.CLOSED
            self._failures = 0
            self._probe_in_flight = False


# --------------------------------------------------------------------------- retry policy


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _retry_after_of(exc: BaseException) -> float | None:
    if isinstance(exc, QuotaExceeded):
        return exc.retry_after
    if isinstance(exc, httpx.HTTPStatusError):
        return parse_retry_after(exc.response.headers.get("Retry-After"))
    return None


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, httpx.TransportError | QuotaExceeded):
        return True
    if isinstance(exc, UpstreamUnavailable):  # an adapter's own "system busy" envelope code
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRYABLE_STATUSES
    return False


def _counts_as_upstream_failure(exc: BaseException) -> bool:
    """Failures that say the upstream is unhealthy (these feed the circuit breaker)."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, httpx.TransportError | UpstreamUnavailable | BadResponse):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return False


def _upstream_answered(exc: BaseException) -> bool:
    """The upstream answered properly but refused (quota, auth, 4xx): it is alive."""
    if isinstance(exc, QuotaExceeded | AuthenticationFailed | RequestRejected):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code < 500
    return isinstance(exc, AdapterError) and not isinstance(exc, UpstreamUnavailable | BadResponse)


_JITTER_PARAMS = frozenset(inspect.signature(wait_exponential_jitter.__init__).parameters)


class _WaitRetryAfterOrBackoff(wait_base):
    """Honour ``Retry-After`` (capped) when the failure carries one, else jittered exponential backoff."""

    def __init__(self, initial: float, cap: float) -> None:
        self.cap = cap
        # tenacity 9.2 renamed ``initial`` to ``multiplier``; support both
        first = "multiplier" if "multiplier" in _JITTER_PARAMS else "initial"
        self.backoff = wait_exponential_jitter(**{first: initial}, max=cap, jitter=initial)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if exc is not None:
            retry_after = _retry_after_of(exc)
            if retry_after is not None:
                return min(retry_after, self.cap)
        return min(self.backoff(retry_state), self.cap)


def _describe(exc: BaseException) -> str:
    """Short Chinese reason for a transport/status failure (no URLs: they may carry signatures)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "连接超时",
            httpx.ReadTimeout: "读取超时",
            httpx.WriteTimeout: "发送超时",
            httpx.PoolTimeout: "连接池等待超时",
        }.get(type(exc), "请求超时")
        return kind
    if isinstance(exc, httpx.ConnectError):
        return "无法连接到服务"
    if isinstance(exc, httpx.TransportError):
        return f"网络传输错误（{type(exc).__name__}）"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"服务返回HTTP {exc.response.status_code}"
    if isinstance(exc, AdapterError):
        return exc.reason
    return type(exc).__name__


def _final_error(exc: BaseException, *, system: str, call: str, attempts: int) -> BaseException:
    """Map the last failure to a typed :class:`AdapterError` (typed errors pass through)."""
    suffix = f"（共尝试{attempts}次）" if attempts > 1 else ""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnavailable(system, call, _describe(exc) + suffix)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status == 429:
            return QuotaExceeded(
                system,
                call,
                "调用频率或配额超限" + suffix,
                retry_after=parse_retry_after(exc.response.headers.get("Retry-After")),
            )
        if status >= 500:
            return UpstreamUnavailable(system, call, _describe(exc) + suffix, status=status)
        if status in (401, 403):
            return AuthenticationFailed(system, call, f"认证失败（HTTP {status}）")
        return RequestRejected(system, call, f"请求被拒绝（HTTP {status}）", status=status)
    return exc


async def call_with_resilience(
    fn: Callable[[], Awaitable[T]],
    *,
    system: str,
    call: str,
    idempotent: bool,
    settings: HttpSettings,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
) -> T:
    """Run ``fn`` (one complete HTTP attempt, including envelope parsing) with the shared policy.

    Each attempt checks the breaker, waits for the rate limiter and calls ``fn``. ``fn`` signals
    failures by raising ``httpx`` errors (``response.raise_for_status()``) or typed
    :class:`AdapterError` subclasses. Only idempotent calls are retried, and only on transport
    errors, timeouts, HTTP 429/502/503/504, :class:`QuotaExceeded` and
    :class:`UpstreamUnavailable` (never on other 4xx, :class:`AuthenticationFailed` or
    :class:`BadResponse`). ``fn`` must rebuild its request (fresh timestamp/signature) on each
    call. The final failure is raised as a typed error.
    """
    attempts = settings.retry_attempts if idempotent else 1
    attempt_no = 0
    sent = 0  # attempts that actually reached fn
    last_failure: BaseException | None = None

    async def attempt() -> T:
        nonlocal attempt_no, sent, last_failure
        attempt_no += 1
        breaker.before_call(call)
        try:
            await limiter.acquire()
        except BaseException:
            breaker.release()
            raise
        sent += 1
        try:
            result = await fn()
        except BaseException as exc:
            last_failure = exc
            if _counts_as_upstream_failure(exc):
                breaker.record_failure()
            elif _upstream_answered(exc):
                breaker.record_success()
            else:
                breaker.release()
            raise
        breaker.record_success()
        return result

    def before_sleep(retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "%s接口%s第%d次尝试失败（%s），%.2f秒后重试",
            system,
            call,
            retry_state.attempt_number,
            _describe(exc) if exc else "未知",
            retry_state.upcoming_sleep,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=_WaitRetryAfterOrBackoff(settings.retry_initial_delay, settings.retry_max_delay),
        retry=retry_if_exception(_is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except (httpx.HTTPError, AdapterError) as exc:
        if isinstance(exc, CircuitOpen) and last_failure is not None:
            # the breaker opened during this call's own retries: report what actually failed
            cause = _final_error(last_failure, system=system, call=call, attempts=sent)
            if isinstance(cause, UpstreamUnavailable) and not isinstance(cause, CircuitOpen):
                opened = UpstreamUnavailable(system, call, cause.reason + "，已触发熔断", status=cause.status)
                log.warning("%s接口%s失败：%s", system, call, opened.reason)
                raise opened from exc
        final = _final_error(exc, system=system, call=call, attempts=attempt_no)
        if final is exc:
            raise
        log.warning("%s接口%s失败：%s", system, call, final.reason if isinstance(final, AdapterError) else "")
        raise final from exc


# --------------------------------------------------------------------------- helpers for envelope parsing


def parse_json(response: httpx.Response, *, system: str, call: str, **loads_kwargs: Any) -> Any:
    """Decode a JSON body or raise :class:`BadResponse` (the body itself is never quoted)."""
    try:
        return json.loads(response.content, **loads_kwargs)
    except (ValueError, UnicodeDecodeError):
        size = len(response.content)
        reason = f"返回内容不是有效的JSON（HTTP {response.status_code}，{size}字节）"
        raise BadResponse(system, call, reason) from None


def require_mapping(value: object, *, system: str, call: str, what: str = "返回报文") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadResponse(system, call, f"{what}应为JSON对象，实际为{type(value).__name__}")
    return value


# --------------------------------------------------------------------------- HMAC request signing
# The scheme used by the Qianjiang, surveying and document-repository protocols:
# X-App-Id, X-Timestamp (ms), X-Nonce, X-Signature = hex(HMAC-SHA256(secret, canonical)), where
# canonical = METHOD \n PATH \n sorted-query \n app-id \n timestamp \n nonce \n hex(sha256(body)).

HMAC_HEADERS = ("X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature")


def canonical_query(params: Mapping[str, str] | list[tuple[str, str]]) -> str:
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    quote = urllib.parse.quote
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in sorted(items))


def hmac_canonical_string(
    method: str,
    path: str,
    query: Mapping[str, str] | list[tuple[str, str]],
    app_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    return "\n".join(
        [
            method.upper(),
            path,
            canonical_query(query),
            app_id,
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    )


def hmac_signature(secret: str, canonical: str) -> str:
    return hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_headers(
    *,
    app_id: str,
    secret: Secret,
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    body: bytes = b"",
    clock: Callable[[], float] = time.time,
) -> dict[str, str]:
    """Signed headers for one request (call once per attempt: timestamp and nonce are fresh)."""
    timestamp = str(int(clock() * 1000))
    nonce = hashlib.sha256(f"{timestamp}{time.perf_counter_ns()}{id(body)}".encode()).hexdigest()[:24]
    canonical = hmac_canonical_string(method, path, query or {}, app_id, timestamp, nonce, body)
    return {
        "X-App-Id": app_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": hmac_signature(secret.reveal(), canonical),
    }


# --------------------------------------------------------------------------- sync bridge


class SyncRunner:
    """One background event-loop thread (started lazily) for calling async adapters from sync code.

    An adapter instance's ``httpx.AsyncClient`` is bound to the loop it is first used on, so an
    adapter used through a runner must always be used through the same runner.
    """

    def __init__(self, name: str = "soar-ext-adapters") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and self._thread is not None and self._thread.is_alive():
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name=self._name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            return loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._ensure_loop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the background loop and return its result (exceptions propagate).

        On ``timeout`` the coroutine is cancelled and :class:`TimeoutError` is raised.
        """
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncRunner.run 不能在其自身的事件循环线程中调用")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"调用超过{timeout}秒未完成，已取消") from None

    def close(self) -> None:
        """Stop the loop thread (a later ``run`` starts a new one)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        if not loop.is_running():
            loop.close()


_default_runner: SyncRunner | None = None
_default_runner_lock = threading.Lock()


def default_runner() -> SyncRunner:
    """The process-wide :class:`SyncRunner`."""
    global _default_runner
    with _default_runner_lock:
        if _default_runner is None:
            _default_runner = SyncRunner()
        return _default_runner
