"""选房划拨: 廉租房 candidate filters (checked against a brute-force count on the seeded data) and 添加."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from soar_ext.allocation import candidates as cand
from soar_ext.allocation import page
from soar_ext.context import Operator
from soar_ext.db.codes import AllocationBatchStatus, AllocationKind, ApprovalStatus, GuaranteeType
from soar_ext.db.legacy import allocation_applicants, applications, families, lottery_results, persons
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import ActionRequest, DetailView, Table
from soar_ext.hooks import allocation
from soar_ext.synthetic import populate
from tests.allocation_builders import add_applicant, add_batch, add_tenant, put_applicant, set_batch_status
from tests.host_fixtures import CLERK, make_context, make_host
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)
a, j, r, y = applications, families, persons, lottery_results


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = soar_database(f"sqlite:///{tmp_path_factory.mktemp('candidates') / 'soar.db'}")
    populate(engine, households=1000, seed=20190601)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def people(seeded: Engine) -> list[dict[str, Any]]:
    """Every (application, main applicant, lottery result) row of the seeded data, read plainly."""
    with seeded.connect() as conn:
        apps = {row.sqid: row for row in conn.execute(select(a))}
        fams = {row.jtid: row for row in conn.execute(select(j))}
        persons_ = {row.ryid: row for row in conn.execute(select(r))}
        out = []
        for lot in conn.execute(select(y)):
            app = apps[lot.sqid]
            main = persons_[fams[app.jtid].sqrid]
            out.append(
                {
                    "key": (lot.sqid, lot.yhnd, lot.qs, lot.sxh),
                    "bzlx": app.bzlx,
                    "xm": main.xm,
                    "sfzh": main.sfzh,
                    "pzzgzh": app.pzzgzh,
                    "yhnd": lot.yhnd,
                    "qs": lot.qs,
                    "sxh": lot.sxh,
                }
            )
    return out


@pytest.fixture
def host():
    return make_host([("allocation", allocation)])


def soar_selection_query():
    """SOAR's own candidate search, as the screen runs it (the plugin only amends it)."""
    return select(a.c.sqid, y.c.yhnd, y.c.qs, y.c.sxh).select_from(
        a.join(j, j.c.jtid == a.c.jtid).join(r, r.c.ryid == j.c.sqrid).join(y, y.c.sqid == a.c.sqid)
    )


def screen_rows(engine: Engine, host, filters: dict[str, object]) -> list[tuple]:
    with engine.connect() as conn:
        built = host.query_build(
            make_context(conn, host, clock=lambda: NOW), allocation.SCREEN_SELECTION, soar_selection_query(), filters
        )
        return [tuple(row) for row in conn.execute(built.statement)]


def brute_force(people: list[dict[str, Any]], filters: dict[str, object]) -> list[tuple]:
    def keep(p: dict[str, Any]) -> bool:
        name = filters.get(cand.F_NAME)
        prefix = filters.get(cand.F_NAME_MATCH) == cand.PREFIX
        return (
            p["bzlx"] == GuaranteeType.LOW_RENT
            and (name is None or (p["xm"].startswith(name) if prefix else p["xm"] == name))
            and filters.get(cand.F_ID_NUMBER, p["sfzh"]).upper() == p["sfzh"]
            and filters.get(cand.F_CERTIFICATE, p["pzzgzh"]) == p["pzzgzh"]
            and int(filters.get(cand.F_YEAR, p["yhnd"])) == p["yhnd"]
            and int(filters.get(cand.F_PERIOD, p["qs"])) == p["qs"]
            and int(filters.get(cand.F_SEQUENCE_FROM, p["sxh"]))
            <= p["sxh"]
            <= int(filters.get(cand.F_SEQUENCE_TO, p["sxh"]))
        )

    return [p["key"] for p in people if keep(p)]


def _low_rent(people):
    return [p for p in people if p["bzlx"] == GuaranteeType.LOW_RENT]


