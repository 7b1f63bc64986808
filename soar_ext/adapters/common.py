"""Shared building blocks for every external-system adapter.

Typed errors, HTTP settings, the client-side rate limiter (aiolimiter), a circuit breaker and
the retry policy (:func:`call_with_resilience`, built on tenacity). Synchronous screen hooks
call the async adapters through :class:`~soar_ext.adapter_registry.AdapterRegistry` (an anyio
blocking portal).

Error messages are staff-facing Chinese (``钱江分接口查询评分：请求超时``); they name the
system and the call but never a secret or a full ID number.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import decimal
import email.utils
import json
import math
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_before_delay
from tenacity.wait import wait_base

from soar_ext.adapters.sharded_transport import ShardedTransport
from soar_ext.idnumber import mask_in_text
from soar_ext.log_masking import get_logger, mask_logger
from soar_ext.secret import Secret

T = TypeVar("T")

log = get_logger(__name__)

#: Default cap of a response body (decoded); a larger answer is a :class:`BadResponse`.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024

#: HTTP statuses worth another attempt of an idempotent call.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


# --------------------------------------------------------------------------- errors


class AdapterError(Exception):
    """Base of every adapter error.

    ``system`` is the Chinese name of the external system (``钱江分``), ``call`` the Chinese
    name of the operation (``查询评分``), ``reason`` what went wrong.
    """

    def __init__(self, system: str, call: str, reason: str) -> None:
        # defence in depth: reasons are built from our own text and already-masked upstream text,
        # but a full ID number must never reach a message whatever a caller passes in
        reason = mask_in_text(str(reason))
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
        self.retry_after = sanitize_delay(retry_after)

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
    retry_total_seconds: float = 30.0  # no retry starts later than this after the first attempt
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    max_connections: int = 50
    attempt_timeout: float | None = None  # wall-time cap of one attempt; None: connect + read timeout
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # larger answers are a BadResponse

    def __post_init__(self) -> None:
        if not self.base_url or not str(self.base_url).startswith(("http://", "https://")):
            raise ValueError(f"base_url 必须以 http:// 或 https:// 开头，实际为“{self.base_url}”")
        for name in ("connect_timeout", "read_timeout", "rate_per_second", "breaker_reset_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} 必须大于0")
        if not self.retry_total_seconds > 0:
            raise ValueError("retry_total_seconds 必须大于0")
        if self.attempt_timeout is not None and not self.attempt_timeout > 0:
            raise ValueError("attempt_timeout 必须大于0")
        for name in ("burst", "retry_attempts", "breaker_failure_threshold", "max_connections", "max_response_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} 必须至少为1")
        if not (self.retry_initial_delay >= 0 and self.retry_max_delay >= 0):  # also rejects NaN
            raise ValueError("retry_initial_delay / retry_max_delay 不能为负数或NaN")

    @property
    def effective_attempt_timeout(self) -> float:
        """The wall-time limit of one attempt: ``attempt_timeout``, else connect + read timeout."""
        if self.attempt_timeout is not None:
            return self.attempt_timeout
        return self.connect_timeout + self.read_timeout

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


def build_async_client(
    settings: HttpSettings, *, headers: Mapping[str, str] | None = None, auth: httpx.Auth | None = None
) -> httpx.AsyncClient:
    """One reusable ``httpx.AsyncClient`` for an adapter instance (``auth`` signs every request).

    Its ``max_connections`` are split over small pools (:class:`ShardedTransport`): a batch
    worker's 40 connections in one httpcore pool cost more CPU than the requests themselves.
    """
    # httpx logs every request URL at INFO; gen-1 gateways carry ID numbers in the query string.
    mask_logger("httpx")
    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=settings.timeout(),
        transport=ShardedTransport(settings.max_connections),
        headers=dict(headers or {}),
        auth=auth,
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


def rate_limiter(settings: HttpSettings) -> AsyncLimiter:
    """The client-side limiter of one adapter instance: ``rate_per_second`` after a ``burst``.

    aiolimiter's leaky bucket holds ``burst`` calls and drains at ``rate_per_second``; waiting
    callers are served in arrival order. Like the adapter's ``httpx.AsyncClient`` it belongs to
    the event loop it first runs on. A quota shared by several workers or nodes is not this
    limiter's job: it keeps one client instance under the rate it is given.
    """
    return AsyncLimiter(settings.burst, settings.burst / settings.rate_per_second)


# --------------------------------------------------------------------------- circuit breaker


class BreakerTicket:
    """What :meth:`CircuitBreaker.before_call` hands to an admitted call.

    The call gives it back with its outcome (``record_success`` / ``record_failure`` /
    ``release``). Only the ticket of the half-open probe can close or re-open a half-open
    breaker, so a call that was admitted while the breaker was still closed and ends (or is
    cancelled) during the half-open phase cannot free the probe slot for a second probe.
    """

    __slots__ = ("probe",)

    def __init__(self, *, probe: bool) -> None:
        self.probe = probe

    def __repr__(self) -> str:
        return f"BreakerTicket(probe={self.probe})"


class CircuitBreaker:
    """Consecutive-failure circuit breaker: ``closed`` → ``open`` → ``half_open`` → ``closed``.

    After ``failure_threshold`` consecutive failures the breaker opens and every call fails
    fast with :class:`CircuitOpen`. After ``reset_seconds`` exactly one probe call is let
    through (``half_open``); its success closes the breaker, its failure opens it again. Calls
    report their outcome with the :class:`BreakerTicket` they were admitted with.

    Why our own and not a library: the maintained Python breakers considered (pybreaker,
    aiobreaker, purgatory) lack a half-open state that admits exactly one probe among concurrent
    asyncio callers and fails the others fast, and none can tell the probe's outcome from that of
    a call admitted before the breaker opened (our :class:`BreakerTicket`); both matter when a
    verification batch has many calls in flight while an upstream recovers.
    Gen-1 secret renewal also needs :meth:`check`, a refusal that takes no probe slot.
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
        self._probe: BreakerTicket | None = None

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

    def _open_error(self, call: str, now: float) -> CircuitOpen | None:
        remaining = self.reset_seconds - (now - self._opened_at)
        if remaining <= 0:
            return None
        return CircuitOpen(
            self.system,
            call,
            f"连续失败{self._failures}次，已暂停调用（熔断中，约{math.ceil(remaining)}秒后重试）",
        )

    def before_call(self, call: str = "调用") -> BreakerTicket:
        """Admit a call and return its ticket, or raise :class:`CircuitOpen`."""
        with self._lock:
            if self._state == self.CLOSED:
                return BreakerTicket(probe=False)
            if self._state == self.OPEN:
                error = self._open_error(call, self._clock())
                if error is not None:
                    raise error
                self._state = self.HALF_OPEN
                self._probe = None
            # half open: exactly one probe at a time
            if self._probe is not None:
                raise CircuitOpen(self.system, call, "熔断恢复探测进行中，已暂停其他调用")
            self._probe = BreakerTicket(probe=True)
            return self._probe

    def check(self, call: str = "调用") -> None:
        """Raise :class:`CircuitOpen` while the breaker is open; admits nothing and takes no probe slot.

        For follow-up requests made on behalf of an already admitted call (such as renewing a
        credential): they must not go out while the breaker is open, but they must not compete
        with their own call for the single half-open probe either.
        """
        with self._lock:
            if self._state == self.OPEN:
                error = self._open_error(call, self._clock())
                if error is not None:
                    raise error

    def _is_probe(self, ticket: BreakerTicket | None) -> bool:
        return ticket is not None and ticket is self._probe

    def record_success(self, ticket: BreakerTicket | None) -> None:
        """The upstream answered the call admitted with ``ticket``."""
        with self._lock:
            if self._state == self.CLOSED:
                self._failures = 0
            elif self._is_probe(ticket):
                log.info("%s熔断器恢复（closed）", self.system)
                self._state = self.CLOSED
                self._failures = 0
                self._probe = None
            # else: a call admitted before the breaker opened says nothing about the probe

    def record_failure(self, ticket: BreakerTicket | None) -> None:
        """The call admitted with ``ticket`` failed in a way that says the upstream is unhealthy."""
        with self._lock:
            if self._state == self.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    log.warning("%s熔断器打开：连续失败%d次", self.system, self._failures)
                    self._state = self.OPEN
                    self._opened_at = self._clock()
            elif self._state == self.HALF_OPEN:
                if self._is_probe(ticket):
                    self._failures += 1
                    self._state = self.OPEN
                    self._opened_at = self._clock()
                    self._probe = None
            else:  # open: a late failure of a call admitted before it opened keeps it open longer
                self._failures += 1
                self._opened_at = self._clock()

    def release(self, ticket: BreakerTicket | None) -> None:
        """End a call whose outcome says nothing about upstream health (frees the probe slot if it held it)."""
        with self._lock:
            if self._is_probe(ticket):
                self._probe = None


