"""Seed item 3: the 核查 action on a person's detail page (Big Data simulator over loopback HTTP)."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update

from soar_ext.adapters.bigdata import CATEGORY_CODES
from soar_ext.adapters.bigdata.categories import CATEGORIES
from soar_ext.audit import subject_digest
from soar_ext.context import Operator
from soar_ext.db.codes import ApprovalStatus
from soar_ext.db.extension import verification_snapshots, verifications
from soar_ext.db.legacy import persons
from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    ActionRequest,
    ActionResult,
    DetailView,
    KeyValues,
    Notice,
    Section,
    Table,
)
from soar_ext.hooks import verification
from soar_ext.hooks.verification_page import VerificationPage
from soar_ext.idnumber import mask_id_number
from tests.adapters.guards import FULL_ID
from tests.soar_env import soar_database
from tests.verification_env import (
    CLERK,
    DIGEST_KEY,
    PLUGIN,
    VERIFIER,
    BigDataSim,
    Desk,
    add_household,
    interface_of,
    make_desk,
    start_bigdata,
    texts,
)

PURPOSE = "公租房保障资格年度复核"
LABELS = [CATEGORIES[code].label for code in CATEGORY_CODES]


@pytest.fixture(scope="module")
def sim():
    yield from start_bigdata()


@pytest.fixture(autouse=True)
def _fresh_simulator(sim: BigDataSim):
    sim.reset()
    yield
    sim.reset()


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def desk(engine, sim) -> Desk:
    return make_desk(engine, sim)


@pytest.fixture
def person(engine) -> tuple[str, str, str]:
    """(ryid, ID number, application id) of the main applicant of a household whose business is completed."""
    _family, application, people = add_household(engine)
    return people[0][0], people[0][1], application


def detail(desk: Desk, ryid: str, application: str | None, operator=VERIFIER):
    with desk.engine.begin() as conn:
        return desk.host.detail_view(desk.context(conn, operator), DetailView("person", ryid, application))


def act(desk: Desk, key: str, target: str | None, operator=VERIFIER, **params) -> ActionResult:
    with desk.engine.begin() as conn:
        return desk.host.action(desk.context(conn, operator), ActionRequest(key, target, params, plugin=PLUGIN))


def verify(desk: Desk, ryid: str, purpose: object = PURPOSE, operator=VERIFIER, **params) -> ActionResult:
    return act(desk, verification.ACTION_RUN, ryid, operator, purpose=purpose, **params)


def page_of(result: ActionResult) -> VerificationPage:
    assert result.ok, result.message
    assert isinstance(result.data, VerificationPage)
    return result.data


def section(result: ActionResult, title: str) -> Section:
    (found,) = [b for b in result.content if isinstance(b, Section) and b.title == title]
    return found


def states(result: ActionResult) -> dict[str, str]:
    return {view.code: view.state for view in page_of(result).categories}


# ---------------------------------------------------------------------------------- the action


def test_no_action_before_the_business_is_completed(engine, desk) -> None:
    for status in (ApprovalStatus.ACCEPTED, ApprovalStatus.REVIEWING, ApprovalStatus.QUALIFIED):
        _family, application, people = add_household(engine, status=status)
        assert detail(desk, people[0][0], application) == []
        assert detail(desk, people[0][0], None) == []


def test_completed_business_offers_the_verify_action_asking_for_a_purpose(engine, desk, person) -> None:
    ryid, _idn, application = person
    (action,) = detail(desk, ryid, application)
    assert (action.kind, action.key, action.label, action.enabled) == ("action", "verification.run", "核查", True)
    assert action.plugin == "verification"
    assert isinstance(action.content, ActionForm)
    purpose = next(i for i in action.content.inputs if i.key == "purpose")
    assert (purpose.label, purpose.required, purpose.max_length) == ("查询事由", True, 200)
    hidden = {i.key: i.default for i in action.content.inputs if i.type == "hidden"}
    assert hidden == {"person_id": ryid, "application_id": application}


def test_every_member_of_a_completed_household_can_be_verified(engine, desk) -> None:
    _family, application, people = add_household(engine)
    spouse = people[1][0]
    assert [c.key for c in detail(desk, spouse, application)] == ["verification.run"]
    assert [c.key for c in detail(desk, spouse, None)] == ["verification.run"]


def test_application_of_another_family_gives_no_action(engine, desk, person) -> None:
    ryid, _idn, _application = person
    _other_family, other_application, _people = add_household(engine)
    assert detail(desk, ryid, other_application) == []


def test_operator_without_the_role_sees_a_disabled_action_with_the_reason(desk, person) -> None:
    ryid, _idn, application = person
    (action,) = detail(desk, ryid, application, operator=CLERK)
    assert action.enabled is False
    assert "核查人员" in action.hint and "权限" in action.hint


def test_operator_without_the_role_cannot_verify_and_nothing_is_asked_or_stored(desk, sim, person) -> None:
    result = verify(desk, person[0], operator=CLERK)
    assert not result.ok and "核查人员" in result.message
    assert sum(sim.faults.requests.values()) == 0
    assert desk.stored() == (0, 0)
    assert desk.audit_rows() == []


@pytest.mark.parametrize("generation", [1, 2])
def test_verification_shows_all_twelve_categories_in_order(engine, sim, person, generation: int) -> None:
    desk = make_desk(engine, sim, generation=generation)
    ryid, idn, _application = person
    sim.state.set_full_profile(idn)
    result = verify(desk, ryid)
    page = page_of(result)
    assert [v.label for v in page.categories] == LABELS
    assert all(v.state == "found" for v in page.categories)
    titles = [b.title for b in result.content]
    assert titles == ["核查概况", "与上次核查相比的变化", *LABELS]
    for label in LABELS:
        s = section(result, label)
        assert s.badge.text == "正常返回" and s.badge.tone == "ok"
        assert s.note.startswith("获取时间 2024-07-01 09:30")
        assert isinstance(s.blocks[0], KeyValues | Table)
    summary = dict(section(result, "核查概况").blocks[0].items)
    assert summary["查询事由"] == PURPOSE
    assert summary["核查对象"].endswith(f"（{mask_id_number(idn)}）")
    assert "12类中：正常返回12类" in result.message
    assert desk.stored() == (1, 12)
    with engine.connect() as conn:
        row = conn.execute(select(verifications)).one()
    assert (row.ryid, row.purpose, row.generation, row.pending_count, row.run_mode) == (
        ryid,
        PURPOSE,
        generation,
        0,
        "on",
    )
    assert row.subject_hash == subject_digest(idn, DIGEST_KEY)


def test_display_values_are_formatted_for_clerks(desk, sim, person) -> None:
    ryid, idn, _application = person
    sim.state.set_records(
        idn,
        "housing_fund",
        [
            {
                "xm": "陈晓明",
                "sfzh": idn,
                "grzh": "330100001234",
                "dwmc": "杭州湖滨商贸有限公司",
                "zhzt": "2",
                "jcjs": "6500",
                "yjce": "1560.5",
                "khrq": "20190301",
                "zhjcny": "202406",
            }
        ],
    )
    spouse = "330106198809020021"
    sim.state.set_records(
        idn,
        "marriage",
        [{"xm": "陈晓明", "sfzh": idn, "hyzk": "20", "poxm": "林静", "posfzh": spouse, "djrq": "20150506"}],
    )
    result = verify(desk, ryid)
    fund = dict(section(result, "公积金").blocks[0].items)
    assert fund["账户状态"] == "封存"
    assert fund["缴存基数"] == "6,500.00元" and fund["月缴存额"] == "1,560.50元"
    assert fund["开户日期"] == "2019-03-01" and fund["最近缴存年月"] == "2024-06"
    marriage = dict(section(result, "婚姻").blocks[0].items)
    assert marriage["婚姻状况"] == "已婚" and marriage["登记日期"] == "2015-05-06"
    assert marriage["配偶身份证号"] == mask_id_number(spouse)
    assert not [t for t in texts(result.content) if FULL_ID.search(t)]
    assert not [t for t in texts(result.data) if FULL_ID.search(t)]


def test_an_operator_with_the_full_id_role_sees_id_numbers_in_full(desk, sim, person) -> None:
    ryid, idn, _application = person
    spouse = "330106198809020021"
    married = {"xm": "陈晓明", "sfzh": idn, "hyzk": "20", "poxm": "林静", "posfzh": spouse, "djrq": "20150506"}
    sim.state.set_records(idn, "marriage", [married])
    chief = Operator(id="u102", name="陈科长", roles=frozenset({"verifier", "full_id"}))
    full = verify(desk, ryid, operator=chief)
    assert dict(section(full, "婚姻").blocks[0].items)["配偶身份证号"] == spouse
    assert idn in dict(section(full, "核查概况").blocks[0].items)["核查对象"]
    shown = act(desk, verification.ACTION_SHOW, page_of(full).verification_id)  # a verifier without full_id
    assert dict(section(shown, "婚姻").blocks[0].items)["配偶身份证号"] == mask_id_number(spouse)
    assert not [t for t in texts(shown.content) if FULL_ID.search(t)]


@pytest.mark.parametrize("generation", [1, 2])
def test_one_source_down_shows_the_other_eleven_and_that_one_failed(engine, sim, person, generation: int) -> None:
    desk = make_desk(engine, sim, generation=generation)
    sim.faults.take_down("vehicles")
    result = verify(desk, person[0])
    found = states(result)
    assert found.pop("vehicles") == "error"
    assert len(found) == 11 and set(found.values()) <= {"found", "no_record"}
    vehicles = section(result, "车辆")
    assert vehicles.badge.text == "查询失败" and vehicles.badge.tone == "error"
    assert isinstance(vehicles.blocks[0], Notice) and "503" in vehicles.blocks[0].text
    assert vehicles.blocks[1] == ActionButton(
        "verification.rerun",
        "重新查询车辆",
        target=page_of(result).verification_id,
        params={"categories": ["vehicles"]},
    )
    assert "未与上次核查结果比较" in vehicles.note
    summary = section(result, "核查概况")
    assert summary.badge.text == "1类未返回"
    assert any(isinstance(b, ActionButton) and b.key == "verification.rerun" for b in summary.blocks)
    with desk.engine.connect() as conn:
        assert conn.execute(select(verifications.c.pending_count)).scalar_one() == 1


def test_rerunning_the_failed_category_fills_it_in_and_asks_nothing_else(desk, sim, person) -> None:
    sim.faults.take_down("vehicles")
    first = page_of(verify(desk, person[0]))
    asked = Counter(sim.faults.requests)
    sim.faults.bring_up("vehicles")
    sim.state.set_full_profile(person[1])
    desk.clock.advance(minutes=5)
    result = act(desk, verification.ACTION_RERUN, first.verification_id)
    page = page_of(result)
    assert page.verification_id == first.verification_id
    assert page.view("vehicles").state == "found" and page.view("vehicles").attempt == 2
    assert page.pending == ()
    assert result.message.startswith("重新查询完成：车辆正常返回。")
    assert section(result, "车辆").note.startswith("获取时间 2024-07-01 09:35:00；第2次查询")
    assert Counter(sim.faults.requests) - asked == Counter({interface_of("vehicles"): 1})
    assert desk.stored() == (1, 13)  # the failed attempt stays
    with desk.engine.connect() as conn:
        assert conn.execute(select(verifications.c.pending_count)).scalar_one() == 0
        states_by_attempt = conn.execute(
            select(verification_snapshots.c.attempt, verification_snapshots.c.state).where(
                verification_snapshots.c.category == "vehicles"
            )
        ).all()
    assert sorted(states_by_attempt) == [(1, "error"), (2, "found")]
    assert len(desk.audit_rows()) == 13


def test_rerun_of_a_complete_verification_or_of_an_answered_category_is_refused(desk, sim, person) -> None:
    sim.faults.take_down("vehicles")
    vid = page_of(verify(desk, person[0])).verification_id
    refused = act(desk, verification.ACTION_RERUN, vid, categories=["marriage"])
    assert not refused.ok and "婚姻" in refused.message and "只能重新查询" in refused.message
    unknown = act(desk, verification.ACTION_RERUN, vid, categories=["cars"])
    assert not unknown.ok and "未知的核查类别" in unknown.message
    pasted = act(desk, verification.ACTION_RERUN, vid, categories=[person[1]])
    assert not pasted.ok and person[1] not in pasted.message and mask_id_number(person[1]) in pasted.message
    wrong_type = act(desk, verification.ACTION_RERUN, vid, categories=42)
    assert not wrong_type.ok and "格式不正确" in wrong_type.message
    missing = act(desk, verification.ACTION_RERUN, "no-such-verification")
    assert not missing.ok and "未找到该核查记录" in missing.message
    assert desk.stored() == (1, 12) and len(desk.audit_rows()) == 12
    sim.faults.bring_up("vehicles")
    assert act(desk, verification.ACTION_RERUN, vid, categories="车辆").ok  # by label, as text
    done = act(desk, verification.ACTION_RERUN, vid)
    assert not done.ok and "无需重新查询" in done.message


def test_slow_source_times_out_while_the_others_return_within_budget(engine, sim, person) -> None:
    budget = 2.0
    desk = make_desk(engine, sim, budget=budget)
    sim.delay("marriage", budget * 3)
    started = time.perf_counter()
    result = verify(desk, person[0])
    elapsed = time.perf_counter() - started
    found = states(result)
    assert found.pop("marriage") == "timeout"
    assert set(found.values()) <= {"found", "no_record"}
    assert elapsed <= budget * 1.1, f"the action took {elapsed:.2f} s with a {budget} s budget"
    marriage = section(result, "婚姻")
    assert marriage.badge.text == "超时" and marriage.badge.tone == "warn"
    assert "核查时限2秒" in marriage.blocks[0].text
    assert [r.result_status for r in desk.audit_rows() if r.interfaces == (interface_of("marriage"),)] == ["timeout"]


@pytest.mark.parametrize(
    ("kind", "body", "status"),
    [
        ("garbage", b'{"code": "00", "datas": [{"hphm": ', 200),
        ("oversize", b'{"code": "00", "msg": "' + b"x" * 300_000 + b'"}', 200),
        ("bad signature", '{"code": "14", "msg": "签名错误"}'.encode(), 200),
        ("quota", '{"code": "18", "msg": "调用频率超过限额"}'.encode(), 200),
        ("wrong shape", b'{"code": "00", "datas": 12}', 200),
    ],
)
def test_upstream_garbage_fails_that_category_only(engine, sim, person, kind: str, body: bytes, status: int) -> None:
    desk = make_desk(engine, sim, http={"max_response_bytes": 64 * 1024})
    sim.faults.answer("enterprises", body, status)
    result = verify(desk, person[0])
    found = states(result)
    assert found.pop("enterprises") == "error", kind
    assert set(found.values()) <= {"found", "no_record"}
    reason = section(result, "名下企业").blocks[0].text
    assert reason and not FULL_ID.search(reason)


# ---------------------------------------------------------------------------------- changes


VEHICLE = {"hphm": "浙AB5678", "hpzl": "02", "clpp": "大众", "ccdjrq": "20190301", "zt": "A"}
NEW_VEHICLE = {"hphm": "浙A12345", "hpzl": "52", "clpp": "比亚迪", "ccdjrq": "20240620", "zt": "A"}


def _owner(idn: str, record: dict) -> dict:
    return {"syr": "陈晓明", "sfzh": idn, **record}


@pytest.mark.parametrize("generation", [1, 2])
def test_second_verification_shows_exactly_what_changed_upstream(engine, sim, person, generation: int) -> None:
    desk = make_desk(engine, sim, generation=generation)
    ryid, idn, _application = person
    state = sim.state
    state.set_records(idn, "vehicles", [_owner(idn, VEHICLE)])
    state.set_records(idn, "marriage", [{"xm": "陈晓明", "sfzh": idn, "hyzk": "10"}])
    state.set_household_status(idn, "0")
    first = verify(desk, ryid)
    assert page_of(first).changes == ()
    assert "无上次核查结果可比较" in first.message

    desk.clock.advance(days=40)
    state.set_records(idn, "vehicles", [_owner(idn, VEHICLE), _owner(idn, NEW_VEHICLE)])
    married = {
        "xm": "陈晓明",
        "sfzh": idn,
        "hyzk": "20",
        "djlx": "结婚登记",
        "poxm": "林静",
        "posfzh": "330106198809020021",
        "djrq": "20240615",
        "djjg": "西湖区民政局婚姻登记处",
    }
    state.set_records(idn, "marriage", [married])
    state.set_household_status(idn, "2")
    second = verify(desk, ryid)
    page = page_of(second)
    assert sorted(c.text for c in page.changes) == sorted(["新增车辆 浙A·12345", "婚姻状况 未婚→已婚", "户籍 迁出"])
    by_category = {c.category: c for c in page.changes}
    assert by_category["vehicles"].kind == "added" and "比亚迪" in by_category["vehicles"].detail
    assert (by_category["marriage"].before, by_category["marriage"].after) == ("未婚", "已婚")
    assert "林静" in by_category["marriage"].detail and "2024-06-15" in by_category["marriage"].detail
    assert (by_category["household_registration"].before, by_category["household_registration"].after) == (
        "正常",
        "迁出",
    )
    changes = section(second, "与上次核查相比的变化")
    assert changes.badge.text == "3项变化"
    table = changes.blocks[0]
    assert [row.cells[:2] for row in table.rows] == [(c.category_label, c.text) for c in page.changes]
    assert "有3项变化" in second.message
    assert "与上次核查（2024-07-01 09:30:00）相比有1项变化" in section(second, "车辆").note
    assert "相比无变化" in section(second, "社保").note
    # unchanged categories compare with the first verification and report nothing
    assert all(v.changes == () for v in page.categories if v.code not in by_category)


def test_a_category_that_failed_is_compared_with_nothing_and_says_so(desk, sim, person) -> None:
    ryid, idn, _application = person
    sim.state.set_records(idn, "vehicles", [_owner(idn, VEHICLE)])
    verify(desk, ryid)
    desk.clock.advance(days=1)
    sim.state.set_records(idn, "vehicles", [])
    sim.faults.take_down("vehicles")
    result = verify(desk, ryid)
    page = page_of(result)
    assert page.view("vehicles").changes is None and page.changes == ()
    assert "本次查询失败，未与上次核查结果比较" in section(result, "车辆").note
    assert "本次未返回、未作比较：车辆" in section(result, "与上次核查相比的变化").note
    # the next successful answer compares with the last successful one (the first verification)
    sim.faults.bring_up("vehicles")
    desk.clock.advance(days=1)
    rerun = page_of(act(desk, verification.ACTION_RERUN, page.verification_id))
    assert [c.text for c in rerun.changes] == ["减少车辆 浙A·B5678"]
    assert rerun.view("vehicles").baseline_at.day == 1


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [
        (None, "请填写查询事由"),
        ("", "请填写查询事由"),
        ("   ", "请填写查询事由"),
        (42, "必须是文字"),
        ("查" * 201, "最多200字"),
    ],
)
def test_purpose_is_required_and_checked_before_anything_is_asked(desk, sim, person, purpose, expected) -> None:
    result = verify(desk, person[0], purpose=purpose)
    assert not result.ok and expected in result.message
    assert sum(sim.faults.requests.values()) == 0
    assert desk.stored() == (0, 0) and desk.audit_rows() == []


def test_purpose_of_four_byte_characters_is_checked_by_column_bytes(desk, sim, person) -> None:
    result = verify(desk, person[0], purpose="🏠" * 160)
    assert not result.ok and "超过长度限制" in result.message
    assert sum(sim.faults.requests.values()) == 0 and desk.stored() == (0, 0)


def test_person_without_a_valid_id_number_gets_a_clear_message_and_no_call(engine, desk, sim, person) -> None:
    ryid, idn, application = person
    with engine.begin() as conn:
        conn.execute(
            update(persons).where(persons.c.ryid == ryid).values(sfzh=idn[:17] + ("1" if idn[17] != "1" else "2"))
        )
    (action,) = detail(desk, ryid, application)
    assert action.enabled is False and "该人员的身份证号格式错误：校验位不正确" in action.hint
    result = verify(desk, ryid)
    assert not result.ok and "该人员的身份证号格式错误：校验位不正确" in result.message
    assert "更正身份证号" in result.message
    assert sum(sim.faults.requests.values()) == 0
    assert desk.stored() == (0, 0) and desk.audit_rows() == []


def test_verification_of_an_uncompleted_or_unknown_person_is_refused(engine, desk, sim) -> None:
    _family, _application, people = add_household(engine, status=ApprovalStatus.QUALIFIED)
    result = verify(desk, people[0][0])
    assert not result.ok and "业务尚未办结" in result.message
    missing = verify(desk, "RY-NOBODY")
    assert not missing.ok and "未找到人员信息" in missing.message
    bad_key = verify(desk, None)
    assert not bad_key.ok and "人员不正确" in bad_key.message
    assert sum(sim.faults.requests.values()) == 0 and desk.stored() == (0, 0)


def test_person_id_may_come_from_the_form_instead_of_the_target(desk, person) -> None:
    ryid, _idn, application = person
    result = act(desk, verification.ACTION_RUN, None, purpose=PURPOSE, person_id=ryid, application_id=application)
    assert page_of(result).categories


# ---------------------------------------------------------------------------------- audit, roles, logs


def test_every_upstream_call_leaves_an_audit_row(desk, sim, person) -> None:
    ryid, idn, _application = person
    sim.faults.take_down("student_status")
    page = page_of(verify(desk, ryid))
    rows = desk.audit_rows()
    # one entry per request the gateway received: the simulator answered 11 with this person's data
    # (its per-subject counts), the outage layer refused the twelfth
    assert len(rows) == sum(sim.faults.requests.values()) == 12
    assert sim.asked(idn) == 11 and sim.asked(idn, "student_status") == 0
    for code in CATEGORY_CODES:
        audited = [r for r in rows if r.detail["category"] == code]
        assert len(audited) == 1
        assert sim.asked(idn, code) == (0 if code == "student_status" else 1)
    assert Counter(r.interfaces[0] for r in rows) == Counter(sim.faults.requests)
    for row in rows:
        assert row.state == "done" and row.finished_at is not None  # intent written first, then the outcome
        assert row.detail["verification_id"] == page.verification_id and row.detail["attempt"] == 1
        assert row.interfaces == (interface_of(row.detail["category"]),)
        assert row.result_status == page.view(row.detail["category"]).state
        assert (row.operator_id, row.operator_name, row.purpose) == (VERIFIER.id, VERIFIER.name, PURPOSE)
        assert row.subject_masked == mask_id_number(idn)
        assert row.created_at is not None
    assert len(desk.audit_rows(subject_hash=subject_digest(idn, DIGEST_KEY))) == 12  # searchable by citizen
    failed = next(r for r in rows if r.interfaces == (interface_of("student_status"),))
    assert failed.result_status == "error" and failed.detail["error_type"] == "UpstreamUnavailable"


def test_audit_entries_survive_soars_rollback(desk, sim, person) -> None:
    with desk.engine.connect() as conn:
        trans = conn.begin()
        result = desk.host.action(
            desk.context(conn), ActionRequest(verification.ACTION_RUN, person[0], {"purpose": PURPOSE})
        )
        trans.rollback()  # SOAR's transaction fails after the verification
    assert result.ok
    assert desk.stored() == (0, 0)
    assert len(desk.audit_rows()) == 12  # the queries were sent: their audit entries stay


def test_no_query_is_sent_whose_audit_entry_cannot_be_written(engine, sim, person, tmp_path: Path) -> None:
    unwritable = tmp_path / "no-such-folder" / "audit.db"
    desk = make_desk(engine, sim, audit={"database_url": f"sqlite:///{unwritable}"})
    result = verify(desk, person[0])
    page = page_of(result)
    assert {v.state for v in page.categories} == {"error"}
    assert "审计记录写入失败" in page.view("vehicles").reason
    assert sum(sim.faults.requests.values()) == 0
    assert page.pending == tuple(CATEGORY_CODES)  # they can be queried again once the audit store is back


def test_reading_a_stored_verification_is_role_checked_and_audited(desk, sim, person) -> None:
    ryid, idn, application = person
    first = page_of(verify(desk, ryid))
    refused = act(desk, verification.ACTION_SHOW, first.verification_id, operator=CLERK)
    assert not refused.ok and "核查人员" in refused.message
    assert desk.audit_rows(verification.AUDIT_READ) == []
    calls = sum(sim.faults.requests.values())
    shown = act(desk, verification.ACTION_SHOW, first.verification_id)
    page = page_of(shown)
    assert page.categories == first.categories
    assert shown.message.startswith("核查记录：2024-07-01 09:30:00，经办人赵核查。")
    assert sum(sim.faults.requests.values()) == calls  # read from the store, not asked again
    (read,) = desk.audit_rows(verification.AUDIT_READ)
    assert (read.operator_id, read.subject_masked) == (VERIFIER.id, mask_id_number(idn))
    assert read.detail["verification_id"] == first.verification_id
    # the detail page lists it, with a button to open it
    _action, history = detail(desk, ryid, application)
    assert history.kind == "panel" and history.label == "核查记录"
    (row,) = history.content.rows
    assert row.cells[:3] == ("2024-07-01 09:30:00", PURPOSE, VERIFIER.name)
    assert row.actions[0].key == "verification.show" and row.actions[0].target == first.verification_id


def test_no_full_id_number_in_any_log_record(desk, sim, person, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim.faults.take_down("vehicles")
    sim.faults.answer("enterprises", json.dumps({"code": "14", "msg": f"签名错误 {person[1]}"}).encode())
    page = page_of(verify(desk, person[0]))
    sim.faults.bring_up("vehicles")
    act(desk, verification.ACTION_RERUN, page.verification_id)
    act(desk, verification.ACTION_SHOW, page.verification_id)
    verify(desk, person[0], purpose="")
    assert caplog.records, "the verification should have logged something"
    assert not FULL_ID.search(caplog.text), [line for line in caplog.text.splitlines() if FULL_ID.search(line)][:3]
    assert person[1] not in section_texts(page)


def section_texts(page: VerificationPage) -> str:
    return "\n".join(texts(page.blocks()))


# ---------------------------------------------------------------------------------- modes and start-up


def test_shadow_mode_hides_the_action_and_marks_a_verification_as_trial(engine, sim, person) -> None:
    desk = make_desk(engine, sim, mode="shadow")
    ryid, _idn, application = person
    assert detail(desk, ryid, application) == []
    result = verify(desk, ryid)
    assert any(isinstance(b, Notice) and "[试运行]" in b.text for b in section(result, "核查概况").blocks)
    with engine.connect() as conn:
        assert conn.execute(select(verifications.c.run_mode)).scalar_one() == "shadow"


def test_off_mode_offers_nothing_and_answers_nothing(engine, sim, person) -> None:
    desk = make_desk(engine, sim, mode="off")
    ryid, _idn, application = person
    assert detail(desk, ryid, application) == []
    result = verify(desk, ryid)
    assert not result.ok and "未找到操作" in result.message
    assert sum(sim.faults.requests.values()) == 0


def test_startup_reports_a_bad_budget_and_a_small_burst(engine, sim) -> None:
    desk = make_desk(engine, sim, budget="soon", http={"burst": 5})  # type: ignore[arg-type]
    healthy = make_desk(engine, sim)
    with engine.connect() as conn:
        problems = desk.host.startup(desk.context(conn))
        assert healthy.host.startup(healthy.context(conn)) == []
    assert any("time_budget_seconds" in p for p in problems)
    assert any("burst = 5" in p for p in problems)


def test_bad_budget_refuses_the_verification_with_a_message_for_the_clerk(engine, sim, person) -> None:
    desk = make_desk(engine, sim, budget=0)
    result = verify(desk, person[0])
    assert not result.ok and "配置有误" in result.message
    assert sum(sim.faults.requests.values()) == 0 and desk.stored() == (0, 0)


def test_synthetic_data_has_persons_with_and_without_a_completed_business(tmp_path: Path, sim) -> None:
    from soar_ext.db.legacy import applications, family_members
    from soar_ext.synthetic import populate

    engine = soar_database(f"sqlite:///{tmp_path / 'synthetic.db'}")
    populate(engine, households=80, seed=7)
    desk = make_desk(engine, sim)
    with engine.connect() as conn:
        members = conn.execute(
            select(family_members.c.ryid, applications.c.sqid, applications.c.spzt).join(
                applications, applications.c.jtid == family_members.c.jtid
            )
        ).all()
    completed = [m for m in members if m.spzt == ApprovalStatus.COMPLETED]
    others = [m for m in members if m.spzt != ApprovalStatus.COMPLETED]
    assert completed and others
    for member in completed[:5]:
        assert [c.key for c in detail(desk, member.ryid, member.sqid)] == ["verification.run"]
    for member in others[:5]:
        assert detail(desk, member.ryid, member.sqid) == []
    page = page_of(verify(desk, completed[0].ryid))
    assert len(page.categories) == 12
    engine.dispose()


def test_categories_that_answered_slowest_are_asked_first() -> None:
    from soar_ext.hooks.verification import AnswerTimes

    times = AnswerTimes(weight=0.5)
    assert times.order(["a", "b", "c"]) == ["a", "b", "c"]
    times.record("a", 0.05)
    times.record("b", 0.30)
    assert times.order(["a", "b", "c"]) == ["c", "b", "a"]  # never timed first, then slowest first
    times.record("b", 0.0)
    times.record("b", 0.0)
    assert times.order(["a", "b"]) == ["b", "a"]  # 0.075 s on average now, still slower than a
    times.record("b", 0.0)
    assert times.order(["a", "b"]) == ["a", "b"]
