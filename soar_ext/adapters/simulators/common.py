"""Shared simulator machinery: conditions (quota, latency, faults), counters, admin routes, a loopback server.

Every simulator state is a :class:`SimulatorState`: a :class:`FaultPlan`, a per-app
:class:`Quota`, a :class:`Latency` and :class:`SubjectCounts`, configured from a
:class:`~.config.SimulatorConfig` (command line, TOML file or Python). Transport faults answer in
the protocol's own error shape (an :data:`ErrorBody` each simulator passes in).

Fault kinds (:meth:`FaultPlan.set`, ``POST /_admin/faults``, or a rate in the configuration):

==================  ==============================================================
``latency_ms``      delay the answer by ``latency_ms`` (default 200)
``status_5xx``      answer with HTTP ``status`` (default 503), protocol error body
``timeout``         sleep ``seconds`` (default 5, longer than any client timeout), then 504
``status_429``      answer HTTP 429 with ``Retry-After: retry_after`` (default 1)
``quota``           the protocol's own quota-exceeded answer; ``retry_after`` sets the body's
                    ``retryAfter`` where the protocol has one
``malformed``       HTTP 200 with a body that is not valid JSON
``expire_secret``   the protocol's "credentials expired" answer
``bad_signature``   reject the signature even when it is right
``trickle``         HTTP 200 whose body arrives one byte every ``interval`` seconds
                    (default 0.1) for ``chunks`` bytes (default 100): no read timeout fires
``oversize``        HTTP 200 with a ``bytes``-long body (default 16 MiB), with a
                    ``Content-Length`` or, with ``chunked: true``, streamed without one
``deep_json``       HTTP 200 with JSON nested ``depth`` levels deep (default 100000)
``bad_encoding``    HTTP 200 declaring ``Content-Encoding: gzip`` over a body that is not gzip
``raw_body``        answer HTTP ``status`` (default 200) with exactly ``body`` (text) and
                    ``headers``: NaN fields, crafted error messages, anything else
==================  ==============================================================

A fault fires with probability ``rate`` (default 1: every request) for at most ``count``
requests (default: until cleared). Random draws (rates, latency) come from one seeded
generator, so a run with the same seed and the same requests is repeatable.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import math
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from soar_ext.adapters.simulators.config import FAULT_KINDS, FaultSpec, SimulatorConfig, fault_kind


@dataclass
class _Armed:
    remaining: int | None
    rate: float
    params: dict[str, Any]


class FaultPlan:
    """Faults to inject and call counters of one simulator; thread-safe."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, _Armed] = {}
        self._last: dict[str, dict[str, Any]] = {}  # parameters as last armed: read after the last take
        self._calls: collections.Counter[str] = collections.Counter()
        self._injected: collections.Counter[str] = collections.Counter()
        self.rng = rng or random.Random()

    def set(self, kind: str, count: int | None = None, *, rate: float = 1.0, **params: Any) -> None:
        """Arm a fault: with probability ``rate`` per request, for ``count`` injections (``None``: until cleared)."""
        self.arm(FaultSpec(kind, rate, count, params))

    def arm(self, fault: FaultSpec) -> None:
        with self._lock:
            params = {**FAULT_KINDS[fault.kind], **fault.params}
            self._armed[fault.kind] = _Armed(fault.count, float(fault.rate), params)
            self._last[fault.kind] = params

    def clear(self, kind: str | None = None) -> None:
        """Disarm one fault kind, or all of them."""
        with self._lock:
            if kind is None:
                self._armed.clear()
            else:
                self._armed.pop(fault_kind(kind), None)

    def take(self, kind: str) -> bool:
        """True when ``kind`` must be injected into the current request (consumes one occurrence)."""
        kind = fault_kind(kind)
        with self._lock:
            armed = self._armed.get(kind)
            if armed is None or (armed.rate < 1 and self.rng.random() >= armed.rate):
                return False
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    del self._armed[kind]
            self._injected[kind] += 1
            return True

    def active(self, kind: str) -> bool:
        with self._lock:
            return fault_kind(kind) in self._armed

    def param(self, kind: str, name: str) -> Any:
        """A parameter of the fault as last armed (its default when never armed)."""
        kind = fault_kind(kind)
        with self._lock:
            return self._last.get(kind, FAULT_KINDS[kind]).get(name, FAULT_KINDS[kind].get(name))

    def record_call(self, name: str) -> None:
        with self._lock:
            self._calls[name] += 1

    def calls(self, name: str | None = None) -> int:
        with self._lock:
            return sum(self._calls.values()) if name is None else self._calls[name]

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.clear()
            self._injected.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "total_calls": sum(self._calls.values()),
                "faults_injected": dict(self._injected),
                "active_faults": {
                    k: {"remaining": a.remaining, "rate": a.rate, **a.params} for k, a in self._armed.items()
                },
            }


