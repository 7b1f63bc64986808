"""The Big Data gateway's response envelope ``{"code", "msg", "datas", "dataCount"}``.

Both gateway generations answer business calls with this envelope. ``datas`` is sometimes a JSON
*string* holding the real payload; it is decoded once more here, so callers always get objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from soar_ext.adapters.common import (
    AuthenticationFailed,
    BadResponse,
    QuotaExceeded,
    RequestRejected,
    loads_text,
    parse_json,
    require_mapping,
    upstream_text,
)
from soar_ext.secret import Secret

SYSTEM = "大数据局"

CODE_OK = "00"
CODE_SECRET_EXPIRED = "11"
CODE_BAD_SIGNATURE = "14"
CODE_QUOTA = "18"


class RequestSecretExpired(AuthenticationFailed):
    """Gen-1 code ``"11"``: the request secret expired; the gateway client refreshes and retries once."""


@dataclass(frozen=True)
class Envelope:
    """A decoded envelope; ``datas`` is already parsed when the upstream sent it as a string."""

    code: str
    msg: str = field(repr=False)  # upstream text: may carry personal data
    datas: object = field(repr=False)
    data_count: int | None = None


def parse_envelope(response: httpx.Response, *, call: str) -> Envelope:
    """Decode the envelope of a 2xx response; raise :class:`BadResponse` when it is malformed."""
    body = require_mapping(parse_json(response, system=SYSTEM, call=call), system=SYSTEM, call=call)
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = f"{code:02d}"
    if not isinstance(code, str) or not code:
        raise BadResponse(SYSTEM, call, "返回报文缺少 code 字段")
    msg = body.get("msg")
    datas = body.get("datas")
    if isinstance(datas, str):
        datas = _parse_datas_string(datas, call=call)
    return Envelope(
        code=code,
        msg=msg if isinstance(msg, str) else "",
        datas=datas,
        data_count=_as_count(body.get("dataCount")),
    )


def _parse_datas_string(text: str, *, call: str) -> object:
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return loads_text(stripped)
    except ValueError:
        raise BadResponse(SYSTEM, call, f"datas 字段是字符串但不是有效的JSON（{len(text)}字符）") from None


def _as_count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value)
    return None


def raise_for_code(envelope: Envelope, *, call: str, secrets: Iterable[Secret | str | None] = ()) -> None:
    """Turn a non-success code into the matching typed error (``"00"`` returns quietly).

    ``"11"`` → :class:`RequestSecretExpired`, ``"14"`` → :class:`AuthenticationFailed`,
    ``"18"`` → :class:`QuotaExceeded` (retried with backoff), anything else →
    :class:`RequestRejected` carrying the gateway's own message — masked, cut to 200
    characters, with ``secrets`` (the client's own) and secret-looking values replaced by ``***``.
    """
    code = envelope.code
    if code == CODE_OK:
        return
    msg = upstream_text(envelope.msg, secrets=secrets)
    code = upstream_text(code, secrets=secrets, limit=20)
    if code == CODE_SECRET_EXPIRED:
        raise RequestSecretExpired(SYSTEM, call, f"请求密钥已过期（code 11：{msg}）")
    if code == CODE_BAD_SIGNATURE:
        advice = "请核对 app_key / app_secret 配置和服务器时钟"
        raise AuthenticationFailed(SYSTEM, call, f"签名校验失败（code 14：{msg}），{advice}")
    if code == CODE_QUOTA:
        raise QuotaExceeded(SYSTEM, call, f"调用次数超过配额（code 18：{msg}）")
    raise RequestRejected(SYSTEM, call, f"网关返回错误（code {code}：{msg or '无说明'}）")
