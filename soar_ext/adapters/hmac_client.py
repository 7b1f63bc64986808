"""The one HMAC-signed client base: Qianjiang score, surveying and document repository.

The three protocols sign every request alike (``docs/adapters.md``)::

    X-App-Id: <app id>    X-Timestamp: <ms since the epoch>    X-Nonce: <random, used once>
    X-Signature: hex(HMAC-SHA256(app_secret, canonical))
    canonical = METHOD \\n PATH \\n sorted query \\n app id \\n timestamp \\n nonce \\n hex(sha256(body))

and answer with one envelope ``{"code", "msg", "data"}``: ``"0"`` success; ``4010`` / ``4011`` /
``4013`` / ``4014`` authentication; ``4012`` request time; ``4290`` quota (optional
``retryAfter``); ``1004`` not found; any other code with an HTTP 4xx status a rejected request.
Signing is an ``httpx.Auth`` (:class:`HmacAuth`), so every attempt of a retried call is signed
afresh with the path and query actually sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from aiolimiter import AsyncLimiter

from soar_ext.adapters.common import (
    AdapterError,
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    ClockSkew,
    HttpSettings,
    QuotaExceeded,
    RequestRejected,
    build_async_client,
    call_with_resilience,
    canonical_query,
    parse_json,
    rate_limiter,
    require_mapping,
    retry_after_from_body,
    secret_from_config,
    send_request,
    upstream_text,
)
from soar_ext.secret import Secret

AUTH_REASONS = {
    "4010": "签名校验失败，请检查应用密钥",
    "4011": "应用编号不存在",
    "4013": "应用密钥已过期，请更换密钥",
    "4014": "请求被判定为重复提交",
}


def canonical_string(
    method: str,
    path: str,
    query: Mapping[str, str] | Iterable[tuple[str, str]],
    app_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    """The text the HMAC covers (see the module docstring)."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, canonical_query(query), app_id, timestamp, nonce, body_hash])


def signature(secret: str, canonical: str) -> str:
    """Lowercase hex ``HMAC-SHA256(secret, canonical)``."""
    return hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


class HmacAuth(httpx.Auth):
    """Signs each request with the four ``X-*`` headers (fresh timestamp and nonce every time)."""

    requires_request_body = True

    def __init__(
        self,
        app_id: str,
        secret: Secret,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(12),
    ) -> None:
        self.app_id = app_id
        self._secret = secret
        self._clock = clock
        self._nonce = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = str(int(self._clock() * 1000))
        nonce = self._nonce()
        canonical = canonical_string(
            request.method,
            request.url.path,  # the path sent, with any prefix of base_url
            request.url.params.multi_items(),
            self.app_id,
            timestamp,
            nonce,
            request.content,
        )
        request.headers["X-App-Id"] = self.app_id
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = signature(self._secret.reveal(), canonical)
        yield request


@dataclass(frozen=True)
class SignedSettings:
    """What every HMAC-signed adapter needs: transport settings, app id and secret."""

    http: HttpSettings
    app_id: str
    app_secret: Secret


def signed_fields(section: Mapping[str, object], *, system: str) -> dict[str, Any]:
    """``http``, ``app_id`` and ``app_secret`` from a config section (Chinese errors name the key)."""
    app_id = str(section.get("app_id") or "").strip()
    if not app_id:
        raise ValueError(f"缺少{system}配置项 app_id")
    return {
        "http": HttpSettings.from_config(section),
        "app_id": app_id,
        "app_secret": secret_from_config(section, "app_secret", system=system),
    }


class SignedClient:
    """Connection pool, rate limiter, circuit breaker and signing of one HMAC-signed adapter.

    Subclasses set :attr:`system` (the Chinese name used in errors and logs) and add their calls
    on top of :meth:`_request`. One instance per process; close it with :meth:`aclose`.
    """

    system: ClassVar[str] = "外部系统"

    def __init__(
        self,
        settings: SignedSettings,
        *,
        limiter: AsyncLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or rate_limiter(settings.http)
        self.breaker = breaker or CircuitBreaker.from_settings(settings.http, system=self.system)
        auth = HmacAuth(settings.app_id, settings.app_secret, clock=clock)
        self._client = build_async_client(settings.http, auth=auth)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> SignedClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        call: str,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: frozenset[str] = frozenset(),
        not_found: AdapterError | None = None,
        loads: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """One idempotent call with the shared retry policy; returns the envelope.

        ``accept`` names further codes the caller handles itself; ``not_found`` is raised for code
        ``1004`` or HTTP 404 (without it those are rejected requests); ``loads`` are extra
        ``json.loads`` arguments (``parse_float=Decimal``).
        """
        url = urllib.parse.quote(path, safe="/")

        async def attempt() -> Mapping[str, Any]:
            request = self._client.build_request(method, url, params=params, content=content, headers=headers)
            response = await send_request(
                self._client, request, settings=self.settings.http, system=self.system, call=call
            )
            return self._envelope(response, call, accept=accept, not_found=not_found, loads=loads or {})

        return await call_with_resilience(
            attempt,
            system=self.system,
            call=call,
            idempotent=True,
            settings=self.settings.http,
            limiter=self.limiter,
            breaker=self.breaker,
        )

    def _envelope(
        self,
        response: httpx.Response,
        call: str,
        *,
        accept: frozenset[str],
        not_found: AdapterError | None,
        loads: Mapping[str, Any],
    ) -> Mapping[str, Any]:
        system = self.system
        status = response.status_code
        if status == 429 or status >= 500:
            response.raise_for_status()  # retried by the policy, typed at the end
        envelope = require_mapping(parse_json(response, system=system, call=call, **loads), system=system, call=call)
        code = envelope.get("code")
        if not isinstance(code, str):
            raise BadResponse(system, call, "返回报文缺少 code")
        if code == "4012":
            raise ClockSkew(system, call, "请求时间超出允许范围，请校准服务器时钟")
        if code in AUTH_REASONS or status in (401, 403):
            raise AuthenticationFailed(system, call, AUTH_REASONS.get(code, f"认证失败（代码{code}）"))
        if code == "4290":
            raise QuotaExceeded(
                system, call, "调用量超过配额", retry_after=retry_after_from_body(envelope.get("retryAfter"))
            )
        if not_found is not None and (code == "1004" or status == 404):
            raise not_found
        if status >= 400:
            msg = envelope.get("msg")
            detail = upstream_text(msg, secrets=[self.settings.app_secret]) if msg else f"HTTP {status}"
            raise RequestRejected(system, call, f"请求被拒绝：{detail}", status=status)
        if code != "0" and code not in accept:
            raise BadResponse(system, call, f"未知的返回代码{code}")
        return envelope

    def _data(self, envelope: Mapping[str, Any], call: str) -> Mapping[str, Any]:
        """The envelope's ``data`` object (a :class:`BadResponse` when it is not one)."""
        return require_mapping(envelope.get("data"), system=self.system, call=call, what="data")
