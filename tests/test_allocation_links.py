"""调房划拨: one-to-one applicant↔house links through the host — 关联, 改为关联, 解除关联, 推荐配对."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from soar_ext.allocation import page
from soar_ext.context import Operator
from soar_ext.db.codes import AllocationBatchStatus, AllocationKind
from soar_ext.db.extension import allocation_changes, allocation_links
from soar_ext.hook_payloads import ActionButton, ActionRequest, AllocationSelection, DetailView, KeyValues, Table
from soar_ext.hooks import allocation
from tests.allocation_builders import (
    add_batch,
    add_house,
    add_tenant,
    adjustment_batch,
    put_applicant,
    put_house,
    set_batch_status,
)
from tests.host_fixtures import CLERK, make_context, make_host
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)
L, C = allocation_links, allocation_changes


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def host():
    return make_host([("allocation", allocation)])


_ticks = itertools.count(1)


def act(engine, host, key: str, target: str | None, *, operator: Operator = CLERK, **params):
    """One click, in its own transaction, a second after the previous one."""
    at = NOW + dt.timedelta(seconds=next(_ticks))
    with engine.begin() as conn:
        ctx = make_context(conn, host, operator=operator, clock=lambda: at)
        return host.action(ctx, ActionRequest(key=key, target=target, params=params, plugin="allocation"))


def link(engine, host, pcid, sqid, fyid, **kw):
    return act(engine, host, page.ACTION_LINK, pcid, application_id=sqid, house_id=fyid, **kw)


def links_of(engine, pcid: str | None = None) -> dict[str, str]:
    with engine.connect() as conn:
        stmt = select(L.c.sqid, L.c.fyid)
        if pcid:
            stmt = stmt.where(L.c.pcid == pcid)
        return dict(conn.execute(stmt).all())


def changes(engine) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(C.c.action, C.c.fyid_before, C.c.fyid_after).order_by(C.c.changed_at, C.c.id))
        return [tuple(r) for r in rows]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# ---------------------------------------------------------------------------------- 关联


def test_link_connects_an_applicant_to_a_house_and_records_who_and_when(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    result = link(engine, host, pcid, sqids[0], fyids[1])
    assert result.ok, result.message
    assert result.message.startswith("已将申请人调房户甲0关联到房源城西公租房3幢1单元")
    assert links_of(engine) == {sqids[0]: fyids[1]}
    with engine.connect() as conn:
        row = conn.execute(select(L)).mappings().one()
        change = conn.execute(select(C)).mappings().one()
    assert (row["open_sqid"], row["open_fyid"], row["source"]) == (sqids[0], fyids[1], "manual")
    assert (row["operator_id"], row["operator_name"]) == ("u001", "王经办") and row["linked_at"] > NOW
    assert (change["action"], change["fyid_before"], change["fyid_after"]) == ("link", None, fyids[1])
    assert (change["operator_id"], change["operator_name"], change["changed_at"]) == (
        "u001",
        "王经办",
        row["linked_at"],
    )


def test_a_house_linked_to_one_applicant_is_refused_to_another_with_the_holder_named(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    refused = link(engine, host, pcid, sqids[1], fyids[0])
    assert not refused.ok
    assert "已在本批次关联给申请人调房户甲0" in refused.message and "一套房源只能关联一名申请人" in refused.message
    assert links_of(engine) == {sqids[0]: fyids[0]} and len(changes(engine)) == 1


def test_an_applicant_already_linked_is_told_to_use_relink(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    refused = link(engine, host, pcid, sqids[0], fyids[1])
    assert not refused.ok and "已在本批次关联房源" in refused.message and "改为关联" in refused.message
    assert links_of(engine) == {sqids[0]: fyids[0]}


@pytest.mark.parametrize("missing", ["applicant", "house"])
def test_an_applicant_or_house_not_in_the_batch_is_refused_and_nothing_written(engine, host, missing) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
        outsider_sqid, _ = add_tenant(conn, "批次外人员")
        outsider_house = add_house(conn)
    sqid, fyid = (outsider_sqid, fyids[0]) if missing == "applicant" else (sqids[0], outsider_house)
    refused = link(engine, host, pcid, sqid, fyid)
    assert not refused.ok
    expected = "所选申请人" if missing == "applicant" else "所选房源"
    assert expected in refused.message and "不在批次" in refused.message
    assert count(engine, L) == 0 and count(engine, C) == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"application_id": None, "house_id": "X"}, "请选择申请人"),
        ({"application_id": ["a"], "house_id": "X"}, "请选择申请人"),
        ({"application_id": "S", "house_id": ""}, "不在批次"),
    ],
)
def test_malformed_link_requests_get_a_clear_message(engine, host, params, message) -> None:
    with engine.begin() as conn:
        pcid, sqids, _fyids = adjustment_batch(conn)
    if params["application_id"] == "S":
        params = {**params, "application_id": sqids[0]}
    result = act(engine, host, page.ACTION_LINK, pcid, **params)
    assert not result.ok
    assert message in result.message or "请选择划拨房源" in result.message
    assert count(engine, L) == 0


def test_unknown_batch_is_reported(engine, host) -> None:
    result = link(engine, host, "NO-SUCH-BATCH", "S", "F")
    assert not result.ok and "未找到划拨批次" in result.message


def test_a_house_held_by_another_open_batch_is_refused_until_that_batch_is_completed(engine, host) -> None:
    with engine.begin() as conn:
        first, (a1,), (house,) = adjustment_batch(conn, applicants=1, areas=("55.00",))
        second, (a2,), _ = adjustment_batch(conn, applicants=1, areas=("60.00",))
        put_house(conn, second, house)  # SOAR let the same house into both batches' lists
    assert link(engine, host, first, a1, house).ok
    refused = link(engine, host, second, a2, house)
    assert not refused.ok and "办理中的批次「测试调房划拨批次" in refused.message
    with engine.begin() as conn:
        set_batch_status(conn, first, AllocationBatchStatus.COMPLETED)
    accepted = link(engine, host, second, a2, house)
    assert accepted.ok, accepted.message
    with engine.connect() as conn:
        rows = {r.pcid: (r.open_fyid, r.open_sqid) for r in conn.execute(select(L))}
    assert rows == {first: (None, None), second: (house, a2)}  # the completed batch's link no longer holds


def test_an_applicant_held_by_another_open_batch_is_refused(engine, host) -> None:
    with engine.begin() as conn:
        first, (applicant,), (h1,) = adjustment_batch(conn, applicants=1, areas=("55.00",))
        second = add_batch(conn)
        put_applicant(conn, second, applicant)
        h2 = add_house(conn)
        put_house(conn, second, h2)
    assert link(engine, host, first, applicant, h1).ok
    refused = link(engine, host, second, applicant, h2)
    assert not refused.ok and "已在办理中的批次" in refused.message and "请先在该批次解除关联" in refused.message


@pytest.mark.parametrize("status", [AllocationBatchStatus.COMPLETED, AllocationBatchStatus.CANCELLED])
def test_links_of_a_closed_batch_cannot_change(engine, host, status) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
        set_batch_status(conn, pcid, status)
    refused = link(engine, host, pcid, sqids[0], fyids[0])
    label = AllocationBatchStatus.LABELS[status]
    assert not refused.ok and f"状态为「{label}」" in refused.message
    assert count(engine, L) == 0


def test_links_are_for_adjustment_batches_only(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
    refused = link(engine, host, pcid, "S", "F")
    assert not refused.ok and "只用于调房划拨批次" in refused.message


def test_only_clerks_may_change_links(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    viewer = Operator(id="u777", name="查询员", roles=frozenset({"inspector"}))
    refused = link(engine, host, pcid, sqids[0], fyids[0], operator=viewer)
    assert not refused.ok and "您没有「业务经办」权限" in refused.message
    assert count(engine, L) == 0


def test_shadow_mode_checks_and_writes_nothing(engine) -> None:
    host = make_host([("allocation", allocation)], modes={"allocation": "shadow"})
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    result = link(engine, host, pcid, sqids[0], fyids[0])
    assert result.ok and result.message.startswith("[试运行]校验通过") and "本次未写入" in result.message
    assert count(engine, L) == 0 and count(engine, C) == 0


def test_off_mode_offers_nothing(engine) -> None:
    host = make_host([("allocation", allocation)], modes={"allocation": "off"})
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    result = link(engine, host, pcid, sqids[0], fyids[0])
    assert not result.ok and "未找到操作" in result.message


# ---------------------------------------------------------------------------------- 改为关联, 解除关联


def test_relink_moves_the_link_in_one_step_and_records_before_and_after(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    moved = act(engine, host, page.ACTION_RELINK, pcid, application_id=sqids[0], house_id=fyids[2])
    assert moved.ok and "改为房源" in moved.message
    assert links_of(engine) == {sqids[0]: fyids[2]}
    assert changes(engine) == [("link", None, fyids[0]), ("relink", fyids[0], fyids[2])]


def test_relink_to_a_house_linked_to_someone_else_is_refused_and_keeps_both_links(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    assert link(engine, host, pcid, sqids[1], fyids[1]).ok
    refused = act(engine, host, page.ACTION_RELINK, pcid, application_id=sqids[0], house_id=fyids[1])
    assert not refused.ok and "已在本批次关联给申请人" in refused.message
    assert links_of(engine) == {sqids[0]: fyids[0], sqids[1]: fyids[1]}


def test_relink_of_an_unlinked_applicant_points_to_link(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    refused = act(engine, host, page.ACTION_RELINK, pcid, application_id=sqids[0], house_id=fyids[1])
    assert not refused.ok and "尚未关联房源" in refused.message and "请使用「关联」" in refused.message


def test_unlink_frees_the_house_for_another_applicant(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    freed = act(engine, host, page.ACTION_UNLINK, pcid, application_id=sqids[0])
    assert freed.ok and freed.message.startswith("已解除申请人")
    assert links_of(engine) == {}
    assert link(engine, host, pcid, sqids[1], fyids[0]).ok
    assert [c[0] for c in changes(engine)] == ["link", "unlink", "link"]


def _assert_one_to_one(engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(L.c.pcid, L.c.sqid, L.c.fyid, L.c.open_sqid, L.c.open_fyid)).all()
    for column in (1, 2):
        per_batch = Counter((row[0], row[column]) for row in rows)
        assert max(per_batch.values(), default=1) == 1
    for column in (3, 4):
        held = Counter(row[column] for row in rows if row[column] is not None)
        assert max(held.values(), default=1) == 1


def test_one_to_one_holds_after_every_step_of_a_random_sequence_of_changes(engine, host) -> None:
    with engine.begin() as conn:
        first, sqids, fyids = adjustment_batch(conn, applicants=4, areas=("40", "50", "60", "70"))
        second = add_batch(conn)
        for sqid in sqids[:2]:
            put_applicant(conn, second, sqid)
        for fyid in fyids[1:3]:
            put_house(conn, second, fyid)
    rng = random.Random(11)
    model: dict[tuple[str, str], str] = {}  # (batch, applicant) -> house, as the rule allows it
    accepted = refused = 0
    for _step in range(120):
        pcid = rng.choice((first, second))
        pool_s = sqids if pcid == first else sqids[:2]
        pool_h = fyids if pcid == first else fyids[1:3]
        sqid, fyid = rng.choice(pool_s), rng.choice(pool_h)
        action = rng.choice((page.ACTION_LINK, page.ACTION_RELINK, page.ACTION_UNLINK))
        result = act(engine, host, action, pcid, application_id=sqid, house_id=fyid)
        holds_applicant = any(s == sqid for (_b, s) in model)
        holds_house = fyid in model.values()
        mine = model.get((pcid, sqid))
        if action == page.ACTION_LINK:
            allowed = not holds_applicant and not holds_house
        elif action == page.ACTION_RELINK:
            allowed = mine is not None and mine != fyid and not holds_house
        else:
            allowed = mine is not None
        assert result.ok == allowed, (action, result.message)
        if allowed:
            accepted += 1
            if action == page.ACTION_UNLINK:
                del model[(pcid, sqid)]
            else:
                model[(pcid, sqid)] = fyid
        else:
            refused += 1
        _assert_one_to_one(engine)
        assert {(b, s): f for b, s, f in _all_links(engine)} == model
    assert accepted > 20 and refused > 20


def _all_links(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(L.c.pcid, L.c.sqid, L.c.fyid))]


# ---------------------------------------------------------------------------------- 推荐配对


def test_suggestion_follows_lottery_order_and_gives_the_smallest_house_that_fits(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn)
        late, _ = add_tenant(conn, "后号三口", size=3, lottery=(2022, 2, 9))
        early, _ = add_tenant(conn, "先号一口", size=1, lottery=(2022, 2, 1))
        big, _ = add_tenant(conn, "中号五口", size=5, lottery=(2022, 2, 5))
        for sqid in (late, early, big):
            put_applicant(conn, pcid, sqid)
        houses = {}
        for area in ("35.00", "50.00", "90.00"):
            houses[area] = add_house(conn, area)
            put_house(conn, pcid, houses[area])
    result = act(engine, host, page.ACTION_SUGGEST, pcid)
    assert result.ok, result.message
    assert result.data["pairs"] == [[early, houses["35.00"]], [big, houses["90.00"]], [late, houses["50.00"]]]
    notice, table, accept = result.content
    assert "摇号年度、期数、顺序号" in notice.text and "家庭人数 × 15㎡" in notice.text
    assert isinstance(table, Table) and [row.cells[1] for row in table.rows] == ["先号一口", "中号五口", "后号三口"]
    assert isinstance(accept, ActionButton) and accept.key == page.ACTION_ACCEPT and accept.params["pairs"]
    assert count(engine, L) == 0, "a suggestion writes nothing"


def test_suggestion_marks_a_family_whose_house_is_too_small_and_one_left_without(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn)
        first, _ = add_tenant(conn, "六口之家", size=6, lottery=(2021, 1, 1))
        second, _ = add_tenant(conn, "无房可配", size=1, lottery=(2021, 1, 2))
        for sqid in (first, second):
            put_applicant(conn, pcid, sqid)
        small = add_house(conn, "40.00")
        put_house(conn, pcid, small)
    result = act(engine, host, page.ACTION_SUGGEST, pcid)
    table = result.content[1]
    assert [row.cells[-1] for row in table.rows] == ["面积不足（需≥90㎡），为剩余最大房源", "无可用房源"]
    assert result.data["pairs"] == [[first, small]]


def test_accepting_the_whole_suggestion_links_every_pair(engine, host) -> None:
    with engine.begin() as conn:
        pcid, _sqids, _fyids = adjustment_batch(conn)
    pairs = act(engine, host, page.ACTION_SUGGEST, pcid).data["pairs"]
    accepted = act(engine, host, page.ACTION_ACCEPT, pcid, pairs=pairs)
    assert accepted.ok and "关联 3 对" in accepted.message
    assert links_of(engine) == {s: f for s, f in pairs}
    with engine.connect() as conn:
        assert set(conn.execute(select(L.c.source)).scalars()) == {"suggested"}


def test_a_stale_suggestion_writes_nothing(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, _fyids = adjustment_batch(conn)
    pairs = act(engine, host, page.ACTION_SUGGEST, pcid).data["pairs"]
    taken_house = pairs[1][1]
    other = next(s for s in sqids if s not in (pairs[0][0], pairs[1][0]))
    assert link(engine, host, pcid, other, taken_house).ok  # a colleague linked meanwhile
    stale = act(engine, host, page.ACTION_ACCEPT, pcid, pairs=pairs)
    assert not stale.ok and stale.message.startswith("推荐配对已过期") and "请重新点击「推荐配对」" in stale.message
    assert links_of(engine) == {other: taken_house}


@pytest.mark.parametrize("pairs", [None, [], "x", [["a"]], [["S0", "F0"], ["S0", "F1"]]])
def test_malformed_or_duplicated_pairs_are_refused(engine, host, pairs) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    if pairs and pairs != "x" and len(pairs[0]) == 2:
        pairs = [[sqids[0], fyids[0]], [sqids[0], fyids[1]]]
    result = act(engine, host, page.ACTION_ACCEPT, pcid, pairs=pairs)
    assert not result.ok and ("推荐配对" in result.message)
    assert count(engine, L) == 0


# ---------------------------------------------------------------------------------- the batch page


def _detail(engine, host, pcid):
    with engine.begin() as conn:
        return host.detail_view(make_context(conn, host, clock=lambda: NOW), DetailView(allocation.ENTITY_BATCH, pcid))


def test_batch_page_shows_the_link_table_with_row_actions_and_the_page_actions(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    shown = {c.key: c for c in _detail(engine, host, pcid)}
    assert list(shown) == [
        "allocation.summary",
        "allocation.links",
        "allocation.free_houses",
        page.ACTION_SUGGEST,
        page.ACTION_EXPORT,
    ]
    assert all(c.plugin == "allocation" for c in shown.values())
    summary = shown["allocation.summary"].content
    assert isinstance(summary, KeyValues) and ("已关联", "1 对") in summary.items
    (table,) = shown["allocation.links"].content
    linked, unlinked = table.rows[0], table.rows[1]
    assert linked.cells[2].count("*") == 8, "ID numbers are masked on the page"
    assert linked.cells[5].startswith("城西公租房3幢1单元") and linked.cells[5].endswith("室")  # 原房源
    assert [a.key for a in linked.actions] == [page.ACTION_RELINK, page.ACTION_UNLINK]
    assert set(linked.actions[0].inputs[0].choices) == set(fyids[1:])
    assert [a.key for a in unlinked.actions] == [page.ACTION_LINK]
    assert shown[page.ACTION_EXPORT].enabled and shown[page.ACTION_SUGGEST].enabled


def test_closed_batch_page_has_no_change_actions(engine, host) -> None:
    with engine.begin() as conn:
        pcid, _sqids, _fyids = adjustment_batch(conn)
        set_batch_status(conn, pcid, AllocationBatchStatus.COMPLETED)
    shown = {c.key: c for c in _detail(engine, host, pcid)}
    (table,) = shown["allocation.links"].content
    assert all(not row.actions for row in table.rows)
    assert not shown[page.ACTION_SUGGEST].enabled and "已办结" in shown[page.ACTION_SUGGEST].hint


def test_detail_view_of_another_entity_or_a_missing_batch(engine, host) -> None:
    with engine.begin() as conn:
        ctx = make_context(conn, host)
        assert host.detail_view(ctx, DetailView("person", "RY1")) == []
        (missing,) = host.detail_view(ctx, DetailView(allocation.ENTITY_BATCH, "NOPE"))
    assert missing.content.tone == "error" and "未找到划拨批次" in missing.content.text


def test_selection_confirmed_clears_links_of_people_and_houses_taken_out_of_the_batch(engine, host) -> None:
    from sqlalchemy import delete

    from soar_ext.db.legacy import allocation_applicants

    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    assert link(engine, host, pcid, sqids[1], fyids[1]).ok
    with engine.begin() as conn:  # the clerk deselected the first applicant in SOAR
        conn.execute(
            delete(allocation_applicants).where(
                allocation_applicants.c.pcid == pcid, allocation_applicants.c.sqid == sqids[0]
            )
        )
        ctx = make_context(conn, host, clock=lambda: NOW + dt.timedelta(days=1))
        shown = host.allocation_selected(ctx, AllocationSelection(pcid, AllocationKind.ADJUSTMENT, sqids[1:], fyids))
    assert shown[0].key == "allocation.notices" and "已清除 1 条关联" in shown[0].content.text
    assert links_of(engine) == {sqids[1]: fyids[1]}
    assert changes(engine)[-1] == ("drop", fyids[0], None)


def test_selection_with_unknown_kind_is_refused(engine, host) -> None:
    from soar_ext.errors import InvalidInput

    with engine.begin() as conn, pytest.raises(InvalidInput, match="未知的划拨类型代码"):
        host.allocation_selected(make_context(conn, host), AllocationSelection("P", "09"))


def test_in_shadow_mode_a_confirmed_selection_clears_nothing_and_shows_nothing(engine, host) -> None:
    from sqlalchemy import delete

    from soar_ext.db.legacy import allocation_houses

    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn)
    assert link(engine, host, pcid, sqids[0], fyids[0]).ok
    shadow = make_host([("allocation", allocation)], modes={"allocation": "shadow"})
    with engine.begin() as conn:
        conn.execute(delete(allocation_houses).where(allocation_houses.c.fyid == fyids[0]))
        shown = shadow.allocation_selected(
            make_context(conn, shadow), AllocationSelection(pcid, AllocationKind.ADJUSTMENT, sqids, fyids[1:])
        )
    assert shown == []
    assert links_of(engine) == {sqids[0]: fyids[0]}, "shadow mode writes nothing"


def test_when_every_house_is_linked_rows_offer_only_unlink_and_the_table_says_why(engine, host) -> None:
    with engine.begin() as conn:
        pcid, sqids, fyids = adjustment_batch(conn, applicants=2, areas=("50", "60"))
    for sqid, fyid in zip(sqids, fyids, strict=True):
        assert link(engine, host, pcid, sqid, fyid).ok
    shown = {c.key: c for c in _detail(engine, host, pcid)}
    (table,) = shown["allocation.links"].content
    assert [[a.key for a in row.actions] for row in table.rows] == [[page.ACTION_UNLINK]] * 2
    assert "均已关联" in table.note