class Quota:
    """A per-app quota in calls per second (token bucket, burst one second's worth); ``None``: unlimited.

    Metered in real time (the platform counts calls, not the simulated date).
    """

    def __init__(self, per_second: float | None = None) -> None:
        self._lock = threading.Lock()
        self.set(per_second)

    def set(self, per_second: float | None) -> None:
        if per_second is not None and not per_second > 0:
            raise ValueError(f"配额 quota_per_second 应大于0（或留空表示不限），实际为{per_second}")
        with self._lock:
            self.per_second = per_second
            self._tokens = max(1.0, per_second or 1.0)
            self._at = time.monotonic()

    def take(self) -> float | None:
        """Charge one call: ``None`` when allowed, else the seconds until the next one is."""
        with self._lock:
            rate = self.per_second
            if not rate:
                return None
            now = time.monotonic()
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._at) * rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / rate


class Latency:
    """Configured response latency: a range in ms for every answer, or per interface (category)."""

    def __init__(self, rng: random.Random) -> None:
        self._lock = threading.Lock()
        self._rng = rng
        self.default: tuple[float, float] | None = None
        self.per_key: dict[str, tuple[float, float]] = {}

    def set(self, default: tuple[float, float] | None, per_key: Mapping[str, tuple[float, float]]) -> None:
        with self._lock:
            self.default = default
            self.per_key = dict(per_key)

    def seconds(self, key: str | None = None) -> float:
        """A delay drawn uniformly from the range of ``key`` (else the default range); 0 without one."""
        with self._lock:
            span = self.per_key.get(key, self.default) if key is not None else self.default
            if span is None:
                return 0.0
            return self._rng.uniform(*span) / 1000.0


class SubjectCounts:
    """Requests answered with a subject's data, per subject (ID number, project, document) and interface."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, collections.Counter[str]] = {}

    def add(self, subject: str, interface: str) -> None:
        with self._lock:
            self._counts.setdefault(subject, collections.Counter())[interface] += 1

    def count(self, subject: str, interface: str | None = None) -> int:
        with self._lock:
            counter = self._counts.get(subject)
            if counter is None:
                return 0
            return sum(counter.values()) if interface is None else counter[interface]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{subject: {interface: n}}``."""
        with self._lock:
            return {subject: dict(counter) for subject, counter in self._counts.items()}

    def repeated(self) -> list[tuple[str, str, int]]:
        """``(subject, interface, n)`` for every subject asked more than once about one interface."""
        with self._lock:
            return [(s, i, n) for s, counter in self._counts.items() for i, n in counter.items() if n > 1]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def summary(self) -> dict[str, Any]:
        """What ``GET /_admin/counts`` answers (see ``docs/adapters.md``)."""
        snapshot = self.snapshot()
        per_interface: collections.Counter[str] = collections.Counter()
        for counter in snapshot.values():
            per_interface.update(counter)
        values = [n for counter in snapshot.values() for n in counter.values()]
        return {
            "subjects": snapshot,
            "subject_count": len(snapshot),
            "requests": sum(values),
            "per_interface": dict(per_interface),
            "max_per_subject_interface": max(values, default=0),
        }