# --------------------------------------------------------------------------- retry policy


def sanitize_delay(value: object) -> float | None:
    """A usable delay in seconds from an upstream-supplied value, or None.

    Accepts numbers (also ``Decimal``) and numeric text; NaN, infinities, booleans and anything else are ignored
    (None), negative values become 0. The caller still caps the result (``retry_max_delay``).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float | decimal.Decimal):
        return None
    try:
        seconds = float(value)
    except (OverflowError, ValueError):  # an int too large for a float, a signalling NaN
        return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


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
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return sanitize_delay(seconds)


def retry_after_from_body(value: object) -> float | None:
    """A ``retryAfter`` field of a response body, validated like the header (finite, not negative)."""
    return sanitize_delay(value)


def _retry_after_of(exc: BaseException) -> float | None:
    if isinstance(exc, QuotaExceeded):
        return sanitize_delay(exc.retry_after)
    if isinstance(exc, httpx.HTTPStatusError):
        return parse_retry_after(exc.response.headers.get("Retry-After"))
    return None


def is_retryable_failure(exc: BaseException) -> bool:
    """Whether an idempotent call that failed with ``exc`` is worth another attempt."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, httpx.TransportError | QuotaExceeded):
        return True
    if isinstance(exc, UpstreamUnavailable):  # an adapter's own "system busy" envelope code, an attempt timeout
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRYABLE_STATUSES
    return False


