"""A SOAR database (legacy schema + soar-ext migrations) and the Qianjiang simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import Engine

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from soar_ext.adapters.simulators.qianjiang import create_app as create_qianjiang_app
from soar_ext.db.engine import make_engine
from soar_ext.db.legacy import legacy_metadata
from soar_ext.db.migrate import upgrade
from soar_ext.secret import Secret


def soar_database(url: str) -> Engine:
    """Create the assumed legacy tables and apply soar-ext's migrations."""
    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    upgrade(url)
    return engine


@dataclass
class QianjiangSim:
    server: SimulatorServer
    app: object
    portal: BlockingPortal  # shared by the registries of one test module (clients live on its loop)

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state.sim  # type: ignore[attr-defined]

    def client(self, **http: object) -> QianjiangClient:
        values: dict[str, object] = {
            "base_url": self.server.base_url,
            "connect_timeout": 1.0,
            "read_timeout": 1.0,
            "rate_per_second": 1000.0,
            "burst": 100,
            "retry_attempts": 2,
            "retry_initial_delay": 0.01,
            "retry_max_delay": 0.2,
        }
        values.update(http)
        settings = QianjiangSettings(
            http=HttpSettings(**values), app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET)
        )
        return QianjiangClient(settings)

    def registry(self, config, **http: object) -> AdapterRegistry:  # type: ignore[no-untyped-def]
        return AdapterRegistry(config, portal=self.portal, instances={"qianjiang": self.client(**http)})


def start_qianjiang() -> Iterator[QianjiangSim]:
    app = create_qianjiang_app()
    server = SimulatorServer(app, name="qianjiang")
    server.start()
    try:
        with start_blocking_portal(name="test-adapters") as portal:
            yield QianjiangSim(server, app, portal)
    finally:
        server.stop()