class SimulatorState:
    """What every simulator has: faults, quota, latency, per-subject counts, in-flight requests, a config."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.rng = random.Random()
        self.plan = FaultPlan(self.rng)
        self.quota = Quota()
        self.latency = Latency(self.rng)
        self.subjects = SubjectCounts()
        self._flight_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.initial_config = config or SimulatorConfig()
        self.config = self.initial_config
        self.configure(self.initial_config)

    def latency_keys(self) -> Iterable[str]:
        """Keys ``interface_latency_ms`` may name (simulators with interfaces override this)."""
        return ()

    def configure(self, config: SimulatorConfig) -> None:
        """Apply quota, latency, faults and seed at run time (faults armed before are replaced)."""
        unknown = sorted(set(config.interface_latency_ms) - set(self.latency_keys()))
        if unknown:
            known = "、".join(self.latency_keys()) or "（本模拟服务不区分接口）"
            raise ValueError(f"未知的接口：{', '.join(unknown)}；可选：{known}")
        self.quota.set(config.quota_per_second)
        self.latency.set(config.latency_ms, config.interface_latency_ms)
        self.plan.clear()
        for fault in config.faults:
            self.plan.arm(fault)
        if config.seed is not None:
            self.rng.seed(config.seed)
        self.config = config

    def reset(self) -> None:
        """Back to the configuration the simulator started with: no armed test faults, zero counters."""
        self.configure(self.initial_config)
        self.reset_counters()

    def reset_counters(self) -> None:
        """Zero the call, fault, per-subject and in-flight counters (the configuration stays)."""
        self.plan.reset_stats()
        self.subjects.reset()
        with self._flight_lock:
            self.max_in_flight = self.in_flight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no protocol request is being served (late requests must not meet the next test's faults)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._flight_lock:
                if self.in_flight == 0:
                    return True
            time.sleep(0.01)
        return False

    def enter(self) -> None:
        with self._flight_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._flight_lock:
            self.in_flight -= 1

    async def delay(self, key: str | None = None) -> None:
        """Sleep the configured latency (of ``key``, an interface, when it has its own)."""
        seconds = self.latency.seconds(key)
        if seconds > 0:
            await asyncio.sleep(seconds)

    def stats(self) -> dict[str, Any]:
        stats = self.plan.stats()
        with self._flight_lock:
            stats["in_flight"], stats["max_in_flight"] = self.in_flight, self.max_in_flight
        stats["quota_per_second"] = self.quota.per_second
        stats["subject_requests"] = self.subjects.summary()["requests"]
        return stats


class InFlight:
    """ASGI middleware counting the protocol requests being served (admin routes excluded)."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        self.state.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.leave()


def _json_body(request_body: Any) -> dict[str, Any]:
    if not isinstance(request_body, dict):
        raise ValueError("请求体应为JSON对象")
    return dict(request_body)


def admin_routes(state: SimulatorState) -> list[Route]:
    """The admin routes every simulator serves (loopback only, no authentication):

    ``POST /_admin/faults`` ``{"kind", "count"?, "rate"?, ...params}``, ``DELETE /_admin/faults[?kind=]``,
    ``GET /_admin/stats``, ``GET /_admin/counts`` / ``DELETE /_admin/counts``,
    ``GET /_admin/config`` / ``POST /_admin/config`` (a configuration as in the TOML file).
    """
    plan = state.plan

    async def post_fault(request: Request) -> Response:
        try:
            body = _json_body(await request.json())
            kind = body.pop("kind")
            count = body.pop("count", None)
            rate = float(body.pop("rate", 1.0))
            plan.set(str(kind), None if count is None else int(count), rate=rate, **body)
        except KeyError:
            return JSONResponse({"error": "缺少 kind"}, status_code=400)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "stats": plan.stats()})

    async def delete_faults(request: Request) -> Response:
        try:
            plan.clear(request.query_params.get("kind"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def get_stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def get_counts(request: Request) -> Response:
        return JSONResponse(state.subjects.summary())

    async def delete_counts(request: Request) -> Response:
        state.subjects.reset()
        return JSONResponse({"ok": True})

    async def get_config(request: Request) -> Response:
        return JSONResponse(state.config.to_mapping())

    async def post_config(request: Request) -> Response:
        try:
            state.configure(SimulatorConfig.from_mapping(_json_body(await request.json())))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "config": state.config.to_mapping()})

    return [
        Route("/_admin/faults", post_fault, methods=["POST"]),
        Route("/_admin/faults", delete_faults, methods=["DELETE"]),
        Route("/_admin/stats", get_stats, methods=["GET"]),
        Route("/_admin/counts", get_counts, methods=["GET"]),
        Route("/_admin/counts", delete_counts, methods=["DELETE"]),
        Route("/_admin/config", get_config, methods=["GET"]),
        Route("/_admin/config", post_config, methods=["POST"]),
    ]


def simulator_app(title: str, state: SimulatorState, routes: list[Route]) -> Starlette:
    """A simulator's app: its routes, then the admin routes, with in-flight counting; ``app.state.sim`` is ``state``."""
    app = Starlette(routes=[*routes, *admin_routes(state)], middleware=[Middleware(InFlight, state=state)])
    app.state.sim = state
    app.title = title
    return app


# --------------------------------------------------------------------------- transport faults

#: builds a protocol's error body: ``(reason, status)`` → JSON object, ``reason`` being
#: ``"unavailable"`` (5xx), ``"timeout"`` (504 after the sleep) or ``"throttled"`` (429)
ErrorBody = Callable[[str, int], dict[str, Any]]

MALFORMED_BODY = b'{"code": "0", "data": {"truncated'


