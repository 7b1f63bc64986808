"""The verification page model: display values, change detection, the generic blocks a host renders."""

from __future__ import annotations

import datetime as dt

import pytest

from soar_ext.adapters.bigdata.categories import CATEGORIES, CATEGORY_CODES
from soar_ext.hook_payloads import ActionButton, Badge, KeyValues, Notice, Section, Table
from soar_ext.hooks.verification_changes import RULES, compare
from soar_ext.hooks.verification_page import CategoryView, Change, VerificationPage, display_columns, display_value

AT = dt.datetime(2024, 6, 30, 10, 0, 5)


def _vehicle(plate: str, status: str = "正常") -> dict[str, object]:
    return {
        "号牌号码": plate,
        "号牌种类": "小型汽车",
        "车辆品牌": "大众",
        "初次登记日期": "2019-03-01",
        "机动车状态": status,
    }


@pytest.mark.parametrize(
    ("label", "value", "shown"),
    [
        ("开户日期", "2024-06-30", "2024-06-30"),
        ("开户日期", "2024-06-30 00:00:00", "2024-06-30"),
        ("开户日期", dt.date(2024, 6, 30), "2024-06-30"),
        ("缴存基数", "6500", "6,500.00元"),
        ("月缴存额", 1560.5, "1,560.50元"),
        ("缴存基数", "不详", "不详"),
        ("累计缴费月数", 98, "98个月"),
        ("号牌号码", "浙A12345", "浙A·12345"),
        ("号牌号码", "浙A·12345", "浙A·12345"),
        ("配偶身份证号", "330106198809020021", "330106********0021"),
        ("配偶身份证号", "33010619880902", "**************"),
        ("住址", "浙江省杭州市 330106198809020021 号", "浙江省杭州市 330106********0021 号"),
        ("变动说明", None, "—"),
        ("变动说明", "  ", "—"),
        ("企业名称", "杭" * 400, "杭" * 299 + "…"),
    ],
)
def test_display_values(label: str, value: object, shown: str) -> None:
    assert display_value(label, value) == shown


def test_display_columns_leave_out_the_subject_and_raw_codes() -> None:
    columns = display_columns("household_registration")
    assert "户籍状态" in columns and "户籍状态代码" not in columns
    assert "姓名" not in columns and "身份证号" not in columns
    assert "所有人" not in display_columns("vehicles")
    assert "统一社会信用代码" in display_columns("enterprises")  # a field, not a raw code


def test_every_category_has_a_rule_naming_its_own_fields() -> None:
    assert set(RULES) == set(CATEGORY_CODES)
    for code, rule in RULES.items():
        labels = {f.label for f in CATEGORIES[code].fields}
        used = {*rule.key, *rule.title, *rule.watched, *rule.context, *([rule.latest_by] if rule.latest_by else [])}
        assert used <= labels, f"{code}: {used - labels}"
        assert rule.watched, code


def test_added_removed_and_changed_records_are_named() -> None:
    before = [_vehicle("浙AB5678"), _vehicle("浙AC0001")]
    after = [_vehicle("浙AB5678", "注销"), _vehicle("浙A12345")]
    changes = compare("vehicles", before, after)
    assert [(c.kind, c.text) for c in changes] == [
        ("changed", "车辆 浙A·B5678 机动车状态 正常→注销"),
        ("added", "新增车辆 浙A·12345"),
        ("removed", "减少车辆 浙A·C0001"),
    ]
    assert changes[1].detail == "车辆品牌 大众；初次登记日期 2019-03-01"
    assert (changes[0].before, changes[0].after) == ("正常", "注销")


def test_values_that_move_every_month_are_not_changes() -> None:
    record = {"险种类型": "企业职工基本养老保险", "参保状态": "参保缴费", "参保单位": "甲公司"}
    before = [{**record, "最近缴费年月": "2024-05", "累计缴费月数": 97}]
    after = [{**record, "最近缴费年月": "2024-06", "累计缴费月数": 98}]
    assert compare("social_insurance", before, after) == ()
    assert compare("social_insurance", after, list(reversed(after))) == ()


def test_one_state_categories_compare_the_latest_record() -> None:
    unmarried = [{"婚姻状况": "未婚"}]
    married = [
        {"婚姻状况": "已婚", "登记日期": "2015-05-06", "配偶姓名": "林静"},
        {"婚姻状况": "离婚", "登记日期": "2019-01-10", "配偶姓名": "林静"},
        {"婚姻状况": "已婚", "登记日期": "2024-06-15", "配偶姓名": "王芳"},
    ]
    (change,) = compare("marriage", unmarried, married)
    assert change.text == "婚姻状况 未婚→已婚" and "王芳" in change.detail
    assert compare("marriage", married, list(reversed(married))) == ()
    (registered,) = compare("marriage", [], married[:1])
    assert registered.text == "婚姻状况 无记录→已婚"