def filter_cases(people: list[dict[str, Any]]) -> list[tuple[dict[str, object], bool]]:
    """(filters, whether someone should match), built from the data itself."""
    low = _low_rent(people)
    odd = [p for p in low if re.search(r"[%_]", p["xm"])]
    assert odd, "the seeded data has names with % or _"
    sample = low[len(low) // 3]
    year, period = sample["yhnd"], sample["qs"]
    cases: list[tuple[dict[str, object], bool]] = [
        ({}, True),
        ({cand.F_NAME: sample["xm"]}, True),
        ({cand.F_NAME: sample["xm"][:1], cand.F_NAME_MATCH: cand.PREFIX}, True),
        ({cand.F_ID_NUMBER: sample["sfzh"].lower()}, True),
        ({cand.F_CERTIFICATE: sample["pzzgzh"]}, True),
        ({cand.F_YEAR: str(year)}, True),
        ({cand.F_YEAR: year, cand.F_PERIOD: str(period)}, True),
        ({cand.F_SEQUENCE_FROM: "5", cand.F_SEQUENCE_TO: "40"}, True),
        ({cand.F_YEAR: str(year), cand.F_PERIOD: period, cand.F_SEQUENCE_FROM: 1, cand.F_SEQUENCE_TO: 10}, True),
        ({cand.F_SEQUENCE_FROM: 30}, True),
        ({cand.F_SEQUENCE_TO: 3}, True),
        ({cand.F_NAME: "无此人", cand.F_NAME_MATCH: cand.PREFIX}, False),
        ({cand.F_NAME: "%", cand.F_NAME_MATCH: cand.PREFIX}, True),
        ({cand.F_NAME: "_", cand.F_NAME_MATCH: cand.PREFIX}, True),
    ]
    for p in odd:
        name = p["xm"]
        cases.append(({cand.F_NAME: name}, True))
        cases.append(({cand.F_NAME: name[:2], cand.F_NAME_MATCH: cand.PREFIX}, True))  # e.g. "王%" or "%张"
        # the other wildcard character in its place: as a LIKE pattern it would match, taken literally it does not
        wild = name.replace("%", "_") if "%" in name else name.replace("_", "%")
        cases.append(({cand.F_NAME: wild}, False))
        cases.append(({cand.F_NAME: wild, cand.F_NAME_MATCH: cand.PREFIX}, False))
    return cases


def test_filters_return_exactly_the_matching_low_rent_people(seeded, people, host) -> None:
    for filters, should_match in filter_cases(people):
        with_type = {cand.F_GUARANTEE: GuaranteeType.LOW_RENT, **filters}
        got = sorted(screen_rows(seeded, host, with_type))
        expected = sorted(brute_force(people, filters))
        assert got == expected, filters
        assert bool(expected) == should_match, filters


def test_percent_and_underscore_in_a_name_are_taken_literally(seeded, people, host) -> None:
    low = _low_rent(people)
    starts_percent = sorted(p["key"] for p in low if p["xm"].startswith("%"))
    starts_underscore = sorted(p["key"] for p in low if p["xm"].startswith("_"))
    assert starts_percent and starts_underscore
    prefix = {cand.F_GUARANTEE: GuaranteeType.LOW_RENT, cand.F_NAME_MATCH: cand.PREFIX}
    assert sorted(screen_rows(seeded, host, {**prefix, cand.F_NAME: "%"})) == starts_percent
    assert sorted(screen_rows(seeded, host, {**prefix, cand.F_NAME: "_"})) == starts_underscore
    with_percent = next(p for p in low if "%" in p["xm"][1:])
    pattern = with_percent["xm"].replace("%", "_")  # as a LIKE pattern this would match the % too
    assert screen_rows(seeded, host, {**prefix, cand.F_NAME: pattern}) == brute_force(
        people, {cand.F_NAME: pattern, cand.F_NAME_MATCH: cand.PREFIX}
    )
    assert with_percent["key"] not in screen_rows(seeded, host, {**prefix, cand.F_NAME: pattern})


def test_without_a_guarantee_filter_every_type_is_listed(seeded, people, host) -> None:
    assert len(screen_rows(seeded, host, {})) == len(people)
    public = {cand.F_GUARANTEE: GuaranteeType.PUBLIC_RENTAL}
    assert len(screen_rows(seeded, host, public)) == sum(p["bzlx"] == GuaranteeType.PUBLIC_RENTAL for p in people)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({cand.F_ID_NUMBER: "33010619900101123"}, "身份证号格式错误：应为18位"),
        ({cand.F_ID_NUMBER: "330106199013011234"}, "出生日期不是有效日期"),
        ({cand.F_ID_NUMBER: "330106199001011235"}, "校验位不正确"),
        ({cand.F_SEQUENCE_FROM: "20", cand.F_SEQUENCE_TO: "10"}, "顺序号起（20）不能大于顺序号止（10）"),
        ({cand.F_YEAR: "二〇二三"}, "「摇号年度」必须是整数"),
        ({cand.F_YEAR: "2023.5"}, "「摇号年度」必须是整数"),
        ({cand.F_YEAR: "1999"}, "「摇号年度」应在 2000 至 2025 之间"),
        ({cand.F_YEAR: 3000}, "应在 2000 至 2025 之间"),
        ({cand.F_PERIOD: "0"}, "「摇号期数」应在 1 至 99 之间"),
        ({cand.F_PERIOD: True}, "「摇号期数」必须是整数"),
        ({cand.F_SEQUENCE_TO: "-5"}, "「顺序号止」必须是整数"),
        ({cand.F_NAME: "张" * 61}, "「姓名」最多60个字"),
        ({cand.F_NAME: ["张三"]}, "「姓名」必须是文本"),
        ({cand.F_NAME: "张\x00三"}, "控制字符"),
        ({cand.F_NAME_MATCH: "like"}, "「姓名匹配方式」的取值「like」不正确"),
        ({cand.F_GUARANTEE: "03"}, "「保障类型」的取值「03」不正确"),
        ({cand.F_CERTIFICATE: "HZ" * 16}, "「配租资格证号」最多30个字"),
    ],
)
def test_bad_filter_values_get_a_clear_chinese_message(host, tmp_path, filters, message) -> None:
    engine = soar_database(f"sqlite:///{tmp_path / 'bad.db'}")
    with engine.connect() as conn, pytest.raises(InvalidInput) as caught:
        host.query_build(
            make_context(conn, host, clock=lambda: NOW), allocation.SCREEN_SELECTION, soar_selection_query(), filters
        )
    assert message in str(caught.value)
    engine.dispose()


