"""Shared simulator machinery: fault injection, admin routes, HMAC verification, a loopback server.

Fault kinds (set with :meth:`FaultPlan.set` or ``POST /_admin/faults``):

==================  ==============================================================
``latency_ms``      delay every answer by ``latency_ms`` (default 200)
``status_5xx``      answer with HTTP ``status`` (default 503)
``timeout``         sleep ``seconds`` (default 5, longer than any client timeout)
``status_429``      answer HTTP 429 with ``Retry-After: retry_after`` (default 1)
``quota``           the protocol's own quota-exceeded code (simulator specific); ``retry_after``
                    sets the body's ``retryAfter`` where the protocol has one
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

Each fault has a remaining count (``None`` = until cleared).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from soar_ext.adapters.common import hmac_canonical_string, hmac_signature

# kind -> default parameters
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "latency_ms": {"latency_ms": 200},
    "status_5xx": {"status": 503},
    "timeout": {"seconds": 5.0},
    "status_429": {"retry_after": 1},
    "quota": {"retry_after": None},
    "malformed": {},
    "expire_secret": {},
    "bad_signature": {},
    "trickle": {"interval": 0.1, "chunks": 100},
    "oversize": {"bytes": 16 * 1024 * 1024, "chunked": False},
    "deep_json": {"depth": 100_000},
    "bad_encoding": {},
    "raw_body": {"status": 200, "body": "{}", "headers": {}},
}
_ALIASES = {"latency": "latency_ms", "5xx": "status_5xx", "429": "status_429"}


class FaultPlan:
    """Faults to inject and call counters of one simulator; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: dict[str, int | None] = {}
        self._params: dict[str, dict[str, Any]] = {}
        self._calls: collections.Counter[str] = collections.Counter()
        self._injected: collections.Counter[str] = collections.Counter()

    @staticmethod
    def _kind(kind: str) -> str:
        kind = _ALIASES.get(kind, kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"未知的故障类型“{kind}”，可选：{', '.join(FAULT_KINDS)}")
        return kind

    def set(self, kind: str, count: int | None = None, **params: Any) -> None:
        """Arm a fault for ``count`` occurrences (``None``: until cleared)."""
        kind = self._kind(kind)
        unknown = set(params) - set(FAULT_KINDS[kind])
        if unknown:
            raise ValueError(f"故障类型{kind}不支持参数：{', '.join(sorted(unknown))}")
        if count is not None and count < 1:
            raise ValueError("count 必须至少为1（或留空表示直到清除）")
        with self._lock:
            self._remaining[kind] = count
            self._params[kind] = {**FAULT_KINDS[kind], **params}

    def clear(self, kind: str | None = None) -> None:
        """Disarm one fault kind, or all of them."""
        with self._lock:
            if kind is None:
                self._remaining.clear()
                self._params.clear()
            else:
                kind = self._kind(kind)
                self._remaining.pop(kind, None)
                self._params.pop(kind, None)

    def take(self, kind: str) -> bool:
        """Consume one occurrence of ``kind``; True when the fault must be injected now."""
        kind = self._kind(kind)
        with self._lock:
            if kind not in self._remaining:
                return False
            remaining = self._remaining[kind]
            if remaining is not None:
                if remaining <= 1:
                    del self._remaining[kind]
                else:
                    self._remaining[kind] = remaining - 1
            self._injected[kind] += 1
            return True

    def active(self, kind: str) -> bool:
        with self._lock:
            return self._kind(kind) in self._remaining

    def param(self, kind: str, name: str) -> Any:
        """A parameter of the fault as last armed (its default when never armed)."""
        kind = self._kind(kind)
        with self._lock:
            return self._params.get(kind, FAULT_KINDS[kind]).get(name, FAULT_KINDS[kind].get(name))

    @property
    def latency_ms(self) -> int:
        return int(self.param("latency_ms", "latency_ms"))

    @property
    def status_5xx(self) -> int:
        return int(self.param("status_5xx", "status"))

    @property
    def timeout_seconds(self) -> float:
        return float(self.param("timeout", "seconds"))

    @property
    def retry_after(self) -> Any:
        return self.param("status_429", "retry_after")

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
                "active_faults": {k: {"remaining": v, **self._params.get(k, {})} for k, v in self._remaining.items()},
            }


def fault_routes(plan: FaultPlan) -> list[Route]:
    """Admin routes: ``POST /_admin/faults``, ``DELETE /_admin/faults``, ``GET /_admin/stats``."""

    async def post_fault(request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("请求体应为JSON对象")
            body = dict(body)
            kind = body.pop("kind")
            count = body.pop("count", None)
            plan.set(str(kind), None if count is None else int(count), **body)
        except KeyError:
            return JSONResponse({"error": "缺少 kind"}, status_code=400)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "stats": plan.stats()})

    async def delete_faults(request: Request) -> Response:
        kind = request.query_params.get("kind")
        try:
            plan.clear(kind)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def get_stats(request: Request) -> Response:
        return JSONResponse(plan.stats())

    return [
        Route("/_admin/faults", post_fault, methods=["POST"]),
        Route("/_admin/faults", delete_faults, methods=["DELETE"]),
        Route("/_admin/stats", get_stats, methods=["GET"]),
    ]


MALFORMED_BODY = b'{"code": "0", "data": {"truncated'


async def inject_http_faults(plan: FaultPlan) -> Response | None:
    """Apply the transport-level faults; return a response to send instead, or None to proceed.

    Protocol-level faults (``quota``, ``expire_secret``, ``bad_signature``) are left to each
    simulator, which knows its own codes.
    """
    if plan.take("latency_ms"):
        await asyncio.sleep(plan.latency_ms / 1000)
    if plan.take("timeout"):
        await asyncio.sleep(plan.timeout_seconds)
        return JSONResponse({"code": "5040", "msg": "处理超时"}, status_code=504)
    if plan.take("status_5xx"):
        return JSONResponse({"code": "5000", "msg": "服务暂不可用"}, status_code=plan.status_5xx)
    if plan.take("status_429"):
        return JSONResponse(
            {"code": "4290", "msg": "请求过于频繁"},
            status_code=429,
            headers={"Retry-After": str(plan.retry_after)},
        )
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


class HmacVerifier:
    """Server side of the X-App-Id / X-Timestamp / X-Nonce / X-Signature scheme.

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
        try:
            sent_at = int(timestamp) / 1000
        except ValueError:
            return "clock_skew"
        if abs(self.clock() - sent_at) > self.skew_seconds:
            return "clock_skew"
        canonical = hmac_canonical_string(method, path, list(query), app_id, timestamp, nonce, body)
        expected = hmac_signature(secret, canonical)
        if not _constant_time_equal(expected, signature):
            return "bad_signature"
        with self._lock:
            key = f"{app_id}:{nonce}"
            if key in self._nonces:
                return "replay"
            self._nonces[key] = None
            while len(self._nonces) > self._nonce_memory:
                self._nonces.popitem(last=False)
        return None


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


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
        sock.listen(128)
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
