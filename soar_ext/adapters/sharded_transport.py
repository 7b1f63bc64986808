"""An ``httpx`` transport that spreads requests over several small connection pools.

httpcore's pool looks at every one of its connections for each request it places (is it idle,
has it expired — a socket poll each), so the cost of one request grows with the pool: at 40–50
pooled connections that bookkeeping was most of a batch worker's CPU. Several small pools keep
the total connection cap (the pools' sizes add up to it exactly) while each request looks at a
handful of connections only. A request goes to the pool with the most free connections; a pool
counts a request as busy until its response is closed, as httpcore holds the connection that long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import cast

import httpx

#: Connections per pool: small enough for cheap bookkeeping, large enough to keep few pools.
CONNECTIONS_PER_POOL = 8


def pool_sizes(max_connections: int, per_pool: int = CONNECTIONS_PER_POOL) -> list[int]:
    """Sizes of the pools for ``max_connections`` in all: as even as possible, adding up exactly."""
    if max_connections < 1 or per_pool < 1:
        raise ValueError("max_connections and per_pool must be at least 1")
    pools = -(-max_connections // per_pool)
    return [max_connections // pools + (1 if i < max_connections % pools else 0) for i in range(pools)]


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ShardedTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` pools of :func:`pool_sizes` ``max_connections``, used least-busy first."""

    def __init__(self, max_connections: int, *, per_pool: int = CONNECTIONS_PER_POOL) -> None:
        self.sizes = pool_sizes(max_connections, per_pool)
        self._pools = [
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=size, max_keepalive_connections=size))
            for size in self.sizes
        ]
        self.busy = [0] * len(self.sizes)

    def _pick(self) -> int:
        return max(range(len(self.sizes)), key=lambda i: self.sizes[i] - self.busy[i])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._pick()
        self.busy[index] += 1

        def release() -> None:
            self.busy[index] -= 1

        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _ReleasingStream(cast(httpx.AsyncByteStream, response.stream), release)
        return response

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
