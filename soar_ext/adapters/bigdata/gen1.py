"""Gen-1 Big Data gateway: md5-signed calls with short-lived request secrets.

``refreshTokenByKey.htm`` (signed with the app secret) issues a request secret (15 min) and a
refresh secret (48 h); ``refreshTokenBySec.htm`` (signed with the refresh secret) renews both.
Business calls are signed with the request secret; ``requestTime`` is the local clock in epoch
milliseconds, which the gateway accepts within a few minutes of its own (code ``"14"``
otherwise). When ``refreshTokenBySec`` is refused (code ``"11"``: the gateway no longer takes the
refresh secret, or ``"14"``) the client falls back to ``refreshTokenByKey``. The secrets live in a :class:`SecretCache`
that renews them shortly before they expire and after the gateway answers code ``"11"``, with
one refresh at a time however many callers find them stale: every caller awaits the same
renewal and gets its result or its exception, and a failed renewal is remembered briefly so a
burst of retrying callers does not hammer the token endpoint.

Business parameters (ID number, name) travel in a form body, never in the URL, so they do not
end up in access logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
from aiolimiter import AsyncLimiter

from soar_ext.adapters.bigdata.envelope import (
    SYSTEM,
    Envelope,
    RequestSecretExpired,
    parse_envelope,
    raise_for_code,
)
from soar_ext.adapters.bigdata.settings import BigDataSettings
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    CircuitOpen,
    RequestRejected,
    call_with_resilience,
    is_retryable_failure,
    note_shared_failure,
    send_request,
    take_shared_failure,
)
from soar_ext.log_masking import get_logger
from soar_ext.secret import Secret

log = get_logger(__name__)

CALL_BY_KEY = "获取请求密钥"
CALL_BY_SECRET = "刷新请求密钥"


def sign(app_key: str, secret: str, request_time: str) -> str:
    """Gen-1 signature: lowercase hex ``md5(appKey + secret + requestTime)``.

    ``secret`` is the app secret (refreshTokenByKey), the refresh secret (refreshTokenBySec) or
    the request secret (business calls); ``request_time`` is milliseconds since the epoch.
    """
    return hashlib.md5((app_key + secret + request_time).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Gen1Secrets:
    """A request/refresh secret pair with their expiry times (epoch seconds, local clock)."""

    request_secret: Secret
    request_expires_at: float
    refresh_secret: Secret
    refresh_expires_at: float


Renew = Callable[["Gen1Secrets | None"], Awaitable[Gen1Secrets]]


class SharedSecretStore(Protocol):
    """Where the nodes of one app keep the gen-1 secret pair (e.g. :mod:`soar_ext.gateway_secrets`).

    The gateway holds one pair per app and a renewal revokes the previous pair: nodes that each
    renewed their own would keep revoking one another (every request of the other node answered
    code 11). With a store, a node first looks there and renews only when the stored pair is the
    one that failed or is about to expire, one node at a time.
    """

    async def renew(
        self, previous: Gen1Secrets | None, renew: Renew, usable: Callable[[Gen1Secrets], bool]
    ) -> Gen1Secrets:
        """The stored pair if it is ``usable`` and not ``previous``; else ``renew(...)``'s, stored."""
        ...


