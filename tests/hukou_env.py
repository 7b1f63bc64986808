"""The household check's test bench: a SOAR database, the Big Data simulator on loopback, families.

The worker builds its own Big Data client from ``[adapters.bigdata]`` (as on a SOAR node), so the
configuration points at the simulator; :class:`CallLog` sits in front of the simulator and notes
the time of every 户籍 request it passes on (for the per-second quota checks).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG, create_app
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.audit_store import AuditRow, read_entries
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.codes import ApprovalStatus, GuaranteeType, Relation
from soar_ext.db.extension import hukou_items, hukou_jobs
from soar_ext.db.legacy import applications, family_members, persons
from soar_ext.hook_payloads import ActionRequest, ActionResult
from soar_ext.hooks import hukou_check
from soar_ext.host import SoarHost
from soar_ext.hukou import jobs, service
from soar_ext.hukou.worker import WorkerReport
from soar_ext.secret import Secret
from tests.soar_builders import add_application, add_family, id_number

PLUGIN = "hukou_check"
DIGEST_KEY = "hukou-tests-digest-key-0123456789abcdef"
CHECKER = Operator(id="b001", name="户籍核查员", roles=frozenset({"batch_checker"}))
FULL_ID_CHECKER = Operator(id="b002", name="核查组长", roles=frozenset({"batch_checker", "full_id"}))
CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}))
_serial = itertools.count(100)


class CallLog:
    """ASGI layer in front of the simulator: the monotonic time of every business request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.times: list[float] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.times.clear()

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most requests seen in any window of ``seconds``."""
        with self._lock:
            times = sorted(self.times)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "/dataSharing/" in path or path.startswith("/irs/api/"):
            with self._lock:
                self.times.append(time.monotonic())
        await self.app(scope, receive, send)


@dataclass
class Sim:
    server: SimulatorServer
    log: CallLog

    @property
    def state(self) -> Any:
        return self.log.state.sim

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def asked(self, id_number: str) -> int:
        """Requests the simulator answered with this person's 户籍 data."""
        return int(self.state.subjects.count(id_number, "household_registration"))

    def reset(self) -> None:
        self.state.wait_idle()
        self.state.reset()
        self.log.clear()


# Fixture functions carry a ``_fixture`` suffix so that test modules can import them without the
# imported name shadowing the fixture argument.


@pytest.fixture(scope="module", name="sim")
def sim_fixture() -> Iterator[Sim]:
    """The Big Data simulator behind a call log, one per test module."""
    log = CallLog(create_app())
    server = SimulatorServer(log, name="bigdata")
    server.start()
    try:
        yield Sim(server, log)
    finally:
        server.stop()


@pytest.fixture(autouse=True, name="_fresh_sim")
def fresh_sim_fixture(sim: Sim) -> Iterator[None]:
    """Every test starts and ends with the simulator reset (no faults, no counts, no secrets)."""
    sim.reset()
    yield
    sim.reset()


def bigdata_section(base_url: str, *, generation: int = 1, **http: Any) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "app_key": DEFAULT_APP_KEY,
        "app_secret": Secret(DEFAULT_APP_SECRET),
        "generation": generation,
        "org": DEFAULT_ORG,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "retry_initial_delay": 0.01,
        "retry_max_delay": 0.2,
        "breaker_failure_threshold": 1000,
        "breaker_reset_seconds": 1.0,
        **http,
    }


def plugin_section(**overrides: Any) -> dict[str, Any]:
    return {
        "quota_per_second": 400,
        "quota_concurrency": 20,
        "quota_heartbeat_seconds": 0.5,
        "quota_ttl_seconds": 3,
        "queue_lease_seconds": 20,
        "queue_max_attempts": 5,
        "queue_backoff_initial_seconds": 0.1,
        "queue_backoff_max_seconds": 1.0,
        "claim_batch": 20,
        **overrides,
    }


def hukou_config(
    base_url: str, *, mode: str = "on", generation: int = 1, http: dict | None = None, **plugin: Any
) -> Config:
    return Config(
        plugin_modes={PLUGIN: mode},
        plugin_settings={PLUGIN: plugin_section(**plugin)},
        adapters={"bigdata": bigdata_section(base_url, generation=generation, **(http or {}))},
        audit={"digest_secret": Secret(DIGEST_KEY)},
        strict_plugins=True,
    )