def test_household_registration_moving_out_reads_as_such() -> None:
    normal = [{"户籍状态": "正常", "户籍地址": "浙江省杭州市西湖区文三路1号", "登记日期": "1986-04-18"}]
    moved = [{**normal[0], "户籍状态": "迁出", "变动日期": "2024-06-30", "变动说明": "迁往上海市浦东新区"}]
    (change,) = compare("household_registration", normal, moved)
    assert change.text == "户籍 迁出"
    assert change.detail == "变动日期 2024-06-30；变动说明 迁往上海市浦东新区"


def test_records_without_key_values_match_by_their_whole_content() -> None:
    record = {"证书名称": "电工", "等级": "四级/中级工"}
    assert compare("qualification_certificates", [record], [record]) == ()
    changes = compare("qualification_certificates", [record], [{**record, "等级": "三级/高级工"}])
    assert [c.kind for c in changes] == ["added", "removed"]


def _page(*views: CategoryView) -> VerificationPage:
    return VerificationPage(
        verification_id="V1",
        person_name="陈晓明",
        subject_id="330106********0038",
        purpose="复核",
        operator_name="赵核查",
        started_at=AT,
        finished_at=AT,
        budget_seconds=8,
        categories=views,
    )


def test_page_renders_generic_blocks_a_host_draws_without_knowing_the_categories() -> None:
    plate = Change("vehicles", "added", "新增车辆 浙A·12345", detail="车辆品牌 比亚迪")
    page = _page(
        CategoryView(
            "vehicles",
            "found",
            AT,
            columns=("号牌号码", "机动车状态"),
            rows=(("浙A·B5678", "正常"), ("浙A·12345", "正常")),
            baseline_at=AT - dt.timedelta(days=40),
            changes=(plate,),
        ),
        CategoryView("marriage", "timeout", AT, reason="超过核查时限8秒仍未返回，已取消"),
        CategoryView("identity_card", "no_record", AT, columns=("住址",), changes=None),
    )
    summary, changes, vehicles, marriage, identity = page.blocks()
    assert all(isinstance(block, Section) for block in page.blocks())
    assert summary.badge == Badge("1类未返回", "warn")
    button = next(b for b in summary.blocks if isinstance(b, ActionButton))
    assert (button.key, button.target, button.params) == ("verification.rerun", "V1", {"categories": ["marriage"]})
    assert changes.badge == Badge("1项变化", "warn")
    assert [r.cells for r in changes.blocks[0].rows] == [("车辆", "新增车辆 浙A·12345", "车辆品牌 比亚迪")]
    assert "本次未返回、未作比较：婚姻" in changes.note and "首次取得、无上次结果可比较：身份证" in changes.note
    assert isinstance(vehicles.blocks[0], Table) and vehicles.blocks[1].title == "与上次核查相比"
    assert vehicles.note == "获取时间 2024-06-30 10:00:05；与上次核查（2024-05-21 10:00:05）相比有1项变化"
    assert marriage.badge == Badge("超时", "warn") and isinstance(marriage.blocks[0], Notice)
    assert identity.blocks == (Notice("大数据局未返回该类别的记录", "muted"),)
    assert (
        page.message()
        == "核查完成，3类中：正常返回1类，无记录1类，超时1类；与上次核查相比有1项变化，未返回的类别可重新查询。"
    )


def test_single_record_shows_as_labelled_values() -> None:
    view = CategoryView("identity_card", "found", AT, columns=("住址", "签发机关"), rows=(("西湖区", "西湖分局"),))
    (block,) = view.section("V1").blocks
    assert block == KeyValues(items=(("住址", "西湖区"), ("签发机关", "西湖分局")))


def test_shadow_page_says_it_is_a_trial() -> None:
    page = VerificationPage(**{**_page().__dict__, "shadow": True})
    assert any(isinstance(b, Notice) and b.text.startswith("[试运行]") for b in page.blocks()[0].blocks)


def test_a_huge_answer_shows_its_first_hundred_records_and_says_so() -> None:
    from soar_ext.hooks.verification_page import display_rows

    records = [_vehicle(f"浙A{n:05d}") for n in range(250)]
    rows = display_rows("vehicles", records)
    assert len(rows) == 100
    view = CategoryView("vehicles", "found", AT, columns=display_columns("vehicles"), rows=rows, record_count=250)
    (table,) = view.section("V1").blocks
    assert table.note == "共250条，显示前100条"