async def inject_http_faults(plan: FaultPlan, error_body: ErrorBody) -> Response | None:
    """Apply the transport-level faults; return a response to send instead, or None to proceed.

    Errors are answered in the protocol's shape (``error_body``). Protocol-level faults
    (``quota``, ``expire_secret``, ``bad_signature``) are left to each simulator.
    """
    if plan.take("latency_ms"):
        await asyncio.sleep(int(plan.param("latency_ms", "latency_ms")) / 1000)
    if plan.take("timeout"):
        await asyncio.sleep(float(plan.param("timeout", "seconds")))
        return JSONResponse(error_body("timeout", 504), status_code=504)
    if plan.take("status_5xx"):
        status = int(plan.param("status_5xx", "status"))
        return JSONResponse(error_body("unavailable", status), status_code=status)
    if plan.take("status_429"):
        retry_after = plan.param("status_429", "retry_after")
        return JSONResponse(error_body("throttled", 429), status_code=429, headers={"Retry-After": str(retry_after)})
    if plan.take("malformed"):
        return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
    if plan.take("trickle"):
        return _trickle(float(plan.param("trickle", "interval")), int(plan.param("trickle", "chunks")))
    if plan.take("oversize"):
        return _oversize(int(plan.param("oversize", "bytes")), bool(plan.param("oversize", "chunked")))
    if plan.take("deep_json"):
        depth = int(plan.param("deep_json", "depth"))
        return Response(b"[" * depth + b"]" * depth, status_code=200, media_type="application/json")
    if plan.take("bad_encoding"):
        return Response(
            b"this body is not gzip",
            status_code=200,
            media_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )
    if plan.take("raw_body"):
        return Response(
            str(plan.param("raw_body", "body")).encode("utf-8"),
            status_code=int(plan.param("raw_body", "status")),
            media_type="application/json",
            headers={str(k): str(v) for k, v in dict(plan.param("raw_body", "headers") or {}).items()},
        )
    return None


def _trickle(interval: float, chunks: int) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            await asyncio.sleep(interval)
            yield b" "
        yield MALFORMED_BODY

    return StreamingResponse(body(), status_code=200, media_type="application/json")


def _oversize(size: int, chunked: bool) -> Response:
    piece = 64 * 1024
    if not chunked:
        return Response(b'{"pad":"' + b"x" * size + b'"}', status_code=200, media_type="application/json")

    async def body() -> AsyncIterator[bytes]:
        yield b'{"pad":"'
        for start in range(0, size, piece):
            yield b"x" * min(piece, size - start)
        yield b'"}'

    return StreamingResponse(body(), status_code=200, media_type="application/json")


async def admit(
    state: SimulatorState, call: str, error_body: ErrorBody, *, latency_key: str | None = None
) -> Response | None:
    """The start of every protocol request: count it, wait the configured latency, inject transport faults."""
    state.plan.record_call(call)
    await state.delay(latency_key)
    return await inject_http_faults(state.plan, error_body)


# --------------------------------------------------------------------------- the X-App-Id HMAC scheme
# Server side of the scheme shared by the Qianjiang, surveying and document-repository protocols,
# written from docs/adapters.md (not from the client): X-App-Id, X-Timestamp (ms), X-Nonce,
# X-Signature = hex(HMAC-SHA256(secret, METHOD\nPATH\nsorted query\napp id\ntimestamp\nnonce\nhex(sha256(body)))).


