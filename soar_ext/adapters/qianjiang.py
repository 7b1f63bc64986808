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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from soar_ext.adapters.common import AdapterError, BadResponse, require_mapping
from soar_ext.adapters.hmac_client import SignedClient, SignedSettings, signed_fields
from soar_ext.idnumber import mask_id_number, normalize_id_number
from soar_ext.log_masking import get_logger

SYSTEM = "钱江分"
CALL_SCORE = "查询评分"
DEFAULT_SCORE_PATH = "/api/v1/credit/qjf/score"
CODE_NO_SCORE = "1001"
CODE_AUTH_REJECTED = "1002"

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
class QianjiangSettings(SignedSettings):
    """Connection settings; config section ``[adapters.qianjiang]``."""

    score_path: str = DEFAULT_SCORE_PATH

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> QianjiangSettings:
        return cls(
            **signed_fields(section, system=SYSTEM),
            score_path=str(section.get("score_path") or DEFAULT_SCORE_PATH),
        )


class QianjiangClient(SignedClient):
    """Async client; one per process (reuses its connection pool). Close with :meth:`aclose`."""

    system = SYSTEM
    settings: QianjiangSettings

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
        envelope = await self._request(
            "POST",
            self.settings.score_path,
            call=CALL_SCORE,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            accept=frozenset({CODE_NO_SCORE, CODE_AUTH_REJECTED}),
        )
        if envelope["code"] == CODE_NO_SCORE:
            log.info("钱江分查询：%s 无评分记录", mask_id_number(normalized))
            return NoScore(normalized)
        if envelope["code"] == CODE_AUTH_REJECTED:
            raise AuthorizationRejected(SYSTEM, CALL_SCORE, "市民授权无效或已过期，请重新取得授权")
        result = _parse_score(envelope.get("data"), normalized)
        log.info("钱江分查询：%s 评分%d（%s）", mask_id_number(normalized), result.score, result.band)
        return result


def _parse_score(data: object, id_number: str) -> QianjiangScore:
    data = require_mapping(data, system=SYSTEM, call=CALL_SCORE, what="data")
    score = data.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 1000:
        raise BadResponse(SYSTEM, CALL_SCORE, "评分应为0到1000之间的整数")
    try:
        as_of = dt.date.fromisoformat(str(data.get("asOf")))
    except ValueError:
        raise BadResponse(SYSTEM, CALL_SCORE, "评分日期 asOf 格式错误") from None
    return QianjiangScore(id_number=id_number, score=score, band=score_band(score), as_of=as_of)
