"""配建项目 surveying link over loopback: matching, confirmation, figures, re-sync, fallback, the flag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from soar_ext.adapters.simulators.survey import SimHouse, simulated_houses, survey_catalog
from soar_ext.coconstruction import page
from soar_ext.coconstruction.names import match_projects, normalise_name
from soar_ext.context import Operator
from soar_ext.hook_payloads import KeyValues, Notice, Table
from tests.coconstruction_env import Bench, Simulators, bench_on, start_simulators

CATALOG = survey_catalog(2019)


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    yield from start_simulators()


@pytest.fixture
def bench(tmp_path: Path, sims: Simulators) -> Iterator[Bench]:
    b = bench_on(f"sqlite:///{tmp_path / 'soar.db'}", sims)
    yield b
    b.close()


def sums(number: str) -> tuple[Decimal, Decimal | None, int]:
    houses = simulated_houses(number)
    measured = [h.measured_area for h in houses if h.measured_area is not None]
    return (
        sum((h.predicted_area for h in houses), Decimal(0)),
        sum(measured, Decimal(0)) if measured else None,
        len(houses),
    )


def blocks_of(bench: Bench, project_id: str) -> list:
    (survey, _documents) = bench.page(project_id)
    return list(survey.content)


def texts(blocks: list) -> str:
    out = []
    for b in blocks:
        if isinstance(b, KeyValues):
            out += [f"{k}={v}" for k, v in b.items] + [b.badge.text if b.badge else ""]
        elif isinstance(b, Notice):
            out.append(b.text)
        elif isinstance(b, Table):
            out += [str(c) for row in b.rows for c in row.cells]
    return "\n".join(out)


# ------------------------------------------------------------------------------ names


def test_normalisation_folds_width_spaces_brackets_and_suffixes() -> None:
    assert normalise_name("钱江世纪城R12-03地块配建项目") == "钱江世纪城R12-03"
    assert normalise_name(" 钱江世纪城 Ｒ１２－０３（地块） ") == "钱江世纪城R12-03"
    assert normalise_name("【钱江世纪城】R12-03项目") == "钱江世纪城R12-03"
    assert normalise_name("地块") == "地块"  # a suffix alone is a name


def test_match_links_only_one_candidate_agreeing_on_number_and_name() -> None:
    assert match_projects("A1", "甲地块", [("A1", "甲地块")]).kind == "exact"
    assert match_projects("A1", "甲 地块", [("A1", "甲地块配建项目")]).kind == "normalised"
    other_name = match_projects("A1", "甲地块", [("A1", "乙地块")])
    assert other_name.linked is None and other_name.candidates[0].reason == "编号一致，名称不同"
    other_number = match_projects("A1", "甲地块", [("B2", "甲地块")])
    assert other_number.linked is None and other_number.candidates[0].reason == "名称一致，编号不同"
    several = match_projects("A1", "甲地块", [("A1", "甲地块"), ("B2", "甲项目")])
    assert several.linked is None and len(several.candidates) == 2
    assert match_projects("A1", "甲地块", [("C3", "丙地块")]).not_found


# ------------------------------------------------------------------------------ linking


def test_exact_match_links_and_takes_sums_and_count_over_the_surveyed_houses(bench: Bench) -> None:
    number, name = CATALOG[0]
    pid = bench.new_project(number, name)
    link = bench.link(pid)
    predicted, measured, count = sums(number)
    assert (link.link_state, link.match_kind, link.chxmbh, link.source) == ("linked", "exact", number, "service")
    assert (link.ycjzmj, link.scjzmj, link.fyts) == (predicted, measured, count)
    assert link.synced_at is not None
    shown = texts(blocks_of(bench, pid))
    assert f"房源数量={count} 套" in shown and "已关联" in shown and f"预测面积={predicted:,.2f} ㎡" in shown


def test_match_after_normalisation_links_a_differently_written_name(bench: Bench) -> None:
    number, name = CATALOG[3]
    core = normalise_name(name)
    written = " " + core.translate(str.maketrans("0123456789-", "０１２３４５６７８９－")) + "（地块）"
    pid = bench.new_project(number, written)
    link = bench.link(pid)
    assert (link.link_state, link.match_kind, link.chxmmc) == ("linked", "normalised", name)
    assert link.fyts == len(simulated_houses(number))


def test_number_match_with_another_name_waits_for_confirmation_and_links_nothing(bench: Bench) -> None:
    number, _name = CATALOG[1]
    pid = bench.new_project(number, "完全不同的名称地块")
    link = bench.link(pid)
    assert link.link_state == "pending" and link.chxmbh is None
    assert (link.ycjzmj, link.scjzmj, link.fyts) == (None, None, None)
    blocks = blocks_of(bench, pid)
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert [row.cells[0] for row in table.rows] == [number]
    assert table.rows[0].cells[2] == "编号一致，名称不同"
    (button,) = table.rows[0].actions
    assert button.key == page.ACTION_CONFIRM and button.params == {page.P_SURVEY_NUMBER: number}

    result = bench.action(page.ACTION_CONFIRM, pid, survey_number=number)
    assert result.ok, result.message
    link = bench.link(pid)
    predicted, measured, count = sums(number)
    assert (link.link_state, link.match_kind, link.chxmbh, link.confirmed_by) == ("linked", "confirmed", number, "u001")
    assert (link.ycjzmj, link.scjzmj, link.fyts) == (predicted, measured, count)
    bench.save(pid)  # a later save keeps the confirmed link
    assert bench.link(pid).match_kind == "confirmed"


def test_name_match_with_another_number_and_several_candidates_wait_for_confirmation(bench: Bench) -> None:
    number, name = CATALOG[2]
    pid = bench.new_project("PJ2019-9999", name)
    assert bench.link(pid).link_state == "pending"
    bench.sims.survey_state.add_project("CH-7001", normalise_name(name) + "项目")
    bench.save(pid)
    link = bench.link(pid)
    assert link.link_state == "pending" and link.chxmbh is None
    assert {c["number"] for c in page.sync.candidates_of(link)} == {number, "CH-7001"}


def test_confirmation_accepts_only_a_recorded_candidate_and_needs_the_clerk_role(bench: Bench) -> None:
    number, _name = CATALOG[1]
    pid = bench.new_project(number, "另一个名称")
    refused = bench.action(page.ACTION_CONFIRM, pid, survey_number=CATALOG[5][0])
    assert not refused.ok and "不在本项目待确认的候选列表中" in refused.message
    empty = bench.action(page.ACTION_CONFIRM, pid, survey_number="")
    assert not empty.ok and "请选择要关联的测绘项目" in empty.message
    trainee = Operator(id="t1", name="实习生", roles=frozenset())
    denied = bench.action(page.ACTION_CONFIRM, pid, operator=trainee, survey_number=number)
    assert not denied.ok and "业务经办" in denied.message
    assert bench.link(pid).link_state == "pending"


def test_project_matching_nothing_says_so_in_chinese(bench: Bench) -> None:
    pid = bench.new_project("PJ1999-0001", "不存在的地块")
    assert bench.link(pid).link_state == "not_found"
    shown = texts(blocks_of(bench, pid))
    assert "测绘系统中未找到项目编号为「PJ1999-0001」或名称为「不存在的地块」的测绘项目" in shown


# ------------------------------------------------------------------------------ figures


def test_resync_picks_up_changed_survey_data(bench: Bench) -> None:
    number, name = CATALOG[0]
    pid = bench.new_project(number, name)
    before = bench.link(pid)
    house = simulated_houses(number)[0]
    bench.sims.survey_state.set_measured(house.house_id, house.predicted_area + 10)
    result = bench.action(page.ACTION_RESYNC, pid)
    assert result.ok, result.message
    after = bench.link(pid)
    old = house.measured_area or Decimal(0)
    assert after.scjzmj == (before.scjzmj or Decimal(0)) - old + house.predicted_area + 10
    assert after.synced_at >= before.synced_at


def _houses(number: str, factor: str) -> list[SimHouse]:
    return [
        SimHouse(
            f"{number}-1-1-{i:04d}", "1幢", "1单元", 1, str(i), Decimal("80.00"), Decimal("80.00") * Decimal(factor)
        )
        for i in range(10)
    ]


def test_discrepancy_above_the_configured_percent_is_flagged_and_shown(bench: Bench) -> None:
    bench.sims.survey_state.add_project("CH-8001", "偏差测试甲地块", _houses("CH-8001", "1.05"))
    bench.sims.survey_state.add_project("CH-8002", "偏差测试乙地块", _houses("CH-8002", "1.02"))
    far = bench.new_project("CH-8001", "偏差测试甲地块")
    near = bench.new_project("CH-8002", "偏差测试乙地块")
    assert (bench.link(far).flagged, bench.link(far).deviation_pct) == (1, Decimal("5.00"))
    assert (bench.link(near).flagged, bench.link(near).deviation_pct) == (0, Decimal("2.00"))
    shown = texts(blocks_of(bench, far))
    assert "面积偏差超限" in shown and "超过设定的 3%" in shown


def test_discrepancy_percent_comes_from_the_settings(tmp_path: Path, sims: Simulators) -> None:
    bench = bench_on(f"sqlite:///{tmp_path / 'one.db'}", sims, settings={"discrepancy_percent": "1.5"})
    try:
        sims.survey_state.add_project("CH-8003", "偏差测试丙地块", _houses("CH-8003", "1.02"))
        pid = bench.new_project("CH-8003", "偏差测试丙地块")
        assert bench.link(pid).flagged == 1
    finally:
        bench.close()


# ------------------------------------------------------------------------------ the service down


def test_local_copy_is_used_only_while_the_service_is_down_and_never_overwrites_service_figures(
    bench: Bench,
) -> None:
    number, name = CATALOG[4]
    updated = dt.datetime(2023, 5, 6, 9, 30)
    bench.local_copy(number, name, [("50.00", None), ("60.00", "61.00")], updated)
    bench.sims.survey_state.plan.set("status_5xx", None)  # down for every request
    pid = bench.new_project(number, name)
    local = bench.link(pid)
    assert (local.source, local.source_date, local.ycjzmj, local.scjzmj, local.fyts) == (
        "local",
        updated,
        Decimal("110.00"),
        Decimal("61.00"),
        2,
    )
    assert "测绘服务暂不可用" in local.last_error
    shown = texts(blocks_of(bench, pid))
    assert "SOAR 本地测绘数据（测绘服务不可用时的临时数据，更新于 2023-05-06）" in shown

    bench.sims.survey_state.plan.clear()
    assert bench.action(page.ACTION_RESYNC, pid).ok
    predicted, measured, count = sums(number)
    served = bench.link(pid)
    assert (served.source, served.ycjzmj, served.fyts, served.last_error) == ("service", predicted, count, None)

    bench.sims.survey_state.plan.set("status_5xx", None)
    bench.save(pid)
    kept = bench.link(pid)
    assert (kept.source, kept.ycjzmj, kept.scjzmj, kept.fyts) == ("service", predicted, measured, count)
    assert kept.last_error and kept.synced_at == served.synced_at
    assert "最近一次同步" in texts(blocks_of(bench, pid))
    bench.sims.survey_state.plan.clear()


def test_a_slow_surveying_service_holds_the_save_no_longer_than_the_budget(tmp_path: Path, sims: Simulators) -> None:
    import time

    from soar_ext.adapters.simulators.config import SimulatorConfig

    bench = bench_on(f"sqlite:///{tmp_path / 'slow.db'}", sims, settings={"survey_timeout_seconds": "0.6"})
    try:
        sims.survey_state.configure(SimulatorConfig(latency_ms=(400, 400)))
        number, name = CATALOG[6]
        started = time.monotonic()
        pid = bench.new_project(number, name)  # three calls of 0.4 s each would need 1.2 s
        assert time.monotonic() - started < 1.1
        link = bench.link(pid)
        assert link.link_state == "unavailable" and "测绘服务在0.6秒内未应答" in link.last_error
    finally:
        sims.survey_state.configure(SimulatorConfig())
        sims.survey_state.wait_idle()
        bench.close()


def test_startup_reports_bad_settings_and_missing_tables(tmp_path: Path) -> None:
    from soar_ext.db.engine import make_engine
    from soar_ext.hooks import co_construction
    from tests.host_fixtures import make_context, make_host

    host = make_host([("co_construction", co_construction)], settings={"co_construction": {"discrepancy_percent": "x"}})
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with engine.connect() as conn:
        problems = host.startup(make_context(conn, host))
    engine.dispose()
    assert any("discrepancy_percent must be a number" in p for p in problems)
    assert any("sx_pjxm_survey" in p and "0007" in p for p in problems)
