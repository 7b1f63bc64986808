"""Client of the Hangzhou Citizen Card Qianjiang score (钱江分).

No public API exists; the protocol is the one our simulator implements (``docs/adapters.md``):
``POST /api/v1/credit/qjf/score`` with an HMAC-signed JSON body ``{idNumber, name, authRef}``.

Bands (upper bounds inclusive, so that "above 700" in the deposit-waiver policy and the
``700–750 优秀`` band agree): ``<550`` 较差, ``550–600`` 中等, ``600–700`` 良好,
``700–750`` 优秀, ``>750`` 极好.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from soar_ext.adapters.common import (
    AdapterError,
    AuthenticationFailed,
    BadResponse,
    CircuitBreaker,
    ClockSkew,
    HttpSettings,
    QuotaExceeded,
    RateLimiter,
    RequestRejected,
    build_async_client,
    call_with_resilience,
    parse_json,
    require_mapping,
    retry_after_from_body,
    secret_from_config,
    send_request,
    sign_request,
    upstream_text,
)
from soar_ext.idnumber import mask_id_number, normalize_id_number
from soar_ext.log_masking import get_logger
from soar_ext.secret import Secret

SYSTEM = "钱江分"
CALL_SCORE = "查询评分"
DEFAULT_SCORE_PATH = "/api/v1/credit/qjf/score"

log = get_logger(__name__)

# (inclusive upper bound, label); the last band has no upper bound
SCORE_BANDS: tuple[tuple[int | None, str], ...] = (
    (549, "较差"),
    (600, "中等"),
    (700, "良好"),
    (750, "优秀"),
    (None, "极好"),
)


def score_band(score: int) -> str:
    """Chinese band label of a score (``700`` → 良好, ``701`` → 优秀, ``751`` → 极好)."""
    for upper, label in SCORE_BANDS:
        if upper is None or score <= upper:
            return label
    raise AssertionError("unreachable")


class AuthorizationRejected(AdapterError):
    """The citizen's authorisation reference was refused (missing, revoked or expired)."""


@dataclass(frozen=True)
class QianjiangScore:
    """A person's score; ``id_number`` is kept for the audit record but never shown in ``repr``."""

    has_score: ClassVar[bool] = True

    id_number: str = field(repr=False)
    score: int
    band: str
    as_of: dt.date

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.id_number)


@dataclass(frozen=True)
class NoScore:
    """The person has no Qianjiang score (not scored, too young, not living or working in Hangzhou)."""

    has_score: ClassVar[bool] = False

    id_number: str = field(repr=False)
    reason: str = "无评分记录"

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.id_number)


@dataclass(frozen=True)
class QianjiangSettings:
    """Connection settings; config section ``[adapters.qianjiang]``."""

    http: HttpSettings
    app_id: str
    app_secret: Secret
    score_path: str = DEFAULT_SCORE_PATH

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> QianjiangSettings:
        app_id = str(section.get("app_id") or "").strip()
        if not app_id:
            raise ValueError("缺少钱江分配置项 app_id")
        return cls(
            http=HttpSettings.from_config(section),
            app_id=app_id,
            app_secret=secret_from_config(section, "app_secret", system=SYSTEM),
            score_path=str(section.get("score_path") or DEFAULT_SCORE_PATH),
        )


_AUTH_REASONS = {
    "4010": "签名校验失败，请检查应用密钥",
    "4011": "应用编号不存在",
    "4013": "应用密钥已过期，请更换密钥",
    "4014": "请求被判定为重复提交",
}


