"""Gen-2 (IRS) Big Data gateway: every request carries an HMAC-SHA256 signature in headers.

``X-BG-HMAC-SIGNATURE = base64(HMAC-SHA256(secret, METHOD\\nPATH\\nsortedQuery\\nAK\\ndate\\n))``
with ``date`` the ``X-BG-DATE-TIME`` header (RFC 1123, GMT). The gateway accepts ±90 s of clock
difference and answers authentication problems with HTTP 401 and ``{"message": ...}``.

Business parameters travel in a JSON body (not signed by the scheme, protected by TLS), never in
the URL, so ID numbers do not end up in access logs.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

import httpx
from aiolimiter import AsyncLimiter

from soar_ext.adapters.bigdata.envelope import SYSTEM, Envelope, parse_envelope, raise_for_code
from soar_ext.adapters.bigdata.settings import BigDataSettings
from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    ClockSkew,
    call_with_resilience,
    canonical_query,
    parse_json,
    send_request,
    upstream_text,
)
from soar_ext.secret import Secret

ALGORITHM = "hmac-sha256"
HEADER_ACCESS_KEY = "X-BG-HMAC-ACCESS-KEY"
HEADER_ALGORITHM = "X-BG-HMAC-ALGORITHM"
HEADER_DATE = "X-BG-DATE-TIME"
HEADER_SIGNATURE = "X-BG-HMAC-SIGNATURE"
ALLOWED_SKEW_SECONDS = 90

MSG_INVALID_SIGNATURE = "Invalid signature"
MSG_INVALID_ACCESS_KEY = "Invalid access key"
MSG_CLOCK_SKEW = "Clock skew exceeded"


def http_date(timestamp: float) -> str:
    """RFC 1123 date in GMT, e.g. ``Tue, 05 Mar 2024 08:00:00 GMT``."""
    return email.utils.formatdate(timestamp, usegmt=True)


def string_to_sign(
    method: str, path: str, query: Mapping[str, str] | list[tuple[str, str]], access_key: str, date: str
) -> str:
    """``METHOD\\nPATH\\nsortedQuery\\nAK\\ndate\\n`` (query sorted by key, percent-encoded)."""
    return f"{method.upper()}\n{path}\n{canonical_query(query)}\n{access_key}\n{date}\n"


def signature(secret: str, text: str) -> str:
    """``base64(HMAC-SHA256(secret, text))``."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    *,
    access_key: str,
    secret: Secret,
    method: str,
    path: str,
    query: Mapping[str, str] | list[tuple[str, str]],
    date: str,
) -> dict[str, str]:
    """The four ``X-BG-*`` headers for one request."""
    text = string_to_sign(method, path, query, access_key, date)
    return {
        HEADER_ACCESS_KEY: access_key,
        HEADER_ALGORITHM: ALGORITHM,
        HEADER_DATE: date,
        HEADER_SIGNATURE: signature(secret.reveal(), text),
    }


class Gen2Gateway:
    """Signed gen-2 calls over one shared ``httpx.AsyncClient``."""

    generation = 2

    def __init__(
        self,
        settings: BigDataSettings,
        http: httpx.AsyncClient,
        *,
        limiter: AsyncLimiter,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._http = http
        self._limiter = limiter
        self._breaker = breaker
        self._clock = clock

    async def fetch(self, interface_id: str, params: Mapping[str, str], *, call: str) -> Envelope:
        """One business call (an idempotent read) with retries, returning the success envelope."""

        async def attempt() -> Envelope:
            request = self._http.build_request("POST", f"{self._settings.gen2_path}/{interface_id}", json=dict(params))
            sent_at = self._clock()
            request.headers.update(
                signed_headers(
                    access_key=self._settings.app_key,
                    secret=self._settings.app_secret,
                    method=request.method,
                    path=request.url.path,
                    query=list(request.url.params.multi_items()),
                    date=http_date(sent_at),
                )
            )
            response = await send_request(self._http, request, settings=self._settings.http, system=SYSTEM, call=call)
            secrets = (self._settings.app_secret,)
            if response.status_code == 401:
                raise _authentication_error(response, sent_at=sent_at, call=call, secrets=secrets)
            response.raise_for_status()
            envelope = parse_envelope(response, call=call)
            raise_for_code(envelope, call=call, secrets=secrets)
            return envelope

        return await call_with_resilience(
            attempt,
            system=SYSTEM,
            call=call,
            idempotent=True,
            settings=self._settings.http,
            limiter=self._limiter,
            breaker=self._breaker,
        )


def _authentication_error(
    response: httpx.Response, *, sent_at: float, call: str, secrets: tuple[Secret, ...] = ()
) -> AuthenticationFailed:
    """A clear, typed error for a 401 answer (an unknown message is masked and cut to 200 characters)."""
    try:
        body = parse_json(response, system=SYSTEM, call=call)
    except BadResponse:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if message == MSG_CLOCK_SKEW:
        offset = _clock_offset(response, sent_at)
        detail = (
            f"本机时钟与网关相差约{abs(offset):.0f}秒（本机{'偏快' if offset > 0 else '偏慢'}）"
            if offset is not None
            else "本机时钟与网关时间相差过大"
        )
        return ClockSkew(
            SYSTEM,
            call,
            f"网关拒绝请求时间（Clock skew exceeded）：{detail}，允许误差±{ALLOWED_SKEW_SECONDS}秒，"
            "请校准服务器时间（NTP）",
        )
    if message == MSG_INVALID_SIGNATURE:
        return AuthenticationFailed(SYSTEM, call, "签名无效（Invalid signature），请核对 app_secret 配置")
    if message == MSG_INVALID_ACCESS_KEY:
        return AuthenticationFailed(SYSTEM, call, "访问密钥无效（Invalid access key），请核对 app_key 配置")
    detail = upstream_text(message, secrets=secrets) if message else "无说明"
    return AuthenticationFailed(SYSTEM, call, f"认证失败（HTTP 401：{detail}）")


def _clock_offset(response: httpx.Response, sent_at: float) -> float | None:
    """Local clock minus the gateway's (from its ``Date`` header); ``None`` when unknown."""
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if server is None or server.tzinfo is None:
        return None
    return sent_at - server.timestamp()