class SecretCache:
    """Holds the current secrets; renewal is single flight.

    A secret counts as usable until ``margin`` seconds before it expires, so it is renewed
    shortly *before* the gateway would reject it. However many callers find the secrets stale
    at once, one renewal runs (an asyncio task): all of them await it and get its result or its
    exception; a caller that is cancelled does not cancel it for the others.

    A failed renewal is remembered for ``failure_memory`` seconds (real time), so that a burst
    of callers and their retries cannot start renewal after renewal: in that window a failure
    that no retry would fix (signature error, bad answer) is raised again at once, and a
    transient one (5xx, timeout, quota) makes the caller wait for the end of the window, after
    which one new renewal is shared by everybody waiting. At most one token request per window.

    Only the caller that started a renewal reports its failure to the circuit breaker; callers
    that joined it, or got a remembered failure, do not count it again (one failed request is one
    failure, however many callers waited for it).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        margin: float,
        failure_memory: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        store: SharedSecretStore | None = None,
    ) -> None:
        self._clock = clock
        self._store = store
        self._margin = margin
        self._failure_memory = failure_memory
        self._monotonic = monotonic
        self._current: Gen1Secrets | None = None
        self._renewal: asyncio.Task[Gen1Secrets] | None = None
        self._failure: tuple[Exception, float] | None = None

    @property
    def current(self) -> Gen1Secrets | None:
        return self._current

    def request_usable(self, secrets: Gen1Secrets | None) -> bool:
        return secrets is not None and secrets.request_expires_at - self._margin > self._clock()

    def refresh_usable(self, secrets: Gen1Secrets | None) -> bool:
        return secrets is not None and secrets.refresh_expires_at - self._margin > self._clock()

    async def get(self, renew: Renew) -> Gen1Secrets:
        """Usable secrets, renewing them first when they are missing or about to expire."""
        current = self._current
        if current is not None and self.request_usable(current):
            return current
        return await self._shared_renewal(current, renew)

    async def replace_rejected(self, rejected: Gen1Secrets, renew: Renew) -> Gen1Secrets:
        """Secrets to use after the gateway rejected ``rejected`` as expired.

        Callers rejected with the same secrets share one renewal; a caller that finds newer
        secrets already in place uses them.
        """
        current = self._current
        if current is not None and current is not rejected and self.request_usable(current):
            return current
        return await self._shared_renewal(current or rejected, renew)

    async def _shared_renewal(self, previous: Gen1Secrets | None, renew: Renew) -> Gen1Secrets:
        started = False
        while True:
            task = self._renewal
            if task is not None and not task.done():
                break
            current = self._current
            if current is not None and current is not previous and self.request_usable(current):
                return current  # renewed by someone else while this caller waited
            failure = self._failure
            if failure is not None:
                error, until = failure
                remaining = until - self._monotonic()
                if remaining > 0:
                    if not is_retryable_failure(error):
                        note_shared_failure()
                        raise error.with_traceback(None)
                    await asyncio.sleep(remaining)
                    continue
                self._failure = None
            task = self._renewal = asyncio.ensure_future(self._run(previous, renew))
            task.add_done_callback(_consume_outcome)
            started = True
            break
        try:
            # shield: a waiter that is cancelled (its own time limit, a verification budget) must
            # not cancel the renewal the other waiters are waiting for
            return await asyncio.shield(task)
        except Exception:
            if not started:
                note_shared_failure()
            raise

    async def _run(self, previous: Gen1Secrets | None, renew: Renew) -> Gen1Secrets:
        try:
            if self._store is None:
                secrets = await renew(previous)
            else:
                secrets = await self._store.renew(previous, renew, self.request_usable)
        except CircuitOpen:
            raise  # nothing was sent; the breaker itself keeps callers away
        except Exception as exc:
            self._failure = (exc, self._monotonic() + self._failure_memory)
            raise
        finally:
            self._renewal = None
        self._current = secrets
        self._failure = None
        return secrets

    def clear(self) -> None:
        self._current = None
        self._failure = None


def _consume_outcome(task: asyncio.Task[Gen1Secrets]) -> None:
    """Mark a renewal's exception as retrieved (every waiter may have gone away)."""
    if not task.cancelled():
        task.exception()