def hmac_expected_signature(
    secret: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    app_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    """The signature a correct client sends for these request parts."""
    pairs = sorted((urllib.parse.quote(k, safe=""), urllib.parse.quote(v, safe="")) for k, v in query)
    text = "\n".join(
        (
            method.upper(),
            path,
            "&".join(f"{k}={v}" for k, v in pairs),
            app_id,
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    )
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class HmacVerifier:
    """Checks the X-App-Id / X-Timestamp / X-Nonce / X-Signature headers of a request.

    :meth:`verify` returns None when the request is authentic, else one of ``"missing"``,
    ``"unknown_app"``, ``"clock_skew"``, ``"replay"``, ``"bad_signature"``.
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        skew_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
        nonce_memory: int = 10_000,
    ) -> None:
        self.credentials = dict(credentials)
        self.skew_seconds = skew_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._nonces: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._nonce_memory = nonce_memory

    def forget_nonces(self) -> None:
        with self._lock:
            self._nonces.clear()

    def verify(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str | None:
        app_id = headers.get("x-app-id")
        timestamp = headers.get("x-timestamp")
        nonce = headers.get("x-nonce")
        signature = headers.get("x-signature")
        if not (app_id and timestamp and nonce and signature):
            return "missing"
        secret = self.credentials.get(app_id)
        if secret is None:
            return "unknown_app"
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp) / 1000) > self.skew_seconds:
            return "clock_skew"
        expected = hmac_expected_signature(secret, method, path, query, app_id, timestamp, nonce, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "bad_signature"
        with self._lock:
            key = f"{app_id}:{nonce}"
            if key in self._nonces:
                return "replay"
            self._nonces[key] = None
            while len(self._nonces) > self._nonce_memory:
                self._nonces.popitem(last=False)
        return None


HMAC_VERIFY_CODES = {
    "missing": ("4010", "缺少签名头"),
    "unknown_app": ("4011", "应用不存在"),
    "clock_skew": ("4012", "请求时间戳超出允许范围"),
    "bad_signature": ("4010", "签名错误"),
    "replay": ("4014", "重复的请求（nonce 已使用）"),
}


def hmac_envelope(code: str, msg: str, data: object = None, status: int = 200, **extra: object) -> JSONResponse:
    """An answer in the envelope of the HMAC-signed protocols: ``{"code", "msg", "data", ...}``."""
    return JSONResponse({"code": code, "msg": msg, "data": data, **extra}, status_code=status)


def hmac_error_body(reason: str, status: int) -> dict[str, Any]:
    """Transport-fault bodies of the HMAC-signed protocols."""
    code, msg = {
        "timeout": ("5040", "处理超时"),
        "throttled": ("4290", "请求过于频繁"),
    }.get(reason, ("5000", "服务暂不可用"))
    return {"code": code, "msg": msg, "data": None}


class HmacSimState(SimulatorState):
    """State of a simulator speaking the X-App-Id HMAC protocol (Qianjiang, surveying, documents)."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        config: SimulatorConfig | None = None,
    ) -> None:
        super().__init__(config)
        self.verifier = HmacVerifier(credentials, clock=clock)

    def reset(self) -> None:
        super().reset()
        self.verifier.forget_nonces()


async def hmac_guard(
    state: HmacSimState, request: Request, call: str, body: bytes, *, quota_retry_after: object = None
) -> Response | None:
    """Everything before the business logic of an HMAC-protocol request; a response means "answer this".

    Transport faults, then the signature (``401`` with ``4010``–``4014``), the ``expire_secret``
    fault (``4013``), then the quota (``4290``: a ``quota`` fault or the real per-app quota):
    a badly signed call never uses quota. ``quota_retry_after`` is the ``retryAfter`` sent when
    the ``quota`` fault gives none (``None``: no field).
    """
    faulted = await admit(state, call, hmac_error_body)
    if faulted is not None:
        return faulted
    problem = state.verifier.verify(
        request.method, request.url.path, request.query_params.multi_items(), request.headers, body
    )
    if problem is None and state.plan.take("bad_signature"):
        problem = "bad_signature"
    if problem is not None:
        code, msg = HMAC_VERIFY_CODES[problem]
        return hmac_envelope(code, msg, status=401)
    if state.plan.take("expire_secret"):
        return hmac_envelope("4013", "应用密钥已过期，请更换密钥", status=401)
    if state.plan.take("quota"):
        retry_after = state.plan.param("quota", "retry_after")
        retry_after = quota_retry_after if retry_after is None else retry_after
        return hmac_envelope("4290", "调用量超过配额", **({} if retry_after is None else {"retryAfter": retry_after}))
    wait = state.quota.take()
    if wait is not None:
        return hmac_envelope("4290", "调用量超过配额", retryAfter=max(1, math.ceil(wait)))
    return None


# --------------------------------------------------------------------------- the loopback server


class SimulatorServer:
    """Serves a Starlette app with uvicorn in a daemon thread (``127.0.0.1``, free port by default)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, name: str | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name or getattr(app, "title", None) or "simulator"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("模拟服务尚未启动")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def state(self) -> Any:
        """The simulator's state (``app.state.sim``): overrides, faults, quota, counters."""
        return self.app.state.sim

    def counts(self) -> dict[str, dict[str, int]]:
        """Requests answered per subject and interface (``{subject: {interface: n}}``)."""
        return self.state.subjects.snapshot()

    def start(self, timeout: float = 10.0) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT``)."""
        if self._server is not None:
            return self.base_url
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(f"模拟服务{self.name}无法监听 {self.host}:{self.port}：{exc}") from exc
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host's logging configuration alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{self.name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"模拟服务{self.name}启动失败")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock
        return self.base_url

    def stop(self, timeout: float = 5.0) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is None:
            return
        server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        if sock is not None:
            sock.close()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
