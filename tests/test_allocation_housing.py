"""房源查询 是否已划拨: the filter and the column agree with the allocation records; start-up checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from soar_ext.allocation.housing import allocated_condition
from soar_ext.db import migrate
from soar_ext.db.codes import AllocationBatchStatus
from soar_ext.db.engine import make_engine
from soar_ext.db.legacy import allocation_batches, allocation_houses, houses, housing_projects, legacy_metadata
from soar_ext.db.paging import count_statement
from soar_ext.errors import InvalidInput
from soar_ext.hooks import allocation
from soar_ext.synthetic import populate
from tests.allocation_builders import add_batch, add_house, put_house
from tests.host_fixtures import make_context, make_host
from tests.soar_env import soar_database

h, x = houses, housing_projects


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = soar_database(f"sqlite:///{tmp_path_factory.mktemp('housing') / 'soar.db'}")
    populate(engine, households=600, seed=5)
    with engine.begin() as conn:  # a cancelled batch: its houses do not count as allocated
        cancelled = add_batch(conn, status=AllocationBatchStatus.CANCELLED)
        for _ in range(3):
            put_house(conn, cancelled, add_house(conn))
        also = add_house(conn)  # in a cancelled and in an open batch: allocated
        put_house(conn, cancelled, also)
        put_house(conn, add_batch(conn), also)
    yield engine
    engine.dispose()


@pytest.fixture
def host():
    return make_host([("allocation", allocation)])


def soar_housing_query():
    """SOAR's 房源查询: houses with their project, by house id."""
    return select(h.c.fyid, x.c.xmmc, h.c.lh, h.c.dy, h.c.fh, h.c.jzmj, h.c.fyzt).select_from(
        h.join(x, x.c.xmid == h.c.xmid)
    )


def expected_allocated(engine: Engine) -> set[str]:
    """From the allocation records, read plainly: houses in a batch that was not cancelled."""
    with engine.connect() as conn:
        status = dict(conn.execute(select(allocation_batches.c.pcid, allocation_batches.c.pczt)).all())
        rows = conn.execute(select(allocation_houses.c.pcid, allocation_houses.c.fyid)).all()
    return {fyid for pcid, fyid in rows if status[pcid] != AllocationBatchStatus.CANCELLED}


def run(engine: Engine, host, filters: dict[str, object]) -> dict[str, str]:
    with engine.connect() as conn:
        built = host.query_build(make_context(conn, host), allocation.SCREEN_HOUSING, soar_housing_query(), filters)
        return {row.fyid: row.allocated for row in conn.execute(built.statement.order_by(h.c.fyid))}


def test_allocated_column_and_filter_agree_with_the_allocation_records(seeded, host) -> None:
    expected = expected_allocated(seeded)
    everything = run(seeded, host, {})
    assert 0 < len(expected) < len(everything)
    assert {fyid for fyid, flag in everything.items() if flag == "1"} == expected
    assert set(everything.values()) == {"0", "1"}
    yes, no = run(seeded, host, {"allocated": "1"}), run(seeded, host, {"allocated": "0"})
    assert set(yes) == expected and set(yes.values()) == {"1"}
    assert set(no) == set(everything) - expected and set(no.values()) == {"0"}


def test_houses_of_a_cancelled_batch_only_are_not_allocated(seeded, host) -> None:
    with seeded.connect() as conn:
        cancelled = conn.execute(
            select(allocation_batches.c.pcid).where(allocation_batches.c.pczt == AllocationBatchStatus.CANCELLED)
        ).scalar_one()
        in_cancelled = set(
            conn.execute(select(allocation_houses.c.fyid).where(allocation_houses.c.pcid == cancelled)).scalars()
        )
    flags = run(seeded, host, {})
    assert sorted(flags[fyid] for fyid in in_cancelled) == ["0", "0", "0", "1"]


def test_capped_total_of_the_filter_counts_the_same_rows(seeded, host) -> None:
    with seeded.connect() as conn:
        ctx = make_context(conn, host)
        built = host.query_build(ctx, allocation.SCREEN_HOUSING, soar_housing_query(), {"allocated": "1"})
        total = conn.execute(count_statement(built.statement)).scalar_one()
        capped = conn.execute(count_statement(built.statement, cap=10)).scalar_one()
    assert total == len(expected_allocated(seeded)) and capped == 11


def test_one_condition_serves_both_answers() -> None:
    sql_yes = str(allocated_condition(True).compile())
    sql_no = str(allocated_condition(False).compile())
    assert sql_no == f"NOT ({sql_yes})"


def test_housing_query_offers_the_filter_and_the_column(seeded, host) -> None:
    with seeded.connect() as conn:
        fields = host.query_fields(make_context(conn, host), allocation.SCREEN_HOUSING)
    assert [(f.key, f.label, f.kind, dict(f.choices)) for f in fields] == [
        ("allocated", "是否已划拨", "filter", {"1": "是", "0": "否"}),
        ("allocated", "是否已划拨", "column", {"1": "是", "0": "否"}),
    ]


def test_a_value_outside_yes_or_no_is_refused(seeded, host) -> None:
    with seeded.connect() as conn, pytest.raises(InvalidInput, match="「是否已划拨」的取值「maybe」不正确"):
        host.query_build(
            make_context(conn, host), allocation.SCREEN_HOUSING, soar_housing_query(), {"allocated": "maybe"}
        )


def test_shadow_mode_leaves_the_housing_query_unchanged(seeded) -> None:
    shadow = make_host([("allocation", allocation)], modes={"allocation": "shadow"})
    base = soar_housing_query()
    with seeded.connect() as conn:
        ctx = make_context(conn, shadow)
        assert shadow.query_build(ctx, allocation.SCREEN_HOUSING, base, {"allocated": "1"}).statement is base
        assert shadow.query_fields(ctx, allocation.SCREEN_HOUSING) == []


# ---------------------------------------------------------------------------------- start-up


def test_startup_is_quiet_when_ready_and_names_bad_settings_and_a_missing_migration(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    engine = soar_database(url)
    with engine.connect() as conn:
        assert make_host([("allocation", allocation)]).startup(make_context(conn, make_host([]))) == []
        bad = make_host(
            [("allocation", allocation)], settings={"allocation": {"area_per_person": "big", "search_limit": 0}}
        )
        (problem,) = bad.startup(make_context(conn, bad))
        assert "allocation.area_per_person must be a number" in problem
    engine.dispose()
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    legacy_metadata.create_all(bare)
    migrate.upgrade(bare, "0001")
    with bare.connect() as conn:
        host = make_host([("allocation", allocation)])
        (problem,) = host.startup(make_context(conn, host))
    assert "sx_alloc_link is missing" in problem and "revision 0006" in problem
    bare.dispose()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"area_per_person": "0.5"}, "between 1 and 100"),
        ({"area_per_person": True}, "must be a number"),
        ({"area_per_person": "NaN"}, "between 1 and 100"),
        ({"search_limit": "2000"}, "search_limit must be a whole number 1-1000"),
        ({"search_limit": "ten"}, "search_limit must be a whole number"),
    ],
)
def test_invalid_settings_are_named(settings, message) -> None:
    from soar_ext.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        allocation.read_settings(settings)
    assert allocation.read_settings({"area_per_person": "12.5", "search_limit": "50"}) == (
        allocation.Decimal("12.5"),
        50,
    )