class QianjiangClient:
    """Async client; one per process (reuses its connection pool). Close with :meth:`aclose`."""

    def __init__(
        self,
        settings: QianjiangSettings,
        *,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter.from_settings(settings.http)
        self.breaker = breaker or CircuitBreaker.from_settings(settings.http, system=SYSTEM)
        self._clock = clock
        self._client = build_async_client(settings.http)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> QianjiangClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def score(self, id_number: str, name: str, auth_ref: str) -> QianjiangScore | NoScore:
        """Look up one person's score with the citizen's authorisation reference.

        Raises :class:`~soar_ext.idnumber.InvalidIdNumber` / :class:`ValueError` for bad input
        (nothing is sent), :class:`AuthorizationRejected` when the authorisation is refused,
        and the common :class:`~soar_ext.adapters.common.AdapterError` subclasses otherwise.
        """
        normalized = normalize_id_number(id_number)
        if not isinstance(name, str) or not name.strip():
            raise ValueError("姓名不能为空")
        if not isinstance(auth_ref, str) or not auth_ref.strip():
            raise ValueError("市民授权编号不能为空")
        body = json.dumps(
            {"authRef": auth_ref.strip(), "idNumber": normalized, "name": name.strip()},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")
        path = self.settings.score_path

        async def attempt() -> QianjiangScore | NoScore:
            request = self._client.build_request(
                "POST", path, content=body, headers={"Content-Type": "application/json; charset=utf-8"}
            )
            sign_request(
                request, app_id=self.settings.app_id, secret=self.settings.app_secret, body=body, clock=self._clock
            )
            response = await send_request(
                self._client, request, settings=self.settings.http, system=SYSTEM, call=CALL_SCORE
            )
            return self._parse(response, normalized)

        result = await call_with_resilience(
            attempt,
            system=SYSTEM,
            call=CALL_SCORE,
            idempotent=True,
            settings=self.settings.http,
            limiter=self.limiter,
            breaker=self.breaker,
        )
        if isinstance(result, QianjiangScore):
            log.info("钱江分查询：%s 评分%d（%s）", mask_id_number(normalized), result.score, result.band)
        else:
            log.info("钱江分查询：%s 无评分记录", mask_id_number(normalized))
        return result

    def _parse(self, response: httpx.Response, id_number: str) -> QianjiangScore | NoScore:
        status = response.status_code
        if status in (429,) or status >= 500:
            response.raise_for_status()
        envelope = require_mapping(parse_json(response, system=SYSTEM, call=CALL_SCORE), system=SYSTEM, call=CALL_SCORE)
        code = envelope.get("code")
        if not isinstance(code, str):
            raise BadResponse(SYSTEM, CALL_SCORE, "返回报文缺少 code")
        if code == "4012":
            raise ClockSkew(SYSTEM, CALL_SCORE, "请求时间超出允许范围，请校准服务器时钟")
        if code in _AUTH_REASONS or status in (401, 403):
            raise AuthenticationFailed(SYSTEM, CALL_SCORE, _AUTH_REASONS.get(code, f"认证失败（代码{code}）"))
        if code == "4290":
            raise QuotaExceeded(
                SYSTEM, CALL_SCORE, "调用量超过配额", retry_after=retry_after_from_body(envelope.get("retryAfter"))
            )
        if status >= 400:
            msg = envelope.get("msg")
            detail = upstream_text(msg, secrets=[self.settings.app_secret]) if msg else f"HTTP {status}"
            raise RequestRejected(SYSTEM, CALL_SCORE, f"请求被拒绝：{detail}", status=status)
        if code == "1001":
            return NoScore(id_number)
        if code == "1002":
            raise AuthorizationRejected(SYSTEM, CALL_SCORE, "市民授权无效或已过期，请重新取得授权")
        if code != "0":
            raise BadResponse(SYSTEM, CALL_SCORE, f"未知的返回代码{code}")
        return _parse_score(envelope.get("data"), id_number)


def _parse_score(data: Any, id_number: str) -> QianjiangScore:
    data = require_mapping(data, system=SYSTEM, call=CALL_SCORE, what="data")
    score = data.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 1000:
        raise BadResponse(SYSTEM, CALL_SCORE, "评分应为0到1000之间的整数")
    try:
        as_of = dt.date.fromisoformat(str(data.get("asOf")))
    except ValueError:
        raise BadResponse(SYSTEM, CALL_SCORE, "评分日期 asOf 格式错误") from None
    return QianjiangScore(id_number=id_number, score=score, band=score_band(score), as_of=as_of)
