"""The Big Data simulator on loopback for the verification tests, and a SOAR database to verify in.

The simulator's own configuration gives an interface its latency; its faults hit whichever
request comes next, so the simulator is served behind :class:`InterfaceFaults`, a thin ASGI layer
that takes down, or answers for, chosen interfaces only, and counts the requests it passes on.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import Engine, func, select
from starlette.responses import JSONResponse, Response

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.bigdata import CATEGORIES, BigDataClient, BigDataSettings
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG, create_app
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.audit_store import AuditRow, read_entries
from soar_ext.clock import FixedClock
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.codes import ApprovalStatus, Relation
from soar_ext.db.extension import verification_snapshots, verifications
from soar_ext.hooks import verification
from soar_ext.host import SoarHost
from soar_ext.secret import Secret
from tests.soar_builders import add_application, add_family

PLUGIN = "verification"
NOW = dt.datetime(2024, 7, 1, 9, 30)
DIGEST_KEY = Secret("verification-tests-digest-key-0123456789")
VERIFIER = Operator(id="u101", name="赵核查", roles=frozenset({"verifier"}), district="330106")
CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}), district="330106")

_BUSINESS_PATH = re.compile(r"^/(?:gateway/api/[^/]+/dataSharing/(?P<g1>[^/]+)\.htm|irs/api/(?P<g2>[^/]+))$")


def interface_of(category: str) -> str:
    return CATEGORIES[category].interface_id


class InterfaceFaults:
    """ASGI layer in front of the simulator: per-interface outage or fixed answer; request counts."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.down: set[str] = set()
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.requests: collections.Counter[str] = collections.Counter()

    def clear(self) -> None:
        self.down.clear()
        self.answers.clear()
        self.requests.clear()

    def take_down(self, category: str) -> None:
        self.down.add(interface_of(category))

    def bring_up(self, category: str) -> None:
        self.down.discard(interface_of(category))

    def answer(self, category: str, body: bytes, status: int = 200) -> None:
        self.answers[interface_of(category)] = (status, body)

    def requests_for(self, category: str) -> int:
        return self.requests[interface_of(category)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = _BUSINESS_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match:
            interface = match.group("g1") or match.group("g2")
            self.requests[interface] += 1
            if interface in self.down:
                await JSONResponse({"code": "5000", "msg": "服务暂不可用"}, status_code=503)(scope, receive, send)
                return
            if interface in self.answers:
                status, body = self.answers[interface]
                await Response(body, status_code=status, media_type="application/json")(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass
class BigDataSim:
    """The running simulator: ``faults`` (per interface) and ``state`` (the simulator's data and counters)."""

    server: SimulatorServer
    faults: InterfaceFaults
    portal: BlockingPortal  # the loop the clients live on, shared by the registries of a module
    clients: list[BigDataClient] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.faults.state.sim

    def reset(self) -> None:
        self.state.wait_idle()
        self.state.reset()
        self.faults.clear()

    def delay(self, category: str, seconds: float) -> None:
        """Give one category's interface its own latency (the simulator's per-interface setting)."""
        ms = seconds * 1000
        self.state.configure(SimulatorConfig(interface_latency_ms={category: (ms, ms)}))

    def asked(self, id_number: str, category: str | None = None) -> int:
        """Requests the simulator answered with this subject's data (per category, or all)."""
        return int(self.state.subjects.count(id_number, category))

    def client(self, *, generation: int = 1, **http: Any) -> BigDataClient:
        values: dict[str, Any] = {
            "base_url": self.server.base_url,
            "connect_timeout": 1.0,
            "read_timeout": 5.0,
            "rate_per_second": 1000.0,
            "burst": 100,
            "retry_attempts": 1,  # one request per query: audit rows and request counts compare 1:1
            "retry_initial_delay": 0.01,
            "retry_max_delay": 0.1,
            "breaker_failure_threshold": 50,
        }
        values.update(http)
        settings = BigDataSettings(
            http=HttpSettings(**values),
            app_key=DEFAULT_APP_KEY,
            app_secret=Secret(DEFAULT_APP_SECRET),
            generation=generation,
            org=DEFAULT_ORG,
        )
        client = BigDataClient(settings)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            self.portal.call(client.aclose)
        self.clients.clear()


def start_bigdata() -> Iterator[BigDataSim]:
    faults = InterfaceFaults(create_app())
    server = SimulatorServer(faults, name="bigdata")
    server.start()
    try:
        with start_blocking_portal(name="verification-tests") as portal:
            sim = BigDataSim(server, faults, portal)
            try:
                yield sim
            finally:
                sim.close_clients()
    finally:
        server.stop()


@dataclass
class Desk:
    """SOAR's side: the database, the host with the verification plugin, a clock that moves on."""

    engine: Engine
    host: SoarHost
    clock: FixedClock

    def context(self, conn: Any, operator: Operator = VERIFIER) -> SoarContext:
        return self.host.context(operator, conn, clock=self.clock)

    def count(self, table: Any, *where: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())

    def stored(self) -> tuple[int, int]:
        """(verifications, snapshots) stored."""
        return self.count(verifications), self.count(verification_snapshots)

    def audit_rows(self, action: str = verification.AUDIT_QUERY, **where: Any) -> list[AuditRow]:
        """Entries of the audit store (its own database beside SOAR's), newest first."""
        store = self.host.audit_store(self.engine.url.render_as_string(hide_password=False))
        return read_entries(store, action=action, limit=10_000, **where)


def make_desk(
    engine: Engine,
    sim: BigDataSim,
    *,
    generation: int = 1,
    budget: float = 5.0,
    mode: str = "on",
    http: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> Desk:
    config = Config(
        plugin_modes={PLUGIN: mode},
        plugin_settings={PLUGIN: {"time_budget_seconds": budget}},
        audit={"digest_secret": DIGEST_KEY, **(audit or {})},
        strict_plugins=True,
    )
    registry = AdapterRegistry(
        config, portal=sim.portal, instances={"bigdata": sim.client(generation=generation, **(http or {}))}
    )
    host = SoarHost(config, plugins=[(PLUGIN, verification)], load_entry_points=False, adapters=registry)
    return Desk(engine, host, FixedClock(NOW))


ADULTS = (("陈晓明", Relation.SELF, dt.date(1986, 4, 18)), ("林静", Relation.SPOUSE, dt.date(1988, 9, 2)))


def add_household(engine: Engine, status: str = ApprovalStatus.COMPLETED) -> tuple[str, str, list[tuple[str, str]]]:
    """A family of two adults with an application in ``status``: (family id, application id, [(ryid, ID)])."""
    with engine.begin() as conn:
        family_id, people = add_family(conn, list(ADULTS))
        application_id = add_application(conn, family_id, status=status)
    return family_id, application_id, people


def texts(value: Any) -> Iterator[str]:
    """Every string inside page content (dataclasses, mappings, sequences)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from texts(getattr(value, name))