def _counts_as_upstream_failure(exc: BaseException) -> bool:
    """Failures that say the upstream is unhealthy (these feed the circuit breaker)."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    # any other httpx error: transport, timeout, undecodable body, protocol violations
    return isinstance(exc, httpx.HTTPError | UpstreamUnavailable | BadResponse)


def _upstream_answered(exc: BaseException) -> bool:
    """The upstream answered properly but refused (quota, auth, 4xx): it is alive."""
    if isinstance(exc, QuotaExceeded | AuthenticationFailed | RequestRejected):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code < 500
    return isinstance(exc, AdapterError) and not isinstance(exc, UpstreamUnavailable | BadResponse)


#: Jitter added to an honoured ``Retry-After``: up to this fraction of the delay ...
RETRY_AFTER_JITTER_FRACTION = 0.1
#: ... and at least up to this many seconds (so that ``Retry-After: 0`` is spread too), at most 1 s.
RETRY_AFTER_JITTER_MIN = 0.05


class RetryWait(wait_base):
    """The wait before the next attempt.

    * The failure carries a ``Retry-After`` (header, body field or quota error): wait that long
      plus a small positive jitter (up to 10 %, at least up to 50 ms), so that callers told the
      same time do not come back at the same instant. Never longer than ``cap``: a
      ``Retry-After`` beyond the cap is cut to the cap minus the jitter.
    * Otherwise "full jitter" exponential backoff: a random wait between 0 and
      ``min(cap, initial * 2**(attempt-1))`` — spread out also once the cap is reached.

    Upstream values that are not finite numbers are ignored; negative ones count as 0.
    """

    def __init__(self, initial: float, cap: float, *, rng: random.Random | None = None) -> None:
        self.initial = max(0.0, float(initial))
        self.cap = max(0.0, float(cap))
        self._rng = rng or random.Random()

    def ceiling(self, attempt_number: int) -> float:
        """The upper bound of the backoff after attempt ``attempt_number`` (1-based)."""
        exponent = min(max(attempt_number, 1) - 1, 64)  # no float overflow for absurd attempt counts
        return min(self.cap, self.initial * 2.0**exponent)

    def backoff(self, attempt_number: int) -> float:
        return self._rng.uniform(0.0, self.ceiling(attempt_number))

    def after_retry_after(self, retry_after: float) -> float:
        base = min(max(0.0, retry_after), self.cap)
        spread = min(max(RETRY_AFTER_JITTER_FRACTION * base, RETRY_AFTER_JITTER_MIN), 1.0)
        jitter = self._rng.uniform(0.0, spread)
        if retry_after < self.cap:
            return min(self.cap, base + jitter)  # still never earlier than the upstream asked
        return max(0.0, self.cap - jitter)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if exc is not None:
            retry_after = _retry_after_of(exc)
            if retry_after is not None:
                return self.after_retry_after(retry_after)
        return self.backoff(retry_state.attempt_number)


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
    if isinstance(exc, httpx.DecodingError):
        return "返回内容的压缩编码无效"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"服务返回HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return f"HTTP通信错误（{type(exc).__name__}）"
    if isinstance(exc, AdapterError):
        return exc.reason
    return type(exc).__name__


def _final_error(exc: BaseException, *, system: str, call: str, attempts: int) -> BaseException:
    """Map the last failure to a typed :class:`AdapterError` (typed errors pass through).

    Every ``httpx`` error becomes typed: transport errors and 5xx → :class:`UpstreamUnavailable`,
    429 → :class:`QuotaExceeded`, 401/403 → :class:`AuthenticationFailed`, other 4xx →
    :class:`RequestRejected`, an undecodable body (``httpx.DecodingError``) →
    :class:`BadResponse`, any other ``httpx.HTTPError`` → :class:`UpstreamUnavailable`.
    """
    suffix = f"（共尝试{attempts}次）" if attempts > 1 else ""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnavailable(system, call, _describe(exc) + suffix)
    if isinstance(exc, httpx.DecodingError):
        return BadResponse(system, call, _describe(exc))
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
    if isinstance(exc, httpx.HTTPError):
        return UpstreamUnavailable(system, call, _describe(exc) + suffix)
    return exc


_SHARED_FAILURE: contextvars.ContextVar[bool] = contextvars.ContextVar("soar_ext_shared_failure", default=False)


def note_shared_failure() -> None:
    """Say that the failure the current attempt is about to raise is not its own.

    For a failure another caller's request met (a shared credential renewal): that caller's
    attempt reports it to the circuit breaker once; the attempts that merely waited for the
    same outcome must not count it again, or one failed request would look like many.
    """
    _SHARED_FAILURE.set(True)


def take_shared_failure() -> bool:
    """Whether :func:`note_shared_failure` was said since the last look (and forget it)."""
    shared = _SHARED_FAILURE.get()
    _SHARED_FAILURE.set(False)
    return shared


def _attempt_timed_out(system: str, call: str, seconds: float) -> UpstreamUnavailable:
    return UpstreamUnavailable(system, call, f"单次请求超过{seconds:g}秒仍未完成")


async def call_with_resilience(
    fn: Callable[[], Awaitable[T]],
    *,
    system: str,
    call: str,
    idempotent: bool,
    settings: HttpSettings,
    limiter: AsyncLimiter,
    breaker: CircuitBreaker,
) -> T:
    """Run ``fn`` (one complete HTTP attempt, including envelope parsing) with the shared policy.

    Each attempt checks the breaker, waits for the rate limiter and calls ``fn`` under a
    wall-time limit (``settings.effective_attempt_timeout``; exceeding it is an
    :class:`UpstreamUnavailable`). ``fn`` signals failures by raising ``httpx`` errors
    (``response.raise_for_status()``) or typed :class:`AdapterError` subclasses. Only idempotent
    calls are retried, and only on transport errors, timeouts, HTTP 429/502/503/504,
    :class:`QuotaExceeded` and :class:`UpstreamUnavailable` (never on other 4xx,
    :class:`AuthenticationFailed` or :class:`BadResponse`), at most ``settings.retry_attempts``
    attempts and no retry that would start later than ``settings.retry_total_seconds`` after the
    first attempt began (so a call ends within that total plus one attempt's time limit). ``fn``
    must rebuild its request (fresh timestamp/signature) on each call. The final failure is
    raised as a typed error.
    """
    attempts = settings.retry_attempts if idempotent else 1
    attempt_timeout = settings.effective_attempt_timeout
    attempt_no = 0
    sent = 0  # attempts that actually reached fn
    last_failure: BaseException | None = None

    async def attempt() -> T:
        nonlocal attempt_no, sent, last_failure
        attempt_no += 1
        ticket = breaker.before_call(call)
        try:
            await limiter.acquire()
        except BaseException:
            breaker.release(ticket)
            raise
        sent += 1
        deadline = asyncio.timeout(attempt_timeout)
        shared = _SHARED_FAILURE.set(False)
        try:
            try:
                async with deadline:
                    result = await fn()
            except TimeoutError:
                if deadline.expired():
                    raise _attempt_timed_out(system, call, attempt_timeout) from None
                raise
        except BaseException as exc:
            last_failure = exc
            if _SHARED_FAILURE.get():
                breaker.release(ticket)  # already counted by the attempt whose request failed
            elif _counts_as_upstream_failure(exc):
                breaker.record_failure(ticket)
            elif _upstream_answered(exc):
                breaker.record_success(ticket)
            else:
                breaker.release(ticket)
            raise
        finally:
            _SHARED_FAILURE.reset(shared)
        breaker.record_success(ticket)
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
        stop=stop_after_attempt(attempts) | stop_before_delay(settings.retry_total_seconds),
        wait=RetryWait(settings.retry_initial_delay, settings.retry_max_delay),
        retry=retry_if_exception(is_retryable_failure),
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


# --------------------------------------------------------------------------- sending and reading


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size}字节"


_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


async def send_request(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    settings: HttpSettings,
    system: str,
    call: str,
) -> httpx.Response:
    """Send ``request`` and read its body under the attempt time limit and the size cap.

    The body is streamed and counted while it arrives (after content decoding), so an endless
    or huge answer cannot exhaust memory: more than ``settings.max_response_bytes`` (or a
    larger declared ``Content-Length``) is a :class:`BadResponse` ("返回报文过大"). An answer
    that takes longer than ``settings.effective_attempt_timeout`` in total (for instance one
    trickled a byte at a time, which no read timeout catches) is an
    :class:`UpstreamUnavailable`; an undecodable ``Content-Encoding`` is a :class:`BadResponse`.
    The returned response holds the decoded body in memory.
    """
    limit = settings.max_response_bytes
    seconds = settings.effective_attempt_timeout
    too_large = f"返回报文过大（超过{_size_text(limit)}上限）"
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            response = await client.send(request, stream=True)
            try:
                declared = response.headers.get("Content-Length", "").strip()
                if declared.isdigit() and int(declared) > limit:
                    raise BadResponse(system, call, too_large)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise BadResponse(system, call, too_large)
                    chunks.append(chunk)
            finally:
                await response.aclose()
    except TimeoutError:
        if deadline.expired():
            raise _attempt_timed_out(system, call, seconds) from None
        raise
    except httpx.DecodingError:
        raise BadResponse(system, call, "返回内容的压缩编码无效") from None
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=request)


# --------------------------------------------------------------------------- helpers for envelope parsing


def parse_json(response: httpx.Response, *, system: str, call: str, **loads_kwargs: Any) -> Any:
    """Decode a JSON body or raise :class:`BadResponse` (the body itself is never quoted).

    Nesting too deep for the decoder (``RecursionError``) is a malformed answer too.
    """
    try:
        return json.loads(response.content, **loads_kwargs)
    except (ValueError, UnicodeDecodeError, RecursionError):
        size = len(response.content)
        reason = f"返回内容不是有效的JSON（HTTP {response.status_code}，{size}字节）"
        raise BadResponse(system, call, reason) from None


def loads_text(text: str | bytes) -> Any:
    """``json.loads`` for nested payloads; too-deep nesting raises ``ValueError`` like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON嵌套层数过深") from None


#: Upstream text longer than this is cut before it goes into an error message or a log line.
UPSTREAM_TEXT_LIMIT = 200

_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b((?:[A-Za-z_][\w.-]*?)?(?:secret|password|passwd|pwd|token|sign(?:ature)?|key))"
    r"(\s*[=:]\s*|\"\s*:\s*\")([^\s,;&\"'}]+)"
)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")
_LOOSE_ID = re.compile(r"([0-9]{6})([0-9]{8})([0-9]{3}[0-9Xx])")


