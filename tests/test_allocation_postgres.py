"""调房划拨 links and 选房 添加 under concurrency, on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from soar_ext.allocation import page
from soar_ext.db.codes import AllocationKind
from soar_ext.db.extension import allocation_changes, allocation_links
from soar_ext.db.legacy import allocation_applicants
from soar_ext.hook_payloads import ActionRequest, ActionResult
from soar_ext.hooks import allocation
from tests.allocation_builders import add_applicant, add_batch, add_house, add_tenant, put_applicant, put_house
from tests.host_fixtures import make_context, make_host
from tests.soar_env import soar_database

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2024, 7, 1, 10, 0)
WORKERS = 8


@pytest.fixture
def engine(pg_url):
    engine = soar_database(pg_url)
    yield engine
    engine.dispose()


def race(engine, requests: list[ActionRequest]) -> list[ActionResult]:
    """Each request in its own transaction, all released at once; each commits after its action."""
    host = make_host([("allocation", allocation)], strict=True)
    barrier = threading.Barrier(len(requests))

    def one(request: ActionRequest) -> ActionResult:
        with engine.begin() as conn:
            ctx = make_context(conn, host, clock=lambda: NOW)
            barrier.wait(timeout=20)
            return host.action(ctx, request)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _link_request(pcid: str, sqid: str, fyid: str) -> ActionRequest:
    return ActionRequest(page.ACTION_LINK, pcid, {"application_id": sqid, "house_id": fyid}, plugin="allocation")


def _assert_exactly_one(engine, results: list[ActionResult], refusal: str) -> None:
    assert sum(r.ok for r in results) == 1, [r.message for r in results]
    for result in results:
        if not result.ok:
            assert refusal in result.message, result.message
            assert "出错" not in result.message
    assert _count(engine, allocation_links) == 1
    assert _count(engine, allocation_changes) == 1


def test_eight_clerks_linking_one_house_to_different_applicants_of_a_batch_link_it_once(engine) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn)
        house = add_house(conn)
        put_house(conn, pcid, house)
        applicants = []
        for n in range(WORKERS):
            sqid, _ = add_tenant(conn, f"并发户{n}")
            put_applicant(conn, pcid, sqid)
            applicants.append(sqid)
    results = race(engine, [_link_request(pcid, sqid, house) for sqid in applicants])
    _assert_exactly_one(engine, results, "一套房源只能关联一名申请人")


def test_eight_open_batches_linking_one_house_link_it_once(engine) -> None:
    """Different batches: only the unique constraint on the held house (open_fyid) can decide."""
    with engine.begin() as conn:
        house = add_house(conn)
        requests = []
        for n in range(WORKERS):
            pcid = add_batch(conn)
            put_house(conn, pcid, house)
            sqid, _ = add_tenant(conn, f"跨批次户{n}")
            put_applicant(conn, pcid, sqid)
            requests.append(_link_request(pcid, sqid, house))
    results = race(engine, requests)
    _assert_exactly_one(engine, results, "已在办理中的批次")


def test_eight_clerks_linking_one_applicant_to_different_houses_link_them_once(engine) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn)
        applicant, _ = add_tenant(conn, "一人多房")
        put_applicant(conn, pcid, applicant)
        houses = []
        for _n in range(WORKERS):
            fyid = add_house(conn)
            put_house(conn, pcid, fyid)
            houses.append(fyid)
    results = race(engine, [_link_request(pcid, applicant, fyid) for fyid in houses])
    _assert_exactly_one(engine, results, "不能再关联其他房源")


def test_eight_open_batches_linking_one_applicant_link_them_once(engine) -> None:
    with engine.begin() as conn:
        applicant, _ = add_tenant(conn, "跨批次一人")
        requests = []
        for _n in range(WORKERS):
            pcid = add_batch(conn)
            put_applicant(conn, pcid, applicant)
            fyid = add_house(conn)
            put_house(conn, pcid, fyid)
            requests.append(_link_request(pcid, applicant, fyid))
    results = race(engine, requests)
    _assert_exactly_one(engine, results, "已在办理中的批次")


def test_concurrent_relinks_to_one_free_house_move_exactly_one_applicant(engine) -> None:
    host = make_host([("allocation", allocation)], strict=True)
    with engine.begin() as conn:
        pcid = add_batch(conn)
        target = add_house(conn)
        put_house(conn, pcid, target)
        applicants = []
        for n in range(WORKERS):
            sqid, _ = add_tenant(conn, f"改关联户{n}")
            put_applicant(conn, pcid, sqid)
            fyid = add_house(conn)
            put_house(conn, pcid, fyid)
            applicants.append(sqid)
            host.action(make_context(conn, host, clock=lambda: NOW), _link_request(pcid, sqid, fyid))
    relinks = [
        ActionRequest(page.ACTION_RELINK, pcid, {"application_id": s, "house_id": target}, plugin="allocation")
        for s in applicants
    ]
    results = race(engine, relinks)
    assert sum(r.ok for r in results) == 1, [r.message for r in results]
    assert _count(engine, allocation_links, allocation_links.c.fyid == target) == 1
    assert _count(engine, allocation_links) == WORKERS, "the others keep their own house"


def test_two_clerks_adding_one_person_to_two_selection_batches_add_once(engine) -> None:
    with engine.begin() as conn:
        person, _jtid, _idn = add_applicant(conn, "抢添加")
        batches = [add_batch(conn, AllocationKind.SELECTION) for _ in range(WORKERS)]
    requests = [ActionRequest(page.ACTION_ADD, pcid, {"selected": [person]}, plugin="allocation") for pcid in batches]
    results = race(engine, requests)
    assert sum("已添加 1 人" in r.message for r in results) == 1, [r.message for r in results]
    assert all("已在办理中的划拨批次" in r.message for r in results if "已添加 1 人" not in r.message)
    assert _count(engine, allocation_applicants, allocation_applicants.c.sqid == person) == 1
