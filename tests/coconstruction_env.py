"""配建项目 test bench: a SOAR database, the surveying and repository simulators on loopback, the plugin.

``Bench`` saves projects and receives documents the way SOAR's screens do (inside a SOAR
transaction that commits, or rolls back), runs delivery workers and reads back the plugin's
tables and the simulators' state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import Engine, func, insert, select, update

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.simulators import docrepo as docrepo_sim
from soar_ext.adapters.simulators import survey as survey_sim
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.clock import beijing_now
from soar_ext.coconstruction.delivery import DeliveryReport, DeliveryWorker
from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.extension import document_outbox, project_surveys
from soar_ext.db.legacy import coconstruction_projects, surveyed_houses
from soar_ext.hook_payloads import DetailView, DocumentReceipt, ProjectChange, ReceivedDocument
from soar_ext.hooks import co_construction
from soar_ext.host import SoarHost
from soar_ext.secret import Secret
from tests.host_fixtures import CLERK, make_context
from tests.soar_env import soar_database

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

FAST_HTTP = {
    "rate_per_second": 1000.0,
    "burst": 100,
    "connect_timeout": 1.0,
    "read_timeout": 5.0,
    "retry_attempts": 2,
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.05,
    "breaker_failure_threshold": 1000,
}


def pdf(tag: str, size: int = 0) -> bytes:
    """A small, distinct PDF (``size`` pads it to that many bytes)."""
    body = PDF + f"% {tag}\n".encode()
    return body + b"0" * max(0, size - len(body))


@dataclass
class Simulators:
    survey: SimulatorServer
    docrepo: SimulatorServer
    portal: BlockingPortal

    @property
    def survey_state(self) -> survey_sim.SurveyState:
        return self.survey.app.state.sim  # type: ignore[no-any-return]

    @property
    def repo_state(self) -> docrepo_sim.DocRepoState:
        return self.docrepo.app.state.sim  # type: ignore[no-any-return]

    def reset(self) -> None:
        for state in (self.survey_state, self.repo_state):
            state.wait_idle()
            state.reset()

    def adapter_sections(self, **http: Any) -> dict[str, dict[str, Any]]:
        quick = {**FAST_HTTP, **http}
        return {
            "survey": {
                "base_url": self.survey.base_url,
                "app_id": survey_sim.DEFAULT_APP_ID,
                "app_secret": Secret(survey_sim.DEFAULT_APP_SECRET),
                **quick,
            },
            "docrepo": {
                "base_url": self.docrepo.base_url,
                "app_id": docrepo_sim.DEFAULT_APP_ID,
                "app_secret": Secret(docrepo_sim.DEFAULT_APP_SECRET),
                **quick,
            },
        }


def start_simulators() -> Iterator[Simulators]:
    survey = SimulatorServer(survey_sim.create_app(), name="survey")
    repo = SimulatorServer(docrepo_sim.create_app(), name="docrepo")
    survey.start()
    repo.start()
    try:
        with start_blocking_portal(name="test-coconstruction") as portal:
            yield Simulators(survey, repo, portal)
    finally:
        survey.stop()
        repo.stop()


@dataclass
class Bench:
    """The plugin on a SOAR database with the simulators."""

    engine: Engine
    sims: Simulators
    settings: dict[str, Any] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    clock: Any = beijing_now
    operator: Operator = CLERK

    def __post_init__(self) -> None:
        self.config = Config(
            plugin_modes=self.modes,
            plugin_settings={"co_construction": self.settings},
            adapters=self.sims.adapter_sections(),
            strict_plugins=True,
        )
        self.host = SoarHost(self.config, plugins=[("co_construction", co_construction)], load_entry_points=False)
        self.adapters = AdapterRegistry(self.config, portal=self.sims.portal)

    def close(self) -> None:
        self.adapters.close()
        self.engine.dispose()

    @property
    def plugin_settings(self) -> CoConstructionSettings:
        return CoConstructionSettings.from_mapping(self.settings)

    def context(self, conn: Any, operator: Operator | None = None) -> SoarContext:
        return make_context(
            conn, self.host, operator=operator or self.operator, adapters=self.adapters, clock=self.clock
        )

    # -- SOAR's side ------------------------------------------------------------------

    def add_project(self, number: str, name: str) -> str:
        project_id = uuid.uuid4().hex.upper()
        with self.engine.begin() as conn:
            conn.execute(
                insert(coconstruction_projects).values(pjxmid=project_id, xmbh=number, xmmc=name, cjsj=beijing_now())
            )
        return project_id

    def save(self, project_id: str, **changes: Any) -> None:
        """SOAR's 保存: change the row, then ``project_saved``, one transaction."""
        with self.engine.begin() as conn:
            if changes:
                conn.execute(
                    update(coconstruction_projects)
                    .where(coconstruction_projects.c.pjxmid == project_id)
                    .values(**changes)
                )
            self.host.project_saved(self.context(conn), ProjectChange(project_id, created=not changes))

    def new_project(self, number: str, name: str) -> str:
        project_id = self.add_project(number, name)
        self.save(project_id)
        return project_id

    def receive(self, project_id: str, *documents: tuple[str, str, bytes], rollback: bool = False) -> None:
        """SOAR's 收件: ``documents_received`` in SOAR's transaction, which commits (or rolls back)."""
        receipt = DocumentReceipt(project_id, [ReceivedDocument(t, n, c) for t, n, c in documents])
        conn = self.engine.connect()
        try:
            trans = conn.begin()
            self.host.documents_received(self.context(conn), receipt)
            if rollback:
                trans.rollback()
            else:
                trans.commit()
        finally:
            conn.close()

    def action(self, key: str, target: str, operator: Operator | None = None, **params: Any) -> Any:
        from soar_ext.hook_payloads import ActionRequest

        with self.engine.begin() as conn:
            return self.host.action(
                self.context(conn, operator), ActionRequest(key, target, params, plugin="co_construction")
            )

    def page(self, project_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return self.host.detail_view(self.context(conn), DetailView("co_construction_project", project_id))

    # -- the worker -------------------------------------------------------------------

    def worker(self, **settings: Any) -> DeliveryWorker:
        merged = CoConstructionSettings.from_mapping({**self.settings, **settings})
        return DeliveryWorker(self.engine, self.adapters.docrepo, self.adapters.run, merged, clock=self.clock)

    def deliver(self, **settings: Any) -> DeliveryReport:
        return self.worker(**settings).run(once=True)

    # -- reading back -----------------------------------------------------------------

    def link(self, project_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(project_surveys).where(project_surveys.c.pjxmid == project_id)).first()

    def entries(self, project_id: str | None = None) -> list[Any]:
        o = document_outbox
        stmt = select(o).order_by(o.c.received_at, o.c.doc_type)
        if project_id is not None:
            stmt = stmt.where(o.c.pjxmid == project_id)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).all())

    def count(self, table: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def local_copy(self, number: str, name: str, areas: Sequence[tuple[str, str | None]], updated: Any) -> None:
        """Rows of SOAR's ``tch_fwxx`` for a surveyed project."""
        with self.engine.begin() as conn:
            for i, (predicted, measured) in enumerate(areas):
                conn.execute(
                    insert(surveyed_houses).values(
                        fwid=uuid.uuid4().hex,
                        chxmbh=number,
                        chxmmc=name,
                        lh="1幢",
                        dy="1单元",
                        fh=f"{101 + i}",
                        ycjzmj=predicted,
                        scjzmj=measured,
                        gxsj=updated,
                    )
                )


def bench_on(url: str, sims: Simulators, **kwargs: Any) -> Bench:
    sims.reset()
    return Bench(soar_database(url), sims, **kwargs)