def upstream_text(
    value: object,
    *,
    secrets: Iterable[Secret | str | None] = (),
    limit: int = UPSTREAM_TEXT_LIMIT,
) -> str:
    """Make text an upstream sent us (an error ``msg``) safe to put into a message or a log.

    Known secrets (the client's own, passed in ``secrets``) are replaced by ``***``, as is the
    value of anything that looks like ``…secret=…`` / ``…token: …`` / ``sign=…``; every
    ID-number-shaped token is masked; control characters (line breaks) become spaces; the
    result is cut to ``limit`` characters.
    """
    text = value if isinstance(value, str) else str(value)
    text = text[: max(limit * 50, 10_000)]  # bound the work on absurd input before the regexes
    for secret in secrets:
        revealed = secret.reveal() if isinstance(secret, Secret) else secret
        if revealed and len(revealed) >= 4:
            text = text.replace(revealed, "***")
    text = _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + m.group(2) + "***", text)
    text = _CONTROL_CHARS.sub(" ", text)
    # stricter than mask_in_text: an ID glued to letters ("sfzh330106…") is masked too
    text = _LOOSE_ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


def require_mapping(value: object, *, system: str, call: str, what: str = "返回报文") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadResponse(system, call, f"{what}应为JSON对象，实际为{type(value).__name__}")
    return value


def canonical_query(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The query as both signing schemes sign it: ``k=v`` pairs sorted, RFC 3986 percent-encoded, ``&``-joined."""
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    quote = urllib.parse.quote
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in sorted(items))
