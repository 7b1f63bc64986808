"""Simulator of the Hangzhou Citizen Card Qianjiang score (钱江分) interface.

Protocol (see ``docs/adapters.md``)::

    POST /api/v1/credit/qjf/score
    X-App-Id, X-Timestamp (ms), X-Nonce, X-Signature (HMAC-SHA256, see .common)
    {"idNumber": "...", "name": "...", "authRef": "..."}

    200 {"code": "0",    "msg": "成功", "data": {"score": 712, "asOf": "2024-05-01"}}
    200 {"code": "1001", "msg": "无评分记录", "data": null}
    200 {"code": "1002", "msg": "市民授权无效或已过期", "data": null}
    200 {"code": "4290", "msg": "调用量超过配额", "retryAfter": 1}
    400 {"code": "4000", "msg": "参数错误：..."}
    401 {"code": "4010" | "4011" | "4012" | "4013" | "4014", "msg": ...}

Scores are deterministic by ID number (``sha256``): about 10% have no score, 40% score above
700, 5% exactly 700 and the rest below 700. ``state.set_score(id, score | None)`` or
``PUT /_admin/scores/{id}`` overrides one person. Per-subject counts: interface ``score``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from soar_ext.adapters.simulators.common import HmacSimState, hmac_envelope, hmac_guard, simulator_app
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.idnumber import InvalidIdNumber, normalize_id_number

SCORE_PATH = "/api/v1/credit/qjf/score"
DEFAULT_APP_ID = "soar-ext-sim"
DEFAULT_APP_SECRET = "qjf-simulator-secret"
INTERFACE = "score"

CODE_OK = "0"
CODE_NO_SCORE = "1001"
CODE_AUTH_REF_INVALID = "1002"
CODE_BAD_PARAM = "4000"


def simulated_score(id_number: str) -> int | None:
    """The deterministic score of an ID number (None: no score)."""
    digest = hashlib.sha256(id_number.upper().encode("ascii")).digest()
    bucket = int.from_bytes(digest[:2], "big") % 100
    spread = int.from_bytes(digest[2:4], "big")
    if bucket < 10:
        return None
    if bucket < 50:
        return 701 + spread % 150  # 701..850
    if bucket < 55:
        return 700
    return 430 + spread % 270  # 430..699


class QianjiangState(HmacSimState):
    """Mutable simulator state: credentials, overrides, quota, latency, faults and counters."""

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        as_of: dt.date | None = None,
        clock: Callable[[], float] = time.time,
        config: SimulatorConfig | None = None,
    ) -> None:
        super().__init__(credentials or {DEFAULT_APP_ID: DEFAULT_APP_SECRET}, clock=clock, config=config)
        self.as_of = as_of
        self._lock = threading.Lock()
        self._overrides: dict[str, int | None] = {}

    def set_score(self, id_number: str, score: int | None) -> None:
        """Override one person's score (None: no score)."""
        if score is not None and not 0 <= int(score) <= 1000:
            raise ValueError("钱江分应在0到1000之间")
        with self._lock:
            self._overrides[normalize_id_number(id_number)] = None if score is None else int(score)

    def clear_overrides(self) -> None:
        with self._lock:
            self._overrides.clear()

    def score_for(self, id_number: str) -> int | None:
        with self._lock:
            if id_number in self._overrides:
                return self._overrides[id_number]
        return simulated_score(id_number)

    def score_date(self) -> dt.date:
        return self.as_of or dt.date.today().replace(day=1)

    def reset(self) -> None:
        """Back to the deterministic data and the starting configuration (used between tests)."""
        self.clear_overrides()
        super().reset()


def create_app(
    state: QianjiangState | None = None,
    *,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    config: SimulatorConfig | None = None,
) -> Starlette:
    """The Qianjiang simulator app; ``app.state.sim`` is its :class:`QianjiangState`."""
    sim = state or QianjiangState({app_id: app_secret}, config=config)

    async def score(request: Request) -> Response:
        body = await request.body()
        refused = await hmac_guard(sim, request, INTERFACE, body, quota_retry_after=1)
        if refused is not None:
            return refused
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError
        except ValueError:
            return hmac_envelope(CODE_BAD_PARAM, "参数错误：请求体不是JSON对象", status=400)
        try:
            id_number = normalize_id_number(payload.get("idNumber"), "idNumber")
        except InvalidIdNumber as exc:
            return hmac_envelope(CODE_BAD_PARAM, f"参数错误：{exc}", status=400)
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            return hmac_envelope(CODE_BAD_PARAM, "参数错误：name 不能为空", status=400)
        auth_ref = payload.get("authRef")
        if not isinstance(auth_ref, str) or not auth_ref.strip() or auth_ref.startswith("REVOKED"):
            return hmac_envelope(CODE_AUTH_REF_INVALID, "市民授权无效或已过期")
        sim.subjects.add(id_number, INTERFACE)
        value = sim.score_for(id_number)
        if value is None:
            return hmac_envelope(CODE_NO_SCORE, "无评分记录")
        return hmac_envelope(CODE_OK, "成功", {"score": value, "asOf": sim.score_date().isoformat()})

    async def put_score(request: Request) -> Response:
        try:
            payload = await request.json()
            value = payload.get("score") if isinstance(payload, dict) else None
            sim.set_score(request.path_params["id_number"], value)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def delete_scores(request: Request) -> Response:
        sim.clear_overrides()
        return JSONResponse({"ok": True})

    return simulator_app(
        "qianjiang",
        sim,
        [
            Route(SCORE_PATH, score, methods=["POST"]),
            Route("/_admin/scores/{id_number}", put_score, methods=["PUT"]),
            Route("/_admin/scores", delete_scores, methods=["DELETE"]),
        ],
    )