def test_selection_screen_fields_cover_every_filter_of_the_seed(host, tmp_path) -> None:
    engine = soar_database(f"sqlite:///{tmp_path / 'f.db'}")
    with engine.connect() as conn:
        fields = host.query_fields(make_context(conn, host), allocation.SCREEN_SELECTION)
        assert host.query_fields(make_context(conn, host), "some.other.screen") == []
    labels = [f.label for f in fields]
    for label in ("保障类型", "姓名", "身份证", "配租资格证号", "摇号年度", "摇号期数", "顺序号起", "顺序号止"):
        assert label in labels
    assert all(f.kind == "filter" and f.plugin == "allocation" for f in fields)
    assert {f.key: f.type for f in fields}[cand.F_ID_NUMBER] == "id_number"
    engine.dispose()


def test_a_screen_statement_without_the_lottery_table_is_a_plugin_failure_not_a_filter(tmp_path) -> None:
    engine = soar_database(f"sqlite:///{tmp_path / 'w.db'}")
    lenient = make_host([("allocation", allocation)], strict=False)
    base = select(a.c.sqid)
    with engine.connect() as conn:
        built = lenient.query_build(
            make_context(conn, lenient), allocation.SCREEN_SELECTION, base, {cand.F_NAME: "张三"}
        )
    assert built.statement is base and "房源划拨" in built.warnings[0]
    engine.dispose()


# ---------------------------------------------------------------------------------- 筛选 and 添加 on the batch page


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


def act(engine, host, key, target, *, operator: Operator = CLERK, audit=None, **params):
    with engine.begin() as conn:
        ctx = make_context(conn, host, operator=operator, clock=lambda: NOW)
        result = host.action(ctx, ActionRequest(key=key, target=target, params=params, plugin="allocation"))
        if audit is not None:
            audit.extend(ctx.audit.events)  # type: ignore[attr-defined]
        return result


def members(engine, pcid) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(select(allocation_applicants.c.sqid).where(allocation_applicants.c.pcid == pcid)).scalars()
        )