class Gen1Gateway:
    """Signed gen-1 calls over one shared ``httpx.AsyncClient``."""

    generation = 1

    def __init__(
        self,
        settings: BigDataSettings,
        http: httpx.AsyncClient,
        *,
        limiter: AsyncLimiter,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.time,
        secret_store: SharedSecretStore | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._limiter = limiter
        self._breaker = breaker
        self._clock = clock
        self.secrets = SecretCache(
            clock=clock,
            margin=settings.refresh_margin_seconds,
            failure_memory=settings.renewal_failure_memory_seconds,
            store=secret_store,
        )

    def _request_time(self) -> str:
        return str(int(self._clock() * 1000))

    async def fetch(self, interface_id: str, params: Mapping[str, str], *, call: str) -> Envelope:
        """One business call (an idempotent read) with retries, returning the success envelope."""

        # Secrets before the rate permit: callers admitted while a renewal runs would otherwise all
        # be sent at once when it ends (measured: 9 calls in 100 ms at 30 calls/s). A failed renewal
        # here is the first attempt's failure (retried and counted by the breaker like any other).
        renewal_failure: list[tuple[Exception, bool]] = []
        try:
            await self.secrets.get(self._renew)
        except Exception as exc:
            renewal_failure.append((exc, take_shared_failure()))

        async def attempt() -> Envelope:
            if renewal_failure:
                error, shared = renewal_failure.pop()
                if shared:  # another caller's renewal: the breaker counts it once, for that caller
                    note_shared_failure()
                raise error
            secrets = await self.secrets.get(self._renew)
            try:
                return await self._business(secrets, interface_id, params, call=call)
            except RequestSecretExpired:
                log.info("%s接口%s：请求密钥已过期，刷新后重试一次", SYSTEM, call)
            secrets = await self.secrets.replace_rejected(secrets, self._renew)
            await self._limiter.acquire()
            try:
                return await self._business(secrets, interface_id, params, call=call)
            except RequestSecretExpired as exc:
                raise AuthenticationFailed(
                    SYSTEM, call, "刷新请求密钥后网关仍提示已过期（code 11），请检查应用状态和服务器时钟"
                ) from exc

        return await call_with_resilience(
            attempt,
            system=SYSTEM,
            call=call,
            idempotent=True,
            settings=self._settings.http,
            limiter=self._limiter,
            breaker=self._breaker,
        )

    async def _business(
        self, secrets: Gen1Secrets, interface_id: str, params: Mapping[str, str], *, call: str
    ) -> Envelope:
        settings = self._settings
        request_time = self._request_time()
        form = {
            "appKey": settings.app_key,
            "requestTime": request_time,
            "sign": sign(settings.app_key, secrets.request_secret.reveal(), request_time),
            **params,
        }
        path = f"{settings.gen1_path}/api/{settings.org}/dataSharing/{interface_id}.htm"
        request = self._http.build_request("POST", path, data=form)
        response = await send_request(self._http, request, settings=settings.http, system=SYSTEM, call=call)
        response.raise_for_status()
        envelope = parse_envelope(response, call=call)
        raise_for_code(envelope, call=call, secrets=self._known_secrets(secrets))
        return envelope

    def _known_secrets(self, *pairs: Gen1Secrets | None) -> list[Secret]:
        """Every secret this client holds, to be scrubbed from upstream messages."""
        known = [self._settings.app_secret]
        for pair in (*pairs, self.secrets.current):
            if pair is not None:
                known += [pair.request_secret, pair.refresh_secret]
        return known

    async def _renew(self, previous: Gen1Secrets | None) -> Gen1Secrets:
        """New secrets: by refresh secret while it is valid, else (or if that fails) by app key.

        Runs on behalf of callers the breaker already admitted; it still checks that the breaker
        has not opened since (without taking the half-open probe slot from its own caller).
        """
        self._breaker.check(CALL_BY_SECRET if previous is not None else CALL_BY_KEY)
        if previous is not None and self.secrets.refresh_usable(previous):
            try:
                return await self._token_call("refreshTokenBySec.htm", previous.refresh_secret, call=CALL_BY_SECRET)
            except RequestSecretExpired:  # code 11 here: the refresh secret is no longer valid
                log.info("%s刷新密钥已失效（code 11），改用 appKey 重新获取", SYSTEM)
            except (AuthenticationFailed, RequestRejected) as exc:
                log.info("%s刷新密钥被拒绝（%s），改用 appKey 重新获取", SYSTEM, exc.reason)
        return await self._token_call("refreshTokenByKey.htm", self._settings.app_secret, call=CALL_BY_KEY)

    async def _token_call(self, endpoint: str, signing_secret: Secret, *, call: str) -> Gen1Secrets:
        settings = self._settings
        await self._limiter.acquire()
        request_time = self._request_time()
        params = {
            "appKey": settings.app_key,
            "requestTime": request_time,
            "sign": sign(settings.app_key, signing_secret.reveal(), request_time),
        }
        request = self._http.build_request("GET", f"{settings.gen1_path}/app/{endpoint}", params=params)
        response = await send_request(self._http, request, settings=settings.http, system=SYSTEM, call=call)
        response.raise_for_status()
        envelope = parse_envelope(response, call=call)
        raise_for_code(envelope, call=call, secrets=self._known_secrets())
        datas = envelope.datas
        if not isinstance(datas, Mapping):
            raise BadResponse(SYSTEM, call, "返回的 datas 应为包含密钥的对象")
        request_secret, refresh_secret = datas.get("requestSecret"), datas.get("refreshSecret")
        if not (isinstance(request_secret, str) and request_secret):
            raise BadResponse(SYSTEM, call, "返回报文缺少 requestSecret")
        if not (isinstance(refresh_secret, str) and refresh_secret):
            raise BadResponse(SYSTEM, call, "返回报文缺少 refreshSecret")
        now = self._clock()
        log.info("%s%s成功", SYSTEM, call)
        return Gen1Secrets(
            request_secret=Secret(request_secret),
            request_expires_at=self._expiry(
                datas.get("requestSecretEndTime"), now, settings.request_secret_ttl_seconds
            ),
            refresh_secret=Secret(refresh_secret),
            refresh_expires_at=self._expiry(
                datas.get("refreshSecretEndTime"), now, settings.refresh_secret_ttl_seconds
            ),
        )

    def _expiry(self, end_time_ms: object, now: float, ttl: float) -> float:
        """Expiry in local-clock seconds: the gateway's end time when plausible, else ``now + ttl``.

        An end time that is already (nearly) past or beyond the documented lifetime means the two
        clocks disagree; the documented lifetime is used then and code ``"11"`` covers the rest.
        """
        latest = now + ttl
        if isinstance(end_time_ms, int | float) and not isinstance(end_time_ms, bool):
            end = end_time_ms / 1000.0
            if now + self._settings.refresh_margin_seconds < end <= latest:
                return end
        return latest
