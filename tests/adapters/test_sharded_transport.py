"""ShardedTransport: several small connection pools, their sizes adding up to the connection cap."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soar_ext.adapters.common import HttpSettings, build_async_client
from soar_ext.adapters.sharded_transport import ShardedTransport, pool_sizes
from soar_ext.adapters.simulators.common import SimulatorServer


class Peer:
    """A loopback server that counts the requests it is answering at once and the connections it saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.peers: set[tuple[str, int]] = set()

    async def slow(self, request: Request) -> PlainTextResponse:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            client = request.client
            if client is not None:
                self.peers.add((client.host, client.port))
        await asyncio.sleep(float(request.query_params.get("s", "0.2")))
        with self.lock:
            self.in_flight -= 1
        return PlainTextResponse("ok")


@pytest.fixture
def peer() -> Iterator[tuple[Peer, str]]:
    state = Peer()
    server = SimulatorServer(Starlette(routes=[Route("/slow", state.slow)]), name="peer")
    url = server.start()
    try:
        yield state, url
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("total", "sizes"),
    [(1, [1]), (8, [8]), (9, [5, 4]), (20, [7, 7, 6]), (40, [8, 8, 8, 8, 8]), (50, [8, 7, 7, 7, 7, 7, 7])],
)
def test_pool_sizes_add_up_to_the_cap(total: int, sizes: list[int]) -> None:
    assert pool_sizes(total) == sizes
    assert sum(sizes) == total and max(sizes) - min(sizes) <= 1


def test_pool_sizes_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        pool_sizes(0)


def test_requests_spread_over_the_pools_and_never_exceed_the_cap(peer: tuple[Peer, str]) -> None:
    state, url = peer
    transport = ShardedTransport(20)
    seen_busy: list[list[int]] = []

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=url, transport=transport, trust_env=False) as client:

            async def one() -> int:
                response = await client.get("/slow", params={"s": "0.3"})
                return response.status_code

            tasks = [asyncio.create_task(one()) for _ in range(30)]
            await asyncio.sleep(0.15)
            seen_busy.append(list(transport.busy))
            return await asyncio.gather(*tasks)

    codes = asyncio.run(main())
    assert codes == [200] * 30
    # all 30 placed, every pool full and the 10 left over queued evenly (no pool idle while others queue)
    assert sum(seen_busy[0]) == 30
    assert all(busy >= size for busy, size in zip(seen_busy[0], transport.sizes, strict=True))
    assert max(b - s for b, s in zip(seen_busy[0], transport.sizes, strict=True)) <= 4
    assert state.most_in_flight == 20  # the cap holds across the pools
    assert transport.busy == [0, 0, 0]  # every response released its pool
    assert len(state.peers) <= 20


def test_a_failed_request_releases_its_pool() -> None:
    transport = ShardedTransport(2)

    async def main() -> None:
        async with httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=transport, trust_env=False) as client:
            for _ in range(3):
                with pytest.raises(httpx.ConnectError):
                    await client.get("/")

    asyncio.run(main())
    assert transport.busy == [0]


def test_adapters_clients_use_it(peer: tuple[Peer, str]) -> None:
    _, url = peer

    async def main() -> tuple[str, list[int]]:
        settings = HttpSettings(base_url=url, max_connections=12)
        async with build_async_client(settings) as client:
            transport = client._transport  # the adapter's client as built
            assert isinstance(transport, ShardedTransport)
            response = await client.get("/slow", params={"s": "0"})
            return response.text, transport.sizes

    assert asyncio.run(main()) == ("ok", [6, 6])