def test_adding_twice_adds_once(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        first, _, _ = add_applicant(conn, "廉租甲")
        second, _, _ = add_applicant(conn, "廉租乙")
    once = act(engine, host, page.ACTION_ADD, pcid, selected=[first, second, first])
    assert once.ok and once.message.startswith("已添加 2 人到本批次")
    again = act(engine, host, page.ACTION_ADD, pcid, selected=[first, second])
    assert again.ok and "已添加 0 人" in again.message and "2 人已在本批次中，未重复添加" in again.message
    assert members(engine, pcid) == sorted([first, second])


def test_people_already_allocated_or_not_eligible_are_refused_with_the_reason(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        elsewhere = add_batch(conn, AllocationKind.SELECTION, name="2024年第9批选房房源划拨")
        in_other, _, _ = add_applicant(conn, "他批人")
        put_applicant(conn, elsewhere, in_other)
        tenant, _ = add_tenant(conn, "已配租户")
        public, _, _ = add_applicant(conn, "公租户", guarantee=GuaranteeType.PUBLIC_RENTAL)
        waiting, _, _ = add_applicant(conn, "审核中", status=ApprovalStatus.REVIEWING)
        no_lottery, _, _ = add_applicant(conn, "未摇号", lottery=None)
        ok, _, _ = add_applicant(conn, "可添加")
    result = act(engine, host, page.ACTION_ADD, pcid, selected=[in_other, tenant, public, waiting, no_lottery, ok])
    assert result.ok and result.message.startswith("已添加 1 人到本批次")
    assert result.data["added"] == [ok]
    refused = result.data["refused"]
    assert "已在办理中的划拨批次「2024年第9批选房房源划拨」中" in refused[in_other]
    assert refused[tenant].startswith("已配租（租赁合同")
    assert "只添加廉租房" in refused[public]
    assert "审核中" in refused[waiting] and refused[no_lottery] == "无摇号结果"
    assert "5 人未添加（他批人：已在办理中的划拨批次" in result.message
    assert members(engine, pcid) == [ok]


def test_a_person_in_a_completed_batch_may_be_added_again(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        old = add_batch(conn, AllocationKind.SELECTION, status=AllocationBatchStatus.COMPLETED)
        person, _, _ = add_applicant(conn, "再次选房")
        put_applicant(conn, old, person)
    assert act(engine, host, page.ACTION_ADD, pcid, selected=[person]).data["added"] == [person]


@pytest.mark.parametrize(
    ("selected", "message"),
    [
        (None, "请先勾选要添加的选房人员"),
        ([], "请先勾选要添加的选房人员"),
        ([1, 2], "数据格式不正确"),
        (["NO-SUCH-SQID"], "未找到所选人员的申请记录"),
        ([f"S{n}" for n in range(501)], "一次最多添加 500 人"),
    ],
)
def test_bad_add_requests_write_nothing(engine, host, selected, message) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        person, _, _ = add_applicant(conn, "好人")
    if selected == ["NO-SUCH-SQID"]:
        selected = [person, "NO-SUCH-SQID"]
    result = act(engine, host, page.ACTION_ADD, pcid, selected=selected)
    assert not result.ok and message in result.message
    assert members(engine, pcid) == []


def test_adding_to_an_adjustment_or_closed_batch_is_refused(engine, host) -> None:
    with engine.begin() as conn:
        adjustment = add_batch(conn, AllocationKind.ADJUSTMENT)
        closed = add_batch(conn, AllocationKind.SELECTION)
        set_batch_status(conn, closed, AllocationBatchStatus.CANCELLED)
        person, _, _ = add_applicant(conn, "某人")
    assert "只能添加到选房划拨批次" in act(engine, host, page.ACTION_ADD, adjustment, selected=[person]).message
    assert "状态为「已撤销」" in act(engine, host, page.ACTION_ADD, closed, selected=[person]).message
    assert members(engine, adjustment) == members(engine, closed) == []


def test_search_lists_low_rent_people_ticks_only_the_addable_and_is_audited(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        here, _, _ = add_applicant(conn, "王已在", lottery=(2023, 2, 1))
        put_applicant(conn, pcid, here)
        free, _, idn = add_applicant(conn, "王可选", lottery=(2023, 2, 2))
        add_applicant(conn, "王公租", guarantee=GuaranteeType.PUBLIC_RENTAL, lottery=(2023, 2, 3))
        add_applicant(conn, "李别人", lottery=(2023, 2, 4))
    events: list = []
    result = act(
        engine,
        host,
        page.ACTION_SEARCH,
        pcid,
        audit=events,
        applicant_name="王",
        name_match="prefix",
        lottery_year="2023",
    )
    assert result.ok and result.message == "符合条件的廉租房选房人员共 2 名。"
    notice, table = result.content
    assert isinstance(table, Table) and [row.cells[0] for row in table.rows] == ["王已在", "王可选"]
    assert [row.key for row in table.rows] == [None, free]
    assert table.select_action.key == page.ACTION_ADD and table.select_action.target == pcid
    assert "可添加 1 名" in notice.text
    (event,) = events
    assert event.action == "allocation.candidate_search" and event.subject_id is None
    assert event.detail["filters"] == {"name_given": True, "name_prefix": True, "year": 2023}
    by_id = act(engine, host, page.ACTION_SEARCH, pcid, audit=events, applicant_id_number=idn)
    assert [row.cells[0] for row in by_id.content[1].rows] == ["王可选"]
    assert events[-1].subject_id == idn and events[-1].subject_masked.count("*") == 8


def test_search_with_bad_input_is_refused(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
    result = act(engine, host, page.ACTION_SEARCH, pcid, sequence_from="9", sequence_to="1")
    assert not result.ok and result.message == "顺序号起（9）不能大于顺序号止（1）。"


def test_selection_batch_page_offers_the_low_rent_search(engine, host) -> None:
    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        person, _, _ = add_applicant(conn, "本批人")
        put_applicant(conn, pcid, person)
        shown = {
            c.key: c for c in host.detail_view(make_context(conn, host), DetailView(allocation.ENTITY_BATCH, pcid))
        }
    assert list(shown) == ["allocation.summary", "allocation.members", page.ACTION_SEARCH]
    form = shown[page.ACTION_SEARCH].content
    assert [i.label for i in form.inputs] == [
        "划拨批次",
        "姓名",
        "姓名匹配方式",
        "身份证",
        "配租资格证号",
        "摇号年度",
        "摇号期数",
        "顺序号起",
        "顺序号止",
    ]
    assert form.inputs[0].type == "hidden" and form.inputs[0].default == pcid
    (members_table,) = [shown["allocation.members"].content]
    assert members_table.rows[0].cells[1] == "本批人" and members_table.rows[0].cells[4] == "廉租房"


def test_selection_confirmed_warns_about_people_already_allocated(engine, host) -> None:
    from soar_ext.hook_payloads import AllocationSelection

    with engine.begin() as conn:
        pcid = add_batch(conn, AllocationKind.SELECTION)
        tenant, _ = add_tenant(conn, "已有房")
        put_applicant(conn, pcid, tenant)
        fine, _, _ = add_applicant(conn, "没问题")
        put_applicant(conn, pcid, fine)
        shown = host.allocation_selected(
            make_context(conn, host), AllocationSelection(pcid, AllocationKind.SELECTION, [tenant, fine])
        )
    assert shown[0].key == "allocation.notices"
    assert "申请人已有房已配租" in shown[0].content.text and "没问题" not in shown[0].content.text
    assert [c.key for c in shown[1:]] == ["allocation.summary", "allocation.members", page.ACTION_SEARCH]


def test_like_prefix_escapes_wildcards_and_the_escape_character() -> None:
    assert cand.like_prefix("王%") == "王\\%%"
    assert cand.like_prefix("_a\\b") == "\\_a\\\\b%"
    assert list(itertools.islice(iter(cand.NAME_MATCH_CHOICES), 2)) == ["exact", "prefix"]


@pytest.mark.parametrize("limit", [1, 100_000])
def test_a_name_prefix_gives_the_same_people_whether_looked_up_or_left_to_like(
    seeded, people, host, monkeypatch, limit
):
    monkeypatch.setattr(cand, "PREFIX_LOOKUP_LIMIT", limit)
    filters = {cand.F_NAME: "王", cand.F_NAME_MATCH: cand.PREFIX}
    with seeded.connect() as conn:
        condition = cand.name_condition(conn, "王", prefix=True)
    sql = str(condition.compile())
    assert ("LIKE" in sql) == (limit == 1) and ("IN" in sql) == (limit != 1)
    got = sorted(screen_rows(seeded, host, {cand.F_GUARANTEE: GuaranteeType.LOW_RENT, **filters}))
    assert got == sorted(brute_force(people, filters)) and got