@dataclass
class Desk:
    """SOAR's side: the database and a host with the household-check plugin."""

    engine: Engine
    host: SoarHost

    def context(self, conn: Any, operator: Operator = CHECKER) -> SoarContext:
        return self.host.context(operator, conn)

    def act(self, key: str, target: str | None = None, operator: Operator = CHECKER, **params: Any) -> ActionResult:
        with self.engine.begin() as conn:
            return self.host.action(self.context(conn, operator), ActionRequest(key, target, params, PLUGIN))

    def start(self, operator: Operator = CHECKER, **params: Any) -> ActionResult:
        return self.act("hukou_check.start", operator=operator, **params)

    def start_job(self, **params: Any) -> str:
        result = self.start(**params)
        assert result.ok, result.message
        return result.data.job.job_id

    def work(self, job_id: str, operator: Operator = CHECKER, **kwargs: Any) -> WorkerReport:
        with self.engine.connect() as conn:
            ctx = self.context(conn, operator).for_plugin(PLUGIN, self.host.config.mode_of(PLUGIN))
        return service.work(self.engine, ctx, job_id, **kwargs)

    def job(self, job_id: str) -> jobs.Job:
        return jobs.load_job(self.engine, job_id)

    def items(self, job_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(hukou_items).where(hukou_items.c.job_id == job_id)).mappings())

    def list_rows(self, job_id: str) -> list[jobs.ListRow]:
        with self.engine.connect() as conn:
            return list(jobs.list_rows(conn, job_id))

    def job_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(hukou_jobs)).scalar_one())

    def audit_rows(self, action: str) -> list[AuditRow]:
        store = self.host.audit_store(self.engine.url.render_as_string(hide_password=False))
        return read_entries(store, action=action, limit=100_000)


def make_desk(engine: Engine, base_url: str, **config: Any) -> Desk:
    host = SoarHost(hukou_config(base_url, **config), plugins=[(PLUGIN, hukou_check)], load_entry_points=False)
    return Desk(engine, host)


@dataclass
class Household:
    jtid: str
    sqid: str
    pzzgzh: str
    people: list[tuple[str, str]] = field(default_factory=list)  # (ryid, ID number)

    @property
    def ids(self) -> list[str]:
        return [idn for _pid, idn in self.people]


MEMBERS = (
    ("陈晓明", Relation.SELF, dt.date(1986, 4, 18)),
    ("林静", Relation.SPOUSE, dt.date(1988, 9, 2)),
    ("陈一诺", Relation.CHILD, dt.date(2012, 3, 9)),
)


def add_household(
    engine: Engine,
    members: Sequence[tuple[str, str, dt.date]] = MEMBERS,
    *,
    district: str = "330106",
    guarantee: str = GuaranteeType.PUBLIC_RENTAL,
    status: str = ApprovalStatus.COMPLETED,
) -> Household:
    with engine.begin() as conn:
        jtid, people = add_family(conn, list(members))
        sqid = add_application(conn, jtid, guarantee, status=status)
        conn.execute(update(applications).where(applications.c.sqid == sqid).values(qx=district))
        pzzgzh = conn.execute(select(applications.c.pzzgzh).where(applications.c.sqid == sqid)).scalar_one()
    return Household(jtid, sqid, pzzgzh, people)


def add_households(engine: Engine, n: int, **kwargs: Any) -> list[Household]:
    return [add_household(engine, **kwargs) for _ in range(n)]


def leave_family(engine: Engine, household: Household, ryid: str, on: dt.date) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(family_members)
            .where(family_members.c.jtid == household.jtid, family_members.c.ryid == ryid)
            .values(lkrq=on)
        )


def join_family(engine: Engine, household: Household, ryid: str, relation: str = Relation.OTHER) -> None:
    """Make an existing person a member of another family too."""
    with engine.begin() as conn:
        conn.execute(
            insert(family_members).values(
                gxid=f"GXJ{next(_serial):08d}", jtid=household.jtid, ryid=ryid, ysqrgx=relation, sfzsqr=0
            )
        )
        idn = conn.execute(select(persons.c.sfzh).where(persons.c.ryid == ryid)).scalar_one()
    household.people.append((ryid, idn))


def set_id_number(engine: Engine, ryid: str, value: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(persons).where(persons.c.ryid == ryid).values(sfzh=value))


def outside_zhejiang_id(birth: dt.date = dt.date(1990, 1, 1)) -> str:
    """A valid ID number registered outside Zhejiang (the simulator has no 户籍 record for it)."""
    return id_number(birth, next(_serial), area="110105")
