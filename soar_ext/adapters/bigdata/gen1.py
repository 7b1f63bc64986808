"""Gen-1 Big Data gateway: md5-signed calls with short-lived request secrets.

``refreshTokenByKey.htm`` (signed with the app secret) issues a request secret (15 min) and a
refresh secret (48 h); ``refreshTokenBySec.htm`` (signed with the refresh secret) renews both.
Business calls are signed with the request secret. The secrets live in a :class:`SecretCache`
that renews them shortly before they expire and after the gateway answers code ``"11"``, with
one refresh at a time however many callers find them stale.

Business parameters (ID number, name) travel in a form body, never in the URL, so they do not
end up in access logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

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
    RateLimiter,
    RequestRejected,
    call_with_resilience,
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


class SecretCache:
    """Holds the current secrets; renewal is single-flight under an asyncio lock.

    A secret counts as usable until ``margin`` seconds before it expires, so it is renewed
    shortly *before* the gateway would reject it.
    """

    def __init__(self, *, clock: Callable[[], float], margin: float) -> None:
        self._clock = clock
        self._margin = margin
        self._current: Gen1Secrets | None = None
        self._lock = asyncio.Lock()

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
        async with self._lock:
            current = self._current
            if current is None or not self.request_usable(current):
                current = self._current = await renew(current)
            return current

    async def replace_rejected(self, rejected: Gen1Secrets, renew: Renew) -> Gen1Secrets:
        """Secrets to use after the gateway rejected ``rejected`` as expired.

        Callers that were rejected with the same secrets share one renewal: whoever gets the lock
        first renews, the others find newer secrets already in place.
        """
        async with self._lock:
            current = self._current
            if current is None or current is rejected:
                current = self._current = await renew(rejected)
            return current

    def clear(self) -> None:
        self._current = None


class Gen1Gateway:
    """Signed gen-1 calls over one shared ``httpx.AsyncClient``."""

    generation = 1

    def __init__(
        self,
        settings: BigDataSettings,
        http: httpx.AsyncClient,
        *,
        limiter: RateLimiter,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._http = http
        self._limiter = limiter
        self._breaker = breaker
        self._clock = clock
        self.secrets = SecretCache(clock=clock, margin=settings.refresh_margin_seconds)

    def _request_time(self) -> str:
        return str(int(self._clock() * 1000))

    async def fetch(self, interface_id: str, params: Mapping[str, str], *, call: str) -> Envelope:
        """One business call (an idempotent read) with retries, returning the success envelope."""

        async def attempt() -> Envelope:
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
        response = await self._http.post(path, data=form)
        response.raise_for_status()
        envelope = parse_envelope(response, call=call)
        raise_for_code(envelope, call=call)
        return envelope

    async def _renew(self, previous: Gen1Secrets | None) -> Gen1Secrets:
        """New secrets: by refresh secret while it is valid, else (or if that fails) by app key."""
        if previous is not None and self.secrets.refresh_usable(previous):
            try:
                return await self._token_call("refreshTokenBySec.htm", previous.refresh_secret, call=CALL_BY_SECRET)
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
        response = await self._http.get(f"{settings.gen1_path}/app/{endpoint}", params=params)
        response.raise_for_status()
        envelope = parse_envelope(response, call=call)
        raise_for_code(envelope, call=call)
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
