"""Re-runs of one verification by two clerks at once, on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from soar_ext.db.extension import verification_snapshots
from soar_ext.hook_payloads import ActionRequest
from soar_ext.hooks import verification
from tests.soar_env import soar_database
from tests.verification_env import add_household, interface_of, make_desk, start_bigdata

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def sim():
    yield from start_bigdata()


@pytest.fixture
def engine(pg_url):
    engine = soar_database(pg_url)
    yield engine
    engine.dispose()


def test_concurrent_reruns_of_one_verification_ask_the_failed_category_once(engine, sim) -> None:
    sim.reset()
    desk = make_desk(engine, sim)
    _family, _application, people = add_household(engine)
    sim.state.set_full_profile(people[0][1])
    sim.faults.take_down("vehicles")
    with engine.begin() as conn:
        first = desk.host.action(
            desk.context(conn), ActionRequest(verification.ACTION_RUN, people[0][0], {"purpose": "年度复核"})
        )
    vid = first.data.verification_id
    sim.faults.bring_up("vehicles")
    sim.delay("vehicles", 0.5)
    asked = sim.faults.requests_for("vehicles")
    results = {}

    def rerun(name: str) -> None:
        with engine.begin() as conn:
            results[name] = desk.host.action(desk.context(conn), ActionRequest(verification.ACTION_RERUN, vid))

    first_clerk = threading.Thread(target=rerun, args=("first",))
    first_clerk.start()
    deadline = time.monotonic() + 5
    while sim.faults.requests_for("vehicles") == asked and time.monotonic() < deadline:
        time.sleep(0.01)  # the first re-run holds the row lock and is asking the gateway now
    second_clerk = threading.Thread(target=rerun, args=("second",))
    second_clerk.start()
    first_clerk.join(10)
    second_clerk.join(10)

    assert results["first"].ok and results["first"].data.view("vehicles").state == "found"
    assert not results["second"].ok and "无需重新查询" in results["second"].message
    assert sim.faults.requests_for("vehicles") == asked + 1
    with engine.connect() as conn:
        attempts = conn.execute(
            select(verification_snapshots.c.attempt, verification_snapshots.c.state)
            .where(verification_snapshots.c.category == "vehicles")
            .order_by(verification_snapshots.c.attempt)
        ).all()
    assert attempts == [(1, "error"), (2, "found")]
    assert interface_of("vehicles") in sim.faults.requests
