"""Big Data gateway simulator fixtures and helpers, imported explicitly by the Big Data tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings, QueryRecord
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.simulators.bigdata import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_ORG,
    BigDataState,
    create_app,
)
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.idnumber import check_char
from soar_ext.secret import Secret

WRONG_SECRET = "wrong-secret-for-tests"  # declared in tests/adapters/guards.py TEST_SECRETS


def make_id(serial: int, *, area: str = "330106", birth: str = "19850312") -> str:
    """A valid ID number (correct check character)."""
    first17 = f"{area}{birth}{serial % 1000:03d}"
    return first17 + check_char(first17)


class ShiftedClock:
    """Wall clock plus an offset that tests move forward (or backward)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class RunningBigData:
    base_url: str
    state: BigDataState

    def stats(self) -> dict[str, Any]:
        """The simulator's stats as served over HTTP (``GET /_admin/stats``)."""
        return httpx.get(self.base_url + "/_admin/stats", timeout=5).json()

    def calls(self, name: str) -> int:
        return self.state.plan.calls(name)

    def client(
        self,
        fast_http: Callable[..., HttpSettings],
        *,
        generation: int = 1,
        app_key: str = DEFAULT_APP_KEY,
        secret: str = DEFAULT_APP_SECRET,
        clock: Callable[[], float] = time.time,
        on_query: Callable[[QueryRecord], None] | None = None,
        renewal_memory: float = 1.0,
        base_url: str | None = None,
        **http: Any,
    ) -> BigDataClient:
        settings = BigDataSettings(
            http=fast_http(base_url or self.base_url, **http),
            app_key=app_key,
            app_secret=Secret(secret),
            generation=generation,
            org=DEFAULT_ORG,
            renewal_failure_memory_seconds=renewal_memory,
        )
        return BigDataClient(settings, on_query=on_query, clock=clock)


# Fixture functions carry a ``_fixture`` suffix so that test modules can import them without the
# imported name shadowing the fixture argument.


@pytest.fixture(scope="session", name="_bigdata_server")
def bigdata_server_fixture() -> Iterator[RunningBigData]:
    app = create_app()
    with SimulatorServer(app, name="bigdata") as server:
        yield RunningBigData(server.base_url, app.state.sim)


@pytest.fixture(name="bigdata_sim")
def bigdata_sim_fixture(_bigdata_server: RunningBigData) -> Iterator[RunningBigData]:
    """The gateway simulator, reset (no secrets issued, no overrides, no faults, zero counters)."""
    _bigdata_server.state.wait_idle()  # requests a previous test left behind are served first
    _bigdata_server.state.reset()
    yield _bigdata_server
    _bigdata_server.state.wait_idle()
    _bigdata_server.state.reset()
